// Package console serves the webhook console: one self-contained page (its
// HTML, CSS and JS embedded, nothing fetched from elsewhere) that shows
// every delivery and decision live, with the JSON and event-stream
// endpoints it needs, all under one base path.
//
// Safe by default: it answers loopback clients only, asking for a loopback
// Host too (so a DNS-rebinding page cannot read it), unless AllowRemote is
// set because the site puts it behind authentication. Replays are POSTs
// that must carry the page's CSRF token and come from the page's own
// origin.
//
// Its data comes through Source (Journal implements it over the journal,
// the dispatcher and the rejected log) and an events.Hub. The package
// knows nothing of Caddy.
package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/events"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

//go:embed page
var pageFiles embed.FS

// Source is where the console's data comes from. Journal implements it;
// the methods mirror journal.Store and dispatch.Dispatcher.
type Source interface {
	// List returns deliveries newest first, without bodies
	// (journal.Store.List).
	List(ctx context.Context, f journal.Filter) ([]journal.Delivery, error)
	// Get returns one delivery with its targets and their attempts;
	// journal.ErrNotFound when there is none (journal.Store.Get).
	Get(ctx context.Context, id string) (*journal.Delivery, error)
	// Replay delivers a finished delivery again, to destination or ""
	// for all its finished targets; it returns how many targets it made
	// pending (dispatch.Dispatcher.Replay).
	Replay(ctx context.Context, id, destination string) (int, error)
	// Rejected returns up to limit recently rejected requests of route
	// ("" for all), newest first, with redacted headers and no bodies
	// (events.RejectedLog.List).
	Rejected(ctx context.Context, route string, limit int) ([]events.Rejected, error)
}

// Options configure the console.
type Options struct {
	// Base is the path the console is served under ("/webhooks/", say);
	// default "/". Requests outside it get 404.
	Base string
	// Hub is the live event stream; required.
	Hub *events.Hub
	// Source gives deliveries and rejected requests; nil shows live events
	// only.
	Source Source
	// AllowRemote answers clients that are not on loopback, from any Host.
	// Set it only behind authentication (basic_auth, forward_auth): the
	// console shows what webhooks carry and can replay them.
	AllowRemote bool
	// ClientIP says who the client is; default the connection's remote
	// address. (Caddy passes its client IP, which honours trusted
	// proxies.)
	ClientIP func(*http.Request) string
	// Redact names more header fields to hide, beyond those redact knows
	// (a route's own signature header, for the hmac preset).
	Redact []string
	// Heartbeat is the event stream's; default events.DefaultHeartbeat.
	Heartbeat time.Duration
	// Title heads the page; default "Webhooks".
	Title string
}

// Console is the console's handler.
type Console struct {
	o     Options
	base  string
	token string
	page  []byte
	files map[string]file
}

type file struct {
	body        []byte
	contentType string
}

// New makes the console's handler.
func New(o Options) (*Console, error) {
	if o.Hub == nil {
		return nil, errors.New("console: no event hub")
	}
	base := "/" + strings.Trim(o.Base, "/") + "/"
	if base == "//" {
		base = "/"
	}
	if o.ClientIP == nil {
		o.ClientIP = remoteIP
	}
	if o.Title == "" {
		o.Title = "Webhooks"
	}
	var key [32]byte
	rand.Read(key[:])
	c := &Console{o: o, base: base, token: hex.EncodeToString(key[:]), files: map[string]file{}}
	for name, ct := range map[string]string{"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"} {
		body, err := fs.ReadFile(pageFiles, "page/"+name)
		if err != nil {
			return nil, err
		}
		c.files[name] = file{body, ct}
	}
	if err := c.render(); err != nil {
		return nil, err
	}
	return c, nil
}

// render fills the page's template.
func (c *Console) render() error {
	tmpl, err := template.ParseFS(pageFiles, "page/index.html")
	if err != nil {
		return err
	}
	failures := []string{}
	for _, t := range events.Types {
		if events.Failure(t) {
			failures = append(failures, t)
		}
	}
	// the page's URLs are relative to it (it is always served at the base,
	// with its slash), so a route that strips a prefix before the console
	// (handle_path) does not break them
	cfg, err := json.Marshal(map[string]any{"base": "", "types": events.Types, "failures": failures})
	if err != nil {
		return err
	}
	var b strings.Builder
	err = tmpl.Execute(&b, map[string]any{"Title": c.o.Title, "Token": c.token, "Config": string(cfg)})
	c.page = []byte(b.String())
	return err
}

// ServeHTTP routes the console's requests.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if msg := c.refusal(r); msg != "" {
		http.Error(w, msg, http.StatusForbidden)
		return
	}
	if r.URL.Path+"/" == c.base {
		http.Redirect(w, r, c.base, http.StatusFound)
		return
	}
	rel, ok := strings.CutPrefix(r.URL.Path, c.base)
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	switch {
	case rel == "" || rel == "index.html":
		c.servePage(w, r)
	case strings.HasPrefix(rel, "assets/"):
		c.serveFile(w, r, strings.TrimPrefix(rel, "assets/"))
	case rel == "api/events":
		if method(w, r, http.MethodGet) {
			events.ServeSSE(w, r, c.o.Hub, events.SSEOptions{StreamOptions: events.StreamOptions{Heartbeat: c.o.Heartbeat}})
		}
	case rel == "api/deliveries":
		if method(w, r, http.MethodGet) {
			c.list(w, r)
		}
	case rel == "api/rejected":
		if method(w, r, http.MethodGet) {
			c.rejected(w, r)
		}
	case rel == "api/token":
		if method(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, map[string]string{"token": c.token})
		}
	case strings.HasPrefix(rel, "api/deliveries/"):
		id, action, _ := strings.Cut(strings.TrimPrefix(rel, "api/deliveries/"), "/")
		switch action {
		case "":
			if method(w, r, http.MethodGet) {
				c.detail(w, r, id)
			}
		case "replay":
			if method(w, r, http.MethodPost) && c.checkCSRF(w, r) {
				c.replay(w, r, id)
			}
		default:
			http.NotFound(w, r)
		}
	default:
		http.NotFound(w, r)
	}
}

// refusal says why the console may not answer r, or "" when it may: any
// client with AllowRemote, else a loopback client that asked for a
// loopback host.
func (c *Console) refusal(r *http.Request) string {
	if c.o.AllowRemote {
		return ""
	}
	if ip := net.ParseIP(c.o.ClientIP(r)); ip == nil || !ip.IsLoopback() {
		return "the webhook console answers clients on this machine only: reach it through an SSH tunnel, or put it behind authentication and set allow_remote"
	}
	if !loopbackHost(r.Host) {
		return "the webhook console answers requests for localhost only (this one asked for " + strconv.Quote(r.Host) + "): open it as http://localhost:<port>/, or put it behind authentication and set allow_remote"
	}
	return ""
}

// remoteIP is the host part of the connection's remote address.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loopbackHost says whether a Host header names this machine: localhost
// (or a name under it), or a loopback address. Any other name could be an
// attacker's, rebound to 127.0.0.1 to read the console from their page.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkCSRF refuses a POST without the page's token, or from another
// origin; it answers 403 itself.
func (c *Console) checkCSRF(w http.ResponseWriter, r *http.Request) bool {
	token := r.Header.Get("X-CSRF-Token")
	if subtle.ConstantTimeCompare([]byte(token), []byte(c.token)) != 1 {
		writeError(w, http.StatusForbidden, "missing or stale CSRF token: reload the page")
		return false
	}
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
		return false
	}
	return true
}

// sameOrigin says whether the browser says r comes from the console's own
// origin: an Origin header naming the Host asked for or, without one,
// Sec-Fetch-Site same-origin. A request with neither is refused.
func sameOrigin(r *http.Request) bool {
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host)
	}
	return r.Header.Get("Sec-Fetch-Site") == "same-origin"
}

func method(w http.ResponseWriter, r *http.Request, want string) bool {
	if r.Method == want || (want == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	w.Header().Set("Allow", want)
	writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	return false
}

func (c *Console) servePage(w http.ResponseWriter, r *http.Request) {
	if !method(w, r, http.MethodGet) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.Write(c.page)
}

func (c *Console) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	f, ok := c.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if !method(w, r, http.MethodGet) {
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(f.body)
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// intParam reads a non-negative integer query parameter.
func intParam(r *http.Request, name string, def int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a non-negative integer", name)
	}
	return n, nil
}
