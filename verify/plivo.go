package verify

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf16"
)

// plivoVerifier checks Plivo's V3 signature (plivo-node
// utils/v3Security.js validateV3Signature): X-Plivo-Signature-V3 holds one
// or more comma-separated base64 HMAC-SHA256s, keyed with the Auth Token,
// of
//
//	GET:  scheme://host[:port]path[?sorted query] . nonce
//	POST: scheme://host[:port]path?[sorted query.]sorted params . nonce
//
// where the sorted query is "name=value" pairs joined by "&" and the
// sorted params are "namevalue" run together, names and each name's values
// in JavaScript's sort order, all percent-decoded as Node's querystring
// does; nonce is X-Plivo-Signature-V3-Nonce. Plivo signs form parameters,
// so a POST body of any other kind, which the signature would not cover,
// is refused, as is a GET with a body.
type plivoVerifier struct {
	keys []*macKey
}

const (
	plivoSignatureHeader = "X-Plivo-Signature-V3"
	plivoNonceHeader     = "X-Plivo-Signature-V3-Nonce"
)

func newPlivo(cfg Config) (Verifier, error) {
	return &plivoVerifier{keys: macKeys(SHA256, cfg.Secrets)}, nil
}

func (v *plivoVerifier) signsURL() bool { return true }

// plivoSignatures decodes the signatures of X-Plivo-Signature-V3 that are
// base64 SHA-256 MACs (at least one must be) and returns the nonce.
func plivoSignatures(h http.Header) ([][]byte, string, *Error) {
	value, ok := header(h, []string{plivoSignatureHeader})
	if !ok || value == "" {
		return nil, "", fail(ReasonMissingSignature, "no X-Plivo-Signature-V3 header")
	}
	nonce, _ := header(h, []string{plivoNonceHeader})
	if nonce == "" {
		return nil, "", fail(ReasonMalformedSignature, "no X-Plivo-Signature-V3-Nonce header")
	}
	var sigs [][]byte
	for i, part := range strings.Split(value, ",") {
		if i == maxSignatures {
			return nil, "", fail(ReasonMalformedSignature, "more than %d signatures", maxSignatures)
		}
		var buf [maxSignatureSize]byte
		if n, ok := Base64.decode(buf[:], part); ok && n == sha256.Size {
			sigs = append(sigs, buf[:n:n])
		}
	}
	if len(sigs) == 0 {
		return nil, "", fail(ReasonMalformedSignature, "no signature is a base64 SHA-256 MAC")
	}
	return sigs, nonce, nil
}

func (v *plivoVerifier) CheckHeaders(h http.Header) error {
	if _, _, err := plivoSignatures(h); err != nil {
		return err
	}
	return nil
}

func (v *plivoVerifier) Verify(req *Request) (Delivery, error) {
	var d Delivery
	sigs, nonce, ferr := plivoSignatures(req.Header)
	if ferr != nil {
		return d, ferr
	}
	base, err := plivoBaseURL(req.Method, req.URL, req.Header, req.Body)
	if err != nil {
		return d, fail(ReasonBadSignature, "%v", err)
	}
	for _, sig := range sigs {
		if anyKeyMatches(v.keys, sig, base, ".", nonce) {
			return d, nil
		}
	}
	return d, fail(ReasonBadSignature, "no signature matches any configured secret")
}

// plivoBaseURL is what Plivo signs before ".nonce".
func plivoBaseURL(method, rawURL string, h http.Header, body []byte) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", errors.New("request URL does not parse")
	}
	// The path exactly as requested: uri-parser and build-url take it from
	// the URL's text, still escaped.
	rest := rawURL[strings.Index(rawURL, "://")+3:]
	rest, _, _ = strings.Cut(rest, "#")
	rest, rawQuery, _ := strings.Cut(rest, "?")
	path := ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		path = strings.TrimSpace(rest[i:])
	}
	base := u.Scheme + "://" + u.Host + path
	query := nodeQuery(rawQuery)

	switch method {
	case http.MethodGet:
		if len(body) > 0 {
			return "", errors.New("a GET body is not signed")
		}
		if q := plivoSortedQuery(query); q != "" {
			base += "?" + q
		}
		return base, nil
	case http.MethodPost:
		var params map[string][]string
		if len(body) > 0 {
			if !isForm(h) {
				return "", errors.New("plivo signs form parameters; this body is not covered by the signature")
			}
			params = nodeQuery(string(body))
		}
		q := plivoSortedQuery(query)
		if q != "" || len(params) > 0 {
			base += "?" + q
		}
		if q != "" && len(params) > 0 {
			base += "."
		}
		return base + plivoSortedParams(params), nil
	}
	return "", errors.New("plivo signs only GET and POST requests")
}

// plivoSortedQuery is name=value pairs, sorted, joined by "&".
func plivoSortedQuery(params map[string][]string) string {
	var parts []string
	for _, name := range jsSortedKeys(params) {
		for _, value := range jsSorted(params[name]) {
			parts = append(parts, name+"="+value)
		}
	}
	return strings.Join(parts, "&")
}

// plivoSortedParams is name+value for every parameter, sorted, run together.
func plivoSortedParams(params map[string][]string) string {
	var b strings.Builder
	for _, name := range jsSortedKeys(params) {
		for _, value := range jsSorted(params[name]) {
			b.WriteString(name)
			b.WriteString(value)
		}
	}
	return b.String()
}

func jsSortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return jsSorted(keys)
}

// jsSorted sorts as JavaScript's Array.prototype.sort does strings: by
// UTF-16 code units.
func jsSorted(s []string) []string {
	out := slices.Clone(s)
	slices.SortStableFunc(out, func(a, b string) int {
		return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
	})
	return out
}

// nodeQuery parses a query string as Node's querystring.parse: "&"
// separates pairs (empty ones skipped), the first "=" a name from its
// value, "+" is a space, and valid %XX escapes are decoded (others kept),
// the result read as UTF-8.
func nodeQuery(s string) map[string][]string {
	out := map[string][]string{}
	for _, pair := range strings.Split(s, "&") {
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		name, value = nodeUnescape(name), nodeUnescape(value)
		out[name] = append(out[name], value)
	}
	return out
}

func nodeUnescape(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	if !strings.Contains(s, "%") {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := fromHexChar(s[i+1])
			lo, ok2 := fromHexChar(s[i+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func signPlivo(o SignOptions, out *Signed) error {
	if o.URL == "" {
		return errors.New("plivo signs the URL: give the URL the delivery goes to")
	}
	if o.Method == http.MethodPost && len(o.Body) > 0 && !isForm(out.Header) {
		// Plivo posts forms: a JSON object is sent as a form of its
		// top-level fields.
		form, err := jsonAsForm(o.Body)
		if err != nil {
			return errors.New("plivo posts form parameters: give a form body, or a JSON object to send as one")
		}
		out.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		o.Body = []byte(form.Encode())
		out.Body = o.Body
	}
	base, err := plivoBaseURL(o.Method, o.URL, out.Header, o.Body)
	if err != nil {
		return err
	}
	nonce := strings.ReplaceAll(o.ID, "-", "")
	out.Header.Set(plivoSignatureHeader, base64.StdEncoding.EncodeToString(macOnce(SHA256, []byte(o.Secret), base, ".", nonce)))
	out.Header.Set(plivoNonceHeader, nonce)
	return nil
}

// jsonAsForm is a JSON object's top-level fields as form values: strings
// as they are, anything else as its JSON text.
func jsonAsForm(body []byte) (url.Values, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, errors.New("not a JSON object")
	}
	form := url.Values{}
	for name, raw := range fields {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			form.Set(name, s)
		} else {
			form.Set(name, string(raw))
		}
	}
	return form, nil
}
