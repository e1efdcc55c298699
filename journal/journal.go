// Package journal is the durable store behind deliver: a verified webhook is
// appended here (and fsync'd) before the provider hears 2xx, and background
// workers take it from here to each destination until it is delivered or
// dead.
//
// A Delivery is what arrived; a Target is one destination's view of it (its
// state, attempts and next attempt time). Workers Claim due targets under a
// lease: a claimed target is hidden for the lease's length and then due
// again, so a process that dies mid-attempt costs one repeated attempt, never
// a lost one (at least once), and two dispatchers sharing a store (a Caddy
// reload, or several instances on a shared store) never send the same
// attempt twice. Record writes the attempt's result only while the lease
// still holds.
//
// Each delivery also gets a position, Seq, when it is committed; Since
// pages through a destination's deliveries by position, which is how a
// stream subscriber resumes where it left off.
//
// Store is the contract; Bolt is the embedded implementation. A shared
// implementation (Redis, say) must keep the same promises: every method may
// be called from several processes at once.
//
// The package knows nothing of Caddy; its clock is injectable.
package journal

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// State is where a target stands.
type State string

const (
	// Pending targets are waiting for an attempt (or in one).
	Pending State = "pending"
	// Delivered targets got a 2xx.
	Delivered State = "delivered"
	// Dead targets ran out of attempts, or the destination said 410 Gone.
	Dead State = "dead"
)

// Valid reports whether s is one of the three states.
func (s State) Valid() bool { return s == Pending || s == Delivered || s == Dead }

// MaxHistory bounds the attempts kept per target; older ones are dropped,
// while Target.Attempts keeps counting.
const MaxHistory = 20

// Delivery is one verified webhook as it arrived, and its targets.
type Delivery struct {
	// ID is ours: "msg_" and a ULID (see NewID), stable across attempts and
	// replays. Append fills it when empty.
	ID string `json:"id"`
	// Seq is the delivery's position in the journal, what a stream
	// subscriber resumes from (see Since). IDs cannot serve: they are made
	// at accept time, and two concurrent Appends can commit out of id
	// order, so a reader resuming after one id would miss a lower one
	// committed later. Append assigns Seq in the transaction (or script)
	// that stores the delivery, so positions increase in commit order: a
	// reader that has seen position S never later finds a new delivery at
	// or below S. Positions are unique per store and never reused, not
	// after Prune nor after a restart; they need not be contiguous. Append
	// overwrites what the caller set, and writes it only once the delivery
	// is stored. Replays keep it. 0 means none: a delivery stored before
	// journals had positions, which Since never returns.
	Seq uint64 `json:"seq,omitempty"`
	// Route is the deliver block the webhook came through.
	Route    string `json:"route"`
	Provider string `json:"provider,omitempty"`
	Event    string `json:"event,omitempty"`
	// ProviderID is the provider's own delivery id, when it sends one.
	ProviderID string    `json:"provider_id,omitempty"`
	Received   time.Time `json:"received"`
	Method     string    `json:"method"`
	// Path is the request's path and query.
	Path string `json:"path"`
	// Header is the request's header with hop-by-hop fields removed.
	Header http.Header `json:"header,omitempty"`
	// Body is nil in List results.
	Body []byte `json:"-"`
	// Targets has one entry per destination (fan-out is decided at accept).
	Targets []Target `json:"targets"`
}

// Target is one destination's progress with a delivery.
type Target struct {
	Destination string `json:"destination"`
	State       State  `json:"state"`
	// Attempts counts every attempt ever made, replays included.
	Attempts int `json:"attempts"`
	// Round counts attempts since the target last became pending (at
	// accept or by a replay): it is the position in the retry schedule.
	Round int `json:"round"`
	// Replays counts how often the target was replayed.
	Replays int `json:"replays,omitempty"`
	// Next is when a pending target is due; while it is claimed, when the
	// lease runs out.
	Next       time.Time `json:"next,omitzero"`
	LastStatus int       `json:"last_status,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
	Updated    time.Time `json:"updated"`
	// History holds the latest MaxHistory attempts, oldest first.
	History []Attempt `json:"history,omitempty"`
}

// Attempt is one try at a destination.
type Attempt struct {
	At time.Time `json:"at"`
	// Status is the destination's HTTP status; 0 when there was none.
	Status int `json:"status,omitempty"`
	// Error is a transport error, a timeout, or the start of a non-2xx
	// response's body.
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
	// Replay is true for attempts made after the target was replayed.
	Replay bool `json:"replay,omitempty"`
}

// Task is a claimed target: one attempt's worth of work.
type Task struct {
	// Delivery carries the body; its Targets is nil.
	Delivery *Delivery
	Target   Target
	// Lease is the claim's token; Record refuses a task whose lease a newer
	// claim has taken over.
	Lease string
}

// Outcome is a target's state after an attempt.
type Outcome struct {
	State State
	// Next is when a Pending target is due again.
	Next time.Time
}

// Filter selects deliveries for List and ReplayWhere.
type Filter struct {
	// Route, when set, keeps deliveries of that route only.
	Route string
	// State, when set, keeps deliveries with at least one target in that
	// state. For ReplayWhere it also picks which targets are replayed, and
	// must be Delivered or Dead.
	State State
	// Destination, when set, keeps deliveries with a target of that name
	// (and, for ReplayWhere, replays that target only).
	Destination string
	// Before is a cursor: only deliveries with an ID below it (older).
	Before string
	// Limit bounds the deliveries returned (List: default DefaultListLimit,
	// at most MaxListLimit) or replayed (ReplayWhere: 0 means all).
	Limit int
}

// List bounds.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// Key names one (route, destination, state) cell of Stats.
type Key struct {
	Route       string
	Destination string
	State       State
}

// Stats is a snapshot for metrics.
type Stats struct {
	// Targets counts targets per route, destination and state.
	Targets map[Key]int
	// OldestPending is when the oldest delivery with a pending target was
	// received; zero when none is pending.
	OldestPending time.Time
}

// Quota tells Claim and NextDue how many more tasks a destination may take
// right now: 0 leaves its targets waiting (at its concurrency cap, out of
// rate-limit tokens, or unknown to the caller); a negative number means no
// bound. A nil Quota bounds nothing. It is called inside the store's
// transaction, so it must be quick and must not call the store.
type Quota func(route, destination string) int

// Errors.
var (
	// ErrNotFound: no such delivery (or no such destination on it).
	ErrNotFound = errors.New("journal: not found")
	// ErrStale: Record for a task whose lease was taken over by a newer
	// claim, or whose target is no longer pending. Nothing was written.
	ErrStale = errors.New("journal: lease lost")
	// ErrExists: Append with an ID that is already stored.
	ErrExists = errors.New("journal: delivery id already stored")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("journal: closed")
)

// Store is the durable journal. Every method may be called concurrently,
// and from several processes sharing one store; none keeps state in memory
// that another process would need to see.
type Store interface {
	// Append stores d with all its targets (each must be Pending, with the
	// Next it is first due; zero means now). When it returns nil the
	// delivery is durable (fsync'd); any error (a full disk, a read-only
	// file) means it is not. It fills d.ID (NewID) and d.Received when
	// empty, and each target's State, Next and Updated; d.Seq once the
	// delivery is stored.
	Append(ctx context.Context, d *Delivery) error
	// Claim takes up to limit due targets (Next <= now), oldest first,
	// leaving alone paused destinations and those quota holds back. Each is
	// leased until now+lease: hidden from other claims until then, and due
	// again after, should its attempt never be recorded.
	Claim(ctx context.Context, now time.Time, limit int, lease time.Duration, quota Quota) ([]Task, error)
	// NextDue is when the earliest pending target that Claim would consider
	// (not paused, quota not 0) is due; false when there is none.
	NextDue(ctx context.Context, quota Quota) (time.Time, bool, error)
	// Record stores an attempt and the target's outcome. It returns
	// ErrStale, writing nothing, when the task's lease is no longer the
	// target's.
	Record(ctx context.Context, t Task, a Attempt, o Outcome) error
	// Get returns a delivery with its body, targets and their histories.
	Get(ctx context.Context, id string) (*Delivery, error)
	// List returns deliveries newest first, without bodies.
	List(ctx context.Context, f Filter) ([]Delivery, error)
	// Since returns the deliveries with a Seq above after that have a
	// target named destination ("" for every delivery), by ascending Seq,
	// at most limit of them (default DefaultListLimit, at most
	// MaxListLimit), each with its body and targets. Calling it again with
	// after set to the last Seq it returned pages through the journal:
	// every delivery exactly once, including those appended meanwhile,
	// except what Prune deleted. It reads an index, not every delivery: a
	// stream subscriber resuming with Last-Event-ID costs a range scan.
	Since(ctx context.Context, after uint64, destination string, limit int) ([]Delivery, error)
	// LastSeq is the highest Seq assigned so far, 0 when none was: where a
	// new stream subscriber without Last-Event-ID starts. Prune does not
	// lower it.
	LastSeq(ctx context.Context) (uint64, error)
	// Replay makes the finished (delivered or dead) targets of a delivery
	// pending again, due at now, with a fresh retry schedule; destination
	// "" means all of them. It returns how many targets it replayed.
	Replay(ctx context.Context, id, destination string, now time.Time) (int, error)
	// ReplayWhere replays, in deliveries matching f, the targets in
	// f.State; it returns how many targets it replayed.
	ReplayWhere(ctx context.Context, f Filter, now time.Time) (int, error)
	// Prune deletes deliveries whose targets are all finished and whose
	// last target finished before cutoff(route). It returns how many
	// deliveries it deleted.
	Prune(ctx context.Context, cutoff func(route string) time.Time) (int, error)
	// SetPaused holds (or releases) a destination, by name, in every route:
	// Claim leaves its targets waiting; none of them goes dead meanwhile.
	SetPaused(ctx context.Context, destination string, paused bool) error
	// Paused lists the paused destinations, sorted.
	Paused(ctx context.Context) ([]string, error)
	// Stats counts targets for metrics.
	Stats(ctx context.Context) (Stats, error)
	// Close releases the store.
	Close() error
}
