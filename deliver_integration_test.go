package webhookverify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
