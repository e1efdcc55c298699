package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"mime"
	"net/http"
	"net/textproto"
	"net/url"
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

// Scheme describes a provider that signs some parts of the request, with
// an HMAC over a shared secret or, when PublicKey is set, with a private
// key checked against the configured public keys. Most presets are one of
// these, written as data.
type Scheme struct {
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
	// AllSignatureHeaders reads signatures from every one of
	// SignatureHeaders present, not just the first (DocuSign's numbered
	// headers, Box's primary and secondary).
	AllSignatureHeaders bool
	// TimestampField is a top-level JSON body field holding the timestamp
	// when no timestamp header is present (Linear's webhookTimestamp).
	TimestampField string
	// FormPayload signs the "payload" field of a form-encoded body instead
	// of the body itself (Gitea and Forgejo).
	FormPayload bool
	// URLTransform rewrites the request URL before it is signed.
	URLTransform func(string) string
	// PublicKey, when set, verifies with public keys instead of an HMAC;
	// Algorithm and SecretFormat then do not apply.
	PublicKey PublicKeyKind
	// Fallback is tried when none of SignatureHeaders is present (GitHub's
	// legacy SHA-1 header). It inherits the ids and timestamp settings.
	Fallback *Scheme
}

type schemeVerifier struct {
	sigHeaders   []string
	allHeaders   bool
	tsField      string
	formPayload  bool
	urlTransform func(string) string
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
	pub          []publicKey
	pubKind      PublicKeyKind
	now          func() time.Time
	fallback     *schemeVerifier
}

func canonical(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = textproto.CanonicalMIMEHeaderKey(n)
	}
	return out
}

// compile checks the scheme and prepares a verifier for cfg's secrets.
func (s *Scheme) compile(cfg Config) (*schemeVerifier, error) {
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
	v := &schemeVerifier{
		sigHeaders:   canonical(s.SignatureHeaders),
		allHeaders:   s.AllSignatureHeaders,
		tsField:      s.TimestampField,
		formPayload:  s.FormPayload,
		urlTransform: s.URLTransform,
		prefix:       s.Prefix,
		format:       s.Format,
		encoding:     s.Encoding,
		macSize:      s.Algorithm.size(),
		signed:       tmpl,
		tsHeaders:    canonical(s.TimestampHeaders),
		tsFormat:     s.TimestampFormat,
		hasTimestamp: s.Format.timestampKey != "" || len(s.TimestampHeaders) > 0 || s.TimestampField != "",
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
	if s.PublicKey != NoPublicKey {
		v.pubKind = s.PublicKey
		v.macSize = s.PublicKey.signatureSize()
		for i, raw := range cfg.PublicKeys {
			key, err := s.PublicKey.parse(raw)
			if err != nil {
				return nil, fmt.Errorf("public_key #%d %v", i+1, err)
			}
			v.pub = append(v.pub, key)
		}
		if len(v.pub) == 0 {
			return nil, fmt.Errorf("no public_key")
		}
	} else {
		for i, secret := range cfg.Secrets {
			key, err := s.SecretFormat.key(secret)
			if err != nil {
				return nil, fmt.Errorf("secret #%d %v", i+1, err)
			}
			v.keys = append(v.keys, newMACKey(s.Algorithm, key))
		}
		if len(v.keys) == 0 {
			return nil, fmt.Errorf("no secret")
		}
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

// anyKeyMatches reports whether the MAC of parts, under any of keys,
// equals want.
func anyKeyMatches(keys []*macKey, want []byte, parts ...string) bool {
	for _, k := range keys {
		st := k.pool.Get().(*macState)
		st.h.Reset()
		for _, p := range parts {
			st.writeString(p)
		}
		ok := hmac.Equal(st.h.Sum(st.sum[:0]), want)
		k.pool.Put(st)
		if ok {
			return true
		}
	}
	return false
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

func (v *schemeVerifier) Verify(req *Request) (Delivery, error) {
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
	if v.allHeaders {
		// The first header present was parsed above; add the others'. One
		// that is empty or malformed (Box sends an empty secondary when no
		// second key is set) is skipped: any one valid signature is enough.
		for _, name := range v.sigHeaders {
			if vs := req.Header[name]; len(vs) > 0 && vs[0] != value {
				if _, more, err := parseSignatureHeader(v.format, v.prefix, vs[0], sigs); err == nil {
					sigs = more
				}
			}
		}
	}
	if v.hasTimestamp && ts == "" {
		ts, _ = header(req.Header, v.tsHeaders)
		if ts == "" && v.tsField != "" {
			ts, _ = jsonFields(req.Body, v.tsField, "")
		}
		if ts == "" {
			return d, fail(ReasonMissingTimestamp, "no timestamp")
		}
	}
	if v.needsID && d.ID == "" {
		return d, fail(ReasonMalformedSignature, "no %s header", v.idHeaders[0])
	}

	var macBuf [maxSignatures][maxSignatureSize]byte
	var candidates [maxSignatures][]byte
	n := 0
	for _, sig := range sigs {
		if size, ok := v.encoding.decode(macBuf[n][:], sig); ok && (size == v.macSize || (v.macSize == 0 && size > 0)) {
			candidates[n] = macBuf[n][:size]
			n++
		}
	}
	if n == 0 {
		return d, fail(ReasonMalformedSignature, "no signature decodes to a signature of the expected size")
	}

	signedBody := req.Body
	if v.formPayload && isForm(req.Header) {
		form, err := url.ParseQuery(string(req.Body))
		if err != nil {
			return d, fail(ReasonBadSignature, "form body does not parse")
		}
		signedBody = []byte(form.Get("payload"))
	}
	signedURL := req.URL
	if v.urlTransform != nil {
		signedURL = v.urlTransform(signedURL)
	}

	matched := false
	if v.pub != nil {
		// copies, so the stack buffer above does not escape to the heap on
		// the far more common HMAC path
		sigs := make([][]byte, n)
		for i := range sigs {
			sigs[i] = bytes.Clone(candidates[i])
		}
		matched = v.verifyPublic(req, signedBody, signedURL, ts, d.ID, sigs)
	}
	for _, k := range v.keys {
		st := k.pool.Get().(*macState)
		st.h.Reset()
		v.write(st, req, signedBody, signedURL, ts, d.ID)
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

func (v *schemeVerifier) write(st *macState, req *Request, body []byte, url, ts, id string) {
	for _, seg := range v.signed {
		switch seg.kind {
		case segLiteral:
			st.h.Write(seg.text)
		case segBody:
			st.h.Write(body)
		default:
			st.writeString(v.part(seg, req, url, ts, id))
		}
	}
}

// part is the text a non-literal, non-body segment stands for.
func (v *schemeVerifier) part(seg segment, req *Request, url, ts, id string) string {
	switch seg.kind {
	case segTimestamp:
		return ts
	case segID:
		return id
	case segMethod:
		return req.Method
	case segURL:
		return url
	case segHeader:
		if vs := req.Header[string(seg.text)]; len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// message is the signed bytes in one piece, for public-key schemes.
func (v *schemeVerifier) message(req *Request, body []byte, url, ts, id string) []byte {
	var msg []byte
	for _, seg := range v.signed {
		switch seg.kind {
		case segLiteral:
			msg = append(msg, seg.text...)
		case segBody:
			msg = append(msg, body...)
		default:
			msg = append(msg, v.part(seg, req, url, ts, id)...)
		}
	}
	return msg
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

func (g Generic) scheme() (*Scheme, error) {
	if g.Header == "" {
		return nil, fmt.Errorf("provider hmac needs a header")
	}
	s := &Scheme{SignatureHeaders: []string{g.Header}, Prefix: g.Prefix, Signed: g.Signed}
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

func (v *schemeVerifier) signsURL() bool {
	return v.signed.has(segURL) || (v.fallback != nil && v.fallback.signsURL())
}

// isForm reports whether the request body is form-encoded.
func isForm(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded"
}
