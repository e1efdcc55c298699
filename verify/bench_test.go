package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"github.com/webhookverify/caddy-webhook-verify/internal/testvectors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

var benchSizes = []int{1 << 10, 1 << 20}

func benchBody(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

// BenchmarkBareHMAC is the floor: crypto/hmac SHA-256 over the body, with
// the key set up once, as any hand-written verifier would at best.
func BenchmarkBareHMAC(b *testing.B) {
	for _, n := range benchSizes {
		body := benchBody(n)
		b.Run(sizeName(n), func(b *testing.B) {
			m := hmac.New(sha256.New, []byte("bench-secret"))
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				m.Reset()
				m.Write(body)
				m.Sum(nil)
			}
		})
	}
}

// signedRequest signs body for a preset by independent computation.
func signedRequest(provider string, body []byte, now time.Time) *Request {
	const secret = "bench-secret"
	ts := strconv.FormatInt(now.Unix(), 10)
	mac := func(key []byte, parts ...[]byte) []byte {
		m := hmac.New(sha256.New, key)
		for _, p := range parts {
			m.Write(p)
		}
		return m.Sum(nil)
	}
	h := http.Header{}
	switch provider {
	case "github":
		h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac([]byte(secret), body)))
		h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	case "gitlab":
		h.Set("X-Gitlab-Token", secret)
	case "stripe":
		h.Set("Stripe-Signature", "t="+ts+",v1="+hex.EncodeToString(mac([]byte(secret), []byte(ts+"."), body)))
	case "slack":
		h.Set("X-Slack-Request-Timestamp", ts)
		h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac([]byte(secret), []byte("v0:"+ts+":"), body)))
	case "shopify":
		h.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(mac([]byte(secret), body)))
	case "standard":
		key, _ := base64.StdEncoding.DecodeString(benchWhsec[len("whsec_"):])
		h.Set("Webhook-Id", "msg_1")
		h.Set("Webhook-Timestamp", ts)
		h.Set("Webhook-Signature", "v1,"+base64.StdEncoding.EncodeToString(mac(key, []byte("msg_1."+ts+"."), body)))
	}
	return &Request{Method: "POST", Header: h, Body: body}
}

const benchWhsec = "whsec_YmVuY2gtc2VjcmV0LWJlbmNoLXNlY3JldA=="

// BenchmarkVerify runs each preset over the same bodies as BenchmarkBareHMAC.
func BenchmarkVerify(b *testing.B) {
	now := time.Now()
	for _, provider := range []string{"github", "gitlab", "stripe", "slack", "shopify", "standard"} {
		secret := "bench-secret"
		if provider == "standard" {
			secret = benchWhsec
		}
		p, _ := Lookup(provider)
		v, err := p.New(Config{Secrets: []string{secret}, Now: func() time.Time { return now }})
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range benchSizes {
			body := benchBody(n)
			if provider == "stripe" {
				copy(body, `{"id":"evt_1","type":"x",  "pad":"`)
				body[len(body)-2], body[len(body)-1] = '"', '}'
			}
			req := signedRequest(provider, body, now)
			if _, err := v.Verify(req); err != nil {
				b.Fatalf("%s: %v", provider, err)
			}
			b.Run(provider+"/"+sizeName(n), func(b *testing.B) {
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.Verify(req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// BenchmarkCodePresets verifies each code preset's test delivery (small
// bodies): the cost of parsing a body signature, building a canonical
// request or checking RSA with a cached certificate.
func BenchmarkCodePresets(b *testing.B) {
	now := time.Unix(1750000000, 0)
	for _, name := range []string{"adyen", "braintree", "contentful", "mandrill", "sns", "msgraph", "hubspot-v1", "orb", "telnyx", "asana"} {
		c := testvectors.Builders[name](now, "https://hooks.example.com")
		p, _ := Lookup(c.Provider)
		v, err := p.New(Config{Secrets: c.Secrets, PublicKeys: c.PublicKeys, HTTPClient: c.HTTPClient, Now: func() time.Time { return now }})
		if err != nil {
			b.Fatal(err)
		}
		req := caseRequest(c)
		if _, err := v.Verify(req); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
