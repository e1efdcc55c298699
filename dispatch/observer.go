package dispatch

import (
	"time"

	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// Observer hears what the dispatcher does, to feed metrics, logs and a
// live event stream. Its methods are called synchronously from the
// dispatcher's goroutines: implementations must be quick and must never
// block (hand slow work to a buffered channel and drop when it is full).
// Embed NopObserver to implement only some.
type Observer interface {
	// Attempted is called after every attempt whose outcome was recorded.
	// info.State says what came of it: Delivered, Dead, or Pending with
	// info.Next.
	Attempted(info AttemptInfo)
	// Replayed is called when a replay made targets pending again.
	Replayed(info ReplayInfo)
	// NotifyFailed is called when the notice about a dead target could not
	// be sent (info is the attempt that made it dead).
	NotifyFailed(info AttemptInfo, err error)
	// StoreFailed is called when the journal fails under the dispatcher:
	// op is "claim", "next", "record" or "prune". A "record" with
	// journal.ErrStale means an attempt outlived its lease and another
	// claim took it over (the destination may see it twice).
	StoreFailed(op string, err error)
}

// AttemptInfo describes one attempt. It carries no body and no header, so
// nothing secret.
type AttemptInfo struct {
	ID          string // the delivery's id (Webhook-Id)
	Route       string
	Provider    string
	Event       string
	Destination string
	// Attempt is this attempt's number at this destination, from 1,
	// replays included (X-Webhook-Attempt).
	Attempt int
	// Replay is true when the target was replayed before this attempt.
	Replay bool
	// Status is the destination's HTTP status; 0 when none came.
	Status int
	// Error is the transport error or timeout, or the start of a non-2xx
	// response body.
	Error    string
	Duration time.Duration
	// State is the target's state after the attempt.
	State journal.State
	// Next is when a Pending target is tried again.
	Next time.Time
}

// ReplayInfo describes a replay: of one delivery (ID set) or in bulk (ID
// empty, Route and State the filter).
type ReplayInfo struct {
	ID          string
	Route       string
	State       journal.State
	Destination string
	// Targets is how many targets became pending.
	Targets int
}

// NopObserver ignores everything; embed it to implement part of Observer.
type NopObserver struct{}

func (NopObserver) Attempted(AttemptInfo)           {}
func (NopObserver) Replayed(ReplayInfo)             {}
func (NopObserver) NotifyFailed(AttemptInfo, error) {}
func (NopObserver) StoreFailed(string, error)       {}

var _ Observer = NopObserver{}
