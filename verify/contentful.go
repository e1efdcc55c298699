package verify

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// contentfulVerifier checks Contentful's request signatures, as
// @contentful/node-apps-toolkit's verifyRequest does: hex HMAC-SHA256 over
// METHOD\nPATH\nHEADERS\nBODY, where PATH is the request target normalised
// as the toolkit does (the query escaped, then the whole encodeURI'd),
// HEADERS is "name:value" joined by ";" for every header listed in
// x-contentful-signed-headers (names lowercased and sorted, values
// trimmed; the list itself and x-contentful-timestamp always among them),
// and x-contentful-timestamp is in milliseconds. The toolkit refuses a
// signature older than 30 s; so does the preset, and one as far ahead.
type contentfulVerifier struct {
	keys      []*macKey
	tolerance time.Duration
	now       func() time.Time
}

const (
	contentfulSignature     = "X-Contentful-Signature"
	contentfulSignedHeaders = "X-Contentful-Signed-Headers"
	contentfulTimestamp     = "X-Contentful-Timestamp"
)

func newContentful(cfg Config) (Verifier, error) {
	return &contentfulVerifier{keys: macKeys(SHA256, cfg.Secrets), tolerance: cfg.Tolerance, now: cfg.now}, nil
}

func (v *contentfulVerifier) signsURL() bool { return true }

// CheckHeaders refuses a request without a 64-digit hex signature and a
// timestamp, before its body is read.
func (v *contentfulVerifier) CheckHeaders(h http.Header) error {
	sig := h.Get(contentfulSignature)
	if sig == "" {
		return fail(ReasonMissingSignature, "no x-contentful-signature header")
	}
	var buf [maxSignatureSize]byte
	if n, ok := Hex.decode(buf[:], sig); !ok || n != sha256.Size {
		return fail(ReasonMalformedSignature, "x-contentful-signature is not a hex SHA-256 MAC")
	}
	if h.Get(contentfulTimestamp) == "" {
		return fail(ReasonMissingTimestamp, "no x-contentful-timestamp header")
	}
	return nil
}

func (v *contentfulVerifier) Verify(req *Request) (Delivery, error) {
	var d Delivery
	d.Event = req.Header.Get("X-Contentful-Topic")
	if err := v.CheckHeaders(req.Header); err != nil {
		return d, err
	}
	var want [maxSignatureSize]byte
	n, _ := Hex.decode(want[:], req.Header.Get(contentfulSignature))
	ms, err := strconv.ParseInt(strings.TrimSpace(req.Header.Get(contentfulTimestamp)), 10, 64)
	if err != nil || ms <= 0 {
		return d, fail(ReasonMalformedTimestamp, "x-contentful-timestamp is not milliseconds")
	}
	ts := strconv.FormatInt(ms, 10)
	if !anyKeyMatches(v.keys, want[:n], contentfulCanonical(req, ts)) {
		return d, fail(ReasonBadSignature, "no signature matches any configured secret")
	}
	t, terr := checkTimestamp(UnixMillis, ts, v.now(), v.tolerance)
	d.Timestamp = t
	if terr != nil {
		return d, terr
	}
	return d, nil
}

// contentfulCanonical is the string Contentful signs.
func contentfulCanonical(req *Request, ts string) string {
	listed := map[string]bool{}
	for _, name := range strings.Split(req.Header.Get(contentfulSignedHeaders), ",") {
		listed[strings.ToLower(strings.TrimSpace(name))] = true
	}
	values := map[string]string{}
	for name, vs := range req.Header {
		if lower := strings.ToLower(name); listed[lower] {
			values[lower] = strings.TrimSpace(strings.Join(vs, ", "))
		}
	}
	names := make([]string, 0, len(values)+2)
	for name := range values {
		names = append(names, name)
	}
	for _, name := range []string{"x-contentful-signed-headers", "x-contentful-timestamp"} {
		if _, ok := values[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	values["x-contentful-signed-headers"] = strings.Join(names, ",")
	values["x-contentful-timestamp"] = ts
	pairs := make([]string, len(names))
	for i, name := range names {
		pairs[i] = name + ":" + values[name]
	}
	return req.Method + "\n" + contentfulPath(req.URL) + "\n" + strings.Join(pairs, ";") + "\n" + string(req.Body)
}

// contentfulPath is the request target of a URL, normalised as the
// toolkit's getNormalizedEncodedURI does: split at "?", the query escaped
// with querystring.escape, then the whole passed through encodeURI.
func contentfulPath(rawURL string) string {
	target := rawURL
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		target = strings.TrimPrefix(rawURL, u.Scheme+"://"+u.Host)
	}
	parts := strings.Split(target, "?")
	path := parts[0]
	if len(parts) > 1 && parts[1] != "" {
		path += "?" + jsEscape(parts[1], "-_.!~*'()")
	}
	return jsEscape(path, "-_.!~*'();,/?:@&=+$#")
}

// jsEscape percent-encodes every byte of s but ASCII letters, digits and
// keep, as JavaScript's encodeURI (and Node's querystring.escape) do.
func jsEscape(s, keep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// signContentful signs as the toolkit's signRequest does, covering the
// topic header when an event is given.
func signContentful(o SignOptions, out *Signed) error {
	if o.URL == "" {
		return fmt.Errorf("contentful signs the path: give the URL the delivery goes to")
	}
	if o.Event != "" {
		out.Header.Set("X-Contentful-Topic", o.Event)
		out.Header.Set(contentfulSignedHeaders, "x-contentful-topic")
	} else {
		out.Header.Set(contentfulSignedHeaders, "")
	}
	ts := strconv.FormatInt(o.Now.UnixMilli(), 10)
	req := &Request{Method: o.Method, URL: o.URL, Header: out.Header, Body: o.Body}
	canonical := contentfulCanonical(req, ts)
	names := strings.Split(canonical, "\n")[2]
	var signed []string
	for _, pair := range strings.Split(names, ";") {
		name, _, _ := strings.Cut(pair, ":")
		signed = append(signed, name)
	}
	out.Header.Set(contentfulSignature, Hex.encode(macOnce(SHA256, []byte(o.Secret), canonical)))
	out.Header.Set(contentfulSignedHeaders, strings.Join(signed, ","))
	out.Header.Set(contentfulTimestamp, ts)
	return nil
}
