// Package webhookverify is a Caddy HTTP handler that verifies webhook
// deliveries (GitHub, Stripe, Slack, Shopify, Standard Webhooks, ...) before
// they reach the app behind Caddy.
package webhookverify

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
	"go.uber.org/zap"

	"github.com/webhookverify/caddy-webhook-verify/verify"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults for the body limits; see the fields.
const (
	defaultMaxBody     = 10 << 20
	defaultBodyTimeout = 30 * time.Second
)

// Handler verifies that a request is a genuine webhook delivery from the
// configured provider and hands only verified deliveries to the next
// handler (normally reverse_proxy), with the body byte-for-byte as sent.
//
// Requests that fail are answered without reaching the next handler
// (unless Shadow is set): 401 for a missing, malformed or wrong signature
// and for a stale or future timestamp; 413 for a body over max_body; 408
// for a body that does not arrive within body_timeout; 405 for a method the
// provider never delivers with; 503 with Retry-After when the webhook app's
// process-wide body budget stays full (see App). A request whose signature
// header is missing or malformed is refused before its body is read. With
// Dedupe, RateLimit and Retry, verified deliveries may also get 409 (a copy
// in flight), 429 (over the limit), 504 (the app did not answer within the
// retry budget or the dedupe lease) or, for a duplicate, the original 2xx
// without reaching the app. With Deliver, the route is durable: a verified
// delivery is journaled and answered 202 (503 when the journal cannot be
// written), and delivered in the background instead of to the next
// handler. Error statuses are returned as handler errors, so
// `handle_errors` can shape the response; the error text is generic and
// never says which part of the signature failed. That goes to the log, at
// INFO, with the route, provider, reason, delivery id, client IP and
// request id, and to the webhook app's live event stream. Secrets,
// signatures and tokens are never logged. A provider's set-up request
// (Meta's or Dropbox's challenge, Okta's verification, WooCommerce's ping,
// and, verified first, Slack's, Zoom's, Twitch's, Discord's and SNS's; see
// Handshake) is answered here and never reaches the app.
//
// After verification, these placeholders are set for logs, matchers and
// headers (`header_up` in reverse_proxy, say):
//
// Placeholder | Description
// ------------|-------------
// `{http.webhook.route}` | The route's name (see `name`)
// `{http.webhook.provider}` | The provider preset, e.g. `github`
// `{http.webhook.id}` | The delivery or event id the provider keeps across retries, if any
// `{http.webhook.event}` | The event type, e.g. `push` or `charge.succeeded`, if known
// `{http.webhook.timestamp}` | The signed timestamp in Unix seconds, for timestamped schemes
// `{http.webhook.verified}` | `true` once the signature checked out, `false` when it did not (see `enforce off`)
// `{http.webhook.reason}` | Why a delivery was rejected (set on failure, for `handle_errors`)
// `{http.webhook.duplicate}` | `true` when dedupe answered a redelivery without the app
// `{http.webhook.attempt}` | The attempt to reach the app, from 1 (see `retry`)
// `{http.webhook.delivery}` | The journal's id of a durable delivery (`msg_...`, its Webhook-Id; see `deliver`)
type Handler struct {
	// Provider is the signing scheme: one of the presets that
	// `caddy webhook providers` lists (`github`, `stripe`, `slack`,
	// `shopify`, `standard` alias `svix`, `twilio`, `discord`, ...), or
	// `hmac` for a scheme described by the fields below.
	Provider string `json:"provider"`

	// Name identifies the route in errors, logs, metrics and placeholders.
	// The Caddyfile sets it to the directive's matcher (e.g. `/github/*`);
	// the default is the provider's name. Global placeholders such as
	// {env.*} are resolved at load.
	Name string `json:"name,omitempty"`

	// Secrets are the shared secrets, exactly as the provider shows them
	// (Stripe's `whsec_...` is used as-is; a Standard Webhooks `whsec_...`
	// is base64 after the prefix, the preset knows which). A signature made
	// with any of them passes, so a new secret can be added before the old
	// one is retired. Use placeholders such as `{env.GITHUB_WEBHOOK_SECRET}`
	// or `{file./run/secrets/github}`: they are resolved when the config
	// loads, and an empty result fails the load. A literal secret is
	// visible to anyone who can read the config or the admin API.
	Secrets []string `json:"secrets,omitempty"`

	// PublicKeys are for providers that sign with a private key.
	PublicKeys []string `json:"public_keys,omitempty"`

	// Tolerance is the largest accepted distance between a delivery's
	// signed timestamp and the clock, in either direction. Only for
	// timestamped schemes; the default is the provider's (5m for Stripe,
	// Slack and Standard Webhooks). Raising it widens the window in which
	// a captured delivery can be replayed.
	Tolerance caddy.Duration `json:"tolerance,omitempty"`

	// MaxBody is the largest body accepted, in bytes; default 10 MiB. A
	// larger body is answered with 413 without being read past the limit
	// (at once, when Content-Length announces it). Bodies are buffered in
	// memory, because the signature covers every byte. GitHub caps its
	// payloads at 25 MB; raise this if your events can be that large.
	MaxBody int64 `json:"max_body,omitempty"`

	// BodyTimeout bounds the time to receive the body; default 30s. A
	// sender that trickles its body is answered with 408.
	BodyTimeout caddy.Duration `json:"body_timeout,omitempty"`

	// URL is the public URL the provider signed, for providers that sign
	// it (twilio, square, hubspot, mandrill, trello, plivo, contentful): a
	// template with placeholders, e.g.
	// `https://hooks.example.com{http.request.uri}`. By default it is
	// rebuilt from the request as Caddy sees it (scheme, Host, path and
	// query), which differs from the public URL when a proxy or load
	// balancer in front rewrites any of them.
	URL string `json:"url,omitempty"`

	// Header is the signature header of the `hmac` scheme.
	Header string `json:"header,omitempty"`
	// Algorithm of the `hmac` scheme: `sha1`, `sha256` (default) or `sha512`.
	Algorithm string `json:"algorithm,omitempty"`
	// Encoding of the `hmac` signature: `hex` (default), `base64` or `base64url`.
	Encoding string `json:"encoding,omitempty"`
	// Prefix before the `hmac` signature, e.g. `sha256=`.
	Prefix string `json:"prefix,omitempty"`
	// Signed is what the `hmac` scheme signs: a template of `{body}`,
	// `{timestamp}`, `{id}`, `{method}`, `{url}` and `{header.<Field>}`
	// with literal text between them, e.g. `v0:{timestamp}:{body}`.
	// Default `{body}`.
	Signed string `json:"signed,omitempty"`
	// TimestampHeader holds the `hmac` scheme's timestamp. With it,
	// deliveries outside `tolerance` (default 5m) are rejected.
	TimestampHeader string `json:"timestamp_header,omitempty"`
	// TimestampFormat of the `hmac` scheme: `unix` (default), `unix_ms` or `rfc3339`.
	TimestampFormat string `json:"timestamp_format,omitempty"`
	// IDHeader holds the `hmac` scheme's delivery id; default `Idempotency-Key`.
	IDHeader string `json:"id_header,omitempty"`

	// Dedupe, when set, stops redeliveries from reaching the app twice.
	Dedupe *Dedupe `json:"dedupe,omitempty"`

	// RateLimit, when set, paces the deliveries that reach the app.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`

	// Retry, when set, tries the app again when it fails briefly.
	Retry *Retry `json:"retry,omitempty"`

	// Deliver, when set, makes the route durable: verified deliveries are
	// journaled and acknowledged at once, then delivered in the background
	// to one or more destinations instead of the next handler.
	Deliver *Deliver `json:"deliver,omitempty"`

	// KeepRejectedBodies keeps the bodies of the last rejected requests
	// (up to 256 KiB each) beside their reason and redacted headers, so
	// that after a secret is fixed they can be verified again and
	// delivered (POST /webhook/rejected/<id>/reverify). Off by default:
	// rejected bodies are anyone's data.
	KeepRejectedBodies bool `json:"keep_rejected_bodies,omitempty"`

	// Shadow (Caddyfile `enforce off`) verifies and records the result in
	// placeholders, logs and metrics, but lets every request through: for
	// rolling the gateway out in front of a live app. Requests that fail
	// verification go straight to the app; verified ones still meet
	// dedupe and rate_limit if configured. Oversized (413), slow (408) and
	// wrongly-methoded (405) requests are still refused.
	Shadow bool `json:"shadow,omitempty"`

	// Handshake says who answers a provider's signed challenges (Slack's
	// url_verification, Zoom's endpoint.url_validation, Twitch's callback
	// verification, Discord's PING, SNS's subscription): `gateway`
	// (default) once they verify, or `app`. Unsigned ones are always
	// answered here. See handshake.go.
	Handshake string `json:"handshake,omitempty"`
	// ConfirmSubscription lets the gateway confirm an SNS subscription.
	ConfirmSubscription bool `json:"confirm_subscription,omitempty"`

	verifyConfig verify.Config // what the verifier was built from, for reverify
	preset       *verify.Preset
	app          *App
	bodyLimits   bodyLimits
	verifier     verify.Verifier
	signsURL     bool
	// deliveryBound bounds the time from handing a delivery to the app to
	// its answer: the retry budget, or the dedupe lease; 0 for none.
	deliveryBound time.Duration
	forwarder     forwarder
	metrics       *routeMetrics
	logger        *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.webhook_verify",
		New: func() caddy.Module { return new(Handler) },
	}
}

// placeholderSecret matches a secret given wholly as one {env.*} or
// {file.*} placeholder: only such a secret may be named in an error.
var placeholderSecret = regexp.MustCompile(`^\{(env|file)\.[^{}\s]+\}$`)

// Provision resolves the secrets and builds the verifier.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.Name = caddy.NewReplacer().ReplaceAll(h.Name, "")
	if h.Name == "" {
		h.Name = h.Provider
	}
	preset, ok := verify.Lookup(h.Provider)
	if !ok {
		return fmt.Errorf("route %s: unknown provider %q (known: %s)", h.Name, h.Provider, strings.Join(providerNames(), ", "))
	}
	h.preset = preset
	if h.MaxBody == 0 {
		h.MaxBody = defaultMaxBody
	}
	if h.BodyTimeout == 0 {
		h.BodyTimeout = caddy.Duration(defaultBodyTimeout)
	}

	secrets, err := h.resolveSecrets()
	if err != nil {
		return err
	}
	publicKeys, err := resolveAll(h.PublicKeys, "public_key")
	if err != nil {
		return fmt.Errorf("route %s: %w", h.Name, err)
	}
	h.verifyConfig = verify.Config{
		Secrets:    secrets,
		PublicKeys: publicKeys,
		Tolerance:  time.Duration(h.Tolerance),
		Store:      handshakeSecrets,
		Route:      h.Name,
		Generic: verify.Generic{
			Header:          h.Header,
			Algorithm:       h.Algorithm,
			Encoding:        h.Encoding,
			Prefix:          h.Prefix,
			Signed:          h.Signed,
			TimestampHeader: h.TimestampHeader,
			TimestampFormat: h.TimestampFormat,
			IDHeader:        h.IDHeader,
		},
	}
	h.verifier, err = preset.New(h.verifyConfig)
	if err != nil {
		return fmt.Errorf("route %s: %w", h.Name, err)
	}
	h.signsURL = verify.SignsURL(h.verifier)
	if h.URL != "" && !h.signsURL {
		h.logger.Warn("url is set but this provider does not sign the URL; it is ignored",
			zap.String("route", h.Name), zap.String("provider", h.preset.Name))
	}
	if err := h.provisionMetrics(ctx); err != nil {
		return err
	}
	if h.app == nil { // set beforehand only by unit tests, whose context has no config
		if h.app, err = webhookApp(ctx); err != nil {
			return err
		}
	}
	app := h.app
	if h.MaxBody > app.budget.MaxLarge() {
		return fmt.Errorf("route %s: max_body %s does not fit the webhook body_budget %s (a body may take three quarters of it)",
			h.Name, humanize.IBytes(uint64(h.MaxBody)), humanize.IBytes(uint64(app.BodyBudget)))
	}
	h.bodyLimits = bodyLimits{max: h.MaxBody, timeout: time.Duration(h.BodyTimeout), budget: app.budget, wait: time.Duration(app.BodyWait)}
	// Each part provisions itself; Retry first, since its budget bounds the
	// delivery and so is the lease of a dedupe claim.
	h.forwarder = directForwarder{}
	if h.Retry != nil {
		if h.forwarder, err = h.Retry.provision(h); err != nil {
			return err
		}
		h.deliveryBound = h.Retry.policy.Budget
	}
	if h.Dedupe != nil {
		if err := h.Dedupe.provision(h); err != nil {
			return err
		}
		h.deliveryBound = h.Dedupe.lease
	}
	if h.RateLimit != nil {
		if err := h.RateLimit.provision(h); err != nil {
			return err
		}
	}
	if h.Deliver != nil {
		if err := h.Deliver.provision(h); err != nil {
			return err
		}
	}
	h.app.addHandler(h)
	return nil
}

// resolveSecrets replaces the placeholders in the secrets. Errors name the
// secret by position (and by placeholder, when it is one) but never show a
// value.
func (h *Handler) resolveSecrets() ([]string, error) {
	for i, s := range h.Secrets {
		if !strings.Contains(s, "{") {
			h.logger.Warn("secret given literally; anyone who can read the config or the admin API sees it, use {env.*} or {file.*}",
				zap.String("route", h.Name), zap.Int("secret", i+1))
		}
	}
	out, err := resolveAll(h.Secrets, "secret")
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", h.Name, err)
	}
	return out, nil
}

func resolveAll(values []string, what string) ([]string, error) {
	repl := caddy.NewReplacer()
	out := make([]string, len(values))
	for i, raw := range values {
		v, err := repl.ReplaceOrErr(raw, true, true)
		if err != nil || v == "" {
			name := ""
			if placeholderSecret.MatchString(raw) {
				name = " " + raw
			}
			return nil, fmt.Errorf("%s #%d%s is empty or names an unknown placeholder", what, i+1, name)
		}
		out[i] = v
	}
	return out, nil
}

func providerNames() []string {
	var names []string
	for _, p := range verify.Presets() {
		names = append(names, p.Name)
	}
	return names
}

// Validate checks settings that make no sense together.
func (h *Handler) Validate() error {
	if h.MaxBody < 0 {
		return fmt.Errorf("route %s: max_body must not be negative", h.Name)
	}
	if h.BodyTimeout < 0 {
		return fmt.Errorf("route %s: body_timeout must not be negative", h.Name)
	}
	if h.Deliver != nil && h.Retry != nil {
		return fmt.Errorf("route %s: retry is for handing deliveries to the next handler; with deliver, use deliver's own retry { schedule ... }", h.Name)
	}
	if h.Handshake != "" && h.Handshake != handshakeGateway && h.Handshake != handshakeApp {
		return fmt.Errorf("route %s: handshake must be gateway or app", h.Name)
	}
	if h.Provider != "hmac" {
		for _, f := range []struct{ name, value string }{
			{"header", h.Header}, {"algorithm", h.Algorithm}, {"encoding", h.Encoding}, {"prefix", h.Prefix},
			{"signed", h.Signed}, {"timestamp_header", h.TimestampHeader}, {"timestamp_format", h.TimestampFormat}, {"id_header", h.IDHeader},
		} {
			if f.value != "" {
				return fmt.Errorf("route %s: %s is only for provider hmac; provider %s has its own scheme", h.Name, f.name, h.Provider)
			}
		}
	}
	return nil
}

// Cleanup releases what Provision took, every part's even when one fails.
// It is safe after a failed Provision.
func (h *Handler) Cleanup() error {
	return errors.Join(h.Dedupe.cleanup(), h.RateLimit.cleanup())
}

// publicURL is the URL the sender requested, for schemes that sign it:
// the configured template, or the original request rebuilt.
func (h *Handler) publicURL(r *http.Request, repl *caddy.Replacer) string {
	if h.URL != "" {
		return repl.ReplaceAll(h.URL, "")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	// The request-target as the sender wrote it: a rewrite or uri directive
	// that ran before this handler must not change what was signed.
	target := r.RequestURI
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.RequestURI != "" {
		target = orig.RequestURI
	}
	if target == "" {
		target = r.URL.RequestURI()
	}
	return scheme + "://" + r.Host + target
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
