package webhookverify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/webhookverify/caddy-webhook-verify/events"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// durableSite is a GitHub route with deliver, fanned out to app (every
// event) and ci (push only).
func durableSite(app, ci, extra string) string {
	return fmt.Sprintf(`
	:9080 {
		webhook_verify /github github {
			secret {env.WV_GH}
			deliver {
				to http://%s/hooks
				to http://%s/ci {
					name ci
					events push
					header X-Ci-Token {env.WV_CI_TOKEN}
				}
				retry {
					schedule 50ms 100ms 100ms
				}
				%s
			}
		}
	}`, app, ci, extra)
}

func journalGlobal(t *testing.T) string {
	return "webhook {\n\tstorage bolt " + filepath.Join(t.TempDir(), "deliveries.db") + "\n}"
}

// A verified delivery is acknowledged at once with its id, and fanned out:
// every destination whose events match gets the body byte for byte, the
// original headers and the Webhook-* headers; the next handler is not
// called.
func TestDeliverFanOut(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	t.Setenv("WV_CI_TOKEN", "ci-token-123")
	app, ci := newUpstream(t), newUpstream(t)
	startCaddyWith(t, nil, journalGlobal(t), durableSite(app.hostport(), ci.hostport(), ""))

	status, header, body := post(t, "/github", h("X-Hub-Signature-256", ghSig, "X-GitHub-Delivery", "fan-1", "X-GitHub-Event", "push"), []byte(ghBody))
	var ack struct {
		ID           string `json:"id"`
		Destinations int    `json:"destinations"`
	}
	if err := json.Unmarshal([]byte(body), &ack); err != nil || status != http.StatusAccepted || !strings.HasPrefix(ack.ID, "msg_") || ack.Destinations != 2 {
		t.Fatalf("ack: %d %q %q, want 202 with an id and 2 destinations", status, header.Get("Content-Type"), body)
	}
	waitFor(t, "both destinations", 5*time.Second, func() bool { return app.count() == 1 && ci.count() == 1 })
	for name, got := range map[string]received{"app": app.requests()[0], "ci": ci.requests()[0]} {
		if string(got.Body) != ghBody || got.Header.Get("X-Hub-Signature-256") != ghSig || got.Header.Get("Webhook-Id") != ack.ID ||
			got.Header.Get("X-Webhook-Provider") != "github" || got.Header.Get("X-Webhook-Event") != "push" || got.Header.Get("X-Webhook-Attempt") != "1" {
			t.Errorf("%s got %s %q with %v", name, got.Path, got.Body, got.Header)
		}
	}
	if got := ci.requests()[0]; got.Header.Get("X-Ci-Token") != "ci-token-123" || got.Path != "/ci" {
		t.Errorf("ci got %s with token %q", got.Path, got.Header.Get("X-Ci-Token"))
	}

	// A ping goes to the app only.
	ping := `{"zen":"Keep it logically awesome."}`
	sig := "sha256=" + hmacHex([]byte(ghSecret), []byte(ping))
	status, _, body = post(t, "/github", h("X-Hub-Signature-256", sig, "X-GitHub-Event", "ping"), []byte(ping))
	if status != http.StatusAccepted || !strings.Contains(body, `"destinations":1`) {
		t.Fatalf("ping: %d %s", status, body)
	}
	waitFor(t, "the ping at the app", 5*time.Second, func() bool { return app.count() == 2 })
	if ci.count() != 1 {
		t.Errorf("ci got the ping")
	}
	// A forgery is refused as ever, and journals nothing.
	if status, _, _ := post(t, "/github", h("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64)), []byte(ghBody)); status != 401 {
		t.Fatalf("forgery: %d", status)
	}
}

// A destination down for several steps of the schedule gets the delivery
// once it is back; the provider was answered at once.
func TestDeliverRetriesUntilTheAppIsBack(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	t.Setenv("WV_CI_TOKEN", "ci-token")
	app, ci := newUpstream(t), newUpstream(t)
	app.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		if n <= 2 {
			http.Error(w, "deploying", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
	startCaddyWith(t, nil, journalGlobal(t), durableSite(app.hostport(), ci.hostport(), ""))
	status, _, _ := post(t, "/github", h("X-Hub-Signature-256", ghSig, "X-GitHub-Event", "issues"), []byte(ghBody))
	if status != http.StatusAccepted {
		t.Fatalf("ack %d", status)
	}
	waitFor(t, "the third attempt", 10*time.Second, func() bool { return app.count() == 3 })
	reqs := app.requests()
	if reqs[0].Header.Get("Webhook-Id") != reqs[2].Header.Get("Webhook-Id") || reqs[2].Header.Get("X-Webhook-Attempt") != "3" {
		t.Errorf("attempts: ids %q %q, attempt %q", reqs[0].Header.Get("Webhook-Id"), reqs[2].Header.Get("Webhook-Id"), reqs[2].Header.Get("X-Webhook-Attempt"))
	}
}

// admin calls Caddy's admin API and decodes the JSON answer into out.
func admin(t *testing.T, method, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, adminURL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

type adminDelivery struct {
	ID      string              `json:"id"`
	Route   string              `json:"route"`
	Event   string              `json:"event"`
	Header  map[string][]string `json:"header"`
	Body    string              `json:"body"`
	Targets []struct {
		Destination string `json:"destination"`
		State       string `json:"state"`
		Attempts    int    `json:"attempts"`
		LastStatus  int    `json:"last_status"`
		History     []struct {
			Status int `json:"status"`
		} `json:"history"`
	} `json:"targets"`
}

// A destination that keeps failing: the delivery goes dead after the
// schedule, the notify URL is told (signed, verified here with the
// Standard Webhooks library), the admin API shows it with each attempt and
// its headers redacted, and a replay delivers it once the app is fixed.
// A paused destination holds its deliveries until resumed.
func TestDeliverDeadNotifyReplayPause(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	t.Setenv("WV_CI_TOKEN", "ci-token")
	const signSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	t.Setenv("WV_SIGN", signSecret)
	fixed := make(chan struct{})
	app, ci, notify := newUpstream(t), newUpstream(t), newUpstream(t)
	app.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-fixed:
			w.WriteHeader(http.StatusOK)
		default:
			http.Error(w, "broken", http.StatusInternalServerError)
		}
	}
	startCaddyWith(t, nil, journalGlobal(t), durableSite(app.hostport(), ci.hostport(),
		"notify http://"+notify.hostport()+"/dead\n\t\t\t\tsign {env.WV_SIGN}"))

	_, _, body := post(t, "/github", h("X-Hub-Signature-256", ghSig, "X-GitHub-Event", "issues"), []byte(ghBody))
	var ack struct{ ID string }
	json.Unmarshal([]byte(body), &ack)
	waitFor(t, "the notice of a dead delivery", 10*time.Second, func() bool { return notify.count() == 1 })
	if app.count() != 4 {
		t.Errorf("the app saw %d attempts, want 4 (the schedule has 3 waits)", app.count())
	}
	// the notice is signed (Standard Webhooks) and says what died
	n := notify.requests()[0]
	wh, _ := standardwebhooks.NewWebhook(signSecret)
	if err := wh.Verify(n.Body, n.Header); err != nil {
		t.Errorf("the notice's signature does not verify: %v", err)
	}
	var notice map[string]any
	json.Unmarshal(n.Body, &notice)
	if notice["id"] != ack.ID || notice["text"] == "" || notice["destination"] == "" {
		t.Errorf("notice %s", n.Body)
	}
	// what reached the app was signed too, with our id
	if err := wh.Verify(app.requests()[0].Body, app.requests()[0].Header); err != nil {
		t.Errorf("the outgoing signature does not verify: %v", err)
	}

	var list struct{ Deliveries []adminDelivery }
	if status := admin(t, "GET", "/webhook/deliveries?state=dead", &list); status != 200 || len(list.Deliveries) != 1 || list.Deliveries[0].ID != ack.ID {
		t.Fatalf("dead list: %d %+v", status, list)
	}
	var got adminDelivery
	admin(t, "GET", "/webhook/deliveries/"+ack.ID+"?body=true", &got)
	if len(got.Targets) != 1 || got.Targets[0].State != "dead" || got.Targets[0].Attempts != 4 || len(got.Targets[0].History) != 4 ||
		got.Targets[0].History[0].Status != 500 || got.Body != ghBody {
		t.Errorf("detail: %+v", got)
	}
	if sig := got.Header["X-Hub-Signature-256"]; len(sig) != 1 || sig[0] != "[redacted]" {
		t.Errorf("the signature header is shown: %v", sig)
	}

	// the CLI lists it too
	address := "--address=" + strings.TrimPrefix(adminURL, "http://")
	out, _, err := runWebhook(t, "", "deliveries", "--state", "dead", address)
	if err != nil || !strings.Contains(out, ack.ID) || !strings.Contains(out, " dead ") || !strings.Contains(out, "500") {
		t.Fatalf("caddy webhook deliveries: %v\n%q", err, out)
	}

	close(fixed)
	// replayed with the CLI
	if out, _, err := runWebhook(t, "", "replay", ack.ID, address); err != nil || out != "replayed 1 destination(s)\n" {
		t.Fatalf("caddy webhook replay: %v %q", err, out)
	}
	waitFor(t, "the replay delivered", 5*time.Second, func() bool {
		admin(t, "GET", "/webhook/deliveries/"+ack.ID, &got)
		return got.Targets[0].State == "delivered"
	})
	last := app.requests()[app.count()-1]
	if last.Header.Get("Webhook-Id") != ack.ID || last.Header.Get("X-Webhook-Attempt") != "5" {
		t.Errorf("replayed attempt: id %q attempt %q", last.Header.Get("Webhook-Id"), last.Header.Get("X-Webhook-Attempt"))
	}

	// Paused: a push waits at ci (and is not dead); resumed, it arrives.
	if status := admin(t, "POST", "/webhook/destinations/ci/pause", nil); status != 200 {
		t.Fatalf("pause: %d", status)
	}
	post(t, "/github", h("X-Hub-Signature-256", ghSig, "X-GitHub-Event", "push"), []byte(ghBody))
	waitFor(t, "the push at the app", 5*time.Second, func() bool { return app.count() == 6 })
	if ci.count() != 0 {
		t.Fatal("a paused destination got a delivery")
	}
	var dests struct {
		Destinations []struct {
			Route, Name string
			Paused      bool
		}
	}
	if status := admin(t, "GET", "/webhook/destinations", &dests); status != 200 {
		t.Fatalf("GET /webhook/destinations: %d", status)
	}
	pausedCI := false
	for _, d := range dests.Destinations {
		pausedCI = pausedCI || (d.Route == "/github" && d.Name == "ci" && d.Paused)
	}
	if !pausedCI {
		t.Errorf("destinations: %+v, want /github's ci paused", dests.Destinations)
	}
	admin(t, "POST", "/webhook/destinations/ci/resume", nil)
	waitFor(t, "the push at ci after resume", 5*time.Second, func() bool { return ci.count() == 1 })

	// Bad input gets a clear 4xx.
	for path, want := range map[string]int{
		"/webhook/deliveries?state=bogus": 400, "/webhook/deliveries?limit=-1": 400, "/webhook/deliveries/msg_nope": 404,
	} {
		if status := admin(t, "GET", path, nil); status != want {
			t.Errorf("GET %s: %d, want %d", path, status, want)
		}
	}
	for path, want := range map[string]int{"/webhook/destinations/nope/pause": 404, "/webhook/replay?state=pending": 400, "/webhook/deliveries/msg_nope/replay": 404} {
		if status := admin(t, "POST", path, nil); status != want {
			t.Errorf("POST %s: %d, want %d", path, status, want)
		}
	}
	if _, _, err := runWebhook(t, "", "replay", "msg_nope", address); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("caddy webhook replay of an unknown id: %v", err)
	}
	// bulk: nothing dead any more
	if out, _, err := runWebhook(t, "", "replay", "--state", "dead", "--route", "/github", address); err != nil || out != "replayed 0 destination(s)\n" {
		t.Errorf("caddy webhook replay --state dead: %v %q", err, out)
	}
}

// A second copy of an accepted delivery is a duplicate (its original 202,
// Webhook-Duplicate: true) and is not journaled twice.
func TestDeliverDuplicateNotJournaledTwice(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	t.Setenv("WV_CI_TOKEN", "ci-token")
	uniqueZone(t)
	app, ci := newUpstream(t), newUpstream(t)
	// dedupe goes beside deliver in the route
	startCaddyWith(t, nil, journalGlobal(t), strings.Replace(durableSite(app.hostport(), ci.hostport(), ""),
		"secret {env.WV_GH}", "secret {env.WV_GH}\n\t\t\tdedupe {\n\t\t\t\tzone {env.WV_ZONE}\n\t\t\t}", 1))
	header := h("X-Hub-Signature-256", ghSig, "X-GitHub-Event", "push")
	status, _, first := post(t, "/github", header, []byte(ghBody))
	status2, header2, _ := post(t, "/github", header, []byte(ghBody))
	if status != 202 || status2 != 202 || header2.Get("Webhook-Duplicate") != "true" {
		t.Fatalf("first %d, copy %d %q", status, status2, header2.Get("Webhook-Duplicate"))
	}
	var list struct{ Deliveries []adminDelivery }
	admin(t, "GET", "/webhook/deliveries", &list)
	if len(list.Deliveries) != 1 || !strings.Contains(first, list.Deliveries[0].ID) {
		t.Fatalf("journaled %d deliveries, want 1: %+v", len(list.Deliveries), list.Deliveries)
	}
	waitFor(t, "one delivery at each destination", 5*time.Second, func() bool { return app.count() == 1 && ci.count() == 1 })
}

// A malformed destination is a config error that names it; a destination
// that is down at start is fine.
func TestDeliverConfigErrors(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	for _, c := range []struct{ to, want string }{
		{"127.0.0.1:9/x", "127.0.0.1:9/x: want an http:// or https:// URL"},
		{"ftp://example.com/x", "ftp://example.com/x: want an http:// or https:// URL"},
		{"http:///x", "http:///x: the URL has no host"},
		{"http://:8080/x", "http://:8080/x: the URL has no host"},
	} {
		_, _, err := caddyfileAdapter().Adapt([]byte(`:9080 {
	webhook_verify github {
		secret {env.WV_GH}
		deliver {
			to `+c.to+`
		}
	}
}`), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("to %s: %v, want %q", c.to, err, c.want)
		}
	}
	// down at start: loads, accepts, and waits
	startCaddyWith(t, nil, journalGlobal(t), `
	:9080 {
		webhook_verify /github github {
			secret {env.WV_GH}
			deliver {
				to http://127.0.0.1:9/down
			}
		}
	}`)
	if status, _, _ := post(t, "/github", h("X-Hub-Signature-256", ghSig), []byte(ghBody)); status != 202 {
		t.Fatalf("a destination down at start: %d", status)
	}
}

// A journal that cannot be written never yields a 2xx: a path where no
// directory can be made (a file stands in the way; a read-only directory
// is no obstacle to root) and a full journal answer 503 with Retry-After.
func TestDeliverUnwritableJournal(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	dir := t.TempDir()
	blocker := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	app := newUpstream(t)
	site := `
	:9080 {
		webhook_verify /github github {
			secret {env.WV_GH}
			deliver {
				to http://` + app.hostport() + `/hooks
			}
		}
	}`
	startCaddyWith(t, nil, "webhook {\n\tstorage bolt "+filepath.Join(blocker, "deliveries.db")+"\n}", site)
	status, header, _ := post(t, "/github", h("X-Hub-Signature-256", ghSig), []byte(ghBody))
	if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" {
		t.Fatalf("unopenable journal: %d Retry-After %q, want 503 with Retry-After", status, header.Get("Retry-After"))
	}

	// A journal that fills up (max_size stands in for a full disk).
	startCaddyWith(t, nil, "webhook {\n\tstorage bolt "+filepath.Join(dir, "small.db")+" {\n\t\tmax_size 1MiB\n\t}\n}", site)
	big := bytes.Repeat([]byte("b"), 300<<10)
	sig := "sha256=" + hmacHex([]byte(ghSecret), big)
	var statuses []int
	for range 8 {
		s, header, _ := post(t, "/github", h("X-Hub-Signature-256", sig), big)
		statuses = append(statuses, s)
		if s != 202 && (s != 503 || header.Get("Retry-After") == "") {
			t.Fatalf("full journal: %d, want 202 until full, then 503 with Retry-After", s)
		}
	}
	if statuses[len(statuses)-1] != 503 {
		t.Fatalf("8 deliveries of 300 KiB into a 1 MiB journal: %v, want 503s at the end", statuses)
	}
}

func decodeJSON(resp *http.Response, out any) {
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(out)
}

// A request rejected because the route had the wrong secret is kept (with
// its reason and redacted headers, and its body with
// keep_rejected_bodies); once the secret is fixed, reverify verifies it as
// of when it arrived and delivers it like a fresh delivery.
func TestRejectedKeptAndReverified(t *testing.T) {
	t.Setenv("WV_GH", "the-wrong-secret")
	route := "rejected-" + time.Now().Format("150405.000000") // the kept rejections outlive configs
	t.Setenv("WV_ROUTE", route)
	app := newUpstream(t)
	global := journalGlobal(t)
	site := `
	:9080 {
		webhook_verify /github github {
			name {env.WV_ROUTE}
			secret {env.WV_GH}
			keep_rejected_bodies
			deliver {
				to http://` + app.hostport() + `/hooks
			}
		}
	}`
	startCaddyWith(t, nil, global, site)
	if status, _, _ := post(t, "/github", h("X-Hub-Signature-256", ghSig, "X-GitHub-Delivery", "rej-1", "X-GitHub-Event", "push"), []byte(ghBody)); status != 401 {
		t.Fatalf("signed with another secret: %d", status)
	}
	var list struct{ Rejected []events.Rejected }
	admin(t, "GET", "/webhook/rejected?route="+route, &list)
	if len(list.Rejected) != 1 {
		t.Fatalf("kept %d rejections, want 1", len(list.Rejected))
	}
	rej := list.Rejected[0]
	if rej.Reason != "bad_signature" || !rej.BodyKept || rej.Size != int64(len(ghBody)) || rej.Header.Get("X-Hub-Signature-256") != "[redacted]" {
		t.Fatalf("kept: %+v", rej)
	}
	// still the wrong secret: reverify says why
	var answer map[string]any
	admin(t, "POST", "/webhook/rejected/"+rej.ID+"/reverify", &answer)
	if answer["verified"] != false || answer["reason"] != "bad_signature" {
		t.Fatalf("reverify with the wrong secret: %v", answer)
	}
	// the secret fixed (a reload keeps the rejected requests)
	t.Setenv("WV_GH", ghSecret)
	startCaddyWith(t, nil, global, site)
	answer = nil
	admin(t, "POST", "/webhook/rejected/"+rej.ID+"/reverify", &answer)
	if answer["verified"] != true || answer["delivered"] != true {
		t.Fatalf("reverify with the right secret: %v", answer)
	}
	waitFor(t, "the reverified delivery at the app", 5*time.Second, func() bool { return app.count() == 1 })
	if got := app.requests()[0]; string(got.Body) != ghBody || got.Header.Get("Webhook-Id") != answer["id"] {
		t.Fatalf("the app got %q with id %q", got.Body, got.Header.Get("Webhook-Id"))
	}
	if status := admin(t, "POST", "/webhook/rejected/rej_nope/reverify", nil); status != 404 {
		t.Fatalf("unknown rejection: %d", status)
	}
}

// caddy webhook tail follows the live stream: the decisions about signed
// and forged deliveries arrive as readable lines (and as JSON), and no
// event carries a secret or a signature (the stream is searched for them).
func TestTailAndNoSecretsInEvents(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	t.Setenv("WV_GL", "gitlab-token-XYZZY")
	app := newUpstream(t)
	startCaddyWith(t, app, journalGlobal(t), `
	:9080 {
		webhook_verify /github github {
			secret {env.WV_GH}
		}
		webhook_verify /gitlab gitlab {
			secret {env.WV_GL}
		}
		reverse_proxy {upstream}
	}`)
	address := "--address=" + strings.TrimPrefix(adminURL, "http://")
	type result struct {
		out string
		err error
	}
	lines, raw := make(chan result, 1), make(chan result, 1)
	go func() {
		out, _, err := runWebhook(t, "", "tail", "--count", "4", "--color=false", address)
		lines <- result{out, err}
	}()
	go func() {
		out, _, err := runWebhook(t, "", "tail", "--count", "4", "--json", address)
		raw <- result{out, err}
	}()
	// the tails must be listening before the events happen: wait for
	// their subscriptions
	waitFor(t, "two subscribers", 5*time.Second, func() bool {
		v, _ := caddy.ActiveContext().AppIfConfigured("webhook")
		return v != nil && v.(*App).hub.Subscribers() >= 2
	})
	post(t, "/github", h("X-Hub-Signature-256", ghSig, "X-GitHub-Event", "push", "Authorization", "Bearer sekrit-bearer"), []byte(ghBody))
	post(t, "/gitlab", h("X-Gitlab-Token", "gitlab-token-XYZZY", "X-Gitlab-Event", "Push Hook"), []byte(`{"object_kind":"push"}`))
	l, r := <-lines, <-raw
	if l.err != nil || r.err != nil {
		t.Fatalf("tail: %v / %v", l.err, r.err)
	}
	for _, want := range []string{"verified", "forwarded", "route=/github", "event=push", "status=200", "route=/gitlab"} {
		if !strings.Contains(l.out, want) {
			t.Errorf("tail lacks %q:\n%s", want, l.out)
		}
	}
	for _, secret := range []string{ghSecret, ghSig[7:], "gitlab-token-XYZZY", "sekrit-bearer"} {
		if strings.Contains(l.out+r.out, secret) {
			t.Errorf("the event stream carries a secret or signature: %q", secret)
		}
	}
}
