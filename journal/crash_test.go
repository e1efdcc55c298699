package journal

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// crashChildEnv, set to a journal path, turns the test binary into the
// child of TestCrashKeepsAcknowledgedAppends.
const crashChildEnv = "JOURNAL_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		appendUntilKilled(path)
	}
	os.Exit(m.Run())
}

// appendUntilKilled appends from 8 goroutines forever, printing each id
// once Append has returned: a printed id is one a provider would have
// been told 2xx for.
func appendUntilKilled(path string) {
	b, err := OpenBolt(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var out sync.Mutex
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				d := &Delivery{Route: "r", Body: fmt.Appendf(nil, `{"w":%d,"i":%d}`, w, i), Targets: []Target{{Destination: "a"}}}
				if err := b.Append(context.Background(), d); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				out.Lock()
				fmt.Println(d.ID)
				out.Unlock()
			}
		}()
	}
	select {}
}

// A process killed with SIGKILL in the middle of appending loses nothing
// it acknowledged, and leaves a file bbolt finds consistent. (SIGKILL
// kills the process, not the machine: what this proves is that Append
// returns only after its transaction committed; that the commit is
// fsync'd is bbolt's part.)
func TestCrashKeepsAcknowledgedAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 300
	var acked []string
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		acked = append(acked, lines.Text())
		if len(acked) == killAfter {
			cmd.Process.Kill() // SIGKILL, while the other appenders are mid-write
		}
	}
	cmd.Wait()
	if len(acked) < killAfter {
		t.Fatalf("the child acknowledged %d appends before it ended: %s", len(acked), stderr.Bytes())
	}

	b := openAt(t, path, nil)
	for _, id := range acked {
		d, err := b.Get(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged %s lost: %v", id, err)
		}
		if len(d.Body) == 0 || len(d.Targets) != 1 || d.Targets[0].State != Pending {
			t.Fatalf("acknowledged %s came back as %+v", id, d)
		}
	}
	s, _ := b.Stats(ctx)
	if n := s.Targets[Key{"r", "a", Pending}]; n < len(acked) {
		t.Errorf("stats count %d pending, %d were acknowledged", n, len(acked))
	}
	err = b.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
	if err != nil {
		t.Errorf("bbolt check after the crash: %v", err)
	}
	// The Seq counter and the index entries commit together: after the
	// crash the index holds exactly 1 to LastSeq, every acknowledged
	// delivery among them.
	last, err := b.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inIndex := map[string]bool{}
	for after := uint64(0); ; {
		page, err := b.Since(ctx, after, "a", MaxListLimit)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, d := range page {
			if d.Seq != after+1 {
				t.Fatalf("after Seq %d the index has %d", after, d.Seq)
			}
			after, inIndex[d.ID] = d.Seq, true
		}
	}
	if uint64(len(inIndex)) != last {
		t.Errorf("the index holds %d deliveries, LastSeq is %d", len(inIndex), last)
	}
	for _, id := range acked {
		if !inIndex[id] {
			t.Fatalf("acknowledged %s is not in the Seq index", id)
		}
	}
	t.Logf("%d acknowledged appends, all there after SIGKILL", len(acked))
}
