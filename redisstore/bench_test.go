package redisstore

import (
	"cmp"
	"errors"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/dedupe"
	"github.com/webhookverify/caddy-webhook-verify/internal/journaltest"
	"github.com/webhookverify/caddy-webhook-verify/internal/redistest"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// BenchmarkDeliveryRoundTrips is what dedupe and a rate limit (with
// max_concurrent) cost per delivery on the way to the app, counted on the
// wire: through the stores one by one (claim, acquire, commit, slot back)
// and through Admit and Done. One delivery at a time, over loopback, so
// ns/op is the added latency.
func BenchmarkDeliveryRoundTrips(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	c := newClient(b, srv, nil)
	trips := countTrips(c)
	d, err := c.Dedupe("bench")
	if err != nil {
		b.Fatal(err)
	}
	withCap, err := c.Limiter("bench", LimitOptions{Events: 1 << 30, Window: time.Second, MaxConcurrent: 64})
	if err != nil {
		b.Fatal(err)
	}
	noCap, err := c.Limiter("bench-nocap", LimitOptions{Events: 1 << 30, Window: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	key := func() string { return "evt_" + strconv.FormatInt(n.Add(1), 10) }
	separate := func(l *Limiter) func() error {
		return func() error {
			k := key()
			claim, err := d.Claim(bg, k, time.Minute)
			if err != nil || claim.Result != dedupe.Claimed {
				return cmp.Or(err, errors.New("not claimed"))
			}
			release, err := l.Acquire(bg, "gh", 0)
			if err != nil {
				return err
			}
			if err := d.Commit(bg, k, claim.Token, 202, time.Hour); err != nil {
				return err
			}
			release()
			return nil
		}
	}
	cases := []struct {
		name string
		one  func() error // one delivery
	}{
		{"stores/rate_limit", separate(noCap)},
		{"stores/rate_limit+max_concurrent", separate(withCap)},
		{"admit/rate_limit+max_concurrent", func() error {
			a, err := Admit(bg, d, key(), time.Minute, withCap, "gh", 0)
			if err != nil || a.Claim.Result != dedupe.Claimed {
				return cmp.Or(err, errors.New("not claimed"))
			}
			return a.Done(bg, true, 202, time.Hour)
		}},
	}
	for _, tc := range cases {
		// the first run of a script loads it: not what a delivery costs
		if err := tc.one(); err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			before := trips.n.Load()
			for b.Loop() {
				if err := tc.one(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(trips.n.Load()-before)/float64(b.N), "round-trips/delivery")
		})
	}
}

// BenchmarkAppend is a burst of webhooks (journaltest.BenchAppend: 64
// concurrent appenders, 1 KiB bodies) on journal.Bolt (the real disk,
// t.TempDir, fsync'd) and, in the same run, on Redis with each
// persistence setting.
func BenchmarkAppend(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) journal.Store
	}{
		{"bolt", func(b *testing.B) journal.Store {
			j, err := journal.OpenBolt(filepath.Join(b.TempDir(), "j.db"), journal.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { j.Close() })
			return j
		}},
		{"redis/appendfsync_always", redisJournal(redistest.Options{AppendOnly: true, Fsync: "always"})},
		{"redis/appendfsync_everysec", redisJournal(redistest.Options{AppendOnly: true, Fsync: "everysec"})},
		{"redis/no_aof", redisJournal(redistest.Options{})},
	}
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) { journaltest.BenchAppend(b, s.open(b)) })
	}
}

func redisJournal(o redistest.Options) func(b *testing.B) journal.Store {
	return func(b *testing.B) journal.Store {
		srv := redistest.Start(b, o)
		c, err := New(Options{Addrs: []string{srv.Addr}, PoolSize: journaltest.Appenders})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c.Journal()
	}
}
