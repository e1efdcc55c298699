package redisstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/internal/redistest"
	"github.com/webhookverify/caddy-webhook-verify/internal/testclock"
	"github.com/webhookverify/caddy-webhook-verify/ratelimit"
)

func limiter(t *testing.T, c *Client, o LimitOptions) *Limiter {
	t.Helper()
	l, err := c.Limiter("z", o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// limited asserts err is a refusal and returns it.
func limited(t *testing.T, err error) *ratelimit.LimitedError {
	t.Helper()
	var le *ratelimit.LimitedError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *ratelimit.LimitedError", err)
	}
	return le
}

// 5/1m shared by two instances: exactly 5 of 12 deliveries pass, in
// whatever order they reach the instances, and the refused are told
// truthfully when the next token comes.
func TestRateLimitSharedAcrossInstances(t *testing.T) {
	ca, cb, clock, _ := twoInstances(t)
	o := LimitOptions{Events: 5, Window: time.Minute}
	ls := []*Limiter{limiter(t, ca, o), limiter(t, cb, o)}

	passed := 0
	for i := range 12 {
		release, err := ls[i%2].Acquire(bg, "gh", 0)
		if err == nil {
			passed++
			release()
			continue
		}
		if le := limited(t, err); le.RetryAfter != 12*time.Second || le.Concurrency {
			t.Errorf("refusal %d: %+v, want retry after 12s", i, le)
		}
	}
	if passed != 5 {
		t.Fatalf("%d of 12 passed, want 5", passed)
	}
	// another key has its own bucket
	if _, err := ls[0].Acquire(bg, "other", 0); err != nil {
		t.Errorf("another key: %v", err)
	}
	// the retry after is the truth: a moment earlier no token, then one
	clock.Advance(12*time.Second - time.Microsecond)
	if le := limited(t, acquireErr(ls[1], "gh")); le.RetryAfter != time.Microsecond {
		t.Errorf("a µs before the token: retry after %v", le.RetryAfter)
	}
	clock.Advance(time.Microsecond)
	if err := acquireErr(ls[1], "gh"); err != nil {
		t.Fatalf("at the retry after: %v", err)
	}
	limited(t, acquireErr(ls[0], "gh"))
}

func acquireErr(l *Limiter, key string) error {
	release, err := l.Acquire(bg, key, 0)
	if err == nil {
		release()
	}
	return err
}

// A rate that is no whole number of µs per token: the retry after is
// rounded up, never early.
func TestRateLimitRetryAfterRoundsUp(t *testing.T) {
	ca, _, clock, _ := twoInstances(t)
	l := limiter(t, ca, LimitOptions{Events: 3, Window: time.Second, Burst: 1})
	if err := acquireErr(l, "k"); err != nil {
		t.Fatal(err)
	}
	le := limited(t, acquireErr(l, "k"))
	if le.RetryAfter != 333334*time.Microsecond {
		t.Fatalf("retry after %v, want 333.334ms", le.RetryAfter)
	}
	clock.Advance(le.RetryAfter)
	if err := acquireErr(l, "k"); err != nil {
		t.Fatalf("at the retry after: %v", err)
	}
}

// With a max wait, a token that comes within it is waited for (and
// reserved meanwhile); one that comes later is refused at once; a wait
// cut short by the context gives the token back.
func TestRateLimitWait(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	clock := testclock.New()
	var slept []time.Duration
	cancelAfter := false
	c, err := New(Options{Addrs: []string{srv.Addr}, Now: clock.Now, Sleep: func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		if cancelAfter {
			return context.Canceled
		}
		clock.Advance(d)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l := limiter(t, c, LimitOptions{Events: 1, Window: time.Second})
	if err := acquireErr(l, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(bg, "k", 999*time.Millisecond); limited(t, err).RetryAfter != time.Second {
		t.Errorf("a token after the max wait: %v", err)
	}
	if release, err := l.Acquire(bg, "k", time.Second); err != nil {
		t.Fatalf("a token within the max wait: %v", err)
	} else {
		release()
	}
	if len(slept) != 1 || slept[0] != time.Second {
		t.Fatalf("slept %v, want one second", slept)
	}
	cancelAfter = true
	if _, err := l.Acquire(bg, "k", time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("a canceled wait: %v", err)
	}
	cancelAfter = false
	clock.Advance(time.Second)
	// the canceled wait's token came back: one is there now, not in a second
	if err := acquireErr(l, "k"); err != nil {
		t.Fatalf("after a canceled wait: %v", err)
	}
}

// max_concurrent counts slots across instances; a refusal by the cap
// spends no token; a slot whose holder died frees itself after its lease.
func TestRateLimitMaxConcurrentAcrossInstances(t *testing.T) {
	ca, cb, clock, _ := twoInstances(t)
	o := LimitOptions{Events: 100, Window: time.Minute, Burst: 4, MaxConcurrent: 2, SlotLease: time.Minute}
	a, b := limiter(t, ca, o), limiter(t, cb, o)

	releaseA, err := a.Acquire(bg, "k", 0)
	if err != nil {
		t.Fatal(err)
	}
	releaseB, err := b.Acquire(bg, "k", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []*Limiter{a, b} {
		if le := limited(t, acquireErr(l, "k")); !le.Concurrency || le.RetryAfter != time.Second {
			t.Fatalf("a third in flight: %+v", le)
		}
	}
	releaseA()
	releaseA() // once only
	releaseC, err := b.Acquire(bg, "k", 0)
	if err != nil {
		t.Fatalf("after a release: %v (the refusals spent the last token?)", err)
	}
	releaseC()

	// b's instance dies holding its slot: a full cap until the lease ends
	_ = releaseB
	if _, err := a.Acquire(bg, "k", 0); err != nil {
		t.Fatal(err) // a holds the other slot, never given back either
	}
	clock.Advance(time.Minute - time.Microsecond)
	limited(t, acquireErr(a, "k"))
	clock.Advance(time.Microsecond)
	release, err := a.Acquire(bg, "k", 0)
	if err != nil {
		t.Fatalf("after the dead holders' leases: %v", err)
	}
	release()
}

// With a max wait and a full cap, Acquire looks again until a slot frees
// or the max wait has passed.
func TestRateLimitWaitForSlot(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	clock := testclock.New()
	var mu sync.Mutex
	var onSleep func()
	var slept time.Duration
	c, err := New(Options{Addrs: []string{srv.Addr}, Now: clock.Now, Sleep: func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept += d
		f := onSleep
		onSleep = nil
		mu.Unlock()
		clock.Advance(d)
		if f != nil {
			f()
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l := limiter(t, c, LimitOptions{Events: 100, Window: time.Second, MaxConcurrent: 1})
	held, err := l.Acquire(bg, "k", 0)
	if err != nil {
		t.Fatal(err)
	}
	// nobody lets go: refused once the max wait has passed
	if le := limited(t, acquireWait(l, "k", time.Second)); !le.Concurrency {
		t.Fatalf("refusal %+v", le)
	}
	if slept != time.Second {
		t.Errorf("waited %v for a slot, want the max wait, 1s", slept)
	}
	// the holder lets go during the wait: the slot is taken
	onSleep = held
	if err := acquireWait(l, "k", time.Second); err != nil {
		t.Fatalf("a slot freed during the wait: %v", err)
	}
}

func acquireWait(l *Limiter, key string, maxWait time.Duration) error {
	release, err := l.Acquire(bg, key, maxWait)
	if err == nil {
		release()
	}
	return err
}

func TestLimiterOptions(t *testing.T) {
	ca, _, _, _ := twoInstances(t)
	for _, o := range []LimitOptions{{}, {Events: 1}, {Window: time.Second}, {Events: 1, Window: time.Second, Burst: -1}, {Events: 1, Window: time.Second, MaxConcurrent: -1}} {
		if _, err := ca.Limiter("z", o); err == nil {
			t.Errorf("accepted %+v", o)
		}
	}
	if _, err := ca.Limiter("", LimitOptions{Events: 1, Window: time.Second}); err == nil {
		t.Error("accepted an empty zone")
	}
}
