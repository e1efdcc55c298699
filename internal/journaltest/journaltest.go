// Package journaltest is the conformance suite of journal.Store: every
// promise the journal package makes, checked against any implementation
// (journal.Bolt, redisstore.Journal) with an injected clock. What only
// one implementation can show (a full disk, a file lock, a server that
// restarts) stays in that implementation's own tests.
package journaltest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/internal/testclock"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// Harness opens the stores under test.
type Harness struct {
	// Open makes fresh, empty storage for t and returns open, which opens
	// a handle on it (each call another one: a restart, or a second
	// instance) with now as its clock. Handles are closed when t ends;
	// a test may close one first.
	Open func(t *testing.T, now func() time.Time) (open func() journal.Store)
	// SmallChunks, when set, makes ReplayWhere and Prune work in chunks of
	// two, so the suite crosses chunk boundaries; it returns what undoes
	// it.
	SmallChunks func() (restore func())
}

// Run runs the suite, each test as a subtest.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"AppendValidates", appendValidates},
		{"AppendClaimRecord", appendClaimRecord},
		{"RecordValidates", recordValidates},
		{"LeaseExpiryReclaimAndStaleRecord", leaseExpiry},
		{"ClaimOrderLimitAndQuota", claimOrderLimitAndQuota},
		{"ConcurrentClaimsTakeEachTargetOnce", concurrentClaims},
		{"NextDue", nextDue},
		{"Pause", pause},
		{"Replay", replay},
		{"ReplayWhere", replayWhere},
		{"ListFiltersAndOrder", listFiltersAndOrder},
		{"Prune", prune},
		{"Stats", stats},
		{"ReopenKeepsEverything", reopenKeepsEverything},
		{"HistoryIsBounded", historyIsBounded},
		{"ConcurrentAppend", concurrentAppend},
		{"SeqConcurrentAppendAndFollow", seqConcurrent},
		{"SinceFiltersAndOrder", sinceFiltersAndOrder},
		{"SeqAfterPruneAndReopen", seqAfterPruneAndReopen},
		{"CanceledContext", canceledContext},
		{"Closed", closed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

var ctx = context.Background()

// fixture is one test's clock and its first store handle.
type fixture struct {
	t     *testing.T
	clock *testclock.Clock
	open  func() journal.Store
	b     journal.Store
}

func setup(t *testing.T, h Harness) *fixture {
	clock := testclock.New()
	open := h.Open(t, clock.Now)
	return &fixture{t: t, clock: clock, open: open, b: open()}
}

// add appends a delivery of route to destinations, received now.
func (f *fixture) add(route string, destinations ...string) *journal.Delivery {
	f.t.Helper()
	d := &journal.Delivery{
		Route: route, Provider: "github", Event: "push", ProviderID: "gh-1",
		Received: f.clock.Now(), Method: http.MethodPost, Path: "/hooks/gh?x=1",
		Header: http.Header{"Content-Type": {"application/json"}, "X-Github-Event": {"push"}},
		Body:   []byte(`{"n":1}`),
	}
	for _, dst := range destinations {
		d.Targets = append(d.Targets, journal.Target{Destination: dst})
	}
	if err := f.b.Append(ctx, d); err != nil {
		f.t.Fatal(err)
	}
	return d
}

func (f *fixture) claim(now time.Time, limit int, quota journal.Quota) []journal.Task {
	f.t.Helper()
	tasks, err := f.b.Claim(ctx, now, limit, time.Minute, quota)
	if err != nil {
		f.t.Fatal(err)
	}
	return tasks
}

func (f *fixture) get(id string) *journal.Delivery {
	f.t.Helper()
	d, err := f.b.Get(ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

func (f *fixture) target(id, destination string) journal.Target {
	f.t.Helper()
	for _, tr := range f.get(id).Targets {
		if tr.Destination == destination {
			return tr
		}
	}
	f.t.Fatalf("%s has no target %s", id, destination)
	return journal.Target{}
}

func (f *fixture) record(task journal.Task, status int, o journal.Outcome) {
	f.t.Helper()
	if err := f.b.Record(ctx, task, journal.Attempt{At: o.Next, Status: status, Duration: time.Millisecond}, o); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) stats() journal.Stats {
	f.t.Helper()
	s, err := f.b.Stats(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// names are the "id/destination" of tasks, in order.
func names(tasks []journal.Task) []string {
	var s []string
	for _, task := range tasks {
		s = append(s, task.Delivery.ID+"/"+task.Target.Destination)
	}
	return s
}

func cmpErr(err error) any {
	if err == nil {
		return "an error"
	}
	return err
}

func appendValidates(t *testing.T, h Harness) {
	f := setup(t, h)
	d := f.add("r", "a")
	cases := []struct {
		name string
		d    journal.Delivery
		want error
	}{
		{"id again", journal.Delivery{ID: d.ID, Route: "r", Targets: []journal.Target{{Destination: "a"}}}, journal.ErrExists},
		{"no targets", journal.Delivery{Route: "r"}, nil},
		{"no route", journal.Delivery{Targets: []journal.Target{{Destination: "a"}}}, nil},
		{"NUL in route", journal.Delivery{Route: "r\x00", Targets: []journal.Target{{Destination: "a"}}}, nil},
		{"NUL in destination", journal.Delivery{Route: "r", Targets: []journal.Target{{Destination: "a\x00b"}}}, nil},
		{"destination twice", journal.Delivery{Route: "r", Targets: []journal.Target{{Destination: "a"}, {Destination: "a"}}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := f.b.Append(ctx, &tc.d)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, cmpErr(tc.want))
			}
		})
	}
	// none of them left a trace
	if s := f.stats(); s.Targets[journal.Key{Route: "r", Destination: "a", State: journal.Pending}] != 1 || len(s.Targets) != 1 {
		t.Errorf("stats %v after refused appends", s.Targets)
	}
	if last, err := f.b.LastSeq(ctx); last != d.Seq || err != nil {
		t.Errorf("LastSeq %d %v after refused appends, want %d", last, err, d.Seq)
	}
}

// One delivery, two destinations: claimed with everything the attempt
// needs, hidden while leased, each destination recorded on its own.
func appendClaimRecord(t *testing.T, h Harness) {
	f := setup(t, h)
	d := f.add("gh", "app", "audit")
	if !strings.HasPrefix(d.ID, journal.IDPrefix) {
		t.Fatalf("Append gave id %q", d.ID)
	}
	now := f.clock.Now()

	tasks := f.claim(now, 10, nil)
	if got := names(tasks); !slices.Equal(got, []string{d.ID + "/app", d.ID + "/audit"}) {
		t.Fatalf("claimed %v", got)
	}
	task := tasks[0]
	if got := task.Delivery; string(got.Body) != `{"n":1}` || got.Header.Get("X-Github-Event") != "push" ||
		got.Method != "POST" || got.Path != "/hooks/gh?x=1" || got.Event != "push" || got.ProviderID != "gh-1" || got.Route != "gh" {
		t.Fatalf("task delivery %+v", got)
	}
	if !task.Target.Next.Equal(now.Add(time.Minute)) || task.Target.State != journal.Pending {
		t.Errorf("task target %+v, want pending until the lease's end", task.Target)
	}
	if task.Lease == "" || tasks[1].Lease == task.Lease {
		t.Fatalf("leases %q %q", task.Lease, tasks[1].Lease)
	}
	if again := f.claim(now, 10, nil); len(again) != 0 {
		t.Fatalf("claimed leased targets again: %v", names(again))
	}
	if next, ok, _ := f.b.NextDue(ctx, nil); !ok || !next.Equal(now.Add(time.Minute)) {
		t.Fatalf("NextDue = %v %v, want the lease's end", next, ok)
	}

	f.clock.Advance(time.Second)
	f.record(tasks[0], 200, journal.Outcome{State: journal.Delivered})
	retryAt := now.Add(5 * time.Second)
	if err := f.b.Record(ctx, tasks[1], journal.Attempt{At: now, Status: 503, Error: "busy", Duration: time.Second}, journal.Outcome{State: journal.Pending, Next: retryAt}); err != nil {
		t.Fatal(err)
	}
	app, audit := f.target(d.ID, "app"), f.target(d.ID, "audit")
	if app.State != journal.Delivered || app.Attempts != 1 || app.LastStatus != 200 || len(app.History) != 1 || !app.Updated.Equal(f.clock.Now()) || !app.Next.IsZero() {
		t.Errorf("app target %+v", app)
	}
	if audit.State != journal.Pending || audit.Attempts != 1 || audit.Round != 1 || audit.LastError != "busy" || !audit.Next.Equal(retryAt) {
		t.Errorf("audit target %+v", audit)
	}
	if h := audit.History; len(h) != 1 || !h[0].At.Equal(now) || h[0].Status != 503 || h[0].Error != "busy" || h[0].Duration != time.Second {
		t.Errorf("audit history %+v", h)
	}
	if got := f.claim(retryAt.Add(-time.Nanosecond), 10, nil); len(got) != 0 {
		t.Fatalf("claimed before due: %v", names(got))
	}
	if got := f.claim(retryAt, 10, nil); !slices.Equal(names(got), []string{d.ID + "/audit"}) {
		t.Fatalf("claimed %v at the retry time", names(got))
	}
}

func recordValidates(t *testing.T, h Harness) {
	f := setup(t, h)
	f.add("r", "a")
	task := f.claim(f.clock.Now(), 1, nil)[0]
	for _, o := range []journal.Outcome{{State: "lost"}, {State: journal.Pending}} {
		if err := f.b.Record(ctx, task, journal.Attempt{}, o); err == nil {
			t.Errorf("Record accepted outcome %+v", o)
		}
	}
	if err := f.b.Record(ctx, journal.Task{Target: task.Target, Lease: task.Lease}, journal.Attempt{}, journal.Outcome{State: journal.Dead}); err == nil {
		t.Error("Record accepted a task without delivery")
	}
	if err := f.b.Record(ctx, journal.Task{Delivery: task.Delivery, Target: task.Target}, journal.Attempt{}, journal.Outcome{State: journal.Dead}); !errors.Is(err, journal.ErrStale) {
		t.Errorf("Record without a lease: %v, want ErrStale", err)
	}
	gone := journal.Task{Delivery: &journal.Delivery{ID: "msg_gone"}, Target: task.Target, Lease: task.Lease}
	if err := f.b.Record(ctx, gone, journal.Attempt{}, journal.Outcome{State: journal.Dead}); !errors.Is(err, journal.ErrStale) {
		t.Errorf("Record of an unknown delivery: %v, want ErrStale", err)
	}
	if tr := f.target(task.Delivery.ID, "a"); tr.Attempts != 0 {
		t.Errorf("refused records wrote %+v", tr)
	}
}

// A claimer that dies leaves its task due again when the lease ends; the
// new claim takes the lease over, and the old one can no longer record.
func leaseExpiry(t *testing.T, h Harness) {
	f := setup(t, h)
	d := f.add("r", "a")
	first := f.claim(f.clock.Now(), 1, nil)[0]

	if got := f.claim(f.clock.Advance(time.Minute-time.Nanosecond), 1, nil); len(got) != 0 {
		t.Fatal("claimed before the lease ran out")
	}
	second := f.claim(f.clock.Advance(time.Nanosecond), 1, nil)
	if len(second) != 1 || second[0].Lease == first.Lease {
		t.Fatalf("re-claim after the lease: %+v", second)
	}
	if err := f.b.Record(ctx, first, journal.Attempt{Status: 200}, journal.Outcome{State: journal.Delivered}); !errors.Is(err, journal.ErrStale) {
		t.Fatalf("Record with the lost lease: %v, want ErrStale", err)
	}
	if tr := f.target(d.ID, "a"); tr.State != journal.Pending || tr.Attempts != 0 || len(tr.History) != 0 {
		t.Fatalf("a stale Record wrote %+v", tr)
	}
	f.record(second[0], 200, journal.Outcome{State: journal.Delivered})
	// recorded once: the same task cannot record again
	if err := f.b.Record(ctx, second[0], journal.Attempt{Status: 200}, journal.Outcome{State: journal.Delivered}); !errors.Is(err, journal.ErrStale) {
		t.Fatalf("second Record of one claim: %v, want ErrStale", err)
	}
}

// Claim takes the oldest due targets first across destinations, honours
// the limit, and gives each destination at most its quota.
func claimOrderLimitAndQuota(t *testing.T, h Harness) {
	cases := []struct {
		name  string
		limit int
		quota journal.Quota
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
			f := setup(t, h)
			var all []string
			for i := range 4 {
				dst := []string{"a", "b"}[i%2]
				all = append(all, f.add("r", dst).ID+"/"+dst)
				f.clock.Advance(time.Second)
			}
			var want []string
			for _, i := range tc.want {
				want = append(want, all[i])
			}
			if got := names(f.claim(f.clock.Now(), tc.limit, tc.quota)); !slices.Equal(got, want) {
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

// Claimers racing on one store (several dispatchers, or instances) each
// get different targets, and together all of them.
func concurrentClaims(t *testing.T, h Harness) {
	f := setup(t, h)
	const deliveries = 40
	for range deliveries {
		f.add("r", "a", "b")
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				tasks, err := f.b.Claim(ctx, f.clock.Now(), 3, time.Minute, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if len(tasks) == 0 {
					return
				}
				mu.Lock()
				for _, name := range names(tasks) {
					seen[name]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 2*deliveries {
		t.Errorf("claimed %d targets, want %d", len(seen), 2*deliveries)
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s claimed %d times", name, n)
		}
	}
}

func nextDue(t *testing.T, h Harness) {
	f := setup(t, h)
	if _, ok, err := f.b.NextDue(ctx, nil); ok || err != nil {
		t.Fatalf("empty journal: NextDue ok=%v err=%v", ok, err)
	}
	start := f.clock.Now()
	f.add("r", "a")
	f.clock.Advance(time.Second)
	f.add("r", "b")
	if next, ok, _ := f.b.NextDue(ctx, nil); !ok || !next.Equal(start) {
		t.Errorf("NextDue = %v, want %v", next, start)
	}
	onlyB := func(_, d string) int { return btoi(d == "b") }
	if next, ok, _ := f.b.NextDue(ctx, onlyB); !ok || !next.Equal(start.Add(time.Second)) {
		t.Errorf("NextDue without a = %v, want %v", next, start.Add(time.Second))
	}
	if _, ok, _ := f.b.NextDue(ctx, func(string, string) int { return 0 }); ok {
		t.Error("NextDue found a target though every quota is 0")
	}
	if err := f.b.SetPaused(ctx, "a", true); err != nil {
		t.Fatal(err)
	}
	if next, ok, _ := f.b.NextDue(ctx, nil); !ok || !next.Equal(start.Add(time.Second)) {
		t.Errorf("NextDue with a paused = %v, want %v", next, start.Add(time.Second))
	}
}

// Paused destinations wait (in every route), are listed, survive a
// reopen, and come back when resumed.
func pause(t *testing.T, h Harness) {
	f := setup(t, h)
	d1 := f.add("r1", "a", "b")
	f.clock.Advance(time.Millisecond) // ids made in one millisecond sort at random
	d2 := f.add("r2", "a")
	if err := f.b.SetPaused(ctx, "a", true); err != nil {
		t.Fatal(err)
	}
	if err := f.b.SetPaused(ctx, "", true); err == nil {
		t.Error("paused a destination without a name")
	}
	if got := f.claim(f.clock.Now(), 10, nil); !slices.Equal(names(got), []string{d1.ID + "/b"}) {
		t.Fatalf("claimed %v while a is paused", names(got))
	}
	if _, ok, _ := f.b.NextDue(ctx, nil); !ok {
		t.Fatal("NextDue lost b's leased target")
	}
	f.b.Close()

	f.b = f.open()
	if p, _ := f.b.Paused(ctx); !slices.Equal(p, []string{"a"}) {
		t.Fatalf("paused after reopen: %v", p)
	}
	f.clock.Advance(time.Hour) // far past any schedule: still nothing is dead
	if got := f.claim(f.clock.Now(), 10, nil); !slices.Equal(names(got), []string{d1.ID + "/b"}) {
		t.Fatalf("claimed %v while a is paused", names(got))
	}
	if err := f.b.SetPaused(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	if p, _ := f.b.Paused(ctx); len(p) != 0 {
		t.Fatalf("paused after resume: %v", p)
	}
	if got := f.claim(f.clock.Now(), 10, nil); !slices.Equal(names(got), []string{d1.ID + "/a", d2.ID + "/a"}) {
		t.Fatalf("claimed %v after resume", names(got))
	}
}

// Replay makes finished targets pending with a fresh schedule; the id
// stays the same.
func replay(t *testing.T, h Harness) {
	f := setup(t, h)
	d := f.add("r", "a", "b", "c")
	tasks := f.claim(f.clock.Now(), 10, nil)
	f.record(tasks[0], 410, journal.Outcome{State: journal.Dead})
	f.record(tasks[1], 200, journal.Outcome{State: journal.Delivered})
	// c stays pending

	if _, err := f.b.Replay(ctx, "msg_nope", "", f.clock.Now()); !errors.Is(err, journal.ErrNotFound) {
		t.Errorf("replay of an unknown id: %v", err)
	}
	if _, err := f.b.Replay(ctx, d.ID, "z", f.clock.Now()); !errors.Is(err, journal.ErrNotFound) {
		t.Errorf("replay of an unknown destination: %v", err)
	}
	if n, err := f.b.Replay(ctx, d.ID, "c", f.clock.Now()); n != 0 || err != nil {
		t.Errorf("replay of a pending target: %d %v", n, err)
	}

	at := f.clock.Advance(time.Hour)
	n, err := f.b.Replay(ctx, d.ID, "", at)
	if n != 2 || err != nil {
		t.Fatalf("Replay = %d %v, want 2 targets", n, err)
	}
	for _, name := range []string{"a", "b"} {
		tr := f.target(d.ID, name)
		if tr.State != journal.Pending || !tr.Next.Equal(at) || tr.Round != 0 || tr.Attempts != 1 || tr.Replays != 1 || len(tr.History) != 1 {
			t.Errorf("replayed %s: %+v", name, tr)
		}
	}
	if s := f.stats(); s.Targets[journal.Key{Route: "r", Destination: "a", State: journal.Pending}] != 1 || s.Targets[journal.Key{Route: "r", Destination: "a", State: journal.Dead}] != 0 {
		t.Errorf("stats after replay: %v", s.Targets)
	}
	got := f.claim(at, 10, nil)
	// c's lease (from the first claim) ran out long ago: it is due too
	if !slices.Equal(names(got), []string{d.ID + "/c", d.ID + "/a", d.ID + "/b"}) {
		t.Fatalf("claimed %v after replay", names(got))
	}
	if got[1].Target.Replays != 1 {
		t.Errorf("a replayed task says Replays %d", got[1].Target.Replays)
	}
	// one destination only
	f.record(got[1], 200, journal.Outcome{State: journal.Delivered})
	f.record(got[2], 200, journal.Outcome{State: journal.Delivered})
	if n, err := f.b.Replay(ctx, d.ID, "b", at); n != 1 || err != nil {
		t.Errorf("replay of b: %d %v", n, err)
	}
	if a := f.target(d.ID, "a"); a.State != journal.Delivered {
		t.Errorf("replaying b touched a: %+v", a)
	}
}

func replayWhere(t *testing.T, h Harness) {
	if h.SmallChunks != nil {
		defer h.SmallChunks()()
	}
	f := setup(t, h)
	var dead []string
	for i := range 5 {
		route := []string{"r1", "r2"}[i%2]
		d := f.add(route, "a", "b")
		tasks := f.claim(f.clock.Now(), 10, nil)
		f.record(tasks[0], 500, journal.Outcome{State: journal.Dead})
		f.record(tasks[1], 200, journal.Outcome{State: journal.Delivered})
		if route == "r1" {
			dead = append(dead, d.ID)
		}
		f.clock.Advance(time.Second)
	}
	if _, err := f.b.ReplayWhere(ctx, journal.Filter{Route: "r1"}, f.clock.Now()); err == nil {
		t.Error("ReplayWhere without a state replayed")
	}
	if _, err := f.b.ReplayWhere(ctx, journal.Filter{State: journal.Pending}, f.clock.Now()); err == nil {
		t.Error("ReplayWhere of pending targets replayed")
	}
	n, err := f.b.ReplayWhere(ctx, journal.Filter{Route: "r1", State: journal.Dead, Limit: 2}, f.clock.Now())
	if n != 2 || err != nil {
		t.Fatalf("ReplayWhere limit 2 = %d %v", n, err)
	}
	n, err = f.b.ReplayWhere(ctx, journal.Filter{Route: "r1", State: journal.Dead}, f.clock.Now())
	if n != 1 || err != nil {
		t.Fatalf("ReplayWhere of the rest = %d %v", n, err)
	}
	for _, id := range dead {
		if a, bb := f.target(id, "a"), f.target(id, "b"); a.State != journal.Pending || bb.State != journal.Delivered {
			t.Errorf("%s after bulk replay: a %s, b %s", id, a.State, bb.State)
		}
	}
	s := f.stats()
	if s.Targets[journal.Key{Route: "r1", Destination: "a", State: journal.Pending}] != 3 || s.Targets[journal.Key{Route: "r2", Destination: "a", State: journal.Dead}] != 2 || s.Targets[journal.Key{Route: "r1", Destination: "a", State: journal.Dead}] != 0 {
		t.Errorf("stats after bulk replay: %v", s.Targets)
	}
	n, err = f.b.ReplayWhere(ctx, journal.Filter{State: journal.Delivered, Destination: "b"}, f.clock.Now())
	if n != 5 || err != nil {
		t.Errorf("ReplayWhere of delivered b = %d %v", n, err)
	}
}

// List walks newest first, filters, pages with Before, and leaves bodies
// out.
func listFiltersAndOrder(t *testing.T, h Harness) {
	f := setup(t, h)
	var ids []string // oldest first
	for i := range 6 {
		route := []string{"r1", "r2", "r3"}[i%3]
		ids = append(ids, f.add(route, "a", "b").ID)
		f.clock.Advance(time.Second)
	}
	tasks := f.claim(f.clock.Now(), 2, nil) // ids[0] a and b
	f.record(tasks[0], 410, journal.Outcome{State: journal.Dead})
	f.record(tasks[1], 200, journal.Outcome{State: journal.Delivered})

	rev := slices.Clone(ids)
	slices.Reverse(rev)
	cases := []struct {
		name string
		f    journal.Filter
		want []string
	}{
		{"all, newest first", journal.Filter{}, rev},
		{"limit", journal.Filter{Limit: 2}, rev[:2]},
		{"before", journal.Filter{Before: ids[3]}, []string{ids[2], ids[1], ids[0]}},
		{"before, limit", journal.Filter{Before: ids[3], Limit: 1}, []string{ids[2]}},
		{"before the oldest", journal.Filter{Before: ids[0]}, nil},
		{"before past the newest", journal.Filter{Before: "msg_Z"}, rev},
		{"route", journal.Filter{Route: "r1"}, []string{ids[3], ids[0]}},
		{"state dead", journal.Filter{State: journal.Dead}, []string{ids[0]}},
		{"state pending", journal.Filter{State: journal.Pending}, rev[:5]},
		{"destination and state", journal.Filter{Destination: "b", State: journal.Dead}, nil},
		{"destination and state delivered", journal.Filter{Destination: "b", State: journal.Delivered}, []string{ids[0]}},
		{"unknown route", journal.Filter{Route: "nope"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.b.List(ctx, tc.f)
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
func prune(t *testing.T, h Harness) {
	if h.SmallChunks != nil {
		defer h.SmallChunks()()
	}
	f := setup(t, h)
	finish := func(route string, state journal.State) string {
		d := f.add(route, "a")
		f.record(f.claim(f.clock.Now(), 1, nil)[0], 200, journal.Outcome{State: state})
		return d.ID
	}
	old1 := finish("r1", journal.Delivered)
	old2 := finish("r1", journal.Dead)
	old3 := finish("r1", journal.Delivered)
	oldOther := finish("r2", journal.Dead)
	open := f.add("r1", "a", "b") // a finishes, b stays pending
	if err := f.b.SetPaused(ctx, "b", true); err != nil {
		t.Fatal(err)
	}
	f.record(f.claim(f.clock.Now(), 1, nil)[0], 200, journal.Outcome{State: journal.Delivered})
	f.clock.Advance(2 * time.Hour)
	recent := finish("r1", journal.Delivered)
	// a replayed delivery is no longer finished, however old
	replayed := finish("r2", journal.Dead)
	f.clock.Advance(time.Hour)
	if _, err := f.b.Replay(ctx, replayed, "", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	// r1 keeps one hour, r2 keeps ten
	cutoffs := map[string]time.Time{"r1": f.clock.Now().Add(-time.Hour), "r2": f.clock.Now().Add(-10 * time.Hour)}
	n, err := f.b.Prune(ctx, func(route string) time.Time { return cutoffs[route] })
	if n != 3 || err != nil {
		t.Fatalf("Prune = %d %v, want 3", n, err)
	}
	for _, id := range []string{old1, old2, old3} {
		if _, err := f.b.Get(ctx, id); !errors.Is(err, journal.ErrNotFound) {
			t.Errorf("%s survived the prune: %v", id, err)
		}
	}
	for _, id := range []string{oldOther, open.ID, recent, replayed} {
		f.get(id)
	}
	if l, _ := f.b.List(ctx, journal.Filter{}); len(l) != 4 {
		t.Errorf("listed %d deliveries after the prune, want 4", len(l))
	}
	want := map[journal.Key]int{
		{Route: "r1", Destination: "a", State: journal.Delivered}: 2, {Route: "r1", Destination: "b", State: journal.Pending}: 1,
		{Route: "r2", Destination: "a", State: journal.Dead}: 1, {Route: "r2", Destination: "a", State: journal.Pending}: 1,
	}
	if s := f.stats(); !mapsEqual(s.Targets, want) {
		t.Errorf("stats after prune %v, want %v", s.Targets, want)
	}
	if n, _ := f.b.Prune(ctx, func(string) time.Time { return f.clock.Now().Add(time.Hour) }); n != 2 {
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

func stats(t *testing.T, h Harness) {
	f := setup(t, h)
	if s := f.stats(); len(s.Targets) != 0 || !s.OldestPending.IsZero() {
		t.Fatalf("empty stats %+v", s)
	}
	first := f.clock.Now()
	d := f.add("r", "a", "b")
	f.clock.Advance(time.Minute)
	f.add("r", "a")
	f.add("q", "a")
	tasks := f.claim(first, 10, nil) // d's two targets
	f.record(tasks[0], 200, journal.Outcome{State: journal.Delivered})
	f.record(tasks[1], 500, journal.Outcome{State: journal.Dead})
	s := f.stats()
	want := map[journal.Key]int{
		{Route: "r", Destination: "a", State: journal.Delivered}: 1, {Route: "r", Destination: "b", State: journal.Dead}: 1,
		{Route: "r", Destination: "a", State: journal.Pending}: 1, {Route: "q", Destination: "a", State: journal.Pending}: 1,
	}
	if !mapsEqual(s.Targets, want) {
		t.Errorf("stats %v, want %v", s.Targets, want)
	}
	// d is finished; the oldest pending is the next one
	if !s.OldestPending.Equal(first.Add(time.Minute)) {
		t.Errorf("oldest pending %v, want %v (d %s finished)", s.OldestPending, first.Add(time.Minute), d.ID)
	}
}

// Everything is kept: a reopened journal has the deliveries, their
// bodies, targets, histories, leases, pauses and counts.
func reopenKeepsEverything(t *testing.T, h Harness) {
	f := setup(t, h)
	d := f.add("r", "a", "b")
	tasks := f.claim(f.clock.Now(), 10, nil)
	f.record(tasks[0], 200, journal.Outcome{State: journal.Delivered})
	if err := f.b.SetPaused(ctx, "x", true); err != nil {
		t.Fatal(err)
	}
	before := f.get(d.ID)
	stats := f.stats()
	if err := f.b.Close(); err != nil {
		t.Fatal(err)
	}

	f.b = f.open()
	after := f.get(d.ID)
	if fmt.Sprint(after) != fmt.Sprint(before) || string(after.Body) != `{"n":1}` {
		t.Errorf("after reopen %+v\nbefore %+v", after, before)
	}
	if s := f.stats(); !mapsEqual(s.Targets, stats.Targets) || !s.OldestPending.Equal(stats.OldestPending) {
		t.Errorf("stats after reopen %+v, before %+v", s, stats)
	}
	if p, _ := f.b.Paused(ctx); !slices.Equal(p, []string{"x"}) {
		t.Errorf("paused after reopen %v", p)
	}
	// the lease taken before the close still records
	f.record(tasks[1], 200, journal.Outcome{State: journal.Delivered})
}

// A target keeps its latest MaxHistory attempts, while Attempts counts
// them all.
func historyIsBounded(t *testing.T, h Harness) {
	f := setup(t, h)
	d := f.add("r", "a")
	const attempts = journal.MaxHistory + 5
	for i := range attempts {
		task := f.claim(f.clock.Now(), 1, nil)[0]
		next := f.clock.Now().Add(time.Second)
		if err := f.b.Record(ctx, task, journal.Attempt{At: f.clock.Now(), Status: 500 + i}, journal.Outcome{State: journal.Pending, Next: next}); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Second)
	}
	tr := f.target(d.ID, "a")
	if tr.Attempts != attempts || tr.Round != attempts || len(tr.History) != journal.MaxHistory {
		t.Fatalf("after %d attempts: %d attempts, round %d, %d in history", attempts, tr.Attempts, tr.Round, len(tr.History))
	}
	if first, last := tr.History[0].Status, tr.History[len(tr.History)-1].Status; first != 505 || last != 500+attempts-1 {
		t.Errorf("history runs from %d to %d, want the latest %d", first, last, journal.MaxHistory)
	}
}

// 64 appenders at once, under -race: every delivery is stored once.
func concurrentAppend(t *testing.T, h Harness) {
	f := setup(t, h)
	const writers, each = 64, 10
	ids := make(chan string, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				d := &journal.Delivery{Route: "r", Body: fmt.Appendf(nil, "%d/%d", w, i), Targets: []journal.Target{{Destination: "a"}, {Destination: "b"}}}
				if err := f.b.Append(ctx, d); err != nil {
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
		f.get(id)
	}
	s := f.stats()
	if len(seen) != writers*each || s.Targets[journal.Key{Route: "r", Destination: "a", State: journal.Pending}] != writers*each || s.Targets[journal.Key{Route: "r", Destination: "b", State: journal.Pending}] != writers*each {
		t.Errorf("%d ids, stats %v", len(seen), s.Targets)
	}
}

func canceledContext(t *testing.T, h Harness) {
	f := setup(t, h)
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.b.Append(done, &journal.Delivery{Route: "r", Targets: []journal.Target{{Destination: "a"}}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a canceled context: %v", err)
	}
	if _, err := f.b.Claim(done, time.Now(), 1, time.Minute, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Claim with a canceled context: %v", err)
	}
}

// A closed store refuses work with an error; closing twice is fine.
func closed(t *testing.T, h Harness) {
	f := setup(t, h)
	f.add("r", "a")
	if err := f.b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.b.Append(ctx, &journal.Delivery{Route: "r", Targets: []journal.Target{{Destination: "a"}}}); err == nil {
		t.Error("Append on a closed store succeeded")
	}
	if _, err := f.b.Claim(ctx, f.clock.Now(), 1, time.Minute, nil); err == nil {
		t.Error("Claim on a closed store succeeded")
	}
	f.b.Close()
}
