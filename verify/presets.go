package verify

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// hmacPreset makes a preset out of a scheme written as data.
func schemePreset(name, summary string, tolerance time.Duration, s Scheme, aliases ...string) *Preset {
	kind := SharedSecret
	if s.PublicKey != NoPublicKey {
		kind = PublicKey
	}
	return &Preset{
		Name:       name,
		Aliases:    aliases,
		Summary:    summary,
		Tolerance:  tolerance,
		KeyKind:    kind,
		DeliveryID: describeID(s.IDHeaders, s.IDField),
		IDSigned:   (len(s.IDHeaders) == 0 && s.IDField != "") || strings.Contains(s.Signed, "{id}"),
		build: func(cfg Config) (Verifier, error) {
			return s.compile(cfg)
		},
		sign: s.signer(),
	}
}

// signing sets how a code preset signs test deliveries.
func signing(p *Preset, sign func(SignOptions, *Signed) error) *Preset {
	p.sign = sign
	return p
}

func same(secret string) string { return secret }

func basicCredentials(secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(secret))
}

// describeID writes where an id comes from, for listings.
func describeID(headers []string, field string) string {
	parts := slices.Clone(headers)
	if field != "" {
		parts = append(parts, "body "+field)
	}
	return strings.Join(parts, ", ")
}

// codePreset makes a preset out of a verifier written as code.
func codePreset(name, summary, deliveryID string, tolerance time.Duration, build func(Config) (Verifier, error)) *Preset {
	return &Preset{Name: name, Summary: summary, DeliveryID: deliveryID, Tolerance: tolerance, build: build}
}

// idSigned marks a code preset whose id the signature (or the secret the
// request carries) covers.
func idSigned(p *Preset) *Preset {
	p.IDSigned = true
	return p
}

// with sets the methods and handshake of a preset.
func with(p *Preset, handshake func(*Request) *Handshake, methods ...string) *Preset {
	p.Handshake = handshake
	p.Methods = methods
	return p
}

// bodyHMAC is the most common scheme: an HMAC of the raw body in one header.
func bodyHMAC(header string, alg Algorithm, enc Encoding, prefix string) Scheme {
	return Scheme{SignatureHeaders: []string{header}, Algorithm: alg, Encoding: enc, Prefix: prefix}
}

// ids adds where a scheme finds its delivery id and event type: names
// starting with "body." are top-level JSON fields, others headers.
func ids(s Scheme, id, event string) Scheme {
	for _, spec := range []struct {
		name    string
		headers *[]string
		field   *string
	}{
		{id, &s.IDHeaders, &s.IDField},
		{event, &s.EventHeaders, &s.EventField},
	} {
		for _, n := range strings.Fields(spec.name) {
			if f, ok := strings.CutPrefix(n, "body."); ok {
				*spec.field = f
			} else {
				*spec.headers = append(*spec.headers, n)
			}
		}
	}
	return s
}

// sanityMinimumTimestamp is @sanity/webhook's MINIMUM_TIMESTAMP
// (2021-01-01): an earlier t is not a millisecond timestamp.
var sanityMinimumTimestamp = time.UnixMilli(1609459200000)

const (
	fiveMinutes = 5 * time.Minute
	tenMinutes  = 10 * time.Minute
)

// hubspotURI undoes the percent-encodings HubSpot decodes before signing
// v3 requests (developers.hubspot.com, "Validate the v3 request signature").
var hubspotURI = strings.NewReplacer(
	"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$",
	"%27", "'", "%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";",
	"%3a", ":", "%2f", "/", "%3f", "?", "%2a", "*", "%2c", ",", "%3b", ";",
).Replace

// standardScheme is Standard Webhooks' layout, with HMAC (v1) or Ed25519
// (v1a) signatures.
func standardScheme(version string, pub PublicKeyKind) Scheme {
	return Scheme{
		SignatureHeaders: []string{"Webhook-Signature", "Svix-Signature"},
		Encoding:         Base64,
		Format:           VersionedList(' ', version),
		Signed:           "{id}.{timestamp}.{body}",
		TimestampHeaders: []string{"Webhook-Timestamp", "Svix-Timestamp"},
		SecretFormat:     SecretWhsec,
		IDHeaders:        []string{"Webhook-Id", "Svix-Id"},
		EventField:       "type",
		PublicKey:        pub,
	}
}

func init() {
	register(
		schemePreset("github", "HMAC-SHA256 hex of the body in X-Hub-Signature-256 (sha1 X-Hub-Signature only when that is absent)", 0,
			ids(Scheme{
				SignatureHeaders: []string{"X-Hub-Signature-256"},
				Prefix:           "sha256=",
				Fallback:         &Scheme{SignatureHeaders: []string{"X-Hub-Signature"}, Algorithm: SHA1, Prefix: "sha1="},
			}, "X-GitHub-Delivery", "X-GitHub-Event")),

		signing(idSigned(codePreset("gitlab", "secret token in X-Gitlab-Token, compared in constant time", "X-Gitlab-Event-UUID, Idempotency-Key", 0, func(cfg Config) (Verifier, error) {
			s := TokenScheme{Header: "X-Gitlab-Token", IDHeaders: []string{"X-Gitlab-Event-UUID", "Idempotency-Key"}, EventHeaders: []string{"X-Gitlab-Event"}}
			return s.compile(cfg)
		})), signToken("X-Gitlab-Token", same, "X-Gitlab-Event-UUID", "X-Gitlab-Event", "Push Hook")),

		schemePreset("stripe", "Stripe-Signature t=,v1= HMAC-SHA256 hex over {t}.{body}", fiveMinutes,
			ids(Scheme{SignatureHeaders: []string{"Stripe-Signature"}, Format: KeyValueList(',', "t", "v1"), Signed: "{timestamp}.{body}"},
				"body.id", "body.type")),

		challenging(schemePreset("slack", "X-Slack-Signature v0= HMAC-SHA256 hex over v0:{timestamp}:{body}; answers url_verification", fiveMinutes,
			ids(Scheme{SignatureHeaders: []string{"X-Slack-Signature"}, Prefix: "v0=", Signed: "v0:{timestamp}:{body}", TimestampHeaders: []string{"X-Slack-Request-Timestamp"}},
				"body.event_id", "body.type")), slackURLVerification),

		schemePreset("shopify", "X-Shopify-Hmac-Sha256: HMAC-SHA256 base64 of the body", 0,
			ids(Scheme{SignatureHeaders: []string{"X-Shopify-Hmac-Sha256", "Shopify-Hmac-Sha256"}, Encoding: Base64},
				"X-Shopify-Event-Id Shopify-Event-Id X-Shopify-Webhook-Id", "X-Shopify-Topic Shopify-Topic")),

		&Preset{
			Name:       "standard",
			Aliases:    []string{"svix", "clerk", "resend", "openai", "replicate", "lithic", "brex"},
			Summary:    "Standard Webhooks / Svix: webhook-signature v1,<base64> HMAC-SHA256 (whsec_ secret) or v1a Ed25519 (whpk_ key) over {id}.{timestamp}.{body}",
			Tolerance:  fiveMinutes,
			KeyKind:    SecretOrPublicKey,
			DeliveryID: "webhook-id, svix-id",
			IDSigned:   true,
			sign:       standardScheme("v1", NoPublicKey).signer(),
			build: func(cfg Config) (Verifier, error) {
				var any anyOf
				if len(cfg.Secrets) > 0 {
					s := standardScheme("v1", NoPublicKey)
					v, err := s.compile(Config{Secrets: cfg.Secrets, Tolerance: cfg.Tolerance, Now: cfg.Now})
					if err != nil {
						return nil, err
					}
					any = append(any, v)
				}
				if len(cfg.PublicKeys) > 0 {
					s := standardScheme("v1a", Ed25519Whpk)
					v, err := s.compile(Config{PublicKeys: cfg.PublicKeys, Tolerance: cfg.Tolerance, Now: cfg.Now})
					if err != nil {
						return nil, err
					}
					any = append(any, v)
				}
				if len(any) == 1 {
					return any[0], nil
				}
				return any, nil
			},
		},

		&Preset{
			Name:       "hmac",
			Summary:    "generic HMAC: header, algorithm, encoding, prefix, signed template, timestamp_header",
			Tolerance:  fiveMinutes,
			DeliveryID: "id_header (default Idempotency-Key)",
			Methods:    []string{http.MethodPost, http.MethodPut, http.MethodPatch},
			build: func(cfg Config) (Verifier, error) {
				s, err := cfg.Generic.scheme()
				if err != nil {
					return nil, err
				}
				v, err := s.compile(cfg)
				if err != nil {
					return nil, fmt.Errorf("provider hmac: %w", err)
				}
				return v, nil
			},
		},

		// Source control and developer tools
		schemePreset("bitbucket", "X-Hub-Signature sha256= HMAC-SHA256 hex of the body", 0,
			ids(bodyHMAC("X-Hub-Signature", SHA256, Hex, "sha256="), "X-Request-UUID", "X-Event-Key")),
		schemePreset("gitea", "X-Gitea-Signature: HMAC-SHA256 hex of the JSON payload (the payload field of a form body)", 0,
			ids(Scheme{SignatureHeaders: []string{"X-Gitea-Signature", "X-Forgejo-Signature"}, FormPayload: true},
				"X-Gitea-Delivery X-Forgejo-Delivery", "X-Gitea-Event X-Forgejo-Event")),
		schemePreset("forgejo", "X-Forgejo-Signature: HMAC-SHA256 hex of the JSON payload (the payload field of a form body)", 0,
			ids(Scheme{SignatureHeaders: []string{"X-Forgejo-Signature", "X-Gitea-Signature"}, FormPayload: true},
				"X-Forgejo-Delivery X-Gitea-Delivery", "X-Forgejo-Event X-Gitea-Event")),
		schemePreset("jira", "Jira admin webhooks: X-Hub-Signature sha256= HMAC-SHA256 hex of the body", 0,
			ids(bodyHMAC("X-Hub-Signature", SHA256, Hex, "sha256="), "X-Atlassian-Webhook-Identifier", "body.webhookEvent")),
		// Linear signs only the body: its webhookTimestamp field is the one
		// timestamp a replay cannot change. The Linear-Timestamp header is
		// unsigned and never read, or a captured delivery could be resent
		// forever with a fresh one.
		schemePreset("linear", "Linear-Signature: HMAC-SHA256 hex of the body; the signed webhookTimestamp body field (ms) within 60s", time.Minute,
			ids(Scheme{SignatureHeaders: []string{"Linear-Signature"}, TimestampField: "webhookTimestamp", TimestampFormat: UnixMillis},
				"Linear-Delivery", "Linear-Event")),
		schemePreset("sentry", "Sentry-Hook-Signature: HMAC-SHA256 hex of the body", 0,
			ids(bodyHMAC("Sentry-Hook-Signature", SHA256, Hex, ""), "Request-ID", "Sentry-Hook-Resource")),
		schemePreset("vercel", "x-vercel-signature: HMAC-SHA1 hex of the body", 0,
			ids(bodyHMAC("X-Vercel-Signature", SHA1, Hex, ""), "body.id", "body.type")),
		signing(codePreset("netlify", "X-Webhook-Signature: JWS HS256 with iss netlify and the body's SHA-256", "", 0, newNetlify), signNetlify),
		schemePreset("terraform", "HCP Terraform X-TFE-Notification-Signature: HMAC-SHA512 hex of the body", 0,
			bodyHMAC("X-TFE-Notification-Signature", SHA512, Hex, "")),
		schemePreset("pagerduty", "X-PagerDuty-Signature v1=<hex>[,v1=...]: HMAC-SHA256 of the body", 0,
			Scheme{SignatureHeaders: []string{"X-PagerDuty-Signature"}, Format: KeyValueList(',', "", "v1")}),
		schemePreset("sanity", "sanity-webhook-signature t=<ms>,v1=<base64url> over {t}.{body}", 0,
			ids(Scheme{SignatureHeaders: []string{"Sanity-Webhook-Signature"}, Encoding: Base64URL, Format: KeyValueList(',', "t", "v1"),
				Signed: "{timestamp}.{body}", TimestampFormat: UnixMillis, NotBefore: sanityMinimumTimestamp}, "Idempotency-Key", "")),

		// Payments and commerce
		schemePreset("paddle", "Paddle-Signature ts=;h1=: HMAC-SHA256 hex over {ts}:{body}", 5*time.Second,
			ids(Scheme{SignatureHeaders: []string{"Paddle-Signature"}, Format: KeyValueList(';', "ts", "h1"), Signed: "{timestamp}:{body}"},
				"body.event_id", "body.event_type")),
		schemePreset("square", "x-square-hmacsha256-signature: HMAC-SHA256 base64 over notification URL + body", 0,
			ids(Scheme{SignatureHeaders: []string{"X-Square-Hmacsha256-Signature"}, Encoding: Base64, Signed: "{url}{body}",
				Fallback: &Scheme{SignatureHeaders: []string{"X-Square-Signature"}, Algorithm: SHA1, Encoding: Base64, Signed: "{url}{body}"}},
				"body.event_id", "body.type")),
		schemePreset("lemonsqueezy", "X-Signature: HMAC-SHA256 hex of the body", 0,
			ids(bodyHMAC("X-Signature", SHA256, Hex, ""), "", "X-Event-Name")),
		schemePreset("razorpay", "X-Razorpay-Signature: HMAC-SHA256 hex of the body", 0,
			ids(bodyHMAC("X-Razorpay-Signature", SHA256, Hex, ""), "X-Razorpay-Event-Id", "body.event")),
		schemePreset("coinbase", "Coinbase Commerce X-CC-Webhook-Signature: HMAC-SHA256 hex of the body", 0,
			bodyHMAC("X-CC-Webhook-Signature", SHA256, Hex, "")),
		with(schemePreset("woocommerce", "X-WC-Webhook-Signature: HMAC-SHA256 base64 of the body", 0,
			ids(bodyHMAC("X-WC-Webhook-Signature", SHA256, Base64, ""), "X-WC-Webhook-Delivery-ID", "X-WC-Webhook-Topic")),
			wooCommercePing, http.MethodPost),

		// Messaging, email and communication
		with(signing(codePreset("twilio", "X-Twilio-Signature: HMAC-SHA1 base64 over the URL + sorted form params (or the URL with bodySHA256)", "I-Twilio-Idempotency-Token", 0, newTwilio), signTwilio),
			nil, http.MethodPost, http.MethodGet),
		challenging(schemePreset("zoom", "x-zm-signature v0= HMAC-SHA256 hex over v0:{timestamp}:{body}; answers endpoint.url_validation", fiveMinutes,
			ids(Scheme{SignatureHeaders: []string{"X-Zm-Signature"}, Prefix: "v0=", Signed: "v0:{timestamp}:{body}", TimestampHeaders: []string{"X-Zm-Request-Timestamp"}},
				"", "body.event")), zoomURLValidation),
		challenging(schemePreset("discord", "X-Signature-Ed25519: Ed25519 (hex public_key) over {timestamp}{body}; answers PING", 0,
			ids(Scheme{SignatureHeaders: []string{"X-Signature-Ed25519"}, Signed: "{timestamp}{body}", TimestampHeaders: []string{"X-Signature-Timestamp"}, PublicKey: Ed25519Hex},
				"body.id", "")), discordPing),
		schemePreset("sendgrid", "X-Twilio-Email-Event-Webhook-Signature: ECDSA P-256 (base64 public_key) over {timestamp}{body}", 0,
			Scheme{SignatureHeaders: []string{"X-Twilio-Email-Event-Webhook-Signature"}, Encoding: Base64, Signed: "{timestamp}{body}",
				TimestampHeaders: []string{"X-Twilio-Email-Event-Webhook-Timestamp"}, PublicKey: ECDSAP256}),
		signing(idSigned(codePreset("mailgun", "signature object in the body: HMAC-SHA256 hex over timestamp+token (the event data is not signed)", "body signature token", 0, newMailgun)), signMailgun),
		signing(codePreset("postmark", "HTTP basic auth user:password (no signature)", "", 0, newBasicAuth), signToken("Authorization", basicCredentials, "", "", "")),
		signing(codePreset("pipedrive", "HTTP basic auth user:password (no signature)", "", 0, newBasicAuth), signToken("Authorization", basicCredentials, "", "", "")),
		schemePreset("intercom", "X-Hub-Signature sha1= HMAC-SHA1 hex of the body", 0,
			ids(bodyHMAC("X-Hub-Signature", SHA1, Hex, "sha1="), "body.id", "body.topic")),
		signing(codePreset("hubspot", "X-HubSpot-Signature-v3: HMAC-SHA256 base64 over {method}{url}{body}{timestamp ms}; without it, v1/v2 X-HubSpot-Signature (hex SHA-256 of secret+body, secret+method+url+body)", "", fiveMinutes, newHubSpot),
			hubspotScheme.signer()),
		with(schemePreset("meta", "Meta (WhatsApp, Facebook, Instagram) X-Hub-Signature-256 sha256= HMAC-SHA256 hex of the body; answers the hub.challenge GET", 0,
			Scheme{SignatureHeaders: []string{"X-Hub-Signature-256"}, Prefix: "sha256=",
				Fallback: &Scheme{SignatureHeaders: []string{"X-Hub-Signature"}, Algorithm: SHA1, Prefix: "sha1="}}),
			echoQuery("hub.challenge", func(q url.Values) bool { return q.Get("hub.mode") == "subscribe" }), http.MethodPost, http.MethodGet),
		challenging(schemePreset("twitch", "Twitch-Eventsub-Message-Signature sha256= HMAC-SHA256 hex over {id}{timestamp}{body}; answers webhook_callback_verification", tenMinutes,
			ids(Scheme{SignatureHeaders: []string{"Twitch-Eventsub-Message-Signature"}, Prefix: "sha256=", Signed: "{id}{timestamp}{body}",
				TimestampHeaders: []string{"Twitch-Eventsub-Message-Timestamp"}, TimestampFormat: RFC3339},
				"Twitch-Eventsub-Message-Id", "Twitch-Eventsub-Subscription-Type")), twitchCallbackVerification),

		// Forms, scheduling, content and data
		schemePreset("typeform", "Typeform-Signature sha256= HMAC-SHA256 base64 of the body", 0,
			ids(bodyHMAC("Typeform-Signature", SHA256, Base64, "sha256="), "body.event_id", "body.event_type")),
		schemePreset("calendly", "Calendly-Webhook-Signature t=,v1= HMAC-SHA256 hex over {t}.{body}", 3*time.Minute,
			ids(Scheme{SignatureHeaders: []string{"Calendly-Webhook-Signature"}, Format: KeyValueList(',', "t", "v1"), Signed: "{timestamp}.{body}"},
				"", "body.event")),
		schemePreset("mux", "Mux-Signature t=,v1= HMAC-SHA256 hex over {t}.{body}", fiveMinutes,
			ids(Scheme{SignatureHeaders: []string{"Mux-Signature"}, Format: KeyValueList(',', "t", "v1"), Signed: "{timestamp}.{body}"},
				"body.id", "body.type")),
		schemePreset("segment", "X-Signature: HMAC-SHA1 hex of the body", 0,
			ids(bodyHMAC("X-Signature", SHA1, Hex, ""), "body.messageId", "body.type")),
		schemePreset("alchemy", "X-Alchemy-Signature: HMAC-SHA256 hex of the body", 0,
			ids(bodyHMAC("X-Alchemy-Signature", SHA256, Hex, ""), "body.id", "body.type")),
		schemePreset("xero", "x-xero-signature: HMAC-SHA256 base64 of the body", 0,
			bodyHMAC("X-Xero-Signature", SHA256, Base64, "")),
		schemePreset("docusign", "X-DocuSign-Signature-1..N: HMAC-SHA256 base64 of the body, one per Connect key", 0,
			ids(Scheme{SignatureHeaders: docusignHeaders(), AllSignatureHeaders: true, Encoding: Base64}, "", "body.event")),
		schemePreset("box", "BOX-SIGNATURE-PRIMARY/-SECONDARY: HMAC-SHA256 base64 over {body}{BOX-DELIVERY-TIMESTAMP}", tenMinutes,
			ids(Scheme{SignatureHeaders: []string{"Box-Signature-Primary", "Box-Signature-Secondary"}, AllSignatureHeaders: true, Encoding: Base64,
				Signed: "{body}{timestamp}", TimestampHeaders: []string{"Box-Delivery-Timestamp"}, TimestampFormat: RFC3339,
				FixedHeaders: map[string]string{"Box-Signature-Version": "1", "Box-Signature-Algorithm": "HmacSHA256"}},
				"body.id", "body.trigger")),
		with(schemePreset("dropbox", "X-Dropbox-Signature: HMAC-SHA256 hex of the body; answers the ?challenge= GET", 0,
			bodyHMAC("X-Dropbox-Signature", SHA256, Hex, "")),
			echoQuery("challenge", nil), http.MethodPost, http.MethodGet),
		with(signing(codePreset("okta", "Okta event hooks: Authorization header equals the secret; answers the verification GET", "", 0, func(cfg Config) (Verifier, error) {
			s := TokenScheme{Header: "Authorization"}
			return s.compile(cfg)
		}), signToken("Authorization", same, "", "", "")), oktaVerification, http.MethodPost, http.MethodGet),
	)
}

// docusignHeaders are X-DocuSign-Signature-1 to -10; Connect sends one per
// active HMAC key (up to 100, but accounts rarely have more than a few).
func docusignHeaders() []string {
	var h []string
	for i := 1; i <= 10; i++ {
		h = append(h, fmt.Sprintf("X-DocuSign-Signature-%d", i))
	}
	return h
}
