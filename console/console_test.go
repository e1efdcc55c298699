package console

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// serve runs one request through the console.
func serve(c *Console, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	return w
}

func request(method, target, remote, host string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr, r.Host = remote, host
	return r
}

func TestLoopbackOnly(t *testing.T) {
	f := newFixture(t, Options{})
	for _, tc := range []struct {
		remote, host string
		want         int
	}{
		{"127.0.0.1:5000", "localhost:2020", 200},
		{"127.0.0.1:5000", "127.0.0.1:2020", 200},
		{"[::1]:5000", "[::1]:2020", 200},
		{"127.0.0.1:5000", "app.localhost", 200},
		{"192.0.2.7:5000", "localhost:2020", 403},                  // a remote client
		{"10.0.0.2:5000", "localhost", 403},                        // a private address is not loopback
		{"127.0.0.1:5000", "attacker.example:2020", 403},           // DNS rebinding
		{"127.0.0.1:5000", "127.0.0.1.attacker.example:2020", 403}, // likewise
	} {
		if got := serve(f.console, request("GET", "/", tc.remote, tc.host)).Code; got != tc.want {
			t.Errorf("%s asking for %s: %d, want %d", tc.remote, tc.host, got, tc.want)
		}
	}
	// every endpoint is behind it
	for _, path := range []string{"/api/deliveries", "/api/events", "/api/rejected", "/api/token", "/assets/app.js"} {
		if got := serve(f.console, request("GET", path, "192.0.2.7:5000", "localhost")).Code; got != 403 {
			t.Errorf("%s from afar: %d", path, got)
		}
	}

	remote, _ := New(Options{Hub: f.hub, AllowRemote: true})
	if got := serve(remote, request("GET", "/", "192.0.2.7:5000", "hooks.example.com")).Code; got != 200 {
		t.Errorf("AllowRemote: %d", got)
	}
	// the client IP Caddy gives wins over the connection's address
	proxied, _ := New(Options{Hub: f.hub, ClientIP: func(*http.Request) string { return "192.0.2.7" }})
	if got := serve(proxied, request("GET", "/", "127.0.0.1:5000", "localhost")).Code; got != 403 {
		t.Errorf("ClientIP says remote: %d", got)
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t, Options{Base: "/console"})
	id := f.accept(t, "flaky", "stripe", "charge.failed", nil)
	f.waitState(t, id, journal.Dead)
	replay := "/console/api/deliveries/" + id + "/replay"
	post := func(token, origin, site string) int {
		r := request("POST", replay, "127.0.0.1:5000", "localhost:2020")
		if token != "" {
			r.Header.Set("X-CSRF-Token", token)
		}
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if site != "" {
			r.Header.Set("Sec-Fetch-Site", site)
		}
		return serve(f.console, r).Code
	}
	tok := f.console.token
	for _, tc := range []struct {
		name, token, origin, site string
	}{
		{"no token", "", "http://localhost:2020", ""},
		{"a wrong token", strings.Repeat("0", len(tok)), "http://localhost:2020", ""},
		{"another origin", tok, "http://attacker.example", ""},
		{"another port", tok, "http://localhost:9999", ""},
		{"a null origin", tok, "null", ""},
		{"cross-site, no Origin", tok, "", "cross-site"},
		{"neither Origin nor Sec-Fetch-Site", tok, "", ""},
	} {
		if got := post(tc.token, tc.origin, tc.site); got != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, got)
		}
	}
	if got := serve(f.console, request("GET", replay, "127.0.0.1:5000", "localhost:2020")).Code; got != http.StatusMethodNotAllowed {
		t.Errorf("GET replay: %d", got)
	}
	f.recover.Store(true)
	if got := post(tok, "http://localhost:2020", ""); got != http.StatusOK {
		t.Fatalf("same origin with the token: %d", got)
	}
	f.waitState(t, id, journal.Delivered)
	if got := post(tok, "", "same-origin"); got != http.StatusOK {
		t.Errorf("Sec-Fetch-Site same-origin with the token: %d", got)
	}
	f.waitState(t, id, journal.Delivered)
	if got := post(tok, "http://localhost:2020", ""); got != http.StatusOK {
		t.Errorf("again: %d", got)
	}
	r := request("POST", "/console/api/deliveries/msg_nope/replay", "127.0.0.1:5000", "localhost:2020")
	r.Header.Set("X-CSRF-Token", tok)
	r.Header.Set("Origin", "http://localhost:2020")
	if got := serve(f.console, r).Code; got != http.StatusNotFound {
		t.Errorf("replay of an unknown id: %d", got)
	}
}

func get(t *testing.T, f *fixture, path string, v any) *http.Response {
	t.Helper()
	resp, err := http.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("%s: %v in %s", path, err, body)
		}
	}
	return resp
}

func TestDeliveriesAPI(t *testing.T) {
	f := newFixture(t, Options{})
	secret := http.Header{"Stripe-Signature": {"t=1,v1=deadbeef"}, "Authorization": {"Bearer tok-123"}, "Content-Type": {"application/json"}}
	good := f.accept(t, "orders", "stripe", "invoice.paid", secret)
	bad := f.accept(t, "flaky", "stripe", "charge.failed", secret)
	f.waitState(t, good, journal.Delivered)
	f.waitState(t, bad, journal.Dead)

	var list struct{ Deliveries []Delivery }
	get(t, f, "/api/deliveries", &list)
	if len(list.Deliveries) != 2 || list.Deliveries[0].ID != bad || list.Deliveries[0].State != journal.Dead ||
		list.Deliveries[0].Attempts != 2 || list.Deliveries[0].Status != 500 || !list.Deliveries[0].Replayable ||
		list.Deliveries[1].State != journal.Delivered || list.Deliveries[0].Header != nil || list.Deliveries[0].Targets[0].History != nil {
		t.Errorf("list: %+v", list.Deliveries)
	}
	get(t, f, "/api/deliveries?route=orders", &list)
	if len(list.Deliveries) != 1 || list.Deliveries[0].ID != good {
		t.Errorf("route filter: %+v", list.Deliveries)
	}
	get(t, f, "/api/deliveries?state=dead", &list)
	if len(list.Deliveries) != 1 || list.Deliveries[0].ID != bad {
		t.Errorf("state filter: %+v", list.Deliveries)
	}
	if resp := get(t, f, "/api/deliveries?state=lost", nil); resp.StatusCode != 400 {
		t.Errorf("a bad state: %d", resp.StatusCode)
	}

	var d Delivery
	resp, err := http.Get(f.srv.URL + "/api/deliveries/" + bad)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	json.Unmarshal(raw, &d)
	if len(d.Targets) != 1 || len(d.Targets[0].History) != 2 || d.Targets[0].History[0].Status != 500 ||
		!strings.Contains(d.Targets[0].History[0].Error, "database is down") || d.Path != "/flaky/hook" || d.Size != 11 {
		t.Errorf("detail: %+v", d)
	}
	if d.Header.Get("Stripe-Signature") != "[redacted]" || d.Header.Get("Authorization") != "[redacted]" || d.Header.Get("Content-Type") != "application/json" {
		t.Errorf("detail headers: %v", d.Header)
	}
	if strings.Contains(string(raw), "deadbeef") || strings.Contains(string(raw), "tok-123") {
		t.Errorf("a secret in the detail: %s", raw)
	}
	if resp := get(t, f, "/api/deliveries/msg_nope", nil); resp.StatusCode != 404 {
		t.Errorf("unknown id: %d", resp.StatusCode)
	}
}

func TestRejectedAPI(t *testing.T) {
	f := newFixture(t, Options{})
	f.reject("github", "github", "req-1", "bad_signature", http.Header{"X-Hub-Signature-256": {"sha256=cafe"}, "X-Github-Event": {"push"}})
	f.reject("gitlab", "gitlab", "req-2", "missing_signature", http.Header{"X-Gitlab-Token": {"glpat-secret"}})
	var out struct{ Rejected []map[string]any }
	get(t, f, "/api/rejected?route=github", &out)
	if len(out.Rejected) != 1 || out.Rejected[0]["reason"] != "bad_signature" || out.Rejected[0]["request_id"] != "req-1" {
		t.Fatalf("rejected: %+v", out.Rejected)
	}
	h := out.Rejected[0]["header"].(map[string]any)
	if h["X-Hub-Signature-256"].([]any)[0] != "[redacted]" || h["X-Github-Event"].([]any)[0] != "push" {
		t.Errorf("headers %v", h)
	}
	get(t, f, "/api/rejected", &out)
	if len(out.Rejected) != 2 || out.Rejected[0]["route"] != "gitlab" {
		t.Errorf("all routes, newest first: %+v", out.Rejected)
	}
}

// The page is one document with its script and style from the console
// itself: no CDN, nothing fetched elsewhere, a CSP that says so.
func TestPage(t *testing.T) {
	f := newFixture(t, Options{Base: "/console/", Title: "Hooks <prod>"})
	resp, err := http.Get(f.srv.URL + "/console")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/console/" {
		t.Errorf("/console went to %s", resp.Request.URL.Path)
	}
	resp, _ = http.Get(f.srv.URL + "/console/")
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers %v", resp.Header)
	}
	if !strings.Contains(string(page), `data-token="`+f.console.token+`"`) || !strings.Contains(string(page), "Hooks &lt;prod&gt;") {
		t.Errorf("page lacks the token or an escaped title")
	}
	for _, asset := range []string{"/console/", "/console/assets/app.js", "/console/assets/app.css"} {
		resp, _ := http.Get(f.srv.URL + asset)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", asset, resp.StatusCode)
		}
		if m := regexp.MustCompile(`(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`).Find(body); m != nil {
			t.Errorf("%s refers elsewhere: %s", asset, m)
		}
	}
	for _, path := range []string{"/elsewhere", "/console/nope", "/console/assets/nope.js", "/console/api/deliveries/x/y"} {
		if resp := get(t, f, path, nil); resp.StatusCode != 404 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	var tok map[string]string
	get(t, f, "/console/api/token", &tok)
	if tok["token"] != f.console.token {
		t.Errorf("token %v", tok)
	}
}

func TestRedactQuery(t *testing.T) {
	for in, want := range map[string]string{
		"/hook":                    "/hook",
		"/hook?token=abc&tenant=a": "/hook?tenant=a&token=%5Bredacted%5D",
		"/hook?signature=ff":       "/hook?signature=%5Bredacted%5D",
		"/hook?%zz":                "/hook?[redacted]",
	} {
		if got := redactQuery(in); got != want {
			t.Errorf("redactQuery(%q) = %q, want %q", in, got, want)
		}
	}
}
