package webhookverify

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/dustin/go-humanize"

	"github.com/webhookverify/caddy-webhook-verify/verify"
)

func init() {
	httpcaddyfile.RegisterDirective("webhook_verify", parseCaddyfile)
	// Verification is authentication: it must run before handle, route,
	// respond and reverse_proxy, or a handle block or respond could answer
	// first and the check would silently never run.
	httpcaddyfile.RegisterDirectiveOrder("webhook_verify", httpcaddyfile.After, "forward_auth")
}

// parseCaddyfile sets up the handler from Caddyfile tokens. It is
// RegisterHandlerDirective's wrapper, plus naming the route after its
// matcher so errors and logs say which route they are about.
func parseCaddyfile(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	h.Next() // directive name
	matcher := ""
	if h.NextArg() {
		if v := h.Val(); v == "*" || strings.HasPrefix(v, "/") || strings.HasPrefix(v, "@") {
			matcher = v
		}
	}
	h.Reset()
	h.Next()
	matcherSet, err := h.ExtractMatcherSet()
	if err != nil {
		return nil, err
	}
	handler := new(Handler)
	if err := handler.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	if handler.Name == "" {
		handler.Name = uniqueRouteName(h.State, matcher, handler.Provider)
	}
	return h.NewRoute(matcherSet, handler), nil
}

// uniqueRouteName names a route after its matcher (or provider), adding
// "#2", "#3", ... when the same name is used again in one Caddyfile.
func uniqueRouteName(state map[string]any, matcher, provider string) string {
	name := matcher
	if name == "" || name == "*" {
		name = provider
	}
	seen, _ := state["webhook_verify_names"].(map[string]int)
	if seen == nil {
		seen = map[string]int{}
		state["webhook_verify_names"] = seen
	}
	seen[name]++
	if n := seen[name]; n > 1 {
		return fmt.Sprintf("%s#%d", name, n)
	}
	return name
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	webhook_verify [<matcher>] <provider> {
//		provider    <name>
//		name        <route name>
//		secret      <secret...>
//		public_key  <key...>
//		tolerance   <duration>
//		max_body    <size>
//		body_timeout <duration>
//		url         <template>
//		enforce     on|off
//		keep_rejected_bodies
//		handshake   gateway|app [confirm_subscription]
//
//		# generic scheme (provider hmac)
//		header           <field>
//		algorithm        sha1|sha256|sha512
//		encoding         hex|base64|base64url
//		prefix           <text>
//		signed           <template>
//		timestamp_header <field>
//		timestamp_format unix|unix_ms|rfc3339
//		id_header        <field>
//
//		dedupe [<ttl>] {
//			key         <placeholder>
//			max_entries <n>
//			lease       <duration>
//			zone        <name>
//			store       memory
//		}
//
//		rate_limit <events>/<window> [burst <n>] {
//			key            <placeholder>
//			mode           reject|wait
//			max_wait       <duration>
//			max_concurrent <n>
//			max_keys       <n>
//			zone           <name>
//			store          memory
//		}
//
//		retry <n> {
//			backoff <base> <max>
//			budget  <duration>
//			status  <codes...>
//		}
//
//		deliver {
//			to stream <name>
//			to <url> {
//				name           <name>
//				events         <glob...>
//				header         <field> <value>
//				rate_limit     <n>/<window> [burst <b>]
//				max_concurrent <n>
//				timeout        <duration>
//			}
//			sign      <secret>
//			envelope
//			retry {
//				schedule <duration...>
//			}
//			retention <duration>
//			notify    <url>
//			ack       <status>
//		}
//	}
//
// The provider is the first argument or the provider subdirective. secret
// and public_key take several values and may be repeated; every value is
// tried, for key rotation. Other subdirectives may appear once.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		h.Provider = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	err := eachSubdirective(d, "", []string{"secret", "public_key"}, func(sub string) error {
		switch sub {
		case "provider":
			var name string
			if !d.AllArgs(&name) {
				return d.ArgErr()
			}
			if h.Provider != "" && h.Provider != name {
				return d.Errf("provider %q conflicts with %q given as argument", name, h.Provider)
			}
			h.Provider = name
		case "secret":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.Secrets = append(h.Secrets, args...)
		case "public_key":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.PublicKeys = append(h.PublicKeys, args...)
		case "tolerance", "body_timeout":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			dur, err := caddy.ParseDuration(s)
			if err != nil || dur <= 0 {
				return d.Errf("%s: invalid duration %q", sub, s)
			}
			if sub == "tolerance" {
				h.Tolerance = caddy.Duration(dur)
			} else {
				h.BodyTimeout = caddy.Duration(dur)
			}
		case "max_body":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			size, err := humanize.ParseBytes(s)
			if err != nil || size == 0 || size > 1<<40 {
				return d.Errf("max_body: invalid size %q", s)
			}
			h.MaxBody = int64(size)
		case "keep_rejected_bodies":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.KeepRejectedBodies = true
		case "enforce":
			var v string
			if !d.AllArgs(&v) {
				return d.ArgErr()
			}
			switch v {
			case "on":
				h.Shadow = false
			case "off":
				h.Shadow = true
			default:
				return d.Errf("enforce: want on or off, got %q", v)
			}
		case "dedupe":
			if err := h.unmarshalDedupe(d); err != nil {
				return err
			}
		case "rate_limit":
			if err := h.unmarshalRateLimit(d); err != nil {
				return err
			}
		case "retry":
			if err := h.unmarshalRetry(d); err != nil {
				return err
			}
		case "deliver":
			if err := h.unmarshalDeliver(d); err != nil {
				return err
			}
		case "handshake":
			if err := h.unmarshalHandshake(d); err != nil {
				return err
			}
		case "url", "name", "header", "algorithm", "encoding", "prefix", "signed", "timestamp_header", "timestamp_format", "id_header":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			if err := checkWord(sub, s); err != nil {
				return d.Errf("%s: %v", sub, err)
			}
			*h.stringField(sub) = s
		default:
			return d.Errf("unrecognized subdirective '%s'", sub)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if h.Provider == "" {
		return d.Err("missing provider: webhook_verify [<matcher>] <provider> { ... }")
	}
	return nil
}

// stringField maps a one-argument subdirective to its field.
func (h *Handler) stringField(sub string) *string {
	switch sub {
	case "url":
		return &h.URL
	case "name":
		return &h.Name
	case "header":
		return &h.Header
	case "algorithm":
		return &h.Algorithm
	case "encoding":
		return &h.Encoding
	case "prefix":
		return &h.Prefix
	case "signed":
		return &h.Signed
	case "timestamp_header":
		return &h.TimestampHeader
	case "timestamp_format":
		return &h.TimestampFormat
	}
	return &h.IDHeader
}

// checkWord refuses an unknown algorithm, encoding or timestamp format
// at parse time, so `caddy adapt` reports it with its line.
func checkWord(sub, s string) error {
	var err error
	switch sub {
	case "algorithm":
		_, err = verify.ParseAlgorithm(s)
	case "encoding":
		_, err = verify.ParseEncoding(s)
	case "timestamp_format":
		_, err = verify.ParseTimeFormat(s)
	}
	return err
}

// eachSubdirective calls fn for every subdirective of the block at d,
// refusing one given twice unless it is repeatable. prefix names the block
// in errors ("dedupe: ").
func eachSubdirective(d *caddyfile.Dispenser, prefix string, repeatable []string, fn func(sub string) error) error {
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		if seen[sub] && !slices.Contains(repeatable, sub) {
			return d.Errf("%s%s given twice", prefix, sub)
		}
		seen[sub] = true
		if err := fn(sub); err != nil {
			return err
		}
	}
	return nil
}

func parsePositive(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive integer", s)
	}
	return n, nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
