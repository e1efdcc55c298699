package verify

import (
	"net/http"
	"time"
)

// Presets added for issue 16, each checked against the provider's SDK, its
// documentation or, where neither was at hand, consistent independent
// implementations; internal/testvectors names the source of each.
func init() {
	register(
		// Identity, billing and payments
		schemePreset("workos", "WorkOS-Signature t=<ms>, v1=<hex>: HMAC-SHA256 over {t}.{body}", 3*time.Minute,
			ids(Scheme{SignatureHeaders: []string{"WorkOS-Signature"}, Format: KeyValueList(',', "t", "v1"), Signed: "{timestamp}.{body}", TimestampFormat: UnixMillis},
				"body.id", "body.event")),
		schemePreset("moderntreasury", "X-Signature: HMAC-SHA256 hex of the body", 0,
			ids(bodyHMAC("X-Signature", SHA256, Hex, ""), "", "body.event"), "modern_treasury"),
		schemePreset("gocardless", "Webhook-Signature: HMAC-SHA256 hex of the body", 0,
			bodyHMAC("Webhook-Signature", SHA256, Hex, "")),
		schemePreset("orb", "X-Orb-Signature v1=<hex>: HMAC-SHA256 over v1:{X-Orb-Timestamp}:{body}", fiveMinutes,
			ids(Scheme{SignatureHeaders: []string{"X-Orb-Signature"}, Format: KeyValueList(' ', "", "v1"), Signed: "v1:{timestamp}:{body}",
				TimestampHeaders: []string{"X-Orb-Timestamp"}, TimestampFormat: ISO8601}, "body.id", "body.type")),
		schemePreset("paystack", "x-paystack-signature: HMAC-SHA512 hex of the body (secret key)", 0,
			ids(bodyHMAC("X-Paystack-Signature", SHA512, Hex, ""), "", "body.event")),
		schemePreset("patreon", "X-Patreon-Signature: HMAC-MD5 hex of the body", 0,
			ids(bodyHMAC("X-Patreon-Signature", MD5, Hex, ""), "", "X-Patreon-Event")),
		schemePreset("onfido", "X-SHA2-Signature: HMAC-SHA256 hex of the body (webhook token)", 0,
			bodyHMAC("X-SHA2-Signature", SHA256, Hex, "")),

		// Developer tools and infrastructure
		schemePreset("circleci", "circleci-signature v1=<hex>: HMAC-SHA256 of the body", 0,
			ids(Scheme{SignatureHeaders: []string{"Circleci-Signature"}, Format: KeyValueList(',', "", "v1")}, "body.id", "Circleci-Event-Type")),
		schemePreset("buildkite", "X-Buildkite-Signature timestamp=,signature=: HMAC-SHA256 hex over {timestamp}.{body}", fiveMinutes,
			ids(Scheme{SignatureHeaders: []string{"X-Buildkite-Signature"}, Format: KeyValueList(',', "timestamp", "signature"), Signed: "{timestamp}.{body}"},
				"", "X-Buildkite-Event")),
		schemePreset("heroku", "Heroku-Webhook-Hmac-SHA256: HMAC-SHA256 base64 of the body", 0,
			ids(bodyHMAC("Heroku-Webhook-Hmac-SHA256", SHA256, Base64, ""), "Heroku-Webhook-Id", "")),
		schemePreset("launchdarkly", "X-LD-Signature: HMAC-SHA256 hex of the body", 0,
			bodyHMAC("X-LD-Signature", SHA256, Hex, ""), "launch_darkly"),
		schemePreset("webflow", "x-webflow-signature: HMAC-SHA256 hex over {x-webflow-timestamp ms}:{body}", fiveMinutes,
			ids(Scheme{SignatureHeaders: []string{"X-Webflow-Signature"}, Signed: "{timestamp}:{body}", TimestampHeaders: []string{"X-Webflow-Timestamp"}, TimestampFormat: UnixMillis},
				"", "body.triggerType")),
		schemePreset("pusher", "X-Pusher-Signature: HMAC-SHA256 hex of the body (app secret)", 0,
			bodyHMAC("X-Pusher-Signature", SHA256, Hex, "")),
		schemePreset("clickup", "X-Signature: HMAC-SHA256 hex of the body", 0,
			ids(bodyHMAC("X-Signature", SHA256, Hex, ""), "", "body.event")),
		schemePreset("frameio", "X-Frameio-Signature v0=: HMAC-SHA256 hex over v0:{timestamp}:{body}", fiveMinutes,
			ids(Scheme{SignatureHeaders: []string{"X-Frameio-Signature"}, Prefix: "v0=", Signed: "v0:{timestamp}:{body}", TimestampHeaders: []string{"X-Frameio-Request-Timestamp"}},
				"", "body.type")),
		// Trello signs the body followed by the callback URL it was given.
		with(schemePreset("trello", "X-Trello-Webhook: HMAC-SHA1 base64 over {body}{callback url} (app secret); answers the HEAD check", 0,
			Scheme{SignatureHeaders: []string{"X-Trello-Webhook"}, Algorithm: SHA1, Encoding: Base64, Signed: "{body}{url}"}),
			headOK, http.MethodPost, http.MethodHead),

		// Messaging, support and voice
		schemePreset("line", "x-line-signature: HMAC-SHA256 base64 of the body (channel secret)", 0,
			bodyHMAC("X-Line-Signature", SHA256, Base64, "")),
		schemePreset("zendesk", "X-Zendesk-Webhook-Signature: HMAC-SHA256 base64 over {X-Zendesk-Webhook-Signature-Timestamp}{body}", 0,
			Scheme{SignatureHeaders: []string{"X-Zendesk-Webhook-Signature"}, Encoding: Base64, Signed: "{header.X-Zendesk-Webhook-Signature-Timestamp}{body}"}),
		schemePreset("elevenlabs", "ElevenLabs-Signature t=,v0=: HMAC-SHA256 hex over {t}.{body}", 30*time.Minute,
			ids(Scheme{SignatureHeaders: []string{"ElevenLabs-Signature"}, Format: KeyValueList(',', "t", "v0"), Signed: "{timestamp}.{body}"}, "", "body.type")),
		schemePreset("telnyx", "telnyx-signature-ed25519: Ed25519 (base64 public_key) over {telnyx-timestamp}|{body}", fiveMinutes,
			Scheme{SignatureHeaders: []string{"Telnyx-Signature-Ed25519"}, Encoding: Base64, Signed: "{timestamp}|{body}",
				TimestampHeaders: []string{"Telnyx-Timestamp"}, PublicKey: Ed25519Base64}),
		schemePreset("teams", "Microsoft Teams outgoing webhook: Authorization HMAC <base64 HMAC-SHA256 of the body>, base64 security token", 0,
			ids(Scheme{SignatureHeaders: []string{"Authorization"}, Prefix: "HMAC ", Encoding: Base64, SecretFormat: SecretBase64}, "body.id", "body.type"),
			"microsoft_teams"),
		signing(idSigned(codePreset("telegram", "X-Telegram-Bot-Api-Secret-Token equals the secret_token given to setWebhook", "body update_id", 0, func(cfg Config) (Verifier, error) {
			s := TokenScheme{Header: "X-Telegram-Bot-Api-Secret-Token", IDField: "update_id"}
			return s.compile(cfg)
		})), signToken("X-Telegram-Bot-Api-Secret-Token", same, "", "", "")),

		challenging(signing(&Preset{Name: "asana", Summary: "X-Hook-Signature: HMAC-SHA256 hex of the body, keyed with the X-Hook-Secret of the handshake (kept per route) or a configured secret",
			KeyKind: HandshakeSecret, build: newAsana}, asanaScheme.signer()), asanaHandshake),

		schemePreset("chargify", "Maxio Advanced Billing (Chargify) X-Chargify-Webhook-Signature-Hmac-Sha-256: HMAC-SHA256 hex of the body (site shared key)", 0,
			ids(bodyHMAC("X-Chargify-Webhook-Signature-Hmac-Sha-256", SHA256, Hex, ""), "X-Chargify-Webhook-Id", ""), "maxio"),
		schemePreset("quickbooks", "Intuit QuickBooks intuit-signature: HMAC-SHA256 base64 of the body (verifier token)", 0,
			bodyHMAC("Intuit-Signature", SHA256, Base64, ""), "intuit"),
		schemePreset("helpscout", "X-HelpScout-Signature: HMAC-SHA1 base64 of the body", 0,
			ids(bodyHMAC("X-HelpScout-Signature", SHA1, Base64, ""), "", "X-HelpScout-Event")),
		schemePreset("webex", "Webex X-Spark-Signature: HMAC-SHA1 hex of the body", 0,
			ids(bodyHMAC("X-Spark-Signature", SHA1, Hex, ""), "body.id", "body.event")),
		schemePreset("notion", "X-Notion-Signature sha256=: HMAC-SHA256 hex of the body (verification_token)", 0,
			ids(bodyHMAC("X-Notion-Signature", SHA256, Hex, "sha256="), "body.id", "body.type")),
		schemePreset("lob", "Lob-Signature: HMAC-SHA256 hex over {Lob-Signature-Timestamp ms}.{body}", fiveMinutes,
			ids(Scheme{SignatureHeaders: []string{"Lob-Signature"}, Signed: "{timestamp}.{body}", TimestampHeaders: []string{"Lob-Signature-Timestamp"}, TimestampFormat: UnixMillis},
				"body.id", "")),
		with(schemePreset("nylas", "X-Nylas-Signature: HMAC-SHA256 hex of the body (webhook secret); answers the ?challenge= GET", 0,
			bodyHMAC("X-Nylas-Signature", SHA256, Hex, "")), echoQuery("challenge", nil), http.MethodPost, http.MethodGet),
		schemePreset("checkr", "X-Checkr-Signature: HMAC-SHA256 hex of the body", 0,
			ids(bodyHMAC("X-Checkr-Signature", SHA256, Hex, ""), "body.id", "body.type")),
		schemePreset("dwolla", "X-Request-Signature-SHA-256: HMAC-SHA256 hex of the body", 0,
			ids(bodyHMAC("X-Request-Signature-SHA-256", SHA256, Hex, ""), "body.id", "body.topic")),
		schemePreset("checkout", "Checkout.com Cko-Signature: HMAC-SHA256 hex of the body", 0,
			ids(bodyHMAC("Cko-Signature", SHA256, Hex, ""), "body.id", "body.type"), "checkout_com"),
		schemePreset("customerio", "X-CIO-Signature: HMAC-SHA256 hex over v0:{X-CIO-Timestamp}:{body}", 0,
			Scheme{SignatureHeaders: []string{"X-CIO-Signature"}, Signed: "v0:{timestamp}:{body}", TimestampHeaders: []string{"X-CIO-Timestamp"}}, "customer_io"),

		// Code presets: signatures inside the body, canonical requests, RSA.
		signing(idSigned(codePreset("adyen", "Adyen notifications: additionalData.hmacSignature in every item, HMAC-SHA256 base64 (hex key) over pspReference:originalReference:merchantAccountCode:merchantReference:amount:currency:eventCode:success", "body pspReference:eventCode:success", 0, newAdyen)), signAdyen),
		challenging(with(signing(codePreset("braintree", "bt_signature public_key|HMAC-SHA1 hex (key SHA-1 of the private key) of bt_payload; secret public_key:private_key; answers bt_challenge", "", 0, newBraintree), signBraintree),
			nil, http.MethodPost, http.MethodGet), braintreeChallenge),
		signing(codePreset("contentful", "x-contentful-signature: HMAC-SHA256 hex over METHOD, path, signed headers and body, x-contentful-timestamp (ms) within 30s", "", 30*time.Second, newContentful), signContentful),
		with(signing(codePreset("mandrill", "Mailchimp Transactional X-Mandrill-Signature: HMAC-SHA1 base64 over URL + sorted form params; answers the HEAD check", "", 0, newMandrill), signMandrill),
			headOK, http.MethodPost, http.MethodHead),
		challenging(idSigned(codePreset("sns", "Amazon SNS: RSA (SignatureVersion 1 SHA-1, 2 SHA-256) over the canonical message, certificate from an https sns.<region>.amazonaws.com URL; secret = allowed topic ARNs; confirms subscriptions with confirm_subscription", "body MessageId", 0, newSNS)), snsSubscription),
		with(signing(codePreset("msgraph", "Microsoft Graph change notifications: every value[].clientState equals the secret (no signature); answers ?validationToken=", "", 0, newMSGraph), signMSGraph),
			graphValidation, http.MethodPost),

		schemePreset("adyenplatform", "Adyen platform and management webhooks: HmacSignature header, HMAC-SHA256 base64 of the body (hex key)", 0,
			Scheme{SignatureHeaders: []string{"HmacSignature"}, Encoding: Base64, SecretFormat: SecretHex}, "adyen_platform"),
		schemePreset("tiktok", "TikTok-Signature t=<unix>,s=<hex>: HMAC-SHA256 over {t}.{body} (client secret)", 0,
			Scheme{SignatureHeaders: []string{"TikTok-Signature"}, Format: KeyValueList(',', "t", "s"), Signed: "{timestamp}.{body}"}),
		schemePreset("easypost", "X-Hmac-Signature hmac-sha256-hex=: HMAC-SHA256 hex of the body (NFKD-normalised secret)", 0,
			ids(Scheme{SignatureHeaders: []string{"X-Hmac-Signature"}, Prefix: "hmac-sha256-hex=", SecretFormat: SecretNFKD}, "body.id", "body.description")),

		// Shipping, commerce, scheduling and social
		schemePreset("aftership", "aftership-hmac-sha256 (as-signature-hmac-sha256 for Returns, Warranty): HMAC-SHA256 base64 of the body", 0,
			ids(Scheme{SignatureHeaders: []string{"Aftership-Hmac-Sha256", "As-Signature-Hmac-Sha256"}, Encoding: Base64}, "", "body.event")),
		schemePreset("calcom", "X-Cal-Signature-256: HMAC-SHA256 hex of the body", 0,
			ids(bodyHMAC("X-Cal-Signature-256", SHA256, Hex, ""), "", "body.triggerEvent")),
		challenging(with(schemePreset("twitter", "X / Twitter x-twitter-webhooks-signature sha256=<base64 HMAC-SHA256 of the body> (consumer secret); answers the CRC GET", 0,
			bodyHMAC("X-Twitter-Webhooks-Signature", SHA256, Base64, "sha256="), "x"),
			nil, http.MethodPost, http.MethodGet), twitterCRC),
	)
}
