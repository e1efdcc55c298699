package webhookverify

import (
	"net/http"
	"sync"
	"testing"
	"time"

	stripewebhook "github.com/stripe/stripe-go/v82/webhook"
)

const dedupeSites = `
	:9080 {
		webhook_verify /github github {
			secret {env.WV_GH}
			dedupe 1h {
				zone {env.WV_ZONE}
			}
		}
		webhook_verify /stripe stripe {
			secret {env.WV_STRIPE}
			dedupe {
				zone {env.WV_ZONE}-stripe
			}
		}
		reverse_proxy {upstream}
	}`

// uniqueZone keeps one test's memory away from the others' (they share one
// Caddy process, and zones outlive config loads by design).
func uniqueZone(t *testing.T) {
	t.Setenv("WV_ZONE", t.Name()+time.Now().Format("150405.000000"))
}

func githubDelivery(id string) http.Header {
	return h("X-Hub-Signature-256", ghSig, "X-GitHub-Delivery", id, "X-GitHub-Event", "push")
}

func TestRedeliveryReachesAppOnce(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	t.Setenv("WV_STRIPE", "whsec_dedupe")
	uniqueZone(t)
	up := newUpstream(t)
	up.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusAccepted)
	}
	startCaddy(t, up, dedupeSites)

	// GitHub redelivers with the same X-GitHub-Delivery.
	status, _, _ := post(t, "/github", githubDelivery("redelivered-1"), []byte(ghBody))
	if status != http.StatusAccepted {
		t.Fatalf("first delivery: %d", status)
	}
	status, header, _ := post(t, "/github", githubDelivery("redelivered-1"), []byte(ghBody))
	if status != http.StatusAccepted || header.Get("Webhook-Duplicate") != "true" {
		t.Fatalf("redelivery: %d, Webhook-Duplicate %q; want the original 202 and true", status, header.Get("Webhook-Duplicate"))
	}
	// GitHub signs the body only: a captured delivery replayed with fresh
	// X-GitHub-Delivery ids is still the same delivery, and a duplicate.
	for _, id := range []string{"replayed-1", "replayed-2", "replayed-3"} {
		if status, header, _ := post(t, "/github", githubDelivery(id), []byte(ghBody)); status != http.StatusAccepted || header.Get("Webhook-Duplicate") != "true" {
			t.Fatalf("replay with new id %s: %d %q, want a duplicate", id, status, header.Get("Webhook-Duplicate"))
		}
	}
	// A new delivery (a new signed body) goes through.
	other := `{"ref":"refs/heads/other"}`
	otherHeader := h("X-Hub-Signature-256", "sha256="+hmacHex([]byte(ghSecret), []byte(other)), "X-GitHub-Delivery", "redelivered-2")
	if status, header, _ := post(t, "/github", otherHeader, []byte(other)); status != http.StatusAccepted || header.Get("Webhook-Duplicate") != "" {
		t.Fatalf("new delivery: %d %q", status, header.Get("Webhook-Duplicate"))
	}
	if n := up.count(); n != 2 {
		t.Fatalf("app saw %d deliveries, want 2", n)
	}

	// A forged copy of a remembered delivery is still a forgery: 401, not
	// a friendly duplicate, and it changes nothing.
	forged := h("X-Hub-Signature-256", "sha256="+hmacHex([]byte("guess"), []byte(ghBody)), "X-GitHub-Delivery", "forged-first")
	if status, _, _ := post(t, "/github", forged, []byte(ghBody)); status != 401 {
		t.Fatalf("forged delivery: %d", status)
	}
	if status, _, _ := post(t, "/github", h("X-Hub-Signature-256", forged.Get("X-Hub-Signature-256"), "X-GitHub-Delivery", "redelivered-1"), []byte(ghBody)); status != 401 {
		t.Fatalf("forged copy of a remembered id: %d", status)
	}
	// The forged request claimed nothing: the genuine one goes through.
	fresh := `{"ref":"refs/heads/fresh"}`
	freshHeader := h("X-Hub-Signature-256", "sha256="+hmacHex([]byte(ghSecret), []byte(fresh)), "X-GitHub-Delivery", "forged-first")
	forged = h("X-Hub-Signature-256", "sha256="+hmacHex([]byte("guess"), []byte(fresh)), "X-GitHub-Delivery", "forged-first")
	if status, _, _ := post(t, "/github", forged, []byte(fresh)); status != 401 {
		t.Fatalf("forged delivery: %d", status)
	}
	if status, header, _ := post(t, "/github", freshHeader, []byte(fresh)); status != 202 || header.Get("Webhook-Duplicate") != "" {
		t.Fatalf("genuine delivery after a forged one with its id: %d %q", status, header.Get("Webhook-Duplicate"))
	}

	// Stripe re-signs a retried event with a new timestamp; the event id in
	// the body is the same.
	body := []byte(`{"id":"evt_dedupe_1","object":"event","type":"invoice.paid"}`)
	for i, at := range []time.Time{time.Now().Add(-40 * time.Second), time.Now()} {
		sig := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{Payload: body, Secret: "whsec_dedupe", Timestamp: at}).Header
		status, header, _ := post(t, "/stripe", h("Stripe-Signature", sig), body)
		if status != 202 || (i == 1) != (header.Get("Webhook-Duplicate") == "true") {
			t.Fatalf("stripe attempt %d: %d %q", i, status, header.Get("Webhook-Duplicate"))
		}
	}
	if n := up.count(); n != 4 {
		t.Fatalf("app saw %d deliveries, want 4", n)
	}
}

// Twenty copies of one delivery at once, to an app that takes its time:
// exactly one reaches it, none gets a 5xx.
func TestConcurrentCopiesToSlowApp(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	t.Setenv("WV_STRIPE", "whsec_dedupe")
	uniqueZone(t)
	up := newUpstream(t)
	up.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		time.Sleep(700 * time.Millisecond)
		w.Write([]byte("slowly done"))
	}
	startCaddy(t, up, dedupeSites)

	statuses := make([]int, 20)
	retryAfter := make([]string, 20)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range statuses {
		wg.Go(func() {
			<-start
			var header http.Header
			statuses[i], header, _ = post(t, "/github", githubDelivery("concurrent-1"), []byte(ghBody))
			retryAfter[i] = header.Get("Retry-After")
		})
	}
	close(start)
	wg.Wait()

	counts := map[int]int{}
	for i, s := range statuses {
		counts[s]++
		if s == http.StatusConflict && retryAfter[i] == "" {
			t.Errorf("409 without Retry-After")
		}
	}
	if up.count() != 1 || counts[200] < 1 || counts[200]+counts[409] != 20 {
		t.Fatalf("app saw %d copies; statuses %v", up.count(), counts)
	}
	// Once the first copy is done, later copies are duplicates.
	if status, header, _ := post(t, "/github", githubDelivery("concurrent-1"), []byte(ghBody)); status != 200 || header.Get("Webhook-Duplicate") != "true" {
		t.Fatalf("copy after completion: %d %q", status, header.Get("Webhook-Duplicate"))
	}
}

// When the app fails, the key is released: the provider's retry reaches it.
func TestAppFailureReleasesKey(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	t.Setenv("WV_STRIPE", "whsec_dedupe")
	uniqueZone(t)
	up := newUpstream(t)
	up.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			http.Error(w, "down for a moment", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok now"))
	}
	startCaddy(t, up, dedupeSites)

	if status, _, body := post(t, "/github", githubDelivery("flaky-1"), []byte(ghBody)); status != 503 {
		t.Fatalf("first attempt: %d %q, want the app's 503", status, body)
	}
	if status, header, body := post(t, "/github", githubDelivery("flaky-1"), []byte(ghBody)); status != 200 || body != "ok now" || header.Get("Webhook-Duplicate") != "" {
		t.Fatalf("provider retry: %d %q %q, want it to reach the app", status, body, header.Get("Webhook-Duplicate"))
	}
	if status, header, _ := post(t, "/github", githubDelivery("flaky-1"), []byte(ghBody)); status != 200 || header.Get("Webhook-Duplicate") != "true" {
		t.Fatalf("after success: %d %q", status, header.Get("Webhook-Duplicate"))
	}

	// An app that cannot be reached at all releases the key too.
	up.Close()
	unreachable := `{"ref":"refs/heads/unreachable"}`
	if status, _, _ := post(t, "/github", h("X-Hub-Signature-256", "sha256="+hmacHex([]byte(ghSecret), []byte(unreachable)), "X-GitHub-Delivery", "unreachable-1"), []byte(unreachable)); status != 502 {
		t.Fatalf("unreachable app: %d", status)
	}
	if n := up.count(); n != 2 {
		t.Fatalf("app saw %d, want 2", n)
	}
}

// A config reload keeps every remembered id.
func TestReloadKeepsMemory(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	t.Setenv("WV_STRIPE", "whsec_dedupe")
	uniqueZone(t)
	up := newUpstream(t)
	startCaddy(t, up, dedupeSites)
	if status, _, _ := post(t, "/github", githubDelivery("before-reload"), []byte(ghBody)); status != 200 {
		t.Fatalf("first delivery: %d", status)
	}

	// A different config (a new route, another header) with the same zone.
	startCaddy(t, up, `
	:9080 {
		webhook_verify /github github {
			secret {env.WV_GH}
			dedupe 2h {
				zone {env.WV_ZONE}
			}
		}
		respond /health "ok"
		reverse_proxy {upstream} {
			header_up X-Reloaded yes
		}
	}`)
	status, header, _ := post(t, "/github", githubDelivery("before-reload"), []byte(ghBody))
	if status != 200 || header.Get("Webhook-Duplicate") != "true" {
		t.Fatalf("redelivery after reload: %d %q", status, header.Get("Webhook-Duplicate"))
	}
	if n := up.count(); n != 1 {
		t.Fatalf("app saw %d deliveries, want 1", n)
	}
}

// A delivery without any id is keyed by its body digest.
func TestBodyDigestKey(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	t.Setenv("WV_STRIPE", "whsec_dedupe")
	uniqueZone(t)
	up := newUpstream(t)
	startCaddy(t, up, dedupeSites)
	noID := h("X-Hub-Signature-256", ghSig)
	post(t, "/github", noID, []byte(ghBody))
	status, header, _ := post(t, "/github", noID, []byte(ghBody))
	if status != 200 || header.Get("Webhook-Duplicate") != "true" || up.count() != 1 {
		t.Fatalf("second copy without id: %d %q, app saw %d", status, header.Get("Webhook-Duplicate"), up.count())
	}
}
