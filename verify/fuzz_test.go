package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
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

// FuzzVerify throws arbitrary header values and bodies at every preset: it
// must never panic and never accept.
func FuzzVerify(f *testing.F) {
	f.Add("sha256=00", "t=1,v1=00", "v1,AA==", "1700000000", []byte("{}"))
	f.Fuzz(func(t *testing.T, sig, kv, versioned, ts string, body []byte) {
		for _, p := range Presets() {
			v, err := p.New(Config{Secrets: []string{"whsec_c2VjcmV0"}, Generic: Generic{Header: "X-Sig", TimestampHeader: "X-Ts", Signed: "{timestamp}{body}"}})
			if err != nil {
				t.Fatalf("%s: %v", p.Name, err)
			}
			h := hdr(
				"X-Hub-Signature-256: "+sig, "X-Hub-Signature: "+sig, "X-Gitlab-Token: "+sig,
				"Stripe-Signature: "+kv, "X-Slack-Signature: "+sig, "X-Slack-Request-Timestamp: "+ts,
				"X-Shopify-Hmac-Sha256: "+sig, "Webhook-Id: "+ts, "Webhook-Timestamp: "+ts,
				"Webhook-Signature: "+versioned, "X-Sig: "+sig, "X-Ts: "+ts,
			)
			if p.Name == "gitlab" && sig == "whsec_c2VjcmV0" {
				continue // the token scheme accepts its own secret, as it must
			}
			if _, err := v.Verify(&Request{Method: "POST", Header: h, Body: body}); err == nil {
				t.Fatalf("%s accepted a fuzzed request", p.Name)
			}
		}
	})
}
