package redisstore

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webhookverify/caddy-webhook-verify/dedupe"
)

// tripCounter counts round trips on a client's connections: a round trip
// is a run of writes followed by a read, so a pipeline of several
// commands is one, as it is on the wire.
type tripCounter struct{ n atomic.Int64 }

func countTrips(c *Client) *tripCounter {
	tc := &tripCounter{}
	c.Redis().AddHook(tc)
	return tc
}

func (tc *tripCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: conn, tc: tc}, nil
	}
}

func (tc *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (tc *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

type countingConn struct {
	net.Conn
	tc      *tripCounter
	writing atomic.Bool
}

func (c *countingConn) Write(p []byte) (int, error) {
	if !c.writing.Swap(true) {
		c.tc.n.Add(1)
	}
	return c.Conn.Write(p)
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.writing.Store(false)
	return c.Conn.Read(p)
}

// trips runs fn and returns the round trips it took.
func (tc *tripCounter) trips(fn func()) int64 {
	before := tc.n.Load()
	fn()
	return tc.n.Load() - before
}

// A delivery through Admit and Done: two round trips, with dedupe, a
// rate limit and a concurrency cap; a duplicate is answered as one (and
// its token given back), a limited delivery releases its claim.
func TestAdmitTwoRoundTrips(t *testing.T) {
	ca, cb, _, _ := twoInstances(t)
	o := LimitOptions{Events: 2, Window: time.Minute, MaxConcurrent: 1}
	da, db := zone(t, ca, "z"), zone(t, cb, "z")
	la, lb := limiter(t, ca, o), limiter(t, cb, o)
	trips := countTrips(ca)
	if err := ca.Ping(bg); err != nil { // connect and load nothing yet
		t.Fatal(err)
	}
	// the first run of each script loads it: not what a delivery costs
	for _, commit := range []bool{false, true} {
		warm, err := Admit(bg, da, "warm", time.Minute, la, "warm", 0)
		if err != nil {
			t.Fatal(err)
		}
		warm.Done(bg, commit, 200, time.Second)
	}

	var a *Admission
	var err error
	n := trips.trips(func() {
		a, err = Admit(bg, da, "k1", time.Minute, la, "gh", 0)
		if err != nil || a.Claim.Result != dedupe.Claimed {
			t.Fatalf("Admit = %+v %v", a, err)
		}
		// on the other instance: in flight, and the cap is full
		if b, err := Admit(bg, db, "k1", time.Minute, lb, "gh", 0); err != nil || b.Claim.Result != dedupe.InFlight {
			t.Fatalf("a copy: %+v %v", b, err)
		}
		if err := a.Done(bg, true, 202, time.Hour); err != nil {
			t.Fatal(err)
		}
	})
	if n != 2 {
		t.Errorf("Admit and Done took %d round trips, want 2", n)
	}
	b, err := Admit(bg, db, "k1", time.Minute, lb, "gh", 0)
	if err != nil || b.Claim.Result != dedupe.Duplicate || b.Claim.Status != 202 {
		t.Fatalf("a redelivery: %+v %v", b, err)
	}
	b.Done(bg, true, 200, time.Hour) // does nothing
	// the copies gave their tokens back: the second of two is there
	b, err = Admit(bg, db, "k2", time.Minute, lb, "gh", 0)
	if err != nil || b.Claim.Result != dedupe.Claimed {
		t.Fatalf("a second delivery: %+v %v", b, err)
	}
	must(t, b.Done(bg, false, 0, 0)) // the app failed: released
	if _, err := Admit(bg, da, "k3", time.Minute, la, "gh", 0); limited(t, err).Concurrency {
		t.Fatalf("out of tokens: %v", err)
	}
	// the limited delivery released its claim; the failed one too
	for _, key := range []string{"k2", "k3"} {
		c := expect(t, da, key, dedupe.Claimed, 0)
		must(t, da.Release(bg, key, c.Token))
	}
}

// Admit across stores of different clients is refused (the pipeline needs
// one connection pool).
func TestAdmitOneClient(t *testing.T) {
	ca, cb, _, _ := twoInstances(t)
	if _, err := Admit(bg, zone(t, ca, "z"), "k", time.Minute, limiter(t, cb, LimitOptions{Events: 1, Window: time.Second}), "k", 0); err == nil {
		t.Fatal("Admit with two clients")
	}
}

// A route with dedupe only, or a rate limit only, goes through Admit and
// Done too, one round trip each.
func TestAdmitEitherAlone(t *testing.T) {
	ca, _, _, _ := twoInstances(t)
	d := zone(t, ca, "z")
	l := limiter(t, ca, LimitOptions{Events: 1, Window: time.Minute, MaxConcurrent: 1})
	if _, err := Admit(bg, nil, "k", time.Minute, nil, "k", 0); err == nil {
		t.Error("Admit with neither")
	}

	a, err := Admit(bg, d, "k", time.Minute, nil, "", 0)
	if err != nil || a.Claim.Result != dedupe.Claimed {
		t.Fatalf("dedupe only: %+v %v", a, err)
	}
	must(t, a.Done(bg, true, 201, time.Hour))
	if a, err := Admit(bg, d, "k", time.Minute, nil, "", 0); err != nil || a.Claim.Result != dedupe.Duplicate || a.Claim.Status != 201 {
		t.Fatalf("dedupe only, again: %+v %v", a, err)
	}

	a, err = Admit(bg, nil, "", 0, l, "gh", 0)
	if err != nil || a.Claim.Result != dedupe.Claimed {
		t.Fatalf("rate limit only: %+v %v", a, err)
	}
	if _, err := Admit(bg, nil, "", 0, l, "gh", 0); !limited(t, err).Concurrency {
		t.Fatalf("a second in flight: %v", err)
	}
	must(t, a.Done(bg, true, 200, time.Hour)) // gives the slot back
	if _, err := Admit(bg, nil, "", 0, l, "gh", 0); limited(t, err).Concurrency {
		t.Fatalf("after Done, out of tokens, not slots: %v", err)
	}
}
