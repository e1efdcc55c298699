package events

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/dispatch"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// countDelivered publishes like Observer and says when goal deliveries
// were recorded.
type countDelivered struct {
	Observer
	n    atomic.Int64
	goal int64
	done chan struct{}
}

func (o *countDelivered) Attempted(i dispatch.AttemptInfo) {
	o.Observer.Attempted(i)
	if i.State == journal.Delivered && o.n.Add(1) == o.goal {
		close(o.done)
	}
}

// Deliveries per second through a real journal and dispatcher, every
// accept and attempt published to the hub, with and without 20 stream
// clients that never read (as dispatch's BenchmarkDeliver, plus the
// stream).
func BenchmarkDeliverStalledClients(b *testing.B) {
	for _, stalled := range []int{0, 20} {
		b.Run(fmt.Sprintf("stalled=%d", stalled), func(b *testing.B) {
			hub := NewHub(HubOptions{})
			stream := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ServeSSE(w, r, hub, SSEOptions{StreamOptions: StreamOptions{WriteTimeout: time.Second}})
			}))
			stream.Listener = smallBuffers{stream.Listener}
			stream.Start()
			b.Cleanup(stream.Close)
			stalledClients(b, stream.URL, stalled)
			waitFor(b, func() bool { return hub.Subscribers() == stalled })

			app := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			defer app.Close()
			store, err := journal.OpenBolt(filepath.Join(b.TempDir(), "j.db"), journal.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			obs := &countDelivered{Observer: Observer{Hub: hub}, goal: int64(b.N), done: make(chan struct{})}
			d, err := dispatch.New(dispatch.Options{Store: store, Observer: obs, Routes: map[string]dispatch.Route{"r": {
				Destinations: []dispatch.Destination{{Name: "app", URL: app.URL, MaxConcurrent: dispatch.DefaultWorkers}},
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
					hub.Publish(FromDelivery(TypeAccepted, del))
				}
			})
			select {
			case <-obs.done:
			case <-time.After(5 * time.Minute):
				b.Fatalf("%d of %d delivered after five minutes", obs.n.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
			b.ReportMetric(float64(stalled-hub.Subscribers()), "dropped")
		})
	}
}
