package webhookverify

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func retrySite(retryBlock string) string {
	return `
	:9080 {
		webhook_verify /github github {
			secret {env.WV_GH}
			` + retryBlock + `
		}
		reverse_proxy {upstream} {
			header_up X-Attempt {http.webhook.attempt}
		}
	}`
}

// An app failing twice with 503 then answering 200: the sender gets 200
// after three attempts, and the app got the same bytes every time.
func TestRetryUntilSuccess(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	up := newUpstream(t)
	up.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		if n <= 2 {
			w.Header().Set("X-Failure", "yes")
			http.Error(w, "restarting", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("finally"))
	}
	startCaddy(t, up, retrySite(`retry 3 {
				backoff 10ms 50ms
			}`))
	status, header, body := post(t, "/github", githubDelivery("retry-1"), []byte(ghBody))
	if status != 200 || body != "finally" || header.Get("X-Failure") != "" {
		t.Fatalf("sender got %d %q (X-Failure %q), want the third attempt's 200 only", status, body, header.Get("X-Failure"))
	}
	reqs := up.requests()
	if len(reqs) != 3 {
		t.Fatalf("app saw %d attempts, want 3", len(reqs))
	}
	for i, r := range reqs {
		if !bytes.Equal(r.Body, []byte(ghBody)) {
			t.Errorf("attempt %d carried %q", i+1, r.Body)
		}
		if got := r.Header.Get("X-Attempt"); got != string(rune('1'+i)) {
			t.Errorf("attempt %d: {http.webhook.attempt} = %q", i+1, got)
		}
	}
}

// An app that always fails is tried 1+n times; the sender gets its answer.
func TestRetryExhausted(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	up := newUpstream(t)
	up.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("X-App-Attempt", r.Header.Get("X-Attempt"))
		http.Error(w, "still down", http.StatusServiceUnavailable)
	}
	_, logFile := startCaddy(t, up, retrySite(`retry 2 {
				backoff 5ms 20ms
			}`))
	status, header, body := post(t, "/github", githubDelivery("retry-2"), []byte(ghBody))
	if status != 503 || strings.TrimSpace(body) != "still down" || header.Get("X-App-Attempt") != "3" {
		t.Fatalf("sender got %d %q from attempt %q, want the last attempt's 503", status, body, header.Get("X-App-Attempt"))
	}
	if n := up.count(); n != 3 {
		t.Fatalf("app saw %d attempts, want 3", n)
	}
	logs := readLog(t, logFile)
	if c := strings.Count(logs, `"retrying delivery"`); c != 2 {
		t.Errorf("%d retry log lines, want 2", c)
	}
	if !strings.Contains(logs, `"delivery failed"`) || !strings.Contains(logs, `"attempts":3`) || strings.Count(logs, `"delivery failed"`) != 1 {
		t.Errorf("no final failure line in the log:\n%s", logs)
	}
}

// Statuses that are not retryable go back at once, streamed.
func TestNoRetryForClientErrors(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	up := newUpstream(t)
	big := strings.Repeat("validation failed; ", 20000) // larger than anything held
	up.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, big)
	}
	startCaddy(t, up, retrySite(`retry 3 {
				backoff 5ms 20ms
			}`))
	status, _, body := post(t, "/github", githubDelivery("retry-3"), []byte(ghBody))
	if status != 400 || body != big {
		t.Fatalf("sender got %d and %d bytes, want 400 and %d", status, len(body), len(big))
	}
	if n := up.count(); n != 1 {
		t.Fatalf("a 400 was tried %d times", n)
	}
}

// A closed port is retried, and gives 502 when it stays closed; an app
// that comes up during the retries gets the delivery.
func TestRetryClosedPort(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	_, logFile := startCaddy(t, nil, strings.ReplaceAll(retrySite(`retry 3 {
				backoff 10ms 20ms
			}`), "{upstream}", addr))
	status, _, _ := post(t, "/github", githubDelivery("closed-1"), []byte(ghBody))
	if status != 502 {
		t.Fatalf("closed port: %d, want 502", status)
	}
	if c := strings.Count(readLog(t, logFile), `"retrying delivery"`); c != 3 {
		t.Fatalf("%d retries logged, want 3", c)
	}

	// The app comes up 300ms into the delivery.
	startCaddy(t, nil, strings.ReplaceAll(retrySite(`retry 20 {
				backoff 50ms 100ms
				budget 5s
			}`), "{upstream}", addr))
	got := make(chan []byte, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got <- b
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}()
	if status, _, _ := post(t, "/github", githubDelivery("closed-2"), []byte(ghBody)); status != 200 {
		t.Fatalf("app started during retries: %d", status)
	}
	if b := <-got; string(b) != ghBody {
		t.Fatalf("late app got %q", b)
	}
}

// A sender that hangs up stops the retries.
func TestClientDisconnectStopsRetries(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	up := newUpstream(t)
	up.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "down", http.StatusServiceUnavailable)
	}
	startCaddy(t, up, retrySite(`retry 50 {
				backoff 10ms 10ms
				budget 30s
			}`))
	// attempts at 0s and 1s; the sender leaves at 1.5s
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+caddyAddr+"/github", strings.NewReader(ghBody))
	req.Header = githubDelivery("hangup-1")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the request finished (%d) before the client gave up", resp.StatusCode)
	}
	time.Sleep(200 * time.Millisecond)
	after := up.count()
	time.Sleep(2 * time.Second)
	if n := up.count(); n != after || n != 2 {
		t.Fatalf("attempts went on after the sender left: %d then %d", after, n)
	}
}

// The budget bounds the whole delivery, and an app's Retry-After is
// honoured when it fits.
func TestRetryBudgetAndRetryAfter(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	up := newUpstream(t)
	up.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Header.Get("X-GitHub-Delivery") == "after-1" {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
	}
	startCaddy(t, up, retrySite(`retry 100 {
				backoff 100ms 200ms
				budget 1s
			}`))
	start := time.Now()
	status, _, _ := post(t, "/github", githubDelivery("budget-1"), []byte(ghBody))
	if elapsed := time.Since(start); status != 503 || elapsed > 1300*time.Millisecond {
		t.Fatalf("always failing app: %d after %s, want 503 within the 1s budget", status, elapsed)
	}
	if n := up.count(); n < 3 || n > 20 {
		t.Fatalf("%d attempts within the budget", n)
	}

	// A Retry-After of 1s does not fit what is left of a 1s budget: the
	// 429 goes back at once instead of a retry sooner than the app asked.
	before := up.count()
	status, header, _ := post(t, "/github", githubDelivery("after-1"), []byte(ghBody))
	if status != 429 || header.Get("Retry-After") != "1" || up.count() != before+1 {
		t.Fatalf("Retry-After beyond the budget: %d %q after %d attempts", status, header.Get("Retry-After"), up.count()-before)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	up := newUpstream(t)
	up.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}
	startCaddy(t, up, retrySite(`retry 2 {
				backoff 10ms 10ms
				budget 5s
			}`))
	start := time.Now()
	status, _, _ := post(t, "/github", githubDelivery("after-2"), []byte(ghBody))
	if elapsed := time.Since(start); status != 200 || elapsed < time.Second {
		t.Fatalf("%d after %s, want 200 after waiting the app's 1s", status, elapsed)
	}
}

// With dedupe, the key is committed on the 2xx after retries, and released
// after the last failure.
func TestRetryWithDedupe(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	uniqueZone(t)
	up := newUpstream(t)
	fail := true
	up.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		if fail || n == 3 {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}
	startCaddy(t, up, retrySite(`retry 1 {
				backoff 5ms 5ms
			}
			dedupe {
				zone {env.WV_ZONE}
			}`))
	if status, _, _ := post(t, "/github", githubDelivery("rd-1"), []byte(ghBody)); status != 503 {
		t.Fatalf("all attempts failed: %d", status)
	}
	up.mu.Lock()
	fail = false
	up.mu.Unlock()
	// released: the provider's retry goes through (3rd attempt fails, 4th succeeds)
	if status, header, _ := post(t, "/github", githubDelivery("rd-1"), []byte(ghBody)); status != 200 || header.Get("Webhook-Duplicate") != "" {
		t.Fatalf("provider retry: %d %q", status, header.Get("Webhook-Duplicate"))
	}
	if status, header, _ := post(t, "/github", githubDelivery("rd-1"), []byte(ghBody)); status != 200 || header.Get("Webhook-Duplicate") != "true" {
		t.Fatalf("after success: %d %q", status, header.Get("Webhook-Duplicate"))
	}
	if n := up.count(); n != 4 {
		t.Fatalf("app saw %d attempts, want 4", n)
	}
}
