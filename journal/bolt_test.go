package journal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/webhookverify/caddy-webhook-verify/internal/testclock"
)

var ctx = context.Background()

// openTest opens a journal in a fresh directory below the test's temp dir
// (so OpenBolt has to make it) and closes it when the test ends.
func openTest(t testing.TB, clock *testclock.Clock) *Bolt {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "webhook", "deliveries.db"), clock)
}

func openAt(t testing.TB, path string, clock *testclock.Clock) *Bolt {
	t.Helper()
	o := Options{}
	if clock != nil {
		o.Now = clock.Now
	}
	b, err := OpenBolt(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// add appends a delivery of route to destinations, received now.
func add(t testing.TB, b *Bolt, clock *testclock.Clock, route string, destinations ...string) *Delivery {
	t.Helper()
	d := &Delivery{
		Route: route, Provider: "github", Event: "push", ProviderID: "gh-1",
		Received: clock.Now(), Method: http.MethodPost, Path: "/hooks/gh?x=1",
		Header: http.Header{"Content-Type": {"application/json"}, "X-Github-Event": {"push"}},
		Body:   []byte(`{"n":1}`),
	}
	for _, dst := range destinations {
		d.Targets = append(d.Targets, Target{Destination: dst})
	}
	if err := b.Append(ctx, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func claim(t testing.TB, b *Bolt, now time.Time, limit int, quota Quota) []Task {
	t.Helper()
	tasks, err := b.Claim(ctx, now, limit, time.Minute, quota)
	if err != nil {
		t.Fatal(err)
	}
	return tasks
}

func get(t testing.TB, b *Bolt, id string) *Delivery {
	t.Helper()
	d, err := b.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func target(t testing.TB, b *Bolt, id, destination string) Target {
	t.Helper()
	for _, tr := range get(t, b, id).Targets {
		if tr.Destination == destination {
			return tr
		}
	}
	t.Fatalf("%s has no target %s", id, destination)
	return Target{}
}

func record(t testing.TB, b *Bolt, task Task, status int, o Outcome) {
	t.Helper()
	if err := b.Record(ctx, task, Attempt{At: o.Next, Status: status, Duration: time.Millisecond}, o); err != nil {
		t.Fatal(err)
	}
}

// names are the "id/destination" of tasks, in order.
func names(tasks []Task) []string {
	var s []string
	for _, task := range tasks {
		s = append(s, task.Delivery.ID+"/"+task.Target.Destination)
	}
	return s
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	var last string
	base := time.UnixMilli(1_700_000_000_000)
	for i := range 2000 {
		at := base.Add(time.Duration(i) * time.Millisecond)
		id := NewID(at)
		if len(id) != 30 || !strings.HasPrefix(id, IDPrefix) {
			t.Fatalf("id %q: want msg_ and 26 characters", id)
		}
		if strings.Trim(id[4:], crockford) != "" {
			t.Fatalf("id %q has a character outside Crockford base32", id)
		}
		if id[4] > '7' {
			t.Fatalf("id %q: the first character holds 3 bits", id)
		}
		if id <= last {
			t.Fatalf("id %q sorts before %q, made a millisecond earlier", id, last)
		}
		if ms := decodeMillis(id); ms != at.UnixMilli() {
			t.Fatalf("id %q holds %d ms, want %d", id, ms, at.UnixMilli())
		}
		if seen[id] {
			t.Fatalf("id %q twice", id)
		}
		seen[id], last = true, id
	}
	// same millisecond: still unique
	for range 1000 {
		id := NewID(base)
		if seen[id] {
			t.Fatalf("id %q twice", id)
		}
		seen[id] = true
	}
}

// decodeMillis reads the time out of an id, the ULID way: the first ten
// characters are the 48-bit millisecond timestamp.
func decodeMillis(id string) int64 {
	var ms int64
	for _, c := range id[4:14] {
		ms = ms<<5 | int64(strings.IndexRune(crockford, c))
	}
	return ms
}

func TestAppendValidates(t *testing.T) {
	clock := testclock.New()
	b := openTest(t, clock)
	d := add(t, b, clock, "r", "a")
	cases := []struct {
		name string
		d    Delivery
		want error
	}{
		{"id again", Delivery{ID: d.ID, Route: "r", Targets: []Target{{Destination: "a"}}}, ErrExists},
		{"no targets", Delivery{Route: "r"}, nil},
		{"no route", Delivery{Targets: []Target{{Destination: "a"}}}, nil},
		{"NUL in route", Delivery{Route: "r\x00", Targets: []Target{{Destination: "a"}}}, nil},
		{"NUL in destination", Delivery{Route: "r", Targets: []Target{{Destination: "a\x00b"}}}, nil},
		{"destination twice", Delivery{Route: "r", Targets: []Target{{Destination: "a"}, {Destination: "a"}}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := b.Append(ctx, &tc.d)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, cmpErr(tc.want))
			}
		})
	}
	// none of them left a trace
	if s, _ := b.Stats(ctx); s.Targets[Key{"r", "a", Pending}] != 1 || len(s.Targets) != 1 {
		t.Errorf("stats %v after refused appends", s.Targets)
	}
}

func cmpErr(err error) any {
	if err == nil {
		return "an error"
	}
	return err
}

// One delivery, two destinations: claimed with everything the attempt
// needs, hidden while leased, each destination recorded on its own.
func TestAppendClaimRecord(t *testing.T) {
	clock := testclock.New()
	b := openTest(t, clock)
	d := add(t, b, clock, "gh", "app", "audit")
	if !strings.HasPrefix(d.ID, IDPrefix) {
		t.Fatalf("Append gave id %q", d.ID)
	}
	now := clock.Now()

	tasks := claim(t, b, now, 10, nil)
	if got := names(tasks); !slices.Equal(got, []string{d.ID + "/app", d.ID + "/audit"}) {
		t.Fatalf("claimed %v", got)
	}
	task := tasks[0]
	if got := task.Delivery; string(got.Body) != `{"n":1}` || got.Header.Get("X-Github-Event") != "push" ||
		got.Method != "POST" || got.Path != "/hooks/gh?x=1" || got.Event != "push" || got.ProviderID != "gh-1" || got.Route != "gh" {
		t.Fatalf("task delivery %+v", got)
	}
	if task.Lease == "" || tasks[1].Lease == task.Lease {
		t.Fatalf("leases %q %q", task.Lease, tasks[1].Lease)
	}
	if again := claim(t, b, now, 10, nil); len(again) != 0 {
		t.Fatalf("claimed leased targets again: %v", names(again))
	}
	if next, ok, _ := b.NextDue(ctx, nil); !ok || !next.Equal(now.Add(time.Minute)) {
		t.Fatalf("NextDue = %v %v, want the lease's end", next, ok)
	}

	clock.Advance(time.Second)
	record(t, b, tasks[0], 200, Outcome{State: Delivered})
	retryAt := now.Add(5 * time.Second)
	if err := b.Record(ctx, tasks[1], Attempt{At: now, Status: 503, Error: "busy", Duration: time.Second}, Outcome{State: Pending, Next: retryAt}); err != nil {
		t.Fatal(err)
	}
	app, audit := target(t, b, d.ID, "app"), target(t, b, d.ID, "audit")
	if app.State != Delivered || app.Attempts != 1 || app.LastStatus != 200 || len(app.History) != 1 || !app.Updated.Equal(clock.Now()) {
		t.Errorf("app target %+v", app)
	}
	if audit.State != Pending || audit.Attempts != 1 || audit.Round != 1 || audit.LastError != "busy" || !audit.Next.Equal(retryAt) {
		t.Errorf("audit target %+v", audit)
	}
	if got := claim(t, b, retryAt.Add(-time.Nanosecond), 10, nil); len(got) != 0 {
		t.Fatalf("claimed before due: %v", names(got))
	}
	if got := claim(t, b, retryAt, 10, nil); !slices.Equal(names(got), []string{d.ID + "/audit"}) {
		t.Fatalf("claimed %v at the retry time", names(got))
	}
}

func TestRecordValidates(t *testing.T) {
	clock := testclock.New()
	b := openTest(t, clock)
	add(t, b, clock, "r", "a")
	task := claim(t, b, clock.Now(), 1, nil)[0]
	for _, o := range []Outcome{{State: "lost"}, {State: Pending}} {
		if err := b.Record(ctx, task, Attempt{}, o); err == nil {
			t.Errorf("Record accepted outcome %+v", o)
		}
	}
	if err := b.Record(ctx, Task{Target: task.Target, Lease: task.Lease}, Attempt{}, Outcome{State: Dead}); err == nil {
		t.Error("Record accepted a task without delivery")
	}
	if tr := target(t, b, task.Delivery.ID, "a"); tr.Attempts != 0 {
		t.Errorf("refused records wrote %+v", tr)
	}
}

// A claimer that dies leaves its task due again when the lease ends; the
// new claim takes the lease over, and the old one can no longer record.
func TestLeaseExpiryReclaimAndStaleRecord(t *testing.T) {
	clock := testclock.New()
	b := openTest(t, clock)
	d := add(t, b, clock, "r", "a")
	first := claim(t, b, clock.Now(), 1, nil)[0]

	if got := claim(t, b, clock.Advance(time.Minute-time.Nanosecond), 1, nil); len(got) != 0 {
		t.Fatal("claimed before the lease ran out")
	}
	second := claim(t, b, clock.Advance(time.Nanosecond), 1, nil)
	if len(second) != 1 || second[0].Lease == first.Lease {
		t.Fatalf("re-claim after the lease: %+v", second)
	}
	if err := b.Record(ctx, first, Attempt{Status: 200}, Outcome{State: Delivered}); !errors.Is(err, ErrStale) {
		t.Fatalf("Record with the lost lease: %v, want ErrStale", err)
	}
	if tr := target(t, b, d.ID, "a"); tr.State != Pending || tr.Attempts != 0 || len(tr.History) != 0 {
		t.Fatalf("a stale Record wrote %+v", tr)
	}
	record(t, b, second[0], 200, Outcome{State: Delivered})
	// recorded once: the same task cannot record again
	if err := b.Record(ctx, second[0], Attempt{Status: 200}, Outcome{State: Delivered}); !errors.Is(err, ErrStale) {
		t.Fatalf("second Record of one claim: %v, want ErrStale", err)
	}
}

// Claim takes the oldest due targets first across destinations, honours
// the limit, and gives each destination at most its quota.
func TestClaimOrderLimitAndQuota(t *testing.T) {
	cases := []struct {
		name  string
		limit int
		quota Quota
		want  []int // indexes of the deliveries claimed, in order; even ones go to a, odd ones to b
	}{
		{"oldest first, to the limit", 3, nil, []int{0, 1, 2}},
		{"quota 0 leaves a destination waiting", 10, func(_, d string) int { return -btoi(d == "a") }, []int{0, 2}},
		{"quota 1", 10, func(string, string) int { return 1 }, []int{0, 1}},
		{"negative quota is no bound", 10, func(string, string) int { return -1 }, []int{0, 1, 2, 3}},
		{"limit 0", 0, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := testclock.New()
			b := openTest(t, clock)
			var all []string
			for i := range 4 {
				dst := []string{"a", "b"}[i%2]
				all = append(all, add(t, b, clock, "r", dst).ID+"/"+dst)
				clock.Advance(time.Second)
			}
			var want []string
			for _, i := range tc.want {
				want = append(want, all[i])
			}
			if got := names(claim(t, b, clock.Now(), tc.limit, tc.quota)); !slices.Equal(got, want) {
				t.Errorf("claimed %v, want %v", got, want)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestNextDue(t *testing.T) {
	clock := testclock.New()
	b := openTest(t, clock)
	if _, ok, err := b.NextDue(ctx, nil); ok || err != nil {
		t.Fatalf("empty journal: NextDue ok=%v err=%v", ok, err)
	}
	start := clock.Now()
	add(t, b, clock, "r", "a")
	clock.Advance(time.Second)
	add(t, b, clock, "r", "b")
	if next, ok, _ := b.NextDue(ctx, nil); !ok || !next.Equal(start) {
		t.Errorf("NextDue = %v, want %v", next, start)
	}
	onlyB := func(_, d string) int { return btoi(d == "b") }
	if next, ok, _ := b.NextDue(ctx, onlyB); !ok || !next.Equal(start.Add(time.Second)) {
		t.Errorf("NextDue without a = %v, want %v", next, start.Add(time.Second))
	}
	if _, ok, _ := b.NextDue(ctx, func(string, string) int { return 0 }); ok {
		t.Error("NextDue found a target though every quota is 0")
	}
}

// Paused destinations wait (in every route), are listed, survive a
// reopen, and come back when resumed.
func TestPause(t *testing.T) {
	clock := testclock.New()
	path := filepath.Join(t.TempDir(), "j.db")
	b := openAt(t, path, clock)
	d1 := add(t, b, clock, "r1", "a", "b")
	clock.Advance(time.Millisecond) // ids made in one millisecond sort at random
	d2 := add(t, b, clock, "r2", "a")
	if err := b.SetPaused(ctx, "a", true); err != nil {
		t.Fatal(err)
	}
	if err := b.SetPaused(ctx, "", true); err == nil {
		t.Error("paused a destination without a name")
	}
	if got := claim(t, b, clock.Now(), 10, nil); !slices.Equal(names(got), []string{d1.ID + "/b"}) {
		t.Fatalf("claimed %v while a is paused", names(got))
	}
	if _, ok, _ := b.NextDue(ctx, nil); !ok {
		t.Fatal("NextDue lost b's leased target")
	}
	b.Close()

	b = openAt(t, path, clock)
	if p, _ := b.Paused(ctx); !slices.Equal(p, []string{"a"}) {
		t.Fatalf("paused after reopen: %v", p)
	}
	clock.Advance(time.Hour) // far past any schedule: still nothing is dead
	if got := claim(t, b, clock.Now(), 10, nil); !slices.Equal(names(got), []string{d1.ID + "/b"}) {
		t.Fatalf("claimed %v while a is paused", names(got))
	}
	if err := b.SetPaused(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	if p, _ := b.Paused(ctx); len(p) != 0 {
		t.Fatalf("paused after resume: %v", p)
	}
	if got := claim(t, b, clock.Now(), 10, nil); !slices.Equal(names(got), []string{d1.ID + "/a", d2.ID + "/a"}) {
		t.Fatalf("claimed %v after resume", names(got))
	}
}

// Replay makes finished targets pending with a fresh schedule; the id
// stays the same.
func TestReplay(t *testing.T) {
	clock := testclock.New()
	b := openTest(t, clock)
	d := add(t, b, clock, "r", "a", "b", "c")
	tasks := claim(t, b, clock.Now(), 10, nil)
	record(t, b, tasks[0], 410, Outcome{State: Dead})
	record(t, b, tasks[1], 200, Outcome{State: Delivered})
	// c stays pending

	if _, err := b.Replay(ctx, "msg_nope", "", clock.Now()); !errors.Is(err, ErrNotFound) {
		t.Errorf("replay of an unknown id: %v", err)
	}
	if _, err := b.Replay(ctx, d.ID, "z", clock.Now()); !errors.Is(err, ErrNotFound) {
		t.Errorf("replay of an unknown destination: %v", err)
	}
	if n, err := b.Replay(ctx, d.ID, "c", clock.Now()); n != 0 || err != nil {
		t.Errorf("replay of a pending target: %d %v", n, err)
	}

	at := clock.Advance(time.Hour)
	n, err := b.Replay(ctx, d.ID, "", at)
	if n != 2 || err != nil {
		t.Fatalf("Replay = %d %v, want 2 targets", n, err)
	}
	for _, name := range []string{"a", "b"} {
		tr := target(t, b, d.ID, name)
		if tr.State != Pending || !tr.Next.Equal(at) || tr.Round != 0 || tr.Attempts != 1 || tr.Replays != 1 {
			t.Errorf("replayed %s: %+v", name, tr)
		}
	}
	got := claim(t, b, at, 10, nil)
	// c's lease (from the first claim) ran out long ago: it is due too
	if !slices.Equal(names(got), []string{d.ID + "/c", d.ID + "/a", d.ID + "/b"}) {
		t.Fatalf("claimed %v after replay", names(got))
	}
	if got[1].Target.Replays != 1 {
		t.Errorf("a replayed task says Replays %d", got[1].Target.Replays)
	}
}

func TestReplayWhere(t *testing.T) {
	defer func(n int) { replayChunk = n }(replayChunk)
	replayChunk = 2 // cross chunk boundaries with a handful of deliveries
	clock := testclock.New()
	b := openTest(t, clock)
	var dead []string
	for i := range 5 {
		route := []string{"r1", "r2"}[i%2]
		d := add(t, b, clock, route, "a", "b")
		tasks := claim(t, b, clock.Now(), 10, nil)
		record(t, b, tasks[0], 500, Outcome{State: Dead})
		record(t, b, tasks[1], 200, Outcome{State: Delivered})
		if route == "r1" {
			dead = append(dead, d.ID)
		}
		clock.Advance(time.Second)
	}
	if _, err := b.ReplayWhere(ctx, Filter{Route: "r1"}, clock.Now()); err == nil {
		t.Error("ReplayWhere without a state replayed")
	}
	if _, err := b.ReplayWhere(ctx, Filter{State: Pending}, clock.Now()); err == nil {
		t.Error("ReplayWhere of pending targets replayed")
	}
	n, err := b.ReplayWhere(ctx, Filter{Route: "r1", State: Dead, Limit: 2}, clock.Now())
	if n != 2 || err != nil {
		t.Fatalf("ReplayWhere limit 2 = %d %v", n, err)
	}
	n, err = b.ReplayWhere(ctx, Filter{Route: "r1", State: Dead}, clock.Now())
	if n != 1 || err != nil {
		t.Fatalf("ReplayWhere of the rest = %d %v", n, err)
	}
	for _, id := range dead {
		if a, bb := target(t, b, id, "a"), target(t, b, id, "b"); a.State != Pending || bb.State != Delivered {
			t.Errorf("%s after bulk replay: a %s, b %s", id, a.State, bb.State)
		}
	}
	s, _ := b.Stats(ctx)
	if s.Targets[Key{"r1", "a", Pending}] != 3 || s.Targets[Key{"r2", "a", Dead}] != 2 || s.Targets[Key{"r1", "a", Dead}] != 0 {
		t.Errorf("stats after bulk replay: %v", s.Targets)
	}
	n, err = b.ReplayWhere(ctx, Filter{State: Delivered, Destination: "b"}, clock.Now())
	if n != 5 || err != nil {
		t.Errorf("ReplayWhere of delivered b = %d %v", n, err)
	}
}

// List walks newest first, filters, pages with Before, and leaves bodies
// out.
func TestListFiltersAndOrder(t *testing.T) {
	clock := testclock.New()
	b := openTest(t, clock)
	var ids []string // oldest first
	for i := range 6 {
		route := []string{"r1", "r2", "r3"}[i%3]
		ids = append(ids, add(t, b, clock, route, "a", "b").ID)
		clock.Advance(time.Second)
	}
	tasks := claim(t, b, clock.Now(), 2, nil) // ids[0] a and b
	record(t, b, tasks[0], 410, Outcome{State: Dead})
	record(t, b, tasks[1], 200, Outcome{State: Delivered})

	rev := slices.Clone(ids)
	slices.Reverse(rev)
	cases := []struct {
		name string
		f    Filter
		want []string
	}{
		{"all, newest first", Filter{}, rev},
		{"limit", Filter{Limit: 2}, rev[:2]},
		{"before", Filter{Before: ids[3]}, []string{ids[2], ids[1], ids[0]}},
		{"before, limit", Filter{Before: ids[3], Limit: 1}, []string{ids[2]}},
		{"before the oldest", Filter{Before: ids[0]}, nil},
		{"before past the newest", Filter{Before: "msg_Z"}, rev},
		{"route", Filter{Route: "r1"}, []string{ids[3], ids[0]}},
		{"state dead", Filter{State: Dead}, []string{ids[0]}},
		{"state pending", Filter{State: Pending}, rev[:5]},
		{"destination and state", Filter{Destination: "b", State: Dead}, nil},
		{"destination and state delivered", Filter{Destination: "b", State: Delivered}, []string{ids[0]}},
		{"unknown route", Filter{Route: "nope"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := b.List(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, d := range got {
				gotIDs = append(gotIDs, d.ID)
				if d.Body != nil || len(d.Targets) != 2 || d.Header.Get("Content-Type") == "" {
					t.Errorf("listed %s: body %q, %d targets, header %v", d.ID, d.Body, len(d.Targets), d.Header)
				}
			}
			if !slices.Equal(gotIDs, tc.want) {
				t.Errorf("listed %v, want %v", gotIDs, tc.want)
			}
		})
	}
}

// Prune deletes deliveries whose targets all finished before their
// route's cutoff, and nothing else.
func TestPrune(t *testing.T) {
	defer func(n int) { pruneChunk = n }(pruneChunk)
	pruneChunk = 2
	clock := testclock.New()
	b := openTest(t, clock)
	finish := func(route string, state State) string {
		d := add(t, b, clock, route, "a")
		record(t, b, claim(t, b, clock.Now(), 1, nil)[0], 200, Outcome{State: state})
		return d.ID
	}
	old1 := finish("r1", Delivered)
	old2 := finish("r1", Dead)
	old3 := finish("r1", Delivered)
	oldOther := finish("r2", Dead)
	open := add(t, b, clock, "r1", "a", "b") // a finishes, b stays pending
	if err := b.SetPaused(ctx, "b", true); err != nil {
		t.Fatal(err)
	}
	record(t, b, claim(t, b, clock.Now(), 1, nil)[0], 200, Outcome{State: Delivered})
	clock.Advance(2 * time.Hour)
	recent := finish("r1", Delivered)
	// a replayed delivery is no longer finished, however old
	replayed := finish("r2", Dead)
	clock.Advance(time.Hour)
	if _, err := b.Replay(ctx, replayed, "", clock.Now()); err != nil {
		t.Fatal(err)
	}
	// r1 keeps one hour, r2 keeps ten
	cutoffs := map[string]time.Time{"r1": clock.Now().Add(-time.Hour), "r2": clock.Now().Add(-10 * time.Hour)}
	n, err := b.Prune(ctx, func(route string) time.Time { return cutoffs[route] })
	if n != 3 || err != nil {
		t.Fatalf("Prune = %d %v, want 3", n, err)
	}
	for _, id := range []string{old1, old2, old3} {
		if _, err := b.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s survived the prune: %v", id, err)
		}
	}
	for _, id := range []string{oldOther, open.ID, recent, replayed} {
		get(t, b, id)
	}
	s, _ := b.Stats(ctx)
	want := map[Key]int{
		{"r1", "a", Delivered}: 2, {"r1", "b", Pending}: 1,
		{"r2", "a", Dead}: 1, {"r2", "a", Pending}: 1,
	}
	if !mapsEqual(s.Targets, want) {
		t.Errorf("stats after prune %v, want %v", s.Targets, want)
	}
	if n, _ := b.Prune(ctx, func(string) time.Time { return clock.Now().Add(time.Hour) }); n != 2 {
		t.Errorf("pruning everything finished deleted %d, want 2 (oldOther, recent)", n)
	}
}

func mapsEqual[K comparable](a, b map[K]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestStats(t *testing.T) {
	clock := testclock.New()
	b := openTest(t, clock)
	if s, err := b.Stats(ctx); err != nil || len(s.Targets) != 0 || !s.OldestPending.IsZero() {
		t.Fatalf("empty stats %+v %v", s, err)
	}
	first := clock.Now()
	d := add(t, b, clock, "r", "a", "b")
	clock.Advance(time.Minute)
	add(t, b, clock, "r", "a")
	add(t, b, clock, "q", "a")
	tasks := claim(t, b, first, 10, nil) // d's two targets
	record(t, b, tasks[0], 200, Outcome{State: Delivered})
	record(t, b, tasks[1], 500, Outcome{State: Dead})
	s, _ := b.Stats(ctx)
	want := map[Key]int{{"r", "a", Delivered}: 1, {"r", "b", Dead}: 1, {"r", "a", Pending}: 1, {"q", "a", Pending}: 1}
	if !mapsEqual(s.Targets, want) {
		t.Errorf("stats %v, want %v", s.Targets, want)
	}
	// d is finished; the oldest pending is the next one
	if !s.OldestPending.Equal(first.Add(time.Minute)) {
		t.Errorf("oldest pending %v, want %v (d %s finished)", s.OldestPending, first.Add(time.Minute), d.ID)
	}
}

// Everything is on disk: a reopened journal has the deliveries, their
// bodies, targets, histories, leases, pauses and counts.
func TestReopenKeepsEverything(t *testing.T) {
	clock := testclock.New()
	path := filepath.Join(t.TempDir(), "j.db")
	b := openAt(t, path, clock)
	d := add(t, b, clock, "r", "a", "b")
	tasks := claim(t, b, clock.Now(), 10, nil)
	record(t, b, tasks[0], 200, Outcome{State: Delivered})
	if err := b.SetPaused(ctx, "x", true); err != nil {
		t.Fatal(err)
	}
	before := get(t, b, d.ID)
	stats, _ := b.Stats(ctx)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b = openAt(t, path, clock)
	after := get(t, b, d.ID)
	if fmt.Sprint(after) != fmt.Sprint(before) || string(after.Body) != `{"n":1}` {
		t.Errorf("after reopen %+v\nbefore %+v", after, before)
	}
	if s, _ := b.Stats(ctx); !mapsEqual(s.Targets, stats.Targets) || !s.OldestPending.Equal(stats.OldestPending) {
		t.Errorf("stats after reopen %+v, before %+v", s, stats)
	}
	if p, _ := b.Paused(ctx); !slices.Equal(p, []string{"x"}) {
		t.Errorf("paused after reopen %v", p)
	}
	// the lease taken before the close still records
	record(t, b, tasks[1], 200, Outcome{State: Delivered})
}

func TestSecondOpenerGetsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	openAt(t, path, nil)
	_, err := OpenBolt(path, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, berrors.ErrTimeout) {
		t.Fatalf("second open: %v, want a lock timeout", err)
	}
}

// A path below a regular file: the directory cannot be made, whoever runs
// the test (root included).
func TestOpenWhereNoDirectoryCanBe(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBolt(filepath.Join(file, "webhook", "j.db"), Options{}); err == nil {
		t.Fatal("opened a journal below a regular file")
	}
}

// A file that refuses writes fails Append with an error (the handler
// answers 503), not a panic, and reads keep working. chmod does not stop
// root, so the test opens the file descriptor itself read-only (through
// the openFile hook), which refuses writes to root as well.
func TestAppendFailsOnReadOnlyFile(t *testing.T) {
	clock := testclock.New()
	path := filepath.Join(t.TempDir(), "j.db")
	b := openAt(t, path, clock)
	d := add(t, b, clock, "r", "a")
	b.Close()

	ro, err := OpenBolt(path, Options{Now: clock.Now, openFile: func(name string, _ int, _ os.FileMode) (*os.File, error) {
		return os.OpenFile(name, os.O_RDONLY, 0)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	err = ro.Append(ctx, &Delivery{Route: "r", Targets: []Target{{Destination: "a"}}, Body: []byte("x")})
	if err == nil {
		t.Fatal("Append on a read-only file succeeded")
	}
	t.Logf("Append on a read-only file: %v", err)
	if got := get(t, ro, d.ID); string(got.Body) != `{"n":1}` {
		t.Errorf("read after the failed append: %q", got.Body)
	}
}

// A full disk, played by bbolt's MaxSize: Append fails with an error, and
// what was stored before stays readable.
func TestAppendFailsWhenFull(t *testing.T) {
	clock := testclock.New()
	b, err := OpenBolt(filepath.Join(t.TempDir(), "j.db"), Options{Now: clock.Now, MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	body := make([]byte, 64<<10)
	var stored []string
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("100 appends of 64 KiB fit in 1 MiB")
		}
		d := &Delivery{Route: "r", Targets: []Target{{Destination: "a"}}, Body: body}
		err := b.Append(ctx, d)
		if err != nil {
			if !errors.Is(err, berrors.ErrMaxSizeReached) {
				t.Fatalf("full journal: %v, want ErrMaxSizeReached", err)
			}
			break
		}
		stored = append(stored, d.ID)
	}
	if len(stored) == 0 {
		t.Fatal("nothing fit")
	}
	for _, id := range stored {
		if got := get(t, b, id); len(got.Body) != len(body) {
			t.Fatalf("%s lost its body after the disk filled", id)
		}
	}
}

// 64 appenders at once, under -race: every delivery is stored once.
func TestConcurrentAppend(t *testing.T) {
	clock := testclock.New()
	b := openTest(t, clock)
	const writers, each = 64, 10
	ids := make(chan string, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				d := &Delivery{Route: "r", Body: fmt.Appendf(nil, "%d/%d", w, i), Targets: []Target{{Destination: "a"}, {Destination: "b"}}}
				if err := b.Append(ctx, d); err != nil {
					t.Error(err)
					return
				}
				ids <- d.ID
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %s twice", id)
		}
		seen[id] = true
		get(t, b, id)
	}
	s, _ := b.Stats(ctx)
	if len(seen) != writers*each || s.Targets[Key{"r", "a", Pending}] != writers*each || s.Targets[Key{"r", "b", Pending}] != writers*each {
		t.Errorf("%d ids, stats %v", len(seen), s.Targets)
	}
}

func TestCanceledContext(t *testing.T) {
	b := openTest(t, testclock.New())
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Append(done, &Delivery{Route: "r", Targets: []Target{{Destination: "a"}}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a canceled context: %v", err)
	}
	if _, err := b.Claim(done, time.Now(), 1, time.Minute, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Claim with a canceled context: %v", err)
	}
}
