package webhookverify

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
)

// zones holds the stores that must outlive a config reload (dedupe
// memories, rate-limit buckets), so `caddy reload` forgets nothing. Each
// Provision that loads a zone is matched by one Delete in Cleanup.
var zones = caddy.NewUsagePool()

// zoneStore is what a zone keeps.
type zoneStore interface{ Close() }

// zone is a store in the pool, which closes it when the last config using
// it is gone.
type zone struct {
	kind, name string // for the size gauges: "dedupe" or "rate_limit", and the zone's name
	store      zoneStore
}

func (z zone) Destruct() error {
	z.store.Close()
	return nil
}

// loadZone returns the store of a zone, made by newStore the first time.
// key tells zones apart in the pool (it includes what makes two zones of
// one name differ, such as a rate); name is what users call it. It
// reports whether the store existed already.
func loadZone[S zoneStore](kind, name, key string, newStore func() (S, error)) (S, bool, error) {
	val, loaded, err := zones.LoadOrNew(kind+"/"+key, func() (caddy.Destructor, error) {
		s, err := newStore()
		if err != nil {
			return nil, err
		}
		return zone{kind: kind, name: name, store: s}, nil
	})
	if err != nil {
		var zero S
		return zero, false, err
	}
	s, ok := val.(zone).store.(S)
	if !ok {
		var zero S
		return zero, false, fmt.Errorf("zone %s holds a store of another kind", name)
	}
	return s, loaded, nil
}

// dropZone lets go of a zone loaded with loadZone; "" is a no-op, so it is
// safe after a failed Provision.
func dropZone(kind, key string) error {
	if key == "" {
		return nil
	}
	_, err := zones.Delete(kind + "/" + key)
	return err
}
