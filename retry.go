package webhookverify

import (
	"fmt"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/webhookverify/caddy-webhook-verify/retry"
)

// Retry makes the gateway try the app again when it fails briefly, so the
// delivery does not bounce back to the provider (GitHub never retries on
// its own; others wait minutes to hours).
//
// Retries wrap the next handler, normally reverse_proxy, so its load
// balancing, TLS and health checks still apply. Every attempt gets the same
// body bytes. A retryable response (and a connection failure) is held and
// dropped before the next attempt; any other response goes to the sender at
// once, streamed. After the last attempt, the sender gets the app's last
// status, or 502 when the app could not be reached. A sender that hangs up
// stops the retries.
type Retry struct {
	// Attempts is how many more attempts follow the first.
	Attempts int `json:"attempts"`

	// BackoffBase and BackoffMax shape the wait before each retry:
	// uniform in [0, min(max, base·2^(n-1))] before retry n. Defaults 250ms
	// and 5s. An app's Retry-After is honoured when it fits the budget; one
	// that does not ends the retries.
	BackoffBase caddy.Duration `json:"backoff_base,omitempty"`
	BackoffMax  caddy.Duration `json:"backoff_max,omitempty"`

	// Budget bounds the delivery's time, counted from the first attempt;
	// default 8s, inside GitHub's 10s timeout. No attempt, wait or retry
	// outlasts it: an attempt still running at the deadline is cut off
	// and the sender gets 504, so a hung app cannot hold the sender (or a
	// dedupe claim) past it.
	Budget caddy.Duration `json:"budget,omitempty"`

	// Statuses are the app responses that are retried; default 408, 429,
	// 500, 502, 503 and 504. Connection failures are always retried.
	Statuses []int `json:"status,omitempty"`

	policy retry.Policy
}

// provision fills the defaults and makes the forwarder that retries.
func (rt *Retry) provision(h *Handler) (forwarder, error) {
	policy, err := retry.Policy{
		Retries:  rt.Attempts,
		Base:     time.Duration(rt.BackoffBase),
		Max:      time.Duration(rt.BackoffMax),
		Budget:   time.Duration(rt.Budget),
		Statuses: rt.Statuses,
	}.WithDefaults()
	if err != nil {
		return nil, fmt.Errorf("route %s: retry: %w", h.Name, err)
	}
	rt.policy = policy
	return &retryForwarder{policy: policy, now: time.Now}, nil
}

// unmarshalRetry parses
//
//	retry <n> {
//		backoff <base> <max>
//		budget  <duration>
//		status  <codes...>
//	}
func (h *Handler) unmarshalRetry(d *caddyfile.Dispenser) error {
	cfg := new(Retry)
	if !d.NextArg() {
		return d.ArgErr()
	}
	n, err := strconv.Atoi(d.Val())
	if err != nil || n < 0 {
		return d.Errf("retry: %q is not a number of attempts", d.Val())
	}
	cfg.Attempts = n
	if d.NextArg() {
		return d.ArgErr()
	}
	err = eachSubdirective(d, "retry: ", nil, func(sub string) error {
		args := d.RemainingArgs()
		switch sub {
		case "backoff":
			if len(args) != 2 {
				return d.ArgErr()
			}
			base, err1 := caddy.ParseDuration(args[0])
			max, err2 := caddy.ParseDuration(args[1])
			if err1 != nil || err2 != nil || base <= 0 || max < base {
				return d.Errf("retry: backoff wants <base> <max> durations with max >= base, got %q %q", args[0], args[1])
			}
			cfg.BackoffBase, cfg.BackoffMax = caddy.Duration(base), caddy.Duration(max)
		case "budget":
			if len(args) != 1 {
				return d.ArgErr()
			}
			budget, err := caddy.ParseDuration(args[0])
			if err != nil || budget <= 0 {
				return d.Errf("retry: invalid budget %q", args[0])
			}
			cfg.Budget = caddy.Duration(budget)
		case "status":
			if len(args) == 0 {
				return d.ArgErr()
			}
			for _, a := range args {
				code, err := strconv.Atoi(a)
				if err != nil || code < 100 || code > 599 || (code >= 200 && code < 300) {
					return d.Errf("retry: %q is not a retryable HTTP status", a)
				}
				cfg.Statuses = append(cfg.Statuses, code)
			}
		default:
			return d.Errf("retry: unrecognized subdirective '%s'", sub)
		}
		return nil
	})
	if err != nil {
		return err
	}
	h.Retry = cfg
	return nil
}
