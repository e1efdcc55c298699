package redisstore

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/dedupe"
	"github.com/webhookverify/caddy-webhook-verify/internal/journaltest"
	"github.com/webhookverify/caddy-webhook-verify/internal/redistest"
	"github.com/webhookverify/caddy-webhook-verify/internal/testclock"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// The Redis journal keeps every promise journal.Bolt does; a reopen is a
// new client (a restarted instance, or another one) on the same server.
func TestJournalConformance(t *testing.T) {
	journaltest.Run(t, journaltest.Harness{
		Open: func(t *testing.T, now func() time.Time) func() journal.Store {
			srv := redistest.Start(t, redistest.Options{})
			return func() journal.Store { return newClient(t, srv, now).Journal() }
		},
		SmallChunks: smallChunks,
	})
}

// smallChunks makes ReplayWhere and Prune work two deliveries at a time.
func smallChunks() (restore func()) {
	replay, prune := replayChunk, pruneChunk
	replayChunk, pruneChunk = 2, 2
	return func() { replayChunk, pruneChunk = replay, prune }
}

// Instance A accepts 200 deliveries, claims 50 and dies mid-attempt;
// instance B delivers the 150 at once and A's 50 when their leases run
// out. Each is delivered once; A, restarted, cannot record its stale
// attempts.
func TestJournalTakeoverAcrossInstances(t *testing.T) {
	ca, cb, clock, srv := twoInstances(t)
	a, b := ca.Journal(), cb.Journal()
	for range 200 {
		if err := a.Append(bg, &journal.Delivery{Route: "r", Body: []byte("{}"), Targets: []journal.Target{{Destination: "app"}}}); err != nil {
			t.Fatal(err)
		}
	}
	inFlight, err := a.Claim(bg, clock.Now(), 50, time.Minute, nil)
	if err != nil || len(inFlight) != 50 {
		t.Fatalf("A claimed %d: %v", len(inFlight), err)
	}
	ca.Close() // A dies
	if _, err := a.Claim(bg, clock.Now(), 1, time.Minute, nil); err == nil {
		t.Fatal("a closed client claimed")
	}

	deliver := func(want int) {
		t.Helper()
		tasks, err := b.Claim(bg, clock.Now(), 1000, time.Minute, nil)
		if err != nil || len(tasks) != want {
			t.Fatalf("B claimed %d, want %d: %v", len(tasks), want, err)
		}
		for _, task := range tasks {
			if err := b.Record(bg, task, journal.Attempt{At: clock.Now(), Status: 200}, journal.Outcome{State: journal.Delivered}); err != nil {
				t.Fatal(err)
			}
		}
	}
	deliver(150)
	clock.Advance(time.Minute - time.Microsecond)
	deliver(0)
	clock.Advance(time.Microsecond)
	deliver(50)

	restarted := newClient(t, srv, clock.Now).Journal()
	if err := restarted.Record(bg, inFlight[0], journal.Attempt{Status: 200}, journal.Outcome{State: journal.Delivered}); !errors.Is(err, journal.ErrStale) {
		t.Errorf("A's stale record: %v, want ErrStale", err)
	}
	list, err := restarted.List(bg, journal.Filter{Limit: journal.MaxListLimit})
	if err != nil || len(list) != 200 {
		t.Fatalf("listed %d: %v", len(list), err)
	}
	for _, d := range list {
		if tr := d.Targets[0]; tr.State != journal.Delivered || tr.Attempts != 1 {
			t.Fatalf("%s: %+v, want delivered once", d.ID, tr)
		}
	}
}

// Redis killed (SIGKILL) while instances append: every method fails, none
// hangs; Redis restarted on its data: the clients reconnect by
// themselves, and every delivery an Append acknowledged is there.
func TestRedisDownAndBack(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{AppendOnly: true}) // appendfsync always
	clock := testclock.New()
	c := newClient(t, srv, clock.Now)
	j := c.Journal()
	dd, err := c.Dedupe("z")
	if err != nil {
		t.Fatal(err)
	}
	lim, err := c.Limiter("z", LimitOptions{Events: 10, Window: time.Second, MaxConcurrent: 5})
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var acked []string
	enough := make(chan struct{})
	var appenders sync.WaitGroup
	for w := range 8 {
		appenders.Go(func() {
			for i := 0; ; i++ {
				d := &journal.Delivery{Route: "r", Body: fmt.Appendf(nil, `{"w":%d,"i":%d}`, w, i), Targets: []journal.Target{{Destination: "a"}}}
				if err := j.Append(bg, d); err != nil {
					return // Redis is gone: the handler would answer 503
				}
				mu.Lock()
				acked = append(acked, d.ID)
				if len(acked) == 300 {
					close(enough)
				}
				mu.Unlock()
			}
		})
	}
	<-enough
	srv.Kill() // while the appenders are mid-write
	within(t, "appending to a dead Redis", func() error { appenders.Wait(); return nil })

	task := journal.Task{Delivery: &journal.Delivery{ID: acked[0]}, Target: journal.Target{Destination: "a"}, Lease: "x"}
	down := map[string]func() error{
		"Ping": func() error { return c.Ping(bg) },
		"Append": func() error {
			return j.Append(bg, &journal.Delivery{Route: "r", Targets: []journal.Target{{Destination: "a"}}})
		},
		"Claim": func() error { _, err := j.Claim(bg, clock.Now(), 1, time.Minute, nil); return err },
		"NextDue": func() error {
			_, _, err := j.NextDue(bg, nil)
			return err
		},
		"Record": func() error { return j.Record(bg, task, journal.Attempt{}, journal.Outcome{State: journal.Dead}) },
		"Get":    func() error { _, err := j.Get(bg, acked[0]); return err },
		"List":   func() error { _, err := j.List(bg, journal.Filter{}); return err },
		"Replay": func() error { _, err := j.Replay(bg, acked[0], "", clock.Now()); return err },
		"ReplayWhere": func() error {
			_, err := j.ReplayWhere(bg, journal.Filter{State: journal.Dead}, clock.Now())
			return err
		},
		"Prune":     func() error { _, err := j.Prune(bg, func(string) time.Time { return clock.Now() }); return err },
		"SetPaused": func() error { return j.SetPaused(bg, "a", true) },
		"Paused":    func() error { _, err := j.Paused(bg); return err },
		"Stats":     func() error { _, err := j.Stats(bg); return err },
		"Since":     func() error { _, err := j.Since(bg, 0, "a", 0); return err },
		"LastSeq":   func() error { _, err := j.LastSeq(bg); return err },
		"dedupe Claim": func() error {
			_, err := dd.Claim(bg, "k", time.Minute)
			return err
		},
		"dedupe Commit":  func() error { return dd.Commit(bg, "k", 1, 200, time.Hour) },
		"dedupe Release": func() error { return dd.Release(bg, "k", 1) },
		"Acquire":        func() error { _, err := lim.Acquire(bg, "k", 0); return err },
		"Admit":          func() error { _, err := Admit(bg, dd, "k", time.Minute, lim, "k", 0); return err },
	}
	for name, fn := range down {
		began := time.Now()
		err := within(t, name, fn)
		t.Logf("%s with Redis down: %v after %v", name, err, time.Since(began))
		if err == nil {
			t.Errorf("%s succeeded with Redis down", name)
		}
	}

	srv.Restart()
	reconnected(t, c)
	for _, id := range acked {
		d, err := j.Get(bg, id)
		if err != nil {
			t.Fatalf("acknowledged %s lost: %v", id, err)
		}
		if len(d.Body) == 0 || d.Targets[0].State != journal.Pending {
			t.Fatalf("acknowledged %s came back as %+v", id, d)
		}
	}
	// their positions came back too: Since pages through every one, in order
	followed := map[string]bool{}
	for after := uint64(0); ; {
		page, err := j.Since(bg, after, "a", journal.MaxListLimit)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, d := range page {
			if d.Seq <= after {
				t.Fatalf("Since(%d) after the restart returned %s at %d", after, d.ID, d.Seq)
			}
			after, followed[d.ID] = d.Seq, true
		}
	}
	for _, id := range acked {
		if !followed[id] {
			t.Fatalf("acknowledged %s missing from Since after the restart", id)
		}
	}
	if err := j.Append(bg, &journal.Delivery{Route: "r", Targets: []journal.Target{{Destination: "a"}}}); err != nil {
		t.Errorf("Append after the restart: %v", err)
	}
	if tasks, err := j.Claim(bg, clock.Now(), 1000, time.Minute, nil); err != nil || len(tasks) < len(acked)+1 {
		t.Errorf("claimed %d after the restart, %d acknowledged: %v", len(tasks), len(acked)+1, err)
	}
	if c, err := dd.Claim(bg, "k2", time.Minute); err != nil || c.Result != dedupe.Claimed {
		t.Errorf("dedupe after the restart: %+v %v", c, err)
	}
	if _, err := lim.Acquire(bg, "k2", 0); err != nil {
		t.Errorf("rate limit after the restart: %v", err)
	}
	t.Logf("%d acknowledged appends, all there after SIGKILL and restart", len(acked))
}

// A Redis that accepts connections and never answers: every method fails
// once the client's timeout has passed, none hangs.
func TestRedisHangs(t *testing.T) {
	c, err := New(Options{Addrs: []string{silentServer(t)}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dd, _ := c.Dedupe("z")
	lim, _ := c.Limiter("z", LimitOptions{Events: 1, Window: time.Second})
	j := c.Journal()
	calls := map[string]func() error{
		"Append": func() error {
			return j.Append(bg, &journal.Delivery{Route: "r", Targets: []journal.Target{{Destination: "a"}}})
		},
		"Claim": func() error { _, err := j.Claim(bg, time.Now(), 1, time.Minute, nil); return err },
		"dedupe Claim": func() error {
			_, err := dd.Claim(bg, "k", time.Minute)
			return err
		},
		"Acquire": func() error { _, err := lim.Acquire(bg, "k", 0); return err },
		"Admit":   func() error { _, err := Admit(bg, dd, "k", time.Minute, lim, "k", 0); return err },
	}
	for name, fn := range calls {
		if err := within(t, name, fn); err == nil {
			t.Errorf("%s succeeded against a silent server", name)
		} else {
			t.Logf("%s against a silent server: %v", name, err)
		}
	}
	if n := dd.Len(); n != 0 {
		t.Errorf("Len = %d with no answer", n)
	}
}

// reconnected waits until c answers again after its server restarted.
func reconnected(t *testing.T, c *Client) {
	t.Helper()
	within(t, "reconnecting", func() error {
		for c.Ping(bg) != nil {
			time.Sleep(10 * time.Millisecond) // go-redis redials in the background
		}
		return nil
	})
}

// Positions in Redis: Prune leaves no index entry behind (with every
// delivery pruned, the Seq zsets are gone; the counter stays), and a
// Redis killed (SIGKILL) and restarted on its AOF goes on counting from
// where it was, never giving a Seq twice.
func TestJournalSeqAcrossPruneAndRestart(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{AppendOnly: true}) // appendfsync always
	clock := testclock.New()
	c := newClient(t, srv, clock.Now)
	j := c.Journal()
	var last uint64
	for range 5 {
		d := &journal.Delivery{Route: "r", Body: []byte("{}"), Targets: []journal.Target{{Destination: "a"}, {Destination: "stream:dev"}}}
		must(t, j.Append(bg, d))
		last = d.Seq
	}
	tasks, err := j.Claim(bg, clock.Now(), 100, time.Minute, nil)
	if err != nil || len(tasks) != 10 {
		t.Fatalf("claimed %d: %v", len(tasks), err)
	}
	for _, task := range tasks {
		must(t, j.Record(bg, task, journal.Attempt{Status: 200}, journal.Outcome{State: journal.Delivered}))
	}
	clock.Advance(time.Hour)
	if n, err := j.Prune(bg, func(string) time.Time { return clock.Now() }); n != 5 || err != nil {
		t.Fatalf("Prune = %d %v, want 5", n, err)
	}
	keys, err := c.rdb.Keys(bg, j.j+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{j.j + "seq"}) {
		t.Errorf("keys left after pruning everything: %q, want only the Seq counter", keys)
	}

	srv.Kill()
	srv.Restart()
	reconnected(t, c)
	if got, err := j.LastSeq(bg); got != last || err != nil {
		t.Fatalf("LastSeq after the restart = %d %v, want %d", got, err, last)
	}
	d := &journal.Delivery{Route: "r", Targets: []journal.Target{{Destination: "stream:dev"}}}
	must(t, j.Append(bg, d))
	if d.Seq <= last {
		t.Errorf("Seq %d after the restart, want above %d", d.Seq, last)
	}
	got, err := j.Since(bg, 0, "stream:dev", 0)
	if err != nil || len(got) != 1 || got[0].ID != d.ID || got[0].Seq != d.Seq {
		t.Errorf("Since after the restart: %+v %v, want only %s", got, err, d.ID)
	}
}
