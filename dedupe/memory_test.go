package dedupe

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is an injectable clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1700000000, 0)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newStore(t testing.TB, o Options) *Memory {
	t.Helper()
	m, err := NewMemory(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

var bg = context.Background()

// expect claims key for an hour and checks what the claim found.
func expect(t *testing.T, m *Memory, key string, want Result, wantStatus int) Claim {
	t.Helper()
	c, err := m.Claim(bg, key, time.Hour)
	if err != nil || c.Result != want || (want == Duplicate && c.Status != wantStatus) {
		t.Fatalf("Claim(%q) = %+v %v, want %v %d", key, c, err, want, wantStatus)
	}
	return c
}

// claimed reports whether a claim on key for an hour wins.
func claimed(m *Memory, key string) bool {
	c, _ := m.Claim(bg, key, time.Hour)
	return c.Result == Claimed
}

func TestClaimCommitRelease(t *testing.T) {
	clk := newClock()
	m := newStore(t, Options{Now: clk.now, SweepEvery: time.Hour})

	expect(t, m, "a", Claimed, 0)
	expect(t, m, "a", InFlight, 0)
	m.Commit(bg, "a", 0, 202, time.Hour)
	expect(t, m, "a", Duplicate, 202)

	b := expect(t, m, "b", Claimed, 0)
	m.Release(bg, "b", b.Token)
	b = expect(t, m, "b", Claimed, 0) // the provider's retry goes through
	m.Release(bg, "b", b.Token)

	// Releasing a committed key changes nothing.
	m.Release(bg, "a", 0)
	expect(t, m, "a", Duplicate, 202)

	// After the sweep the key lives only in the cache; still a duplicate.
	m.Sweep()
	if n := mapLen(m); n != 0 {
		t.Fatalf("%d keys left in the shard maps after a sweep", n)
	}
	expect(t, m, "a", Duplicate, 202)
	if n := m.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1", n)
	}
}

// A claim lapses after its lease, so no claim outlives its delivery; the
// first holder can then neither release the new holder's claim nor is it
// told anything but the truth about when the claim lapses.
func TestClaimLease(t *testing.T) {
	clk := newClock()
	m := newStore(t, Options{Now: clk.now, SweepEvery: time.Hour})

	first, _ := m.Claim(bg, "k", 10*time.Second)
	if first.Result != Claimed || !first.Until.Equal(clk.now().Add(10*time.Second)) {
		t.Fatalf("claim: %+v", first)
	}
	clk.advance(4 * time.Second)
	copy, _ := m.Claim(bg, "k", 10*time.Second)
	if copy.Result != InFlight || copy.Until.Sub(clk.now()) != 6*time.Second {
		t.Fatalf("copy in flight: %+v, want 6s left", copy)
	}
	clk.advance(6 * time.Second)
	second := expect(t, m, "k", Claimed, 0) // the first holder's lease lapsed
	if second.Token == first.Token {
		t.Fatal("the new claim has the old token")
	}
	m.Release(bg, "k", first.Token) // too late: changes nothing
	expect(t, m, "k", InFlight, 0)
	m.Release(bg, "k", second.Token)
	expect(t, m, "k", Claimed, 0)

	// A lapsed claim is swept away.
	clk.advance(2 * time.Hour)
	m.Sweep()
	if n := mapLen(m); n != 0 {
		t.Fatalf("%d lapsed claims left after a sweep", n)
	}
}

func TestTTLExpiry(t *testing.T) {
	clk := newClock()
	m := newStore(t, Options{Now: clk.now, SweepEvery: time.Hour})

	expect(t, m, "k", Claimed, 0)
	m.Commit(bg, "k", 0, 200, 10*time.Minute)
	clk.advance(9 * time.Minute)
	expect(t, m, "k", Duplicate, 200)
	clk.advance(2 * time.Minute)
	expect(t, m, "k", Claimed, 0) // expired while still in the shard map
	m.Commit(bg, "k", 0, 200, 10*time.Minute)

	m.Sweep()
	clk.advance(9 * time.Minute)
	expect(t, m, "k", Duplicate, 200)
	clk.advance(2 * time.Minute)
	expect(t, m, "k", Claimed, 0) // expired in the cache
}

func TestOneWinnerAmongRacers(t *testing.T) {
	m := newStore(t, Options{SweepEvery: time.Millisecond})
	for round := range 20 {
		key := "racy-" + strconv.Itoa(round)
		var claimed, inflight, dup atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 100 {
			wg.Go(func() {
				<-start
				switch c, _ := m.Claim(bg, key, time.Hour); c.Result {
				case Claimed:
					claimed.Add(1)
					m.Commit(bg, key, 0, 200, time.Hour)
				case InFlight:
					inflight.Add(1)
				case Duplicate:
					dup.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if claimed.Load() != 1 || inflight.Load()+dup.Load() != 99 {
			t.Fatalf("round %d: %d claimed, %d in flight, %d duplicate", round, claimed.Load(), inflight.Load(), dup.Load())
		}
	}
}

// 100k distinct keys, each sent twice at the same time, with sweeps moving
// keys into the cache all the while: no key is ever claimed twice.
func TestNoDuplicateBelowCapacity(t *testing.T) {
	const n = 100_000
	m := newStore(t, Options{MaxEntries: 2 * n, SweepEvery: time.Millisecond})
	var passedTwice, claims atomic.Int64
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0) * 4
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				key := "delivery-" + strconv.Itoa(i)
				var won atomic.Int32
				var pair sync.WaitGroup
				for range 2 {
					pair.Go(func() {
						if claimed(m, key) {
							claims.Add(1)
							if won.Add(1) > 1 {
								passedTwice.Add(1)
							}
							m.Commit(bg, key, 0, 200, time.Hour)
						}
					})
				}
				pair.Wait()
			}
		})
	}
	wg.Wait()
	if passedTwice.Load() != 0 || claims.Load() != n {
		t.Fatalf("%d keys passed twice, %d claims for %d keys", passedTwice.Load(), claims.Load(), n)
	}
	// And later redeliveries of every key, after the cache took them over.
	m.Sweep()
	m.Sweep()
	for i := range n {
		if c, _ := m.Claim(bg, "delivery-"+strconv.Itoa(i), time.Hour); c.Result != Duplicate {
			t.Fatalf("redelivery of key %d: %v", i, c.Result)
		}
	}
}

// Over capacity the store forgets the least useful keys instead of growing.
func TestBoundedByMaxEntries(t *testing.T) {
	m := newStore(t, Options{MaxEntries: 1000, SweepEvery: time.Hour})
	for i := range 20_000 {
		key := strconv.Itoa(i)
		if claimed(m, key) {
			m.Commit(bg, key, 0, 200, time.Hour)
		}
		if i%1000 == 0 {
			m.Sweep()
		}
	}
	for range sweepsBeforeGivingUp + 1 {
		m.Sweep()
	}
	if held, inMap := m.Len(), mapLen(m); held > 1100 || inMap > 0 {
		t.Fatalf("Len %d (want <= ~1000), %d keys left in shard maps", held, inMap)
	}
}

func TestOptions(t *testing.T) {
	if _, err := NewMemory(Options{MaxEntries: -1}); err == nil {
		t.Fatal("negative MaxEntries accepted")
	}
	m := newStore(t, Options{})
	if m.MaxEntries() != DefaultMaxEntries {
		t.Fatalf("default MaxEntries %d", m.MaxEntries())
	}
	m.Close()
	m.Close() // twice is fine
}

func mapLen(m *Memory) int {
	n := 0
	for i := range m.shards {
		m.shards[i].mu.Lock()
		n += len(m.shards[i].keys)
		m.shards[i].mu.Unlock()
	}
	return n
}

// BenchmarkClaimCommit is the store's cost per delivery: one claim that
// wins and one commit, with distinct keys as real deliveries have.
func BenchmarkClaimCommit(b *testing.B) {
	m := newStore(b, Options{MaxEntries: 10_000_000})
	keys := make([]string, 1<<20)
	for i := range keys {
		keys[i] = fmt.Sprintf("72d3162e-cc78-11e3-81ab-%012d", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := keys[i%len(keys)] + strconv.Itoa(i/len(keys))
		i++
		if !claimed(m, key) {
			b.Fatalf("claim %d lost", i)
		}
		m.Commit(bg, key, 0, 200, time.Hour)
	}
}

func BenchmarkClaimCommitParallel(b *testing.B) {
	m := newStore(b, Options{MaxEntries: 10_000_000})
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := "delivery-" + strconv.FormatInt(next.Add(1), 10)
			if !claimed(m, key) {
				b.Fatal("claim lost")
			}
			m.Commit(bg, key, 0, 200, time.Hour)
		}
	})
}

// BenchmarkMemoryPerID remembers one million ids and reports the heap they
// take, per id, once the sweeps have moved them into the cache.
func BenchmarkMemoryPerID(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m, err := NewMemory(Options{MaxEntries: n, SweepEvery: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			key := "72d3162e-cc78-11e3-81ab-" + strconv.Itoa(i)
			m.Claim(bg, key, time.Hour)
			m.Commit(bg, key, 0, 200, 24*time.Hour)
			if i%10_000 == 0 {
				m.Sweep()
			}
		}
		for range sweepsBeforeGivingUp + 1 {
			m.Sweep()
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held := m.Len()
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "bytes/id")
		b.ReportMetric(float64(held), "ids-held")
		m.Close()
	}
}
