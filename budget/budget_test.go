package budget

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestAcquireRelease(t *testing.T) {
	b := New(1 << 20)
	ctx := context.Background()
	if err := b.Acquire(ctx, 64<<10, true); err != nil {
		t.Fatal(err)
	}
	if err := b.Acquire(ctx, 512<<10, false); err != nil {
		t.Fatal(err)
	}
	if got := b.InUse(); got != 576<<10 {
		t.Fatalf("in use %d", got)
	}
	b.Release(512<<10, false)
	b.Release(64<<10, true)
	if got := b.InUse(); got != 0 {
		t.Fatalf("in use %d after release", got)
	}
	if err := b.Acquire(ctx, 2<<20, true); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("more than the budget: %v", err)
	}
	if err := b.Acquire(ctx, 900<<10, false); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("more than the large share: %v", err)
	}
}

// Large holders cannot take the quarter kept for small ones.
func TestSmallShareStaysFree(t *testing.T) {
	b := New(1 << 20)
	ctx := context.Background()
	for range 12 {
		if err := b.Acquire(ctx, 64<<10, false); err != nil {
			t.Fatal(err)
		}
	}
	if b.TryAcquire(1, false) {
		t.Fatal("large bytes past three quarters")
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := b.Acquire(short, 1, false); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("large bytes past three quarters: %v", err)
	}
	if b.InUse() != 768<<10 {
		t.Fatalf("a failed acquire holds bytes: %d", b.InUse())
	}
	for range 4 {
		if !b.TryAcquire(64<<10, true) {
			t.Fatal("small bytes refused with large ones full")
		}
	}
	if err := b.Acquire(short, 1, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past the whole budget: %v", err)
	}
}

// A waiter gets its bytes as soon as they are released.
func TestWaiterWakes(t *testing.T) {
	b := New(100)
	ctx := context.Background()
	if err := b.Acquire(ctx, 100, true); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- b.Acquire(ctx, 50, true) }()
	b.Release(60, true)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b.InUse() != 90 {
		t.Fatalf("in use %d", b.InUse())
	}
}

// Many holders at once never hold more than the budget.
func TestConcurrentHoldersStayWithin(t *testing.T) {
	b := New(1 << 20)
	var peak int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			n, small := int64(i%7)*32<<10, i%2 == 0
			if small {
				n = SmallHolder
			}
			if err := b.Acquire(ctx, n, small); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			peak = max(peak, b.InUse())
			mu.Unlock()
			b.Release(n, small)
		}()
	}
	wg.Wait()
	if peak > b.Total() || b.InUse() != 0 {
		t.Fatalf("peak %d of %d, %d left", peak, b.Total(), b.InUse())
	}
}
