// Package verify checks that a webhook delivery was signed by its provider.
//
// Every provider signs a little differently: which bytes, which hash, which
// header, how the signature is encoded and whether a timestamp is part of it.
// A Preset captures one provider's scheme; New turns a preset and the user's
// secrets into a Verifier. The package knows nothing of Caddy or of HTTP
// servers: it works on the raw body and the request headers, so it can be
// tested with plain values and an injected clock.
package verify

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// Request is what a scheme needs to know about an incoming delivery.
type Request struct {
	// Method is the HTTP method, for schemes that sign it.
	Method string
	// URL is the public URL the sender requested, for schemes that sign it.
	URL string
	// Query is the raw query string, for handshakes.
	Query string
	// Header holds the request headers.
	Header http.Header
	// Body is the raw request body, exactly as received.
	Body []byte
}

// Delivery is what verification learned about a delivery.
type Delivery struct {
	// ID is the delivery or event id the provider keeps across its retries,
	// or "" when the scheme has none. Verify fills it from headers even when
	// verification fails (for logs); ids read from the body are only filled
	// after the signature checked out.
	ID string
	// IDSigned is whether the signature covers ID (it came from the signed
	// body, or from a header the scheme signs), or the request carried the
	// secret itself (token and basic-auth schemes), so that a sender
	// without the secret cannot change it. An unsigned id can be replaced
	// at will by whoever replays a captured delivery, so dedupe must not
	// key on it alone.
	IDSigned bool
	// Event is the event type (e.g. "push", "charge.succeeded"), or "".
	Event string
	// Timestamp is the signed timestamp, or the zero time.
	Timestamp time.Time
}

// Verifier checks one delivery. Implementations are safe for concurrent use.
type Verifier interface {
	Verify(req *Request) (Delivery, error)
}

// Reason says why a delivery was rejected. It is meant for logs and
// metrics; the sender is only ever told that verification failed.
type Reason string

// The reasons a delivery can fail verification.
const (
	ReasonMissingSignature   Reason = "missing_signature"
	ReasonMalformedSignature Reason = "malformed_signature"
	ReasonBadSignature       Reason = "bad_signature"
	ReasonMissingTimestamp   Reason = "missing_timestamp"
	ReasonMalformedTimestamp Reason = "malformed_timestamp"
	ReasonStale              Reason = "stale"
	ReasonFuture             Reason = "future"
)

// Error is a verification failure. Its text never contains a secret, a
// signature or an expected MAC.
type Error struct {
	Reason Reason
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + e.Detail
}

func fail(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason of a verification error, or "" if err is not one.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// Config is what the user configured for one route.
type Config struct {
	// Secrets are the shared secrets exactly as the provider shows them. A
	// signature made with any of them passes (key rotation).
	Secrets []string
	// PublicKeys are for schemes signed with a private key.
	PublicKeys []string
	// Tolerance is the largest accepted distance between a signed timestamp
	// and now, in either direction. Zero means the preset's default.
	Tolerance time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// Generic is the scheme of the "hmac" preset; other presets ignore it.
	Generic Generic

	// Store keeps secrets handed over in handshakes, and Route names the
	// route in it (Asana); other presets ignore them.
	Store SecretStore
	Route string
	// HTTPClient fetches what a scheme needs from the provider (SNS's
	// signing certificates); nil means a client with a 10 s timeout.
	HTTPClient *http.Client
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Preset is one provider's signing scheme.
type Preset struct {
	// Name is what users write in the Caddyfile.
	Name string
	// Aliases are other accepted names.
	Aliases []string
	// Summary describes the scheme in a few words.
	Summary string
	// Tolerance is the default timestamp tolerance; 0 if the scheme signs no
	// timestamp or the provider documents none.
	Tolerance time.Duration
	// DeliveryID says where the id that survives the provider's retries
	// comes from ("" when there is none, and dedupe uses a body digest).
	DeliveryID string
	// IDSigned is whether the delivery id is covered by the signature (or
	// by the secret the request carries). When it is not, dedupe keys on a
	// digest of the signed bytes instead: a captured delivery replayed with
	// a fresh id must still count as a duplicate.
	IDSigned bool
	// KeyKind says what the preset is configured with.
	KeyKind KeyKind
	// Methods are the HTTP methods the provider delivers with.
	Methods []string
	// Handshake, if set, recognises the provider's unsigned set-up
	// requests that need no key and says how to answer them; Challenge
	// asks it at BeforeVerify.
	Handshake func(*Request) *Handshake

	build     func(Config) (Verifier, error)
	sign      func(SignOptions, *Signed) error
	challenge func(*ChallengeRequest) (*Handshake, error)
}

// KeyKind says whether a preset takes shared secrets or public keys.
type KeyKind int

// The kinds of keys a preset can take.
const (
	SharedSecret KeyKind = iota
	PublicKey
	SecretOrPublicKey
	// HandshakeSecret presets learn their secret in a handshake (Asana);
	// a configured one is optional.
	HandshakeSecret
)

// New builds a verifier for cfg. It fails when the configuration cannot
// verify anything (no secret, a secret that does not decode, ...): a
// misconfigured route must never accept everything.
func (p *Preset) New(cfg Config) (Verifier, error) {
	if cfg.Tolerance < 0 {
		return nil, errors.New("tolerance must not be negative")
	}
	if cfg.Tolerance == 0 {
		cfg.Tolerance = p.Tolerance
	}
	switch p.KeyKind {
	case SharedSecret:
		if len(cfg.Secrets) == 0 {
			return nil, fmt.Errorf("provider %s needs at least one secret", p.Name)
		}
	case PublicKey:
		if len(cfg.PublicKeys) == 0 {
			return nil, fmt.Errorf("provider %s needs at least one public_key", p.Name)
		}
	case SecretOrPublicKey:
		if len(cfg.Secrets) == 0 && len(cfg.PublicKeys) == 0 {
			return nil, fmt.Errorf("provider %s needs a secret or a public_key", p.Name)
		}
	}
	for i, s := range cfg.Secrets {
		if s == "" {
			return nil, fmt.Errorf("secret #%d is empty", i+1)
		}
	}
	if (p.KeyKind == SharedSecret || p.KeyKind == HandshakeSecret) && len(cfg.PublicKeys) > 0 {
		return nil, fmt.Errorf("provider %s signs with a shared secret; it takes no public_key", p.Name)
	}
	if p.KeyKind == PublicKey && len(cfg.Secrets) > 0 {
		return nil, fmt.Errorf("provider %s signs with a private key; give its public_key, not a secret", p.Name)
	}
	return p.build(cfg)
}

// AllowsMethod reports whether the provider delivers with method.
func (p *Preset) AllowsMethod(method string) bool {
	return slices.Contains(p.Methods, method)
}

var registry = map[string]*Preset{}

// register adds presets; it panics on a name clash, which is a programming error.
func register(presets ...*Preset) {
	for _, p := range presets {
		if len(p.Methods) == 0 {
			p.Methods = []string{http.MethodPost}
		}
		for _, name := range append([]string{p.Name}, p.Aliases...) {
			if _, dup := registry[name]; dup {
				panic("verify: preset " + name + " registered twice")
			}
			registry[name] = p
		}
	}
}

// Lookup finds a preset by name or alias.
func Lookup(name string) (*Preset, bool) {
	p, ok := registry[strings.ToLower(name)]
	return p, ok
}

// Presets returns every preset once, sorted by name.
func Presets() []*Preset {
	var out []*Preset
	for name, p := range registry {
		if name == p.Name {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CheckHeaders refuses a request whose signature cannot be right from its
// headers alone (missing, or not in the scheme's format), so the caller can
// answer before reading the body. Schemes whose signature travels in the
// body (Mailgun) pass everything here. A nil error says nothing about
// whether the signature is valid: Verify decides that.
func CheckHeaders(v Verifier, h http.Header) error {
	if c, ok := v.(interface{ CheckHeaders(http.Header) error }); ok {
		return c.CheckHeaders(h)
	}
	return nil
}

// SignsURL reports whether v reads Request.URL, so callers can skip
// building it for schemes that do not sign it.
func SignsURL(v Verifier) bool {
	u, ok := v.(interface{ signsURL() bool })
	return ok && u.signsURL()
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
