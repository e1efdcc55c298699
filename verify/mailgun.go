package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"net/url"
	"time"
)

// mailgunVerifier checks Mailgun's signature, which travels inside the body:
// JSON {"signature":{"timestamp","token","signature"}, "event-data":{...}} or,
// for legacy webhooks, form fields of the same names. The MAC is
// HMAC-SHA256 hex over timestamp+token only: the event data is not covered,
// so the token doubles as the delivery id for dedupe, which is what stops a
// captured signature from being replayed.
type mailgunVerifier struct {
	keys      []*macKey
	tolerance time.Duration
	now       func() time.Time
}

func newMailgun(cfg Config) (Verifier, error) {
	return &mailgunVerifier{keys: macKeys(SHA256, cfg.Secrets), tolerance: cfg.Tolerance, now: cfg.now}, nil
}

type mailgunBody struct {
	Signature struct {
		Timestamp string `json:"timestamp"`
		Token     string `json:"token"`
		Signature string `json:"signature"`
	} `json:"signature"`
	EventData struct {
		Event string `json:"event"`
	} `json:"event-data"`
}

// parseMailgun reads the signature fields from a JSON or form body.
func parseMailgun(body []byte, form bool) (mailgunBody, bool) {
	var m mailgunBody
	if form {
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return m, false
		}
		m.Signature.Timestamp, m.Signature.Token, m.Signature.Signature = values.Get("timestamp"), values.Get("token"), values.Get("signature")
		m.EventData.Event = values.Get("event")
		return m, true
	}
	if !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) || json.Unmarshal(body, &m) != nil {
		return m, false
	}
	return m, true
}

func (v *mailgunVerifier) Verify(req *Request) (Delivery, error) {
	var d Delivery
	m, ok := parseMailgun(req.Body, isForm(req.Header))
	if !ok || m.Signature.Signature == "" {
		return d, fail(ReasonMissingSignature, "no signature in the body")
	}
	// The token is signed: it is the one part of a delivery that a replay
	// cannot change.
	d.ID, d.IDSigned, d.Event = m.Signature.Token, true, m.EventData.Event
	if m.Signature.Timestamp == "" || m.Signature.Token == "" {
		return d, fail(ReasonMalformedSignature, "signature without timestamp or token")
	}
	var want [maxSignatureSize]byte
	n, ok := Hex.decode(want[:], m.Signature.Signature)
	if !ok || n != sha256.Size {
		return d, fail(ReasonMalformedSignature, "signature is not a hex SHA-256 MAC")
	}
	if !anyKeyMatches(v.keys, want[:n], m.Signature.Timestamp, m.Signature.Token) {
		return d, fail(ReasonBadSignature, "no signature matches any configured secret")
	}
	t, terr := checkTimestamp(UnixSeconds, m.Signature.Timestamp, v.now(), v.tolerance)
	d.Timestamp = t
	if terr != nil {
		return d, terr
	}
	return d, nil
}
