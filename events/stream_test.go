package events

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// positions is a store read in order, as the journal is for
// webhook_stream: each message's id is its position.
type positions struct {
	mu     sync.Mutex
	msgs   []Message
	signal Signal
}

func (p *positions) add(data string) {
	p.mu.Lock()
	p.msgs = append(p.msgs, Message{ID: fmt.Sprintf("%08d", len(p.msgs)+1), Event: "delivery", Data: []byte(data)})
	p.mu.Unlock()
	p.signal.Notify()
}

func (p *positions) read(_ context.Context, after string, limit int) ([]Message, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := sort.Search(len(p.msgs), func(i int) bool { return p.msgs[i].ID > after })
	end := min(i+limit, len(p.msgs))
	return append([]Message(nil), p.msgs[i:end]...), nil
}

func (p *positions) tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.msgs) == 0 {
		return ""
	}
	return p.msgs[len(p.msgs)-1].ID
}

// Serve over Pages: the writer the event stream uses serves a stream that
// resumes from its store: in order, and after a drop nothing missed or
// repeated, across pages.
func TestPagesResume(t *testing.T) {
	store := &positions{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after := LastEventID(r)
		if after == "" {
			after = store.tail() // a new subscriber starts from now
		}
		Serve(w, r, &Pages{After: after, Read: store.read, Signal: &store.signal, Limit: 2}, StreamOptions{})
	}))
	t.Cleanup(srv.Close) // after the clients' cleanups
	store.add("before")
	s, _, cancel := open(t, srv.URL, nil)
	// the subscriber is there once it has read the retry block
	if e, err := s.next(); err != nil || e.Retry == "" {
		t.Fatalf("%+v %v", e, err)
	}
	for i := 1; i <= 5; i++ {
		store.add(fmt.Sprint("d", i))
	}
	for i := 1; i <= 3; i++ {
		e := s.nextEvent(t)
		if e.Data != fmt.Sprint("d", i) || e.ID != fmt.Sprintf("%08d", i+1) || e.Event != "delivery" {
			t.Fatalf("got %+v, want d%d", e, i)
		}
	}
	cancel()
	store.add("d6")
	s, _, _ = open(t, srv.URL, http.Header{"Last-Event-ID": {fmt.Sprintf("%08d", 4)}})
	for i := 4; i <= 7; i++ {
		if i == 7 {
			store.add("d7") // live, after catching up
		}
		if e := s.nextEvent(t); e.Data != fmt.Sprint("d", i) {
			t.Fatalf("resumed with %+v, want d%d", e, i)
		}
	}
}

func TestSignalNoLostWake(t *testing.T) {
	var s Signal
	c := s.C()
	s.Notify()
	select {
	case <-c:
	default:
		t.Fatal("a C taken before Notify was not closed")
	}
	if s.C() == c {
		t.Fatal("C after Notify is the closed one")
	}
	s.Notify()
	s.Notify() // with nobody waiting: fine
}

func TestDelivery(t *testing.T) {
	d := &journal.Delivery{
		ID: "msg_1", Route: "gh", Provider: "github", Event: "push", Received: time.Unix(1, 0).UTC(), Method: "POST", Path: "/h?x=1",
		Header: http.Header{"X-Hub-Signature-256": {"sha256=ab"}, "Authorization": {"Bearer t"}, "X-Gitlab-Token": {"t"}, "Content-Type": {"application/json"}},
		Body:   []byte(`{"a":"é"}`),
	}
	got := NewDelivery(d)
	if got.Header.Get("X-Hub-Signature-256") != "sha256=ab" || got.Header.Get("Authorization") != "" || got.Header.Get("X-Gitlab-Token") != "" {
		t.Errorf("header %v: signatures stay, secrets go", got.Header)
	}
	if got.Body != `{"a":"é"}` || got.BodyEncoding != "" {
		t.Errorf("UTF-8 body as %q %q", got.Body, got.BodyEncoding)
	}
	d.Body = []byte{0xff, 0x00, 'a'}
	got = NewDelivery(d)
	raw, _ := json.Marshal(got)
	var back Delivery
	json.Unmarshal(raw, &back)
	if b, err := back.Bytes(); err != nil || string(b) != string(d.Body) || back.BodyEncoding != "base64" {
		t.Errorf("binary body back as %q %v (%s)", b, err, raw)
	}
}

func TestAuthorized(t *testing.T) {
	tokens := []string{"old-token", "new-token"}
	for _, tc := range []struct {
		auth, query string
		allowQuery  bool
		want        bool
	}{
		{"Bearer new-token", "", false, true},
		{"bearer old-token", "", false, true},
		{"Bearer other", "", false, false},
		{"Basic new-token", "", false, false},
		{"Bearer ", "", false, false},
		{"", "new-token", false, false},
		{"", "new-token", true, true},
		{"", "", true, false},
		{"Bearer wrong", "new-token", true, false}, // a header given is the one judged
	} {
		r := httptest.NewRequest(http.MethodGet, "/_stream/dev?token="+tc.query, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		if got := Authorized(r, tokens, tc.allowQuery); got != tc.want {
			t.Errorf("%q %q (query allowed %v): %v", tc.auth, tc.query, tc.allowQuery, got)
		}
	}
	if Authorized(httptest.NewRequest(http.MethodGet, "/?token=", nil), []string{""}, true) {
		t.Error("an empty token configured authorizes an empty one")
	}
}
