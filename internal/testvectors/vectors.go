// Package testvectors signs webhook deliveries the way each provider does,
// for the tests. It is written from the providers' documented formulas
// with the standard library's crypto, independently of the verify package,
// so a test that checks verify against it checks two implementations
// against each other; the fixed vectors come from the providers' docs and
// SDKs and are named by their source.
package testvectors

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Case is one delivery and what verifying it must say.
type Case struct {
	// Name is the builder's name for fresh cases (also its route, /p/<name>).
	Name     string
	Provider string
	// Source says where the vector or the signing formula comes from.
	Source     string
	Secrets    []string
	PublicKeys []string
	// Now is when the delivery is valid (its signed timestamp, if any).
	Now    time.Time
	Method string
	// URL is the full URL the sender requested.
	URL    string
	Header http.Header
	Body   []byte
	// ID and Event are what verification must report; "" is not checked.
	ID, Event string
	// SignatureHeaders are removed for the "missing signature" mutation.
	SignatureHeaders []string
	// Timestamped cases also get a stale mutation.
	Timestamped bool
	// BodyUnsigned marks schemes whose signature does not cover the body
	// (tokens, basic auth, Mailgun); Tamper then changes what is signed.
	BodyUnsigned bool
	// Tamper, when set, replaces the default tampering (flipping the last
	// byte of the body).
	Tamper func(c *Case)
	// WrongKeys are keys that must not verify it.
	WrongSecrets, WrongPublicKeys []string
	// SignatureInBody marks schemes whose signature travels in the body
	// (Mailgun, Adyen, Braintree, SNS): the header check passes them, and
	// StripSignature removes it for the "missing signature" mutation.
	SignatureInBody bool
	StripSignature  func(c *Case)
	// HTTPClient fetches what the scheme needs (SNS's certificates).
	HTTPClient *http.Client
}

// Clone copies a case deeply enough to mutate it.
func (c Case) Clone() Case {
	c.Header = c.Header.Clone()
	c.Body = slices.Clone(c.Body)
	return c
}

func macOf(h func() hash.Hash, key []byte, parts ...string) []byte {
	m := hmac.New(h, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func hexMAC(h func() hash.Hash, key string, parts ...string) string {
	return hex.EncodeToString(macOf(h, []byte(key), parts...))
}

func b64MAC(h func() hash.Hash, key string, parts ...string) string {
	return base64.StdEncoding.EncodeToString(macOf(h, []byte(key), parts...))
}

func hdr(pairs ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Set(pairs[i], pairs[i+1])
	}
	return h
}

func unix(t time.Time) string   { return strconv.FormatInt(t.Unix(), 10) }
func unixMs(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// Keys used by the generated cases.
var (
	// discordSeed gives providers.md §4.2's Discord key (public key
	// 03a107bf...531b8).
	discordKey = ed25519.NewKeyFromSeed([]byte{
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31})
	otherEd25519 = ed25519.NewKeyFromSeed(make([]byte, 32))
	// sendgridKey is the key pair of sendgrid-go's eventwebhook tests
	// (providers.md V14).
	sendgridKey = func() *ecdsa.PrivateKey {
		der, _ := base64.StdEncoding.DecodeString("MHcCAQEEIEQmZgBEh9DcU9zMl34czK3xov4AYvm9P3r7rNB2dNXtoAoGCCqGSM49AwEHoUQDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==")
		k, err := x509.ParseECPrivateKey(der)
		if err != nil {
			panic(err)
		}
		return k
	}()
	sendgridPublic = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
	// otherP256Public is an unrelated P-256 key (SPKI, base64).
	otherP256Public = func() string {
		k, _ := ecdsa.GenerateKey(sendgridKey.Curve, rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		return base64.StdEncoding.EncodeToString(der)
	}()
)

const (
	whsec      = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	whsecOther = "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
)

func whsecKey(s string) string {
	b, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	return string(b)
}

func whpk(k ed25519.PrivateKey) string {
	return "whpk_" + base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey))
}

// builder makes a fresh, valid case signed at now for a URL under base.
type builder func(now time.Time, base string) Case

// simple makes a builder for "one header = MAC of the body" schemes.
func simple(provider, source, header, secret string, sign func(secret, body string) string, body string, extra ...string) builder {
	return func(now time.Time, base string) Case {
		h := hdr(extra...)
		h.Set(header, sign(secret, body))
		h.Set("Content-Type", "application/json")
		return Case{Provider: provider, Source: source, Secrets: []string{secret}, Method: "POST",
			URL: base + "/p/" + provider, Header: h, Body: []byte(body), SignatureHeaders: []string{header}}
	}
}

func hexWith(h func() hash.Hash, prefix string) func(secret, body string) string {
	return func(secret, body string) string { return prefix + hexMAC(h, secret, body) }
}

func b64With(h func() hash.Hash, prefix string) func(secret, body string) string {
	return func(secret, body string) string { return prefix + b64MAC(h, secret, body) }
}

// Builders sign a fresh delivery per preset, from each provider's formula.
var Builders = map[string]builder{
	"github": simple("github", "GitHub docs: sha256= + hex HMAC-SHA256 of the body", "X-Hub-Signature-256", "gh-secret",
		hexWith(sha256.New, "sha256="), `{"zen":"Keep it logically awesome.","hook_id":1}`, "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958", "X-GitHub-Event", "ping"),
	"bitbucket": simple("bitbucket", "Atlassian: X-Hub-Signature sha256= + hex HMAC-SHA256 of the body", "X-Hub-Signature", "bb-secret",
		hexWith(sha256.New, "sha256="), `{"push":{"changes":[]}}`, "X-Request-UUID", "0f5c3d2a-1b2c-4d5e-8f90-123456789abc", "X-Event-Key", "repo:push"),
	"jira": simple("jira", "Atlassian admin webhooks: X-Hub-Signature sha256= + hex", "X-Hub-Signature", "jira-secret",
		hexWith(sha256.New, "sha256="), `{"webhookEvent":"jira:issue_created","issue":{"id":"1"}}`, "X-Atlassian-Webhook-Identifier", "wh-1"),
	"shopify": simple("shopify", "shopify-api-js hmac-validator: base64 HMAC-SHA256 of the body", "X-Shopify-Hmac-Sha256", "shpss_secret",
		b64With(sha256.New, ""), `{"id":820982911946154500}`, "X-Shopify-Event-Id", "ev-1", "X-Shopify-Topic", "orders/create"),
	"sentry": simple("sentry", "Sentry integration platform: hex HMAC-SHA256 of the body", "Sentry-Hook-Signature", "sentry-client-secret",
		hexWith(sha256.New, ""), `{"action":"created","data":{}}`, "Request-ID", "req-1", "Sentry-Hook-Resource", "issue"),
	"vercel": simple("vercel", "Vercel: hex HMAC-SHA1 of the body in x-vercel-signature", "X-Vercel-Signature", "vercel-secret",
		hexWith(sha1.New, ""), `{"id":"evt_v1","type":"deployment.succeeded"}`),
	"terraform": simple("terraform", "HCP Terraform: hex HMAC-SHA512 of the body", "X-TFE-Notification-Signature", "tfe-token",
		hexWith(sha512.New, ""), `{"run_id":"run-1","notifications":[]}`),
	"lemonsqueezy": simple("lemonsqueezy", "Lemon Squeezy: hex HMAC-SHA256 of the body in X-Signature", "X-Signature", "lemon-secret",
		hexWith(sha256.New, ""), `{"meta":{"event_name":"order_created"}}`, "X-Event-Name", "order_created"),
	"razorpay": simple("razorpay", "razorpay validateWebhookSignature: hex HMAC-SHA256 of the body", "X-Razorpay-Signature", "rzp-secret",
		hexWith(sha256.New, ""), `{"event":"payment.captured","payload":{}}`, "X-Razorpay-Event-Id", "evt_rzp_1"),
	"coinbase": simple("coinbase", "coinbase-commerce-node Webhook.verifySigHeader: hex HMAC-SHA256", "X-CC-Webhook-Signature", "cc-secret",
		hexWith(sha256.New, ""), `{"event":{"id":"e1","type":"charge:confirmed"}}`),
	"woocommerce": simple("woocommerce", "WooCommerce class-wc-webhook.php generate_signature: base64 HMAC-SHA256", "X-WC-Webhook-Signature", "wc-secret",
		b64With(sha256.New, ""), `{"id":42,"status":"processing"}`, "X-WC-Webhook-Delivery-ID", "77", "X-WC-Webhook-Topic", "order.updated"),
	"intercom": simple("intercom", "Intercom: X-Hub-Signature sha1= + hex HMAC-SHA1 of the body", "X-Hub-Signature", "ic-client-secret",
		hexWith(sha1.New, "sha1="), `{"type":"notification_event","id":"notif_1","topic":"conversation.user.created"}`),
	"meta": simple("meta", "Meta Graph API: X-Hub-Signature-256 sha256= + hex HMAC-SHA256 with the App Secret", "X-Hub-Signature-256", "meta-app-secret",
		hexWith(sha256.New, "sha256="), `{"object":"whatsapp_business_account","entry":[]}`),
	"typeform": simple("typeform", "Typeform: sha256= + base64 HMAC-SHA256 of the body", "Typeform-Signature", "tf-secret",
		b64With(sha256.New, "sha256="), `{"event_id":"01H0","event_type":"form_response"}`),
	"segment": simple("segment", "Segment webhooks destination: hex HMAC-SHA1 in X-Signature", "X-Signature", "seg-secret",
		hexWith(sha1.New, ""), `{"messageId":"m-1","type":"track"}`),
	"alchemy": simple("alchemy", "Alchemy Notify: hex HMAC-SHA256 in X-Alchemy-Signature", "X-Alchemy-Signature", "alchemy-key",
		hexWith(sha256.New, ""), `{"id":"whevt_1","type":"ADDRESS_ACTIVITY"}`),
	"xero": simple("xero", "Xero: base64 HMAC-SHA256 in x-xero-signature", "X-Xero-Signature", "xero-key",
		b64With(sha256.New, ""), `{"events":[],"firstEventSequence":0,"lastEventSequence":0}`),
	"dropbox": simple("dropbox", "Dropbox: hex HMAC-SHA256 with the app secret in X-Dropbox-Signature", "X-Dropbox-Signature", "dbx-app-secret",
		hexWith(sha256.New, ""), `{"list_folder":{"accounts":["dbid:1"]}}`),
	"pagerduty": simple("pagerduty", "PagerDuty developer-docs 04-Signatures: v1= + hex HMAC-SHA256", "X-PagerDuty-Signature", "pd-secret",
		hexWith(sha256.New, "v1="), `{"event":{"id":"01","event_type":"incident.triggered"}}`),

	"gitea": func(now time.Time, base string) Case {
		// Gitea signs the JSON payload; with a form content type the body is payload=<JSON>.
		payload := `{"ref":"refs/heads/main","commits":[]}`
		body := url.Values{"payload": {payload}}.Encode()
		return Case{Provider: "gitea", Source: "go-gitea services/webhook/deliver.go: hex HMAC-SHA256 of the JSON payload, also for form bodies",
			Secrets: []string{"gitea-secret"}, Method: "POST", URL: base + "/p/gitea",
			Header: hdr("Content-Type", "application/x-www-form-urlencoded", "X-Gitea-Signature", hexMAC(sha256.New, "gitea-secret", payload),
				"X-Gitea-Delivery", "d-gitea-1", "X-Gitea-Event", "push"),
			Body: []byte(body), ID: "d-gitea-1", Event: "push", SignatureHeaders: []string{"X-Gitea-Signature"}}
	},
	"forgejo": func(now time.Time, base string) Case {
		payload := `{"ref":"refs/heads/main"}`
		return Case{Provider: "forgejo", Source: "Forgejo: X-Forgejo-Signature hex HMAC-SHA256 of the JSON payload",
			Secrets: []string{"forgejo-secret"}, Method: "POST", URL: base + "/p/forgejo",
			Header: hdr("Content-Type", "application/json", "X-Forgejo-Signature", hexMAC(sha256.New, "forgejo-secret", payload),
				"X-Forgejo-Delivery", "d-fj-1", "X-Forgejo-Event", "push"),
			Body: []byte(payload), ID: "d-fj-1", Event: "push", SignatureHeaders: []string{"X-Forgejo-Signature"}}
	},
	"gitlab": func(now time.Time, base string) Case {
		return Case{Provider: "gitlab", Source: "GitLab docs: X-Gitlab-Token carries the secret token", Secrets: []string{"gl-token"},
			Method: "POST", URL: base + "/p/gitlab", Header: hdr("X-Gitlab-Token", "gl-token", "X-Gitlab-Event", "Push Hook", "X-Gitlab-Event-UUID", "g-uuid"),
			Body: []byte(`{"object_kind":"push"}`), ID: "g-uuid", Event: "Push Hook", SignatureHeaders: []string{"X-Gitlab-Token"}, BodyUnsigned: true,
			Tamper: func(c *Case) { c.Header.Set("X-Gitlab-Token", "gl-tokeN") }}
	},
	"okta": func(now time.Time, base string) Case {
		return Case{Provider: "okta", Source: "Okta event hooks: the Authorization header carries the configured secret", Secrets: []string{"okta-hook-secret"},
			Method: "POST", URL: base + "/p/okta", Header: hdr("Authorization", "okta-hook-secret", "Content-Type", "application/json"),
			Body: []byte(`{"eventType":"com.okta.event_hook","data":{"events":[]}}`), SignatureHeaders: []string{"Authorization"}, BodyUnsigned: true,
			Tamper: func(c *Case) { c.Header.Set("Authorization", "okta-hook-secreT") }}
	},
	"postmark":  basicAuth("postmark", "Postmark: basic auth credentials in the webhook URL", `{"RecordType":"Delivery","MessageID":"m-1"}`),
	"pipedrive": basicAuth("pipedrive", "Pipedrive: http_auth_user/http_auth_password basic auth", `{"meta":{"id":1},"current":{}}`),

	"stripe": func(now time.Time, base string) Case {
		body := `{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"charge.succeeded"}`
		t := unix(now)
		return Case{Provider: "stripe", Source: "stripe-go webhook.ComputeSignature: t=,v1= hex HMAC-SHA256 over t.body, key = whole whsec_ string",
			Secrets: []string{"whsec_stripe"}, Now: now, Method: "POST", URL: base + "/p/stripe",
			Header: hdr("Stripe-Signature", "t="+t+",v1="+hexMAC(sha256.New, "whsec_stripe", t, ".", body)),
			Body:   []byte(body), ID: "evt_1NG8Du2eZvKYlo2CUI79vXWy", Event: "charge.succeeded", SignatureHeaders: []string{"Stripe-Signature"}, Timestamped: true}
	},
	"slack": func(now time.Time, base string) Case {
		body := `{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}`
		t := unix(now)
		return Case{Provider: "slack", Source: "Slack docs: v0= hex HMAC-SHA256 over v0:ts:body", Secrets: []string{"slack-signing-secret"}, Now: now,
			Method: "POST", URL: base + "/p/slack", Header: hdr("X-Slack-Request-Timestamp", t, "X-Slack-Signature", "v0="+hexMAC(sha256.New, "slack-signing-secret", "v0:", t, ":", body)),
			Body: []byte(body), ID: "Ev1", Event: "event_callback", SignatureHeaders: []string{"X-Slack-Signature"}, Timestamped: true}
	},
	"zoom": func(now time.Time, base string) Case {
		body := `{"event":"meeting.started","payload":{}}`
		t := unix(now)
		return Case{Provider: "zoom", Source: "Zoom docs: x-zm-signature v0= hex HMAC-SHA256 over v0:ts:body with the secret token", Secrets: []string{"zoom-secret-token"}, Now: now,
			Method: "POST", URL: base + "/p/zoom", Header: hdr("X-Zm-Request-Timestamp", t, "X-Zm-Signature", "v0="+hexMAC(sha256.New, "zoom-secret-token", "v0:", t, ":", body)),
			Body: []byte(body), Event: "meeting.started", SignatureHeaders: []string{"X-Zm-Signature"}, Timestamped: true}
	},
	"standard": func(now time.Time, base string) Case {
		body := `{"type":"user.created","data":{"id":"u1"}}`
		t := unix(now)
		return Case{Provider: "standard", Source: "Standard Webhooks spec: v1,<base64 HMAC-SHA256> over id.ts.body, key = base64 after whsec_",
			Secrets: []string{whsec}, Now: now, Method: "POST", URL: base + "/p/standard",
			Header: hdr("Webhook-Id", "msg_fresh", "Webhook-Timestamp", t, "Webhook-Signature", "v1,"+b64MAC(sha256.New, whsecKey(whsec), "msg_fresh.", t, ".", body)),
			Body:   []byte(body), ID: "msg_fresh", Event: "user.created", SignatureHeaders: []string{"Webhook-Signature"}, Timestamped: true,
			WrongSecrets: []string{whsecOther}}
	},
	"standard-v1a": func(now time.Time, base string) Case {
		body := `{"type":"invoice.paid"}`
		t := unix(now)
		sig := ed25519.Sign(discordKey, []byte("msg_v1a."+t+"."+body))
		return Case{Provider: "standard", Source: "Standard Webhooks spec: v1a,<base64 Ed25519> over id.ts.body, whpk_ public key (stdlib Ed25519)",
			PublicKeys: []string{whpk(discordKey)}, Now: now, Method: "POST", URL: base + "/p/standard-v1a",
			Header: hdr("Webhook-Id", "msg_v1a", "Webhook-Timestamp", t, "Webhook-Signature", "v1,AAAA v1a,"+base64.StdEncoding.EncodeToString(sig)),
			Body:   []byte(body), ID: "msg_v1a", SignatureHeaders: []string{"Webhook-Signature"}, Timestamped: true,
			WrongPublicKeys: []string{whpk(otherEd25519)}}
	},
	"paddle": func(now time.Time, base string) Case {
		body := `{"event_id":"evt_01h","event_type":"transaction.completed","data":{}}`
		t := unix(now)
		return Case{Provider: "paddle", Source: "Paddle docs: ts=;h1= hex HMAC-SHA256 over ts:body", Secrets: []string{"pdl_ntfset_secret"}, Now: now,
			Method: "POST", URL: base + "/p/paddle", Header: hdr("Paddle-Signature", "ts="+t+";h1="+hexMAC(sha256.New, "pdl_ntfset_secret", t, ":", body)),
			Body: []byte(body), ID: "evt_01h", Event: "transaction.completed", SignatureHeaders: []string{"Paddle-Signature"}, Timestamped: true}
	},
	"calendly": func(now time.Time, base string) Case {
		body := `{"event":"invitee.created","payload":{}}`
		t := unix(now)
		return Case{Provider: "calendly", Source: "Calendly docs: t=,v1= hex HMAC-SHA256 over t.body", Secrets: []string{"calendly-key"}, Now: now,
			Method: "POST", URL: base + "/p/calendly", Header: hdr("Calendly-Webhook-Signature", "t="+t+",v1="+hexMAC(sha256.New, "calendly-key", t, ".", body)),
			Body: []byte(body), Event: "invitee.created", SignatureHeaders: []string{"Calendly-Webhook-Signature"}, Timestamped: true}
	},
	"mux": func(now time.Time, base string) Case {
		body := `{"id":"mux-evt-1","type":"video.asset.ready"}`
		t := unix(now)
		return Case{Provider: "mux", Source: "@mux/mux-node webhooks.verifySignature: t=,v1= hex HMAC-SHA256 over t.body", Secrets: []string{"mux-secret"}, Now: now,
			Method: "POST", URL: base + "/p/mux", Header: hdr("Mux-Signature", "t="+t+",v1="+hexMAC(sha256.New, "mux-secret", t, ".", body)),
			Body: []byte(body), ID: "mux-evt-1", Event: "video.asset.ready", SignatureHeaders: []string{"Mux-Signature"}, Timestamped: true}
	},
	"sanity": func(now time.Time, base string) Case {
		body := `{"_id":"doc1"}`
		t := unixMs(now)
		sig := base64.RawURLEncoding.EncodeToString(macOf(sha256.New, []byte("sanity-secret"), t, ".", body))
		return Case{Provider: "sanity", Source: "@sanity/webhook: t=<ms>,v1=<base64url HMAC-SHA256> over t.body", Secrets: []string{"sanity-secret"}, Now: now,
			Method: "POST", URL: base + "/p/sanity", Header: hdr("Sanity-Webhook-Signature", "t="+t+",v1="+sig, "Idempotency-Key", "idem-1"),
			Body: []byte(body), ID: "idem-1", SignatureHeaders: []string{"Sanity-Webhook-Signature"}}
	},
	"twitch": func(now time.Time, base string) Case {
		body := `{"subscription":{"type":"channel.follow"},"event":{}}`
		t := now.UTC().Format(time.RFC3339Nano)
		return Case{Provider: "twitch", Source: "Twitch EventSub docs: sha256= hex HMAC-SHA256 over id+timestamp+body", Secrets: []string{"twitch-secret-1234"}, Now: now,
			Method: "POST", URL: base + "/p/twitch", Header: hdr("Twitch-Eventsub-Message-Id", "tw-msg-1", "Twitch-Eventsub-Message-Timestamp", t,
				"Twitch-Eventsub-Subscription-Type", "channel.follow",
				"Twitch-Eventsub-Message-Signature", "sha256="+hexMAC(sha256.New, "twitch-secret-1234", "tw-msg-1", t, body)),
			Body: []byte(body), ID: "tw-msg-1", Event: "channel.follow", SignatureHeaders: []string{"Twitch-Eventsub-Message-Signature"}, Timestamped: true}
	},
	"linear": func(now time.Time, base string) Case {
		body := `{"action":"create","type":"Issue","data":{},"webhookTimestamp":` + unixMs(now) + `}`
		return Case{Provider: "linear", Source: "@linear/sdk LinearWebhookClient.verify: hex HMAC-SHA256 of the body, webhookTimestamp within 60s", Secrets: []string{"lin_wh_secret"}, Now: now,
			Method: "POST", URL: base + "/p/linear", Header: hdr("Linear-Signature", hexMAC(sha256.New, "lin_wh_secret", body), "Linear-Delivery", "lin-d-1", "Linear-Event", "Issue"),
			Body: []byte(body), ID: "lin-d-1", Event: "Issue", SignatureHeaders: []string{"Linear-Signature"}, Timestamped: true}
	},
	"hubspot": func(now time.Time, base string) Case {
		body := `[{"eventId":1,"subscriptionType":"contact.creation"}]`
		u := base + "/p/hubspot?portal=62515&name=a%40b"
		t := unixMs(now)
		// HubSpot decodes %40 and friends in the URI before signing.
		signedURI := strings.ReplaceAll(u, "%40", "@")
		return Case{Provider: "hubspot", Source: "HubSpot docs v3: base64 HMAC-SHA256 over method+uri+body+timestamp (ms), uri with %40 etc. decoded", Secrets: []string{"hs-client-secret"}, Now: now,
			Method: "POST", URL: u, Header: hdr("X-HubSpot-Request-Timestamp", t, "X-HubSpot-Signature-v3", b64MAC(sha256.New, "hs-client-secret", "POST", signedURI, body, t)),
			Body: []byte(body), SignatureHeaders: []string{"X-HubSpot-Signature-v3"}, Timestamped: true}
	},
	"hubspot-v1": func(now time.Time, base string) Case {
		body := `[{"eventId":2,"subscriptionType":"contact.deletion"}]`
		sum := sha256.Sum256([]byte("hs-client-secret" + body))
		return Case{Provider: "hubspot", Source: "@hubspot/api-client Signature.getSignature v1: hex SHA-256 of secret+body (no v3 header)", Secrets: []string{"hs-client-secret"},
			Method: "POST", URL: base + "/p/hubspot-v1", Header: hdr("X-HubSpot-Signature-Version", "v1", "X-HubSpot-Signature", hex.EncodeToString(sum[:])),
			Body: []byte(body), SignatureHeaders: []string{"X-HubSpot-Signature"}}
	},
	"hubspot-v2": func(now time.Time, base string) Case {
		body := `[{"eventId":3,"subscriptionType":"deal.creation"}]`
		u := base + "/p/hubspot-v2?portal=62515"
		sum := sha256.Sum256([]byte("hs-client-secret" + "POST" + u + body))
		return Case{Provider: "hubspot", Source: "@hubspot/api-client Signature.getSignature v2: hex SHA-256 of secret+method+url+body (no v3 header)", Secrets: []string{"hs-client-secret"},
			Method: "POST", URL: u, Header: hdr("X-HubSpot-Signature-Version", "v2", "X-HubSpot-Signature", hex.EncodeToString(sum[:])),
			Body: []byte(body), SignatureHeaders: []string{"X-HubSpot-Signature"}}
	},
	"square": func(now time.Time, base string) Case {
		body := `{"merchant_id":"M1","type":"payment.updated","event_id":"sq-evt-1"}`
		u := base + "/p/square"
		return Case{Provider: "square", Source: "square-go-sdk VerifySignature: base64 HMAC-SHA256 over notification URL + body", Secrets: []string{"sq-signature-key"},
			Method: "POST", URL: u, Header: hdr("X-Square-Hmacsha256-Signature", b64MAC(sha256.New, "sq-signature-key", u, body)),
			Body: []byte(body), ID: "sq-evt-1", Event: "payment.updated", SignatureHeaders: []string{"X-Square-Hmacsha256-Signature", "X-Square-Signature"}}
	},
	"twilio": func(now time.Time, base string) Case {
		u := base + "/p/twilio?foo=1"
		form := url.Values{"CallSid": {"CA123"}, "From": {"+14158675309"}, "Digits": {"5678", "1234", "1234"}}
		return Case{Provider: "twilio", Source: "Twilio docs/twilio-node: base64 HMAC-SHA1 over URL + sorted name+value (values sorted, de-duplicated)", Secrets: []string{"twilio-auth-token"},
			Method: "POST", URL: u, Header: hdr("Content-Type", "application/x-www-form-urlencoded",
				"X-Twilio-Signature", b64MAC(sha1.New, "twilio-auth-token", u, "CallSidCA123", "Digits1234", "Digits5678", "From+14158675309"),
				"I-Twilio-Idempotency-Token", "tw-idem-1"),
			Body: []byte(form.Encode()), ID: "tw-idem-1", SignatureHeaders: []string{"X-Twilio-Signature"}}
	},
	"twilio-json": func(now time.Time, base string) Case {
		body := `{"status":"delivered"}`
		sum := sha256.Sum256([]byte(body))
		u := base + "/p/twilio-json?bodySHA256=" + hex.EncodeToString(sum[:])
		return Case{Provider: "twilio", Source: "twilio-go ValidateBody: base64 HMAC-SHA1 over the URL carrying bodySHA256", Secrets: []string{"twilio-auth-token"},
			Method: "POST", URL: u, Header: hdr("Content-Type", "application/json", "X-Twilio-Signature", b64MAC(sha1.New, "twilio-auth-token", u)),
			Body: []byte(body), SignatureHeaders: []string{"X-Twilio-Signature"}}
	},
	"discord": func(now time.Time, base string) Case {
		body := `{"type":2,"id":"int-1"}`
		t := unix(now)
		return Case{Provider: "discord", Source: "discord-interactions-js verifyKey: hex Ed25519 over timestamp+body (stdlib Ed25519)",
			PublicKeys: []string{hex.EncodeToString(discordKey.Public().(ed25519.PublicKey))}, Now: now, Method: "POST", URL: base + "/p/discord",
			Header: hdr("X-Signature-Timestamp", t, "X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(discordKey, []byte(t+body)))),
			Body:   []byte(body), ID: "int-1", SignatureHeaders: []string{"X-Signature-Ed25519"},
			WrongPublicKeys: []string{hex.EncodeToString(otherEd25519.Public().(ed25519.PublicKey))}}
	},
	"sendgrid": func(now time.Time, base string) Case {
		body := `[{"email":"a@example.com","event":"delivered","sg_event_id":"sg-1"}]`
		t := unix(now)
		digest := sha256.Sum256([]byte(t + body))
		sig, err := ecdsa.SignASN1(rand.Reader, sendgridKey, digest[:])
		if err != nil {
			panic(err)
		}
		return Case{Provider: "sendgrid", Source: "sendgrid-go eventwebhook: base64 DER ECDSA P-256 over sha256(timestamp+body), key pair from its tests",
			PublicKeys: []string{sendgridPublic}, Now: now, Method: "POST", URL: base + "/p/sendgrid",
			Header: hdr("X-Twilio-Email-Event-Webhook-Timestamp", t, "X-Twilio-Email-Event-Webhook-Signature", base64.StdEncoding.EncodeToString(sig)),
			Body:   []byte(body), SignatureHeaders: []string{"X-Twilio-Email-Event-Webhook-Signature"},
			WrongPublicKeys: []string{otherP256Public}}
	},
	"mailgun": func(now time.Time, base string) Case {
		t := unix(now)
		token := "5f1a4e7c9b3d2a8f6e0c1b7d9a3e5f2c4b6d8a0e1f3c5b7d9a"
		body, _ := json.Marshal(map[string]any{
			"signature":  map[string]string{"timestamp": t, "token": token, "signature": hexMAC(sha256.New, "mg-signing-key", t, token)},
			"event-data": map[string]string{"event": "delivered", "id": "mg-ev-1"},
		})
		return Case{Provider: "mailgun", Source: "Mailgun docs securing-webhooks: hex HMAC-SHA256 over timestamp+token", Secrets: []string{"mg-signing-key"}, Now: now,
			Method: "POST", URL: base + "/p/mailgun", Header: hdr("Content-Type", "application/json"), Body: body, ID: token, Event: "delivered",
			BodyUnsigned: true, SignatureInBody: true,
			StripSignature: func(c *Case) { c.Body = []byte(`{"event-data":{"event":"delivered"}}`) },
			Tamper: func(c *Case) {
				c.Body = []byte(strings.Replace(string(c.Body), token, token[:len(token)-1]+"b", 1))
			}}
	},
	"netlify": func(now time.Time, base string) Case {
		body := `{"id":"deploy-1","state":"ready"}`
		sum := sha256.Sum256([]byte(body))
		head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
		claims := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"netlify","sha256":"` + hex.EncodeToString(sum[:]) + `"}`))
		sig := base64.RawURLEncoding.EncodeToString(macOf(sha256.New, []byte("netlify-jws-secret"), head, ".", claims))
		return Case{Provider: "netlify", Source: "Netlify docs: JWS HS256 with claims iss=netlify and sha256 of the body", Secrets: []string{"netlify-jws-secret"},
			Method: "POST", URL: base + "/p/netlify", Header: hdr("X-Webhook-Signature", head+"."+claims+"."+sig, "X-Netlify-Event", "deploy_created"),
			Body: []byte(body), Event: "deploy_created", SignatureHeaders: []string{"X-Webhook-Signature"}}
	},
	"docusign": func(now time.Time, base string) Case {
		body := `{"event":"envelope-completed","data":{}}`
		return Case{Provider: "docusign", Source: "DocuSign Connect HMAC: base64 HMAC-SHA256, one X-DocuSign-Signature-N per active key",
			Secrets: []string{"ds-key-2"}, Method: "POST", URL: base + "/p/docusign",
			Header: hdr("X-DocuSign-Signature-1", b64MAC(sha256.New, "ds-key-1", body), "X-DocuSign-Signature-2", b64MAC(sha256.New, "ds-key-2", body)),
			Body:   []byte(body), Event: "envelope-completed", SignatureHeaders: []string{"X-DocuSign-Signature-1", "X-DocuSign-Signature-2"}}
	},
	"box": func(now time.Time, base string) Case {
		body := `{"type":"webhook_event","id":"box-ev-1","trigger":"FILE.UPLOADED"}`
		t := now.UTC().Format(time.RFC3339)
		return Case{Provider: "box", Source: "Box docs: base64 HMAC-SHA256 over body+BOX-DELIVERY-TIMESTAMP, primary and secondary keys",
			Secrets: []string{"box-secondary"}, Now: now, Method: "POST", URL: base + "/p/box",
			Header: hdr("Box-Delivery-Timestamp", t, "Box-Signature-Primary", b64MAC(sha256.New, "box-primary", body, t),
				"Box-Signature-Secondary", b64MAC(sha256.New, "box-secondary", body, t), "Box-Signature-Version", "1", "Box-Signature-Algorithm", "HmacSHA256"),
			Body: []byte(body), ID: "box-ev-1", Event: "FILE.UPLOADED", SignatureHeaders: []string{"Box-Signature-Primary", "Box-Signature-Secondary"}, Timestamped: true}
	},
}

func basicAuth(provider, source, body string) builder {
	return func(now time.Time, base string) Case {
		creds := provider + "-user:" + provider + "-pass"
		return Case{Provider: provider, Source: source, Secrets: []string{creds}, Method: "POST", URL: base + "/p/" + provider,
			Header: hdr("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(creds)), "Content-Type", "application/json"),
			Body:   []byte(body), SignatureHeaders: []string{"Authorization"}, BodyUnsigned: true, WrongSecrets: []string{"someone:else"},
			Tamper: func(c *Case) {
				c.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(creds+"x")))
			}}
	}
}

// Fresh returns every builder's case, signed at now for URLs under base.
func Fresh(now time.Time, base string) []Case {
	var out []Case
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range Builders {
			if !yield(k) {
				return
			}
		}
	}) {
		c := Builders[name](now, base)
		c.Name = name
		if c.Now.IsZero() {
			c.Now = now
		}
		out = append(out, c)
	}
	return out
}

// Route is the path a fresh case is sent to.
func Route(c Case) string {
	u, _ := url.Parse(c.URL)
	return u.Path
}

// String names a case in test output.
func (c Case) String() string { return fmt.Sprintf("%s (%s)", c.Provider, c.Source) }
