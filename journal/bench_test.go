package journal_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/internal/journaltest"
	"github.com/webhookverify/caddy-webhook-verify/internal/testclock"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

var ctx = context.Background()

// appenders is how many claims the workers' benchmark takes at once.
const appenders = journaltest.Appenders

// BenchmarkAppend is a burst of webhooks on the real disk (t.TempDir),
// each Append fsync'd: see journaltest.BenchAppend.
func BenchmarkAppend(b *testing.B) {
	j, err := journal.OpenBolt(filepath.Join(b.TempDir(), "j.db"), journal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	journaltest.BenchAppend(b, j)
}

// BenchmarkClaimRecord is the workers' side: claim a due target, record
// its delivery, 64 at a time.
func BenchmarkClaimRecord(b *testing.B) {
	clock := testclock.New()
	j, err := journal.OpenBolt(filepath.Join(b.TempDir(), "j.db"), journal.Options{Now: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	body := make([]byte, 1<<10)
	var wg sync.WaitGroup
	for w := range appenders {
		wg.Go(func() {
			for i := w; i < b.N; i += appenders {
				if err := j.Append(ctx, &journal.Delivery{Route: "r", Body: body, Targets: []journal.Target{{Destination: "a"}}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportAllocs()
	b.ResetTimer()
	now := clock.Now()
	start := time.Now()
	for left := b.N; left > 0; {
		tasks, err := j.Claim(ctx, now, appenders, time.Minute, nil)
		if err != nil || len(tasks) == 0 {
			b.Fatal("claim", err, len(tasks))
		}
		for _, task := range tasks {
			wg.Go(func() {
				if err := j.Record(ctx, task, journal.Attempt{At: now, Status: 200}, journal.Outcome{State: journal.Delivered}); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		left -= len(tasks)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
}
