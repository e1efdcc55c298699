package verify

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// braintreeVerifier checks Braintree's webhook notifications: a form body
// with bt_payload (base64 XML) and bt_signature ("public_key|hex" pairs
// joined by "&"), the hex being HMAC-SHA1 of the payload (or the payload
// and a newline) keyed with SHA-1 of the private key, as braintree_node's
// WebhookNotificationGateway checks it. Secrets are "public_key:private_key";
// the pair whose public key matches is checked.
type braintreeVerifier struct {
	keys []braintreeKey
}

type braintreeKey struct {
	public string
	mac    []byte // SHA-1 of the private key
}

func newBraintree(cfg Config) (Verifier, error) {
	v := &braintreeVerifier{}
	for i, s := range cfg.Secrets {
		pub, priv, ok := strings.Cut(s, ":")
		if !ok || pub == "" || priv == "" {
			return nil, errorf("secret #%d is not public_key:private_key", i+1)
		}
		sum := sha1.Sum([]byte(priv))
		v.keys = append(v.keys, braintreeKey{public: pub, mac: sum[:]})
	}
	return v, nil
}

var braintreePayload = regexp.MustCompile(`^[A-Za-z0-9+=/\n]+$`)

// parseBraintree reads bt_signature's pairs and bt_payload from a form body.
func parseBraintree(body []byte) (pairs [][2]string, payload string, err error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, "", errors.New("body is not a form")
	}
	payload = form.Get("bt_payload")
	for _, pair := range strings.Split(form.Get("bt_signature"), "&") {
		if pub, sig, ok := strings.Cut(pair, "|"); ok {
			pairs = append(pairs, [2]string{pub, sig})
		}
	}
	return pairs, payload, nil
}

func (v *braintreeVerifier) Verify(req *Request) (Delivery, error) {
	var d Delivery
	pairs, payload, err := parseBraintree(req.Body)
	if err != nil || len(pairs) == 0 {
		return d, fail(ReasonMissingSignature, "no bt_signature")
	}
	if payload == "" || !braintreePayload.MatchString(payload) {
		return d, fail(ReasonMalformedSignature, "bt_payload is missing or holds illegal characters")
	}
	matched := false
	for _, k := range v.keys {
		for _, p := range pairs {
			got, err := hex.DecodeString(p[1])
			if p[0] != k.public || err != nil {
				continue
			}
			for _, data := range []string{payload, payload + "\n"} {
				m := hmac.New(sha1.New, k.mac)
				m.Write([]byte(data))
				if hmac.Equal(m.Sum(nil), got) {
					matched = true
				}
			}
		}
	}
	if !matched {
		return d, fail(ReasonBadSignature, "no signature matches any configured key")
	}
	if raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(payload, "\n", "")); err == nil {
		var n struct {
			Kind string `xml:"kind"`
		}
		if xml.Unmarshal(raw, &n) == nil {
			d.Event = n.Kind
		}
	}
	return d, nil
}

// braintreeChallenge answers Braintree's legacy verification GET
// ?bt_challenge=<hex> with "public_key|hex HMAC-SHA1(SHA-1(private key),
// challenge)", as braintree_node's webhookNotification.verify does.
func braintreeChallenge(c *ChallengeRequest) (*Handshake, error) {
	if c.Stage != BeforeVerify || c.Method != "GET" {
		return nil, nil
	}
	q, err := url.ParseQuery(c.Query)
	challenge := q.Get("bt_challenge")
	if err != nil || challenge == "" {
		return nil, nil
	}
	if !regexp.MustCompile(`^[a-f0-9]{20,32}$`).MatchString(challenge) {
		return nil, errors.New("bt_challenge is not 20 to 32 hex digits")
	}
	pub, priv, _ := strings.Cut(c.Secrets[0], ":")
	sum := sha1.Sum([]byte(priv))
	m := hmac.New(sha1.New, sum[:])
	m.Write([]byte(challenge))
	return textAnswer(pub + "|" + hex.EncodeToString(m.Sum(nil))), nil
}

// signBraintree wraps the body as bt_payload, as Braintree sends it.
func signBraintree(o SignOptions, out *Signed) error {
	pub, priv, ok := strings.Cut(o.Secret, ":")
	if !ok {
		return errors.New("braintree: the secret is public_key:private_key")
	}
	payload := base64.StdEncoding.EncodeToString(o.Body) + "\n"
	sum := sha1.Sum([]byte(priv))
	m := hmac.New(sha1.New, sum[:])
	m.Write([]byte(payload))
	out.Body = []byte(url.Values{"bt_signature": {pub + "|" + hex.EncodeToString(m.Sum(nil))}, "bt_payload": {payload}}.Encode())
	out.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return nil
}
