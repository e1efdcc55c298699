package verify

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/webhookverify/caddy-webhook-verify/internal/testvectors"
)

// Every identifier of ngrok's verify-webhook list that this module covers
// resolves to a preset.
func TestNgrokIdentifiers(t *testing.T) {
	for _, name := range []string{
		"aftership", "alchemy", "sns", "autodesk", "bitbucket", "bolt", "box", "brex", "buildkite", "calendly",
		"castle", "chargify", "circleci", "clearbit", "clerk", "coinbase", "contentful", "docusign", "dropbox",
		"frameio", "github", "gitlab", "go1", "heroku", "hostedhooks", "hubspot", "graphcms", "intercom", "jira",
		"launch_darkly", "linear", "mailgun", "microsoft_teams", "modern_treasury", "mongodb", "mux", "orb",
		"pagerduty", "pinwheel", "plivo", "pusher", "sendgrid", "sentry", "shopify", "signal_sciences", "slack",
		"sonatype", "square", "stripe", "svix", "terraform", "tiktok", "trendmicro_conformity", "twilio", "twitter",
		"typeform", "webex", "worldline", "xero", "zendesk", "zoom",
	} {
		if _, ok := Lookup(name); !ok {
			t.Errorf("ngrok's %q has no preset", name)
		}
	}
	if p, _ := Lookup("brex"); p.Name != "standard" {
		t.Errorf("brex is %s, want standard", p.Name)
	}
}

// clearbit-ruby keys the HMAC with the API key without its sk_ (or pk_)
// prefix, so the key verifies in any of its forms, and only one prefix goes.
func TestClearbitKeyForms(t *testing.T) {
	c := testvectors.Builders["clearbit"](time.Unix(1750000000, 0), "https://example.com")
	for _, secret := range []string{"sk_clearbit0123456789", "pk_clearbit0123456789", "clearbit0123456789"} {
		ok := c.Clone()
		ok.Secrets = []string{secret}
		if _, err := verifyCase(t, ok, c.Now); err != nil {
			t.Errorf("secret %q: %v", secret, err)
		}
	}
	bad := c.Clone()
	bad.Secrets = []string{"sk_sk_clearbit0123456789"}
	if _, err := verifyCase(t, bad, c.Now); ReasonOf(err) != ReasonBadSignature {
		t.Errorf("a doubled prefix: %v", err)
	}
	p, _ := Lookup("clearbit")
	if _, err := p.New(Config{Secrets: []string{"sk_"}}); err == nil {
		t.Errorf("a bare sk_ was accepted as a key")
	}
}

// Pinwheel signs x-timestamp as received: changing it breaks the signature.
func TestPinwheelSignsTheTimestampHeader(t *testing.T) {
	c := testvectors.Builders["pinwheel"](time.Unix(1750000000, 0), "https://example.com")
	bad := c.Clone()
	bad.Header.Set("X-Timestamp", "1750000001")
	if _, err := verifyCase(t, bad, c.Now); ReasonOf(err) != ReasonBadSignature {
		t.Fatalf("a changed x-timestamp: %v", err)
	}
}

// Hygraph's timestamp is signed; with a tolerance set, stale and future
// ones are refused. Malformed headers are refused before the body is read.
func TestHygraphTimestampAndHeader(t *testing.T) {
	signedAt := time.Unix(1750000000, 0)
	c := testvectors.Builders["hygraph"](signedAt, "https://example.com")
	p, _ := Lookup("graphcms")
	for _, at := range []struct {
		now  time.Time
		want Reason
	}{
		{signedAt.Add(time.Minute), ""},
		{signedAt.Add(10 * time.Minute), ReasonStale},
		{signedAt.Add(-10 * time.Minute), ReasonFuture},
	} {
		v, err := p.New(Config{Secrets: c.Secrets, Tolerance: 5 * time.Minute, Now: func() time.Time { return at.now }})
		if err != nil {
			t.Fatal(err)
		}
		d, err := v.Verify(caseRequest(c))
		if ReasonOf(err) != at.want || (err == nil && !d.Timestamp.Equal(signedAt)) {
			t.Errorf("at %v: %v, %v", at.now, d.Timestamp, err)
		}
	}
	v, _ := p.New(Config{Secrets: c.Secrets})
	sig := c.Header.Get("Gcms-Signature")
	for _, h := range []string{
		strings.Replace(sig, ", env=", ",env=", 1),
		strings.Replace(sig, "sign=", "sig=", 1),
		strings.Replace(sig, ", t=", ", t=-", 1),
		strings.Replace(sig, ", t=", ", t=x", 1),
		"sign=AAAA, env=master, t=1",
		sig + ", x=1",
	} {
		bad := c.Clone()
		bad.Header.Set("Gcms-Signature", h)
		if err := CheckHeaders(v, bad.Header); err == nil {
			t.Errorf("CheckHeaders accepts %q", h)
		}
		if _, err := verifyCase(t, bad, signedAt); err == nil {
			t.Errorf("Verify accepts %q", h)
		}
	}
}

// jsQuote writes what JSON.stringify writes: the SDK vectors check that
// against Hygraph's own package; here, that the output is a JSON string
// holding exactly the input, and that only what JavaScript escapes is.
func TestJSQuote(t *testing.T) {
	for in, want := range map[string]string{
		"a\"b\\c":          `"a\"b\\c"`,
		"<&>\u2028\u2029é": "\"<&>\u2028\u2029é\"",
		"\b\f\n\r\t\x01":   `"\b\f\n\r\t\u0001"`,
		"\x1f\x7f":         "\"\\u001f\x7f\"",
		"\xff":             "\"\uFFFD\"",
	} {
		var b strings.Builder
		jsQuote(&b, in)
		if b.String() != want {
			t.Errorf("jsQuote(%q) = %s, want %s", in, b.String(), want)
		}
	}
}

// Plivo signs form parameters and the URL: a body of another kind, a GET
// body, a changed query or nonce, or another method is refused; a valid
// signature among others in the header passes.
func TestPlivoRefusals(t *testing.T) {
	now := time.Unix(1750000000, 0)
	post := testvectors.Builders["plivo"](now, "https://example.com")
	get := testvectors.Builders["plivo-get"](now, "https://example.com")
	for name, mutate := range map[string]func(c *testvectors.Case){
		"json body":     func(c *testvectors.Case) { c.Header.Set("Content-Type", "application/json") },
		"get body":      func(c *testvectors.Case) { c.Method, c.Body = "GET", []byte("x=1") },
		"query changed": func(c *testvectors.Case) { c.URL = strings.Replace(c.URL, "tenant=b", "tenant=c", 1) },
		"query added":   func(c *testvectors.Case) { c.URL += "&extra=1" },
		"host changed":  func(c *testvectors.Case) { c.URL = strings.Replace(c.URL, "example.com", "example.org", 1) },
		"nonce changed": func(c *testvectors.Case) { c.Header.Set("X-Plivo-Signature-V3-Nonce", "1") },
		"no nonce":      func(c *testvectors.Case) { c.Header.Del("X-Plivo-Signature-V3-Nonce") },
		"put":           func(c *testvectors.Case) { c.Method = http.MethodPut },
	} {
		bad := post.Clone()
		mutate(&bad)
		if _, err := verifyCase(t, bad, now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := verifyCase(t, get, now); err != nil {
		t.Errorf("a valid signature after an undecodable one: %v", err)
	}
	// parameter order does not matter: Plivo sorts them
	reordered := post.Clone()
	reordered.URL = strings.Replace(reordered.URL, "tenant=b&app=a", "app=a&tenant=b", 1)
	if _, err := verifyCase(t, reordered, now); err != nil {
		t.Errorf("reordered query: %v", err)
	}
}

// nodeQuery parses as Node's querystring.parse, and jsSorted sorts by
// UTF-16 code units as JavaScript does.
func TestNodeQueryAndJSSort(t *testing.T) {
	got, _ := json.Marshal(nodeQuery("a=1&&b=2&a&=x&%zz=%C3&c=%E2%82%AC+x&d=b=c"))
	if want := `{"":["x"],"%zz":["�"],"a":["1",""],"b":["2"],"c":["€ x"],"d":["b=c"]}`; string(got) != want {
		t.Errorf("nodeQuery = %s, want %s", got, want)
	}
	if got := strings.Join(jsSorted([]string{"b", "B", "a", "_", "é", "😀", "\uffff"}), " "); got != "B _ a b é 😀 \uffff" {
		t.Errorf("jsSorted = %q", got)
	}
}

// Worldline's endpoint check is answered with the header's value; nothing
// else is a handshake.
func TestWorldlineVerification(t *testing.T) {
	p, _ := Lookup("worldline")
	for _, c := range []struct {
		method, value string
		want          bool
	}{
		{"GET", "wl-challenge-1", true},
		{"GET", "", false},
		{"POST", "wl-challenge-1", false},
		{"GET", strings.Repeat("x", maxChallenge+1), false},
	} {
		h := http.Header{}
		if c.value != "" {
			h.Set("X-GCS-Webhooks-Endpoint-Verification", c.value)
		}
		hs := p.Handshake(&Request{Method: c.method, Header: h})
		if (hs != nil) != c.want || (hs != nil && (string(hs.Body) != c.value || hs.Status != 200 || !strings.HasPrefix(hs.ContentType, "text/plain"))) {
			t.Errorf("%s %q: %+v", c.method, c.value, hs)
		}
	}
}

// FuzzNgrokParsers covers the parsers of the Plivo and Hygraph presets.
func FuzzNgrokParsers(f *testing.F) {
	for _, s := range []string{"a=1&&b=2", "%zz=%C3&c=%E2%82%AC+x", "https://h:8443/a%20b/?x=%2F&x=1#f", "sign=AA, env=m, t=1", "\x00\xff\"\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, values := range nodeQuery(s) {
			if !utf8.ValidString(name) || len(values) == 0 {
				t.Fatalf("nodeQuery(%q): %q %q", s, name, values)
			}
		}
		for _, m := range []string{"GET", "POST"} {
			plivoBaseURL(m, s, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(s))
			plivoBaseURL(m, "https://h/p?"+s, nil, nil)
		}
		var b strings.Builder
		jsQuote(&b, s)
		var back string
		if err := json.Unmarshal([]byte(b.String()), &back); err != nil || back != strings.ToValidUTF8(s, "\uFFFD") && utf8.ValidString(s) {
			t.Fatalf("jsQuote(%q) = %s does not decode back (%q, %v)", s, b.String(), back, err)
		}
		parseHygraph(http.Header{"Gcms-Signature": {s}})
		hygraphPayload([]byte(s), s, 1)
	})
}
