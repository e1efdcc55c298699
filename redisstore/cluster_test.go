package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webhookverify/caddy-webhook-verify/dedupe"
	"github.com/webhookverify/caddy-webhook-verify/internal/journaltest"
	"github.com/webhookverify/caddy-webhook-verify/internal/redistest"
	"github.com/webhookverify/caddy-webhook-verify/internal/testclock"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// Every store on a real Redis Cluster of three masters: the scripts touch
// only keys of one hash slot, so nothing is refused as cross-slot, and
// dedupe zones and rate-limit keys spread over the nodes.
func TestCluster(t *testing.T) {
	var addrs []string
	for _, node := range redistest.StartCluster(t, 3) {
		addrs = append(addrs, node.Addr)
	}
	connect := func(t *testing.T, prefix string, now func() time.Time) *Client {
		t.Helper()
		c, err := New(Options{Addrs: addrs, Prefix: prefix, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	t.Run("journal", func(t *testing.T) {
		n := 0
		journaltest.Run(t, journaltest.Harness{
			// one cluster, a fresh prefix per test
			Open: func(t *testing.T, now func() time.Time) func() journal.Store {
				n++
				prefix := "j" + strconv.Itoa(n) + ":"
				return func() journal.Store { return connect(t, prefix, now).Journal() }
			},
			SmallChunks: smallChunks,
		})
	})

	t.Run("dedupe and rate limit", func(t *testing.T) {
		clock := testclock.New()
		a, b := connect(t, "wv:", clock.Now), connect(t, "wv:", clock.Now)
		for i := range 30 {
			z := fmt.Sprintf("zone-%d", i)
			da, db := zone(t, a, z), zone(t, b, z)
			c := expect(t, da, "k", dedupe.Claimed, 0)
			expect(t, db, "k", dedupe.InFlight, 0)
			must(t, da.Commit(bg, "k", c.Token, 202, time.Hour))
			expect(t, db, "k", dedupe.Duplicate, 202)
			if n := db.Len(); n != 1 {
				t.Fatalf("%s: Len %d", z, n)
			}
		}
		o := LimitOptions{Events: 5, Window: time.Minute, MaxConcurrent: 3}
		la, lb := limiter(t, a, o), limiter(t, b, o)
		for i := range 30 {
			key := fmt.Sprintf("sender-%d", i)
			passed := 0
			for j := range 12 {
				release, err := []*Limiter{la, lb}[j%2].Acquire(bg, key, 0)
				if err == nil {
					passed++
					release()
				}
			}
			if passed != 5 {
				t.Fatalf("%s: %d of 12 passed", key, passed)
			}
		}
		d := zone(t, a, "admit")
		adm, err := Admit(bg, d, "k", time.Minute, limiter(t, a, LimitOptions{Events: 1, Window: time.Second}), "fresh", 0)
		if err != nil || adm.Claim.Result != dedupe.Claimed {
			t.Fatalf("Admit on a cluster: %+v %v", adm, err)
		}
		must(t, adm.Done(bg, true, 200, time.Hour))
		expect(t, d, "k", dedupe.Duplicate, 200)

		// the keys are spread: every master holds some
		cluster := a.Redis().(*redis.ClusterClient)
		err = cluster.ForEachMaster(bg, func(ctx context.Context, node *redis.Client) error {
			if n := node.DBSize(ctx).Val(); n == 0 {
				return fmt.Errorf("master %s holds no key", node.Options().Addr)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
}
