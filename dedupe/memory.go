package dedupe

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// Memory is the in-process Store. Claims are decided under a sharded lock
// of its own; remembered keys live in a ristretto cache bounded by
// MaxEntries, which evicts the least useful keys when full.
//
// Ristretto is not a set: a new key becomes visible to Get only after its
// buffered write is applied, and a write can be dropped under contention.
// So a committed key also stays in the shard map, where every claim sees
// it, until a sweep has seen it in the cache (or, with the cache full and
// refusing it, until a few sweeps have passed). While the cache is below
// MaxEntries, no committed key is ever forgotten before its TTL.
type Memory struct {
	shards     [numShards]shard
	seed       maphash.Seed
	cache      *ristretto.Cache[string, entry]
	maxEntries int64
	now        func() time.Time
	held       atomic.Int64 // keys the cache holds, roughly
	tokens     atomic.Uint64
	stop       chan struct{}
	stopped    sync.WaitGroup
	closeOnce  sync.Once
}

const numShards = 64

// sweepsBeforeGivingUp bounds how long a committed key that the cache keeps
// refusing (it is full) is held in the shard map.
const sweepsBeforeGivingUp = 5

type shard struct {
	mu   sync.Mutex
	keys map[string]claim
}

// claim is a key in flight, or committed and not yet confirmed in the cache.
type claim struct {
	committed bool
	queued    bool // the cache took the write (and counts it in held)
	entry     entry
	sweeps    int
	until     int64  // in flight: when the lease lapses, Unix nanoseconds
	token     uint64 // in flight: the holder
}

// entry is what the cache keeps per key, packed into one word so a million
// keys take little memory: the expiry in Unix milliseconds above the
// app's status code. The expiry is checked against the injected clock; the
// cache's own TTL (a little longer) only frees the memory.
type entry uint64

func newEntry(expires time.Time, status int) entry {
	return entry(uint64(expires.UnixMilli())<<10 | uint64(status&0x3ff))
}

func (e entry) expired(now time.Time) bool { return int64(e>>10) <= now.UnixMilli() }
func (e entry) status() int                { return int(e & 0x3ff) }

// Options configure a Memory store.
type Options struct {
	// MaxEntries bounds how many keys are remembered; default 1,000,000.
	MaxEntries int64
	// Now is the clock; default time.Now.
	Now func() time.Time
	// SweepEvery is how often committed keys are moved over to the cache;
	// default one second.
	SweepEvery time.Duration
}

// DefaultMaxEntries is the default bound on remembered keys.
const DefaultMaxEntries = 1_000_000

// NewMemory makes an in-process store. Close it when done.
func NewMemory(o Options) (*Memory, error) {
	if o.MaxEntries == 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxEntries < 0 {
		return nil, errors.New("max_entries must be positive")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = time.Second
	}
	m := &Memory{seed: maphash.MakeSeed(), maxEntries: o.MaxEntries, now: o.Now, stop: make(chan struct{})}
	for i := range m.shards {
		m.shards[i].keys = make(map[string]claim)
	}
	var err error
	m.cache, err = ristretto.NewCache(&ristretto.Config[string, entry]{
		// ten counters per entry is ristretto's advice for admission accuracy
		NumCounters:        o.MaxEntries,
		MaxCost:            o.MaxEntries,
		BufferItems:        64,
		IgnoreInternalCost: true,
		OnEvict:            func(*ristretto.Item[entry]) { m.held.Add(-1) },
		OnReject:           func(*ristretto.Item[entry]) { m.held.Add(-1) },
	})
	if err != nil {
		return nil, err
	}
	m.stopped.Add(1)
	go m.sweepLoop(o.SweepEvery)
	return m, nil
}

// MaxEntries is the bound the store was made with.
func (m *Memory) MaxEntries() int64 { return m.maxEntries }

func (m *Memory) shard(key string) *shard {
	return &m.shards[maphash.String(m.seed, key)%numShards]
}

// Claim implements Store.
func (m *Memory) Claim(_ context.Context, key string, lease time.Duration) (Claim, error) {
	now := m.now()
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.keys[key]; ok {
		switch {
		case !c.committed && now.UnixNano() < c.until:
			return Claim{Result: InFlight, Until: time.Unix(0, c.until)}, nil
		case c.committed && !c.entry.expired(now):
			return Claim{Result: Duplicate, Status: c.entry.status()}, nil
		}
		delete(s.keys, key) // expired, or a lease that lapsed
	}
	if e, ok := m.cache.Get(key); ok && !e.expired(now) {
		return Claim{Result: Duplicate, Status: e.status()}, nil
	}
	until := now.Add(lease)
	c := claim{until: until.UnixNano(), token: m.tokens.Add(1)}
	s.keys[key] = c
	return Claim{Result: Claimed, Until: until, Token: c.token}, nil
}

// Commit implements Store. Remembering a delivery the app took is right
// even when the claim lapsed meanwhile, so the token is not checked.
func (m *Memory) Commit(_ context.Context, key string, _ uint64, status int, ttl time.Duration) error {
	e := newEntry(m.now().Add(ttl), status)
	s := m.shard(key)
	s.mu.Lock()
	s.keys[key] = claim{committed: true, entry: e, queued: m.set(key, e, ttl)}
	s.mu.Unlock()
	return nil
}

// set writes to the cache, with a TTL a little past the entry's so the
// injected clock, not the cache, decides expiry. It never blocks: a write
// the cache's buffer has no room for is dropped (and retried by Sweep).
func (m *Memory) set(key string, e entry, ttl time.Duration) bool {
	if m.cache.SetWithTTL(key, e, 1, ttl+time.Minute) {
		m.held.Add(1)
		return true
	}
	return false
}

// Release implements Store.
func (m *Memory) Release(_ context.Context, key string, token uint64) error {
	s := m.shard(key)
	s.mu.Lock()
	if c, ok := s.keys[key]; ok && !c.committed && c.token == token {
		delete(s.keys, key)
	}
	s.mu.Unlock()
	return nil
}

// Len implements Sizer: the keys the cache holds (or has queued) plus
// those committed whose write it dropped.
func (m *Memory) Len() int {
	n := int(m.held.Load())
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for _, c := range s.keys {
			if c.committed && !c.queued {
				n++
			}
		}
		s.mu.Unlock()
	}
	return max(n, 0)
}

func (m *Memory) sweepLoop(every time.Duration) {
	defer m.stopped.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			m.Sweep()
		case <-m.stop:
			return
		}
	}
}

// Sweep moves committed keys over to the cache: once the cache has applied
// a key's write, the shard map forgets it. A write the cache dropped is
// retried; expired keys are forgotten.
func (m *Memory) Sweep() {
	m.cache.Wait() // every write issued before now is applied
	now := m.now()
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for key, c := range s.keys {
			if !c.committed {
				if now.UnixNano() >= c.until {
					delete(s.keys, key) // a lease that lapsed unreleased
				}
				continue
			}
			switch e, ok := m.cache.Get(key); {
			case c.entry.expired(now):
				delete(s.keys, key)
			case ok && e == c.entry:
				delete(s.keys, key)
			case c.sweeps >= sweepsBeforeGivingUp:
				// the cache is full and keeps refusing it
				delete(s.keys, key)
			default:
				c.sweeps++
				if !c.queued {
					c.queued = m.set(key, c.entry, time.Duration(int64(c.entry>>10)-now.UnixMilli())*time.Millisecond)
				}
				s.keys[key] = c
			}
		}
		s.mu.Unlock()
	}
}

// Close stops the sweeper and frees the cache.
func (m *Memory) Close() {
	m.closeOnce.Do(func() {
		close(m.stop)
		m.stopped.Wait()
		m.cache.Close()
	})
}

var (
	_ Store = (*Memory)(nil)
	_ Sizer = (*Memory)(nil)
)
