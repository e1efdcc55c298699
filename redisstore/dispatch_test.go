package redisstore

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/dispatch"
	"github.com/webhookverify/caddy-webhook-verify/internal/redistest"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// The dispatcher on the Redis journal, as two instances would run it:
// instance A accepts 200 deliveries while the app is down and dies in the
// middle of its attempts (its Redis connection gone first, so it records
// nothing more); the app comes up; instance B, started afterwards,
// delivers every one of them, A's leased ones once their leases run out.
func TestDispatchersTakeOverOnRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{AppendOnly: true})
	var up atomic.Bool
	var mu sync.Mutex
	received := map[string]int{}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		received[r.Header.Get("Webhook-Id")]++
		mu.Unlock()
	}))
	defer app.Close()
	routes := map[string]dispatch.Route{"gh": {
		Destinations: []dispatch.Destination{{Name: "app", URL: app.URL, MaxConcurrent: 16}},
		Schedule:     slices.Repeat([]time.Duration{50 * time.Millisecond}, 100), // none goes dead while A runs
	}}
	const lease = 300 * time.Millisecond

	clientA, err := New(Options{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := dispatch.New(dispatch.Options{Store: clientA.Journal(), Routes: routes, Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	var ids []string
	for range 200 {
		d := &journal.Delivery{Route: "gh", Event: "push", Method: http.MethodPost, Path: "/hooks/gh", Body: []byte(`{}`)}
		if _, err := a.Accept(bg, d); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	clientA.Close() // A dies: whatever it has in flight stays leased
	dead, cancel := context.WithCancel(bg)
	cancel()
	a.Stop(dead)

	up.Store(true)
	clientB := newClient(t, srv, nil)
	b, err := dispatch.New(dispatch.Options{Store: clientB.Journal(), Routes: routes, Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	b.Start()
	defer b.Stop(bg)
	var s journal.Stats
	within(t, "B delivering A's deliveries", func() error {
		for {
			s, err = clientB.Journal().Stats(bg)
			if err == nil && s.Targets[journal.Key{Route: "gh", Destination: "app", State: journal.Pending}] == 0 {
				return nil
			}
			time.Sleep(10 * time.Millisecond) // B works on its own clock
		}
	})
	if n := s.Targets[journal.Key{Route: "gh", Destination: "app", State: journal.Delivered}]; n != len(ids) {
		t.Errorf("%d delivered, want %d: %v", n, len(ids), s.Targets)
	}
	mu.Lock()
	defer mu.Unlock()
	twice := 0
	for _, id := range ids {
		switch n := received[id]; {
		case n == 0:
			t.Errorf("%s never reached the app", id)
		case n > 1:
			twice++
		}
	}
	t.Logf("200 accepted by A, all delivered by B; %d reached the app twice", twice)
}
