package dispatch

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/webhookverify/caddy-webhook-verify/internal/testclock"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

var ctx = context.Background()

func openStore(t *testing.T, now func() time.Time) *journal.Bolt {
	t.Helper()
	s, err := journal.OpenBolt(filepath.Join(t.TempDir(), "deliveries.db"), journal.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// recorder is an Observer that keeps everything.
type recorder struct {
	mu        sync.Mutex
	attempts  []AttemptInfo
	replays   []ReplayInfo
	notifyErr []error
	storeErr  []error
}

func (r *recorder) Attempted(i AttemptInfo) {
	r.mu.Lock()
	r.attempts = append(r.attempts, i)
	r.mu.Unlock()
}
func (r *recorder) Replayed(i ReplayInfo) {
	r.mu.Lock()
	r.replays = append(r.replays, i)
	r.mu.Unlock()
}
func (r *recorder) NotifyFailed(_ AttemptInfo, err error) {
	r.mu.Lock()
	r.notifyErr = append(r.notifyErr, err)
	r.mu.Unlock()
}
func (r *recorder) StoreFailed(op string, err error) {
	r.mu.Lock()
	r.storeErr = append(r.storeErr, fmt.Errorf("%s: %w", op, err))
	r.mu.Unlock()
}

// at returns the attempts at one destination, in order.
func (r *recorder) at(destination string) []AttemptInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []AttemptInfo
	for _, a := range r.attempts {
		if a.Destination == destination {
			out = append(out, a)
		}
	}
	return out
}

// waitFor polls cond until it holds; the deadline is generous, since it
// only ends a test that has already failed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// request is what a destination received.
type request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// receiver is a destination: it keeps every request and answers with
// respond (200 when nil), which gets the request's 1-based number.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []request
	respond func(w http.ResponseWriter, r *http.Request, n int)
}

func newReceiver(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, request{r.Method, r.URL.String(), r.Header.Clone(), body})
		n := len(rc.got)
		rc.mu.Unlock()
		if rc.respond != nil {
			rc.respond(w, r, n)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func (rc *receiver) count() int { return len(rc.requests()) }

// status answers every request with code.
func status(code int) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(code) }
}

// short is a schedule for tests: quick retries.
var short = []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}

func newSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// start makes and starts a dispatcher (with a recorder unless o has an
// observer) and stops it when the test ends.
func start(t *testing.T, o Options) (*Dispatcher, *recorder) {
	t.Helper()
	rec := &recorder{}
	if o.Observer == nil {
		o.Observer = rec
	}
	d := build(t, o)
	d.Start()
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := d.Stop(stopCtx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, err := range rec.storeErr {
			t.Errorf("the journal failed under the dispatcher: %v", err)
		}
	})
	return d, rec
}

// build makes a dispatcher for a test that starts and stops it itself.
func build(t *testing.T, o Options) *Dispatcher {
	t.Helper()
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func accept(t *testing.T, d *Dispatcher, route, event string, body string) *journal.Delivery {
	t.Helper()
	del := &journal.Delivery{
		Route: route, Provider: "github", Event: event, ProviderID: "gh-delivery-1",
		Method: http.MethodPost, Path: "/hooks/github?x=1",
		Header: http.Header{
			"Content-Type":      {"application/json"},
			"X-Github-Event":    {event},
			"Connection":        {"X-Hop"},
			"X-Hop":             {"secret-ish"},
			"Keep-Alive":        {"timeout=5"},
			"Transfer-Encoding": {"chunked"},
			"Content-Length":    {"999"},
			"Accept-Encoding":   {"gzip"},
			"Webhook-Signature": {"v1,the-providers-own"},
		},
		Body: []byte(body),
	}
	if _, err := d.Accept(ctx, del); err != nil {
		t.Fatal(err)
	}
	return del
}

func stateOf(t *testing.T, s journal.Store, id, destination string) journal.Target {
	t.Helper()
	del, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range del.Targets {
		if tr.Destination == destination {
			return tr
		}
	}
	t.Fatalf("%s has no target %s", id, destination)
	return journal.Target{}
}

// Fan-out is fixed at accept by each destination's events filter.
func TestFanOutWithEventsFilter(t *testing.T) {
	all, pushes, issues := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
	store := openStore(t, nil)
	d, rec := start(t, Options{Store: store, Routes: map[string]Route{"gh": {Destinations: []Destination{
		{Name: "all", URL: all.URL},
		{Name: "pushes", URL: pushes.URL, Events: []string{"pu*"}},
		{Name: "issues", URL: issues.URL, Events: []string{"issues.*"}},
	}}}})
	push := accept(t, d, "gh", "push", `{"ref":"main"}`)
	opened := accept(t, d, "gh", "issues.opened", `{"action":"opened"}`)
	if n, err := d.Accept(ctx, &journal.Delivery{Route: "nope"}); err == nil {
		t.Errorf("Accept for an unknown route: %d, nil", n)
	}
	waitFor(t, "four deliveries", func() bool { return len(rec.at("all"))+len(rec.at("pushes"))+len(rec.at("issues")) == 4 })
	for _, c := range []struct {
		rc   *receiver
		want []string
	}{{all, []string{push.ID, opened.ID}}, {pushes, []string{push.ID}}, {issues, []string{opened.ID}}} {
		var ids []string
		for _, r := range c.rc.requests() {
			ids = append(ids, r.Header.Get("Webhook-Id"))
		}
		slices.Sort(ids)
		slices.Sort(c.want)
		if !slices.Equal(ids, c.want) {
			t.Errorf("%s received %v, want %v", c.rc.URL, ids, c.want)
		}
	}
	if got, _ := store.Get(ctx, push.ID); len(got.Targets) != 2 {
		t.Errorf("the push was journaled for %d targets, want 2", len(got.Targets))
	}
}

// What a destination receives: method and body byte for byte, the
// header without hop-by-hop fields, ours, a signature the Standard
// Webhooks library accepts, and the destination's own lines on top.
func TestOutgoingRequest(t *testing.T) {
	rc := newReceiver(t, nil)
	secret := newSecret()
	store := openStore(t, nil)
	d, rec := start(t, Options{Store: store, Routes: map[string]Route{"gh": {Sign: secret, Destinations: []Destination{{
		Name: "app", URL: rc.URL + "/in?token=abc",
		Header: http.Header{"authorization": {"Bearer dest-token"}, "X-Webhook-Provider": {"overridden"}},
	}}}}})
	body := "{\"ref\": \"main\",\n \"n\": 1}\n"
	del := accept(t, d, "gh", "push", body)
	waitFor(t, "the delivery", func() bool { return len(rec.at("app")) == 1 })

	r := rc.requests()[0]
	if r.Method != "POST" || string(r.Body) != body || r.URL != "/in?token=abc" {
		t.Errorf("received %s %s %q", r.Method, r.URL, r.Body)
	}
	h := r.Header
	for _, gone := range []string{"X-Hop", "Keep-Alive", "Transfer-Encoding", "Connection"} {
		if h.Get(gone) != "" {
			t.Errorf("hop-by-hop %s arrived: %q", gone, h.Get(gone))
		}
	}
	if h.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length %q, want %d", h.Get("Content-Length"), len(body))
	}
	if h.Get("X-Github-Event") != "push" || h.Get("Content-Type") != "application/json" {
		t.Errorf("the provider's header did not arrive: %v", h)
	}
	if h.Get("Webhook-Id") != del.ID || h.Get("X-Webhook-Event") != "push" || h.Get("X-Webhook-Attempt") != "1" {
		t.Errorf("our header: %v", h)
	}
	if h.Get("Authorization") != "Bearer dest-token" || h.Get("X-Webhook-Provider") != "overridden" {
		t.Errorf("the destination's lines do not win: %v", h)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(r.Body, h); err != nil {
		t.Errorf("standard-webhooks rejects our signature: %v (%v)", err, h)
	}
	if strings.Contains(h.Get("Webhook-Signature"), "the-providers-own") {
		t.Error("the provider's signature was passed on")
	}
}

// The envelope: our fields around the provider's JSON (or a string of a
// body that is not JSON), signed as sent.
func TestEnvelope(t *testing.T) {
	rc := newReceiver(t, nil)
	secret := newSecret()
	store := openStore(t, nil)
	d, rec := start(t, Options{Store: store, Routes: map[string]Route{"gh": {Sign: secret, Envelope: true, Destinations: []Destination{{Name: "app", URL: rc.URL}}}}})
	jsonDel := accept(t, d, "gh", "push", `{"ref":"main"}`)
	textDel := accept(t, d, "gh", "ping", `a=1&b=2`)
	waitFor(t, "two deliveries", func() bool { return len(rec.at("app")) == 2 })
	wh, _ := standardwebhooks.NewWebhook(secret)
	for _, r := range rc.requests() {
		if err := wh.Verify(r.Body, r.Header); err != nil {
			t.Errorf("standard-webhooks rejects the envelope's signature: %v", err)
		}
		if r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("envelope Content-Type %q", r.Header.Get("Content-Type"))
		}
		var env map[string]any
		if err := json.Unmarshal(r.Body, &env); err != nil {
			t.Fatalf("envelope is not JSON: %s", r.Body)
		}
		id := r.Header.Get("Webhook-Id")
		want := map[string]any{"id": id, "provider": "github", "version": "1.0"}
		switch id {
		case jsonDel.ID:
			want["event_type"], want["data"] = "push", map[string]any{"ref": "main"}
			want["timestamp"] = jsonDel.Received.UTC().Format(time.RFC3339)
		case textDel.ID:
			want["event_type"], want["data"] = "ping", "a=1&b=2"
			want["timestamp"] = textDel.Received.UTC().Format(time.RFC3339)
		}
		if fmt.Sprint(env) != fmt.Sprint(want) {
			t.Errorf("envelope %v, want %v", env, want)
		}
	}
}

// A destination down for several steps, then back: the same id, attempt
// numbers counting up, pending until delivered.
func TestDestinationDownThenBack(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n <= 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "down for maintenance")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	store := openStore(t, nil)
	d, rec := start(t, Options{Store: store, Routes: map[string]Route{"r": {Schedule: append(short, 80*time.Millisecond), Destinations: []Destination{{Name: "app", URL: rc.URL}}}}})
	del := accept(t, d, "r", "push", `{}`)
	waitFor(t, "delivery", func() bool { return len(rec.at("app")) == 4 })

	attempts := rec.at("app")
	for i, a := range attempts[:3] {
		if a.State != journal.Pending || a.Status != 503 || a.Error != "down for maintenance" || a.Attempt != i+1 || a.Next.IsZero() {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
	}
	if last := attempts[3]; last.State != journal.Delivered || last.Status != 204 || last.Attempt != 4 {
		t.Errorf("last attempt %+v", last)
	}
	for i, r := range rc.requests() {
		if r.Header.Get("Webhook-Id") != del.ID || r.Header.Get("X-Webhook-Attempt") != strconv.Itoa(i+1) {
			t.Errorf("request %d: id %s attempt %s", i+1, r.Header.Get("Webhook-Id"), r.Header.Get("X-Webhook-Attempt"))
		}
	}
	tr := stateOf(t, store, del.ID, "app")
	if tr.State != journal.Delivered || tr.Attempts != 4 || len(tr.History) != 4 || tr.History[0].Status != 503 {
		t.Errorf("journal: %+v", tr)
	}
}

// Retry-After from a real response is honoured when longer than the
// step, and clamped to twice the step (the clock is injected, the
// jitter pinned, so the times are exact).
func TestRetryAfterHonouredAndClamped(t *testing.T) {
	clock := testclock.New()
	asks := map[string]string{"/long": "90", "/huge": "86400", "/short": "1"}
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Retry-After", asks[r.URL.Path])
		w.WriteHeader(http.StatusTooManyRequests)
	})
	store := openStore(t, clock.Now)
	d, rec := start(t, Options{Store: store, Now: clock.Now, Rand: func() float64 { return 0.5 },
		Routes: map[string]Route{"r": {Schedule: []time.Duration{time.Minute}, Destinations: []Destination{
			{Name: "long", URL: rc.URL + "/long"}, {Name: "huge", URL: rc.URL + "/huge"}, {Name: "short", URL: rc.URL + "/short"},
		}}}})
	accept(t, d, "r", "push", `{}`)
	waitFor(t, "three attempts", func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return len(rec.attempts) == 3 })
	want := map[string]time.Duration{"long": 90 * time.Second, "huge": 2 * time.Minute, "short": time.Minute}
	for name, wait := range want {
		if a := rec.at(name)[0]; a.State != journal.Pending || !a.Next.Equal(clock.Now().Add(wait)) {
			t.Errorf("%s: next in %v, want %v", name, a.Next.Sub(clock.Now()), wait)
		}
	}
}

// A destination that hangs holds only its own share of the workers, and
// its attempts end at its timeout; another destination keeps receiving
// meanwhile.
func TestHangingDestinationDoesNotHoldBackAnother(t *testing.T) {
	release := make(chan struct{})
	hang := newReceiver(t, func(_ http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	slow := newReceiver(t, func(_ http.ResponseWriter, r *http.Request, _ int) { <-r.Context().Done() })
	fast := newReceiver(t, nil)
	store := openStore(t, nil)
	// Two workers more than hang may hold by default: without that cap
	// hang would take them all, for a minute.
	d, rec := start(t, Options{Store: store, Workers: DefaultMaxConcurrent + 2, Routes: map[string]Route{"r": {
		Schedule: []time.Duration{time.Hour},
		Destinations: []Destination{
			{Name: "hang", URL: hang.URL, Timeout: time.Minute},
			{Name: "slow", URL: slow.URL, Timeout: 100 * time.Millisecond, MaxConcurrent: 1},
			{Name: "fast", URL: fast.URL},
		}}}})
	t.Cleanup(func() { close(release) }) // before Stop, which waits for hang
	for i := range 20 {
		accept(t, d, "r", "push", fmt.Sprintf(`{"n":%d}`, i))
	}
	waitFor(t, "twenty deliveries at fast", func() bool { return len(rec.at("fast")) == 20 })
	waitFor(t, "a timeout at slow", func() bool { return len(rec.at("slow")) > 0 })
	if a := rec.at("slow")[0]; a.State != journal.Pending || a.Status != 0 || !strings.Contains(a.Error, "timeout") {
		t.Errorf("timed out attempt %+v", a)
	}
	if n := hang.count(); n > DefaultMaxConcurrent {
		t.Errorf("%d attempts at hang at once, more than its default cap", n)
	}
}

// 410 Gone kills that destination's target at once; the other is not
// affected.
func TestGoneIsDeadAtOnce(t *testing.T) {
	gone, ok := newReceiver(t, status(http.StatusGone)), newReceiver(t, nil)
	store := openStore(t, nil)
	d, rec := start(t, Options{Store: store, Routes: map[string]Route{"r": {Destinations: []Destination{
		{Name: "gone", URL: gone.URL}, {Name: "ok", URL: ok.URL},
	}}}})
	del := accept(t, d, "r", "push", `{}`)
	waitFor(t, "both attempts", func() bool { return len(rec.at("gone")) == 1 && len(rec.at("ok")) == 1 })
	if a := rec.at("gone")[0]; a.State != journal.Dead || a.Status != 410 || a.Attempt != 1 {
		t.Errorf("410 attempt %+v", a)
	}
	if tr := stateOf(t, store, del.ID, "ok"); tr.State != journal.Delivered {
		t.Errorf("the other destination: %+v", tr)
	}
}

// A destination failing through the whole schedule goes dead, the notify
// URL hears of it (signed, checked by the Standard Webhooks library), and
// a replay delivers it with the same id once the destination is back.
func TestDeadThenNotifyThenReplay(t *testing.T) {
	var mu sync.Mutex
	up := false
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, strings.Repeat("x", 10<<10)) // more than is kept
		}
	})
	notices := newReceiver(t, nil)
	secret := newSecret()
	store := openStore(t, nil)
	d, rec := start(t, Options{Store: store, Routes: map[string]Route{"r": {
		Schedule: short, Sign: secret, Notify: notices.URL + "/slack",
		Destinations: []Destination{{Name: "app", URL: rc.URL}},
	}}})
	del := accept(t, d, "r", "push", `{"n":1}`)
	waitFor(t, "the target to die", func() bool { a := rec.at("app"); return len(a) > 0 && a[len(a)-1].State == journal.Dead })
	attempts := rec.at("app")
	if len(attempts) != len(short)+1 {
		t.Errorf("%d attempts, want %d", len(attempts), len(short)+1)
	}
	if e := attempts[0].Error; len(e) > KeepResponse {
		t.Errorf("kept %d bytes of the response", len(e))
	}

	waitFor(t, "the notice", func() bool { return notices.count() == 1 })
	n := notices.requests()[0]
	wh, _ := standardwebhooks.NewWebhook(secret)
	if err := wh.Verify(n.Body, n.Header); err != nil {
		t.Errorf("standard-webhooks rejects the notice's signature: %v", err)
	}
	var notice Notice
	if err := json.Unmarshal(n.Body, &notice); err != nil {
		t.Fatal(err)
	}
	if notice.ID != del.ID || notice.Route != "r" || notice.Destination != "app" || notice.Attempts != 4 ||
		notice.LastStatus != 500 || notice.Provider != "github" || notice.Event != "push" ||
		!strings.Contains(notice.Text, del.ID) || strings.Contains(notice.Text, "\n") {
		t.Errorf("notice %+v", notice)
	}

	mu.Lock()
	up = true
	mu.Unlock()
	if n, err := d.Replay(ctx, del.ID, ""); n != 1 || err != nil {
		t.Fatalf("Replay = %d %v", n, err)
	}
	waitFor(t, "the replayed delivery", func() bool { a := rec.at("app"); return a[len(a)-1].State == journal.Delivered })
	last := rec.at("app")[len(short)+1]
	if !last.Replay || last.Attempt != 5 || last.ID != del.ID {
		t.Errorf("replayed attempt %+v", last)
	}
	reqs := rc.requests()
	if got := reqs[len(reqs)-1].Header.Get("Webhook-Id"); got != del.ID {
		t.Errorf("replay sent Webhook-Id %s, want %s", got, del.ID)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.replays) != 1 || rec.replays[0].Targets != 1 {
		t.Errorf("observer heard replays %+v", rec.replays)
	}
}

// A notify URL that fails is reported, and deliveries go on.
func TestNotifyFailureIsReported(t *testing.T) {
	dead := newReceiver(t, status(http.StatusGone))
	ok := newReceiver(t, nil)
	badNotify := newReceiver(t, status(http.StatusBadGateway))
	store := openStore(t, nil)
	d, rec := start(t, Options{Store: store, Routes: map[string]Route{"r": {Notify: badNotify.URL, Destinations: []Destination{
		{Name: "dead", URL: dead.URL}, {Name: "ok", URL: ok.URL},
	}}}})
	for range 3 {
		accept(t, d, "r", "push", `{}`)
	}
	waitFor(t, "three failed notices", func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return len(rec.notifyErr) == 3 })
	waitFor(t, "deliveries to ok", func() bool { return len(rec.at("ok")) == 3 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if err := rec.notifyErr[0]; !strings.Contains(err.Error(), "502") {
		t.Errorf("notify error %v", err)
	}
}

// A paused destination's targets wait, past their whole schedule, and go
// when it is resumed; the other destination is not held.
func TestPauseResume(t *testing.T) {
	clock := testclock.New()
	a, b := newReceiver(t, nil), newReceiver(t, nil)
	store := openStore(t, clock.Now)
	d, rec := start(t, Options{Store: store, Now: clock.Now, Routes: map[string]Route{"r": {Schedule: short, Destinations: []Destination{
		{Name: "a", URL: a.URL}, {Name: "b", URL: b.URL},
	}}}})
	if err := d.SetPaused(ctx, "a", true); err != nil {
		t.Fatal(err)
	}
	del := accept(t, d, "r", "push", `{}`)
	waitFor(t, "b's delivery", func() bool { return len(rec.at("b")) == 1 })
	clock.Advance(24 * time.Hour)
	d.Wake()
	// The loop claims a's and b's targets together, so b's delivery means
	// a was passed over. Wait for the loop to have looked again after the
	// clock moved (a second accept, to b only, shows it has), then check.
	accept(t, d, "r", "push", `{}`)
	waitFor(t, "b's second delivery", func() bool { return len(rec.at("b")) == 2 })
	if a.count() != 0 {
		t.Fatalf("paused a received %d", a.count())
	}
	if tr := stateOf(t, store, del.ID, "a"); tr.State != journal.Pending || tr.Attempts != 0 {
		t.Errorf("paused target %+v", tr)
	}
	if err := d.SetPaused(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a's deliveries after resume", func() bool { return len(rec.at("a")) == 2 })
}

// Stop waits for an attempt in flight and records it; a Stop that gives up
// cancels the attempt and leaves the target pending under its lease.
func TestStopWaitsForInFlight(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		started <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	store := openStore(t, nil)
	d := build(t, Options{Store: store, Routes: map[string]Route{"r": {Destinations: []Destination{{Name: "app", URL: rc.URL}}}}})
	d.Start()
	del := accept(t, d, "r", "push", `{}`)
	<-started
	stopped := make(chan error)
	go func() { stopped <- d.Stop(ctx) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) with an attempt in flight", err)
	default:
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if tr := stateOf(t, store, del.ID, "app"); tr.State != journal.Delivered {
		t.Errorf("after Stop the attempt is %+v", tr)
	}

	// and one that gives up
	hung := newReceiver(t, func(_ http.ResponseWriter, r *http.Request, _ int) {
		started <- struct{}{}
		<-r.Context().Done()
	})
	d2 := build(t, Options{Store: store, Routes: map[string]Route{"r2": {Destinations: []Destination{{Name: "hung", URL: hung.URL}}}}})
	d2.Start()
	del2 := accept(t, d2, "r2", "push", `{}`)
	<-started
	giveUp, cancel := context.WithCancel(ctx)
	cancel()
	if err := d2.Stop(giveUp); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop with a canceled context: %v", err)
	}
	tr := stateOf(t, store, del2.ID, "hung")
	if tr.State != journal.Pending || tr.Attempts != 0 || !tr.Next.After(time.Now()) {
		t.Errorf("a canceled attempt left %+v; want pending, unrecorded, leased", tr)
	}
}

// max_concurrent: never more in flight at a destination than allowed.
func TestMaxConcurrent(t *testing.T) {
	var mu sync.Mutex
	inflight, most := 0, 0
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		mu.Lock()
		inflight++
		most = max(most, inflight)
		mu.Unlock()
		<-release
		mu.Lock()
		inflight--
		mu.Unlock()
	})
	store := openStore(t, nil)
	d, rec := start(t, Options{Store: store, Routes: map[string]Route{"r": {Destinations: []Destination{{Name: "app", URL: rc.URL, MaxConcurrent: 2}}}}})
	for range 6 {
		accept(t, d, "r", "push", `{}`)
	}
	waitFor(t, "two in flight", func() bool { return rc.count() == 2 })
	close(release)
	waitFor(t, "six deliveries", func() bool { return len(rec.at("app")) == 6 })
	if most != 2 {
		t.Errorf("%d attempts in flight at once, max_concurrent 2", most)
	}
}

// The rate limit holds attempts in the journal (not in workers) until a
// token comes; the clock is injected, so tokens come only when told.
func TestRateLimit(t *testing.T) {
	clock := testclock.New()
	rc := newReceiver(t, nil)
	store := openStore(t, clock.Now)
	d, rec := start(t, Options{Store: store, Now: clock.Now, Routes: map[string]Route{"r": {Destinations: []Destination{
		{Name: "app", URL: rc.URL, RateLimit: RateLimit{Events: 2, Window: time.Hour}},
	}}}})
	for range 5 {
		accept(t, d, "r", "push", `{}`)
	}
	waitFor(t, "the burst", func() bool { return len(rec.at("app")) == 2 })
	clock.Advance(30 * time.Minute) // one token
	d.Wake()
	waitFor(t, "one more", func() bool { return len(rec.at("app")) == 3 })
	s, _ := store.Stats(ctx)
	if got := s.Targets[journal.Key{Route: "r", Destination: "app", State: journal.Pending}]; got != 2 {
		t.Errorf("%d pending, want 2 waiting for tokens", got)
	}
	clock.Advance(time.Hour)
	d.Wake()
	waitFor(t, "the rest", func() bool { return len(rec.at("app")) == 5 })
}

// Two dispatchers on one store, as during a Caddy reload: every delivery
// goes out once.
func TestTwoDispatchersShareAStore(t *testing.T) {
	rc := newReceiver(t, nil)
	store := openStore(t, nil)
	routes := map[string]Route{"r": {Destinations: []Destination{{Name: "app", URL: rc.URL}}}}
	d1, rec1 := start(t, Options{Store: store, Routes: routes})
	d2, rec2 := start(t, Options{Store: store, Routes: routes})
	for i := range 40 {
		accept(t, []*Dispatcher{d1, d2}[i%2], "r", "push", `{}`)
	}
	waitFor(t, "forty deliveries", func() bool { return len(rec1.at("app"))+len(rec2.at("app")) == 40 })
	seen := map[string]bool{}
	for _, r := range rc.requests() {
		id := r.Header.Get("Webhook-Id")
		if seen[id] {
			t.Errorf("%s sent twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 40 {
		t.Errorf("%d distinct deliveries, want 40", len(seen))
	}
}

// Targets of a route (or destination) no longer configured wait in the
// journal, untouched.
func TestUnknownRouteWaits(t *testing.T) {
	store := openStore(t, nil)
	if err := store.Append(ctx, &journal.Delivery{Route: "gone", Targets: []journal.Target{{Destination: "x"}}}); err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t, nil)
	d, rec := start(t, Options{Store: store, Routes: map[string]Route{"r": {Destinations: []Destination{{Name: "app", URL: rc.URL}}}}})
	accept(t, d, "r", "push", `{}`)
	waitFor(t, "the known route's delivery", func() bool { return len(rec.at("app")) == 1 })
	s, _ := store.Stats(ctx)
	if s.Targets[journal.Key{Route: "gone", Destination: "x", State: journal.Pending}] != 1 {
		t.Errorf("stats %v", s.Targets)
	}
	if len(rec.at("x")) != 0 {
		t.Error("attempted a destination that is not configured")
	}
}

// The janitor's Prune keeps each route's retention.
func TestPrune(t *testing.T) {
	clock := testclock.New()
	rc := newReceiver(t, nil)
	store := openStore(t, clock.Now)
	d, rec := start(t, Options{Store: store, Now: clock.Now, Routes: map[string]Route{
		"week": {Destinations: []Destination{{Name: "app", URL: rc.URL}}},
		"hour": {Retention: time.Hour, Destinations: []Destination{{Name: "app2", URL: rc.URL}}},
	}})
	week := accept(t, d, "week", "push", `{}`)
	hour := accept(t, d, "hour", "push", `{}`)
	waitFor(t, "deliveries", func() bool { return len(rec.at("app")) == 1 && len(rec.at("app2")) == 1 })
	clock.Advance(2 * time.Hour)
	if n, err := d.Prune(ctx); n != 1 || err != nil {
		t.Fatalf("Prune = %d %v, want the hour route's delivery", n, err)
	}
	if _, err := store.Get(ctx, hour.ID); !errors.Is(err, journal.ErrNotFound) {
		t.Errorf("hour delivery: %v", err)
	}
	clock.Advance(DefaultRetention)
	if n, _ := d.Prune(ctx); n != 1 {
		t.Errorf("a week later Prune deleted %d", n)
	}
	if _, err := store.Get(ctx, week.ID); !errors.Is(err, journal.ErrNotFound) {
		t.Errorf("week delivery: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	store := openStore(t, nil)
	for name, o := range map[string]Options{
		"no store":      {Routes: map[string]Route{}},
		"bad route":     {Store: store, Routes: map[string]Route{"r": {}}},
		"misfiled name": {Store: store, Routes: map[string]Route{"r": {Name: "q", Destinations: []Destination{{URL: "http://x"}}}}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted", name)
		}
	}
}

// Bulk replay: every dead target of a route goes again.
func TestReplayWhere(t *testing.T) {
	var mu sync.Mutex
	code := http.StatusGone
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(code)
	})
	store := openStore(t, nil)
	d, rec := start(t, Options{Store: store, Routes: map[string]Route{"r": {Destinations: []Destination{{Name: "app", URL: rc.URL}}}}})
	for range 3 {
		accept(t, d, "r", "push", `{}`)
	}
	waitFor(t, "three dead", func() bool { return len(rec.at("app")) == 3 })
	mu.Lock()
	code = http.StatusOK
	mu.Unlock()
	if _, err := d.ReplayWhere(ctx, journal.Filter{Route: "r"}); err == nil {
		t.Error("bulk replay without a state")
	}
	if n, err := d.ReplayWhere(ctx, journal.Filter{Route: "r", State: journal.Dead}); n != 3 || err != nil {
		t.Fatalf("ReplayWhere = %d %v", n, err)
	}
	waitFor(t, "three replayed deliveries", func() bool { return len(rec.at("app")) == 6 })
	for _, a := range rec.at("app")[3:] {
		if a.State != journal.Delivered || !a.Replay || a.Attempt != 2 {
			t.Errorf("replayed attempt %+v", a)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.replays) != 1 || rec.replays[0] != (ReplayInfo{Route: "r", State: journal.Dead, Targets: 3}) {
		t.Errorf("observer heard %+v", rec.replays)
	}
}

// failingStore fails Claim while told to.
type failingStore struct {
	journal.Store
	fail atomic.Bool
}

func (s *failingStore) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration, q journal.Quota) ([]journal.Task, error) {
	if s.fail.Load() {
		return nil, errors.New("disk on fire")
	}
	return s.Store.Claim(ctx, now, limit, lease, q)
}

// A journal that fails under the loop is reported, and the loop carries on
// once it works again.
func TestStoreFailureIsReported(t *testing.T) {
	rc := newReceiver(t, nil)
	store := &failingStore{Store: openStore(t, nil)}
	store.fail.Store(true)
	d, rec := start(t, Options{Store: store, Routes: map[string]Route{"r": {Destinations: []Destination{{Name: "app", URL: rc.URL}}}}})
	accept(t, d, "r", "push", `{}`)
	waitFor(t, "the failure reported", func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return len(rec.storeErr) > 0 })
	store.fail.Store(false)
	waitFor(t, "the delivery", func() bool { d.Wake(); return len(rec.at("app")) == 1 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if err := rec.storeErr[0]; !strings.Contains(err.Error(), "claim: disk on fire") {
		t.Errorf("reported %v", err)
	}
	rec.storeErr = nil // seen; the cleanup checks for others
}
