package webhookverify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/webhookverify/caddy-webhook-verify/dedupe"
)

// Dedupe makes the gateway remember which deliveries the app already took,
// so a redelivery never reaches it twice.
//
// Only verified deliveries claim a key. The first copy of a delivery claims
// it; copies arriving while it is in flight get 409 with Retry-After. The
// key is remembered (for TTL) only when the app answered 2xx; if the app
// failed, the claim is released so the provider's own retry goes through.
// A remembered duplicate is answered with the app's original 2xx status and
// `Webhook-Duplicate: true`, and never reaches the app.
type Dedupe struct {
	// TTL is how long a delivered id is remembered; default 72h, which
	// covers Stripe's three days of retries. Keep it longer than twice the
	// timestamp tolerance, or a replay inside the tolerance window passes.
	TTL caddy.Duration `json:"ttl,omitempty"`

	// Key is a placeholder that gives the dedupe key, e.g.
	// `{http.request.header.X-Request-Id}`. Default: the provider's delivery
	// or event id (`{http.webhook.id}`) when the signature covers it, else
	// (GitHub's X-GitHub-Delivery is not signed, say) the SHA-256 digest of
	// the body, which an honest redelivery repeats. When Key gives an
	// empty value for a delivery, the body's digest is the key too.
	Key string `json:"key,omitempty"`

	// MaxEntries bounds how many ids are remembered; default 1,000,000
	// (about 200 bytes each). Beyond it the least used ids are forgotten
	// and a redelivery of one of them would pass.
	MaxEntries int64 `json:"max_entries,omitempty"`

	// Lease is the longest a delivery holds its claim: the app's answer
	// is awaited that long at most (then the sender gets 504 and the claim
	// is released), so no claim outlives its delivery and copies that
	// arrive meanwhile are told truthfully, in Retry-After, when to try
	// again. With retry, the retry budget is the lease; without it, the
	// default is 30s.
	Lease caddy.Duration `json:"lease,omitempty"`

	// Zone names the memory, which survives config reloads. Routes with
	// the same zone share it. Default: the route's name. A zone keeps the
	// max_entries it was created with until Caddy restarts. Global
	// placeholders such as {env.*} are resolved at load.
	Zone string `json:"zone,omitempty"`

	// Store is `memory` to keep this zone in this Caddy even when the
	// webhook app's storage is Redis; default the app's (in memory
	// without Redis).
	Store string `json:"store,omitempty"`

	store   dedupe.Store
	zoneKey string
	lease   time.Duration // the claim's: retry's budget, or Lease
	scope   string        // the provider keys are scoped by
}

// Defaults for dedupe; see the fields.
const (
	defaultDedupeTTL = 72 * time.Hour
	// defaultLease bounds a delivery that holds a claim, without retry.
	defaultLease = 30 * time.Second
	// maxDedupeKey bounds keys held in memory; longer ones are hashed.
	maxDedupeKey = 256
)

// provision fills the defaults and loads (or creates) the route's zone.
// It runs after Retry's, whose budget is the lease when set.
func (dd *Dedupe) provision(h *Handler) error {
	if dd.TTL == 0 {
		dd.TTL = caddy.Duration(defaultDedupeTTL)
	}
	if dd.TTL < 0 || dd.MaxEntries < 0 || dd.Lease < 0 {
		return fmt.Errorf("route %s: dedupe ttl, lease and max_entries must be positive", h.Name)
	}
	if dd.Lease == 0 {
		dd.Lease = caddy.Duration(defaultLease)
	}
	dd.lease = time.Duration(dd.Lease)
	if h.Retry != nil {
		dd.lease = h.Retry.policy.Budget
	}
	if dd.MaxEntries == 0 {
		dd.MaxEntries = dedupe.DefaultMaxEntries
	}
	dd.scope = h.preset.Name
	zone := caddy.NewReplacer().ReplaceAll(dd.Zone, "")
	if zone == "" {
		zone = h.Name
	}
	if tol := h.effectiveTolerance(); tol > 0 && time.Duration(dd.TTL) < 2*tol {
		h.logger.Warn("dedupe ttl is shorter than twice the timestamp tolerance: a replay inside the tolerance window would pass dedupe",
			zap.String("route", h.Name), zap.Duration("ttl", time.Duration(dd.TTL)), zap.Duration("tolerance", tol))
	}
	switch {
	case dd.Store != "" && dd.Store != "memory":
		return fmt.Errorf("route %s: dedupe store %q (want memory)", h.Name, dd.Store)
	case h.app.redis != nil && dd.Store == "":
		store, err := h.app.redis.Dedupe(zone)
		if err != nil {
			return fmt.Errorf("route %s: dedupe zone %s: %w", h.Name, zone, err)
		}
		dd.store = store
		return nil
	}
	store, loaded, err := loadZone(zoneDedupe, zone, zone, func() (*dedupe.Memory, error) {
		return dedupe.NewMemory(dedupe.Options{MaxEntries: dd.MaxEntries})
	})
	if err != nil {
		return fmt.Errorf("route %s: dedupe zone %s: %w", h.Name, zone, err)
	}
	dd.zoneKey, dd.store = zone, store
	if loaded && store.MaxEntries() != dd.MaxEntries {
		h.logger.Warn("dedupe zone keeps the max_entries it was created with until Caddy restarts",
			zap.String("zone", zone), zap.Int64("max_entries", store.MaxEntries()), zap.Int64("configured", dd.MaxEntries))
	}
	return nil
}

// cleanup lets go of the zone. It is safe on a nil Dedupe and after a
// failed provision.
func (dd *Dedupe) cleanup() error {
	if dd == nil {
		return nil
	}
	err := dropZone(zoneDedupe, dd.zoneKey)
	dd.zoneKey = ""
	return err
}

// effectiveTolerance is the timestamp window a replay could use: 0 when
// the scheme checks no timestamp.
func (h *Handler) effectiveTolerance() time.Duration {
	if h.preset.Tolerance == 0 || (h.Provider == "hmac" && h.TimestampHeader == "") {
		return 0
	}
	if h.Tolerance > 0 {
		return time.Duration(h.Tolerance)
	}
	return h.preset.Tolerance
}

// key is the configured placeholder, or the provider's delivery id when
// the signature covers it, falling back to a digest of the body. An
// unsigned id (GitHub's X-GitHub-Delivery, say) is not used: a captured
// delivery replayed with fresh ids would pass as new each time, while an
// honest redelivery carries the identical signed body. The key is scoped
// by provider so routes sharing a zone cannot collide.
func (dd *Dedupe) key(d *delivery) string {
	var key string
	switch {
	case dd.Key != "":
		key = d.repl.ReplaceAll(dd.Key, "")
	case d.IDSigned:
		key = d.ID
	}
	switch {
	case key == "":
		sum := sha256.Sum256(d.body.bytes())
		key = "body-sha256:" + hex.EncodeToString(sum[:])
	case len(key) > maxDedupeKey:
		sum := sha256.Sum256([]byte(key))
		key = "key-sha256:" + hex.EncodeToString(sum[:])
	}
	return dd.scope + "/" + key
}

// unmarshalDedupe parses
//
//	dedupe [<ttl>] {
//		key         <placeholder>
//		max_entries <n>
//		lease       <duration>
//		zone        <name>
//		store       memory
//	}
func (h *Handler) unmarshalDedupe(d *caddyfile.Dispenser) error {
	cfg := new(Dedupe)
	if d.NextArg() {
		ttl, err := caddy.ParseDuration(d.Val())
		if err != nil || ttl <= 0 {
			return d.Errf("dedupe: invalid ttl %q", d.Val())
		}
		cfg.TTL = caddy.Duration(ttl)
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	err := eachSubdirective(d, "dedupe: ", nil, func(sub string) error {
		var arg string
		if !d.AllArgs(&arg) {
			return d.ArgErr()
		}
		switch sub {
		case "key":
			cfg.Key = arg
		case "store":
			if arg != "memory" {
				return d.Errf("dedupe: store: want memory, got %q", arg)
			}
			cfg.Store = arg
		case "lease":
			dur, err := caddy.ParseDuration(arg)
			if err != nil || dur <= 0 {
				return d.Errf("dedupe: invalid lease %q", arg)
			}
			cfg.Lease = caddy.Duration(dur)
		case "zone":
			cfg.Zone = arg
		case "max_entries":
			n, err := parsePositive(arg)
			if err != nil {
				return d.Errf("dedupe: max_entries: %v", err)
			}
			cfg.MaxEntries = n
		default:
			return d.Errf("dedupe: unrecognized subdirective '%s'", sub)
		}
		return nil
	})
	if err != nil {
		return err
	}
	h.Dedupe = cfg
	return nil
}
