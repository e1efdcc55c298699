package webhookverify

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/webhookverify/caddy-webhook-verify/dispatch"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// Deliver makes a route durable: a verified delivery is written to the
// journal (fsync'd) and the provider is answered Ack at once; background
// workers then deliver it to every destination whose events match, on a
// long retry schedule, until it is delivered or dead. With Deliver the
// handler answers the provider itself and does not call the next handler.
//
// Nothing acknowledged is lost: the provider gets Ack only after the
// delivery and one record per destination are durably written; when the
// journal cannot be written it gets 503 with Retry-After (and a dedupe
// claim is released), so it retries. Delivery is at least once: a
// destination sees a delivery twice only when Caddy died between its 2xx
// and the journal's record of it, and then with the same Webhook-Id.
type Deliver struct {
	// To are the destinations (fan-out): each gets every delivery its
	// events match, on its own: a slow or dead one never holds back
	// another.
	To []DeliverTo `json:"to"`

	// Sign, when set, is a Standard Webhooks secret (`whsec_` and base64)
	// that signs every outgoing delivery and notice (Webhook-Signature),
	// verifiable with the Standard Webhooks libraries. Use a placeholder
	// such as {env.APP_WEBHOOK_SECRET}.
	Sign string `json:"sign,omitempty"`

	// Envelope wraps the body as {"id","event_type","provider","timestamp",
	// "version":"1.0","data":<the original JSON, or a string>}, so every
	// consumer sees one shape whatever the provider.
	Envelope bool `json:"envelope,omitempty"`

	// Schedule is the waits between attempts, each with ±10% jitter; when
	// it runs out the delivery is dead for that destination. Default 5s 5m
	// 30m 2h 5h 10h 10h (eight attempts over about 28 hours).
	Schedule []caddy.Duration `json:"schedule,omitempty"`

	// Retention is how long delivered and dead deliveries are kept for
	// inspection and replay; default 168h.
	Retention caddy.Duration `json:"retention,omitempty"`

	// Notify, when set, is a URL that gets a JSON POST when a delivery goes
	// dead (`{"text": ...}`, so a Slack incoming webhook URL works as is),
	// signed with Sign when set. A failing notify is logged and never
	// blocks deliveries.
	Notify string `json:"notify,omitempty"`

	// Ack is the status the provider gets, with `{"id":"<delivery
	// id>","destinations":<how many want it>}`; default 202.
	Ack int `json:"ack,omitempty"`

	route dispatch.Route
}

// DeliverTo is one destination of a durable route.
type DeliverTo struct {
	// Stream, instead of URL, publishes deliveries to the webhook_stream
	// of that name (Caddyfile `to stream <name>`); a stream counts as
	// delivered once published, whoever listens.
	Stream string `json:"stream,omitempty"`

	// URL is where deliveries go (http or https). The destination gets the
	// original method, the body byte-for-byte (or the envelope), the
	// original headers minus hop-by-hop ones (so an app's own signature
	// check keeps working), plus Webhook-Id (stable across attempts and
	// replays), Webhook-Timestamp, Webhook-Signature (with sign),
	// X-Webhook-Provider, X-Webhook-Event, X-Webhook-Attempt and the
	// header lines below.
	URL string `json:"url,omitempty"`

	// Name identifies the destination in the admin API, metrics, logs and
	// pause; default the URL's host and path. Give one when the URL's path
	// carries a secret. A stream's name is always `stream:<name>`, and
	// only streams' names start with `stream:`.
	Name string `json:"name,omitempty"`

	// Events are globs of event types (`push`, `invoice.*`) the
	// destination wants; default all.
	Events []string `json:"events,omitempty"`

	// Header lines are added to every attempt, replacing any of the same
	// name; values may use {env.*} and {file.*} placeholders.
	Header http.Header `json:"header,omitempty"`

	// RateLimit paces attempts at this destination: Events per Window,
	// bursts of up to Burst.
	RateLimit *DeliverRateLimit `json:"rate_limit,omitempty"`

	// MaxConcurrent caps attempts in flight; default 8.
	MaxConcurrent int `json:"max_concurrent,omitempty"`

	// Timeout bounds one attempt, response included; default 30s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// DeliverRateLimit paces a destination.
type DeliverRateLimit struct {
	Events int            `json:"events"`
	Window caddy.Duration `json:"window"`
	Burst  int            `json:"burst,omitempty"`
}

// provision resolves placeholders and checks the route, which the webhook
// app then runs.
func (dl *Deliver) provision(h *Handler) error {
	repl := caddy.NewReplacer()
	r := dispatch.Route{
		Name:      h.Name,
		Envelope:  dl.Envelope,
		Retention: time.Duration(dl.Retention),
		Notify:    repl.ReplaceAll(dl.Notify, ""),
		Ack:       dl.Ack,
	}
	if dl.Sign != "" {
		sign, err := repl.ReplaceOrErr(dl.Sign, true, true)
		if err != nil || sign == "" {
			return fmt.Errorf("route %s: deliver: sign is empty or names an unknown placeholder", h.Name)
		}
		r.Sign = sign
	}
	for _, s := range dl.Schedule {
		r.Schedule = append(r.Schedule, time.Duration(s))
	}
	for _, to := range dl.To {
		dst := dispatch.Destination{
			Name: to.Name, URL: repl.ReplaceAll(to.URL, ""), Stream: to.Stream, Events: to.Events,
			MaxConcurrent: to.MaxConcurrent, Timeout: time.Duration(to.Timeout),
		}
		if to.RateLimit != nil {
			dst.RateLimit = dispatch.RateLimit{Events: to.RateLimit.Events, Window: time.Duration(to.RateLimit.Window), Burst: to.RateLimit.Burst}
		}
		if len(to.Header) > 0 {
			dst.Header = http.Header{}
			for name, values := range to.Header {
				for _, v := range values {
					resolved, err := repl.ReplaceOrErr(v, true, true)
					if err != nil {
						return fmt.Errorf("route %s: deliver to %s: header %s is empty or names an unknown placeholder", h.Name, to.URL, name)
					}
					dst.Header.Add(name, resolved)
				}
			}
		}
		r.Destinations = append(r.Destinations, dst)
	}
	route, err := r.WithDefaults()
	if err != nil {
		return fmt.Errorf("route %s: deliver: %w", h.Name, err)
	}
	dl.route = route
	dl.Ack = route.Ack
	return h.app.addRoute(route)
}

// accept journals a verified delivery and answers the provider Ack with
// the delivery's id; a journal that cannot be written is a 503, so the
// provider retries.
func (d *delivery) accept() error {
	h := d.h
	rec := &journal.Delivery{
		Route:      h.Name,
		Provider:   h.preset.Name,
		Event:      d.Event,
		ProviderID: d.ID,
		Method:     d.r.Method,
		Path:       originalURI(d.r),
		Header:     d.r.Header,
		Body:       d.body.bytes(),
	}
	n, err := h.app.accept(d.r.Context(), rec)
	if err != nil {
		d.err = err
		d.record(outJournalFailed)
		return storeUnavailable(d.w)
	}
	d.journalID, d.destinations, d.status = rec.ID, n, h.Deliver.Ack
	d.repl.Set("http.webhook.delivery", rec.ID)
	if n == 0 {
		d.record(outUnrouted)
	} else {
		d.record(outAccepted)
	}
	d.w.Header().Set("Content-Type", "application/json")
	d.w.WriteHeader(d.status)
	body, _ := json.Marshal(map[string]any{"id": rec.ID, "destinations": n})
	_, err = d.w.Write(body)
	return err
}

// originalURI is the request-target as the sender wrote it, before any
// rewrite.
func originalURI(r *http.Request) string {
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.RequestURI != "" {
		return orig.RequestURI
	}
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// unmarshalDeliver parses
//
//	deliver {
//		to stream <name>
//		to <url> [{
//			name           <name>
//			events         <glob...>
//			header         <field> <value>
//			rate_limit     <n>/<window> [burst <b>]
//			max_concurrent <n>
//			timeout        <duration>
//		}]
//		sign      <secret>
//		envelope
//		retry {
//			schedule <duration...>
//		}
//		retention <duration>
//		notify    <url>
//		ack       <status>
//	}
func (h *Handler) unmarshalDeliver(d *caddyfile.Dispenser) error {
	cfg := new(Deliver)
	if d.NextArg() {
		return d.ArgErr()
	}
	err := eachSubdirective(d, "deliver: ", []string{"to"}, func(sub string) error {
		switch sub {
		case "to":
			to, err := unmarshalDeliverTo(d)
			if err != nil {
				return err
			}
			cfg.To = append(cfg.To, to)
		case "envelope":
			if d.NextArg() {
				return d.ArgErr()
			}
			cfg.Envelope = true
		case "retry":
			if d.NextArg() {
				return d.ArgErr()
			}
			return eachSubdirective(d, "deliver: retry: ", nil, func(sub string) error {
				if sub != "schedule" {
					return d.Errf("deliver: retry: unrecognized subdirective '%s'", sub)
				}
				args := d.RemainingArgs()
				if len(args) == 0 {
					return d.ArgErr()
				}
				for _, a := range args {
					dur, err := caddy.ParseDuration(a)
					if err != nil || dur <= 0 {
						return d.Errf("deliver: retry: schedule: invalid duration %q", a)
					}
					cfg.Schedule = append(cfg.Schedule, caddy.Duration(dur))
				}
				return nil
			})
		case "sign", "notify", "retention", "ack":
			var arg string
			if !d.AllArgs(&arg) {
				return d.ArgErr()
			}
			switch sub {
			case "sign":
				cfg.Sign = arg
			case "notify":
				if err := checkURL(arg); err != nil {
					return d.Errf("deliver: notify: %v", err)
				}
				cfg.Notify = arg
			case "retention":
				dur, err := caddy.ParseDuration(arg)
				if err != nil || dur <= 0 {
					return d.Errf("deliver: retention: invalid duration %q", arg)
				}
				cfg.Retention = caddy.Duration(dur)
			case "ack":
				code, err := strconv.Atoi(arg)
				if err != nil || code < 200 || code > 299 {
					return d.Errf("deliver: ack: %q is not a 2xx status", arg)
				}
				cfg.Ack = code
			}
		default:
			return d.Errf("deliver: unrecognized subdirective '%s'", sub)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(cfg.To) == 0 {
		return d.Err("deliver: no destination (to <url>)")
	}
	h.Deliver = cfg
	return nil
}

func unmarshalDeliverTo(d *caddyfile.Dispenser) (DeliverTo, error) {
	var to DeliverTo
	if !d.NextArg() {
		return to, d.ArgErr()
	}
	to.URL = d.Val()
	if to.URL == "stream" {
		if !d.NextArg() {
			return to, d.Err("deliver: to stream <name>")
		}
		to.URL, to.Stream = "", d.Val()
	} else if err := checkURL(to.URL); err != nil {
		return to, d.Errf("deliver: to %s: %v", to.URL, err)
	}
	if d.NextArg() {
		return to, d.ArgErr()
	}
	err := eachSubdirective(d, "deliver: to: ", []string{"header"}, func(sub string) error {
		args := d.RemainingArgs()
		switch sub {
		case "name", "timeout", "max_concurrent":
			if len(args) != 1 {
				return d.ArgErr()
			}
			switch sub {
			case "name":
				to.Name = args[0]
			case "timeout":
				dur, err := caddy.ParseDuration(args[0])
				if err != nil || dur <= 0 {
					return d.Errf("deliver: to: timeout: invalid duration %q", args[0])
				}
				to.Timeout = caddy.Duration(dur)
			case "max_concurrent":
				n, err := parsePositive(args[0])
				if err != nil {
					return d.Errf("deliver: to: max_concurrent: %v", err)
				}
				to.MaxConcurrent = int(n)
			}
		case "events":
			if len(args) == 0 {
				return d.ArgErr()
			}
			to.Events = append(to.Events, args...)
		case "header":
			if len(args) != 2 {
				return d.ArgErr()
			}
			if to.Header == nil {
				to.Header = http.Header{}
			}
			to.Header.Add(args[0], args[1])
		case "rate_limit":
			events, window, burst, err := parseRate(d, args, "deliver: to: rate_limit")
			if err != nil {
				return err
			}
			to.RateLimit = &DeliverRateLimit{Events: events, Window: window, Burst: burst}
		default:
			return d.Errf("deliver: to: unrecognized subdirective '%s'", sub)
		}
		return nil
	})
	return to, err
}

// checkURL refuses a destination or notify URL that is not absolute http
// or https with a host; placeholders are checked once resolved.
func checkURL(s string) error {
	if strings.Contains(s, "{") {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return errors.New("want an http:// or https:// URL")
	}
	if u.Hostname() == "" {
		return errors.New("the URL has no host")
	}
	return nil
}
