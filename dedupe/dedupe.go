// Package dedupe remembers which webhook deliveries already reached the app,
// so a redelivery never reaches it twice.
//
// A delivery first claims its key. Exactly one of any number of concurrent
// claims wins; the others learn that the key is in flight (or already
// done). The winner hands the delivery to the app, then commits the key if
// the app took it (remembered for a TTL) or releases it if the app failed
// (so the provider's own retry is not mistaken for a duplicate).
//
// The package knows nothing of Caddy; its clock is injectable.
package dedupe

import (
	"context"
	"time"
)

// Result is what a claim found.
type Result int

const (
	// Claimed means the caller owns the key: deliver, then Commit or Release.
	Claimed Result = iota
	// Duplicate means the key was delivered before and is still remembered.
	Duplicate
	// InFlight means another copy holds the claim right now.
	InFlight
)

func (r Result) String() string {
	switch r {
	case Claimed:
		return "claimed"
	case Duplicate:
		return "duplicate"
	case InFlight:
		return "in_flight"
	}
	return "unknown"
}

// Claim is what a claim found.
type Claim struct {
	Result Result
	// Status is the app's answer to the remembered delivery (Duplicate).
	Status int
	// Until is when the claim in flight lapses: this claim's own lease
	// (Claimed), or the holder's (InFlight), which is what a copy should
	// be told to wait for.
	Until time.Time
	// Token identifies a won claim. Release needs it, so a holder whose
	// lease lapsed (and whose key another copy then claimed) cannot
	// release the other copy's claim.
	Token uint64
}

// Store is where claims and remembered keys live. Memory is the in-process
// implementation; a store shared by several gateways (Redis, say) goes over
// the network, so every method takes a context and can fail.
type Store interface {
	// Claim tries to take key for at most lease: a claim that is neither
	// committed nor released within its lease lapses, so no claim
	// outlives its delivery, even when the holder dies.
	Claim(ctx context.Context, key string, lease time.Duration) (Claim, error)
	// Commit remembers key for ttl, with the status the app answered.
	Commit(ctx context.Context, key string, token uint64, status int, ttl time.Duration) error
	// Release gives up a claim without remembering the key, if the token
	// still holds it.
	Release(ctx context.Context, key string, token uint64) error
}

// Sizer is implemented by stores that know about how many keys they
// remember, for a gauge.
type Sizer interface {
	Len() int
}
