package webhookverify

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/webhookverify/caddy-webhook-verify/ratelimit"
	"github.com/webhookverify/caddy-webhook-verify/redisstore"
)

// RateLimit paces verified deliveries to the app with token buckets, one
// per key. Only verified deliveries spend tokens, so forged traffic cannot
// use up a real sender's budget; duplicates answered by dedupe do not
// spend any either.
type RateLimit struct {
	// Events per Window is the sustained rate: `5/1m` is five deliveries a
	// minute.
	Events int            `json:"events"`
	Window caddy.Duration `json:"window"`

	// Burst is how many deliveries may go at once after a quiet spell;
	// default Events.
	Burst int `json:"burst,omitempty"`

	// Key is a placeholder that picks the bucket, e.g.
	// `{http.request.header.X-Shopify-Shop-Domain}`; default one bucket for
	// the route.
	Key string `json:"key,omitempty"`

	// Mode is `reject` (default): answer 429 with a Retry-After in whole
	// seconds, the time until a token is there; or `wait`: hold the
	// delivery until a token is there, up to MaxWait, then 429. A sender
	// that hangs up stops waiting at once.
	Mode string `json:"mode,omitempty"`

	// MaxWait bounds the wait in `wait` mode; default 5s.
	MaxWait caddy.Duration `json:"max_wait,omitempty"`

	// MaxConcurrent caps the deliveries in flight to the app per key; the
	// rest wait or are rejected by the same mode (with Retry-After: 1).
	MaxConcurrent int `json:"max_concurrent,omitempty"`

	// MaxKeys bounds the buckets kept; default 100,000. Keys beyond it share
	// one overflow bucket. Buckets that have refilled and are idle are
	// forgotten (they are no different from new ones).
	MaxKeys int `json:"max_keys,omitempty"`

	// Zone names the buckets, which survive config reloads while the rate,
	// burst and concurrency cap stay the same. Default: the route's name.
	Zone string `json:"zone,omitempty"`

	// Store is `memory` to keep these buckets in this Caddy even when the
	// webhook app's storage is Redis; default the app's.
	Store string `json:"store,omitempty"`

	limiter ratelimit.Limiter
	zoneKey string
}

const defaultRateLimitWait = 5 * time.Second

// provision fills the defaults and loads (or creates) the zone's buckets.
func (rl *RateLimit) provision(h *Handler) error {
	switch rl.Mode {
	case "":
		rl.Mode = "reject"
	case "reject", "wait":
	default:
		return fmt.Errorf("route %s: rate_limit mode %q (want reject or wait)", h.Name, rl.Mode)
	}
	if rl.Mode == "wait" && rl.MaxWait == 0 {
		rl.MaxWait = caddy.Duration(defaultRateLimitWait)
	}
	if rl.Burst == 0 {
		rl.Burst = rl.Events
	}
	zone := caddy.NewReplacer().ReplaceAll(rl.Zone, "")
	if zone == "" {
		zone = h.Name
	}
	// A changed rate makes a new zone: buckets filled at the old rate would
	// not mean the same thing.
	key := fmt.Sprintf("%s/%d/%s/%d/%d", zone, rl.Events, time.Duration(rl.Window), rl.Burst, rl.MaxConcurrent)
	switch {
	case rl.Store != "" && rl.Store != "memory":
		return fmt.Errorf("route %s: rate_limit store %q (want memory)", h.Name, rl.Store)
	case h.app.redis != nil && rl.Store == "":
		// Redis keys the buckets by rate too, so a changed rate starts
		// fresh there as well.
		limiter, err := h.app.redis.Limiter(key, redisstore.LimitOptions{
			Events: rl.Events, Window: time.Duration(rl.Window), Burst: rl.Burst,
			MaxConcurrent: rl.MaxConcurrent, SlotLease: max(h.deliveryBound, time.Minute),
		})
		if err != nil {
			return fmt.Errorf("route %s: rate_limit: %w", h.Name, err)
		}
		rl.limiter = limiter
		return nil
	}
	limiter, _, err := loadZone(zoneRateLimit, zone, key, func() (*ratelimit.Memory, error) {
		return ratelimit.NewMemory(ratelimit.Options{
			Events:        rl.Events,
			Window:        time.Duration(rl.Window),
			Burst:         rl.Burst,
			MaxConcurrent: rl.MaxConcurrent,
			MaxKeys:       rl.MaxKeys,
		})
	})
	if err != nil {
		return fmt.Errorf("route %s: rate_limit: %w", h.Name, err)
	}
	rl.zoneKey, rl.limiter = key, limiter
	return nil
}

// cleanup lets go of the zone. It is safe on a nil RateLimit and after a
// failed provision.
func (rl *RateLimit) cleanup() error {
	if rl == nil {
		return nil
	}
	err := dropZone(zoneRateLimit, rl.zoneKey)
	rl.zoneKey = ""
	return err
}

// maxWait is how long a delivery may wait for a token: 0 in reject mode.
func (rl *RateLimit) maxWait() time.Duration {
	if rl.Mode == "wait" {
		return time.Duration(rl.MaxWait)
	}
	return 0
}

// retryAfterSeconds renders a wait as a Retry-After in whole seconds,
// rounded up so it is never early, and at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// parseRate parses `<events>/<window> [burst <n>]`, the rate of
// rate_limit and of a destination's rate_limit; what names it in errors.
func parseRate(d *caddyfile.Dispenser, args []string, what string) (events int, window caddy.Duration, burst int, err error) {
	if len(args) != 1 && (len(args) != 3 || args[1] != "burst") {
		return 0, 0, 0, d.ArgErr()
	}
	count, per, ok := strings.Cut(args[0], "/")
	n, err1 := strconv.Atoi(count)
	w, err2 := caddy.ParseDuration(per)
	if !ok || err1 != nil || err2 != nil || n <= 0 || w <= 0 {
		return 0, 0, 0, d.Errf("%s: %q is not <events>/<window>, e.g. 50/1s", what, args[0])
	}
	if len(args) == 3 {
		b, err := parsePositive(args[2])
		if err != nil {
			return 0, 0, 0, d.Errf("%s: burst: %v", what, err)
		}
		burst = int(b)
	}
	return n, caddy.Duration(w), burst, nil
}

// unmarshalRateLimit parses
//
//	rate_limit <events>/<window> [burst <n>] {
//		key            <placeholder>
//		mode           reject|wait
//		max_wait       <duration>
//		max_concurrent <n>
//		max_keys       <n>
//		zone           <name>
//		store          memory
//	}
func (h *Handler) unmarshalRateLimit(d *caddyfile.Dispenser) error {
	cfg := new(RateLimit)
	var err error
	cfg.Events, cfg.Window, cfg.Burst, err = parseRate(d, d.RemainingArgs(), "rate_limit")
	if err != nil {
		return err
	}
	err = eachSubdirective(d, "rate_limit: ", nil, func(sub string) error {
		var arg string
		if !d.AllArgs(&arg) {
			return d.ArgErr()
		}
		switch sub {
		case "key":
			cfg.Key = arg
		case "zone":
			cfg.Zone = arg
		case "store":
			if arg != "memory" {
				return d.Errf("rate_limit: store: want memory, got %q", arg)
			}
			cfg.Store = arg
		case "mode":
			if arg != "reject" && arg != "wait" {
				return d.Errf("rate_limit: mode %q (want reject or wait)", arg)
			}
			cfg.Mode = arg
		case "max_wait":
			dur, err := caddy.ParseDuration(arg)
			if err != nil || dur <= 0 {
				return d.Errf("rate_limit: invalid max_wait %q", arg)
			}
			cfg.MaxWait = caddy.Duration(dur)
		case "max_concurrent", "max_keys":
			v, err := parsePositive(arg)
			if err != nil {
				return d.Errf("rate_limit: %s: %v", sub, err)
			}
			if sub == "max_concurrent" {
				cfg.MaxConcurrent = int(v)
			} else {
				cfg.MaxKeys = int(v)
			}
		default:
			return d.Errf("rate_limit: unrecognized subdirective '%s'", sub)
		}
		return nil
	})
	if err != nil {
		return err
	}
	h.RateLimit = cfg
	return nil
}
