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
