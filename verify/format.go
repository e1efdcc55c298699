package verify

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxSignatures bounds how many signatures one header may carry; providers
// send one per active secret, so a handful at most.
const maxSignatures = 16

// SignatureFormat says how a signature header is laid out.
type SignatureFormat struct {
	kind         formatKind
	sep          byte
	timestampKey string
	signatureKey string
}

type formatKind uint8

const (
	formatSingle    formatKind = iota // the whole value (after the prefix) is one signature
	formatKeyValue                    // t=123,v1=abc,v1=def
	formatVersioned                   // v1,abc v1,def
)

// Single is a header that holds exactly one signature, after an optional prefix.
func Single() SignatureFormat { return SignatureFormat{kind: formatSingle} }

// KeyValueList is a header of key=value pairs separated by sep, as Stripe
// ("t=1,v1=ab,v1=cd") and Paddle ("ts=1;h1=ab") send. Every pair must have
// an "=", unknown keys are ignored, signatureKey may repeat. timestampKey may
// be "" when the header carries no timestamp.
func KeyValueList(sep byte, timestampKey, signatureKey string) SignatureFormat {
	return SignatureFormat{kind: formatKeyValue, sep: sep, timestampKey: timestampKey, signatureKey: signatureKey}
}

// VersionedList is a header of "version,signature" entries separated by sep,
// as Standard Webhooks send ("v1,abc v1,def"). Entries of other versions are
// ignored.
func VersionedList(sep byte, version string) SignatureFormat {
	return SignatureFormat{kind: formatVersioned, sep: sep, signatureKey: version}
}

// parseSignatureHeader splits a signature header into its timestamp (if the
// format carries one) and signatures, appended to sigs. prefix only applies
// to the single format.
func parseSignatureHeader(f SignatureFormat, prefix, value string, sigs []string) (string, []string, *Error) {
	value = strings.TrimSpace(value)
	switch f.kind {
	case formatSingle:
		if !strings.HasPrefix(value, prefix) {
			return "", sigs, fail(ReasonMalformedSignature, "signature lacks the %q prefix", prefix)
		}
		sig := value[len(prefix):]
		if sig == "" {
			return "", sigs, fail(ReasonMalformedSignature, "empty signature")
		}
		return "", append(sigs, sig), nil

	case formatKeyValue:
		var ts string
		for value != "" {
			var pair string
			pair, value, _ = strings.Cut(value, string(f.sep))
			key, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok || key == "" {
				return "", sigs, fail(ReasonMalformedSignature, "entry without key=value")
			}
			switch key {
			case f.timestampKey:
				if ts != "" {
					return "", sigs, fail(ReasonMalformedSignature, "timestamp given twice")
				}
				if val == "" {
					return "", sigs, fail(ReasonMalformedSignature, "empty timestamp")
				}
				ts = val
			case f.signatureKey:
				if len(sigs) == maxSignatures {
					return "", sigs, fail(ReasonMalformedSignature, "more than %d signatures", maxSignatures)
				}
				if val != "" {
					sigs = append(sigs, val)
				}
			}
		}
		if f.timestampKey != "" && ts == "" {
			return "", sigs, fail(ReasonMalformedSignature, "no %s= timestamp", f.timestampKey)
		}
		if len(sigs) == 0 {
			return "", sigs, fail(ReasonMalformedSignature, "no %s= signature", f.signatureKey)
		}
		return ts, sigs, nil

	case formatVersioned:
		for value != "" {
			var entry string
			entry, value, _ = strings.Cut(value, string(f.sep))
			if entry == "" {
				continue
			}
			version, sig, ok := strings.Cut(entry, ",")
			if !ok || version != f.signatureKey || sig == "" {
				continue
			}
			if len(sigs) == maxSignatures {
				return "", sigs, fail(ReasonMalformedSignature, "more than %d signatures", maxSignatures)
			}
			sigs = append(sigs, sig)
		}
		if len(sigs) == 0 {
			return "", sigs, fail(ReasonMalformedSignature, "no %s signature", f.signatureKey)
		}
		return "", sigs, nil
	}
	panic("verify: unknown signature format")
}

// Encoding is how a signature's bytes are written as text.
type Encoding uint8

// The encodings signatures come in.
const (
	Hex       Encoding = iota // either case
	Base64                    // standard alphabet, with or without padding
	Base64URL                 // URL alphabet, with or without padding
)

// ParseEncoding maps the Caddyfile words to an Encoding.
func ParseEncoding(s string) (Encoding, error) {
	switch s {
	case "hex":
		return Hex, nil
	case "base64":
		return Base64, nil
	case "base64url":
		return Base64URL, nil
	}
	return 0, fmt.Errorf("unknown encoding %q (want hex, base64 or base64url)", s)
}

// decode writes the bytes of sig into dst and returns how many there were,
// or false if sig is not valid in the encoding or does not fit dst. It
// copies sig into a stack buffer first so the hot path does not allocate.
func (e Encoding) decode(dst []byte, sig string) (int, bool) {
	var src [256]byte
	if len(sig) > len(src) {
		return 0, false
	}
	in := src[:copy(src[:], sig)]
	switch e {
	case Hex:
		if len(in)%2 != 0 || len(in)/2 > len(dst) {
			return 0, false
		}
		for i := 0; i < len(in); i += 2 {
			hi, ok1 := fromHexChar(in[i])
			lo, ok2 := fromHexChar(in[i+1])
			if !ok1 || !ok2 {
				return 0, false
			}
			dst[i/2] = hi<<4 | lo
		}
		return len(in) / 2, true
	case Base64, Base64URL:
		enc := base64.RawStdEncoding
		if e == Base64URL {
			enc = base64.RawURLEncoding
		}
		for len(in) > 0 && in[len(in)-1] == '=' {
			in = in[:len(in)-1]
		}
		if enc.DecodedLen(len(in)) > len(dst) {
			return 0, false
		}
		n, err := enc.Decode(dst, in)
		return n, err == nil
	}
	return 0, false
}

func fromHexChar(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// TimeFormat is how a timestamp is written.
type TimeFormat uint8

// The timestamp formats providers use.
const (
	UnixSeconds TimeFormat = iota
	UnixMillis
	RFC3339
	// ISO8601 is RFC 3339, where a time without a zone is UTC (Orb).
	ISO8601
)

// ParseTimeFormat maps the Caddyfile words to a TimeFormat.
func ParseTimeFormat(s string) (TimeFormat, error) {
	switch s {
	case "", "unix":
		return UnixSeconds, nil
	case "unix_ms":
		return UnixMillis, nil
	case "rfc3339":
		return RFC3339, nil
	}
	return 0, fmt.Errorf("unknown timestamp format %q (want unix, unix_ms or rfc3339)", s)
}

func (f TimeFormat) parse(s string) (time.Time, bool) {
	switch f {
	case UnixSeconds, UnixMillis:
		if s == "" || len(s) > 19 || s[0] == '+' || s[0] == '-' {
			return time.Time{}, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		if f == UnixMillis {
			return time.UnixMilli(n), true
		}
		return time.Unix(n, 0), true
	case RFC3339:
		t, err := time.Parse(time.RFC3339Nano, s)
		return t, err == nil
	case ISO8601:
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, true
		}
		t, err := time.Parse("2006-01-02T15:04:05.999999999", s)
		return t, err == nil
	}
	return time.Time{}, false
}

// checkTimestamp parses ts and rejects it when it lies further than
// tolerance from now in either direction. It compares instants, not
// durations: now.Sub(t) saturates for a t centuries away, and negating the
// saturated value overflows, which once let a year-9999 timestamp pass.
func checkTimestamp(f TimeFormat, ts string, now time.Time, tolerance time.Duration) (time.Time, *Error) {
	t, ok := f.parse(ts)
	if !ok {
		return time.Time{}, fail(ReasonMalformedTimestamp, "timestamp is not in the expected format")
	}
	if tolerance > 0 {
		switch {
		case t.Before(now.Add(-tolerance)):
			return t, fail(ReasonStale, "timestamp is %s old, tolerance %s", now.Sub(t).Round(time.Second), tolerance)
		case t.After(now.Add(tolerance)):
			return t, fail(ReasonFuture, "timestamp is %s ahead, tolerance %s", t.Sub(now).Round(time.Second), tolerance)
		}
	}
	return t, nil
}
