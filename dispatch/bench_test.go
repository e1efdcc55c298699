package dispatch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// delivered counts delivered attempts and says when it reaches a goal.
type delivered struct {
	NopObserver
	n    atomic.Int64
	goal int64
	done chan struct{}
}

func (o *delivered) Attempted(i AttemptInfo) {
	if i.State == journal.Delivered && o.n.Add(1) == o.goal {
		close(o.done)
	}
}

// BenchmarkDeliver is the whole way: 64 handlers Accept at once (each an
// fsync'd append), the dispatcher claims, sends to a local server and
// records. It reports deliveries per second, from the first Accept to the
// last delivery recorded.
func BenchmarkDeliver(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	store, err := journal.OpenBolt(filepath.Join(b.TempDir(), "j.db"), journal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	obs := &delivered{goal: int64(b.N), done: make(chan struct{})}
	d, err := New(Options{Store: store, Observer: obs, Routes: map[string]Route{"r": {
		Destinations: []Destination{{Name: "app", URL: srv.URL, MaxConcurrent: DefaultWorkers}},
	}}})
	if err != nil {
		b.Fatal(err)
	}
	d.Start()
	defer d.Stop(context.Background())
	body := make([]byte, 1<<10)
	header := http.Header{"Content-Type": {"application/json"}}
	b.SetParallelism((64 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			del := &journal.Delivery{Route: "r", Provider: "github", Event: "push", Method: "POST", Header: header, Body: body}
			if _, err := d.Accept(context.Background(), del); err != nil {
				b.Error(err)
				return
			}
		}
	})
	select {
	case <-obs.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d of %d delivered after five minutes", obs.n.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
}
