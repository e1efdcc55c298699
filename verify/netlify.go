package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
)

// netlifyVerifier checks Netlify's X-Webhook-Signature: a compact JWS
// (HS256, keyed with the "JWS secret token") whose claims are
// {"iss":"netlify","sha256":"<hex SHA-256 of the body>"}.
type netlifyVerifier struct {
	keys []*macKey
}

func newNetlify(cfg Config) (Verifier, error) {
	return &netlifyVerifier{keys: macKeys(SHA256, cfg.Secrets)}, nil
}

// splitJWS splits a compact JWS and checks its header says HS256.
func splitJWS(token string) (signingInput, claims, sig string, ok bool) {
	head, rest, ok1 := strings.Cut(token, ".")
	claims, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") {
		return "", "", "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", "", "", false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(raw, &h) != nil || h.Alg != "HS256" {
		return "", "", "", false
	}
	return token[:len(head)+1+len(claims)], claims, sig, true
}

// CheckHeaders refuses a request without an HS256 JWS in
// X-Webhook-Signature, before its body is read.
func (v *netlifyVerifier) CheckHeaders(h http.Header) error {
	token, ok := header(h, []string{"X-Webhook-Signature"})
	if !ok || token == "" {
		return fail(ReasonMissingSignature, "no X-Webhook-Signature header")
	}
	if _, _, _, ok := splitJWS(token); !ok {
		return fail(ReasonMalformedSignature, "not an HS256 JWS")
	}
	return nil
}

func (v *netlifyVerifier) Verify(req *Request) (Delivery, error) {
	var d Delivery
	d.Event, _ = header(req.Header, []string{"X-Netlify-Event"})
	token, _ := header(req.Header, []string{"X-Webhook-Signature"})
	if err := v.CheckHeaders(req.Header); err != nil {
		return d, err
	}
	signingInput, claimsPart, sigPart, _ := splitJWS(token)
	var want [maxSignatureSize]byte
	n, ok := Base64URL.decode(want[:], sigPart)
	if !ok || n != sha256.Size {
		return d, fail(ReasonMalformedSignature, "JWS signature is not a SHA-256 MAC")
	}
	if !anyKeyMatches(v.keys, want[:n], signingInput) {
		return d, fail(ReasonBadSignature, "no signature matches any configured secret")
	}
	raw, err := base64.RawURLEncoding.DecodeString(claimsPart)
	var claims struct {
		Iss    string `json:"iss"`
		SHA256 string `json:"sha256"`
	}
	if err != nil || json.Unmarshal(raw, &claims) != nil || claims.Iss != "netlify" {
		return d, fail(ReasonBadSignature, "JWS claims are not Netlify's")
	}
	sum := sha256.Sum256(req.Body)
	if got, err := hex.DecodeString(claims.SHA256); err != nil || !hmac.Equal(got, sum[:]) {
		return d, fail(ReasonBadSignature, "body does not match the signed sha256 claim")
	}
	return d, nil
}
