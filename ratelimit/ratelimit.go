// Package ratelimit paces deliveries to the app with keyed token buckets
// (golang.org/x/time/rate) and an optional cap on deliveries in flight per
// key.
//
// A bucket whose tokens have all come back and that has nothing in flight
// is the same as a new one, so the sweeper forgets it: memory follows the
// keys that are actually being limited. A hard cap on keys sends any key
// beyond it to one shared overflow bucket instead of growing.
//
// The package knows nothing of Caddy; its clock and its sleep are injectable.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// Limiter paces deliveries per key. Memory is the in-process
// implementation; a limiter shared by several gateways (Redis, say) goes
// over the network and implements the same method.
type Limiter interface {
	// Acquire takes a token (and a slot, with a concurrency cap) for key,
	// waiting at most maxWait for them. A refusal is a *LimitedError that
	// says when to come back; any other error means the limiter could not
	// decide (the context ended, or a shared store failed). release, on
	// success, gives the slot back when the delivery is done.
	Acquire(ctx context.Context, key string, maxWait time.Duration) (release func(), err error)
}

// Options configure a Memory limiter.
type Options struct {
	// Events per Window is the sustained rate.
	Events int
	Window time.Duration
	// Burst is how many deliveries may go at once after a quiet spell;
	// default Events.
	Burst int
	// MaxConcurrent caps deliveries in flight per key; 0 means no cap.
	MaxConcurrent int
	// MaxKeys bounds the buckets kept; keys beyond it share one overflow
	// bucket. Default 100,000.
	MaxKeys int
	// SweepEvery is how often full, idle buckets are forgotten; default 1s.
	SweepEvery time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx is done; default a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultMaxKeys is the default bound on buckets.
const DefaultMaxKeys = 100_000

// concurrencyRetryAfter is what a sender turned away by the concurrency cap
// is told: a slot frees up when a delivery finishes, which is not known.
const concurrencyRetryAfter = time.Second

// LimitedError says a delivery was turned away, and when to come back.
type LimitedError struct {
	// RetryAfter is when a token will be there (for the concurrency cap,
	// a guess of one second).
	RetryAfter time.Duration
	// Concurrency is true when the cap on deliveries in flight was hit.
	Concurrency bool
}

func (e *LimitedError) Error() string {
	if e.Concurrency {
		return "too many deliveries in flight"
	}
	return fmt.Sprintf("rate limited, next token in %s", e.RetryAfter)
}

// Memory is the in-process Limiter: a set of keyed buckets.
type Memory struct {
	limit         rate.Limit
	burst         int
	maxConcurrent int
	maxPerShard   int
	now           func() time.Time
	sleep         func(ctx context.Context, d time.Duration) error
	seed          maphash.Seed
	shards        [numShards]shard
	overflow      *bucket
	stop          chan struct{}
	stopped       sync.WaitGroup
	closeOnce     sync.Once
}

const numShards = 32

type shard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim      *rate.Limiter
	sem      *semaphore.Weighted // nil without a concurrency cap
	inflight int                 // guarded by the shard's mutex
}

// NewMemory makes a Memory limiter and starts its sweeper; Close stops it.
func NewMemory(o Options) (*Memory, error) {
	if o.Events <= 0 || o.Window <= 0 {
		return nil, errors.New("rate must be a positive number of events per positive window")
	}
	if o.Burst == 0 {
		o.Burst = o.Events
	}
	if o.Burst < 0 || o.MaxConcurrent < 0 || o.MaxKeys < 0 {
		return nil, errors.New("burst, max_concurrent and max_keys must not be negative")
	}
	if o.MaxKeys == 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	l := &Memory{
		limit:         rate.Limit(float64(o.Events) / o.Window.Seconds()),
		burst:         o.Burst,
		maxConcurrent: o.MaxConcurrent,
		maxPerShard:   max(1, o.MaxKeys/numShards),
		now:           o.Now,
		sleep:         o.Sleep,
		seed:          maphash.MakeSeed(),
		stop:          make(chan struct{}),
	}
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]*bucket)
	}
	l.overflow = l.newBucket()
	l.stopped.Add(1)
	go l.sweepLoop(o.SweepEvery)
	return l, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Memory) newBucket() *bucket {
	b := &bucket{lim: rate.NewLimiter(l.limit, l.burst)} // starts full
	if l.maxConcurrent > 0 {
		b.sem = semaphore.NewWeighted(int64(l.maxConcurrent))
	}
	return b
}

// Acquire takes a token (and, with a concurrency cap, a slot) for one
// delivery under key. With maxWait 0 it never waits: when no token is
// there it returns a *LimitedError saying when one will be. Otherwise it
// waits up to maxWait, and returns ctx's error at once if ctx ends first.
// On success, call release when the delivery is done.
func (l *Memory) Acquire(ctx context.Context, key string, maxWait time.Duration) (release func(), err error) {
	now := l.now()
	s := &l.shards[maphash.String(l.seed, key)%numShards]
	s.mu.Lock()
	b := s.buckets[key]
	if b == nil {
		if len(s.buckets) < l.maxPerShard {
			b = l.newBucket()
			s.buckets[key] = b
		} else {
			b = l.overflow
		}
	}
	var wait time.Duration
	var reservation *rate.Reservation
	if !b.lim.AllowN(now, 1) {
		if maxWait <= 0 {
			// when the missing part of a token will have come back, rounded
			// up so the answer is never early
			missing := 1 - b.lim.TokensAt(now)
			s.mu.Unlock()
			return nil, &LimitedError{RetryAfter: time.Duration(math.Ceil(missing / float64(l.limit) * float64(time.Second)))}
		}
		reservation = b.lim.ReserveN(now, 1)
		wait = reservation.DelayFrom(now)
		if !reservation.OK() || wait > maxWait {
			reservation.CancelAt(now)
			s.mu.Unlock()
			if !reservation.OK() {
				wait = time.Duration(math.MaxInt64)
			}
			return nil, &LimitedError{RetryAfter: wait}
		}
	}
	b.inflight++
	s.mu.Unlock()

	done := func() {
		s.mu.Lock()
		b.inflight--
		s.mu.Unlock()
	}
	if wait > 0 {
		if err := l.sleep(ctx, wait); err != nil {
			reservation.CancelAt(l.now())
			done()
			return nil, err
		}
	}
	if b.sem != nil {
		if !b.sem.TryAcquire(1) {
			left := maxWait - wait
			if left <= 0 {
				done()
				return nil, &LimitedError{RetryAfter: concurrencyRetryAfter, Concurrency: true}
			}
			wctx, cancel := context.WithTimeout(ctx, left)
			err := b.sem.Acquire(wctx, 1)
			cancel()
			if err != nil {
				done()
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, &LimitedError{RetryAfter: concurrencyRetryAfter, Concurrency: true}
			}
		}
		return func() { b.sem.Release(1); done() }, nil
	}
	return done, nil
}

// Len is how many buckets are kept.
func (l *Memory) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}

// Sweep forgets buckets that are full again and have nothing in flight:
// they are no different from new ones.
func (l *Memory) Sweep() {
	now := l.now()
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for key, b := range s.buckets {
			// (the tolerance absorbs float rounding in the refill)
			if b.inflight == 0 && b.lim.TokensAt(now) >= float64(l.burst)-1e-6 {
				delete(s.buckets, key)
			}
		}
		s.mu.Unlock()
	}
}

func (l *Memory) sweepLoop(every time.Duration) {
	defer l.stopped.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.Sweep()
		case <-l.stop:
			return
		}
	}
}

// Close stops the sweeper.
func (l *Memory) Close() {
	l.closeOnce.Do(func() {
		close(l.stop)
		l.stopped.Wait()
	})
}

var _ Limiter = (*Memory)(nil)
