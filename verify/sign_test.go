package verify

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v82/github"
	"github.com/slack-go/slack"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	stripewebhook "github.com/stripe/stripe-go/v82/webhook"

	"github.com/webhookverify/caddy-webhook-verify/internal/testvectors"
)

// secretFor is a secret of the form the preset takes.
func secretFor(p *Preset) string {
	switch p.Name {
	case "standard":
		return "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	case "postmark", "pipedrive":
		return "hook-user:hook-pass"
	case "teams":
		return "c2lnbi1zZWNyZXQtdGVhbXM="
	case "adyen", "adyenplatform":
		return "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
	case "braintree":
		return "sign-public:sign-private"
	}
	return "sign-secret-" + p.Name
}

func asRequest(s *Signed) *Request {
	u, _ := url.Parse(s.URL)
	return &Request{Method: s.Method, URL: s.URL, Query: u.RawQuery, Header: s.Header, Body: s.Body}
}

// Every preset that signs with a shared secret can sign a test delivery
// that its own verifier accepts, and only as sent.
func TestSignRoundTrip(t *testing.T) {
	signable := 0
	for _, p := range Presets() {
		if !p.CanSign() {
			// sns's "secrets" are topic ARNs; AWS signs with its own key
			if p.KeyKind == SharedSecret && p.Name != "hmac" && p.Name != "sns" {
				t.Errorf("%s signs with a shared secret but cannot sign test deliveries", p.Name)
			}
			continue
		}
		signable++
		contentTypes := []string{"application/json"}
		if p.Name == "twilio" || p.Name == "gitea" || p.Name == "mailgun" || p.Name == "plivo" {
			// schemes that parse form bodies
			contentTypes = append(contentTypes, "application/x-www-form-urlencoded")
		}
		for _, ct := range contentTypes {
			t.Run(p.Name+"/"+ct, func(t *testing.T) {
				body := `{"id":"evt_sign","type":"test.event"}`
				if p.Name == "adyen" {
					body = `{"live":"false","notificationItems":[{"NotificationRequestItem":{"pspReference":"psp1","merchantAccountCode":"M","merchantReference":"evt_sign","amount":{"value":100,"currency":"EUR"},"eventCode":"AUTHORISATION","success":"true"}}]}`
				}
				if ct != "application/json" {
					body = url.Values{"payload": {`{"a":1}`}, "CallSid": {"CA1"}, "Digits": {"9", "1"}}.Encode()
				}
				now := time.Unix(1760000000, 0)
				s, err := p.Sign(SignOptions{Secret: secretFor(p), URL: "https://hooks.example.com/p/" + p.Name + "?tenant=a", Body: []byte(body), ContentType: ct, Now: now, Event: "test.event"})
				if err != nil {
					t.Fatal(err)
				}
				v, err := p.New(Config{Secrets: []string{secretFor(p)}, Now: func() time.Time { return now }})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := v.Verify(asRequest(s)); err != nil {
					t.Fatalf("its own signature does not verify: %v (headers %v)", err, s.Header)
				}
				tampered := *s
				tampered.Body = []byte(strings.NewReplacer("evt_sign", "evt_sigN", "a%22%3A1", "a%22%3A2").Replace(string(s.Body)))
				if string(tampered.Body) == string(s.Body) {
					tampered.Body = append([]byte("x"), s.Body...)
				}
				if _, err := v.Verify(asRequest(&tampered)); err == nil && !strings.Contains(p.Summary, "no signature") && !slices.Contains([]string{"gitlab", "okta", "mailgun", "telegram", "msgraph"}, p.Name) {
					t.Fatalf("a changed body still verifies")
				}
			})
		}
	}
	if signable < 40 {
		t.Errorf("only %d presets can sign", signable)
	}
	for _, name := range []string{"discord", "sendgrid", "hmac"} {
		if p, _ := Lookup(name); p.CanSign() {
			t.Errorf("%s claims to sign test deliveries", name)
		} else if _, err := p.Sign(SignOptions{Secret: "x"}); err == nil {
			t.Errorf("%s signed without a shared-secret scheme", name)
		}
	}
}

// Signatures equal ones computed independently (internal/testvectors) for
// the same inputs.
func TestSignMatchesIndependentComputation(t *testing.T) {
	now := time.Unix(1760000000, 0)
	for _, name := range []string{"github", "stripe", "slack", "standard", "shopify", "paddle", "twitch", "mux", "zoom", "bitbucket", "typeform", "woocommerce", "hubspot", "square", "twilio", "netlify", "box", "sanity"} {
		c := testvectors.Builders[name](now, "https://hooks.example.com")
		p, _ := Lookup(c.Provider)
		id := c.ID
		if id == "" {
			id = "unused"
		}
		var sigHeader string
		for _, h := range c.SignatureHeaders {
			if c.Header.Get(h) != "" {
				sigHeader = h
				break
			}
		}
		s, err := p.Sign(SignOptions{Secret: c.Secrets[len(c.Secrets)-1], URL: c.URL, Body: c.Body, ContentType: c.Header.Get("Content-Type"), Now: now, ID: id})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, want := s.Header.Get(sigHeader), c.Header.Get(sigHeader)
		if name == "box" {
			// box's vector carries both keys; this secret is the secondary
			want = c.Header.Get("Box-Signature-Secondary")
			got = s.Header.Get("Box-Signature-Primary")
		}
		if got != want {
			t.Errorf("%s: %s = %q, independent computation %q", name, sigHeader, got, want)
		}
	}
}

// What `caddy webhook sign` produces verifies with the providers' own SDKs.
func TestSignVerifiesWithProviderSDKs(t *testing.T) {
	body := []byte(`{"id":"evt_sdk","object":"event","type":"charge.succeeded"}`)
	sign := func(provider, secret string) *Signed {
		p, _ := Lookup(provider)
		s, err := p.Sign(SignOptions{Secret: secret, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	gh := sign("github", "gh-sdk-secret")
	if err := github.ValidateSignature(gh.Header.Get("X-Hub-Signature-256"), body, []byte("gh-sdk-secret")); err != nil {
		t.Errorf("go-github: %v", err)
	}

	st := sign("stripe", "whsec_sdk")
	if err := stripewebhook.ValidatePayload(body, st.Header.Get("Stripe-Signature"), "whsec_sdk"); err != nil {
		t.Errorf("stripe-go: %v", err)
	}

	sl := sign("slack", "slack-sdk-secret")
	sv, err := slack.NewSecretsVerifier(sl.Header, "slack-sdk-secret")
	if err != nil {
		t.Fatalf("slack-go: %v", err)
	}
	sv.Write(body)
	if err := sv.Ensure(); err != nil {
		t.Errorf("slack-go: %v", err)
	}

	sw := sign("standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	wh, _ := standardwebhooks.NewWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err := wh.Verify(body, sw.Header); err != nil {
		t.Errorf("standard-webhooks: %v", err)
	}
	// and the same delivery under Svix's header names
	svix := sign("svix", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if svix.Header.Get("Webhook-Signature") == "" || svix.Header.Get("Webhook-Id") == "" {
		t.Errorf("svix alias signs with webhook-* headers: %v", svix.Header)
	}
}

// Test deliveries carry the event header their provider sends, so the app
// behind the gateway sees an event it knows; --event (Event) overrides it.
func TestSignedDeliveriesCarryTheirEvent(t *testing.T) {
	for name, header := range map[string]string{
		"github": "X-GitHub-Event", "shopify": "X-Shopify-Topic", "gitlab": "X-Gitlab-Event", "bitbucket": "X-Event-Key",
		"gitea": "X-Gitea-Event", "twitch": "Twitch-Eventsub-Subscription-Type", "woocommerce": "X-Wc-Webhook-Topic",
	} {
		p, _ := Lookup(name)
		for _, event := range []string{"", "custom.event"} {
			s, err := p.Sign(SignOptions{Secret: "test-secret", Body: []byte(`{"id":"1"}`), URL: "https://example.com/h", Event: event})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want := event
			if want == "" {
				want = p.TestEvent()
			}
			if got := s.Header.Get(header); got != want {
				t.Errorf("%s with --event %q: %s = %q, want %q", name, event, header, got, want)
			}
			v, _ := p.New(Config{Secrets: []string{"test-secret"}})
			u, _ := url.Parse(s.URL)
			d, err := v.Verify(&Request{Method: s.Method, URL: s.URL, Query: u.RawQuery, Header: s.Header, Body: s.Body})
			if err != nil || d.Event != want {
				t.Errorf("%s: verified event %q (%v), want %q", name, d.Event, err, want)
			}
		}
	}
}
