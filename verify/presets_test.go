package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/internal/testvectors"
)

func caseRequest(c testvectors.Case) *Request {
	u, _ := url.Parse(c.URL)
	return &Request{Method: c.Method, URL: c.URL, Query: u.RawQuery, Header: c.Header, Body: c.Body}
}

// verifyCase builds the case's preset with its keys and a clock at now.
func verifyCase(t *testing.T, c testvectors.Case, now time.Time) (Delivery, error) {
	t.Helper()
	p, ok := Lookup(c.Provider)
	if !ok {
		t.Fatalf("no preset %q", c.Provider)
	}
	v, err := p.New(Config{Secrets: c.Secrets, PublicKeys: c.PublicKeys, Now: func() time.Time { return now }, HTTPClient: c.HTTPClient})
	if err != nil {
		t.Fatalf("%s: New: %v", c.Provider, err)
	}
	return v.Verify(caseRequest(c))
}

// Published vectors pass exactly as the providers published them.
func TestPublishedVectors(t *testing.T) {
	for _, c := range testvectors.Published() {
		t.Run(c.Provider+"/"+c.Source, func(t *testing.T) {
			if _, err := verifyCase(t, c, c.Now); err != nil {
				t.Fatalf("%v", err)
			}
			// and the same bytes with one flipped do not
			bad := c.Clone()
			bad.Body = append(bad.Body, ' ')
			// Mailgun signs no body bytes; Adyen signs fields, not whitespace.
			if c.Provider != "mailgun" && c.Provider != "adyen" {
				if _, err := verifyCase(t, bad, c.Now); err == nil {
					t.Fatalf("a changed body passed")
				}
			}
		})
	}
}

// Every preset: a delivery signed by independent code passes; the wrong
// key, a tampered delivery, a missing signature and (for timestamped
// schemes) a stale or future timestamp fail.
func TestPresetVectorsAndMutations(t *testing.T) {
	for _, c := range testvectors.Fresh(time.Unix(1750000000, 0), "https://hooks.example.com") {
		t.Run(c.Name, func(t *testing.T) {
			t.Logf("source: %s", c.Source)
			d, err := verifyCase(t, c, c.Now)
			if err != nil {
				t.Fatalf("valid delivery: %v", err)
			}
			if c.ID != "" && d.ID != c.ID {
				t.Errorf("id = %q, want %q", d.ID, c.ID)
			}
			if c.Event != "" && d.Event != c.Event {
				t.Errorf("event = %q, want %q", d.Event, c.Event)
			}
			p, _ := Lookup(c.Provider)
			if d.ID != "" && d.IDSigned != p.IDSigned {
				t.Errorf("IDSigned = %v, but the preset says %v", d.IDSigned, p.IDSigned)
			}
			v, _ := p.New(Config{Secrets: c.Secrets, PublicKeys: c.PublicKeys, HTTPClient: c.HTTPClient})
			if err := CheckHeaders(v, c.Header); err != nil {
				t.Errorf("CheckHeaders refuses a valid delivery: %v", err)
			}

			t.Run("wrong key", func(t *testing.T) {
				bad := c.Clone()
				switch {
				case len(c.PublicKeys) > 0:
					bad.PublicKeys = c.WrongPublicKeys
				case len(c.WrongSecrets) > 0:
					bad.Secrets = c.WrongSecrets
				default:
					bad.Secrets = []string{"not-" + c.Secrets[0]}
				}
				if _, err := verifyCase(t, bad, c.Now); ReasonOf(err) != ReasonBadSignature {
					t.Fatalf("err = %v, want bad_signature", err)
				}
			})
			t.Run("tampered", func(t *testing.T) {
				bad := c.Clone()
				if c.Tamper != nil {
					c.Tamper(&bad)
				} else {
					bad.Body[len(bad.Body)-2] ^= 1 // inside the JSON, so parsers still see JSON
				}
				if _, err := verifyCase(t, bad, c.Now); err == nil {
					t.Fatalf("a tampered delivery passed")
				}
			})
			t.Run("missing signature", func(t *testing.T) {
				bad := c.Clone()
				for _, h := range c.SignatureHeaders {
					bad.Header.Del(h)
				}
				if c.StripSignature != nil {
					c.StripSignature(&bad)
				}
				if _, err := verifyCase(t, bad, c.Now); ReasonOf(err) != ReasonMissingSignature {
					t.Fatalf("err = %v, want missing_signature", err)
				}
				// and the headers alone tell, unless the signature travels in the body
				err := CheckHeaders(v, bad.Header)
				if want := ReasonMissingSignature; c.SignatureInBody {
					if err != nil {
						t.Fatalf("CheckHeaders = %v for a body-signed scheme", err)
					}
				} else if ReasonOf(err) != want {
					t.Fatalf("CheckHeaders = %v, want %s", err, want)
				}
			})
			if c.Timestamped {
				p, _ := Lookup(c.Provider)
				tol := p.Tolerance
				t.Run("stale", func(t *testing.T) {
					if _, err := verifyCase(t, c, c.Now.Add(tol+time.Minute)); ReasonOf(err) != ReasonStale {
						t.Fatalf("err = %v, want stale", err)
					}
				})
				t.Run("future", func(t *testing.T) {
					if _, err := verifyCase(t, c, c.Now.Add(-tol-time.Minute)); ReasonOf(err) != ReasonFuture {
						t.Fatalf("err = %v, want future", err)
					}
				})
			}
		})
	}
}

// Every preset but the generic one has a signed vector and its mutations.
func TestEveryPresetHasVectors(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range testvectors.Fresh(time.Now(), "https://example.com") {
		covered[c.Provider] = true
	}
	for _, p := range Presets() {
		if p.Name != "hmac" && !covered[p.Name] {
			t.Errorf("preset %s has no vector in internal/testvectors", p.Name)
		}
	}
	if n := len(Presets()); n < 30 {
		t.Errorf("%d presets, want at least 30", n)
	}
}

func TestHandshakes(t *testing.T) {
	cases := []struct {
		provider   string
		req        Request
		wantBody   string
		wantAnswer bool
	}{
		{"dropbox", Request{Method: "GET", Query: "challenge=abc123"}, "abc123", true},
		{"dropbox", Request{Method: "POST", Query: "challenge=abc123"}, "", false},
		{"dropbox", Request{Method: "GET", Query: "challenge=" + strings.Repeat("x", 600)}, "", false},
		{"meta", Request{Method: "GET", Query: "hub.mode=subscribe&hub.verify_token=t&hub.challenge=1158201444"}, "1158201444", true},
		{"meta", Request{Method: "GET", Query: "hub.mode=unsubscribe&hub.challenge=1"}, "", false},
		{"okta", Request{Method: "GET", Header: hdr("X-Okta-Verification-Challenge: j2bhhhZ8")}, `{"verification":"j2bhhhZ8"}`, true},
		{"okta", Request{Method: "GET"}, "", false},
		{"woocommerce", Request{Method: "POST", Header: hdr(), Body: []byte("webhook_id=42")}, "", true},
		{"woocommerce", Request{Method: "POST", Header: hdr(), Body: []byte("webhook_id=42&x=1")}, "", false},
		{"woocommerce", Request{Method: "POST", Header: hdr("X-WC-Webhook-Signature: x"), Body: []byte("webhook_id=42")}, "", false},
	}
	for _, c := range cases {
		p, _ := Lookup(c.provider)
		if c.req.Header == nil {
			c.req.Header = hdr()
		}
		hs := p.Handshake(&c.req)
		if (hs != nil) != c.wantAnswer || (hs != nil && string(hs.Body) != c.wantBody) {
			t.Errorf("%s %+v: handshake %+v", c.provider, c.req, hs)
		}
	}
	// Presets without handshakes answer nothing themselves (Twilio and Plivo
	// sign their GETs).
	for _, p := range Presets() {
		if !p.HasChallenge(BeforeVerify) && slices.Contains(p.Methods, "GET") && p.Name != "twilio" && p.Name != "plivo" {
			t.Errorf("%s takes GET without a handshake", p.Name)
		}
	}
}

// A second signature header that is empty or garbage does not spoil a
// valid first one (Box sends an empty secondary without a second key).
func TestExtraSignatureHeadersAreOptional(t *testing.T) {
	c := testvectors.Builders["box"](time.Unix(1750000000, 0), "https://example.com")
	c.Secrets = []string{"box-primary"}
	for _, secondary := range []string{"", "%%%", "c2hvcnQ="} {
		bad := c.Clone()
		bad.Header.Set("Box-Signature-Secondary", secondary)
		if _, err := verifyCase(t, bad, c.Now); err != nil {
			t.Errorf("secondary %q: %v", secondary, err)
		}
	}
}

func TestPublicKeyConfigErrors(t *testing.T) {
	for _, c := range []struct {
		provider string
		cfg      Config
		want     string
	}{
		{"discord", Config{}, "needs at least one public_key"},
		{"discord", Config{PublicKeys: []string{"zz"}}, "public_key #1 is not a key"},
		{"discord", Config{Secrets: []string{"s"}, PublicKeys: []string{strings.Repeat("00", 32)}}, "give its public_key, not a secret"},
		{"sendgrid", Config{PublicKeys: []string{"bm90IGEga2V5"}}, "public_key #1 is not a key"},
		{"standard", Config{}, "needs a secret or a public_key"},
		{"standard", Config{PublicKeys: []string{"whpk_short"}}, "public_key #1 is not a key"},
		{"github", Config{Secrets: []string{"s"}, PublicKeys: []string{"k"}}, "takes no public_key"},
		{"postmark", Config{Secrets: []string{"no-colon"}}, "not user:password"},
	} {
		p, _ := Lookup(c.provider)
		if _, err := p.New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.provider, err, c.want)
		}
	}
}

// Linear signs only the body, so only its webhookTimestamp field can stop a
// replay: a captured delivery resent later with a fresh, unsigned
// Linear-Timestamp header (and a fresh Linear-Delivery id) is stale.
func TestLinearReplayWithFreshHeaderIsRefused(t *testing.T) {
	signedAt := time.Unix(1750000000, 0)
	c := testvectors.Builders["linear"](signedAt, "https://example.com")
	later := signedAt.Add(time.Hour)
	replay := c.Clone()
	replay.Header.Set("Linear-Timestamp", strconv.FormatInt(later.UnixMilli(), 10))
	replay.Header.Set("Linear-Delivery", "fresh-delivery-id")
	if _, err := verifyCase(t, replay, later); ReasonOf(err) != ReasonStale {
		t.Fatalf("replay with a fresh Linear-Timestamp: err = %v, want stale", err)
	}
	// A body without the signed field is refused, whatever the header says.
	body := `{"action":"create","type":"Issue"}`
	noField := c.Clone()
	noField.Body = []byte(body)
	noField.Header.Set("Linear-Signature", hexHMAC(c.Secrets[0], body))
	noField.Header.Set("Linear-Timestamp", strconv.FormatInt(later.UnixMilli(), 10))
	if _, err := verifyCase(t, noField, later); ReasonOf(err) != ReasonMissingTimestamp {
		t.Fatalf("timestamp only in the header: err = %v, want missing_timestamp", err)
	}
	// and the delivery id, an unsigned header, is not trusted for dedupe
	d, err := verifyCase(t, c, signedAt)
	if err != nil || d.IDSigned {
		t.Fatalf("valid delivery: %+v, %v", d, err)
	}
}

func hexHMAC(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// HubSpot: v1/v2 only when no v3 header is present; the version header
// picks which one, and a bad v3 never falls back to a valid v1.
func TestHubSpotLegacyVersions(t *testing.T) {
	now := time.Unix(1750000000, 0)
	v1 := testvectors.Builders["hubspot-v1"](now, "https://example.com")
	v2 := testvectors.Builders["hubspot-v2"](now, "https://example.com")

	asV2 := v1.Clone()
	asV2.Header.Set("X-HubSpot-Signature-Version", "v2")
	if _, err := verifyCase(t, asV2, now); ReasonOf(err) != ReasonBadSignature {
		t.Errorf("a v1 signature labelled v2: %v", err)
	}
	unlabelled := v2.Clone()
	unlabelled.Header.Del("X-HubSpot-Signature-Version")
	if _, err := verifyCase(t, unlabelled, now); err != nil {
		t.Errorf("a v2 signature without a version header: %v", err)
	}
	v4 := v1.Clone()
	v4.Header.Set("X-HubSpot-Signature-Version", "v4")
	if _, err := verifyCase(t, v4, now); ReasonOf(err) != ReasonMalformedSignature {
		t.Errorf("version v4: %v", err)
	}
	withBadV3 := v1.Clone()
	withBadV3.Header.Set("X-HubSpot-Signature-v3", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	withBadV3.Header.Set("X-HubSpot-Request-Timestamp", strconv.FormatInt(now.UnixMilli(), 10))
	if _, err := verifyCase(t, withBadV3, now); ReasonOf(err) != ReasonBadSignature {
		t.Errorf("a bad v3 beside a valid v1: %v", err)
	}
}

// Box's SDK computes no signature unless box-signature-version is 1 and
// box-signature-algorithm is HmacSHA256; neither does the preset.
func TestBoxVersionAndAlgorithmHeaders(t *testing.T) {
	now := time.Unix(1750000000, 0)
	c := testvectors.Builders["box"](now, "https://example.com")
	for _, h := range []struct{ name, value string }{
		{"Box-Signature-Version", "2"}, {"Box-Signature-Version", ""},
		{"Box-Signature-Algorithm", "HmacSHA1"}, {"Box-Signature-Algorithm", ""},
	} {
		bad := c.Clone()
		if h.value == "" {
			bad.Header.Del(h.name)
		} else {
			bad.Header.Set(h.name, h.value)
		}
		if _, err := verifyCase(t, bad, now); ReasonOf(err) != ReasonMalformedSignature {
			t.Errorf("%s %q: err = %v, want malformed_signature", h.name, h.value, err)
		}
		p, _ := Lookup("box")
		v, _ := p.New(Config{Secrets: c.Secrets})
		if err := CheckHeaders(v, bad.Header); ReasonOf(err) != ReasonMalformedSignature {
			t.Errorf("%s %q: CheckHeaders = %v", h.name, h.value, err)
		}
	}
}

// @sanity/webhook refuses a t before 2021-01-01 (MINIMUM_TIMESTAMP): such a
// value is not a millisecond timestamp (seconds, say).
func TestSanityRefusesPre2021Timestamps(t *testing.T) {
	body := `{"_id":"doc1"}`
	for _, ts := range []string{"1600000000000", "1750000000", "0"} {
		m := hmac.New(sha256.New, []byte("sanity-secret"))
		m.Write([]byte(ts + "." + body))
		sig := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		c := testvectors.Case{Provider: "sanity", Secrets: []string{"sanity-secret"}, Method: "POST", URL: "https://example.com/hook",
			Header: http.Header{"Sanity-Webhook-Signature": {"t=" + ts + ",v1=" + sig}}, Body: []byte(body)}
		if _, err := verifyCase(t, c, time.Unix(1750000000, 0)); ReasonOf(err) != ReasonMalformedTimestamp {
			t.Errorf("t=%s: err = %v, want malformed_timestamp", ts, err)
		}
	}
}
