// Package budget bounds the bytes that many holders (request bodies being
// buffered) may hold at once, so no amount of traffic can take more memory
// than it allows.
//
// A quarter of the budget is kept for small holders: a flood of large
// uploads can fill the other three quarters, but the small deliveries that
// make up nearly all webhook traffic still find room. Waiters are served
// first come, first served, each for a bounded amount (holders take memory
// in chunks as their bytes arrive).
//
// The package knows nothing of Caddy or HTTP.
package budget

import (
	"context"
	"errors"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// SmallHolder is the most a small holder holds: its whole size must be
// known to be at most this when it starts.
const SmallHolder = 64 << 10

// largeQuarters is the share of the budget, in quarters, that large
// holders may take together.
const largeQuarters = 3

// ErrTooLarge is returned for a request that could never fit.
var ErrTooLarge = errors.New("budget: more than the budget allows asked for")

// Budget is a process-wide bound on bytes held. It is safe for concurrent
// use.
type Budget struct {
	total int64
	all   *semaphore.Weighted // every byte held
	large *semaphore.Weighted // the bytes of large holders
	inUse atomic.Int64
}

// New makes a budget of total bytes.
func New(total int64) *Budget {
	return &Budget{
		total: total,
		all:   semaphore.NewWeighted(total),
		large: semaphore.NewWeighted(total * largeQuarters / 4),
	}
}

// Total is the budget's size in bytes.
func (b *Budget) Total() int64 { return b.total }

// InUse is how many bytes are held now.
func (b *Budget) InUse() int64 { return b.inUse.Load() }

// MaxLarge is the most that large holders may hold together, and so the
// most one of them can.
func (b *Budget) MaxLarge() int64 { return b.total * largeQuarters / 4 }

// TryAcquire takes n bytes if they are free now. small says the holder is
// a small one (see SmallHolder).
func (b *Budget) TryAcquire(n int64, small bool) bool {
	if n <= 0 {
		return true
	}
	if !small && !b.large.TryAcquire(n) {
		return false
	}
	if !b.all.TryAcquire(n) {
		if !small {
			b.large.Release(n)
		}
		return false
	}
	b.inUse.Add(n)
	return true
}

// Acquire takes n bytes, waiting until they are free or ctx is done (then
// it returns ctx's error and holds nothing).
func (b *Budget) Acquire(ctx context.Context, n int64, small bool) error {
	if n <= 0 {
		return nil
	}
	if n > b.total || (!small && n > b.MaxLarge()) {
		return ErrTooLarge
	}
	if !small {
		if err := b.large.Acquire(ctx, n); err != nil {
			return err
		}
	}
	if err := b.all.Acquire(ctx, n); err != nil {
		if !small {
			b.large.Release(n)
		}
		return err
	}
	b.inUse.Add(n)
	return nil
}

// Release gives back n bytes taken with the same small flag.
func (b *Budget) Release(n int64, small bool) {
	if n <= 0 {
		return
	}
	b.inUse.Add(-n)
	b.all.Release(n)
	if !small {
		b.large.Release(n)
	}
}
