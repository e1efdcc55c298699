package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"mime"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/unicode/norm"
)

// Algorithm is the hash an HMAC is built on.
type Algorithm uint8

// The hashes providers sign with.
const (
	SHA256 Algorithm = iota
	SHA1
	SHA512
	// MD5 is only for providers that still sign with it (Patreon).
	MD5
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
	case MD5:
		return md5.New
	}
	return sha256.New
}

func (a Algorithm) size() int {
	switch a {
	case SHA1:
		return sha1.Size
	case SHA512:
		return sha512.Size
	case MD5:
		return md5.Size
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
	// SecretBase64 base64-decodes the secret (Microsoft Teams' security
	// token, Airtable's macSecretBase64).
	SecretBase64
	// SecretHex hex-decodes the secret (Adyen's HMAC keys).
	SecretHex
	// SecretNFKD uses the secret's bytes after Unicode NFKD normalisation,
	// as EasyPost's clients do.
	SecretNFKD
	// SecretKeyPrefix uses the secret's bytes without one leading "sk_" or
	// "pk_": clearbit-ruby keys its webhook HMAC with the API key so
	// stripped (Clearbit::Webhook.valid?), whichever form is configured.
	SecretKeyPrefix
)

func (f SecretFormat) key(secret string) ([]byte, error) {
	switch f {
	case SecretRaw:
		return []byte(secret), nil
	case SecretNFKD:
		return []byte(norm.NFKD.String(secret)), nil
	case SecretKeyPrefix:
		key := secret
		if strings.HasPrefix(key, "sk_") || strings.HasPrefix(key, "pk_") {
			key = key[len("sk_"):]
		}
		if key == "" {
			return nil, fmt.Errorf("is empty after its sk_ or pk_ prefix")
		}
		return []byte(key), nil
	case SecretHex:
		key, err := hex.DecodeString(strings.TrimSpace(secret))
		if err != nil || len(key) == 0 {
			return nil, fmt.Errorf("is not hex")
		}
		return key, nil
	case SecretBase64:
		s := strings.TrimSpace(secret)
		key, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			key, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
		}
		if err != nil || len(key) == 0 {
			return nil, fmt.Errorf("is not base64")
		}
		return key, nil
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
	// (Linear's webhookTimestamp). It is signed with the body, so it wins
	// over TimestampHeaders, which are read only when the body has no
	// such field.
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
	// FixedHeaders must be present with exactly these values, or the
	// signature is malformed (Box's box-signature-version: 1 and
	// box-signature-algorithm: HmacSHA256, which Box's SDK checks). The
	// signer sends them.
	FixedHeaders map[string]string
	// NotBefore refuses signed timestamps before it as malformed, whatever
	// the tolerance (Sanity's toolkit refuses any before 2021).
	NotBefore time.Time
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
	fixedHeaders map[string]string
	notBefore    time.Time
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
		fixedHeaders: map[string]string{},
		notBefore:    s.NotBefore,
	}
	for name, value := range s.FixedHeaders {
		v.fixedHeaders[textproto.CanonicalMIMEHeaderKey(name)] = value
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

// macKeys keys an HMAC with each secret's bytes.
func macKeys(alg Algorithm, secrets []string) []*macKey {
	keys := make([]*macKey, len(secrets))
	for i, s := range secrets {
		keys[i] = newMACKey(alg, []byte(s))
	}
	return keys
}

// macOnce is the MAC of parts under key, for signing test deliveries.
func macOnce(alg Algorithm, key []byte, parts ...string) []byte {
	m := hmac.New(alg.hash(), key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
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

// Verify checks a delivery in named steps: the ids the headers carry, the
// signatures (header, format, encoding), the timestamp, the MAC or public
// key, the timestamp's age, then the ids and event the body carries.
func (v *schemeVerifier) Verify(req *Request) (Delivery, error) {
	if v.useFallback(req.Header) {
		return v.fallback.Verify(req)
	}
	d := v.headerFields(req.Header)
	var sigs signatures
	if err := v.parseSignatures(req.Header, &sigs); err != nil {
		return d, err
	}
	ts, err := v.timestamp(req, sigs.timestamp)
	if err != nil {
		return d, err
	}
	if v.needsID && d.ID == "" {
		return d, fail(ReasonMalformedSignature, "no %s header", v.idHeaders[0])
	}
	if err := v.decodeSignatures(&sigs); err != nil {
		return d, err
	}
	signedBody, err := v.signedBody(req)
	if err != nil {
		return d, err
	}
	if !v.matches(req, signedBody, ts, d.ID, &sigs) {
		return d, fail(ReasonBadSignature, "no signature matches any configured secret")
	}
	if v.hasTimestamp {
		t, terr := checkTimestamp(v.tsFormat, ts, v.now(), v.tolerance)
		d.Timestamp = t
		if terr != nil {
			return d, terr
		}
		if t.Before(v.notBefore) {
			return d, fail(ReasonMalformedTimestamp, "timestamp is before %s", v.notBefore.Format(time.DateOnly))
		}
	}
	v.bodyFields(req.Body, &d)
	return d, nil
}

// CheckHeaders refuses a request whose signature cannot be right from its
// headers alone: no signature header, one that does not parse or decode,
// no timestamp where only a header can carry it, no signed id. The handler
// calls it before reading the body, so a flood of unsigned uploads costs no
// memory. It never claims a signature is valid.
func (v *schemeVerifier) CheckHeaders(h http.Header) error {
	if v.useFallback(h) {
		return v.fallback.CheckHeaders(h)
	}
	var sigs signatures
	if err := v.parseSignatures(h, &sigs); err != nil {
		return err
	}
	if v.hasTimestamp && sigs.timestamp == "" && v.tsField == "" {
		if ts, _ := header(h, v.tsHeaders); ts == "" {
			return fail(ReasonMissingTimestamp, "no timestamp")
		}
	}
	if v.needsID {
		if id, _ := header(h, v.idHeaders); id == "" {
			return fail(ReasonMalformedSignature, "no %s header", v.idHeaders[0])
		}
	}
	if err := v.decodeSignatures(&sigs); err != nil {
		return err
	}
	return nil
}

// signatures is what a request's signature headers hold: the raw values,
// then the decoded candidates. It lives on the caller's stack, so it holds
// counts rather than slices of itself (which would make it escape).
type signatures struct {
	timestamp string
	raw       [maxSignatures]string
	nraw      int
	mac       [maxSignatures][maxSignatureSize]byte
	size      [maxSignatures]int
	n         int
}

func (s *signatures) decoded(i int) []byte { return s.mac[i][:s.size[i]] }

// useFallback is whether none of the signature headers is present and a
// fallback scheme (GitHub's SHA-1 header) takes over.
func (v *schemeVerifier) useFallback(h http.Header) bool {
	if v.fallback == nil {
		return false
	}
	_, ok := header(h, v.sigHeaders)
	return !ok
}

// headerFields reads the id and event the headers carry. Such an id is
// signed only when the signed template includes it.
func (v *schemeVerifier) headerFields(h http.Header) Delivery {
	var d Delivery
	for _, name := range v.idHeaders {
		if vs := h[name]; len(vs) > 0 {
			d.ID, d.IDSigned = vs[0], vs[0] != "" && (v.needsID || v.signed.hasHeader(name))
			break
		}
	}
	d.Event, _ = header(h, v.eventHeaders)
	return d
}

// parseSignatures splits the signature header (with AllSignatureHeaders,
// every one present) into the timestamp it carries and raw signatures.
func (v *schemeVerifier) parseSignatures(h http.Header, sigs *signatures) *Error {
	value, ok := header(h, v.sigHeaders)
	if !ok {
		return fail(ReasonMissingSignature, "no %s header", v.sigHeaders[0])
	}
	for name, want := range v.fixedHeaders {
		if vs := h[name]; len(vs) == 0 || vs[0] != want {
			return fail(ReasonMalformedSignature, "%s is not %q", name, want)
		}
	}
	ts, raw, err := parseSignatureHeader(v.format, v.prefix, value, sigs.raw[:0])
	if err != nil {
		return err
	}
	if v.allHeaders {
		// The first header present was parsed above; add the others'. One
		// that is empty or malformed (Box sends an empty secondary when no
		// second key is set) is skipped: any one valid signature is enough.
		for _, name := range v.sigHeaders {
			if vs := h[name]; len(vs) > 0 && vs[0] != value {
				if _, more, err := parseSignatureHeader(v.format, v.prefix, vs[0], raw); err == nil {
					raw = more
				}
			}
		}
	}
	sigs.timestamp, sigs.nraw = ts, len(raw)
	return nil
}

// timestamp is the signed timestamp: from the signature header, a
// timestamp header, or a body field, in that order.
func (v *schemeVerifier) timestamp(req *Request, fromSignature string) (string, *Error) {
	if !v.hasTimestamp || fromSignature != "" {
		return fromSignature, nil
	}
	var ts string
	if v.tsField != "" {
		ts, _ = jsonFields(req.Body, v.tsField, "")
	}
	if ts == "" {
		ts, _ = header(req.Header, v.tsHeaders)
	}
	if ts == "" {
		return "", fail(ReasonMissingTimestamp, "no timestamp")
	}
	return ts, nil
}

// decodeSignatures keeps the raw signatures that decode to the scheme's
// size; at least one must.
func (v *schemeVerifier) decodeSignatures(sigs *signatures) *Error {
	sigs.n = 0
	for _, sig := range sigs.raw[:sigs.nraw] {
		if size, ok := v.encoding.decode(sigs.mac[sigs.n][:], sig); ok && (size == v.macSize || (v.macSize == 0 && size > 0)) {
			sigs.size[sigs.n] = size
			sigs.n++
		}
	}
	if sigs.n == 0 {
		return fail(ReasonMalformedSignature, "no signature decodes to a signature of the expected size")
	}
	return nil
}

// signedBody is the body bytes the scheme signs: the body, or the payload
// field of a form body (Gitea, Forgejo).
func (v *schemeVerifier) signedBody(req *Request) ([]byte, *Error) {
	if !v.formPayload || !isForm(req.Header) {
		return req.Body, nil
	}
	form, err := url.ParseQuery(string(req.Body))
	if err != nil {
		return nil, fail(ReasonBadSignature, "form body does not parse")
	}
	return []byte(form.Get("payload")), nil
}

// matches reports whether any decoded signature is the MAC (or a valid
// public-key signature) of the signed bytes.
func (v *schemeVerifier) matches(req *Request, body []byte, ts, id string, sigs *signatures) bool {
	signedURL := req.URL
	if v.urlTransform != nil {
		signedURL = v.urlTransform(signedURL)
	}
	if v.pub != nil {
		// copies, so the stack buffer does not escape to the heap on the
		// far more common HMAC path
		candidates := make([][]byte, sigs.n)
		for i := range candidates {
			candidates[i] = bytes.Clone(sigs.decoded(i))
		}
		if v.verifyPublic(req, body, signedURL, ts, id, candidates) {
			return true
		}
	}
	for _, k := range v.keys {
		st := k.pool.Get().(*macState)
		st.h.Reset()
		v.write(st, req, body, signedURL, ts, id)
		sum := st.h.Sum(st.sum[:0])
		matched := false
		for i := range sigs.n {
			if hmac.Equal(sum, sigs.decoded(i)) {
				matched = true
			}
		}
		k.pool.Put(st)
		if matched {
			return true
		}
	}
	return false
}

// bodyFields fills the id and event from the body when the headers did
// not carry them; a body id is signed whenever the body is.
func (v *schemeVerifier) bodyFields(body []byte, d *Delivery) {
	if (v.idField == "" || d.ID != "") && (v.eventField == "" || d.Event != "") {
		return
	}
	id, event := jsonFields(body, v.idField, v.eventField)
	if d.ID == "" && id != "" {
		d.ID, d.IDSigned = id, !v.formPayload && v.signed.has(segBody)
	}
	if d.Event == "" {
		d.Event = event
	}
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
