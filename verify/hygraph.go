package verify

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// hygraphVerifier checks Hygraph's (formerly GraphCMS) gcms-signature:
// "sign=<base64>, env=<environment>, t=<ms>", where sign is the HMAC-SHA256,
// keyed with the webhook's secret key, of the JSON text
// {"Body":<raw body as a JSON string>,"EnvironmentName":<env>,"TimeStamp":<t>}
// exactly as JavaScript's JSON.stringify writes it (@hygraph/utils
// verifyWebhookSignature and generateWebhookSignature). The timestamp is
// signed; Hygraph documents no window, so it is checked only when the route
// sets a tolerance.
type hygraphVerifier struct {
	keys      []*macKey
	tolerance time.Duration
	now       func() time.Time
}

const hygraphHeader = "Gcms-Signature"

func newHygraph(cfg Config) (Verifier, error) {
	return &hygraphVerifier{keys: macKeys(SHA256, cfg.Secrets), tolerance: cfg.Tolerance, now: cfg.now}, nil
}

// hygraphSignature is a parsed gcms-signature header.
type hygraphSignature struct {
	mac [sha256.Size]byte
	env string
	ts  int64
}

// parseHygraph splits the header as @hygraph/utils does (", "-separated
// sign=, env= and t=, in that order), refusing anything else.
func parseHygraph(h http.Header) (hygraphSignature, *Error) {
	var s hygraphSignature
	value, ok := header(h, []string{hygraphHeader})
	if !ok || value == "" {
		return s, fail(ReasonMissingSignature, "no gcms-signature header")
	}
	parts := strings.Split(value, ", ")
	if len(parts) != 3 {
		return s, fail(ReasonMalformedSignature, "gcms-signature is not sign=, env=, t=")
	}
	sign, ok1 := strings.CutPrefix(parts[0], "sign=")
	env, ok2 := strings.CutPrefix(parts[1], "env=")
	t, ok3 := strings.CutPrefix(parts[2], "t=")
	if !ok1 || !ok2 || !ok3 {
		return s, fail(ReasonMalformedSignature, "gcms-signature is not sign=, env=, t=")
	}
	if n, ok := Base64.decode(s.mac[:], sign); !ok || n != sha256.Size {
		return s, fail(ReasonMalformedSignature, "sign is not a base64 SHA-256 MAC")
	}
	ts, err := strconv.ParseInt(t, 10, 64)
	if err != nil || ts < 0 || t[0] == '+' || len(t) > 16 {
		return s, fail(ReasonMalformedTimestamp, "t is not a millisecond timestamp")
	}
	s.env, s.ts = env, ts
	return s, nil
}

func (v *hygraphVerifier) CheckHeaders(h http.Header) error {
	if _, err := parseHygraph(h); err != nil {
		return err
	}
	return nil
}

func (v *hygraphVerifier) Verify(req *Request) (Delivery, error) {
	var d Delivery
	sig, err := parseHygraph(req.Header)
	if err != nil {
		return d, err
	}
	if !anyKeyMatches(v.keys, sig.mac[:], hygraphPayload(req.Body, sig.env, sig.ts)) {
		return d, fail(ReasonBadSignature, "no signature matches any configured secret")
	}
	t, terr := checkTimestamp(UnixMillis, strconv.FormatInt(sig.ts, 10), v.now(), v.tolerance)
	d.Timestamp = t
	if terr != nil {
		return d, terr
	}
	return d, nil
}

// hygraphPayload is JSON.stringify({Body, EnvironmentName, TimeStamp}).
func hygraphPayload(body []byte, env string, ts int64) string {
	var b strings.Builder
	b.Grow(len(body) + len(env) + 64)
	b.WriteString(`{"Body":`)
	jsQuote(&b, string(body))
	b.WriteString(`,"EnvironmentName":`)
	jsQuote(&b, env)
	b.WriteString(`,"TimeStamp":`)
	b.WriteString(strconv.FormatInt(ts, 10))
	b.WriteByte('}')
	return b.String()
}

// jsQuote writes s as JavaScript's JSON.stringify writes a string: only
// '"', '\\' and the control characters are escaped (\b \f \n \r \t, else
// \u00xx), everything else as is. s is read as UTF-8, an invalid byte
// standing for U+FFFD as when Node decodes a body into a string.
func jsQuote(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			const hexDigits = "0123456789abcdef"
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[r>>4])
			b.WriteByte(hexDigits[r&0xf])
		default:
			if r == utf8.RuneError {
				b.WriteString("\uFFFD")
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

func signHygraph(o SignOptions, out *Signed) error {
	if !utf8.Valid(o.Body) {
		return errors.New("hygraph: the body must be UTF-8 text")
	}
	ts := o.Now.UnixMilli()
	sum := macOnce(SHA256, []byte(o.Secret), hygraphPayload(o.Body, "master", ts))
	out.Header.Set(hygraphHeader, "sign="+base64.StdEncoding.EncodeToString(sum)+", env=master, t="+strconv.FormatInt(ts, 10))
	return nil
}
