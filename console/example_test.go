package console_test

import (
	"log"
	"net/http"
	"os"
	"path/filepath"

	"github.com/webhookverify/caddy-webhook-verify/console"
	"github.com/webhookverify/caddy-webhook-verify/dispatch"
	"github.com/webhookverify/caddy-webhook-verify/events"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// The wiring: one hub and one rejected log for the process, the dispatcher
// publishing its attempts to the hub, the handler publishing its decisions
// (events.FromRequest, FromDelivery) and keeping rejections, and the
// console reading all of it.
func Example() {
	hub := events.NewHub(events.HubOptions{})
	defer hub.Close()
	rejects := events.NewRejectedLog(events.RejectedOptions{})
	store, err := journal.OpenBolt(filepath.Join(os.TempDir(), "deliveries.db"), journal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	disp, err := dispatch.New(dispatch.Options{
		Store:    store,
		Observer: events.Observer{Hub: hub},
		Routes: map[string]dispatch.Route{
			"github": {Destinations: []dispatch.Destination{{URL: "http://127.0.0.1:9000/hooks"}}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	disp.Start()
	c, err := console.New(console.Options{
		Base:   "/",
		Hub:    hub,
		Source: console.Journal{Store: store, Replayer: disp, Rejects: rejects},
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe("localhost:2020", c))
}
