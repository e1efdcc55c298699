package journaltest

import (
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// Appenders is how many handlers append at once in BenchAppend.
const Appenders = 64

// BenchAppend is what a burst of webhooks costs a store: Appenders
// concurrent appenders, 1 KiB bodies, two destinations. It reports the
// throughput and the 99th percentile latency of one Append (what a
// provider waits for before its 2xx).
func BenchAppend(b *testing.B, j journal.Store) {
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
	b.SetParallelism((Appenders + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			d := &journal.Delivery{
				Route: "github", Provider: "github", Event: "push", Method: "POST", Path: "/hooks/github",
				Header: header, Body: body, Targets: []journal.Target{{Destination: "app"}, {Destination: "audit"}},
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
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "appends/s")
	b.ReportMetric(float64(latencies[len(latencies)*99/100])/float64(time.Millisecond), "p99-ms")
}
