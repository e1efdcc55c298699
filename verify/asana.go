package verify

import (
	"context"
	"errors"
	"net/http"
	"sync"
)

// asanaScheme is Asana's delivery signature: hex HMAC-SHA256 of the body
// in X-Hook-Signature, keyed with the X-Hook-Secret Asana handed over when
// the webhook was created.
var asanaScheme = Scheme{SignatureHeaders: []string{"X-Hook-Signature"}}

// asanaVerifier checks deliveries with the configured secrets and the one
// the route learned in Asana's handshake, kept in the SecretStore.
type asanaVerifier struct {
	cfg   Config
	mu    sync.Mutex
	cache struct {
		secret string
		v      *schemeVerifier
	}
}

func newAsana(cfg Config) (Verifier, error) {
	v := &asanaVerifier{cfg: cfg}
	if _, err := v.verifier(""); err != nil && len(cfg.Secrets) > 0 {
		return nil, err
	}
	return v, nil
}

// verifier is the scheme keyed with the configured secrets and learned.
func (v *asanaVerifier) verifier(learned string) (*schemeVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cache.v != nil && v.cache.secret == learned {
		return v.cache.v, nil
	}
	cfg := v.cfg
	cfg.Secrets = append([]string(nil), v.cfg.Secrets...)
	if learned != "" {
		cfg.Secrets = append(cfg.Secrets, learned)
	}
	if len(cfg.Secrets) == 0 {
		return nil, errors.New("no secret yet")
	}
	sv, err := asanaScheme.compile(cfg)
	if err != nil {
		return nil, err
	}
	v.cache.secret, v.cache.v = learned, sv
	return sv, nil
}

func (v *asanaVerifier) learned() string {
	if v.cfg.Store == nil {
		return ""
	}
	s, _ := v.cfg.Store.Get(context.Background(), v.cfg.Route)
	return s
}

// CheckHeaders refuses a request without X-Hook-Signature, before its body
// is read.
func (v *asanaVerifier) CheckHeaders(h http.Header) error {
	if sig, _ := header(h, []string{"X-Hook-Signature"}); sig == "" {
		return fail(ReasonMissingSignature, "no X-Hook-Signature header")
	}
	return nil
}

func (v *asanaVerifier) Verify(req *Request) (Delivery, error) {
	if err := v.CheckHeaders(req.Header); err != nil {
		return Delivery{}, err
	}
	sv, err := v.verifier(v.learned())
	if err != nil {
		return Delivery{}, fail(ReasonBadSignature, "no secret: the X-Hook-Secret handshake has not happened")
	}
	return sv.Verify(req)
}

// asanaHandshake answers Asana's handshake, a POST with X-Hook-Secret and
// no signature, by echoing the header (developers.asana.com, "Establishing
// a webhook"). The first secret a route is handed is kept, and only the
// same one is accepted again: anyone can send a handshake, and a second
// one must not replace the key. With a configured secret, only that one
// is accepted. Re-registering the webhook needs the stored one deleted.
func asanaHandshake(c *ChallengeRequest) (*Handshake, error) {
	secret := c.Header.Get("X-Hook-Secret")
	if c.Stage != BeforeVerify || c.Method != "POST" || secret == "" {
		return nil, nil
	}
	if len(secret) > maxChallenge {
		return nil, errors.New("X-Hook-Secret too long")
	}
	if len(c.Secrets) > 0 {
		if !constantTimeIn(secret, c.Secrets) {
			return nil, errors.New("X-Hook-Secret is not the configured secret")
		}
	} else {
		if c.Store == nil {
			return nil, errors.New("no store for the handed-over secret")
		}
		have, err := c.Store.SetIfAbsent(c.Context, c.Route, secret)
		if err != nil {
			return nil, err
		}
		if !constantTimeIn(secret, []string{have}) {
			return nil, errors.New("the route already has another X-Hook-Secret")
		}
	}
	return &Handshake{Status: http.StatusOK, Header: http.Header{"X-Hook-Secret": {secret}}}, nil
}
