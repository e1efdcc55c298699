package journal

import (
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/internal/testclock"
)

// appenders is how many handlers append at once in the benchmarks.
const appenders = 64

// BenchmarkAppend is what a burst of webhooks costs: 64 concurrent
// appenders, 1 KiB bodies, on the real disk (t.TempDir), each Append
// fsync'd. It reports the throughput and the 99th percentile latency of
// one Append (what a provider waits for before its 202).
func BenchmarkAppend(b *testing.B) {
	j, err := OpenBolt(filepath.Join(b.TempDir(), "j.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	body := make([]byte, 1<<10)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	header := http.Header{
		"Content-Type":      {"application/json"},
		"User-Agent":        {"GitHub-Hookshot/abc123"},
		"X-Github-Event":    {"push"},
		"X-Github-Delivery": {"72d3162e-cc78-11e3-81ab-4c9367dc0958"},
	}
	var mu sync.Mutex
	var latencies []time.Duration
	b.SetParallelism((appenders + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			d := &Delivery{
				Route: "github", Provider: "github", Event: "push", Method: "POST", Path: "/hooks/github",
				Header: header, Body: body, Targets: []Target{{Destination: "app"}, {Destination: "audit"}},
			}
			began := time.Now()
			if err := j.Append(ctx, d); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(began))
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	p99 := latencies[len(latencies)*99/100]
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "appends/s")
	b.ReportMetric(float64(p99)/float64(time.Millisecond), "p99-ms")
}

// BenchmarkClaimRecord is the workers' side: claim a due target, record
// its delivery, 64 at a time.
func BenchmarkClaimRecord(b *testing.B) {
	clock := testclock.New()
	j, err := OpenBolt(filepath.Join(b.TempDir(), "j.db"), Options{Now: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	body := make([]byte, 1<<10)
	var wg sync.WaitGroup
	for w := range appenders {
		wg.Go(func() {
			for i := w; i < b.N; i += appenders {
				if err := j.Append(ctx, &Delivery{Route: "r", Body: body, Targets: []Target{{Destination: "a"}}}); err != nil {
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
				if err := j.Record(ctx, task, Attempt{At: now, Status: 200}, Outcome{State: Delivered}); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		left -= len(tasks)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
}
