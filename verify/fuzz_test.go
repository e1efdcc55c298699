package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/webhookverify/caddy-webhook-verify/internal/testvectors"
)

var fuzzFormats = []struct {
	f      SignatureFormat
	prefix string
}{
	{Single(), "sha256="},
	{Single(), ""},
	{KeyValueList(',', "t", "v1"), ""},
	{KeyValueList(';', "ts", "h1"), ""},
	{KeyValueList(',', "", "v1"), ""},
	{VersionedList(' ', "v1"), ""},
}

func FuzzParseSignatureHeader(f *testing.F) {
	for _, s := range []string{
		"sha256=abc", "t=1,v1=ab,v1=cd,v0=ef", "ts=1;h1=ab;h1=cd", "v1,abc v1a,def v1,ghi",
		"", "=", ",,,", "t=,v1=", "v1=" + strings.Repeat("a,v1=b", 40), "  v1,x  ", "t=1=2,v1=3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		for _, ff := range fuzzFormats {
			ts, sigs, err := parseSignatureHeader(ff.f, ff.prefix, value, nil)
			if err != nil {
				if err.Reason == "" {
					t.Fatalf("error without reason for %q", value)
				}
				continue
			}
			if len(sigs) == 0 || len(sigs) > maxSignatures {
				t.Fatalf("%d signatures from %q", len(sigs), value)
			}
			for _, s := range sigs {
				if s == "" {
					t.Fatalf("empty signature from %q", value)
				}
			}
			if ff.f.timestampKey != "" && ts == "" {
				t.Fatalf("no timestamp from %q", value)
			}
		}
	})
}

// FuzzDecode checks the allocation-free decoders against the standard library.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"00ff", "00FF", "0", "zz", "AQID", "AQI=", "AQI", "-_8=", "+/8=", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var dst [64]byte
		if n, ok := Hex.decode(dst[:], s); ok {
			want, err := hex.DecodeString(s)
			if err != nil || !bytes.Equal(want, dst[:n]) {
				t.Fatalf("hex %q: got %x, stdlib %x (%v)", s, dst[:n], want, err)
			}
		} else if want, err := hex.DecodeString(s); err == nil && len(want) <= len(dst) {
			t.Fatalf("hex %q rejected, stdlib decodes it", s)
		}
		for _, c := range []struct {
			e   Encoding
			std *base64.Encoding
		}{{Base64, base64.RawStdEncoding}, {Base64URL, base64.RawURLEncoding}} {
			n, ok := c.e.decode(dst[:], s)
			want, err := c.std.DecodeString(strings.TrimRight(s, "="))
			if ok && (err != nil || !bytes.Equal(want, dst[:n])) {
				t.Fatalf("base64 %q: got %x, stdlib %x (%v)", s, dst[:n], want, err)
			}
			// The stdlib skips CR and LF; a signature never holds them.
			if !ok && err == nil && len(want) <= len(dst) && len(s) <= 256 && !strings.ContainsAny(s, "\r\n") {
				t.Fatalf("base64 %q rejected, stdlib decodes it", s)
			}
		}
	})
}

// firstFields is an independent reference for jsonFields built on
// encoding/json's tokenizer: the first top-level string value of each name.
func firstFields(body []byte, nameA, nameB string) (a, b string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", "", false
	}
	seenA, seenB := false, false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", "", false
		}
		key := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return "", "", false
		}
		var s string
		isString := json.Unmarshal(val, &s) == nil
		var n json.Number
		if !isString && json.Unmarshal(val, &n) == nil {
			s, isString = string(bytes.TrimSpace(val)), true
		}
		if key == nameA && !seenA {
			seenA = true
			if isString {
				a = s
			}
		}
		if key == nameB && !seenB {
			seenB = true
			if isString {
				b = s
			}
		}
	}
	return a, b, true
}

func FuzzJSONFields(f *testing.F) {
	for _, s := range []string{
		`{"id":"evt_1","type":"x"}`, `{"a":{"id":"n"},"id":"t"}`, `{"id":"\u00e9\"","type":1}`,
		`{"x":[1,2,{"y":"}"}],"type":"z"}`, `{`, `{"id":`, `[]`, `{"id":"a","id":"b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, b := jsonFields(body, "id", "type")
		// encoding/json replaces invalid UTF-8; jsonFields keeps the bytes.
		if !json.Valid(body) || !utf8.Valid(body) {
			return
		}
		wa, wb, ok := firstFields(body, "id", "type")
		if !ok {
			return
		}
		// jsonFields stops at the first occurrence of a string value; the
		// reference agrees unless a name repeats with a non-string first.
		if (a != wa && wa != "") || (b != wb && wb != "") {
			t.Fatalf("jsonFields(%s) = %q, %q; encoding/json says %q, %q", body, a, b, wa, wb)
		}
	})
}

// FuzzVerify puts arbitrary signature header values and bodies into a
// valid delivery of every preset: verification must never panic, must
// never accept a signature other than the real one, and the header check
// must never refuse one that verification accepts.
func FuzzVerify(f *testing.F) {
	f.Add("sha256=00", []byte("{}"))
	f.Add("t=1,v1=00", []byte(`{"id":"x"}`))
	f.Add("v1,AA== v1a,AA==", []byte(""))
	f.Add("Basic Zm9vOmJhcg==", []byte("payload=%7B%7D"))
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.AA", []byte(`{"signature":{"timestamp":"1","token":"t","signature":"00"}}`))
	cases := testvectors.Fresh(time.Unix(1750000000, 0), "https://hooks.example.com")
	f.Fuzz(func(t *testing.T, sig string, body []byte) {
		for _, c := range cases {
			p, _ := Lookup(c.Provider)
			v, err := p.New(Config{Secrets: c.Secrets, PublicKeys: c.PublicKeys, Now: func() time.Time { return c.Now }, HTTPClient: c.HTTPClient})
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			req := caseRequest(c.Clone())
			req.Body = body
			forged := false
			for _, h := range c.SignatureHeaders {
				if req.Header.Get(h) != sig {
					forged = true
				}
				req.Header.Set(h, sig)
			}
			_, err = v.Verify(req)
			if err == nil && forged && !bytes.Equal(body, c.Body) {
				t.Fatalf("%s accepted signature %q over body %q", c.Name, sig, body)
			}
			// The header check before the body is read never refuses what
			// verification accepts.
			if err == nil && CheckHeaders(v, req.Header) != nil {
				t.Fatalf("%s: CheckHeaders refuses signature %q that Verify accepts", c.Name, sig)
			}
		}
	})
}

// FuzzProviderParsers covers the parsers of the code presets: the JWS
// splitter (Netlify), the Mailgun body, Twilio's URL variants and form
// sorting, and public keys.
func FuzzProviderParsers(f *testing.F) {
	for _, s := range []string{
		"eyJhbGciOiJIUzI1NiJ9.e30.AA", "a.b", "...", `{"signature":{"timestamp":"1","token":"t","signature":"00"}}`,
		"timestamp=1&token=t&signature=00", "https://h:443/p?x=1", "http://[::1]:80/", "whpk_AAAA", "-----BEGIN PUBLIC KEY-----\nAA\n-----END PUBLIC KEY-----",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if in, claims, sig, ok := splitJWS(s); ok && (in+"."+sig != s || !strings.HasSuffix(in, "."+claims)) {
			t.Fatalf("splitJWS(%q) = %q %q %q", s, in, claims, sig)
		}
		parseMailgun([]byte(s), false)
		parseMailgun([]byte(s), true)
		if u, err := url.Parse(s); err == nil {
			if vs := urlVariants(u); len(vs) == 0 || vs[0] != u.String() {
				t.Fatalf("urlVariants(%q) = %q", s, vs)
			}
		}
		if form, err := url.ParseQuery(s); err == nil {
			sortedParams(form)
		}
		for _, k := range []PublicKeyKind{Ed25519Hex, Ed25519Whpk, ECDSAP256} {
			if key, err := k.parse(s); err == nil && key.ed == nil && key.ec == nil {
				t.Fatalf("%v.parse(%q) gave an empty key", k, s)
			}
		}
	})
}

// FuzzBodyAndCanonicalParsers covers the parsers of issue 16's code
// presets: the Adyen notification body, the SNS message and its canonical
// string, Mandrill's sorted params, Braintree's form, Contentful's path
// normalisation and the Microsoft Graph body. None may panic, and what
// they produce must be self-consistent.
func FuzzBodyAndCanonicalParsers(f *testing.F) {
	for _, s := range []string{
		`{"notificationItems":[{"NotificationRequestItem":{"pspReference":"1","amount":{"value":1,"currency":"EUR"},"success":true}}]}`,
		`{"notificationItems":[{}]}`, `{"notificationItems":null}`,
		`{"Type":"Notification","Message":"m","MessageId":"i","Timestamp":"t","TopicArn":"a","Subject":null}`,
		`{"Type":"SubscriptionConfirmation","Token":"t","SubscribeURL":"https://sns.us-east-1.amazonaws.com/"}`,
		"mandrill_events=%5B%5D&b=2&a=1&a=3", "bt_signature=a%7Cb%26c%7Cd&bt_payload=AA%3D%3D%0A",
		"/p?x=1?y=2", "/p?%zz", `{"value":[{"clientState":null}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if items, err := parseAdyen(body); err == nil {
			if len(items) == 0 {
				t.Fatalf("parseAdyen accepted %q with no items", body)
			}
			for _, it := range items {
				if got := strings.Count(it.signedData(), ":"); got < 7 {
					t.Fatalf("signed data of %q has %d separators", body, got)
				}
			}
		}
		if m, err := parseSNS(body); err == nil {
			if c, err := snsCanonical(m); err == nil && !strings.HasSuffix(c, "Type\n"+m.Type+"\n") {
				t.Fatalf("canonical string of %q does not end with the type: %q", body, c)
			}
		}
		if params, err := mandrillParams(body); err == nil {
			form, _ := url.ParseQuery(string(body))
			for name := range form {
				if !strings.Contains(params, name) {
					t.Fatalf("mandrillParams(%q) lost %q", body, name)
				}
			}
		}
		if pairs, _, err := parseBraintree(body); err == nil {
			for _, p := range pairs {
				if strings.Contains(p[0], "&") {
					t.Fatalf("parseBraintree(%q) kept a separator in %q", body, p[0])
				}
			}
		}
		if p := contentfulPath(string(body)); strings.ContainsAny(p, " \"<>\\^`{|}") {
			t.Fatalf("contentfulPath(%q) = %q is not encoded", body, p)
		}
		(&msgraphVerifier{secrets: []string{"s"}}).Verify(&Request{Body: body})
		(&adyenVerifier{}).Verify(&Request{Body: body})
		_ = SNSURLAllowed(string(body), true)
	})
}
