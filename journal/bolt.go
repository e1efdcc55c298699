package journal

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bolt is the embedded Store: one bbolt file, written by one process at a
// time (bbolt locks the file; a second opener waits LockTimeout, then
// fails). Share one Bolt between the old and the new config during a Caddy
// reload rather than opening the file twice.
//
// Writes go through bbolt's DB.Batch, which folds the writes of concurrent
// callers into one transaction and one fsync (group commit): many handlers
// appending at once share the cost of the disk flush.
type Bolt struct {
	db  *bolt.DB
	now func() time.Time
}

// Options configure OpenBolt.
type Options struct {
	// Now is the clock for Updated times, Append's defaults and Prune's
	// bookkeeping; default time.Now.
	Now func() time.Time
	// LockTimeout is how long OpenBolt waits for another process (or
	// another Bolt in this one) to let go of the file; default 5s.
	LockTimeout time.Duration
	// MaxBatchDelay is how long a write waits for others to share its
	// transaction; default 1ms. Longer batches more per fsync, but every
	// write waits that long; 1ms did best in BenchmarkAppend (64
	// concurrent appenders) against 0.5, 2, 5 and 10ms.
	MaxBatchDelay time.Duration
	// MaxSize bounds the file in bytes; 0 means no bound. Beyond it writes
	// fail as they would on a full disk, and Append's caller answers 503.
	MaxSize int
	// MmapSize is how much of the file is mapped from the start; default
	// DefaultMmapSize (0 on Windows, where it would grow the file to it,
	// and on 32-bit systems, short of address space).
	MmapSize int

	// openFile replaces os.OpenFile, for tests that make the file refuse
	// writes.
	openFile func(name string, flag int, perm os.FileMode) (*os.File, error)
}

// Defaults for Options.
const (
	DefaultLockTimeout   = 5 * time.Second
	DefaultMaxBatchDelay = time.Millisecond
	DefaultMmapSize      = 1 << 30
)

// Buckets. Records are JSON (read by people through the admin API, and
// small next to the body, which is stored raw in a bucket of its own so
// that List never reads it).
var (
	bucketDeliveries = []byte("deliveries") // id → deliveryRecord
	bucketBodies     = []byte("bodies")     // id → body
	bucketTargets    = []byte("targets")    // targetKey → targetRecord
	bucketDue        = []byte("due")        // dueKey → nothing: every pending target
	bucketOpen       = []byte("open")       // id → nothing: deliveries with a pending target
	bucketDone       = []byte("done")       // doneKey → nothing: finished deliveries
	bucketCounts     = []byte("counts")     // countKey → uint64
	bucketPaused     = []byte("paused")     // destination → nothing
	// bucketSeq's own sequence (NextSequence) is the last Seq assigned: it
	// is bumped in Append's transaction, so a rolled-back Append gives its
	// number back while a committed one keeps it for good, and deleting
	// keys (Prune) never lowers it.
	bucketSeq     = []byte("seq")     // seqKey → id: every delivery, in commit order
	bucketDestSeq = []byte("destseq") // destSeqKey → id: each destination's deliveries, in commit order
	allBuckets    = [][]byte{bucketDeliveries, bucketBodies, bucketTargets, bucketDue, bucketOpen, bucketDone, bucketCounts, bucketPaused, bucketSeq, bucketDestSeq}
)

// deliveryRecord is a Delivery as stored: without its body and targets,
// with when its last target finished (zero while one is pending), which
// locates its doneKey.
type deliveryRecord struct {
	Delivery
	Finished time.Time `json:"finished,omitzero"`
}

// targetRecord is a Target as stored, with what Claim and Record need
// without reading the delivery.
type targetRecord struct {
	Target
	Route string `json:"route"`
	Lease string `json:"lease,omitempty"`
}

// OpenBolt opens (or creates) the journal at path, creating its directory
// (0700) if needed.
func OpenBolt(path string, o Options) (*Bolt, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.MaxBatchDelay <= 0 {
		o.MaxBatchDelay = DefaultMaxBatchDelay
	}
	if o.MmapSize == 0 && runtime.GOOS != "windows" && strconv.IntSize == 64 {
		o.MmapSize = DefaultMmapSize
	}
	if o.MaxSize > 0 {
		o.MmapSize = min(o.MmapSize, o.MaxSize)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:  o.LockTimeout,
		MaxSize:  o.MaxSize,
		OpenFile: o.openFile,
		// The freelist is rebuilt by a scan at open instead of written on
		// every commit: less to fsync per Append (etcd does the same).
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// Mapping ahead of the file means a growing journal need not
		// remap, and a remap waits for every read transaction: a long
		// List would otherwise stall Append. (Address space only, except
		// on Windows, where bbolt grows the file to the mapping.)
		InitialMmapSize: o.MmapSize,
	})
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	db.MaxBatchDelay = o.MaxBatchDelay
	if err := createBuckets(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	return &Bolt{db: db, now: o.Now}, nil
}

// createBuckets makes the buckets a new journal lacks. It writes only
// when one is missing, so an existing journal on a file that refuses
// writes still opens (and reads), and Append is what reports the trouble.
func createBuckets(db *bolt.DB) error {
	missing := false
	db.View(func(tx *bolt.Tx) error {
		missing = slices.ContainsFunc(allBuckets, func(name []byte) bool { return tx.Bucket(name) == nil })
		return nil
	})
	if !missing {
		return nil
	}
	return db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
}

// Close implements Store.
func (b *Bolt) Close() error { return b.db.Close() }

// Path is the file the journal lives in.
func (b *Bolt) Path() string { return b.db.Path() }

// validName refuses names that would break the keys.
func validName(what, s string) error {
	if s == "" {
		return fmt.Errorf("journal: empty %s", what)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("journal: %s %q contains a NUL", what, s)
	}
	return nil
}

// Append implements Store.
func (b *Bolt) Append(ctx context.Context, d *Delivery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := b.now()
	if d.Received.IsZero() {
		d.Received = now
	}
	if d.ID == "" {
		d.ID = NewID(d.Received)
	}
	if err := validName("id", d.ID); err != nil {
		return err
	}
	if err := validName("route", d.Route); err != nil {
		return err
	}
	if len(d.Targets) == 0 {
		return errors.New("journal: a delivery needs at least one target")
	}
	targets := make([][]byte, len(d.Targets))
	for i := range d.Targets {
		t := &d.Targets[i]
		if err := validName("destination", t.Destination); err != nil {
			return err
		}
		if slices.ContainsFunc(d.Targets[:i], func(o Target) bool { return o.Destination == t.Destination }) {
			return fmt.Errorf("journal: destination %q twice", t.Destination)
		}
		t.State, t.Updated = Pending, now
		if t.Next.IsZero() {
			t.Next = now
		}
		var err error
		if targets[i], err = json.Marshal(targetRecord{Target: *t, Route: d.Route}); err != nil {
			return err
		}
	}
	rec := deliveryRecord{Delivery: *d}
	rec.Body, rec.Targets, rec.Seq = nil, nil, 0 // the Seq is spliced in by withSeq
	delivery, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	id := []byte(d.ID)
	// Batch may run this more than once (when another call in its batch
	// fails): a failed run is rolled back, its Seq included, and the next
	// run takes a number again. So seq holds the last run's, the one that
	// committed, and d.Seq is set only once Batch says it did.
	var seq uint64
	err = b.db.Batch(func(tx *bolt.Tx) error {
		deliveries := tx.Bucket(bucketDeliveries)
		if deliveries.Get(id) != nil {
			return ErrExists
		}
		bySeq := tx.Bucket(bucketSeq)
		var err error
		if seq, err = bySeq.NextSequence(); err != nil {
			return err
		}
		if err := deliveries.Put(id, withSeq(delivery, seq)); err != nil {
			return err
		}
		if err := bySeq.Put(seqKey(seq), id); err != nil {
			return err
		}
		if err := tx.Bucket(bucketBodies).Put(id, d.Body); err != nil {
			return err
		}
		if err := tx.Bucket(bucketOpen).Put(id, nil); err != nil {
			return err
		}
		for i, t := range d.Targets {
			if err := tx.Bucket(bucketTargets).Put(targetKey(d.ID, t.Destination), targets[i]); err != nil {
				return err
			}
			if err := tx.Bucket(bucketDue).Put(dueKey(d.Route, t.Destination, t.Next, d.ID), nil); err != nil {
				return err
			}
			if err := tx.Bucket(bucketDestSeq).Put(destSeqKey(t.Destination, seq), id); err != nil {
				return err
			}
			if err := addCount(tx, d.Route, t.Destination, Pending, 1); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.Seq = seq
	return nil
}

// withSeq adds "seq" to a delivery record marshaled without it (a zero
// Seq is omitted). Append marshals the record before its batch and splices
// the Seq in inside, where it is assigned: bbolt's single writer runs the
// batch's functions one after another, and marshaling there was half of
// the batch function's CPU time in BenchmarkAppend's profile. (On a
// 2-core machine throughput is bound by total CPU, so BenchmarkAppend
// shows no difference; the serial part is what bounds a bigger one.)
func withSeq(record []byte, seq uint64) []byte {
	v := make([]byte, 0, len(record)+28)
	v = append(v, `{"seq":`...)
	v = strconv.AppendUint(v, seq, 10)
	v = append(v, ',')
	return append(v, record[1:]...) // record is {"id":...}
}

// addCount moves a Stats counter; a counter at zero is deleted, so routes
// and destinations that are gone leave no trace.
func addCount(tx *bolt.Tx, route, destination string, s State, delta int64) error {
	counts := tx.Bucket(bucketCounts)
	k := countKey(route, destination, s)
	var n int64
	if v := counts.Get(k); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	if n <= 0 {
		return counts.Delete(k)
	}
	return counts.Put(k, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// moveCount moves one target's count from one state to another.
func moveCount(tx *bolt.Tx, route, destination string, from, to State) error {
	if from == to {
		return nil
	}
	if err := addCount(tx, route, destination, from, -1); err != nil {
		return err
	}
	return addCount(tx, route, destination, to, 1)
}

func pausedSet(tx *bolt.Tx) map[string]bool {
	paused := map[string]bool{}
	tx.Bucket(bucketPaused).ForEach(func(k, _ []byte) error {
		paused[string(k)] = true
		return nil
	})
	return paused
}

// forEachDestination walks the due index one destination at a time: fn
// gets the cursor on the destination's first (earliest) key and may step
// it; afterwards the walk jumps past the rest of that destination, so a
// destination with a long backlog that is paused or held back costs one
// seek, not a scan.
func forEachDestination(tx *bolt.Tx, fn func(c *bolt.Cursor, first dueEntry)) {
	c := tx.Bucket(bucketDue).Cursor()
	for k, _ := c.First(); k != nil; {
		e, prefixLen, ok := parseDueKey(k)
		if !ok { // not ours; step over it
			k, _ = c.Next()
			continue
		}
		past := pastPrefix(k[:prefixLen])
		fn(c, e)
		k, _ = c.Seek(past)
	}
}

// allowance is how many tasks a destination may take, at most limit.
func allowance(paused map[string]bool, quota Quota, route, destination string, limit int) int {
	if paused[destination] {
		return 0
	}
	if quota != nil {
		if q := quota(route, destination); q >= 0 {
			return min(q, limit)
		}
	}
	return limit
}

// dueCandidates gathers, per destination, up to its allowance of targets
// due by now, then keeps the limit oldest of them all.
func dueCandidates(tx *bolt.Tx, now time.Time, limit int, quota Quota) []dueEntry {
	paused := pausedSet(tx)
	due := stamp(now)
	var found []dueEntry
	forEachDestination(tx, func(c *bolt.Cursor, first dueEntry) {
		n := allowance(paused, quota, first.route, first.destination, limit)
		for e, taken := first, 0; taken < n && e.next <= due; taken++ {
			found = append(found, e)
			k, _ := c.Next()
			if k == nil {
				return
			}
			var ok bool
			if e, _, ok = parseDueKey(k); !ok || e.route != first.route || e.destination != first.destination {
				return
			}
		}
	})
	slices.SortFunc(found, func(a, b dueEntry) int {
		return cmp.Or(cmp.Compare(a.next, b.next), strings.Compare(a.id, b.id), strings.Compare(a.destination, b.destination))
	})
	return found[:min(len(found), limit)]
}

// newLease makes a claim's token: random, so that claims by different
// processes never collide.
func newLease() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Claim implements Store. It goes through Batch too, so that under load a
// claim shares a transaction (and fsync) with the appends around it.
func (b *Bolt) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration, quota Quota) ([]Task, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	// Look first in a read transaction: a write transaction costs an
	// fsync even when it changes nothing, and the dispatcher often looks
	// when nothing is due.
	anything := false
	err := b.db.View(func(tx *bolt.Tx) error {
		anything = len(dueCandidates(tx, now, 1, quota)) > 0
		return nil
	})
	if err != nil || !anything {
		return nil, err
	}
	var tasks []Task
	err = b.db.Batch(func(tx *bolt.Tx) error {
		tasks = tasks[:0] // a run that was rolled back claimed nothing
		for _, e := range dueCandidates(tx, now, limit, quota) {
			t, err := claimOne(tx, e, now.Add(lease))
			if err != nil {
				return err
			}
			if t != nil {
				tasks = append(tasks, *t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return tasks, nil
}

// claimOne leases one due target until the given time: its Next moves
// there (in the record and the index), so it is due again then unless
// Record comes first.
func claimOne(tx *bolt.Tx, e dueEntry, until time.Time) (*Task, error) {
	due := tx.Bucket(bucketDue)
	key := dueKey(e.route, e.destination, unstamp(e.next), e.id)
	tr, err := getTarget(tx, e.id, e.destination)
	if err != nil {
		return nil, err
	}
	if tr == nil || tr.State != Pending || stamp(tr.Next) != e.next {
		// An index entry without its record: drop it rather than trip
		// over it on every claim.
		return nil, due.Delete(key)
	}
	rec, err := getDelivery(tx, e.id)
	if err != nil || rec == nil {
		return nil, cmp.Or(err, due.Delete(key))
	}
	tr.Next, tr.Lease = until, newLease()
	if err := due.Delete(key); err != nil {
		return nil, err
	}
	if err := due.Put(dueKey(e.route, e.destination, until, e.id), nil); err != nil {
		return nil, err
	}
	if err := putTarget(tx, e.id, tr); err != nil {
		return nil, err
	}
	d := rec.Delivery
	d.Body = bytes.Clone(tx.Bucket(bucketBodies).Get([]byte(e.id)))
	return &Task{Delivery: &d, Target: tr.Target, Lease: tr.Lease}, nil
}

// NextDue implements Store.
func (b *Bolt) NextDue(ctx context.Context, quota Quota) (time.Time, bool, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, false, err
	}
	var next uint64
	found := false
	err := b.db.View(func(tx *bolt.Tx) error {
		paused := pausedSet(tx)
		forEachDestination(tx, func(_ *bolt.Cursor, first dueEntry) {
			if allowance(paused, quota, first.route, first.destination, 1) == 0 {
				return
			}
			if !found || first.next < next {
				next, found = first.next, true
			}
		})
		return nil
	})
	if err != nil || !found {
		return time.Time{}, false, err
	}
	return unstamp(next), true, nil
}

// Record implements Store.
func (b *Bolt) Record(ctx context.Context, t Task, a Attempt, o Outcome) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !o.State.Valid() {
		return fmt.Errorf("journal: outcome state %q", o.State)
	}
	if o.State == Pending && o.Next.IsZero() {
		return errors.New("journal: a pending outcome needs its next time")
	}
	if t.Delivery == nil {
		return errors.New("journal: task without delivery")
	}
	id, destination := t.Delivery.ID, t.Target.Destination
	now := b.now()
	stale := false
	err := b.db.Batch(func(tx *bolt.Tx) error {
		stale = false
		tr, err := getTarget(tx, id, destination)
		if err != nil {
			return err
		}
		// A refusal is not an error for the batch: an error would make
		// bbolt run the whole batch again without this call.
		if tr == nil || tr.State != Pending || t.Lease == "" || tr.Lease != t.Lease {
			stale = true
			return nil
		}
		due := tx.Bucket(bucketDue)
		if err := due.Delete(dueKey(tr.Route, destination, tr.Next, id)); err != nil {
			return err
		}
		tr.Attempts++
		tr.Round++
		tr.LastStatus, tr.LastError = a.Status, a.Error
		tr.History = append(tr.History, a)
		tr.History = tr.History[max(0, len(tr.History)-MaxHistory):]
		tr.Lease, tr.Updated = "", now
		if err := moveCount(tx, tr.Route, destination, tr.State, o.State); err != nil {
			return err
		}
		tr.State = o.State
		if o.State == Pending {
			tr.Next = o.Next
			if err := due.Put(dueKey(tr.Route, destination, tr.Next, id), nil); err != nil {
				return err
			}
		} else {
			tr.Next = time.Time{}
		}
		if err := putTarget(tx, id, tr); err != nil {
			return err
		}
		if o.State == Pending {
			return nil
		}
		return finishIfDone(tx, id, now)
	})
	if err == nil && stale {
		return ErrStale
	}
	return err
}

// finishIfDone marks a delivery finished once none of its targets is
// pending, which makes it a candidate for Prune.
func finishIfDone(tx *bolt.Tx, id string, now time.Time) error {
	targets, err := getTargets(tx, id)
	if err != nil {
		return err
	}
	for _, tr := range targets {
		if tr.State == Pending {
			return nil
		}
	}
	rec, err := getDelivery(tx, id)
	if err != nil || rec == nil {
		return err
	}
	rec.Finished = now
	if err := putDelivery(tx, rec); err != nil {
		return err
	}
	if err := tx.Bucket(bucketDone).Put(doneKey(rec.Route, now, id), nil); err != nil {
		return err
	}
	return tx.Bucket(bucketOpen).Delete([]byte(id))
}

// Get implements Store.
func (b *Bolt) Get(ctx context.Context, id string) (*Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var d *Delivery
	err := b.db.View(func(tx *bolt.Tx) error {
		rec, err := getDelivery(tx, id)
		if err != nil {
			return err
		}
		if rec == nil {
			return ErrNotFound
		}
		targets, err := getTargets(tx, id)
		if err != nil {
			return err
		}
		d = rec.with(targets)
		d.Body = bytes.Clone(tx.Bucket(bucketBodies).Get([]byte(id)))
		return nil
	})
	return d, err
}

// List implements Store.
func (b *Bolt) List(ctx context.Context, f Filter) ([]Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	var out []Delivery
	err := b.db.View(func(tx *bolt.Tx) error {
		out = out[:0]
		return scan(tx, f, func(rec *deliveryRecord, targets []targetRecord) bool {
			out = append(out, *rec.with(targets))
			return len(out) < limit
		})
	})
	return out, err
}

// Since implements Store: a walk of the seq index (destination "") or of
// the destination's part of the per-destination one, from after.
func (b *Bolt) Since(ctx context.Context, after uint64, destination string, limit int) ([]Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if strings.IndexByte(destination, 0) >= 0 {
		return nil, fmt.Errorf("journal: destination %q contains a NUL", destination)
	}
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	if after == math.MaxUint64 {
		return nil, nil
	}
	var out []Delivery
	err := b.db.View(func(tx *bolt.Tx) error {
		out = out[:0]
		index, from, prefix := tx.Bucket(bucketSeq), seqKey(after+1), []byte(nil)
		if destination != "" {
			from = destSeqKey(destination, after+1)
			index, prefix = tx.Bucket(bucketDestSeq), from[:len(destination)+1]
		}
		bodies := tx.Bucket(bucketBodies)
		c := index.Cursor()
		for k, id := c.Seek(from); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, id = c.Next() {
			rec, err := getDelivery(tx, string(id))
			if err != nil {
				return err
			}
			if rec == nil { // an index entry without its record: not ours to fix in a read
				continue
			}
			targets, err := getTargets(tx, rec.ID)
			if err != nil {
				return err
			}
			d := rec.with(targets)
			d.Body = bytes.Clone(bodies.Get(id))
			out = append(out, *d)
		}
		return nil
	})
	return out, err
}

// LastSeq implements Store.
func (b *Bolt) LastSeq(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var last uint64
	err := b.db.View(func(tx *bolt.Tx) error {
		last = tx.Bucket(bucketSeq).Sequence()
		return nil
	})
	return last, err
}

// scan walks deliveries newest first from f.Before, calling fn with each
// that matches f until fn returns false. It reads every delivery on the
// way (not only the matching ones): it serves the admin API, not the hot
// path.
func scan(tx *bolt.Tx, f Filter, fn func(*deliveryRecord, []targetRecord) bool) error {
	c := tx.Bucket(bucketDeliveries).Cursor()
	var k, v []byte
	if f.Before == "" {
		k, v = c.Last()
	} else if k, v = c.Seek([]byte(f.Before)); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil; k, v = c.Prev() {
		var rec deliveryRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("journal: delivery %s: %w", k, err)
		}
		if f.Route != "" && rec.Route != f.Route {
			continue
		}
		targets, err := getTargets(tx, rec.ID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(targets, f.matches) {
			continue
		}
		if !fn(&rec, targets) {
			return nil
		}
	}
	return nil
}

// matches reports whether a target is one that f asks for.
func (f Filter) matches(tr targetRecord) bool {
	return (f.State == "" || tr.State == f.State) && (f.Destination == "" || tr.Destination == f.Destination)
}

// Replay implements Store.
func (b *Bolt) Replay(ctx context.Context, id, destination string, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := b.db.Update(func(tx *bolt.Tx) error {
		var err error
		n, err = replayDelivery(tx, id, Filter{Destination: destination}, now)
		return err
	})
	return n, err
}

// replayChunk bounds the deliveries ReplayWhere replays per transaction,
// so a bulk replay never holds the writer for long. (A variable so tests
// can cross chunk boundaries with few deliveries.)
var replayChunk = 500

// ReplayWhere implements Store.
func (b *Bolt) ReplayWhere(ctx context.Context, f Filter, now time.Time) (int, error) {
	if f.State != Delivered && f.State != Dead {
		return 0, fmt.Errorf("journal: replay needs state %s or %s", Delivered, Dead)
	}
	total, left := 0, f.Limit
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		chunk := replayChunk
		if f.Limit > 0 {
			chunk = min(chunk, left)
		}
		var ids []string
		err := b.db.View(func(tx *bolt.Tx) error {
			ids = ids[:0]
			return scan(tx, f, func(rec *deliveryRecord, _ []targetRecord) bool {
				ids = append(ids, rec.ID)
				return len(ids) < chunk
			})
		})
		if err != nil || len(ids) == 0 {
			return total, err
		}
		n := 0
		err = b.db.Update(func(tx *bolt.Tx) error {
			n = 0
			for _, id := range ids {
				m, err := replayDelivery(tx, id, f, now)
				if err != nil && !errors.Is(err, ErrNotFound) { // pruned meanwhile
					return err
				}
				n += m
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		left -= len(ids)
		if len(ids) < chunk || (f.Limit > 0 && left <= 0) {
			return total, nil
		}
		f.Before = ids[len(ids)-1]
	}
}

// replayDelivery makes the finished targets of a delivery that f matches
// (f.State "" meaning both delivered and dead) pending, due at now, with a
// fresh schedule.
func replayDelivery(tx *bolt.Tx, id string, f Filter, now time.Time) (int, error) {
	rec, err := getDelivery(tx, id)
	if err != nil {
		return 0, err
	}
	if rec == nil {
		return 0, ErrNotFound
	}
	targets, err := getTargets(tx, id)
	if err != nil {
		return 0, err
	}
	if f.Destination != "" && !slices.ContainsFunc(targets, func(tr targetRecord) bool { return tr.Destination == f.Destination }) {
		return 0, fmt.Errorf("%w: destination %q of %s", ErrNotFound, f.Destination, id)
	}
	n := 0
	for _, tr := range targets {
		if tr.State == Pending || !f.matches(tr) {
			continue
		}
		if err := moveCount(tx, tr.Route, tr.Destination, tr.State, Pending); err != nil {
			return 0, err
		}
		tr.State, tr.Next, tr.Round, tr.Lease, tr.Updated = Pending, now, 0, "", now
		tr.Replays++
		if err := putTarget(tx, id, &tr); err != nil {
			return 0, err
		}
		if err := tx.Bucket(bucketDue).Put(dueKey(tr.Route, tr.Destination, now, id), nil); err != nil {
			return 0, err
		}
		n++
	}
	if n == 0 || rec.Finished.IsZero() {
		return n, nil
	}
	if err := tx.Bucket(bucketDone).Delete(doneKey(rec.Route, rec.Finished, id)); err != nil {
		return 0, err
	}
	rec.Finished = time.Time{}
	if err := putDelivery(tx, rec); err != nil {
		return 0, err
	}
	return n, tx.Bucket(bucketOpen).Put([]byte(id), nil)
}

// pruneChunk bounds the deliveries Prune deletes per transaction. (A
// variable so tests can cross chunk boundaries with few deliveries.)
var pruneChunk = 1000

// Prune implements Store.
func (b *Bolt) Prune(ctx context.Context, cutoff func(route string) time.Time) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n := 0
		err := b.db.Update(func(tx *bolt.Tx) error {
			doomed := expired(tx, cutoff)
			n = len(doomed)
			for _, k := range doomed {
				if err := deleteDelivery(tx, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}

// expired lists up to pruneChunk done keys that finished before their
// route's cutoff.
func expired(tx *bolt.Tx, cutoff func(route string) time.Time) [][]byte {
	var doomed [][]byte
	c := tx.Bucket(bucketDone).Cursor()
	for k, _ := c.First(); k != nil && len(doomed) < pruneChunk; {
		route, _, _, prefixLen, ok := parseDoneKey(k)
		if !ok {
			k, _ = c.Next()
			continue
		}
		prefix := bytes.Clone(k[:prefixLen])
		cut := stamp(cutoff(route))
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(doomed) < pruneChunk; k, _ = c.Next() {
			if _, finished, _, _, _ := parseDoneKey(k); finished >= cut {
				break
			}
			doomed = append(doomed, bytes.Clone(k))
		}
		k, _ = c.Seek(pastPrefix(prefix))
	}
	return doomed
}

// deleteDelivery removes a finished delivery and everything that points to
// it.
func deleteDelivery(tx *bolt.Tx, done []byte) error {
	_, _, id, _, _ := parseDoneKey(done)
	rec, err := getDelivery(tx, id)
	if err != nil {
		return err
	}
	seq := uint64(0) // none for a delivery stored before journals had positions
	if rec != nil {
		seq = rec.Seq
	}
	if seq != 0 {
		if err := tx.Bucket(bucketSeq).Delete(seqKey(seq)); err != nil {
			return err
		}
	}
	targets, err := getTargets(tx, id)
	if err != nil {
		return err
	}
	for _, tr := range targets {
		if err := addCount(tx, tr.Route, tr.Destination, tr.State, -1); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTargets).Delete(targetKey(id, tr.Destination)); err != nil {
			return err
		}
		if seq != 0 {
			if err := tx.Bucket(bucketDestSeq).Delete(destSeqKey(tr.Destination, seq)); err != nil {
				return err
			}
		}
	}
	for _, bucket := range [][]byte{bucketDeliveries, bucketBodies, bucketOpen} {
		if err := tx.Bucket(bucket).Delete([]byte(id)); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketDone).Delete(done)
}

// SetPaused implements Store.
func (b *Bolt) SetPaused(ctx context.Context, destination string, paused bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validName("destination", destination); err != nil {
		return err
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		if paused {
			return tx.Bucket(bucketPaused).Put([]byte(destination), nil)
		}
		return tx.Bucket(bucketPaused).Delete([]byte(destination))
	})
}

// Paused implements Store.
func (b *Bolt) Paused(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var names []string
	err := b.db.View(func(tx *bolt.Tx) error {
		names = names[:0]
		return tx.Bucket(bucketPaused).ForEach(func(k, _ []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	return names, err
}

// Stats implements Store.
func (b *Bolt) Stats(ctx context.Context) (Stats, error) {
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	s := Stats{Targets: map[Key]int{}}
	err := b.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketCounts).ForEach(func(k, v []byte) error {
			if key, ok := parseCountKey(k); ok && len(v) == 8 {
				s.Targets[key] = int(binary.BigEndian.Uint64(v))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if oldest, _ := tx.Bucket(bucketOpen).Cursor().First(); oldest != nil {
			rec, err := getDelivery(tx, string(oldest))
			if err != nil || rec == nil {
				return err
			}
			s.OldestPending = rec.Received
		}
		return nil
	})
	return s, err
}

// Record access. Values bbolt returns live only as long as the
// transaction, so everything is decoded (copied) before it ends.

func getDelivery(tx *bolt.Tx, id string) (*deliveryRecord, error) {
	v := tx.Bucket(bucketDeliveries).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	rec := &deliveryRecord{}
	if err := json.Unmarshal(v, rec); err != nil {
		return nil, fmt.Errorf("journal: delivery %s: %w", id, err)
	}
	return rec, nil
}

func putDelivery(tx *bolt.Tx, rec *deliveryRecord) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketDeliveries).Put([]byte(rec.ID), v)
}

func getTarget(tx *bolt.Tx, id, destination string) (*targetRecord, error) {
	v := tx.Bucket(bucketTargets).Get(targetKey(id, destination))
	if v == nil {
		return nil, nil
	}
	tr := &targetRecord{}
	if err := json.Unmarshal(v, tr); err != nil {
		return nil, fmt.Errorf("journal: target %s %s: %w", id, destination, err)
	}
	return tr, nil
}

func putTarget(tx *bolt.Tx, id string, tr *targetRecord) error {
	v, err := json.Marshal(tr)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketTargets).Put(targetKey(id, tr.Destination), v)
}

// getTargets reads a delivery's targets, in destination order.
func getTargets(tx *bolt.Tx, id string) ([]targetRecord, error) {
	var targets []targetRecord
	prefix := targetKey(id, "")
	c := tx.Bucket(bucketTargets).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var tr targetRecord
		if err := json.Unmarshal(v, &tr); err != nil {
			return nil, fmt.Errorf("journal: target %q: %w", k, err)
		}
		targets = append(targets, tr)
	}
	return targets, nil
}

// with makes the Delivery a caller sees: the record's fields and its
// targets, without the body.
func (rec *deliveryRecord) with(targets []targetRecord) *Delivery {
	d := rec.Delivery
	d.Body = nil
	d.Targets = make([]Target, len(targets))
	for i, tr := range targets {
		d.Targets[i] = tr.Target
	}
	return &d
}

var _ Store = (*Bolt)(nil)
