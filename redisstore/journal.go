package redisstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// Journal is a journal.Store in Redis: any instance sharing the Redis (and
// prefix) sees, claims, records and replays every delivery, and takes
// over the targets of an instance that died once their leases run out.
//
// Keys, all with the hash tag {journal} (one Cluster node holds them all,
// so a script can update a delivery and its indexes atomically). J is
// <prefix>{journal}: and a pair is route NUL destination:
//
//	J d:<id>          hash: meta (the Delivery as JSON, without body and
//	                  targets), route, received, dests (NUL-separated),
//	                  t:<dest> (the target as JSON, with its lease),
//	                  h:<dest> (its latest attempts, JSON lines),
//	                  finished (when its last target finished), nonce,
//	                  seq (its Seq)
//	J b:<id>          the body
//	J ids             zset of every id, all scored 0: lexical order is time order
//	J seq             the last Seq assigned: the append script INCRs it
//	J byseq           zset: id → Seq, every delivery
//	J byseq:<dest>    zset: id → Seq, the deliveries with a target named dest
//	J open            zset of ids with a pending target, the same way
//	J due:<pair>      zset: id → when the target is due (or its lease ends), µs
//	J dests           set of the pairs with a due zset
//	J done:<route>    zset: id → when the delivery finished, µs
//	J doneroutes      set of the routes with a done zset
//	J counts          hash: pair NUL state → targets
//	J paused          set of paused destinations
//
// Append, Claim's second step, Record, Replay, Prune and SetPaused are each
// one script (or command), atomic on the server. Claim and NextDue first
// read every destination's earliest due time in one script, so the quota
// (a Go function) is asked only about destinations that have something
// due, as with journal.Bolt.
//
// The Seq counter is INCRed by the append script, so positions follow the
// order in which scripts run, which is commit order. The Seq indexes are
// zsets rather than Redis Streams: Prune removes deliveries by route and
// finish time, not in Seq order, and ZREM takes any member out at once,
// where XDEL leaves a tombstone that holds its listpack node's memory
// until every entry of the node is gone; a zset scored by Seq reads a
// range with ZRANGEBYSCORE "(after" as a stream would with XRANGE; XADD
// instead of ZADD made no difference to BenchmarkAppend; and every other
// index here is a zset too. (Scores are doubles, exact for Seqs below
// 2^53.)
type Journal struct {
	c      *Client
	j      string // <prefix>{journal}:
	closed atomic.Bool
}

// Journal returns the client's journal. Every instance on the same Redis
// and prefix shares it. Closing it does not close the client.
func (c *Client) Journal() *Journal {
	return &Journal{c: c, j: c.prefix + "{journal}:"}
}

// targetRec is a target as stored: the Lua scripts read and write it, so
// it holds strings and small integers only.
type targetRec struct {
	Destination string `json:"destination"`
	State       string `json:"state"`
	Attempts    int    `json:"attempts,omitempty"`
	Round       int    `json:"round,omitempty"`
	Replays     int    `json:"replays,omitempty"`
	Next        string `json:"next,omitempty"`
	LastStatus  int    `json:"last_status,omitempty"`
	LastError   string `json:"last_error,omitempty"`
	Updated     string `json:"updated,omitempty"`
	Lease       string `json:"lease,omitempty"`
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// dueScore is a due time as a zset score: µs, rounded up, so a target is
// never claimed before it is due; times before 1970 are 0.
func dueScore(t time.Time) int64 {
	if t.Before(time.Unix(0, 0)) {
		return 0
	}
	return (t.UnixNano() + 999) / 1000
}

// nowScore is the time a claim looks from, rounded down.
func nowScore(t time.Time) int64 {
	if t.Before(time.Unix(0, 0)) {
		return 0
	}
	return t.UnixNano() / 1000
}

func (tr *targetRec) target(history string) (journal.Target, error) {
	next, err1 := parseTime(tr.Next)
	updated, err2 := parseTime(tr.Updated)
	if err := cmp.Or(err1, err2); err != nil {
		return journal.Target{}, fmt.Errorf("redis journal: target %s: %w", tr.Destination, err)
	}
	t := journal.Target{
		Destination: tr.Destination, State: journal.State(tr.State), Attempts: tr.Attempts, Round: tr.Round,
		Replays: tr.Replays, Next: next, LastStatus: tr.LastStatus, LastError: tr.LastError, Updated: updated,
	}
	for line := range strings.SplitSeq(history, "\n") {
		if line == "" {
			continue
		}
		var a journal.Attempt
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			return journal.Target{}, fmt.Errorf("redis journal: history of %s: %w", tr.Destination, err)
		}
		t.History = append(t.History, a)
	}
	return t, nil
}

// check refuses work on a closed journal or with a context that ended.
func (j *Journal) check(ctx context.Context) error {
	if j.closed.Load() {
		return journal.ErrClosed
	}
	return ctx.Err()
}

// Close implements journal.Store. It does not close the client, which the
// dedupe stores and limiters may share.
func (j *Journal) Close() error {
	j.closed.Store(true)
	return nil
}

func validName(what, s string) error {
	if s == "" {
		return fmt.Errorf("journal: empty %s", what)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("journal: %s %q contains a NUL", what, s)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Append implements journal.Store: one script. It returns nil only once
// Redis has answered that the delivery is stored; how durable that is
// depends on Redis's persistence (see the package doc).
func (j *Journal) Append(ctx context.Context, d *journal.Delivery) error {
	if err := j.check(ctx); err != nil {
		return err
	}
	now := j.c.now()
	if d.Received.IsZero() {
		d.Received = now
	}
	if d.ID == "" {
		d.ID = journal.NewID(d.Received)
	}
	if err := cmp.Or(validName("id", d.ID), validName("route", d.Route)); err != nil {
		return err
	}
	if len(d.Targets) == 0 {
		return errors.New("journal: a delivery needs at least one target")
	}
	args := []any{j.j, d.ID, randomHex(8), d.Route, nil, formatTime(d.Received), d.Body, len(d.Targets)}
	for i := range d.Targets {
		t := &d.Targets[i]
		if err := validName("destination", t.Destination); err != nil {
			return err
		}
		if slices.ContainsFunc(d.Targets[:i], func(o journal.Target) bool { return o.Destination == t.Destination }) {
			return fmt.Errorf("journal: destination %q twice", t.Destination)
		}
		t.State, t.Updated = journal.Pending, now
		if t.Next.IsZero() {
			t.Next = now
		}
		tj, err := json.Marshal(targetRec{Destination: t.Destination, State: string(journal.Pending), Next: formatTime(t.Next), Updated: formatTime(now)})
		if err != nil {
			return err
		}
		args = append(args, t.Destination, dueScore(t.Next), tj)
	}
	meta := *d
	meta.Body, meta.Targets, meta.Seq = nil, nil, 0 // the script stores the Seq it assigns
	m, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	args[4] = m
	ctx, cancel := j.c.bound(ctx)
	defer cancel()
	seq, err := appendLua.run(ctx, j.c.rdb, []string{j.j + "ids"}, args...).Uint64()
	if err != nil {
		return fmt.Errorf("redis journal append: %w", err)
	}
	if seq == 0 {
		return journal.ErrExists
	}
	d.Seq = seq
	return nil
}

// head is one destination's earliest due time.
type head struct {
	route, destination string
	first              int64 // µs
	paused             bool
}

// heads reads every destination's earliest due time: one script.
func (j *Journal) heads(ctx context.Context) ([]head, error) {
	ctx, cancel := j.c.bound(ctx)
	defer cancel()
	v, err := headsLua.run(ctx, j.c.rdb, []string{j.j + "dests", j.j + "paused"}, j.j).Slice()
	if err != nil {
		return nil, fmt.Errorf("redis journal: %w", err)
	}
	var hs []head
	for i := 0; i+2 < len(v); i += 3 {
		pair, _ := v[i].(string)
		score, _ := v[i+1].(string)
		paused, _ := v[i+2].(int64)
		route, destination, ok := strings.Cut(pair, "\x00")
		first, err := strconv.ParseFloat(score, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("redis journal: bad due index entry %q %q", pair, score)
		}
		hs = append(hs, head{route, destination, int64(first), paused == 1})
	}
	return hs, nil
}

// allowance is how many tasks a destination may take, at most limit.
func allowance(quota journal.Quota, route, destination string, limit int) int {
	if quota != nil {
		if q := quota(route, destination); q >= 0 {
			return min(q, limit)
		}
	}
	return limit
}

// Claim implements journal.Store: two scripts, the second only when
// something is due.
func (j *Journal) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration, quota journal.Quota) ([]journal.Task, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	hs, err := j.heads(ctx)
	if err != nil {
		return nil, err
	}
	nowUS := nowScore(now)
	var pairs []any
	for _, h := range hs {
		if h.paused || h.first > nowUS {
			continue
		}
		if n := allowance(quota, h.route, h.destination, limit); n > 0 {
			pairs = append(pairs, h.route+"\x00"+h.destination, n)
		}
	}
	if len(pairs) == 0 {
		return nil, nil
	}
	until := now.Add(lease)
	args := append([]any{j.j, nowUS, dueScore(until), formatTime(until), limit, len(pairs) / 2}, pairs...)
	for range limit {
		args = append(args, randomHex(8))
	}
	ctx, cancel := j.c.bound(ctx)
	defer cancel()
	v, err := claimLua.run(ctx, j.c.rdb, []string{j.j + "paused"}, args...).Slice()
	if err != nil {
		return nil, fmt.Errorf("redis journal claim: %w", err)
	}
	tasks := make([]journal.Task, 0, len(v))
	for _, row := range v {
		r, ok := row.([]any)
		if !ok || len(r) != 6 {
			return nil, fmt.Errorf("redis journal claim: unexpected answer %v", row)
		}
		s := make([]string, 6)
		for i := range r {
			s[i], _ = r[i].(string)
		}
		var d journal.Delivery
		if err := json.Unmarshal([]byte(s[1]), &d); err != nil {
			return nil, fmt.Errorf("redis journal: delivery %s: %w", s[0], err)
		}
		d.Body, d.Targets = []byte(s[2]), nil
		if d.Seq, err = parseSeq(s[0], s[5]); err != nil {
			return nil, err
		}
		var tr targetRec
		if err := json.Unmarshal([]byte(s[3]), &tr); err != nil {
			return nil, fmt.Errorf("redis journal: target of %s: %w", s[0], err)
		}
		t, err := tr.target(s[4])
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, journal.Task{Delivery: &d, Target: t, Lease: tr.Lease})
	}
	return tasks, nil
}

// NextDue implements journal.Store: one script.
func (j *Journal) NextDue(ctx context.Context, quota journal.Quota) (time.Time, bool, error) {
	if err := j.check(ctx); err != nil {
		return time.Time{}, false, err
	}
	hs, err := j.heads(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	var next int64
	found := false
	for _, h := range hs {
		if h.paused || allowance(quota, h.route, h.destination, 1) == 0 {
			continue
		}
		if !found || h.first < next {
			next, found = h.first, true
		}
	}
	if !found {
		return time.Time{}, false, nil
	}
	return time.UnixMicro(next), true, nil
}

// Record implements journal.Store: one script.
func (j *Journal) Record(ctx context.Context, t journal.Task, a journal.Attempt, o journal.Outcome) error {
	if err := j.check(ctx); err != nil {
		return err
	}
	if !o.State.Valid() {
		return fmt.Errorf("journal: outcome state %q", o.State)
	}
	if o.State == journal.Pending && o.Next.IsZero() {
		return errors.New("journal: a pending outcome needs its next time")
	}
	if t.Delivery == nil {
		return errors.New("journal: task without delivery")
	}
	attempt, err := json.Marshal(a)
	if err != nil {
		return err
	}
	now := j.c.now()
	id := t.Delivery.ID
	ctx, cancel := j.c.bound(ctx)
	defer cancel()
	n, err := recordLua.run(ctx, j.c.rdb, []string{j.j + "d:" + id},
		j.j, id, t.Target.Destination, t.Lease, string(o.State), dueScore(o.Next), formatTime(o.Next),
		formatTime(now), dueScore(now), a.Status, a.Error, attempt, journal.MaxHistory).Int()
	if err != nil {
		return fmt.Errorf("redis journal record: %w", err)
	}
	if n == 0 {
		return journal.ErrStale
	}
	return nil
}

// parseSeq reads a delivery's seq field; "" (a delivery stored before
// journals had positions) is 0.
func parseSeq(id, s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redis journal: seq of %s: %w", id, err)
	}
	return n, nil
}

// delivery assembles a delivery from its hash (without the body).
func delivery(id string, h map[string]string) (*journal.Delivery, error) {
	var d journal.Delivery
	if err := json.Unmarshal([]byte(h["meta"]), &d); err != nil {
		return nil, fmt.Errorf("redis journal: delivery %s: %w", id, err)
	}
	d.Body, d.Targets = nil, nil
	var err error
	if d.Seq, err = parseSeq(id, h["seq"]); err != nil {
		return nil, err
	}
	for _, dest := range strings.Split(h["dests"], "\x00") {
		var tr targetRec
		if err := json.Unmarshal([]byte(h["t:"+dest]), &tr); err != nil {
			return nil, fmt.Errorf("redis journal: target %s of %s: %w", dest, id, err)
		}
		t, err := tr.target(h["h:"+dest])
		if err != nil {
			return nil, err
		}
		d.Targets = append(d.Targets, t)
	}
	slices.SortFunc(d.Targets, func(a, b journal.Target) int { return strings.Compare(a.Destination, b.Destination) })
	return &d, nil
}

// Get implements journal.Store: one pipeline.
func (j *Journal) Get(ctx context.Context, id string) (*journal.Delivery, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := j.c.bound(ctx)
	defer cancel()
	hashes, bodies, err := j.read(ctx, []string{id}, true)
	if err != nil {
		return nil, err
	}
	d, err := assemble(id, hashes[0], bodies[0])
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, journal.ErrNotFound
	}
	return d, nil
}

// assemble makes a delivery out of its hash and body as a pipeline read
// them; nil when there is no hash (no such delivery, or one pruned
// meanwhile).
func assemble(id string, hash *redis.MapStringStringCmd, body *redis.StringCmd) (*journal.Delivery, error) {
	h, err := hash.Result()
	if err != nil {
		return nil, fmt.Errorf("redis journal: %w", err)
	}
	if len(h) == 0 {
		return nil, nil
	}
	d, err := delivery(id, h)
	if err != nil {
		return nil, err
	}
	if d.Body, err = body.Bytes(); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redis journal: %w", err)
	}
	return d, nil
}

// listPage is how many deliveries a scan reads per round trip.
const listPage = 100

// scan walks deliveries newest first from f.Before, calling fn with each
// that matches f until fn returns false. Like journal.Bolt's, it reads
// every delivery on the way: it serves the admin API, not the hot path.
// Two round trips per page.
func (j *Journal) scan(ctx context.Context, f journal.Filter, fn func(*journal.Delivery) bool) error {
	upper := "+"
	if f.Before != "" {
		upper = "(" + f.Before
	}
	for {
		if err := j.check(ctx); err != nil {
			return err
		}
		ids, hashes, err := j.page(ctx, upper)
		if err != nil {
			return err
		}
		for i, id := range ids {
			h, err := hashes[i].Result()
			if err != nil {
				return fmt.Errorf("redis journal: %w", err)
			}
			if len(h) == 0 {
				continue // pruned meanwhile
			}
			d, err := delivery(id, h)
			if err != nil {
				return err
			}
			if f.Route != "" && d.Route != f.Route {
				continue
			}
			if !slices.ContainsFunc(d.Targets, func(t journal.Target) bool { return matches(f, t) }) {
				continue
			}
			if !fn(d) {
				return nil
			}
		}
		if len(ids) < listPage {
			return nil
		}
		upper = "(" + ids[len(ids)-1]
	}
}

// page reads the next ids below upper and their hashes.
func (j *Journal) page(ctx context.Context, upper string) ([]string, []*redis.MapStringStringCmd, error) {
	ctx, cancel := j.c.bound(ctx)
	defer cancel()
	ids, err := j.c.rdb.ZRevRangeByLex(ctx, j.j+"ids", &redis.ZRangeBy{Max: upper, Min: "-", Count: listPage}).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("redis journal: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil, nil
	}
	hashes, _, err := j.read(ctx, ids, false)
	return ids, hashes, err
}

// read gets the hashes of ids, and their bodies if asked, in one
// pipeline.
func (j *Journal) read(ctx context.Context, ids []string, withBodies bool) ([]*redis.MapStringStringCmd, []*redis.StringCmd, error) {
	pipe := j.c.rdb.Pipeline()
	hashes := make([]*redis.MapStringStringCmd, len(ids))
	var bodies []*redis.StringCmd
	for i, id := range ids {
		hashes[i] = pipe.HGetAll(ctx, j.j+"d:"+id)
		if withBodies {
			bodies = append(bodies, pipe.Get(ctx, j.j+"b:"+id))
		}
	}
	// a body that is gone (pruned meanwhile) answers nil: not an error
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("redis journal: %w", err)
	}
	return hashes, bodies, nil
}

// Since implements journal.Store: two round trips, one for the range of
// the Seq index, one for the deliveries. A delivery pruned between the two
// is left out, as it would be a moment later.
func (j *Journal) Since(ctx context.Context, after uint64, destination string, limit int) ([]journal.Delivery, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	if strings.IndexByte(destination, 0) >= 0 {
		return nil, fmt.Errorf("journal: destination %q contains a NUL", destination)
	}
	if limit <= 0 {
		limit = journal.DefaultListLimit
	}
	limit = min(limit, journal.MaxListLimit)
	index := j.j + "byseq"
	if destination != "" {
		index += ":" + destination
	}
	ctx, cancel := j.c.bound(ctx)
	defer cancel()
	ids, err := j.c.rdb.ZRangeByScore(ctx, index, &redis.ZRangeBy{Min: "(" + strconv.FormatUint(after, 10), Max: "+inf", Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("redis journal since: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	hashes, bodies, err := j.read(ctx, ids, true)
	if err != nil {
		return nil, err
	}
	out := make([]journal.Delivery, 0, len(ids))
	for i, id := range ids {
		d, err := assemble(id, hashes[i], bodies[i])
		if err != nil {
			return nil, err
		}
		if d != nil { // else pruned meanwhile
			out = append(out, *d)
		}
	}
	return out, nil
}

// LastSeq implements journal.Store: one command.
func (j *Journal) LastSeq(ctx context.Context) (uint64, error) {
	if err := j.check(ctx); err != nil {
		return 0, err
	}
	ctx, cancel := j.c.bound(ctx)
	defer cancel()
	last, err := j.c.rdb.Get(ctx, j.j+"seq").Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("redis journal: %w", err)
	}
	return last, nil
}

// matches reports whether a target is one that f asks for.
func matches(f journal.Filter, t journal.Target) bool {
	return (f.State == "" || t.State == f.State) && (f.Destination == "" || t.Destination == f.Destination)
}

// List implements journal.Store.
func (j *Journal) List(ctx context.Context, f journal.Filter) ([]journal.Delivery, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = journal.DefaultListLimit
	}
	limit = min(limit, journal.MaxListLimit)
	var out []journal.Delivery
	err := j.scan(ctx, f, func(d *journal.Delivery) bool {
		out = append(out, *d)
		return len(out) < limit
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// replay runs the replay script over ids.
func (j *Journal) replay(ctx context.Context, ids []string, state journal.State, destination string, strict bool, now time.Time) (int, error) {
	flag := "0"
	if strict {
		flag = "1"
	}
	args := []any{j.j, dueScore(now), formatTime(now), string(state), destination, flag}
	for _, id := range ids {
		args = append(args, id)
	}
	ctx, cancel := j.c.bound(ctx)
	defer cancel()
	n, err := replayLua.run(ctx, j.c.rdb, []string{j.j + "ids"}, args...).Int()
	switch {
	case err != nil:
		return 0, fmt.Errorf("redis journal replay: %w", err)
	case n == -1:
		return 0, journal.ErrNotFound
	case n == -2:
		return 0, fmt.Errorf("%w: destination %q of %s", journal.ErrNotFound, destination, ids[0])
	}
	return n, nil
}

// Replay implements journal.Store: one script.
func (j *Journal) Replay(ctx context.Context, id, destination string, now time.Time) (int, error) {
	if err := j.check(ctx); err != nil {
		return 0, err
	}
	return j.replay(ctx, []string{id}, "", destination, true, now)
}

// replayChunk bounds the deliveries ReplayWhere replays per script, so a
// bulk replay never holds Redis for long. (A variable so tests can cross
// chunk boundaries with few deliveries.)
var replayChunk = 500

// ReplayWhere implements journal.Store.
func (j *Journal) ReplayWhere(ctx context.Context, f journal.Filter, now time.Time) (int, error) {
	if f.State != journal.Delivered && f.State != journal.Dead {
		return 0, fmt.Errorf("journal: replay needs state %s or %s", journal.Delivered, journal.Dead)
	}
	total, left := 0, f.Limit
	for {
		chunk := replayChunk
		if f.Limit > 0 {
			chunk = min(chunk, left)
		}
		var ids []string
		err := j.scan(ctx, f, func(d *journal.Delivery) bool {
			ids = append(ids, d.ID)
			return len(ids) < chunk
		})
		if err != nil || len(ids) == 0 {
			return total, err
		}
		n, err := j.replay(ctx, ids, f.State, f.Destination, false, now)
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

// pruneChunk bounds the deliveries Prune deletes per script. (A variable
// so tests can cross chunk boundaries with few deliveries.)
var pruneChunk = 1000

// Prune implements journal.Store: per route with finished deliveries, one
// script per chunk.
func (j *Journal) Prune(ctx context.Context, cutoff func(route string) time.Time) (int, error) {
	if err := j.check(ctx); err != nil {
		return 0, err
	}
	rctx, cancel := j.c.bound(ctx)
	routes, err := j.c.rdb.SMembers(rctx, j.j+"doneroutes").Result()
	cancel()
	if err != nil {
		return 0, fmt.Errorf("redis journal prune: %w", err)
	}
	total := 0
	for _, route := range routes {
		// finished before the cutoff: score below it, rounded down
		below := "(" + strconv.FormatInt(nowScore(cutoff(route)), 10)
		for {
			if err := j.check(ctx); err != nil {
				return total, err
			}
			pctx, cancel := j.c.bound(ctx)
			n, err := pruneLua.run(pctx, j.c.rdb, []string{j.j + "done:" + route}, j.j, route, below, pruneChunk).Int()
			cancel()
			if err != nil {
				return total, fmt.Errorf("redis journal prune: %w", err)
			}
			total += n
			if n < pruneChunk {
				break
			}
		}
	}
	return total, nil
}

// SetPaused implements journal.Store: one command.
func (j *Journal) SetPaused(ctx context.Context, destination string, paused bool) error {
	if err := j.check(ctx); err != nil {
		return err
	}
	if err := validName("destination", destination); err != nil {
		return err
	}
	ctx, cancel := j.c.bound(ctx)
	defer cancel()
	var err error
	if paused {
		err = j.c.rdb.SAdd(ctx, j.j+"paused", destination).Err()
	} else {
		err = j.c.rdb.SRem(ctx, j.j+"paused", destination).Err()
	}
	if err != nil {
		return fmt.Errorf("redis journal pause: %w", err)
	}
	return nil
}

// Paused implements journal.Store: one command.
func (j *Journal) Paused(ctx context.Context) ([]string, error) {
	if err := j.check(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := j.c.bound(ctx)
	defer cancel()
	names, err := j.c.rdb.SMembers(ctx, j.j+"paused").Result()
	if err != nil {
		return nil, fmt.Errorf("redis journal: %w", err)
	}
	slices.Sort(names)
	return names, nil
}

// Stats implements journal.Store: one script.
func (j *Journal) Stats(ctx context.Context) (journal.Stats, error) {
	if err := j.check(ctx); err != nil {
		return journal.Stats{}, err
	}
	ctx, cancel := j.c.bound(ctx)
	defer cancel()
	v, err := statsLua.run(ctx, j.c.rdb, []string{j.j + "counts", j.j + "open"}, j.j).Slice()
	if err != nil {
		return journal.Stats{}, fmt.Errorf("redis journal stats: %w", err)
	}
	s := journal.Stats{Targets: map[journal.Key]int{}}
	counts, _ := v[0].([]any)
	for i := 0; i+1 < len(counts); i += 2 {
		field, _ := counts[i].(string)
		n, _ := counts[i+1].(string)
		parts := strings.SplitN(field, "\x00", 3)
		count, err := strconv.Atoi(n)
		if len(parts) != 3 || err != nil {
			continue
		}
		s.Targets[journal.Key{Route: parts[0], Destination: parts[1], State: journal.State(parts[2])}] = count
	}
	if len(v) > 1 {
		if received, ok := v[1].(string); ok {
			if s.OldestPending, err = parseTime(received); err != nil {
				return journal.Stats{}, fmt.Errorf("redis journal stats: %w", err)
			}
		}
	}
	return s, nil
}

var _ journal.Store = (*Journal)(nil)
