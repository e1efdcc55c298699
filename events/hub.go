package events

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// Hub defaults.
const (
	DefaultHistory = 1000
	DefaultBuffer  = 256
)

// Live, given to Subscribe, skips the history: only events published from
// now on.
const Live = math.MaxUint64

// Errors a Subscription ends with.
var (
	// ErrDropped: the subscriber fell a whole buffer behind and was
	// dropped so as not to slow publishers. It can resume from its last
	// event id while that is still in the history.
	ErrDropped = errors.New("events: subscriber too slow, dropped")
	// ErrClosed: the hub was closed.
	ErrClosed = errors.New("events: hub closed")
)

// HubOptions configure a Hub.
type HubOptions struct {
	// History is how many recent events are kept for clients that resume;
	// default DefaultHistory.
	History int
	// Buffer is how many events a subscriber may fall behind before it is
	// dropped; default DefaultBuffer.
	Buffer int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// FirstID is the first event's id; default the hub's creation time in
	// microseconds, so that ids keep increasing across restarts and a
	// client's Last-Event-ID from an earlier hub is recognised as such.
	FirstID uint64
}

// Hub fans events out to subscribers and keeps a bounded history. Publish
// never waits for a subscriber: one whose buffer is full is dropped (its
// subscription ends with ErrDropped). Its methods are safe for concurrent
// use.
type Hub struct {
	now    func() time.Time
	buffer int

	mu     sync.Mutex
	ring   []Event // the history, a ring: ring[(start+i)%len] is the i-th oldest
	start  int
	n      int
	last   uint64 // the last id given; first-1 before any
	subs   []*Subscription
	closed bool
}

// NewHub makes a Hub.
func NewHub(o HubOptions) *Hub {
	if o.History <= 0 {
		o.History = DefaultHistory
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FirstID == 0 {
		o.FirstID = uint64(max(o.Now().UnixMicro(), 1))
	}
	return &Hub{now: o.Now, buffer: o.Buffer, ring: make([]Event, o.History), last: o.FirstID - 1}
}

// Publish gives e the next id (and the time, when e.Time is zero), keeps it
// in the history and hands it to every subscriber that has room. It returns
// the id, or 0 once the hub is closed. It never blocks on a subscriber.
func (h *Hub) Publish(e Event) uint64 {
	if e.Time.IsZero() {
		e.Time = h.now()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0
	}
	h.last++
	e.ID = h.last
	if h.n < len(h.ring) {
		h.ring[(h.start+h.n)%len(h.ring)] = e
		h.n++
	} else {
		h.ring[h.start] = e
		h.start = (h.start + 1) % len(h.ring)
	}
	for i := 0; i < len(h.subs); {
		s := h.subs[i]
		select {
		case s.ch <- e:
			i++
		default:
			h.removeLocked(i, ErrDropped)
		}
	}
	return e.ID
}

// removeLocked ends the i-th subscription with err.
func (h *Hub) removeLocked(i int, err error) {
	s := h.subs[i]
	last := len(h.subs) - 1
	h.subs[i] = h.subs[last]
	h.subs[last] = nil
	h.subs = h.subs[:last]
	s.err = err
	close(s.ch)
}

// Subscribe follows the hub. lastID is the last event the client has:
// the events after it still in the history come first, then live ones.
// 0 asks for the whole history, Live for none. A lastID the history no
// longer reaches (too old, or from an earlier hub) gives the whole history
// with Subscription.Gap set, so the client knows it missed some.
func (h *Hub) Subscribe(lastID uint64) *Subscription {
	s := &Subscription{h: h, ch: make(chan Event, h.buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if lastID != Live {
		oldest := h.last + 1 - uint64(h.n) // the oldest id kept (last+1 when none)
		skip := 0
		switch {
		case lastID == 0:
		case lastID+1 >= oldest && lastID <= h.last:
			skip = int(lastID + 1 - oldest)
		default:
			s.Gap = true
		}
		s.backlog = make([]Event, 0, h.n-skip)
		for i := skip; i < h.n; i++ {
			s.backlog = append(s.backlog, h.ring[(h.start+i)%len(h.ring)])
		}
	}
	if h.closed {
		s.err = ErrClosed
		close(s.ch)
		return s
	}
	h.subs = append(h.subs, s)
	return s
}

// LastID is the id of the latest event; the one before FirstID when none
// was published.
func (h *Hub) LastID() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// Subscribers counts the subscriptions that are following the hub.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Close ends every subscription (with ErrClosed, once each has read what
// was handed to it) and makes Publish a no-op. Closing twice is fine.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for len(h.subs) > 0 {
		h.removeLocked(len(h.subs)-1, ErrClosed)
	}
}

// Subscription is one subscriber's view of a Hub. Next is for one
// goroutine at a time; Close may be called from any.
type Subscription struct {
	// Gap is set when the client's last event id was out of the history's
	// reach: events were missed, and the backlog is the whole history.
	Gap bool

	h       *Hub
	backlog []Event
	ch      chan Event
	err     error // set before ch is closed
	once    sync.Once
}

// Next returns the next event: the backlog first, then live ones as they
// are published. It returns ctx's error when ctx ends first, ErrDropped
// when the subscriber fell too far behind, ErrClosed when the hub or the
// subscription was closed.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	if len(s.backlog) > 0 {
		e := s.backlog[0]
		s.backlog[0] = Event{}
		s.backlog = s.backlog[1:]
		return e, nil
	}
	select {
	case e, ok := <-s.ch:
		if !ok {
			return Event{}, s.err
		}
		return e, nil
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}
}

// Close stops following the hub; Next then returns what is left of the
// backlog and the buffer, then ErrClosed.
func (s *Subscription) Close() {
	s.once.Do(func() {
		h := s.h
		h.mu.Lock()
		defer h.mu.Unlock()
		for i, t := range h.subs {
			if t == s {
				h.removeLocked(i, ErrClosed)
				return
			}
		}
	})
}
