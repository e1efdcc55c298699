package webhookverify

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/internal/redistest"
)

// twoInstances runs two real Caddy processes sharing one real
// redis-server, each with the same site.
func twoInstances(t *testing.T, rdb *redistest.Server, onError, site string) (*caddyProcess, *caddyProcess, string) {
	t.Helper()
	globals := fmt.Sprintf("webhook {\n\t\tstorage redis redis://%s {\n\t\t\tprefix %s:\n\t\t\ton_error %s\n\t\t}\n\t}",
		rdb.Addr, strings.ReplaceAll(t.Name(), "/", "-"), onError)
	a := startCaddyProcess(t, t.TempDir(), globals, site)
	b := startCaddyProcess(t, t.TempDir(), globals, site)
	return a, b, globals
}

func signedPost(t *testing.T, addr, path, body string, header ...string) (int, http.Header) {
	t.Helper()
	h := h(append([]string{"X-Hub-Signature-256", "sha256=" + hmacHex([]byte(ghSecret), []byte(body))}, header...)...)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(body))
	req.Header = h
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return 0, nil
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// Two instances share dedupe and rate limits through Redis: 20 copies of
// one delivery sent at once, alternating between them, reach the app
// once; a 5/1m limit lets exactly 5 of 12 through across both.
func TestTwoInstancesShareDedupeAndRateLimit(t *testing.T) {
	t.Setenv("WV_CRASH_SECRET", ghSecret)
	rdb := redistest.Start(t, redistest.Options{AppendOnly: true})
	app := newUpstream(t)
	app.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		time.Sleep(200 * time.Millisecond) // keeps the first copy in flight while the others arrive
		w.WriteHeader(http.StatusOK)
	}
	site := fmt.Sprintf(`
	webhook_verify /github github {
		secret {env.WV_CRASH_SECRET}
		dedupe
	}
	webhook_verify /limited github {
		secret {env.WV_CRASH_SECRET}
		rate_limit 5/1m
	}
	webhook_verify /both github {
		secret {env.WV_CRASH_SECRET}
		dedupe
		rate_limit 3/1m
	}
	reverse_proxy %s`, app.hostport())
	a, b, _ := twoInstances(t, rdb, "closed", site)

	body := `{"ref":"refs/heads/shared","n":1}`
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := a.addr
			if i%2 == 1 {
				addr = b.addr
			}
			status, _ := signedPost(t, addr, "/github", body, "X-GitHub-Event", "push")
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if n := app.count(); n != 1 {
		t.Fatalf("the app saw %d copies, want 1 (answers: %v)", n, statuses)
	}
	if statuses[http.StatusOK] < 1 || statuses[http.StatusOK]+statuses[http.StatusConflict] != 20 {
		t.Fatalf("answers %v: want 200 (the first, then duplicates) and 409 (copies in flight)", statuses)
	}

	passed := 0
	for i := range 12 {
		addr := a.addr
		if i%2 == 1 {
			addr = b.addr
		}
		status, header := signedPost(t, addr, "/limited", fmt.Sprintf(`{"n":%d}`, i))
		switch status {
		case http.StatusOK:
			passed++
		case http.StatusTooManyRequests:
			if header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		default:
			t.Fatalf("limited delivery %d: %d", i, status)
		}
	}
	if passed != 5 {
		t.Fatalf("%d of 12 passed a 5/1m limit shared by two instances, want 5", passed)
	}

	// Dedupe and a rate limit together (one round trip to claim and take a
	// token, one to settle): a duplicate spends no token, and the limit
	// still holds across both instances.
	before := app.count()
	var got []int
	for i := range 6 {
		addr := a.addr
		if i%2 == 1 {
			addr = b.addr
		}
		body := fmt.Sprintf(`{"both":%d}`, i/2) // every delivery twice: a copy follows it
		status, header := signedPost(t, addr, "/both", body)
		if header.Get("Webhook-Duplicate") == "true" {
			status = -status
		}
		got = append(got, status)
	}
	for i := range 4 {
		status, _ := signedPost(t, a.addr, "/both", fmt.Sprintf(`{"more":%d}`, i))
		got = append(got, status)
	}
	want := []int{200, -200, 200, -200, 200, -200, 429, 429, 429, 429}
	if fmt.Sprint(got) != fmt.Sprint(want) || app.count()-before != 3 {
		t.Fatalf("dedupe + rate_limit 3/1m: answers %v (negative: duplicate), want %v; the app saw %d", got, want, app.count()-before)
	}
}

// The durable queue in Redis: 200 deliveries accepted by instance A while
// the app is down, A killed with SIGKILL, the app brought up: instance B
// delivers every one of them.
func TestTwoInstancesShareTheQueue(t *testing.T) {
	t.Setenv("WV_CRASH_SECRET", ghSecret)
	rdb := redistest.Start(t, redistest.Options{AppendOnly: true, Fsync: "always"})
	dest := newDestination(t)
	a, b, _ := twoInstances(t, rdb, "open", durableProcessSite(dest.addr, ""))

	var ids []string
	for i := range 200 {
		status, _ := signedPost(t, a.addr, "/github", fmt.Sprintf(`{"ref":"refs/heads/main","n":%d}`, i), "X-GitHub-Event", "push")
		if status != http.StatusAccepted {
			t.Fatalf("delivery %d: %d", i, status)
		}
	}
	// the ids, from either instance's admin API (they share the journal)
	var list struct{ Deliveries []adminDelivery }
	adminAt(t, b.admin, "/webhook/deliveries?limit=500", &list)
	for _, d := range list.Deliveries {
		ids = append(ids, d.ID)
	}
	if len(ids) != 200 {
		t.Fatalf("instance B sees %d deliveries, want the 200 A accepted", len(ids))
	}
	a.kill()
	dest.up(t)
	up := time.Now()
	waitFor(t, "every delivery, through instance B", 90*time.Second, func() bool {
		arrived, _ := dest.got(ids)
		return arrived == len(ids)
	})
	_, twice := dest.got(ids)
	t.Logf("200 accepted by A (killed), all delivered by B within %s of the app coming up; %d arrived twice", time.Since(up).Round(time.Second), twice)
}

// Redis going away: verification still works; dedupe follows on_error
// (open: delivered with a WARN; closed: 503 with Retry-After); a durable
// route always answers 503, never a 2xx for what is not stored; when
// Redis is back the instances recover by themselves, and nothing
// acknowledged is lost.
func TestRedisDownAndBack(t *testing.T) {
	t.Setenv("WV_CRASH_SECRET", ghSecret)
	rdb := redistest.Start(t, redistest.Options{AppendOnly: true, Fsync: "always"})
	app := newUpstream(t)
	dest := newDestination(t)
	dest.up(t)
	site := fmt.Sprintf(`
	webhook_verify /sync github {
		secret {env.WV_CRASH_SECRET}
		dedupe
	}
	%s
	reverse_proxy %s`, strings.Replace(durableProcessSite(dest.addr, ""), "/github", "/durable", 1), app.hostport())
	open, _, _ := twoInstances(t, rdb, "open", site)
	closedGlobals := fmt.Sprintf("webhook {\n\t\tstorage redis redis://%s {\n\t\t\ton_error closed\n\t\t}\n\t}", rdb.Addr)
	closed := startCaddyProcess(t, t.TempDir(), closedGlobals, site)

	var acked []string
	if status, _ := signedPost(t, open.addr, "/sync", `{"before":true}`); status != 200 {
		t.Fatalf("before: %d", status)
	}
	rdb.Kill()
	// a forgery is still refused: verification needs no Redis
	if status, _ := signedPost(t, open.addr, "/sync", `{"x":1}`, "X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64)); status != 401 {
		t.Fatalf("forgery while Redis is down: %d", status)
	}
	if status, _ := signedPost(t, open.addr, "/sync", `{"down":"open"}`); status != 200 {
		t.Errorf("on_error open while Redis is down: %d, want 200", status)
	}
	if status, header := signedPost(t, closed.addr, "/sync", `{"down":"closed"}`); status != 503 || header.Get("Retry-After") == "" {
		t.Errorf("on_error closed while Redis is down: %d, want 503 with Retry-After", status)
	}
	for _, inst := range []*caddyProcess{open, closed} {
		if status, header := signedPost(t, inst.addr, "/durable", `{"down":"durable"}`, "X-GitHub-Event", "push"); status != 503 || header.Get("Retry-After") == "" {
			t.Errorf("durable route while Redis is down: %d, want 503 with Retry-After", status)
		}
	}
	rdb.Restart()
	waitFor(t, "the instances to recover", 30*time.Second, func() bool {
		s1, _ := signedPost(t, closed.addr, "/sync", fmt.Sprintf(`{"after":%d}`, time.Now().UnixNano()))
		s2, _ := signedPost(t, open.addr, "/durable", fmt.Sprintf(`{"after":%d}`, time.Now().UnixNano()), "X-GitHub-Event", "push")
		return s1 == 200 && s2 == 202
	})
	var list struct{ Deliveries []adminDelivery }
	adminAt(t, open.admin, "/webhook/deliveries?limit=500", &list)
	for _, d := range list.Deliveries {
		acked = append(acked, d.ID)
	}
	waitFor(t, "the durable deliveries", 30*time.Second, func() bool {
		arrived, _ := dest.got(acked)
		return arrived == len(acked) && len(acked) > 0
	})
}

// adminAt calls another Caddy's admin API.
func adminAt(t *testing.T, addr, path string, out any) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	decodeJSON(resp, out)
	return resp.StatusCode
}

// A stream subscriber connected to instance B gets the deliveries that
// instance A accepted (they share the journal in Redis).
func TestTwoInstancesShareStreams(t *testing.T) {
	t.Setenv("WV_CRASH_SECRET", ghSecret)
	t.Setenv("WV_STREAM_TOKEN", "stream-token")
	rdb := redistest.Start(t, redistest.Options{AppendOnly: true})
	site := `
	webhook_verify /github github {
		secret {env.WV_CRASH_SECRET}
		deliver {
			to stream dev
		}
	}
	webhook_stream /_stream/dev dev {
		token {env.WV_STREAM_TOKEN}
	}`
	a, b, _ := twoInstances(t, rdb, "open", site)
	req, _ := http.NewRequest(http.MethodGet, "http://"+b.addr+"/_stream/dev", nil)
	req.Header.Set("Authorization", "Bearer stream-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribing at B: %v %v", err, resp)
	}
	defer resp.Body.Close()
	got := make(chan string, 10)
	go readEvents(resp.Body, func(_, data string) error {
		got <- data
		return nil
	})
	if status, _ := signedPost(t, a.addr, "/github", `{"via":"instance A"}`, "X-GitHub-Event", "push"); status != http.StatusAccepted {
		t.Fatalf("delivery at A: %d", status)
	}
	select {
	case data := <-got:
		if !strings.Contains(data, "instance A") {
			t.Fatalf("event: %s", data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a delivery accepted by A never reached B's subscriber")
	}
}
