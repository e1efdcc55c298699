package events

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sseEvent is one parsed SSE block: an event, or a comment.
type sseEvent struct {
	ID, Event, Data, Comment string
	Retry                    string
}

// sseReader parses a stream the way EventSource does (enough of it).
type sseReader struct{ r *bufio.Reader }

func (s *sseReader) next() (sseEvent, error) {
	var e sseEvent
	var data []string
	seen := false
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return e, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if !seen {
				continue
			}
			e.Data = strings.Join(data, "\n")
			return e, nil
		}
		seen = true
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			e.Comment = value
		case "id":
			e.ID = value
		case "event":
			e.Event = value
		case "data":
			data = append(data, value)
		case "retry":
			e.Retry = value
		}
	}
}

// nextEvent skips comments and the retry block.
func (s *sseReader) nextEvent(t testing.TB) sseEvent {
	t.Helper()
	for {
		e, err := s.next()
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		if e.Comment == "" && e.Retry == "" {
			return e
		}
	}
}

// sseServer serves hub's events; each handler's return is counted on done.
func sseServer(t testing.TB, hub *Hub, o SSEOptions) (*httptest.Server, *sync.WaitGroup) {
	var handlers sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		ServeSSE(w, r, hub, o)
	}))
	t.Cleanup(srv.Close)
	return srv, &handlers
}

// open connects to the stream; header may set Last-Event-ID.
func open(t testing.TB, url string, header http.Header) (*sseReader, *http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	return &sseReader{bufio.NewReader(resp.Body)}, resp, cancel
}

func TestSSEShape(t *testing.T) {
	hub := NewHub(HubOptions{FirstID: 1})
	srv, _ := sseServer(t, hub, SSEOptions{})
	hub.Publish(Event{Type: TypeRejected, Route: "github", Provider: "github", Reason: "bad_signature",
		Detail: "no signature matches", Status: 401, Method: "POST", Path: "/github/hook", ClientIP: "192.0.2.1"})
	hub.Publish(Event{Type: TypeAttempt, Route: "stripe", DeliveryID: "msg_1", Destination: "app", Attempt: 2,
		Status: 503, Error: "busy", Duration: 1500 * time.Microsecond, NextAttempt: time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)})
	s, resp, _ := open(t, srv.URL+"?last_event_id=0", nil)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control %q", cc)
	}
	first, err := s.next()
	if err != nil || first.Retry != "2000" {
		t.Errorf("first block %+v (%v), want retry: 2000", first, err)
	}
	want := []map[string]any{
		{"id": 1.0, "type": "rejected", "route": "github", "provider": "github", "reason": "bad_signature",
			"detail": "no signature matches", "status": 401.0, "method": "POST", "path": "/github/hook", "client_ip": "192.0.2.1"},
		{"id": 2.0, "type": "attempt", "route": "stripe", "delivery_id": "msg_1", "destination": "app", "attempt": 2.0,
			"status": 503.0, "error": "busy", "duration": 1.5e6, "next_attempt": "2026-01-01T00:00:05Z"},
	}
	for i, w := range want {
		e := s.nextEvent(t)
		if e.ID != strconv.Itoa(i+1) || e.Event != w["type"] {
			t.Errorf("event %d: id %q event %q", i, e.ID, e.Event)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(e.Data), &got); err != nil {
			t.Fatalf("data %q: %v", e.Data, err)
		}
		if _, ok := got["time"].(string); !ok {
			t.Errorf("event %d has no time: %v", i, got)
		}
		delete(got, "time")
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("event %d:\n got %v\nwant %v", i, got, w)
		}
	}
}

// Over HTTP: a client reads, drops, events come meanwhile, it reconnects
// with Last-Event-ID: nothing missed, nothing repeated.
func TestSSEResume(t *testing.T) {
	hub := NewHub(HubOptions{FirstID: 1})
	srv, _ := sseServer(t, hub, SSEOptions{})
	for i := 0; i < 5; i++ {
		hub.Publish(Event{Type: TypeVerified})
	}
	// no Last-Event-ID: from now on
	s, _, cancel := open(t, srv.URL, nil)
	waitFor(t, func() bool { return hub.Subscribers() == 1 })
	hub.Publish(Event{Type: TypeForwarded})
	if e := s.nextEvent(t); e.ID != "6" {
		t.Fatalf("a new client got %q first, want 6", e.ID)
	}
	hub.Publish(Event{Type: TypeForwarded})
	if e := s.nextEvent(t); e.ID != "7" {
		t.Fatalf("got %q, want 7", e.ID)
	}
	cancel()
	waitFor(t, func() bool { return hub.Subscribers() == 0 })
	for i := 0; i < 3; i++ {
		hub.Publish(Event{Type: TypeDelivered})
	}
	// the header wins over the query, as browsers send both on reconnect
	s, _, _ = open(t, srv.URL+"?last_event_id=0", http.Header{"Last-Event-ID": {"7"}})
	for _, want := range []string{"8", "9", "10"} {
		if e := s.nextEvent(t); e.ID != want {
			t.Fatalf("resumed with %q, want %q", e.ID, want)
		}
	}
	hub.Publish(Event{Type: TypeDead})
	if e := s.nextEvent(t); e.ID != "11" || e.Event != "dead" {
		t.Fatalf("then live %+v", e)
	}
}

func TestSSEGapAndBadID(t *testing.T) {
	hub := NewHub(HubOptions{History: 2, FirstID: 1})
	srv, _ := sseServer(t, hub, SSEOptions{})
	for i := 0; i < 5; i++ {
		hub.Publish(Event{Type: TypeVerified})
	}
	s, _, _ := open(t, srv.URL, http.Header{"Last-Event-ID": {"1"}})
	if e := s.nextEvent(t); e.Event != "reset" || e.ID != "" || e.Data != `{"reason":"gap"}` {
		t.Errorf("resuming beyond the history: %+v, want a reset", e)
	}
	if e := s.nextEvent(t); e.ID != "4" {
		t.Errorf("then the history from %q, want 4", e.ID)
	}
	resp, err := http.Get(srv.URL + "?last_event_id=abc")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad id: %d", resp.StatusCode)
	}
}

func TestSSEHeartbeat(t *testing.T) {
	hub := NewHub(HubOptions{})
	srv, _ := sseServer(t, hub, SSEOptions{StreamOptions: StreamOptions{Heartbeat: 20 * time.Millisecond}})
	s, _, _ := open(t, srv.URL, nil)
	for beats := 0; beats < 3; {
		e, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		if e.Comment == "heartbeat" {
			beats++
		} else if e.Retry == "" {
			t.Fatalf("unexpected %+v", e)
		}
	}
}

func TestSSEFilter(t *testing.T) {
	hub := NewHub(HubOptions{FirstID: 1})
	srv, _ := sseServer(t, hub, SSEOptions{Filter: func(e *Event) bool { return e.Provider != "hidden" }})
	hub.Publish(Event{Type: TypeRejected, Route: "a"})
	hub.Publish(Event{Type: TypeVerified, Route: "a"})
	hub.Publish(Event{Type: TypeRejected, Route: "b"})
	hub.Publish(Event{Type: TypeDead, Route: "a", Provider: "hidden"})
	hub.Publish(Event{Type: TypeDead, Route: "c"})
	hub.Publish(Event{Type: TypeDead, Route: "a"})
	s, _, _ := open(t, srv.URL+"?last_event_id=0&route=a,c&type=rejected&type=dead", nil)
	for _, want := range []string{"1", "5", "6"} {
		if e := s.nextEvent(t); e.ID != want {
			t.Errorf("got %q, want %q", e.ID, want)
		}
	}
}

// The stream ends when the hub closes.
func TestSSEHubClose(t *testing.T) {
	hub := NewHub(HubOptions{})
	srv, handlers := sseServer(t, hub, SSEOptions{})
	s, _, _ := open(t, srv.URL, nil)
	waitFor(t, func() bool { return hub.Subscribers() == 1 })
	hub.Close()
	for {
		if _, err := s.next(); err != nil {
			if err != io.EOF {
				t.Errorf("stream ended with %v", err)
			}
			break
		}
	}
	handlers.Wait()
}

// Data with line breaks becomes several data: lines; ids and names lose
// theirs.
func TestMessageLines(t *testing.T) {
	rec := httptest.NewRecorder()
	sw := newWriter(rec, time.Second)
	sw.message(Message{ID: "1\n2", Event: "a\rb", Data: []byte("x\r\ny\nz\r")})
	sw.message(Message{Data: nil})
	sw.flush()
	want := "id: 12\nevent: ab\ndata: x\ndata: y\ndata: z\ndata: \n\ndata: \n\n"
	if rec.Body.String() != want {
		t.Errorf("wrote %q\nwant  %q", rec.Body.String(), want)
	}
}

// waitFor polls cond until it holds, failing after a generous deadline.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// stalledClients opens n streams whose clients never read, over
// connections with small socket buffers so that they fill soon.
func stalledClients(t testing.TB, url string, n int) {
	for range n {
		c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).SetReadBuffer(4096)
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
	}
}

// smallBuffers makes the server's side of each connection hold little, so
// a client that never reads blocks its writer soon.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		c.(*net.TCPConn).SetWriteBuffer(4096)
	}
	return c, err
}

// Twenty clients that never read are dropped (their subscriptions end and
// their connections are cut at the write timeout) while a client that
// reads gets every event, and publishing never waits for them.
func TestStalledClientsDropped(t *testing.T) {
	hub := NewHub(HubOptions{Buffer: 16, History: 100000, FirstID: 1})
	var ended atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer ended.Add(1)
		ServeSSE(w, r, hub, SSEOptions{StreamOptions: StreamOptions{WriteTimeout: 200 * time.Millisecond}})
	}))
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close) // after the clients' cleanups
	stalledClients(t, srv.URL, 20)
	waitFor(t, func() bool { return hub.Subscribers() == 20 })
	reader, _, _ := open(t, srv.URL, nil)
	waitFor(t, func() bool { return hub.Subscribers() == 21 })

	detail := strings.Repeat("x", 1000) // fills the stalled sockets sooner
	var published, read uint64
	for batch := 0; hub.Subscribers() > 1; batch++ {
		if batch == 1000 {
			t.Fatalf("after %d events %d subscribers remain", published, hub.Subscribers())
		}
		// a batch smaller than the buffer, then wait for the reader to
		// take it, so only the stalled ones can fall behind
		for range 8 {
			published = hub.Publish(Event{Type: TypeForwarded, Detail: detail})
		}
		for read < published {
			e := reader.nextEvent(t)
			id, _ := strconv.ParseUint(e.ID, 10, 64)
			if read != 0 && id != read+1 {
				t.Fatalf("the reader got %d after %d", id, read)
			}
			read = id
		}
	}
	// the stalled ones' handlers return at their write timeout
	waitFor(t, func() bool { return ended.Load() == 20 })
	hub.Publish(Event{Type: TypeDead})
	if e := reader.nextEvent(t); e.Event != "dead" {
		t.Errorf("the reader then got %+v", e)
	}
}

// Publishing with and without 20 stalled stream clients attached (they
// hold a subscription until their buffer fills, then are dropped).
func BenchmarkPublishStalledClients(b *testing.B) {
	for _, n := range []int{0, 20} {
		b.Run(fmt.Sprintf("stalled=%d", n), func(b *testing.B) {
			hub := NewHub(HubOptions{})
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ServeSSE(w, r, hub, SSEOptions{StreamOptions: StreamOptions{WriteTimeout: 100 * time.Millisecond}})
			}))
			srv.Listener = smallBuffers{srv.Listener}
			srv.Start()
			b.Cleanup(srv.Close)
			stalledClients(b, srv.URL, n)
			waitFor(b, func() bool { return hub.Subscribers() == n })
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				hub.Publish(sample)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "publishes/s")
		})
	}
}
