package verify

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"time"
)

// Algorithm is the hash an HMAC is built on.
type Algorithm uint8

// The hashes providers sign with.
const (
	SHA256 Algorithm = iota
	SHA1
	SHA512
)

// ParseAlgorithm maps the Caddyfile words to an Algorithm.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch s {
	case "sha256":
		return SHA256, nil
	case "sha1":
		return SHA1, nil
	case "sha512":
		return SHA512, nil
	}
	return 0, fmt.Errorf("unknown algorithm %q (want sha1, sha256 or sha512)", s)
}

func (a Algorithm) hash() func() hash.Hash {
	switch a {
	case SHA1:
		return sha1.New
	case SHA512:
		return sha512.New
	}
	return sha256.New
}

func (a Algorithm) size() int {
	switch a {
	case SHA1:
		return sha1.Size
	case SHA512:
		return sha512.Size
	}
	return sha256.Size
}

// SecretFormat says how a configured secret becomes the HMAC key.
type SecretFormat uint8

// The ways providers hand out secrets.
const (
	// SecretRaw uses the secret's bytes as the key, whatever they look like
	// (Stripe's "whsec_..." included).
	SecretRaw SecretFormat = iota
	// SecretWhsec strips an optional "whsec_" prefix and base64-decodes the
	// rest (Standard Webhooks, Svix).
	SecretWhsec
)

func (f SecretFormat) key(secret string) ([]byte, error) {
	if f == SecretRaw {
		return []byte(secret), nil
	}
	s := strings.TrimPrefix(secret, "whsec_")
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("is not base64 after the whsec_ prefix")
	}
	return key, nil
}

// HMACScheme describes a provider that signs an HMAC over some parts of the
// request. Most presets are one of these, written as data.
type HMACScheme struct {
	// SignatureHeaders are where the signature is read from; the first one
	// present wins.
	SignatureHeaders []string
	Algorithm        Algorithm
	Encoding         Encoding
	// Prefix is stripped from a Single signature, e.g. "sha256=".
	Prefix string
	Format SignatureFormat
	// Signed is the template of the signed bytes; "" means "{body}".
	Signed string
	// TimestampHeaders are where the timestamp is read from when the
	// signature header does not carry it; the first one present wins.
	TimestampHeaders []string
	TimestampFormat  TimeFormat
	SecretFormat     SecretFormat
	// IDHeaders and IDField (a top-level string field of a JSON body) give
	// the id the provider keeps across retries.
	IDHeaders []string
	IDField   string
	// EventHeaders and EventField give the event type.
	EventHeaders []string
	EventField   string
	// Fallback is tried when none of SignatureHeaders is present (GitHub's
	// legacy SHA-1 header). It inherits the ids and timestamp settings.
	Fallback *HMACScheme
}

type hmacVerifier struct {
	sigHeaders   []string
	prefix       string
	format       SignatureFormat
	encoding     Encoding
	macSize      int
	signed       template
	tsHeaders    []string
	tsFormat     TimeFormat
	hasTimestamp bool
	needsID      bool
	tolerance    time.Duration
	idHeaders    []string
	idField      string
	eventHeaders []string
	eventField   string
	keys         []*macKey
	now          func() time.Time
	fallback     *hmacVerifier
}

func canonical(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = textproto.CanonicalMIMEHeaderKey(n)
	}
	return out
}

// compile checks the scheme and prepares a verifier for cfg's secrets.
func (s *HMACScheme) compile(cfg Config) (*hmacVerifier, error) {
	if len(s.SignatureHeaders) == 0 {
		return nil, fmt.Errorf("no signature header")
	}
	signed := s.Signed
	if signed == "" {
		signed = "{body}"
	}
	tmpl, err := parseTemplate(signed)
	if err != nil {
		return nil, err
	}
	v := &hmacVerifier{
		sigHeaders:   canonical(s.SignatureHeaders),
		prefix:       s.Prefix,
		format:       s.Format,
		encoding:     s.Encoding,
		macSize:      s.Algorithm.size(),
		signed:       tmpl,
		tsHeaders:    canonical(s.TimestampHeaders),
		tsFormat:     s.TimestampFormat,
		hasTimestamp: s.Format.timestampKey != "" || len(s.TimestampHeaders) > 0,
		needsID:      tmpl.has(segID),
		tolerance:    cfg.Tolerance,
		idHeaders:    canonical(s.IDHeaders),
		idField:      s.IDField,
		eventHeaders: canonical(s.EventHeaders),
		eventField:   s.EventField,
		now:          cfg.now,
	}
	if tmpl.has(segTimestamp) && !v.hasTimestamp {
		return nil, fmt.Errorf("the signed template uses {timestamp} but the scheme has no timestamp source")
	}
	if v.needsID && len(v.idHeaders) == 0 {
		return nil, fmt.Errorf("the signed template uses {id} but the scheme has no id header")
	}
	for i, secret := range cfg.Secrets {
		key, err := s.SecretFormat.key(secret)
		if err != nil {
			return nil, fmt.Errorf("secret #%d %v", i+1, err)
		}
		v.keys = append(v.keys, newMACKey(s.Algorithm, key))
	}
	if s.Fallback != nil {
		fb := *s.Fallback
		fb.TimestampHeaders, fb.TimestampFormat = s.TimestampHeaders, s.TimestampFormat
		fb.IDHeaders, fb.IDField = s.IDHeaders, s.IDField
		fb.EventHeaders, fb.EventField = s.EventHeaders, s.EventField
		fb.SecretFormat = s.SecretFormat
		if v.fallback, err = fb.compile(cfg); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// macKey hands out HMAC states keyed with one secret. Keying an HMAC
// hashes the key and allocates, so states are pooled and Reset instead.
type macKey struct{ pool sync.Pool }

type macState struct {
	h       hash.Hash
	scratch []byte
	sum     [sha512.Size]byte
}

func newMACKey(alg Algorithm, key []byte) *macKey {
	k := &macKey{}
	k.pool.New = func() any { return &macState{h: hmac.New(alg.hash(), key)} }
	return k
}

func (st *macState) writeString(s string) {
	st.scratch = append(st.scratch[:0], s...)
	st.h.Write(st.scratch)
}

// header returns the first value of the first of names present in h.
func header(h http.Header, names []string) (string, bool) {
	for _, n := range names {
		if vs, ok := h[n]; ok && len(vs) > 0 {
			return vs[0], true
		}
	}
	return "", false
}

func (v *hmacVerifier) Verify(req *Request) (Delivery, error) {
	var d Delivery
	d.ID, _ = header(req.Header, v.idHeaders)
	d.Event, _ = header(req.Header, v.eventHeaders)

	value, ok := header(req.Header, v.sigHeaders)
	if !ok {
		if v.fallback != nil {
			return v.fallback.Verify(req)
		}
		return d, fail(ReasonMissingSignature, "no %s header", v.sigHeaders[0])
	}
	var sigBuf [maxSignatures]string
	ts, sigs, perr := parseSignatureHeader(v.format, v.prefix, value, sigBuf[:0])
	if perr != nil {
		return d, perr
	}
	if v.hasTimestamp && ts == "" {
		if ts, _ = header(req.Header, v.tsHeaders); ts == "" {
			return d, fail(ReasonMissingTimestamp, "no timestamp")
		}
	}
	if v.needsID && d.ID == "" {
		return d, fail(ReasonMalformedSignature, "no %s header", v.idHeaders[0])
	}

	var macBuf [maxSignatures][sha512.Size]byte
	var candidates [maxSignatures][]byte
	n := 0
	for _, sig := range sigs {
		if size, ok := v.encoding.decode(macBuf[n][:], sig); ok && size == v.macSize {
			candidates[n] = macBuf[n][:size]
			n++
		}
	}
	if n == 0 {
		return d, fail(ReasonMalformedSignature, "no signature decodes to a %d-byte MAC", v.macSize)
	}

	matched := false
	for _, k := range v.keys {
		st := k.pool.Get().(*macState)
		st.h.Reset()
		v.write(st, req, ts, d.ID)
		sum := st.h.Sum(st.sum[:0])
		for _, c := range candidates[:n] {
			if hmac.Equal(sum, c) {
				matched = true
			}
		}
		k.pool.Put(st)
		if matched {
			break
		}
	}
	if !matched {
		return d, fail(ReasonBadSignature, "no signature matches any configured secret")
	}
	if v.hasTimestamp {
		t, terr := checkTimestamp(v.tsFormat, ts, v.now(), v.tolerance)
		d.Timestamp = t
		if terr != nil {
			return d, terr
		}
	}
	if (v.idField != "" && d.ID == "") || (v.eventField != "" && d.Event == "") {
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

func (v *hmacVerifier) write(st *macState, req *Request, ts, id string) {
	for _, seg := range v.signed {
		switch seg.kind {
		case segLiteral:
			st.h.Write(seg.text)
		case segBody:
			st.h.Write(req.Body)
		case segTimestamp:
			st.writeString(ts)
		case segID:
			st.writeString(id)
		case segMethod:
			st.writeString(req.Method)
		case segURL:
			st.writeString(req.URL)
		case segHeader:
			if vs := req.Header[string(seg.text)]; len(vs) > 0 {
				st.writeString(vs[0])
			}
		}
	}
}

// Generic is the user-written scheme of the "hmac" preset.
type Generic struct {
	// Header is the signature header.
	Header string
	// Algorithm is sha1, sha256 (default) or sha512.
	Algorithm string
	// Encoding is hex (default), base64 or base64url.
	Encoding string
	// Prefix is stripped before decoding, e.g. "sha256=".
	Prefix string
	// Signed is the template of the signed bytes, default "{body}".
	Signed string
	// TimestampHeader is where {timestamp} comes from.
	TimestampHeader string
	// TimestampFormat is unix (default), unix_ms or rfc3339.
	TimestampFormat string
	// IDHeader holds the delivery id, default Idempotency-Key.
	IDHeader string
}

func (g Generic) scheme() (*HMACScheme, error) {
	if g.Header == "" {
		return nil, fmt.Errorf("provider hmac needs a header")
	}
	s := &HMACScheme{SignatureHeaders: []string{g.Header}, Prefix: g.Prefix, Signed: g.Signed}
	var err error
	if g.Algorithm != "" {
		if s.Algorithm, err = ParseAlgorithm(g.Algorithm); err != nil {
			return nil, err
		}
	}
	if g.Encoding != "" {
		if s.Encoding, err = ParseEncoding(g.Encoding); err != nil {
			return nil, err
		}
	}
	if s.TimestampFormat, err = ParseTimeFormat(g.TimestampFormat); err != nil {
		return nil, err
	}
	if g.TimestampHeader != "" {
		s.TimestampHeaders = []string{g.TimestampHeader}
	} else if g.TimestampFormat != "" {
		return nil, fmt.Errorf("timestamp_format needs a timestamp_header")
	}
	s.IDHeaders = []string{"Idempotency-Key"}
	if g.IDHeader != "" {
		s.IDHeaders = []string{g.IDHeader}
	}
	return s, nil
}

func (v *hmacVerifier) signsURL() bool {
	return v.signed.has(segURL) || (v.fallback != nil && v.fallback.signsURL())
}
