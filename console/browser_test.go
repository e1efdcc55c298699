package console

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/webhookverify/caddy-webhook-verify/events"
	"github.com/webhookverify/caddy-webhook-verify/internal/browsertest"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

var (
	browser = browsertest.Start
	within  = browsertest.Within
	step    = browsertest.Step
)

func run[T any](ctx context.Context, a chromedp.Action[T]) (T, error) { return browsertest.Run(ctx, a) }

// row selects the table row of a key with an outcome.
func row(key, outcome string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`#rows tr[data-key=%q][data-outcome=%q]`, key, outcome))
}

// A real headless Chromium opens the console; deliveries that are
// delivered, rejected and failing (until dead) through a real dispatcher
// each appear within 2 seconds with their outcome; the detail panel shows
// the dead one's attempts; Replay delivers it.
func TestBrowser(t *testing.T) {
	f := newFixture(t, Options{Title: "Webhooks", Base: "/webhooks/"})
	ctx := browser(t)
	if err := within(ctx, step,
		chromedp.Navigate(f.srv.URL+"/webhooks"), // redirected to /webhooks/
		chromedp.WaitVisible(chromedp.CSS(`#conn[data-state="live"]`)),
	); err != nil {
		t.Fatalf("opening the console: %v", err)
	}
	wait := func(what string, selector chromedp.CSS) {
		t.Helper()
		if err := within(ctx, 2*time.Second, chromedp.WaitVisible(selector)); err != nil {
			html, _ := run(ctx, chromedp.OuterHTML(chromedp.CSS("#rows")))
			t.Fatalf("%s: %s not shown within 2s (%v); rows:\n%s", what, selector, err, html)
		}
	}

	// a signed delivery, delivered
	sig := http.Header{"Stripe-Signature": {"t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"},
		"Content-Type": {"application/json"}, "User-Agent": {"Stripe/1.0 (+https://stripe.com/docs/webhooks)"}}
	good := f.accept(t, "orders", "stripe", "invoice.paid", sig)
	wait("delivered", row("d:"+good, "delivered"))

	// a forged one, rejected with its reason
	f.reject("github", "github", "req-forged", "bad_signature", http.Header{"X-Hub-Signature-256": {"sha256=0000"}, "X-Github-Event": {"push"}})
	wait("rejected", row("r:req-forged", "rejected"))
	text, err := run(ctx, chromedp.Text(row("r:req-forged", "rejected")+" td.c-outcome"))
	if err != nil || !strings.Contains(text, "rejected") || !strings.Contains(text, "bad signature") {
		t.Errorf("the rejected row says %q (%v)", text, err)
	}

	// a synchronous route: verified, then forwarded
	fwd := events.Event{Type: events.TypeVerified, Route: "github", Provider: "github", EventType: "push", RequestID: "req-sync", ProviderID: "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
	f.hub.Publish(fwd)
	fwd.Type, fwd.Status, fwd.Duration = events.TypeForwarded, 200, 12*time.Millisecond
	f.hub.Publish(fwd)
	wait("forwarded", row("r:req-sync", "forwarded"))

	// a failing one: two attempts, then dead
	failing := f.accept(t, "flaky", "stripe", "charge.failed", sig)
	wait("dead", row("d:"+failing, "dead"))

	// a few more decisions, for the screenshot
	for i, typ := range []string{events.TypeDuplicate, events.TypeRateLimited, events.TypeForwarded} {
		f.hub.Publish(events.Event{Type: typ, Route: "shopify", Provider: "shopify", EventType: "orders/create",
			RequestID: fmt.Sprint("req-more-", i), ProviderID: fmt.Sprintf("b54557e4-bdd9-4b37-8a5f-bf7d70bcd04%d", i), Status: []int{200, 429, 200}[i]})
	}
	wait("more", row("r:req-more-2", "forwarded"))

	// the detail panel shows each attempt
	if err := within(ctx, step,
		chromedp.Click(row("d:"+failing, "dead")),
		chromedp.WaitVisible(chromedp.CSS(`#detail button.replay`)),
	); err != nil {
		t.Fatalf("opening the detail: %v", err)
	}
	if text, err = run(ctx, chromedp.Text(chromedp.CSS(`#detail`))); err != nil {
		t.Fatal(err)
	}
	attempts, err := run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#detail tr.attempt').length`))
	if err != nil || attempts != 2 {
		t.Errorf("the detail shows %d attempts (%v), want 2", attempts, err)
	}
	for _, want := range []string{"billing-app", "HTTP 500", "database is down", "#1", "#2", "[redacted]"} {
		if want == "[redacted]" {
			want = "redacted"
		}
		if !strings.Contains(text, want) {
			t.Errorf("the detail lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "5257a869") {
		t.Error("the detail shows the signature")
	}
	screenshot(t, ctx, "webhook-console.png")
	dark := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	})
	background := chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`)
	light, _ := run(ctx, background)
	if err := within(ctx, step, dark); err != nil {
		t.Fatal(err)
	}
	if bg, err := run(ctx, background); err != nil || bg == light {
		t.Errorf("prefers-color-scheme dark leaves the background %s (%v)", bg, err)
	}
	screenshot(t, ctx, "webhook-console-dark.png")

	// Replay, now that the app is back: delivered
	f.recover.Store(true)
	if err := within(ctx, step, chromedp.Click(chromedp.CSS(`#detail button.replay`))); err != nil {
		t.Fatal(err)
	}
	wait("replayed and delivered", row("d:"+failing, "delivered"))
	f.waitState(t, failing, journal.Delivered)
	if n := f.received.Load(); n != 1 {
		t.Errorf("the app got %d deliveries, want 1", n)
	}
	if err := within(ctx, step, chromedp.WaitVisible(chromedp.CSS(`#detail .msg.ok`))); err != nil {
		t.Errorf("no confirmation of the replay: %v", err)
	}

	// the stream drops; what is published meanwhile arrives once the page
	// has reconnected with its Last-Event-ID
	timeline := chromedp.Evaluate[int](`document.querySelectorAll('#detail table.timeline tr').length`)
	before, err := run(ctx, timeline)
	if err != nil || before < 4 {
		t.Fatalf("the dead one's timeline has %d events (%v)", before, err)
	}
	f.srv.CloseClientConnections()
	f.hub.Publish(events.Event{Type: events.TypeForwarded, Route: "github", Provider: "github", EventType: "ping", RequestID: "req-after-drop", Status: 204})
	if err := within(ctx, step, chromedp.WaitVisible(row("r:req-after-drop", "forwarded"))); err != nil {
		t.Errorf("an event published while the stream was down never showed: %v", err)
	}
	if after, err := run(ctx, timeline); err != nil || after != before {
		t.Errorf("the open delivery's timeline went from %d to %d events (%v): repeated after the reconnection", before, after, err)
	}

	// a narrow window: the table still fits, without a horizontal scroll
	if err := within(ctx, step, chromedp.EmulateViewport(380, 700), chromedp.Click(chromedp.CSS(`#d-close`))); err != nil {
		t.Fatal(err)
	}
	overflow, err := run(ctx, chromedp.Evaluate[bool](`document.getElementById('list').scrollWidth > document.getElementById('list').clientWidth`))
	if err != nil || overflow {
		t.Errorf("a narrow window scrolls sideways (%v)", err)
	}
}

// screenshot saves the page as a PNG named name in $CONSOLE_SCREENSHOTS,
// or in the temporary directory, and logs where.
func screenshot(t *testing.T, ctx context.Context, name string) {
	// settle the rows' arrival highlight, for a picture as people see it
	settle := chromedp.Evaluate[int](`document.querySelectorAll('tr.fresh').forEach(tr => tr.classList.remove('fresh')), 0`)
	if _, err := run(ctx, settle); err != nil {
		t.Fatal(err)
	}
	png, err := run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("CONSOLE_SCREENSHOTS")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the console: %s", path)
}
