package verify

import (
	"net/http"
	"time"
)

// Presets for the rest of ngrok's verify-webhook list (issue 16), each
// checked against the provider's SDK or documentation; internal/testvectors
// names the source of each. brex is an alias of standard (presets.go).
func init() {
	register(
		// Autodesk Platform Services (aps.autodesk.com, "How to verify
		// payload signature"): the secret token set with the Webhooks API.
		schemePreset("autodesk", "Autodesk Platform Services x-adsk-signature: sha1hash= + HMAC-SHA1 hex of the body (the webhook secret token)", 0,
			bodyHMAC("X-Adsk-Signature", SHA1, Hex, "sha1hash=")),
		// Bolt (help.bolt.com, "How to verify webhooks"): the signing secret.
		schemePreset("bolt", "Bolt X-Bolt-Hmac-Sha256: HMAC-SHA256 base64 of the body (signing secret)", 0,
			bodyHMAC("X-Bolt-Hmac-Sha256", SHA256, Base64, "")),
		// Castle (castle-node WebhookVerifyService): the API secret.
		schemePreset("castle", "Castle X-Castle-Signature: HMAC-SHA256 base64 of the body (API secret)", 0,
			ids(bodyHMAC("X-Castle-Signature", SHA256, Base64, ""), "", "body.type")),
		// Clearbit (clearbit-ruby Clearbit::Webhook): the secret API key,
		// without its sk_ prefix.
		schemePreset("clearbit", "Clearbit X-Request-Signature: sha1= + HMAC-SHA1 hex of the body (secret API key, sk_ prefix dropped)", 0,
			Scheme{SignatureHeaders: []string{"X-Request-Signature"}, Algorithm: SHA1, Prefix: "sha1=", SecretFormat: SecretKeyPrefix}),
		// Go1 (@go1/webhook-verifier-js): t= is unix seconds, 60 s by default.
		schemePreset("go1", "Go1-Signature t=<unix>,v1=<hex>: HMAC-SHA256 over {t}.{body} (the webhook secret_key), within 60s", time.Minute,
			ids(Scheme{SignatureHeaders: []string{"Go1-Signature"}, Format: KeyValueList(',', "t", "v1"), Signed: "{timestamp}.{body}"}, "", "body.type")),
		// HostedHooks (docs.hostedhooks.com, "Webhook signatures"): the docs
		// name the header as Rack sees it, HTTP_HOSTEDHOOKS_SIGNATURE, which
		// either spelling below produces. Each retry is signed afresh.
		schemePreset("hostedhooks", "HostedHooks-Signature t=<unix>,s=<hex>: HMAC-SHA256 over {t}.{body} (endpoint signing secret)", fiveMinutes,
			Scheme{SignatureHeaders: []string{"HostedHooks-Signature", "Hostedhooks_Signature"}, Format: KeyValueList(',', "t", "s"), Signed: "{timestamp}.{body}"}),
		// MongoDB Atlas, Cloud Manager and Ops Manager alert webhooks
		// (mongodb.com/docs/atlas/tutorial/webhook-integration).
		schemePreset("mongodb", "MongoDB Atlas X-MMS-Signature: HMAC-SHA1 base64 of the body (webhook secret)", 0,
			ids(bodyHMAC("X-MMS-Signature", SHA1, Base64, ""), "", "X-MMS-Event")),
		// Pinwheel (docs.pinwheelapi.com, "Webhook signature verification"):
		// the API secret signs v2:{x-timestamp}:{raw body}. The docs do not
		// say how x-timestamp is written, so it is signed as received and not
		// checked for age.
		schemePreset("pinwheel", "Pinwheel x-pinwheel-signature v2=<hex>: HMAC-SHA256 over v2:{x-timestamp}:{body} (API secret)", 0,
			ids(Scheme{SignatureHeaders: []string{"X-Pinwheel-Signature"}, Prefix: "v2=", Signed: "v2:{header.X-Timestamp}:{body}"}, "", "body.event")),
		// Signal Sciences / Fastly Next-Gen WAF generic webhooks
		// (docs.fastly.com/signalsciences/integrations/generic-webhooks).
		schemePreset("signalsciences", "Signal Sciences (Fastly NGWAF) X-SigSci-Signature: HMAC-SHA256 hex of the body (webhook signing key)", 0,
			ids(bodyHMAC("X-SigSci-Signature", SHA256, Hex, ""), "", "body.type"), "signal_sciences"),
		// Sonatype Nexus Repository (help.sonatype.com, "Working with HMAC
		// payloads").
		schemePreset("sonatype", "Sonatype Nexus X-Nexus-Webhook-Signature: HMAC-SHA1 hex of the body (secret key)", 0,
			bodyHMAC("X-Nexus-Webhook-Signature", SHA1, Hex, ""), "nexus"),
		// Trend Micro Cloud One Conformity (cloudone.trendmicro.com/docs/
		// conformity/webhook-communication): the webhook security token.
		schemePreset("conformity", "Trend Micro Cloud One Conformity X-Conformity-Signature: HMAC-SHA256 hex of the body (webhook security token)", 0,
			bodyHMAC("X-Conformity-Signature", SHA256, Hex, ""), "trendmicro_conformity"),
		// Worldline Direct and Connect (onlinepayments-sdk-nodejs and
		// connect-sdk-nodejs webhooks/validation.ts): any key of the account
		// may sign (X-GCS-KeyId names which); the event id is in the signed
		// body. The endpoint is verified with an unsigned GET whose
		// X-GCS-Webhooks-Endpoint-Verification header must be echoed.
		with(schemePreset("worldline", "Worldline X-GCS-Signature: HMAC-SHA256 base64 of the body (secret webhook key); answers the endpoint-verification GET", 0,
			ids(bodyHMAC("X-GCS-Signature", SHA256, Base64, ""), "body.id", "body.type")),
			worldlineVerification, http.MethodPost, http.MethodGet),

		with(signing(codePreset("plivo", "Plivo X-Plivo-Signature-V3: HMAC-SHA256 base64 (Auth Token) over the URL, its sorted query and sorted form params, then .{X-Plivo-Signature-V3-Nonce}", "", 0, newPlivo), signPlivo),
			nil, http.MethodPost, http.MethodGet),
		// ngrok's identifier for Hygraph is its old name, GraphCMS.
		aliased(signing(codePreset("hygraph", "Hygraph (GraphCMS) gcms-signature sign=<base64>, env=<environment>, t=<ms>: HMAC-SHA256 over the JSON {Body, EnvironmentName, TimeStamp}", "", 0, newHygraph), signHygraph),
			"graphcms"),
	)
}

// aliased adds other accepted names to a code preset.
func aliased(p *Preset, names ...string) *Preset {
	p.Aliases = append(p.Aliases, names...)
	return p
}

// worldlineVerification answers Worldline's endpoint check, a GET carrying
// X-GCS-Webhooks-Endpoint-Verification, with that header's value as the
// body (docs.connect.worldline-solutions.com/documentation/webhooks:
// "respond to the GET action and echo the X-GCS-Webhooks-Endpoint-
// Verification header value in the body").
func worldlineVerification(req *Request) *Handshake {
	challenge, _ := header(req.Header, []string{"X-Gcs-Webhooks-Endpoint-Verification"})
	if req.Method != http.MethodGet || challenge == "" || len(challenge) > maxChallenge {
		return nil
	}
	return textAnswer(challenge)
}
