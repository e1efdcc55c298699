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
	// IDField and EventField are top-level JSON body fields, read when
	// no header carries the id or event (Telegram's update_id).
	IDField, EventField string
}

type tokenVerifier struct {
	header       string
	digests      [][sha256.Size]byte
	idHeaders    []string
	eventHeaders []string
	idField      string
	eventField   string
}

func (s *TokenScheme) compile(cfg Config) (*tokenVerifier, error) {
	v := &tokenVerifier{
		header:       http.CanonicalHeaderKey(s.Header),
		idHeaders:    canonical(s.IDHeaders),
		eventHeaders: canonical(s.EventHeaders),
		idField:      s.IDField,
		eventField:   s.EventField,
	}
	for _, secret := range cfg.Secrets {
		v.digests = append(v.digests, sha256.Sum256([]byte(secret)))
	}
	return v, nil
}

func (v *tokenVerifier) Verify(req *Request) (Delivery, error) {
	var d Delivery
	d.ID, _ = header(req.Header, v.idHeaders)
	// Nothing is signed, but whoever can send this request holds the
	// secret itself; an id they choose is as good as anything else they
	// could forge.
	d.IDSigned = true
	d.Event, _ = header(req.Header, v.eventHeaders)
	if err := v.CheckHeaders(req.Header); err != nil {
		return d, err
	}
	token, _ := header(req.Header, []string{v.header})
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
	if (d.ID == "" && v.idField != "") || (d.Event == "" && v.eventField != "") {
		id, event := jsonFields(req.Body, v.idField, v.eventField)
		if d.ID == "" {
			d.ID = id
		}
		if d.Event == "" {
			d.Event = event
		}
	}
	return d, nil
}

// CheckHeaders refuses a request without the token, before its body is read.
func (v *tokenVerifier) CheckHeaders(h http.Header) error {
	if token, _ := header(h, []string{v.header}); token == "" {
		return fail(ReasonMissingSignature, "no %s header", v.header)
	}
	return nil
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
	creds, err := basicCredentialsOf(req.Header)
	if err != nil {
		return Delivery{}, err
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

// CheckHeaders refuses a request without Basic credentials, before its
// body is read.
func (v *basicAuthVerifier) CheckHeaders(h http.Header) error {
	_, err := basicCredentialsOf(h)
	return err
}

func basicCredentialsOf(h http.Header) ([]byte, error) {
	auth, ok := header(h, []string{"Authorization"})
	if !ok || auth == "" {
		return nil, fail(ReasonMissingSignature, "no Authorization header")
	}
	scheme, encoded, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return nil, fail(ReasonMalformedSignature, "Authorization is not Basic")
	}
	creds, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return nil, fail(ReasonMalformedSignature, "Basic credentials are not base64")
	}
	return creds, nil
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

// CheckHeaders passes when any verifier's check passes, else reports the
// first one's reason, as Verify does.
func (a anyOf) CheckHeaders(h http.Header) error {
	var first error
	for i, v := range a {
		err := CheckHeaders(v, h)
		if err == nil {
			return nil
		}
		if i == 0 {
			first = err
		}
	}
	return first
}

func (a anyOf) signsURL() bool {
	for _, v := range a {
		if SignsURL(v) {
			return true
		}
	}
	return false
}

// constantTimeIn reports whether s is one of secrets, comparing digests
// in constant time.
func constantTimeIn(s string, secrets []string) bool {
	got := sha256.Sum256([]byte(s))
	matched := 0
	for _, secret := range secrets {
		want := sha256.Sum256([]byte(secret))
		matched |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return matched == 1
}
