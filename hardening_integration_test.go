package webhookverify

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Hundreds of concurrent forged uploads near max_body cannot make Caddy
// hold more body bytes than the body budget, and a genuine delivery sent
// meanwhile goes through. Before the budget, 200 such uploads of 10 MiB
// took 5.3 GB and 1,000 of them crashed Caddy.
func TestForgedUploadFloodStaysInBudget(t *testing.T) {
	const (
		budgetSize = 32 << 20
		maxBody    = 2 << 20
		uploads    = 300
	)
	t.Setenv("WV_GH", ghSecret)
	up := newUpstream(t)
	startCaddyWith(t, up, fmt.Sprintf("webhook {\n\tbody_budget %d\n\tbody_wait 1s\n}", budgetSize), `
	:9080 {
		webhook_verify /github github {
			secret {env.WV_GH}
			max_body 2MiB
		}
		reverse_proxy {upstream}
	}`)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseline := ms.HeapAlloc

	// The heap, sampled while the flood runs.
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	// Forged uploads of max_body - 1 KiB, half with a Content-Length, half
	// chunked, each with a well-formed signature that is wrong. Each sends
	// all but its last KiB at once, then dawdles, as a slow sender does:
	// without a budget, all of them would be held in memory together.
	payload := bytes.Repeat([]byte("f"), maxBody-1024)
	forgedSig := "sha256=" + strings.Repeat("ab", 32)
	var statuses sync.Map
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: uploads}, Timeout: time.Minute}
	for i := range uploads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, "http://"+caddyAddr+"/github", nil)
			req.Body = &slowTail{data: payload, tail: 1024, pause: 1500 * time.Millisecond}
			req.ContentLength = int64(len(payload))
			if i%2 == 1 {
				req.ContentLength = -1 // chunked
			}
			req.Header.Set("X-Hub-Signature-256", forgedSig)
			resp, err := client.Do(req)
			status := 0
			switch {
			case err == nil:
				status = resp.StatusCode
				resp.Body.Close()
			case strings.Contains(err.Error(), "broken pipe") || strings.Contains(err.Error(), "connection reset"):
				// Refused before its body was read, the upload's
				// connection was closed while the client still wrote
				// (HTTP/1.1 has no way to stop a sender but to close);
				// the client saw its write fail before the answer.
			default:
				t.Errorf("upload %d: %v", i, err)
			}
			n, _ := statuses.LoadOrStore(status, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
		}()
	}

	// Meanwhile, genuine deliveries go through.
	for i := range 10 {
		id := fmt.Sprintf("genuine-%d", i)
		status, _, body := post(t, "/github", h("X-Hub-Signature-256", ghSig, "X-GitHub-Delivery", id), []byte(ghBody))
		if status != http.StatusOK || body != "app ok" {
			t.Errorf("genuine delivery %s during the flood: %d %q", id, status, body)
		}
	}
	wg.Wait()
	close(stopSampling)
	<-sampled

	counts := map[int]int64{}
	statuses.Range(func(k, v any) bool {
		counts[k.(int)] = v.(*atomic.Int64).Load()
		return true
	})
	t.Logf("forged uploads answered: %v (0: the connection closed under the client's write)", counts)
	for status := range counts {
		if status != http.StatusUnauthorized && status != http.StatusServiceUnavailable && status != 0 {
			t.Errorf("a forged upload got %d (want 401, or 503 while the budget is full)", status)
		}
	}
	if counts[http.StatusUnauthorized] == 0 {
		t.Errorf("no forged upload was read and refused: %v", counts)
	}
	for _, r := range up.requests() {
		if string(r.Body) != ghBody {
			t.Fatalf("a forged upload reached the app (%d bytes)", len(r.Body))
		}
	}
	if n := up.count(); n != 10 {
		t.Errorf("the app saw %d deliveries, want the 10 genuine ones", n)
	}

	// Bodies held never pass the budget. The garbage collector lets the
	// heap grow to twice its live part (GOGC=100) before it collects, so
	// the heap stays under twice (baseline + budget), plus a margin for
	// the 600 connections (both ends live in this process, with their
	// buffers, about 32 KiB each) and the collector's slack. Without the
	// budget this flood peaks near 1 GiB.
	const margin = 64 << 20
	limit := 2*(baseline+budgetSize) + margin
	t.Logf("heap: baseline %d MiB, peak %d MiB, limit %d MiB (budget %d MiB); %s",
		baseline>>20, peak.Load()>>20, limit>>20, budgetSize>>20, peakRSS())
	if peak.Load() > limit {
		t.Errorf("heap peaked at %d MiB, over %d MiB", peak.Load()>>20, limit>>20)
	}
}

// slowTail is a request body that sends all but its tail at once, then
// pauses before the tail, as a slow sender does.
type slowTail struct {
	data   []byte
	tail   int
	pause  time.Duration
	paused bool
}

func (s *slowTail) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	if len(s.data) <= s.tail && !s.paused {
		time.Sleep(s.pause)
		s.paused = true
	}
	limit := len(s.data)
	if !s.paused {
		limit -= s.tail
	}
	n := copy(p, s.data[:limit])
	s.data = s.data[n:]
	return n, nil
}

func (s *slowTail) Close() error { return nil }

// peakRSS is the test process's peak resident memory, for the log.
func peakRSS() string {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "peak RSS unknown"
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return "peak RSS " + strings.Join(strings.Fields(line)[1:], " ")
		}
	}
	return "peak RSS unknown"
}

// Two rate_limit zones with one name and different rates (and a reload
// that changes a rate) once made Prometheus's Gather fail, so Caddy's
// whole /metrics answered 500.
func TestMetricsSurviveZonesSharingAName(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	zone := "shared-" + time.Now().Format("150405.000000")
	t.Setenv("WV_ZONE", zone)
	up := newUpstream(t)
	site := func(rateA, rateB string) string {
		return `
	:9080 {
		webhook_verify /a github {
			secret {env.WV_GH}
			rate_limit ` + rateA + ` {
				zone {env.WV_ZONE}
			}
		}
		webhook_verify /b github {
			secret {env.WV_GH}
			rate_limit ` + rateB + ` {
				zone {env.WV_ZONE}
			}
		}
		reverse_proxy {upstream}
	}`
	}
	startCaddy(t, up, site("5/1s", "7/1s"))
	post(t, "/a", githubDelivery("z-1"), []byte(ghBody))
	post(t, "/b", githubDelivery("z-2"), []byte(ghBody))
	assertMetricsServe(t)
	if got := scrape(t, "caddy_webhook_rate_limit_buckets", map[string]string{"zone": zone}); got != 2 {
		t.Errorf("buckets of zone %s = %v, want 2 (one per rate, summed)", zone, got)
	}
	startCaddy(t, up, site("9/1s", "7/1s")) // a reload that changes a rate
	post(t, "/a", githubDelivery("z-3"), []byte(ghBody))
	assertMetricsServe(t)
}

func assertMetricsServe(t *testing.T) {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics answered %d", resp.StatusCode)
	}
}

// An app that never answers holds neither the sender nor the dedupe claim
// past the retry budget: the sender gets 504 at the budget, a copy sent
// meanwhile is told how long is left, and after the budget the provider's
// retry reaches the app again.
func TestHungAppBoundedByBudget(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	uniqueZone(t)
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	up := newUpstream(t)
	up.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
		w.Write([]byte("answered"))
	}
	startCaddy(t, up, `
	:9080 {
		webhook_verify /github github {
			secret {env.WV_GH}
			dedupe {
				zone {env.WV_ZONE}
			}
			retry 3 {
				budget 2s
			}
		}
		reverse_proxy {upstream}
	}`)
	first := make(chan int)
	start := time.Now()
	go func() {
		status, _, _ := post(t, "/github", githubDelivery("hung-1"), []byte(ghBody))
		first <- status
	}()
	// A copy while the first is in flight: 409, told to wait at most the
	// budget's remainder.
	for up.count() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	status, header, _ := post(t, "/github", githubDelivery("hung-1"), []byte(ghBody))
	if status != http.StatusConflict {
		t.Fatalf("copy in flight: %d, want 409", status)
	}
	if ra := header.Get("Retry-After"); ra != "1" && ra != "2" {
		t.Errorf("copy in flight told Retry-After %q, want what is left of the 2s budget", ra)
	}
	if status := <-first; status != http.StatusGatewayTimeout {
		t.Fatalf("hung app: sender got %d, want 504 at the budget", status)
	}
	t.Logf("the sender was answered after %s", time.Since(start).Round(time.Millisecond))
	// The claim went with the delivery: the provider's retry goes through.
	if status, _, body := post(t, "/github", githubDelivery("hung-1"), []byte(ghBody)); status != 200 || body != "answered" {
		t.Fatalf("retry after the budget: %d %q", status, body)
	}
}

// caddyfileBlocks are the README's ```caddyfile blocks.
func caddyfileBlocks(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, part := range strings.Split(string(readme), "```caddyfile\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		blocks = append(blocks, block)
	}
	return blocks
}

// Every example in the README and example/ that proxies to an app is
// closed: forged and unsigned requests to any path, next to the webhook
// paths or elsewhere, never reach the app, while a genuine delivery does.
func TestExamplesAreClosed(t *testing.T) {
	example, err := os.ReadFile("example/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	configs := map[string]string{"example/Caddyfile": string(example)}
	for i, block := range caddyfileBlocks(t) {
		if strings.Contains(block, "[<matcher>]") {
			continue // the syntax, not an example
		}
		if strings.Contains(block, "reverse_proxy") || strings.Contains(block, "deliver {") {
			configs[fmt.Sprintf("README block %d", i+1)] = block
		}
	}
	if len(configs) < 4 {
		t.Fatalf("found %d configs with a proxy; the README lost its examples?", len(configs))
	}
	for _, env := range []string{"GITHUB_WEBHOOK_SECRET", "GITHUB_WEBHOOK_SECRET_PREVIOUS", "STRIPE_WEBHOOK_SECRET", "GITLAB_WEBHOOK_TOKEN", "CI_TOKEN", "DEV_STREAM_TOKEN"} {
		t.Setenv(env, "closed-"+env)
	}
	t.Setenv("APP_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	for name, config := range configs {
		t.Run(name, func(t *testing.T) {
			up := newUpstream(t)
			site := closedSite(config, up.hostport())
			startCaddyWith(t, up, journalGlobal(t), site)

			forgeries := []http.Header{
				h(),
				h("X-Hub-Signature-256", "sha256="+hmacHex([]byte("guess"), []byte(ghBody))),
				h("Stripe-Signature", "t=1,v1="+strings.Repeat("0", 64)),
				h("X-Gitlab-Token", "guess"),
			}
			for _, path := range []string{"/", "/x", "/github", "/github/", "/github/push", "/github;x", "/GITHUB/push",
				"/githubx", "/%67ithub", "/x/../github", "/stripe", "/stripe/x", "/stripe;x", "/gitlab", "/gitlab/x",
				"/hooks", "/hooks/x", "/hooks;x", "/slack", "/shopify"} {
				for _, header := range forgeries {
					post(t, path, header, []byte(ghBody))
				}
			}
			if n := up.count(); n != 0 {
				t.Fatalf("%d forged or unsigned requests reached the app: %v", n, up.requests()[0].Path)
			}
			// and the config does let a genuine delivery through
			path := "/github/push"
			if strings.Contains(config, "/hooks*") {
				path = "/hooks/push"
			}
			// (a body of its own: configs with dedupe share the zone named
			// after the route, which outlives a config load)
			genuine := `{"ref":"refs/heads/main","config":"` + name + `"}`
			sig := "sha256=" + hmacHex([]byte("closed-GITHUB_WEBHOOK_SECRET"), []byte(genuine))
			if status, header, _ := post(t, path, h("X-Hub-Signature-256", sig, "X-GitHub-Delivery", "closed-1"), []byte(genuine)); (status != 200 && status != 202) || header.Get("Webhook-Duplicate") != "" {
				t.Fatalf("a genuine delivery to %s: %d %q", path, status, header.Get("Webhook-Duplicate"))
			}
			// (a durable route delivers it in the background)
			waitFor(t, "the genuine delivery at the app", 5*time.Second, func() bool { return up.count() == 1 })
		})
	}
}

// closedSite makes an example config runnable here: the test's site
// address, upstream and secrets.
func closedSite(config, upstream string) string {
	if strings.HasPrefix(strings.TrimSpace(config), "#") || strings.HasPrefix(strings.TrimSpace(config), "{") {
		// example/Caddyfile: drop its comments' global options block
		_, config, _ = strings.Cut(config, "\n}\n")
	}
	config = strings.NewReplacer(
		"hooks.example.com {", ":9080 {",
		":443 {", ":9080 {",
		":8080 {", ":9080 {",
		"localhost:8080", upstream,
		"app:8080", upstream,
		"127.0.0.1:9000", upstream,
		"{file./run/secrets/gitlab_token}", "{env.GITLAB_WEBHOOK_TOKEN}",
		"/var/lib/caddy/webhooks.db", "",
	).Replace(config)
	if !strings.Contains(config, ":9080 {") {
		config = ":9080 {\n" + config + "\n}" // a snippet of a site
	}
	return config
}

// A site whose proxy has no matcher while webhook_verify has one is open:
// Caddy says so when the config loads. The closed layouts say nothing.
func TestOpenSiteWarning(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	up := newUpstream(t)
	const warning = "a reverse_proxy without a matcher follows webhook_verify routes with matchers"
	_, logFile := startCaddy(t, up, `
	:9080 {
		webhook_verify /github/* github {
			secret {env.WV_GH}
		}
		reverse_proxy {upstream}
	}`)
	if log := readLog(t, logFile); !strings.Contains(log, warning) || !strings.Contains(log, `"webhook_verify_routes":["/github/*"]`) {
		t.Fatalf("no warning for an open site; log:\n%s", log)
	}
	for _, closed := range []string{`
	:9080 {
		handle /github* {
			webhook_verify github {
				secret {env.WV_GH}
			}
			reverse_proxy {upstream}
		}
	}`, `
	:9080 {
		webhook_verify /github* github {
			secret {env.WV_GH}
		}
		reverse_proxy /github* {upstream}
	}`} {
		_, logFile := startCaddy(t, up, closed)
		if log := readLog(t, logFile); strings.Contains(log, warning) {
			t.Fatalf("a warning for a closed site:\n%s", closed)
		}
	}
}
