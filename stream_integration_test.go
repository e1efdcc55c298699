package webhookverify

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v82/github"

	"github.com/webhookverify/caddy-webhook-verify/events"
)

// streamSite publishes GitHub deliveries to the stream dev (and to app),
// and serves the stream at /_stream/dev.
func streamSite(app string) string {
	return fmt.Sprintf(`
	:9080 {
		webhook_verify /github github {
			secret {env.WV_GH}
			deliver {
				to http://%s/hooks
				to stream dev
			}
		}
		webhook_stream /_stream/dev dev {
			token {env.WV_STREAM_TOKEN} {env.WV_STREAM_TOKEN_OLD}
		}
	}`, app)
}

// sseClient reads a stream's events (id and data) as they come.
type sseClient struct {
	resp   *http.Response
	events chan [2]string
}

func subscribe(t *testing.T, token, lastID string) (*sseClient, int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+caddyAddr+"/_stream/dev", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, resp.StatusCode
	}
	c := &sseClient{resp: resp, events: make(chan [2]string, 1000)}
	go func() {
		defer close(c.events)
		readEvents(resp.Body, func(id, data string) error {
			c.events <- [2]string{id, data}
			return nil
		})
	}()
	return c, resp.StatusCode
}

func (c *sseClient) next(t *testing.T) (string, string) {
	t.Helper()
	select {
	case e, ok := <-c.events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return e[0], e[1]
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return "", ""
}

func (c *sseClient) close() { c.resp.Body.Close() }

// A subscriber sees deliveries in order; disconnected, it misses some;
// reconnected with Last-Event-ID, it gets exactly those, nothing repeated.
// A wrong or missing token is 401; either of two tokens works.
func TestStreamResumesWithNothingMissedOrRepeated(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	t.Setenv("WV_STREAM_TOKEN", "stream-token-new")
	t.Setenv("WV_STREAM_TOKEN_OLD", "stream-token-old")
	app := newUpstream(t)
	startCaddyWith(t, nil, journalGlobal(t), streamSite(app.hostport()))

	for _, token := range []string{"", "wrong"} {
		if _, status := subscribe(t, token, ""); status != http.StatusUnauthorized {
			t.Fatalf("token %q: %d, want 401", token, status)
		}
	}
	send := func(n int) {
		body := fmt.Sprintf(`{"ref":"refs/heads/main","n":%d}`, n)
		status, _, _ := post(t, "/github", h("X-Hub-Signature-256", "sha256="+hmacHex([]byte(ghSecret), []byte(body)), "X-GitHub-Event", "push"), []byte(body))
		if status != http.StatusAccepted {
			t.Fatalf("delivery %d: %d", n, status)
		}
	}
	c, _ := subscribe(t, "stream-token-old", "")
	var lastID string
	for n := range 5 {
		send(n)
		id, data := c.next(t)
		if got := streamBody(t, data); !strings.Contains(got, fmt.Sprintf(`"n":%d}`, n)) {
			t.Fatalf("event %d: %s", n, got)
		}
		if lastID != "" && mustUint(t, id) <= mustUint(t, lastID) {
			t.Fatalf("ids out of order: %s after %s", id, lastID)
		}
		lastID = id
	}
	c.close()
	for n := 5; n < 10; n++ { // while nobody listens
		send(n)
	}
	c, _ = subscribe(t, "stream-token-new", lastID)
	defer c.close()
	for n := 5; n < 10; n++ {
		id, data := c.next(t)
		if got := streamBody(t, data); !strings.Contains(got, fmt.Sprintf(`"n":%d}`, n)) {
			t.Fatalf("resumed event for delivery %d: %s", n, got)
		}
		if mustUint(t, id) <= mustUint(t, lastID) {
			t.Fatalf("a repeated or out-of-order id: %s after %s", id, lastID)
		}
		lastID = id
	}
	select {
	case e := <-c.events:
		t.Fatalf("an extra event: %v", e)
	case <-time.After(200 * time.Millisecond):
	}
}

// streamBody is the delivery's body in a stream event.
func streamBody(t *testing.T, data string) string {
	t.Helper()
	var d events.Delivery
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		t.Fatalf("event data %s: %v", data, err)
	}
	body, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("id %q is not a position", s)
	}
	return n
}

// 20 subscribers that connect and never read do not hold back delivery to
// the route's URL destination; the rates with and without them are logged.
func TestStalledSubscribersDoNotSlowDelivery(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	t.Setenv("WV_STREAM_TOKEN", "stream-token")
	t.Setenv("WV_STREAM_TOKEN_OLD", "stream-token")
	app := newUpstream(t)
	startCaddyWith(t, nil, journalGlobal(t), streamSite(app.hostport()))
	run := func(label string, from int) time.Duration {
		start := time.Now()
		for n := from; n < from+100; n++ {
			body := fmt.Sprintf(`{"padding":"%s","n":%d}`, strings.Repeat("p", 2000), n)
			status, _, _ := post(t, "/github", h("X-Hub-Signature-256", "sha256="+hmacHex([]byte(ghSecret), []byte(body))), []byte(body))
			if status != http.StatusAccepted {
				t.Fatalf("%s: %d", label, status)
			}
		}
		waitFor(t, "the deliveries at the app", 30*time.Second, func() bool { return app.count() >= from+100 })
		took := time.Since(start)
		t.Logf("%s: 100 deliveries accepted and delivered in %s (%.0f/s)", label, took.Round(time.Millisecond), 100/took.Seconds())
		return took
	}
	run("no subscriber", 0)
	var conns []net.Conn
	for range 20 {
		conn, err := net.Dial("tcp", caddyAddr)
		if err != nil {
			t.Fatal(err)
		}
		conn.(*net.TCPConn).SetReadBuffer(4096)
		fmt.Fprintf(conn, "GET /_stream/dev HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer stream-token\r\nLast-Event-ID: 0\r\n\r\n")
		status, _ := bufio.NewReader(conn).ReadString('\n')
		if !strings.Contains(status, "200") {
			t.Fatalf("stalled subscriber: %q", status)
		}
		conns = append(conns, conn) // never read again
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	run("20 stalled subscribers", 100)
}

// caddy webhook listen follows the stream and re-sends each delivery to a
// local app with the original headers and body: the app's own GitHub
// signature check (go-github's ValidatePayload) passes. The stream's
// connection is cut mid-way: listen resumes with Last-Event-ID and nothing
// is lost or repeated.
func TestListenForwardsToLocalApp(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	t.Setenv("WV_STREAM_TOKEN", "stream-token")
	t.Setenv("WV_STREAM_TOKEN_OLD", "stream-token")
	app := newUpstream(t)
	global := journalGlobal(t)
	startCaddyWith(t, nil, global, streamSite(app.hostport()))

	proxy := newCuttableProxy(t, caddyAddr)
	var mu sync.Mutex
	got := map[string]int{}
	local := newUpstream(t)
	local.respond = func(w http.ResponseWriter, r *http.Request, n int) {
		payload := local.requests()[n-1].Body
		if _, err := github.ValidatePayloadFromBody(r.Header.Get("Content-Type"), strings.NewReader(string(payload)), r.Header.Get("X-Hub-Signature-256"), []byte(ghSecret)); err != nil {
			http.Error(w, "bad signature: "+err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		got[string(payload)]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, err := runWebhook(t, "", "listen", "--from", "http://"+proxy.addr+"/_stream/dev", "--token", "{env.WV_STREAM_TOKEN}",
			"--forward", local.URL+"/webhooks", "--count", "6", "--last-event-id", "0")
		done <- result{out + errOut, err}
	}()
	send := func(n int) string {
		body := fmt.Sprintf(`{"ref":"refs/heads/main","n":%d}`, n)
		status, _, _ := post(t, "/github", h("X-Hub-Signature-256", "sha256="+hmacHex([]byte(ghSecret), []byte(body)), "X-GitHub-Event", "push",
			"Content-Type", "application/json"), []byte(body))
		if status != http.StatusAccepted {
			t.Fatalf("delivery %d: %d", n, status)
		}
		return body
	}
	var bodies []string
	for n := range 3 {
		bodies = append(bodies, send(n))
	}
	waitFor(t, "the first three at the local app", 10*time.Second, func() bool { return local.count() >= 3 })
	proxy.cut() // the connection to the stream breaks
	for n := 3; n < 6; n++ {
		bodies = append(bodies, send(n))
	}
	var res result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("listen did not get the 6 deliveries; the local app got %d", local.count())
	}
	if res.err != nil {
		t.Fatalf("listen: %v\n%s", res.err, res.out)
	}
	t.Logf("listen said:\n%s", res.out)
	if !strings.Contains(res.out, "stream dropped") {
		t.Errorf("the reload did not cut the stream:\n%s", res.out)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, b := range bodies {
		if got[b] != 1 {
			t.Errorf("the local app verified %q %d times, want once\n%s", b, got[b], res.out)
		}
	}

	// a wrong token ends listen with a clear message
	_, _, err := runWebhook(t, "", "listen", "--from", "http://"+caddyAddr+"/_stream/dev", "--token", "wrong", "--print")
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("listen with a wrong token: %v", err)
	}
	_, _, err = runWebhook(t, "", "listen", "--from", "http://"+caddyAddr+"/nothing-here", "--token", "stream-token", "--print")
	if err == nil || !strings.Contains(err.Error(), "no webhook_stream") {
		t.Errorf("listen at a wrong URL: %v", err)
	}
}

// cuttableProxy forwards TCP to a target; cut breaks every connection it
// carries, as a network does.
type cuttableProxy struct {
	addr  string
	mu    sync.Mutex
	conns []net.Conn
}

func newCuttableProxy(t *testing.T, target string) *cuttableProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	p := &cuttableProxy{addr: l.Addr().String()}
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return p
}

func (p *cuttableProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// For EventSource in browsers, ?token= works only with allow_query_token.
func TestStreamQueryToken(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	t.Setenv("WV_STREAM_TOKEN", "stream-token")
	t.Setenv("WV_STREAM_TOKEN_OLD", "stream-token")
	app := newUpstream(t)
	get := func() int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+caddyAddr+"/_stream/dev?token=stream-token", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	startCaddyWith(t, nil, journalGlobal(t), streamSite(app.hostport()))
	if status := get(); status != http.StatusUnauthorized {
		t.Fatalf("?token= without allow_query_token: %d, want 401", status)
	}
	startCaddyWith(t, nil, journalGlobal(t), strings.Replace(streamSite(app.hostport()), "{env.WV_STREAM_TOKEN_OLD}\n", "{env.WV_STREAM_TOKEN_OLD}\n\t\t\tallow_query_token\n", 1))
	if status := get(); status != http.StatusOK {
		t.Fatalf("?token= with allow_query_token: %d, want 200", status)
	}
}
