package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/dispatch"
	"github.com/webhookverify/caddy-webhook-verify/events"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// fixture is the console over a real journal and dispatcher: route
// "orders" delivers to an app that takes everything, route "flaky" to one
// that fails until told to recover (two attempts, then dead).
type fixture struct {
	store    *journal.Bolt
	disp     *dispatch.Dispatcher
	hub      *events.Hub
	rejects  *events.RejectedLog
	console  *Console
	srv      *httptest.Server
	recover  atomic.Bool
	received atomic.Int32 // deliveries the flaky app took
}

func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	f := &fixture{hub: events.NewHub(events.HubOptions{}), rejects: events.NewRejectedLog(events.RejectedOptions{})}
	store, err := journal.OpenBolt(filepath.Join(t.TempDir(), "deliveries.db"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.store = store
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(ok.Close)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !f.recover.Load() {
			http.Error(w, "database is down", http.StatusInternalServerError)
			return
		}
		f.received.Add(1)
	}))
	t.Cleanup(flaky.Close)
	f.disp, err = dispatch.New(dispatch.Options{
		Store: store,
		Routes: map[string]dispatch.Route{
			"orders": {Destinations: []dispatch.Destination{{Name: "orders-app", URL: ok.URL + "/hooks"}}},
			"flaky":  {Destinations: []dispatch.Destination{{Name: "billing-app", URL: flaky.URL + "/hooks"}}, Schedule: []time.Duration{20 * time.Millisecond}},
		},
		Observer: events.Observer{Hub: f.hub},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.disp.Start()
	t.Cleanup(func() {
		f.disp.Stop(context.Background())
		f.hub.Close()
		store.Close()
	})
	o.Hub = f.hub
	o.Source = Journal{Store: store, Replayer: f.disp, Rejects: f.rejects}
	f.console, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(f.console)
	t.Cleanup(f.srv.Close)
	return f
}

// accept journals a delivery as the handler does, and publishes it.
func (f *fixture) accept(t *testing.T, route, provider, event string, header http.Header) string {
	t.Helper()
	d := &journal.Delivery{Route: route, Provider: provider, Event: event, ProviderID: "evt_" + event,
		Method: http.MethodPost, Path: "/" + route + "/hook", Header: header, Body: []byte(`{"ok":true}`)}
	if _, err := f.disp.Accept(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	f.hub.Publish(events.FromDelivery(events.TypeAccepted, d))
	return d.ID
}

// reject records a rejected request as the handler does.
func (f *fixture) reject(route, provider, requestID, reason string, header http.Header) {
	r := httptest.NewRequest(http.MethodPost, "/"+route+"/hook", nil)
	e := events.FromRequest(events.TypeRejected, r)
	e.Route, e.Provider, e.RequestID, e.Reason, e.Status = route, provider, requestID, reason, http.StatusUnauthorized
	e.Detail = "no signature matches"
	f.rejects.Add(events.Rejected{Route: route, Provider: provider, RequestID: requestID, Reason: reason, Detail: e.Detail,
		Method: e.Method, Path: e.Path, ClientIP: e.ClientIP, Header: header})
	f.hub.Publish(e)
}

// waitState polls the journal until the delivery is in state.
func (f *fixture) waitState(t *testing.T, id string, state journal.State) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := f.store.Get(context.Background(), id)
		if err == nil && d.Targets[0].State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not %s in 10s (%v)", id, state, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
