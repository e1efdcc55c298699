package journaltest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// Positions (Delivery.Seq, Since, LastSeq): what a stream subscriber
// resuming with Last-Event-ID relies on.

// stream is a destination named the way stream destinations are.
const stream = "stream:dev"

func (f *fixture) since(after uint64, destination string, limit int) []journal.Delivery {
	f.t.Helper()
	got, err := f.b.Since(ctx, after, destination, limit)
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

func (f *fixture) lastSeq() uint64 {
	f.t.Helper()
	last, err := f.b.LastSeq(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return last
}

// follow pages through Since from after, limit at a time, until it
// returns nothing; it fails t if a page is out of order or goes back.
func (f *fixture) follow(after uint64, destination string, limit int) []journal.Delivery {
	f.t.Helper()
	var all []journal.Delivery
	for {
		page := f.since(after, destination, limit)
		if len(page) > limit {
			f.t.Fatalf("Since(%d, %q, %d) returned %d", after, destination, limit, len(page))
		}
		if len(page) == 0 {
			return all
		}
		for _, d := range page {
			if d.Seq <= after {
				f.t.Fatalf("Since(%d, %q) returned %s at %d, not above the previous", after, destination, d.ID, d.Seq)
			}
			after = d.Seq
		}
		all = append(all, page...)
	}
}

// seqIDs are the "id@seq" of deliveries, in order.
func seqIDs(ds []journal.Delivery) []string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("%s@%d", d.ID, d.Seq))
	}
	return s
}

// 64 appenders at once while a subscriber follows a destination with
// Since: each Append gets a Seq above every Seq of an Append that had
// returned before it began (commit order), written back to the delivery
// and stored; the follower, always resuming after the last Seq it saw,
// sees every delivery exactly once, in order: no Seq at or below one it
// has seen turns up later. Every fourth Append reuses a stored id and
// fails, which makes bolt's group commit run the other Appends of its
// batch again: the Seq they keep is the one that committed.
func seqConcurrent(t *testing.T, h Harness) {
	f := setup(t, h)
	taken := f.add("r", "a")
	const writers, each = 64, 16

	var (
		done      atomic.Bool
		completed atomic.Uint64 // the highest Seq of an Append that has returned
		mu        sync.Mutex
		appended  []*journal.Delivery
		wg        sync.WaitGroup
	)
	seen := map[string]uint64{} // by the follower: id → Seq
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		after := taken.Seq
		for last := false; !last; {
			last = done.Load() // one more round after the appenders finish: the drain
			for {
				page, err := f.b.Since(ctx, after, stream, 50)
				if err != nil {
					t.Error(err)
					return
				}
				if len(page) == 0 {
					if !last {
						time.Sleep(time.Millisecond) // caught up: leave the CPU to the appenders
					}
					break
				}
				for _, d := range page {
					if d.Seq <= after {
						t.Errorf("Since(%d) returned %s at %d, at or below a Seq already seen", after, d.ID, d.Seq)
						return
					}
					if _, ok := seen[d.ID]; ok {
						t.Errorf("%s seen twice", d.ID)
						return
					}
					seen[d.ID], after = d.Seq, d.Seq
				}
			}
		}
	}()
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if i%4 == 3 {
					dup := &journal.Delivery{ID: taken.ID, Route: "r", Targets: []journal.Target{{Destination: "a"}}}
					if err := f.b.Append(ctx, dup); !errors.Is(err, journal.ErrExists) || dup.Seq != 0 {
						t.Errorf("Append of a stored id: %v, Seq %d; want ErrExists and no Seq", err, dup.Seq)
					}
				}
				d := &journal.Delivery{Route: "r", Body: fmt.Appendf(nil, "%d/%d", w, i), Targets: []journal.Target{{Destination: "a"}, {Destination: stream}}}
				floor := completed.Load()
				if err := f.b.Append(ctx, d); err != nil {
					t.Error(err)
					return
				}
				if d.Seq <= floor {
					t.Errorf("Append got Seq %d, though one with %d had returned before it began", d.Seq, floor)
				}
				raise(&completed, d.Seq)
				mu.Lock()
				appended = append(appended, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	done.Store(true)
	<-followed
	if t.Failed() {
		return
	}

	if len(appended) != writers*each || len(seen) != len(appended) {
		t.Fatalf("%d appended, the follower saw %d", len(appended), len(seen))
	}
	seqs := map[uint64]string{}
	for _, d := range appended {
		if other, ok := seqs[d.Seq]; ok {
			t.Fatalf("Seq %d given to %s and %s", d.Seq, other, d.ID)
		}
		seqs[d.Seq] = d.ID
		if seen[d.ID] != d.Seq {
			t.Errorf("%s: Append wrote back Seq %d, the follower saw %d", d.ID, d.Seq, seen[d.ID])
		}
	}
	for _, d := range appended[:8] {
		if got := f.get(d.ID); got.Seq != d.Seq {
			t.Errorf("%s: Get says Seq %d, Append %d", d.ID, got.Seq, d.Seq)
		}
	}
	if last := f.lastSeq(); last != completed.Load() {
		t.Errorf("LastSeq = %d, want the highest assigned, %d", last, completed.Load())
	}

	// the limit: DefaultListLimit when 0, at most MaxListLimit, the
	// lowest Seqs first
	byDest := f.since(0, "a", 0)
	if len(byDest) != journal.DefaultListLimit || byDest[0].ID != taken.ID {
		t.Fatalf("Since with limit 0: %v, want %d from %s", seqIDs(byDest), journal.DefaultListLimit, taken.ID)
	}
	if got := f.since(0, "a", 10*journal.MaxListLimit); len(got) != journal.MaxListLimit || !slices.EqualFunc(got[:len(byDest)], byDest, func(a, b journal.Delivery) bool { return a.Seq == b.Seq }) {
		t.Errorf("Since with a limit past the cap: %d deliveries, want the first %d", len(got), journal.MaxListLimit)
	}
}

// raise makes n at least v.
func raise(n *atomic.Uint64, v uint64) {
	for {
		old := n.Load()
		if old >= v || n.CompareAndSwap(old, v) {
			return
		}
	}
}

// Since keeps one destination's deliveries (or all of them, for ""), in
// the order they were stored (not the order of their ids), with bodies
// and targets; pages with after; Seq shows in Get, List and Claim, is not
// the caller's to set, and stays through a replay.
func sinceFiltersAndOrder(t *testing.T, h Harness) {
	f := setup(t, h)
	if got := f.since(0, "", 0); len(got) != 0 || f.lastSeq() != 0 {
		t.Fatalf("empty journal: Since %v, LastSeq %d", seqIDs(got), f.lastSeq())
	}
	// ids made in reverse: positions follow the appends, not the ids
	dests := [][]string{{"a", stream}, {"b"}, {stream, "b"}, {"a"}, {stream}}
	var all []*journal.Delivery
	for i, ds := range dests {
		d := &journal.Delivery{
			ID: fmt.Sprintf("msg_%d", len(dests)-i), Route: "r", Received: f.clock.Now(), Method: "POST", Path: "/p",
			Header: map[string][]string{"X-N": {fmt.Sprint(i)}}, Body: fmt.Appendf(nil, `{"i":%d}`, i),
		}
		for _, dst := range ds {
			d.Targets = append(d.Targets, journal.Target{Destination: dst})
		}
		if err := f.b.Append(ctx, d); err != nil {
			t.Fatal(err)
		}
		if d.Seq == 0 || (i > 0 && d.Seq <= all[i-1].Seq) {
			t.Fatalf("appended %s at Seq %d after %v", d.ID, d.Seq, all)
		}
		all = append(all, d)
	}
	want := func(is ...int) []string {
		var s []string
		for _, i := range is {
			s = append(s, fmt.Sprintf("%s@%d", all[i].ID, all[i].Seq))
		}
		return s
	}
	cases := []struct {
		name        string
		after       uint64
		destination string
		limit       int
		want        []string
	}{
		{"one destination", 0, stream, 0, want(0, 2, 4)},
		{"after the first", all[0].Seq, stream, 0, want(2, 4)},
		{"after a delivery of another destination", all[1].Seq, stream, 0, want(2, 4)},
		{"limit", 0, stream, 2, want(0, 2)},
		{"after the last", all[4].Seq, stream, 0, nil},
		{"another destination", 0, "b", 0, want(1, 2)},
		{"every destination", 0, "", 0, want(0, 1, 2, 3, 4)},
		{"every destination, after", all[2].Seq, "", 0, want(3, 4)},
		{"unknown destination", 0, "nope", 0, nil},
		{"after the highest Seq there can be", math.MaxUint64, "", 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.b.Since(ctx, tc.after, tc.destination, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seqIDs(got), tc.want) {
				t.Errorf("Since(%d, %q, %d) = %v, want %v", tc.after, tc.destination, tc.limit, seqIDs(got), tc.want)
			}
		})
	}
	if _, err := f.b.Since(ctx, 0, "a\x00b", 0); err == nil {
		t.Error("Since accepted a destination with a NUL")
	}

	// what a subscriber needs: bodies, headers, targets
	for _, d := range f.since(0, stream, 0) {
		i := slices.IndexFunc(all, func(a *journal.Delivery) bool { return a.ID == d.ID })
		if string(d.Body) != string(all[i].Body) || d.Header.Get("X-N") != fmt.Sprint(i) || len(d.Targets) != len(dests[i]) || d.Route != "r" || d.Method != "POST" {
			t.Errorf("Since gave %s as %+v", d.ID, d)
		}
	}
	// paging: every delivery exactly once, whatever the page size
	for limit := 1; limit <= 3; limit++ {
		if got := seqIDs(f.follow(0, "", limit)); !slices.Equal(got, want(0, 1, 2, 3, 4)) {
			t.Errorf("paging %d at a time: %v", limit, got)
		}
		if got := seqIDs(f.follow(0, stream, limit)); !slices.Equal(got, want(0, 2, 4)) {
			t.Errorf("paging %s %d at a time: %v", stream, limit, got)
		}
	}

	// Get, List and Claim say the same Seq
	if got := f.get(all[2].ID); got.Seq != all[2].Seq {
		t.Errorf("Get: Seq %d, want %d", got.Seq, all[2].Seq)
	}
	list, err := f.b.List(ctx, journal.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		if i := slices.IndexFunc(all, func(a *journal.Delivery) bool { return a.ID == d.ID }); d.Seq != all[i].Seq {
			t.Errorf("List: %s at Seq %d, want %d", d.ID, d.Seq, all[i].Seq)
		}
	}
	tasks := f.claim(f.clock.Now(), 20, nil)
	if len(tasks) != 7 {
		t.Fatalf("claimed %d tasks, want all 7 targets", len(tasks))
	}
	for _, task := range tasks {
		if i := slices.IndexFunc(all, func(a *journal.Delivery) bool { return a.ID == task.Delivery.ID }); task.Delivery.Seq != all[i].Seq {
			t.Errorf("Claim: %s at Seq %d, want %d", task.Delivery.ID, task.Delivery.Seq, all[i].Seq)
		}
	}

	// a replay keeps the position, and publishes nothing anew
	last := f.lastSeq()
	if last != all[4].Seq {
		t.Errorf("LastSeq = %d, want %d", last, all[4].Seq)
	}
	for _, task := range tasks {
		if task.Delivery.ID == all[0].ID {
			f.record(task, 200, journal.Outcome{State: journal.Delivered})
		}
	}
	if n, err := f.b.Replay(ctx, all[0].ID, "", f.clock.Now()); n != 2 || err != nil {
		t.Fatalf("Replay = %d %v", n, err)
	}
	if got := f.get(all[0].ID); got.Seq != all[0].Seq {
		t.Errorf("replayed %s moved from Seq %d to %d", got.ID, all[0].Seq, got.Seq)
	}
	if got := f.since(last, "", 0); len(got) != 0 || f.lastSeq() != last {
		t.Errorf("after a replay: Since(LastSeq) %v, LastSeq %d (was %d)", seqIDs(got), f.lastSeq(), last)
	}

	// the caller's Seq is ignored; a refused Append takes no Seq
	d := &journal.Delivery{Route: "r", Seq: 1 << 40, Targets: []journal.Target{{Destination: stream}}}
	if err := f.b.Append(ctx, d); err != nil {
		t.Fatal(err)
	}
	if d.Seq <= last || f.lastSeq() != d.Seq || f.get(d.ID).Seq != d.Seq {
		t.Errorf("Append with Seq set: got %d (LastSeq %d, stored %d), want a new one above %d", d.Seq, f.lastSeq(), f.get(d.ID).Seq, last)
	}
	dup := &journal.Delivery{ID: d.ID, Route: "r", Targets: []journal.Target{{Destination: stream}}}
	if err := f.b.Append(ctx, dup); !errors.Is(err, journal.ErrExists) || dup.Seq != 0 || f.lastSeq() != d.Seq {
		t.Errorf("Append of a stored id: %v, Seq %d, LastSeq %d", err, dup.Seq, f.lastSeq())
	}
}

// Prune takes deliveries out of Since, and their Seqs are never given
// again: not after the prune, not after a reopen, even when the journal
// was left empty.
func seqAfterPruneAndReopen(t *testing.T, h Harness) {
	if h.SmallChunks != nil {
		defer h.SmallChunks()()
	}
	f := setup(t, h)
	finish := func() *journal.Delivery {
		d := f.add("r", "a", stream)
		for _, task := range f.claim(f.clock.Now(), 10, nil) {
			f.record(task, 200, journal.Outcome{State: journal.Delivered})
		}
		return d
	}
	var gone []*journal.Delivery
	for range 3 {
		gone = append(gone, finish())
	}
	keep := f.add("r", stream) // pending: Prune leaves it
	top := f.lastSeq()
	if top != keep.Seq {
		t.Fatalf("LastSeq = %d, want %d", top, keep.Seq)
	}
	f.clock.Advance(time.Hour)
	if n, err := f.b.Prune(ctx, func(string) time.Time { return f.clock.Now() }); n != 3 || err != nil {
		t.Fatalf("Prune = %d %v, want 3", n, err)
	}
	if got := seqIDs(f.since(0, stream, 0)); !slices.Equal(got, seqIDs([]journal.Delivery{*keep})) {
		t.Errorf("Since after the prune: %v, want only %s", got, keep.ID)
	}
	if got := f.since(0, "a", 0); len(got) != 0 {
		t.Errorf("Since(a) after the prune: %v", seqIDs(got))
	}
	if got := seqIDs(f.since(0, "", 0)); !slices.Equal(got, seqIDs([]journal.Delivery{*keep})) {
		t.Errorf("Since every destination after the prune: %v", got)
	}
	if f.lastSeq() != top {
		t.Errorf("Prune moved LastSeq from %d to %d", top, f.lastSeq())
	}
	after := f.add("r", "a")
	if after.Seq <= top {
		t.Errorf("Seq %d after the prune, want above %d", after.Seq, top)
	}

	// now empty the journal entirely, and reopen it
	for _, task := range f.claim(f.clock.Now(), 10, nil) {
		f.record(task, 200, journal.Outcome{State: journal.Delivered})
	}
	f.clock.Advance(time.Hour)
	if n, err := f.b.Prune(ctx, func(string) time.Time { return f.clock.Now() }); n != 2 || err != nil {
		t.Fatalf("Prune = %d %v, want 2", n, err)
	}
	if err := f.b.Close(); err != nil {
		t.Fatal(err)
	}
	f.b = f.open()
	if got := f.since(0, "", 0); len(got) != 0 {
		t.Errorf("Since after pruning everything and a reopen: %v", seqIDs(got))
	}
	if f.lastSeq() != after.Seq {
		t.Errorf("LastSeq after a reopen = %d, want %d", f.lastSeq(), after.Seq)
	}
	next := f.add("r", stream)
	if next.Seq <= after.Seq {
		t.Errorf("Seq %d after a reopen, want above %d", next.Seq, after.Seq)
	}
	if got := seqIDs(f.since(top, stream, 0)); !slices.Equal(got, seqIDs([]journal.Delivery{*next})) {
		t.Errorf("Since after the reopen: %v, want %s", got, next.ID)
	}
	for _, d := range gone {
		if d.Seq >= next.Seq {
			t.Errorf("a pruned delivery had Seq %d, the new one %d", d.Seq, next.Seq)
		}
	}
}
