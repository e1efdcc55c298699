package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTime is an injected clock whose sleeps move it forward.
type fakeTime struct {
	mu     sync.Mutex
	t      time.Time
	slept  []time.Duration
	during func() // runs inside a sleep, e.g. to cancel a context
}

func newFakeTime() *fakeTime { return &fakeTime{t: time.Unix(1700000000, 0)} }

func (f *fakeTime) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeTime) advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func (f *fakeTime) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.slept = append(f.slept, d)
	during := f.during
	f.mu.Unlock()
	if during != nil {
		during()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f.advance(d)
	return nil
}

func newLimiter(t testing.TB, o Options) *Memory {
	t.Helper()
	l, err := NewMemory(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

func take(t *testing.T, l *Memory, key string, maxWait time.Duration) (func(), error) {
	t.Helper()
	return l.Acquire(context.Background(), key, maxWait)
}

func limited(t *testing.T, err error) *LimitedError {
	t.Helper()
	var le *LimitedError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a LimitedError", err)
	}
	return le
}

// 5/1m: five go at once, the sixth is told the truth about when a token
// comes back, and it does come back then, not earlier.
func TestRefillAndTruthfulRetryAfter(t *testing.T) {
	ft := newFakeTime()
	l := newLimiter(t, Options{Events: 5, Window: time.Minute, Now: ft.now, Sleep: ft.sleep})
	for i := range 5 {
		if _, err := take(t, l, "", 0); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	le := limited(t, func() error { _, err := take(t, l, "", 0); return err }())
	if le.RetryAfter != 12*time.Second || le.Concurrency {
		t.Fatalf("RetryAfter = %s, want 12s", le.RetryAfter)
	}
	ft.advance(12*time.Second - time.Millisecond)
	if _, err := take(t, l, "", 0); err == nil {
		t.Fatal("a token came back before the promised time")
	} else if le := limited(t, err); le.RetryAfter < time.Millisecond || le.RetryAfter > time.Millisecond+time.Microsecond {
		t.Fatalf("RetryAfter = %s, want 1ms (never less)", le.RetryAfter)
	}
	ft.advance(time.Millisecond)
	if _, err := take(t, l, "", 0); err != nil {
		t.Fatalf("no token at the promised time: %v", err)
	}
	if _, err := take(t, l, "", 0); err == nil {
		t.Fatal("two tokens after 12s at 5/1m")
	}
}

func TestBurst(t *testing.T) {
	ft := newFakeTime()
	l := newLimiter(t, Options{Events: 10, Window: time.Second, Burst: 2, Now: ft.now, Sleep: ft.sleep})
	take(t, l, "k", 0)
	take(t, l, "k", 0)
	if _, err := take(t, l, "k", 0); err == nil {
		t.Fatal("burst 2 let a third through")
	}
	ft.advance(time.Hour) // refills only up to the burst
	for i := range 3 {
		_, err := take(t, l, "k", 0)
		if (err == nil) != (i < 2) {
			t.Fatalf("after a quiet hour, delivery %d: %v", i+1, err)
		}
	}
}

func TestKeysAreIndependent(t *testing.T) {
	ft := newFakeTime()
	l := newLimiter(t, Options{Events: 1, Window: time.Minute, Now: ft.now, Sleep: ft.sleep})
	for _, key := range []string{"shop-a", "shop-b", "shop-c"} {
		if _, err := take(t, l, key, 0); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	if _, err := take(t, l, "shop-a", 0); err == nil {
		t.Fatal("shop-a got two tokens")
	}
}

// In wait mode a delivery is held until its token is there, up to maxWait.
func TestWait(t *testing.T) {
	ft := newFakeTime()
	l := newLimiter(t, Options{Events: 5, Window: time.Minute, Now: ft.now, Sleep: ft.sleep})
	for range 5 {
		take(t, l, "", time.Minute)
	}
	start := ft.now()
	if _, err := take(t, l, "", time.Minute); err != nil {
		t.Fatal(err)
	}
	if waited := ft.now().Sub(start); waited != 12*time.Second {
		t.Fatalf("waited %s, want 12s", waited)
	}
	// Two more queue up: 12s and 24s from now. A third would need 36s.
	take(t, l, "", time.Minute)
	if _, err := take(t, l, "", 10*time.Second); err == nil {
		t.Fatal("waited beyond maxWait")
	} else if le := limited(t, err); le.RetryAfter != 12*time.Second {
		t.Fatalf("RetryAfter = %s", le.RetryAfter)
	}
}

// A sender that hangs up stops waiting at once, and its token goes back.
func TestWaitCancelled(t *testing.T) {
	ft := newFakeTime()
	l := newLimiter(t, Options{Events: 1, Window: time.Minute, Now: ft.now, Sleep: ft.sleep})
	take(t, l, "", 0)
	ctx, cancel := context.WithCancel(context.Background())
	ft.during = cancel
	if _, err := l.Acquire(ctx, "", time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	ft.during = nil
	// The cancelled reservation was given back: the next one waits 60s, not 120s.
	if _, err := take(t, l, "", 0); err == nil {
		t.Fatal("a token appeared from nowhere")
	} else if le := limited(t, err); le.RetryAfter != time.Minute {
		t.Fatalf("RetryAfter = %s after a cancelled wait, want 1m", le.RetryAfter)
	}
}

// Buckets that are full again and idle are forgotten; busy ones are kept.
func TestEvictionOfIdleKeys(t *testing.T) {
	ft := newFakeTime()
	l := newLimiter(t, Options{Events: 2, Window: time.Minute, Now: ft.now, Sleep: ft.sleep, SweepEvery: time.Hour})
	for i := range 1000 {
		release, _ := take(t, l, "key-"+strconv.Itoa(i), 0)
		release()
	}
	release, _ := take(t, l, "busy", 0)
	l.Sweep()
	if n := l.Len(); n != 1001 {
		t.Fatalf("%d buckets after a sweep with every bucket short of a token, want 1001", n)
	}
	ft.advance(30 * time.Second) // one token back: full again
	l.Sweep()
	if n := l.Len(); n != 1 {
		t.Fatalf("%d buckets after they refilled, want only the busy one", n)
	}
	release()
	l.Sweep()
	if n := l.Len(); n != 0 {
		t.Fatalf("%d buckets left", n)
	}
}

// Beyond MaxKeys, new keys share one overflow bucket instead of growing.
func TestMaxKeys(t *testing.T) {
	ft := newFakeTime()
	l := newLimiter(t, Options{Events: 1000, Window: time.Second, MaxKeys: numShards * 2, Now: ft.now, Sleep: ft.sleep, SweepEvery: time.Hour})
	for i := range 10_000 {
		take(t, l, "flood-"+strconv.Itoa(i), 0)
	}
	if n := l.Len(); n > numShards*2 {
		t.Fatalf("%d buckets, cap %d", n, numShards*2)
	}
	// The overflow bucket still limits: 1000 tokens are shared by all of them.
	ft2 := newFakeTime()
	l2 := newLimiter(t, Options{Events: 3, Window: time.Hour, MaxKeys: numShards, Now: ft2.now, Sleep: ft2.sleep, SweepEvery: time.Hour})
	passed := 0
	for i := range 1000 {
		if _, err := take(t, l2, "k"+strconv.Itoa(i), 0); err == nil {
			passed++
		}
	}
	if max := numShards*3 + 3; passed > max {
		t.Fatalf("%d passed, at most %d possible", passed, max)
	}
}

func TestConcurrencyCap(t *testing.T) {
	ft := newFakeTime()
	l := newLimiter(t, Options{Events: 1000, Window: time.Second, MaxConcurrent: 2, Now: ft.now, Sleep: ft.sleep})
	r1, _ := take(t, l, "k", 0)
	r2, _ := take(t, l, "k", 0)
	if _, err := take(t, l, "k", 0); err == nil || !limited(t, err).Concurrency {
		t.Fatalf("third in flight: %v", err)
	}
	if _, err := take(t, l, "other", 0); err != nil {
		t.Fatalf("another key is capped separately: %v", err)
	}
	r1()
	r3, err := take(t, l, "k", 0)
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}

	// In wait mode the next one waits for a slot...
	got := make(chan error, 1)
	go func() {
		release, err := l.Acquire(context.Background(), "k", 5*time.Second)
		if err == nil {
			release()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-got:
		t.Fatalf("did not wait for a slot: %v", err)
	default:
	}
	r2()
	if err := <-got; err != nil {
		t.Fatalf("waiting for a slot: %v", err)
	}
	// ...up to maxWait, and a cancelled sender stops at once.
	r4, _ := take(t, l, "k", 0)
	if _, err := l.Acquire(context.Background(), "k", 30*time.Millisecond); err == nil || !limited(t, err).Concurrency {
		t.Fatalf("slot wait past maxWait: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := l.Acquire(ctx, "k", time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled slot wait: %v", err)
	}
	r3()
	r4()
}

func TestOptionsErrors(t *testing.T) {
	for _, o := range []Options{{}, {Events: 1}, {Window: time.Second}, {Events: 1, Window: time.Second, Burst: -1}, {Events: 1, Window: time.Second, MaxConcurrent: -1}} {
		if _, err := NewMemory(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// Many goroutines on one key never get more than burst + refill.
func TestConcurrentAcquire(t *testing.T) {
	l := newLimiter(t, Options{Events: 50, Window: time.Hour})
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 500 {
		wg.Go(func() {
			if _, err := l.Acquire(context.Background(), "one", 0); err == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 50 {
		t.Fatalf("%d of 500 passed a burst of 50", ok.Load())
	}
}

func BenchmarkAcquire(b *testing.B) {
	for _, keys := range []int{1, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			l := newLimiter(b, Options{Events: 1_000_000_000, Window: time.Second, MaxKeys: 2 * keys})
			names := make([]string, keys)
			for i := range names {
				names[i] = "tenant-" + strconv.Itoa(i)
			}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				release, err := l.Acquire(ctx, names[i%keys], 0)
				if err != nil {
					b.Fatal(err)
				}
				release()
				i++
			}
		})
	}
}

// BenchmarkMemoryPerKey reports the heap one bucket takes.
func BenchmarkMemoryPerKey(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		l, _ := NewMemory(Options{Events: 5, Window: time.Minute, MaxKeys: 2 * n, SweepEvery: time.Hour})
		for i := range n {
			l.Acquire(context.Background(), "tenant-"+strconv.Itoa(i), 0)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/key")
		runtime.KeepAlive(l)
		l.Close()
	}
}
