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

// Store is where claims and remembered keys live. Memory is the in-process
// implementation; a store shared by several gateways (Redis, say) would
// implement the same four methods.
type Store interface {
	// Claim tries to take key. On Duplicate, status is the app's answer to
	// the delivery that was remembered.
	Claim(key string) (result Result, status int)
	// Commit remembers key for ttl, with the status the app answered.
	Commit(key string, status int, ttl time.Duration)
	// Release gives up a claim without remembering the key.
	Release(key string)
	// Len is about how many keys are remembered.
	Len() int
}
