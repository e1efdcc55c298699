package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
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
