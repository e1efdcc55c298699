package webhookverify

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// durableProcessSite is a GitHub route with deliver to dest, on a
// schedule that keeps trying for a minute.
func durableProcessSite(dest, extra string) string {
	return fmt.Sprintf(`
	webhook_verify /github github {
		secret %s
		deliver {
			to http://%s/hooks {
				timeout 2s
			}
			retry {
				schedule 100ms 200ms 400ms 800ms 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s
			}
			%s
		}
	}`, "{env.WV_CRASH_SECRET}", dest, extra)
}

// Hundreds of deliveries sent while the destination is down, Caddy killed
// with SIGKILL in the middle, started again, the destination brought up:
// every acknowledged delivery arrives. Some may arrive twice (a crash
// between a 2xx and the journal's record of it), with the same Webhook-Id;
// the test prints how many.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	t.Setenv("WV_CRASH_SECRET", ghSecret)
	dir := t.TempDir()
	globals := "webhook {\n\t\tstorage bolt " + filepath.Join(dir, "deliveries.db") + "\n\t}"
	dest := newDestination(t)
	site := durableProcessSite(dest.addr, "")
	caddy := startCaddyProcess(t, dir, globals, site)

	load := startLoad(t, caddy.addr)
	// kill Caddy mid-stream, once a few hundred are acknowledged
	waitFor(t, "300 acknowledged deliveries", 60*time.Second, func() bool { return load.acknowledged() >= 300 })
	caddy.kill()
	killedAt := load.acknowledged()
	caddy.restart(globals, site)
	waitFor(t, "deliveries acknowledged after the restart", 60*time.Second, func() bool { return load.acknowledged() >= killedAt+100 })
	ids := load.finish()

	dest.up(t)
	waitFor(t, "every acknowledged delivery at the destination", 90*time.Second, func() bool {
		arrived, _ := dest.got(ids)
		return arrived == len(ids)
	})
	_, twice := dest.got(ids)
	t.Logf("%d deliveries acknowledged (%d before the kill); all arrived, %d of them twice", len(ids), killedAt, twice)
}

// `caddy reload` repeated under load loses nothing and stalls nothing:
// the journal stays open across reloads (one bbolt file, shared), and the
// old config's workers hand over to the new ones.
func TestReloadUnderLoadLosesNothing(t *testing.T) {
	t.Setenv("WV_CRASH_SECRET", ghSecret)
	dir := t.TempDir()
	globals := "webhook {\n\t\tstorage bolt " + filepath.Join(dir, "deliveries.db") + "\n\t}"
	dest := newDestination(t)
	dest.up(t)
	caddy := startCaddyProcess(t, dir, globals, durableProcessSite(dest.addr, ""))

	load := startLoad(t, caddy.addr)
	for i := range 5 {
		waitFor(t, "deliveries between reloads", 30*time.Second, func() bool { return load.acknowledged() >= (i+1)*100 })
		// a real change each time: the envelope on or off
		extra := ""
		if i%2 == 0 {
			extra = "envelope"
		}
		if err := caddy.reload(globals, durableProcessSite(dest.addr, extra)); err != nil {
			t.Fatalf("reload %d: %v", i+1, err)
		}
	}
	ids := load.finish()
	waitFor(t, "every acknowledged delivery at the destination", 60*time.Second, func() bool {
		arrived, _ := dest.got(ids)
		return arrived == len(ids)
	})
	_, twice := dest.got(ids)
	t.Logf("%d deliveries acknowledged across 5 reloads; all arrived, %d of them twice", len(ids), twice)
}
