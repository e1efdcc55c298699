package webhookverify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/webhookverify/caddy-webhook-verify/dispatch"
	"github.com/webhookverify/caddy-webhook-verify/events"
)

func init() {
	caddy.RegisterModule(Stream{})
	httpcaddyfile.RegisterHandlerDirective("webhook_stream", parseStream)
	httpcaddyfile.RegisterDirectiveOrder("webhook_stream", httpcaddyfile.After, "forward_auth")
}

// Stream serves a named stream of verified deliveries over Server-Sent
// Events, for a laptop, a CI runner or a service behind a firewall that
// has no public URL (`caddy webhook listen` re-sends them to a local
// app). A route publishes to it with `deliver { to stream <name> }`.
//
// Each event's `id:` is the delivery's position in the journal and its
// data is JSON: the delivery id, route, provider, event, received time,
// method, path, the original headers (hop-by-hop and secret-bearing ones
// removed; signatures kept, so the app can check them) and the body (as
// text, or base64 when it is not UTF-8). A client resumes with
// `Last-Event-ID` (or `?last_event_id=`) from the journal, within the
// route's retention: nothing missed, nothing repeated; without it, it
// starts from now. Heartbeats keep idle streams open through proxies; a
// subscriber that does not keep up is dropped (and can resume), never
// slowing anything else down.
type Stream struct {
	// Name is the stream's, as in `to stream <name>`.
	Name string `json:"name"`
	// Tokens: a subscriber must send one as `Authorization: Bearer
	// <token>` (several, for rotation; compared in constant time; never
	// logged). Use placeholders such as {env.DEV_STREAM_TOKEN}. Required.
	Tokens []string `json:"tokens"`
	// AllowQueryToken also takes the token as ?token=, for EventSource in
	// browsers, which cannot set headers. Off by default: query strings
	// end up in access logs.
	AllowQueryToken bool `json:"allow_query_token,omitempty"`

	tokens []string
	app    *App
}

// CaddyModule returns the Caddy module information.
func (Stream) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.webhook_stream",
		New: func() caddy.Module { return new(Stream) },
	}
}

// Provision resolves the tokens.
func (s *Stream) Provision(ctx caddy.Context) error {
	if s.Name == "" {
		return errors.New("webhook_stream: no stream name")
	}
	if len(s.Tokens) == 0 {
		return fmt.Errorf("webhook_stream %s: a token is required", s.Name)
	}
	tokens, err := resolveAll(s.Tokens, "token")
	if err != nil {
		return fmt.Errorf("webhook_stream %s: %w", s.Name, err)
	}
	s.tokens = tokens
	s.app, err = webhookApp(ctx)
	return err
}

// ServeHTTP streams the deliveries.
func (s *Stream) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		return caddyhttp.Error(http.StatusMethodNotAllowed, errMethod)
	}
	if !events.Authorized(r, s.tokens, s.AllowQueryToken) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="webhook_stream"`)
		return caddyhttp.Error(http.StatusUnauthorized, errors.New("webhook stream: a valid token is required"))
	}
	store := s.app.journal()
	if store == nil {
		return storeUnavailable(w)
	}
	after := events.LastEventID(r)
	if after == "" {
		last, err := store.LastSeq(r.Context())
		if err != nil {
			return storeUnavailable(w)
		}
		after = strconv.FormatUint(last, 10)
	} else if _, err := strconv.ParseUint(after, 10, 64); err != nil {
		return caddyhttp.Error(http.StatusBadRequest, errors.New("webhook stream: Last-Event-ID is not a position"))
	}
	destination := dispatch.StreamPrefix + s.Name
	signal := s.app.streamSignal(s.Name)
	if s.app.redis != nil {
		// Deliveries accepted by other instances wake no one here: the
		// stream's subscribers look for them every second too.
		pollShared(s.Name, signal)
	}
	feed := &events.Pages{
		After:  after,
		Signal: signal,
		Read: func(ctx context.Context, after string, limit int) ([]events.Message, error) {
			pos, _ := strconv.ParseUint(after, 10, 64)
			list, err := store.Since(ctx, pos, destination, limit)
			if err != nil {
				return nil, err
			}
			out := make([]events.Message, 0, len(list))
			for i := range list {
				data, err := json.Marshal(events.NewDelivery(&list[i]))
				if err != nil {
					return nil, err
				}
				out = append(out, events.Message{ID: strconv.FormatUint(list[i].Seq, 10), Event: "delivery", Data: data})
			}
			return out, nil
		},
	}
	return events.Serve(w, r, feed, events.StreamOptions{})
}

// streams holds a wake-up signal per stream name, process-wide, so a
// delivery accepted by any config wakes the subscribers of every config.
var streams sync.Map // name → *events.Signal

// streamSignal is the signal of a stream.
func (a *App) streamSignal(name string) *events.Signal {
	v, _ := streams.LoadOrStore(name, new(events.Signal))
	return v.(*events.Signal)
}

// polled records the streams whose signal a ticker already wakes.
var polled sync.Map // name → struct{}

// pollShared wakes a stream's subscribers every second, once per stream
// name in the process, for deliveries that other instances sharing the
// journal accepted.
func pollShared(name string, signal *events.Signal) {
	if _, started := polled.LoadOrStore(name, struct{}{}); started {
		return
	}
	go func() {
		for range time.Tick(sharedIdleWait) {
			signal.Notify()
		}
	}()
}

// publishStreams wakes the subscribers of the streams a journaled
// delivery went to.
func (a *App) publishStreams(targets []string) {
	for _, t := range targets {
		if name, ok := strings.CutPrefix(t, dispatch.StreamPrefix); ok {
			a.streamSignal(name).Notify()
		}
	}
}

// parseStream parses
//
//	webhook_stream [<matcher>] <name> {
//		token <token...>
//		allow_query_token
//	}
func parseStream(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	s := new(Stream)
	err := s.UnmarshalCaddyfile(h.Dispenser)
	return s, err
}

// UnmarshalCaddyfile sets up the stream from Caddyfile tokens. Syntax:
//
//	webhook_stream [<matcher>] <name> {
//		token <token...>
//		allow_query_token
//	}
func (s *Stream) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if !d.Args(&s.Name) {
		return d.Err("webhook_stream: want a stream name: webhook_stream [<matcher>] <name> { token ... }")
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	err := eachSubdirective(d, "webhook_stream: ", []string{"token"}, func(sub string) error {
		switch sub {
		case "token":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			s.Tokens = append(s.Tokens, args...)
		case "allow_query_token":
			if d.NextArg() {
				return d.ArgErr()
			}
			s.AllowQueryToken = true
		default:
			return d.Errf("webhook_stream: unrecognized subdirective '%s'", sub)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(s.Tokens) == 0 {
		return d.Err("webhook_stream: a token is required (token {env.STREAM_TOKEN})")
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Stream)(nil)
	_ caddyhttp.MiddlewareHandler = (*Stream)(nil)
	_ caddyfile.Unmarshaler       = (*Stream)(nil)
)
