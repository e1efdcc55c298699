package journal

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/webhookverify/caddy-webhook-verify/internal/testclock"
)

var ctx = context.Background()

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

func get(t testing.TB, b *Bolt, id string) *Delivery {
	t.Helper()
	d, err := b.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
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
			// the commit failed after the batch function ran: its Seq
			// was never the delivery's
			if d.Seq != 0 {
				t.Errorf("a failed Append left Seq %d on the delivery", d.Seq)
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
	// the failed commit gave its Seq back with the rest of the
	// transaction
	if last, err := b.LastSeq(ctx); last != uint64(len(stored)) || err != nil {
		t.Errorf("LastSeq = %d %v after %d stored appends", last, err, len(stored))
	}
}

// Prune leaves nothing of a delivery in the Seq indexes (Since would skip
// a dangling entry, so only the buckets show it), and the bucket's
// sequence, the last Seq, stays.
func TestPruneEmptiesSeqIndexes(t *testing.T) {
	clock := testclock.New()
	b := openAt(t, filepath.Join(t.TempDir(), "j.db"), clock)
	for range 5 {
		add(t, b, clock, "r", "a", "stream:dev")
	}
	tasks, err := b.Claim(ctx, clock.Now(), 100, time.Minute, nil)
	if err != nil || len(tasks) != 10 {
		t.Fatalf("claimed %d: %v", len(tasks), err)
	}
	for _, task := range tasks {
		if err := b.Record(ctx, task, Attempt{Status: 200}, Outcome{State: Delivered}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Hour)
	if n, err := b.Prune(ctx, func(string) time.Time { return clock.Now() }); n != 5 || err != nil {
		t.Fatalf("Prune = %d %v", n, err)
	}
	err = b.db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketSeq, bucketDestSeq} {
			if n := tx.Bucket(name).Stats().KeyN; n != 0 {
				t.Errorf("%d keys left in %s", n, name)
			}
		}
		if last := tx.Bucket(bucketSeq).Sequence(); last != 5 {
			t.Errorf("the sequence went to %d, want 5", last)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
