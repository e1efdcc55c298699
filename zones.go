package webhookverify

// zoneStore is what a zone keeps: a dedupe store or a rate limiter.
type zoneStore interface {
	Len() int
	Close()
}

// poolZone is a zone's store in its caddy.UsagePool, which closes it when
// the last config using the zone is gone.
type poolZone[S zoneStore] struct {
	store S
	name  string
}

func (z poolZone[S]) Destruct() error {
	z.store.Close()
	return nil
}
