package redact

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/verify"
)

// secrets are two secrets of the form the preset takes.
func secrets(p *verify.Preset) [2]string {
	switch p.Name {
	case "standard":
		return [2]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}
	case "postmark", "pipedrive", "braintree":
		return [2]string{"hook-user:hook-pass-one", "hook-user:hook-pass-two"}
	case "teams":
		return [2]string{"c2lnbi1zZWNyZXQtdGVhbXM=", "b3RoZXItc2VjcmV0LXRlYW1z"}
	case "adyen", "adyenplatform":
		return [2]string{"44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056", "0C71FC68D9D0C057550C48EC2ACF6BA05644782DEF547AAA06C910C43932B1EB"}
	}
	return [2]string{"redact-secret-one-" + p.Name, "redact-secret-two-" + p.Name}
}

// Every header field whose value depends on the secret, in a test delivery
// signed by every preset that can sign one, is hidden by Header; every
// field that carries the secret itself is a Secret, so Strip removes it
// too, while Strip keeps the signatures the app downstream checks.
func TestPresetHeaders(t *testing.T) {
	now := time.Unix(1760000000, 0)
	checked := 0
	for _, p := range verify.Presets() {
		if !p.CanSign() {
			continue
		}
		t.Run(p.Name, func(t *testing.T) {
			var signed [2]*verify.Signed
			for i, secret := range secrets(p) {
				s, err := p.Sign(verify.SignOptions{Secret: secret, URL: "https://hooks.example.com/p", Body: []byte(`{"id":"evt_1","type":"test.event"}`), Now: now, ID: "id-1", Event: "test.event"})
				if err != nil {
					t.Fatal(err)
				}
				signed[i] = s
			}
			secret := secrets(p)[0]
			masked, stripped := Header(signed[0].Header), Strip(signed[0].Header)
			for name, values := range signed[0].Header {
				value := strings.Join(values, ",")
				carries := strings.Contains(value, secret) || strings.Contains(value, base64.StdEncoding.EncodeToString([]byte(secret)))
				depends := value != strings.Join(signed[1].Header[name], ",")
				if (carries || depends) && !slices.Equal(masked[name], []string{Mask}) {
					t.Errorf("%s: %s depends on the secret but Header shows %q", p.Name, name, masked[name])
				}
				if carries && stripped[name] != nil {
					t.Errorf("%s: %s carries the secret but Strip keeps it", p.Name, name)
				}
				// (Teams puts its HMAC in Authorization, which Strip always drops)
				if depends && !carries && Classify(name) != Secret && !slices.Equal(stripped[name], values) {
					t.Errorf("%s: Strip dropped the signature %s", p.Name, name)
				}
				if depends {
					checked++
				}
			}
		})
	}
	if checked < 80 {
		t.Errorf("only %d secret-dependent fields checked; did signing change?", checked)
	}
}

// Presets that sign with a private key (or that Sign cannot imitate) name
// their headers here.
func TestKnownNames(t *testing.T) {
	for name, want := range map[string]Kind{
		"X-Signature-Ed25519":                    Signature, // discord
		"Telnyx-Signature-Ed25519":               Signature,
		"X-Twilio-Email-Event-Webhook-Signature": Signature, // sendgrid
		"X-Hub-Signature-256":                    Signature,
		"x-hub-signature":                        Signature,
		"X-Trello-Webhook":                       Signature,
		"X-Shopify-Hmac-Sha256":                  Signature,
		"Authorization":                          Secret,
		"Proxy-Authorization":                    Secret,
		"Cookie":                                 Secret,
		"X-Gitlab-Token":                         Secret,
		"X-Telegram-Bot-Api-Secret-Token":        Secret,
		"X-Api-Key":                              Secret,
		"Content-Type":                           Plain,
		"User-Agent":                             Plain,
		"X-GitHub-Event":                         Plain,
		"X-GitHub-Delivery":                      Plain,
		"X-Gitlab-Event-UUID":                    Plain,
		"Idempotency-Key":                        Plain,
		"Webhook-Id":                             Plain,
		"Webhook-Timestamp":                      Plain,
		"X-Signature-Timestamp":                  Plain,
		"Box-Signature-Version":                  Plain,
		"Box-Signature-Algorithm":                Plain,
		"Stripe-Version":                         Plain,
	} {
		if got := Classify(name); got != want {
			t.Errorf("Classify(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestHeaderAndStrip(t *testing.T) {
	h := http.Header{
		"Content-Type":     {"application/json"},
		"Authorization":    {"Bearer tok-1", "Bearer tok-2"},
		"X-Checksum":       {"abc"},
		"Stripe-Signature": {"t=1,v1=ff"},
	}
	m := Header(h, "x-checksum")
	if !slices.Equal(m["Authorization"], []string{Mask, Mask}) || !slices.Equal(m["X-Checksum"], []string{Mask}) ||
		!slices.Equal(m["Stripe-Signature"], []string{Mask}) || m.Get("Content-Type") != "application/json" {
		t.Errorf("Header = %v", m)
	}
	if h.Get("Authorization") != "Bearer tok-1" {
		t.Error("Header changed its argument")
	}
	s := Strip(h, "X-Checksum")
	if s["Authorization"] != nil || s["X-Checksum"] != nil || s.Get("Stripe-Signature") != "t=1,v1=ff" || s.Get("Content-Type") == "" {
		t.Errorf("Strip = %v", s)
	}
	if Header(nil) != nil || Strip(nil) != nil {
		t.Error("nil header should stay nil")
	}
}

func BenchmarkHeader(b *testing.B) {
	h := http.Header{
		"Content-Type": {"application/json"}, "User-Agent": {"GitHub-Hookshot/abc"}, "X-Github-Event": {"push"},
		"X-Github-Delivery": {"72d3162e-cc78-11e3-81ab-4c9367dc0958"}, "X-Hub-Signature-256": {"sha256=ff"},
		"Accept": {"*/*"},
	}
	b.ReportAllocs()
	for b.Loop() {
		Header(h)
	}
}
