package webhookverify

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads Caddy's metrics endpoint (the admin API's /metrics) and
// returns the value of every series of name whose labels include want.
func scrape(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parsing metrics: %v", err)
	}
	family, ok := families[name]
	if !ok {
		return 0
	}
	total := 0.0
	for _, m := range family.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

// Valid, forged, stale, oversized and duplicate deliveries show up on the
// metrics endpoint under their results, with no id or address in a label.
func TestMetricsThroughCaddy(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	uniqueZone(t)
	route := "metrics-" + time.Now().Format("150405.000")
	t.Setenv("WV_ROUTE", route)
	up := newUpstream(t)
	_, logFile := startCaddy(t, up, `
	:9080 {
		webhook_verify /github github {
			name {env.WV_ROUTE}
			secret {env.WV_GH}
			max_body 1KiB
			dedupe {
				zone {env.WV_ZONE}
			}
		}
		reverse_proxy {upstream}
	}`)
	labels := func(result string) map[string]string {
		return map[string]string{"route": route, "provider": "github", "result": result}
	}

	post(t, "/github", githubDelivery("m-1"), []byte(ghBody))                                        // verified, forwarded
	post(t, "/github", githubDelivery("m-1"), []byte(ghBody))                                        // verified, duplicate
	post(t, "/github", h("X-Hub-Signature-256", "sha256="+strings.Repeat("ab", 32)), []byte(ghBody)) // bad_signature
	post(t, "/github", h("X-GitHub-Delivery", "m-2"), []byte(ghBody))                                // missing_signature
	post(t, "/github", githubDelivery("m-3"), bytes.Repeat([]byte("x"), 4096))                       // too_large
	req, _ := http.NewRequest(http.MethodGet, "http://"+caddyAddr+"/github", nil)                    // method_not_allowed
	do(t, req)

	for result, want := range map[string]float64{
		"verified": 2, "forwarded": 1, "duplicate": 1, "bad_signature": 1, "missing_signature": 1,
		"too_large": 1, "method_not_allowed": 1, "upstream_failed": 0,
	} {
		if got := scrape(t, "caddy_webhook_deliveries_total", labels(result)); got != want {
			t.Errorf("deliveries_total{result=%q} = %v, want %v", result, got, want)
		}
	}
	if got := scrape(t, "caddy_webhook_upstream_attempts_total", map[string]string{"route": route, "outcome": "2xx"}); got != 1 {
		t.Errorf("upstream_attempts_total{outcome=2xx} = %v, want 1", got)
	}
	if got := scrape(t, "caddy_webhook_verify_duration_seconds", map[string]string{"route": route}); got != 3 {
		t.Errorf("verify_duration_seconds count = %v, want 3 (one per signature checked; the unsigned request is refused from its headers)", got)
	}
	if got := scrape(t, "caddy_webhook_delivery_duration_seconds", map[string]string{"route": route}); got != 1 {
		t.Errorf("delivery_duration_seconds count = %v, want 1", got)
	}
	if got := scrape(t, "caddy_webhook_dedupe_entries", map[string]string{"zone": getenv(t, "WV_ZONE")}); got != 1 {
		t.Errorf("dedupe_entries = %v, want 1", got)
	}
	// Every answer is logged too, with its outcome.
	log := readLog(t, logFile)
	for _, outcome := range []string{"duplicate", "bad_signature", "missing_signature", "too_large", "method_not_allowed"} {
		if !strings.Contains(log, `"outcome":"`+outcome+`"`) {
			t.Errorf("no log line with outcome %s", outcome)
		}
	}

	// The app going away is counted as upstream_failed.
	up.Close()
	m4 := `{"ref":"refs/heads/m-4"}`
	post(t, "/github", h("X-Hub-Signature-256", "sha256="+hmacHex([]byte(ghSecret), []byte(m4)), "X-GitHub-Delivery", "m-4"), []byte(m4))
	if got := scrape(t, "caddy_webhook_deliveries_total", labels("upstream_failed")); got != 1 {
		t.Errorf("upstream_failed = %v, want 1", got)
	}
	if got := scrape(t, "caddy_webhook_upstream_attempts_total", map[string]string{"route": route, "outcome": "error"}); got != 1 {
		t.Errorf("upstream_attempts_total{outcome=error} = %v, want 1", got)
	}

	// No label carries a delivery id or a sender's address. (Durable
	// delivery's destination label is a name from the config, by default
	// its URL's host and path; other tests' destinations are on 127.0.0.1.)
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "caddy_webhook_deliver_") || strings.HasPrefix(line, "caddy_webhook_queue_") {
			continue
		}
		if strings.HasPrefix(line, "caddy_webhook_") && (strings.Contains(line, "m-1") || strings.Contains(line, "127.0.0.1")) {
			t.Errorf("a label carries an id or address: %s", line)
		}
	}
}

// Shadow mode lets a forged request through, says so in placeholders and
// the log, and counts it as bad_signature.
func TestShadowMode(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	route := "shadow-" + time.Now().Format("150405.000")
	t.Setenv("WV_ROUTE", route)
	up := newUpstream(t)
	_, logFile := startCaddy(t, up, `
	:9080 {
		webhook_verify /github github {
			name {env.WV_ROUTE}
			secret {env.WV_GH}
			enforce off
		}
		reverse_proxy {upstream} {
			header_up X-Webhook-Verified {http.webhook.verified}
			header_up X-Webhook-Reason {http.webhook.reason}
		}
	}`)
	forged := h("X-Hub-Signature-256", "sha256="+strings.Repeat("ab", 32), "X-GitHub-Delivery", "shadow-1")
	if status, _, body := post(t, "/github", forged, []byte(ghBody)); status != 200 || body != "app ok" {
		t.Fatalf("forged request in shadow mode: %d %q, want it passed to the app", status, body)
	}
	if status, _, _ := post(t, "/github", githubDelivery("shadow-2"), []byte(ghBody)); status != 200 {
		t.Fatalf("valid request in shadow mode: %d", status)
	}
	reqs := up.requests()
	if len(reqs) != 2 || reqs[0].Header.Get("X-Webhook-Verified") != "false" || reqs[0].Header.Get("X-Webhook-Reason") != "bad_signature" ||
		reqs[1].Header.Get("X-Webhook-Verified") != "true" {
		t.Fatalf("placeholders: %v / %v", reqs[0].Header, reqs[1].Header)
	}
	for result, want := range map[string]float64{"bad_signature": 1, "verified": 1, "forwarded": 2} {
		if got := scrape(t, "caddy_webhook_deliveries_total", map[string]string{"route": route, "result": result}); got != want {
			t.Errorf("%s = %v, want %v", result, got, want)
		}
	}
	if logs := readLog(t, logFile); !strings.Contains(logs, "passed on (enforce off)") || !strings.Contains(logs, `"delivery_id":"shadow-1"`) {
		t.Errorf("no shadow-mode log line:\n%s", logs)
	}
}

func getenv(t *testing.T, name string) string {
	t.Helper()
	v, ok := lookupEnv(name)
	if !ok {
		t.Fatalf("%s unset", name)
	}
	return v
}
