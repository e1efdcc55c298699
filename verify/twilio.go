package verify

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// twilioVerifier checks X-Twilio-Signature: base64 HMAC-SHA1, keyed with
// the Auth Token, over the full URL Twilio requested followed, for a form
// POST, by every parameter sorted by name as name+value (repeated names:
// values sorted and de-duplicated, as twilio-node and twilio-python do). A
// JSON body is covered instead by a bodySHA256 query parameter, which must
// match the body. As Twilio's SDKs do, the URL is tried as given, and with
// the default port added or removed.
type twilioVerifier struct {
	keys      []*macKey
	idHeaders []string
}

func newTwilio(cfg Config) (Verifier, error) {
	return &twilioVerifier{keys: macKeys(SHA1, cfg.Secrets), idHeaders: canonical([]string{"I-Twilio-Idempotency-Token"})}, nil
}

func (v *twilioVerifier) signsURL() bool { return true }

func (v *twilioVerifier) Verify(req *Request) (Delivery, error) {
	var d Delivery
	d.ID, _ = header(req.Header, v.idHeaders)
	var want [maxSignatureSize]byte
	n, err := twilioSignature(req.Header, &want)
	if err != nil {
		return d, err
	}
	u, uerr := url.Parse(req.URL)
	if uerr != nil {
		return d, fail(ReasonBadSignature, "request URL does not parse")
	}

	var params string
	if req.Method == "POST" && isForm(req.Header) {
		form, err := url.ParseQuery(string(req.Body))
		if err != nil {
			return d, fail(ReasonBadSignature, "form body does not parse")
		}
		params = sortedParams(form)
	} else if hash := u.Query().Get("bodySHA256"); hash != "" || len(req.Body) > 0 {
		sum := sha256.Sum256(req.Body)
		if got, err := hex.DecodeString(hash); err != nil || !hmac.Equal(got, sum[:]) {
			return d, fail(ReasonBadSignature, "bodySHA256 does not match the body")
		}
	}

	for _, candidate := range urlVariants(u) {
		if anyKeyMatches(v.keys, want[:n], candidate, params) {
			return d, nil
		}
	}
	return d, fail(ReasonBadSignature, "no signature matches any configured secret")
}

// CheckHeaders refuses a request without a well-formed X-Twilio-Signature,
// before its body is read.
func (v *twilioVerifier) CheckHeaders(h http.Header) error {
	var buf [maxSignatureSize]byte
	_, err := twilioSignature(h, &buf)
	return err
}

// twilioSignature decodes X-Twilio-Signature into buf.
func twilioSignature(h http.Header, buf *[maxSignatureSize]byte) (int, error) {
	sig, ok := header(h, []string{"X-Twilio-Signature"})
	if !ok || sig == "" {
		return 0, fail(ReasonMissingSignature, "no X-Twilio-Signature header")
	}
	n, ok := Base64.decode(buf[:], sig)
	if !ok || n != sha1.Size {
		return 0, fail(ReasonMalformedSignature, "signature is not a base64 SHA-1 MAC")
	}
	return n, nil
}

// sortedParams is name+value for every parameter, names sorted, each
// name's values sorted and de-duplicated.
func sortedParams(form url.Values) string {
	var b strings.Builder
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range form {
			if !yield(k) {
				return
			}
		}
	}) {
		values := slices.Compact(slices.Sorted(slices.Values(form[name])))
		for _, value := range values {
			b.WriteString(name)
			b.WriteString(value)
		}
	}
	return b.String()
}

// urlVariants is the URL as given, then with its default port toggled.
func urlVariants(u *url.URL) []string {
	given := u.String()
	other := *u
	defaultPort := map[string]string{"https": "443", "http": "80"}[u.Scheme]
	switch port := u.Port(); {
	case port == "" && defaultPort != "":
		other.Host = u.Host + ":" + defaultPort
	case port != "" && port == defaultPort:
		other.Host = u.Hostname()
		if strings.Contains(other.Host, ":") {
			other.Host = "[" + other.Host + "]"
		}
	default:
		return []string{given}
	}
	return []string{given, other.String()}
}
