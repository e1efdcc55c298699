package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// hubspotScheme is HubSpot's v3 signature: base64 HMAC-SHA256 over
// method, URI (with some percent-encodings decoded), body and the
// millisecond timestamp.
var hubspotScheme = Scheme{
	SignatureHeaders: []string{"X-HubSpot-Signature-v3"}, Encoding: Base64, Signed: "{method}{url}{body}{timestamp}",
	TimestampHeaders: []string{"X-HubSpot-Request-Timestamp"}, TimestampFormat: UnixMillis, URLTransform: hubspotURI,
}

// hubspotVerifier checks HubSpot's v3 signature when the request has one,
// and otherwise the older v1 and v2 ones, which HubSpot still sends for
// webhook subscriptions and workflow webhooks (X-HubSpot-Signature with
// X-HubSpot-Signature-Version): hex SHA-256 (a plain hash, not an HMAC) of
// secret+body (v1) or secret+method+URL+body (v2), as @hubspot/api-client's
// Signature.getSignature computes them. Neither carries a timestamp, so a
// v1 or v2 delivery can be replayed: dedupe (on the body digest) is what
// stops that.
type hubspotVerifier struct {
	v3      *schemeVerifier
	secrets []string
}

func newHubSpot(cfg Config) (Verifier, error) {
	v3, err := hubspotScheme.compile(cfg)
	if err != nil {
		return nil, err
	}
	return &hubspotVerifier{v3: v3, secrets: cfg.Secrets}, nil
}

var hubspotLegacyHeaders = canonical([]string{"X-HubSpot-Signature"})

func (v *hubspotVerifier) signsURL() bool { return true }

func (v *hubspotVerifier) useV3(h http.Header) bool {
	_, ok := header(h, v.v3.sigHeaders)
	return ok
}

// legacy reads the v1/v2 signature and which versions it may be.
func (v *hubspotVerifier) legacy(h http.Header, want *[sha256.Size]byte) (v1, v2 bool, err error) {
	sig, ok := header(h, hubspotLegacyHeaders)
	if !ok || sig == "" {
		return false, false, fail(ReasonMissingSignature, "no X-HubSpot-Signature-v3 or X-HubSpot-Signature header")
	}
	if n, ok := Hex.decode(want[:], sig); !ok || n != sha256.Size {
		return false, false, fail(ReasonMalformedSignature, "X-HubSpot-Signature is not a hex SHA-256")
	}
	switch version := h.Get("X-HubSpot-Signature-Version"); version {
	case "v1":
		return true, false, nil
	case "v2":
		return false, true, nil
	case "":
		return true, true, nil
	}
	return false, false, fail(ReasonMalformedSignature, "unknown X-HubSpot-Signature-Version")
}

// CheckHeaders refuses a request with neither a v3 nor a well-formed
// v1/v2 signature, before its body is read.
func (v *hubspotVerifier) CheckHeaders(h http.Header) error {
	if v.useV3(h) {
		return v.v3.CheckHeaders(h)
	}
	var want [sha256.Size]byte
	_, _, err := v.legacy(h, &want)
	return err
}

func (v *hubspotVerifier) Verify(req *Request) (Delivery, error) {
	if v.useV3(req.Header) {
		return v.v3.Verify(req)
	}
	var want [sha256.Size]byte
	v1, v2, err := v.legacy(req.Header, &want)
	if err != nil {
		return Delivery{}, err
	}
	matched := 0
	for _, secret := range v.secrets {
		if v1 {
			h := sha256.New()
			h.Write([]byte(secret))
			h.Write(req.Body)
			matched |= subtle.ConstantTimeCompare(h.Sum(nil), want[:])
		}
		if v2 {
			h := sha256.New()
			h.Write([]byte(secret + req.Method + req.URL))
			h.Write(req.Body)
			matched |= subtle.ConstantTimeCompare(h.Sum(nil), want[:])
		}
	}
	if matched != 1 {
		return Delivery{}, fail(ReasonBadSignature, "no signature matches any configured secret")
	}
	return Delivery{}, nil
}
