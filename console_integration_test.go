package webhookverify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/webhookverify/caddy-webhook-verify/internal/browsertest"
)

// A real headless Chromium opens the console served by webhook_console in
// a real Caddy; signed, forged and failing deliveries sent to that Caddy
// each appear in the table within 2 seconds with the right outcome; the
// detail panel shows the attempts of the dead one; Replay delivers it.
func TestConsoleThroughCaddy(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	fixed := make(chan struct{})
	app := newUpstream(t)
	app.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Path == "/hooks" {
			select {
			case <-fixed:
			default:
				http.Error(w, "database is down", http.StatusInternalServerError)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	}
	sync := newUpstream(t)
	startCaddyWith(t, nil, journalGlobal(t), fmt.Sprintf(`
	:9080 {
		webhook_verify /github github {
			secret {env.WV_GH}
			deliver {
				to http://%s/hooks
				retry {
					schedule 50ms 100ms 100ms
				}
			}
		}
		webhook_verify /sync github {
			secret {env.WV_GH}
		}
		reverse_proxy /sync %s
		webhook_console /console/*
	}`, app.hostport(), sync.hostport()))

	ctx := browsertest.Start(t)
	if err := browsertest.Within(ctx, browsertest.Step,
		chromedp.Navigate("http://"+caddyAddr+"/console/"),
		chromedp.WaitVisible(chromedp.CSS(`#conn[data-state="live"]`)),
	); err != nil {
		t.Fatalf("opening the console: %v", err)
	}
	wait := func(what, selector string) {
		t.Helper()
		if err := browsertest.Within(ctx, 2*time.Second, chromedp.WaitVisible(chromedp.CSS(selector))); err != nil {
			html, _ := browsertest.Run(ctx, chromedp.OuterHTML(chromedp.CSS("#rows")))
			t.Fatalf("%s: %s not shown within 2s (%v); rows:\n%s", what, selector, err, html)
		}
	}

	// signed, to a synchronous route: forwarded
	post(t, "/sync", h("X-Hub-Signature-256", ghSig, "X-GitHub-Event", "push"), []byte(ghBody))
	wait("a forwarded delivery", `#rows tr[data-outcome="forwarded"]`)
	// forged: rejected, with the reason
	post(t, "/sync", h("X-Hub-Signature-256", "sha256="+strings.Repeat("ab", 32), "X-GitHub-Event", "push"), []byte(ghBody))
	wait("a rejected request", `#rows tr[data-outcome="rejected"]`)
	text, err := browsertest.Run(ctx, chromedp.Text(chromedp.CSS(`#rows tr[data-outcome="rejected"] td.c-outcome`)))
	if err != nil || !strings.Contains(text, "bad signature") {
		t.Errorf("the rejected row says %q (%v)", text, err)
	}
	// durable, to an app that fails: dead after the schedule
	_, _, body := post(t, "/github", h("X-Hub-Signature-256", ghSig, "X-GitHub-Event", "issues"), []byte(ghBody))
	var ack struct{ ID string }
	json.Unmarshal([]byte(body), &ack)
	wait("the failing delivery, dead", fmt.Sprintf(`#rows tr[data-key="d:%s"][data-outcome="dead"]`, ack.ID))

	// its detail shows every attempt, and the signature redacted
	row := fmt.Sprintf(`#rows tr[data-key="d:%s"]`, ack.ID)
	if err := browsertest.Within(ctx, browsertest.Step,
		chromedp.Click(chromedp.CSS(row)),
		chromedp.WaitVisible(chromedp.CSS(`#detail button.replay`)),
	); err != nil {
		t.Fatalf("opening the detail: %v", err)
	}
	attempts, err := browsertest.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#detail tr.attempt').length`))
	if err != nil || attempts != 4 {
		t.Errorf("the detail shows %d attempts (%v), want 4", attempts, err)
	}
	detail, _ := browsertest.Run(ctx, chromedp.Text(chromedp.CSS(`#detail`)))
	if !strings.Contains(detail, "database is down") || strings.Contains(detail, ghSig[7:20]) {
		t.Errorf("the detail:\n%s", detail)
	}
	png, err := browsertest.Run(ctx, chromedp.CaptureScreenshot())
	if err == nil {
		path := filepath.Join(os.TempDir(), "webhook-console-caddy.png")
		os.WriteFile(path, png, 0o644)
		t.Logf("screenshot: %s", path)
	}

	// Replay, the app fixed: delivered
	close(fixed)
	if err := browsertest.Within(ctx, browsertest.Step, chromedp.Click(chromedp.CSS(`#detail button.replay`))); err != nil {
		t.Fatal(err)
	}
	wait("the replayed delivery, delivered", fmt.Sprintf(`#rows tr[data-key="d:%s"][data-outcome="delivered"]`, ack.ID))

	// and the console answers no one but loopback
	req, _ := http.NewRequest(http.MethodGet, "http://"+caddyAddr+"/console/", nil)
	req.Host = "evil.example.com"
	if status, _, _ := do(t, req); status != http.StatusForbidden && status != http.StatusNotFound {
		t.Errorf("the console answered a foreign Host: %d", status)
	}
}
