package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

// TokenScheme describes a provider that sends the shared secret itself in a
// header (GitLab's X-Gitlab-Token). There is nothing to sign; the header is
// compared with every configured secret in constant time.
type TokenScheme struct {
	Header       string
	IDHeaders    []string
	EventHeaders []string
}

type tokenVerifier struct {
	header       string
	digests      [][sha256.Size]byte
	idHeaders    []string
	eventHeaders []string
}

func (s *TokenScheme) compile(cfg Config) (*tokenVerifier, error) {
	v := &tokenVerifier{
		header:       http.CanonicalHeaderKey(s.Header),
		idHeaders:    canonical(s.IDHeaders),
		eventHeaders: canonical(s.EventHeaders),
	}
	for _, secret := range cfg.Secrets {
		v.digests = append(v.digests, sha256.Sum256([]byte(secret)))
	}
	return v, nil
}

func (v *tokenVerifier) Verify(req *Request) (Delivery, error) {
	var d Delivery
	d.ID, _ = header(req.Header, v.idHeaders)
	d.Event, _ = header(req.Header, v.eventHeaders)
	token, ok := header(req.Header, []string{v.header})
	if !ok || token == "" {
		return d, fail(ReasonMissingSignature, "no %s header", v.header)
	}
	// Comparing digests keeps the comparison constant-time even when the
	// lengths differ, so the token's length does not leak either.
	got := sha256.Sum256([]byte(token))
	matched := 0
	for i := range v.digests {
		matched |= subtle.ConstantTimeCompare(got[:], v.digests[i][:])
	}
	if matched != 1 {
		return d, fail(ReasonBadSignature, "token matches no configured secret")
	}
	return d, nil
}

// basicAuthVerifier checks HTTP basic auth (Postmark, Pipedrive): the
// secrets are "user:password" pairs, compared as SHA-256 digests in
// constant time. Nothing is signed: use it only over HTTPS.
type basicAuthVerifier struct {
	digests [][sha256.Size]byte
}

func newBasicAuth(cfg Config) (Verifier, error) {
	v := &basicAuthVerifier{}
	for i, secret := range cfg.Secrets {
		if !strings.Contains(secret, ":") {
			return nil, fmt.Errorf("secret #%d is not user:password", i+1)
		}
		v.digests = append(v.digests, sha256.Sum256([]byte(secret)))
	}
	return v, nil
}

func (v *basicAuthVerifier) Verify(req *Request) (Delivery, error) {
	auth, ok := header(req.Header, []string{"Authorization"})
	if !ok || auth == "" {
		return Delivery{}, fail(ReasonMissingSignature, "no Authorization header")
	}
	scheme, encoded, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return Delivery{}, fail(ReasonMalformedSignature, "Authorization is not Basic")
	}
	creds, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return Delivery{}, fail(ReasonMalformedSignature, "Basic credentials are not base64")
	}
	got := sha256.Sum256(creds)
	matched := 0
	for i := range v.digests {
		matched |= subtle.ConstantTimeCompare(got[:], v.digests[i][:])
	}
	if matched != 1 {
		return Delivery{}, fail(ReasonBadSignature, "credentials match no configured secret")
	}
	return Delivery{}, nil
}

// anyOf passes a delivery that any of its verifiers passes (Standard
// Webhooks with both secrets and public keys). A failure reports the first
// verifier's reason.
type anyOf []Verifier

func (a anyOf) Verify(req *Request) (Delivery, error) {
	var first Delivery
	var firstErr error
	for i, v := range a {
		d, err := v.Verify(req)
		if err == nil {
			return d, nil
		}
		if i == 0 {
			first, firstErr = d, err
		}
	}
	return first, firstErr
}

func (a anyOf) signsURL() bool {
	for _, v := range a {
		if SignsURL(v) {
			return true
		}
	}
	return false
}
