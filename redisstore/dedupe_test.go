package redisstore

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/dedupe"
	"github.com/webhookverify/caddy-webhook-verify/internal/redistest"
	"github.com/webhookverify/caddy-webhook-verify/internal/testclock"
)

// twoInstances are two clients on one server, as two Caddy instances
// would be, sharing a clock the test moves.
func twoInstances(t *testing.T) (a, b *Client, clock *testclock.Clock, srv *redistest.Server) {
	t.Helper()
	srv = redistest.Start(t, redistest.Options{})
	clock = testclock.New()
	return newClient(t, srv, clock.Now), newClient(t, srv, clock.Now), clock, srv
}

func zone(t *testing.T, c *Client, name string) *Dedupe {
	t.Helper()
	d, err := c.Dedupe(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// expect claims key for an hour and checks what the claim found.
func expect(t *testing.T, d *Dedupe, key string, want dedupe.Result, wantStatus int) dedupe.Claim {
	t.Helper()
	c, err := d.Claim(bg, key, time.Hour)
	if err != nil || c.Result != want || (want == dedupe.Duplicate && c.Status != wantStatus) {
		t.Fatalf("Claim(%q) = %+v %v, want %v %d", key, c, err, want, wantStatus)
	}
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The memory store's answers, given across two instances: one claims,
// the other sees it in flight, then duplicate once committed; a release
// lets the other through; only the holder's token releases.
func TestDedupeClaimCommitRelease(t *testing.T) {
	ca, cb, _, _ := twoInstances(t)
	a, b := zone(t, ca, "gh"), zone(t, cb, "gh")

	first := expect(t, a, "k", dedupe.Claimed, 0)
	if first.Token == 0 {
		t.Fatal("a claim without a token")
	}
	if c := expect(t, b, "k", dedupe.InFlight, 0); !c.Until.Equal(first.Until) {
		t.Errorf("in flight until %v, want the holder's %v", c.Until, first.Until)
	}
	must(t, a.Commit(bg, "k", first.Token, 202, time.Hour))
	expect(t, b, "k", dedupe.Duplicate, 202)
	expect(t, a, "k", dedupe.Duplicate, 202)

	c := expect(t, a, "r", dedupe.Claimed, 0)
	must(t, b.Release(bg, "r", c.Token+1)) // not the holder's token: nothing
	expect(t, b, "r", dedupe.InFlight, 0)
	must(t, b.Release(bg, "r", c.Token)) // the token, from any instance
	c = expect(t, b, "r", dedupe.Claimed, 0)
	must(t, b.Release(bg, "r", c.Token))

	// releasing a committed key changes nothing
	must(t, a.Release(bg, "k", first.Token))
	expect(t, b, "k", dedupe.Duplicate, 202)

	// zones are apart
	expect(t, zone(t, cb, "other"), "k", dedupe.Claimed, 0)
	if n := a.Len(); n != 1 {
		t.Errorf("Len = %d, want 1 (the committed key)", n)
	}
}

// A claim lapses after its lease, so no claim outlives its delivery; the
// first holder can then not release the new holder's claim, and copies
// are told truthfully when the claim lapses.
func TestDedupeLease(t *testing.T) {
	ca, cb, clock, _ := twoInstances(t)
	a, b := zone(t, ca, "z"), zone(t, cb, "z")

	first, err := a.Claim(bg, "k", 10*time.Second)
	if err != nil || first.Result != dedupe.Claimed || !first.Until.Equal(clock.Now().Add(10*time.Second)) {
		t.Fatalf("claim: %+v %v", first, err)
	}
	clock.Advance(4 * time.Second)
	copy, err := b.Claim(bg, "k", 10*time.Second)
	if err != nil || copy.Result != dedupe.InFlight || copy.Until.Sub(clock.Now()) != 6*time.Second {
		t.Fatalf("copy in flight: %+v %v, want 6s left", copy, err)
	}
	clock.Advance(6 * time.Second)
	second := expect(t, b, "k", dedupe.Claimed, 0) // the first holder's lease lapsed
	if second.Token == first.Token {
		t.Fatal("the new claim has the old token")
	}
	must(t, a.Release(bg, "k", first.Token)) // too late: changes nothing
	expect(t, a, "k", dedupe.InFlight, 0)
	must(t, b.Release(bg, "k", second.Token))
	expect(t, a, "k", dedupe.Claimed, 0)
}

func TestDedupeTTL(t *testing.T) {
	ca, cb, clock, _ := twoInstances(t)
	a, b := zone(t, ca, "z"), zone(t, cb, "z")
	c := expect(t, a, "k", dedupe.Claimed, 0)
	must(t, a.Commit(bg, "k", c.Token, 200, 10*time.Minute))
	clock.Advance(9 * time.Minute)
	expect(t, b, "k", dedupe.Duplicate, 200)
	if n := b.Len(); n != 1 {
		t.Errorf("Len = %d before the TTL", n)
	}
	clock.Advance(2 * time.Minute)
	if n := b.Len(); n != 0 {
		t.Errorf("Len = %d after the TTL", n)
	}
	expect(t, b, "k", dedupe.Claimed, 0) // expired
}

// Redis itself forgets: a lease and a committed key carry a PX expiry
// at the moment they end, so an instance that dies holding a claim
// leaves nothing behind for longer than the lease.
func TestDedupeKeysExpireInRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	c := newClient(t, srv, nil)
	d := zone(t, c, "z")
	if _, err := d.Claim(bg, "k", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if ttl := c.Redis().PTTL(bg, d.key("k")).Val(); ttl <= 0 || ttl > 30*time.Second {
		t.Errorf("a lease's key expires in %v, want within the lease", ttl)
	}
	if err := d.Commit(bg, "k", 0, 200, time.Hour); err != nil {
		t.Fatal(err)
	}
	if ttl := c.Redis().PTTL(bg, d.key("k")).Val(); ttl <= 30*time.Second || ttl > time.Hour {
		t.Errorf("a committed key expires in %v, want within the TTL", ttl)
	}
}

// 100 copies of a delivery at once, on two instances: exactly one
// claims it.
func TestDedupeOneWinnerAmongRacers(t *testing.T) {
	ca, cb, _, _ := twoInstances(t)
	stores := []*Dedupe{zone(t, ca, "race"), zone(t, cb, "race")}
	for round := range 10 {
		key := "racy-" + strconv.Itoa(round)
		var mu sync.Mutex
		results := map[dedupe.Result]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 100 {
			wg.Go(func() {
				<-start
				c, err := stores[i%2].Claim(bg, key, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				results[c.Result]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		if results[dedupe.Claimed] != 1 || results[dedupe.InFlight] != 99 {
			t.Fatalf("round %d: %v, want one claimed and 99 in flight", round, results)
		}
	}
}

// A claim that go-redis sends again (after a reply lost to a broken
// connection) finds its own lease and is still claimed, not in flight.
func TestDedupeRetriedClaimIsOwn(t *testing.T) {
	ca, _, clock, _ := twoInstances(t)
	d := zone(t, ca, "z")
	call := d.claimArgs("k", clock.Now(), time.Minute, 42)
	for range 2 {
		v, err := call.s.run(bg, ca.rdb, call.keys, call.args...).Result()
		if err != nil {
			t.Fatal(err)
		}
		if c, _ := claimResult(v, clock.Now(), time.Minute, 42); c.Result != dedupe.Claimed {
			t.Fatalf("the same claim twice: %+v", c)
		}
	}
	expect(t, d, "k", dedupe.InFlight, 0)
}

// Keys start with the prefix (so an ACL key pattern such as ~wv:* can
// cover them) and a zone name cannot break out of its hash tag.
func TestDedupeKeys(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	c, err := New(Options{Addrs: []string{srv.Addr}, Prefix: "gw1:"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := zone(t, c, "a}b:{c%")
	if _, err := c.Dedupe(""); err == nil {
		t.Error("a zone without a name")
	}
	if _, err := d.Claim(bg, "key:with}braces", time.Minute); err != nil {
		t.Fatal(err)
	}
	keys := c.Redis().Keys(bg, "*").Val()
	if len(keys) != 1 || keys[0] != "gw1:dd:{a%7Db%3A%7Bc%25}:key:with}braces" {
		t.Errorf("keys %q", keys)
	}
	if !strings.HasPrefix(d.base, c.Prefix()) {
		t.Errorf("zone base %q", d.base)
	}
}
