package events

import (
	"context"
	"errors"
	"testing"
	"time"
)

func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

// next reads one event, failing the test when none comes.
func next(t testing.TB, s *Subscription) Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return e
}

func TestPublishIDsAndTime(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := NewHub(HubOptions{Now: clock(at)})
	id := h.Publish(Event{Type: TypeVerified})
	if id != uint64(at.UnixMicro()) {
		t.Errorf("first id %d, want the creation time in µs %d", id, at.UnixMicro())
	}
	if h.Publish(Event{Type: TypeVerified}) != id+1 || h.LastID() != id+1 {
		t.Error("ids do not increase by one")
	}
	e := next(t, h.Subscribe(0))
	if e.ID != id || !e.Time.Equal(at) || e.Type != TypeVerified {
		t.Errorf("history gave %+v", e)
	}
	given := at.Add(-time.Hour)
	h.Publish(Event{Time: given})
	s := h.Subscribe(id + 1)
	if e := next(t, s); !e.Time.Equal(given) {
		t.Errorf("Publish replaced a given time: %v", e.Time)
	}
}

// A client that reads, goes away at some point and resumes with the last
// id it saw, while events keep coming, sees every event once, in order.
func TestResumeNothingMissedNothingRepeated(t *testing.T) {
	const total = 3000
	h := NewHub(HubOptions{History: total, FirstID: 1})
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := 0; i < total; i++ {
			h.Publish(Event{Type: TypeForwarded})
		}
	}()
	var got []uint64
	last := uint64(0)
	for len(got) < total {
		s := h.Subscribe(last)
		if s.Gap {
			t.Fatal("gap within the history")
		}
		// read a varying number, then drop the connection
		for n := 0; n < 1+len(got)%97 && len(got) < total; n++ {
			e := next(t, s)
			got = append(got, e.ID)
			last = e.ID
		}
		s.Close()
	}
	<-published
	for i, id := range got {
		if id != uint64(i+1) {
			t.Fatalf("event %d has id %d: missed or repeated", i, id)
		}
	}
	if h.Subscribers() != 0 {
		t.Errorf("%d subscribers left after Close", h.Subscribers())
	}
}

func TestHistoryBound(t *testing.T) {
	h := NewHub(HubOptions{FirstID: 1})
	for i := 0; i < 1500; i++ {
		h.Publish(Event{Type: TypeVerified})
	}
	s := h.Subscribe(0)
	if len(s.backlog) != DefaultHistory || s.backlog[0].ID != 501 || s.backlog[len(s.backlog)-1].ID != 1500 || s.Gap {
		t.Errorf("history holds %d events from %d (gap %v), want the last 1000", len(s.backlog), s.backlog[0].ID, s.Gap)
	}
	// the oldest kept is 501: resuming after 500 misses nothing
	if s := h.Subscribe(500); s.Gap || len(s.backlog) != 1000 {
		t.Errorf("resume after 500: gap %v, %d events", s.Gap, len(s.backlog))
	}
	// after 499 event 500 is lost: a gap, and the whole history
	if s := h.Subscribe(499); !s.Gap || len(s.backlog) != 1000 {
		t.Errorf("resume after 499: gap %v, %d events", s.Gap, len(s.backlog))
	}
	if s := h.Subscribe(1500); s.Gap || len(s.backlog) != 0 {
		t.Errorf("resume at the end: gap %v, %d events", s.Gap, len(s.backlog))
	}
	if s := h.Subscribe(Live); s.Gap || len(s.backlog) != 0 {
		t.Errorf("Live: gap %v, %d events", s.Gap, len(s.backlog))
	}
}

// A Last-Event-ID from a hub of an earlier run is below this hub's ids:
// the client is told it has a gap.
func TestEarlierHub(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	old := NewHub(HubOptions{Now: clock(start)})
	var last uint64
	for i := 0; i < 10; i++ {
		last = old.Publish(Event{Type: TypeVerified})
	}
	h := NewHub(HubOptions{Now: clock(start.Add(time.Second))})
	if s := h.Subscribe(last); !s.Gap {
		t.Error("an empty new hub: no gap reported")
	}
	h.Publish(Event{Type: TypeVerified})
	if s := h.Subscribe(last); !s.Gap || len(s.backlog) != 1 {
		t.Errorf("gap %v, %d events", s.Gap, len(s.backlog))
	}
	if s := h.Subscribe(last + 1_000_000_000); !s.Gap {
		t.Error("an id from the future: no gap reported")
	}
}

// A subscriber that stops reading is dropped once its buffer is full;
// Publish goes on, and the others get everything.
func TestSlowSubscriberDropped(t *testing.T) {
	h := NewHub(HubOptions{Buffer: 4, FirstID: 1})
	slow := h.Subscribe(Live)
	fast := h.Subscribe(Live)
	for i := 0; i < 10; i++ {
		h.Publish(Event{Type: TypeVerified})
		next(t, fast)
	}
	if h.Subscribers() != 1 {
		t.Fatalf("%d subscribers, want the slow one dropped", h.Subscribers())
	}
	for i := 1; i <= 4; i++ {
		if e := next(t, slow); e.ID != uint64(i) {
			t.Fatalf("slow got id %d, want %d", e.ID, i)
		}
	}
	if _, err := slow.Next(context.Background()); !errors.Is(err, ErrDropped) {
		t.Fatalf("after its buffer: %v, want ErrDropped", err)
	}
	// it resumes from its last id
	s := h.Subscribe(4)
	if e := next(t, s); e.ID != 5 {
		t.Errorf("resumed at %d, want 5", e.ID)
	}
}

func TestClose(t *testing.T) {
	h := NewHub(HubOptions{FirstID: 1})
	s := h.Subscribe(Live)
	h.Publish(Event{Type: TypeVerified})
	waiting := make(chan error)
	w := h.Subscribe(1)
	go func() {
		_, err := w.Next(context.Background())
		waiting <- err
	}()
	h.Close()
	h.Close()
	if err := <-waiting; !errors.Is(err, ErrClosed) {
		t.Errorf("a waiting Next: %v", err)
	}
	if e := next(t, s); e.ID != 1 {
		t.Errorf("what was handed out before Close is still read: %+v", e)
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if id := h.Publish(Event{}); id != 0 {
		t.Errorf("Publish after Close gave %d", id)
	}
	late := h.Subscribe(0)
	if e := next(t, late); e.ID != 1 {
		t.Errorf("the history stays readable: %+v", e)
	}
	if _, err := late.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("subscribing to a closed hub: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s2 := NewHub(HubOptions{}).Subscribe(Live)
	if _, err := s2.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next with a done context: %v", err)
	}
	s2.Close()
	s2.Close()
	if _, err := s2.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("after Subscription.Close: %v", err)
	}
}

// sample is an event of the usual size.
var sample = Event{
	Type: TypeDelivered, Route: "github", Provider: "github", EventType: "push",
	DeliveryID: "msg_01JD5X3Y6Z7A8B9C0D1E2F3G4H", ProviderID: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
	Destination: "127.0.0.1:9000/hooks", Attempt: 1, Status: 200, Duration: 3 * time.Millisecond,
}

// The cost the stream adds to each decision with no client attached.
func BenchmarkPublish(b *testing.B) {
	h := NewHub(HubOptions{})
	b.ReportAllocs()
	for b.Loop() {
		h.Publish(sample)
	}
}

// With 10 subscribers reading as fast as they can.
func BenchmarkPublish10Subscribers(b *testing.B) {
	h := NewHub(HubOptions{Buffer: 1 << 16})
	done := make(chan struct{})
	for range 10 {
		s := h.Subscribe(Live)
		go func() {
			for {
				if _, err := s.Next(context.Background()); err != nil {
					done <- struct{}{}
					return
				}
			}
		}()
	}
	b.ReportAllocs()
	for b.Loop() {
		h.Publish(sample)
	}
	b.StopTimer()
	h.Close()
	for range 10 {
		<-done
	}
}
