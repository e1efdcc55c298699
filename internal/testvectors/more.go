package testvectors

import (
	"crypto/ed25519"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"time"
)

// spec describes a delivery signed with an HMAC, for the presets whose
// scheme is data: what is signed, how the signature is written and where
// it travels. build signs it with the standard library, from the
// provider's documented formula as Source states it.
type spec struct {
	provider, source string
	secret           string
	// key, when set, is the HMAC key (a decoded secret); else the secret's bytes.
	key       []byte
	hash      func() hash.Hash
	base64    bool
	sigHeader string
	// value writes the header from the timestamp and encoded MAC; default the MAC.
	value func(ts, sig string) string
	// signed is what is signed; default the body.
	signed    func(ts, body string) string
	tsHeader  string
	ts        func(time.Time) string
	body      string
	extra     []string
	id, event string
	// path is appended to the case's URL (a query, say).
	path string
	// checked is whether the preset refuses stale and future timestamps.
	checked bool
	// wrong are secrets that must not verify it (default: a changed secret).
	wrong []string
}

func (s spec) build(now time.Time, base string) Case {
	u := base + "/p/" + s.provider + s.path
	ts := ""
	if s.ts != nil {
		ts = s.ts(now)
	}
	msg := s.body
	if s.signed != nil {
		msg = s.signed(ts, s.body)
	}
	if s.url() {
		msg = s.body + u
	}
	key := s.key
	if key == nil {
		key = []byte(s.secret)
	}
	raw := macOf(s.hash, key, msg)
	sig := hex.EncodeToString(raw)
	if s.base64 {
		sig = base64.StdEncoding.EncodeToString(raw)
	}
	value := sig
	if s.value != nil {
		value = s.value(ts, sig)
	}
	h := hdr(s.extra...)
	h.Set("Content-Type", "application/json")
	h.Set(s.sigHeader, value)
	if s.tsHeader != "" {
		h.Set(s.tsHeader, ts)
	}
	return Case{Provider: s.provider, Source: s.source, Secrets: []string{s.secret}, Now: now, Method: "POST", URL: u,
		Header: h, Body: []byte(s.body), ID: s.id, Event: s.event, SignatureHeaders: []string{s.sigHeader}, Timestamped: s.checked, WrongSecrets: s.wrong}
}

// url reports whether the spec signs body+URL (Trello).
func (s spec) url() bool { return s.provider == "trello" }

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func prefixed(p string) func(ts, sig string) string {
	return func(_, sig string) string { return p + sig }
}

func secondsTS(t time.Time) string { return unix(t) }
func millisTS(t time.Time) string  { return unixMs(t) }

func joined(sep string) func(ts, body string) string {
	return func(ts, body string) string { return ts + sep + body }
}

func versioned(v string) func(ts, body string) string {
	return func(ts, body string) string { return v + ":" + ts + ":" + body }
}

// telnyxKey is a test Ed25519 key for Telnyx (seed 32 × 0x07).
var telnyxKey = ed25519.NewKeyFromSeed([]byte("\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07\x07"))

var specs = []spec{
	{provider: "workos", checked: true, source: "@workos-inc/node 11.0.0 SignatureProvider.computeSignature: t=<ms>, v1=<hex HMAC-SHA256 of t.body>",
		secret: "workos-endpoint-secret", hash: sha256.New, sigHeader: "WorkOS-Signature", ts: millisTS, signed: joined("."),
		value: func(ts, sig string) string { return "t=" + ts + ", v1=" + sig },
		body:  `{"id":"event_01H","event":"dsync.user.created","data":{}}`, id: "event_01H", event: "dsync.user.created"},
	{provider: "moderntreasury", source: "modern-treasury 3.3.0 webhooks.getSignature: hex HMAC-SHA256 of the body in X-Signature",
		secret: "mt-webhook-key", hash: sha256.New, sigHeader: "X-Signature", body: `{"event":"completed","data":{"id":"po_1"}}`, event: "completed"},
	{provider: "gocardless", source: "gocardless-nodejs 10.1.2 webhooks.verifySignature: hex HMAC-SHA256 of the body in Webhook-Signature",
		secret: "gc-endpoint-secret", hash: sha256.New, sigHeader: "Webhook-Signature", body: `{"events":[{"id":"EV1","action":"created"}],"meta":{"webhook_id":"WB1"}}`},
	{provider: "line", source: "@line/bot-sdk 11.2.0 validateSignature: base64 HMAC-SHA256 of the body with the channel secret in x-line-signature",
		secret: "line-channel-secret", hash: sha256.New, base64: true, sigHeader: "X-Line-Signature", body: `{"destination":"U1","events":[]}`},
	{provider: "webflow", checked: true, source: "webflow-api 3.3.4 webhooks.verifySignature: hex HMAC-SHA256 of {x-webflow-timestamp}:{body}",
		secret: "webflow-secret", hash: sha256.New, sigHeader: "X-Webflow-Signature", tsHeader: "X-Webflow-Timestamp", ts: millisTS, signed: joined(":"),
		body: `{"triggerType":"form_submission","payload":{}}`, event: "form_submission"},
	{provider: "orb", checked: true, source: "orb-billing 6.11.0 webhooks.verifySignature: v1=<hex HMAC-SHA256 of v1:{X-Orb-Timestamp}:{body}>, zone-less ISO time, ±5 min",
		secret: "orb-webhook-secret", hash: sha256.New, sigHeader: "X-Orb-Signature", tsHeader: "X-Orb-Timestamp",
		ts: func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") }, signed: versioned("v1"), value: prefixed("v1="),
		body: `{"id":"orb_evt_1","type":"invoice.issued","properties":{}}`, id: "orb_evt_1", event: "invoice.issued"},
	{provider: "pusher", source: "pusher 5.3.4 WebHook.isValid: hex HMAC-SHA256 of the body with the app secret in X-Pusher-Signature",
		secret: "pusher-app-secret", hash: sha256.New, sigHeader: "X-Pusher-Signature", body: `{"time_ms":1750000000000,"events":[{"name":"channel_occupied","channel":"c"}]}`,
		extra: []string{"X-Pusher-Key", "app-key"}},
	{provider: "elevenlabs", checked: true, source: "@elevenlabs/elevenlabs-js 2.73.0 webhooks.constructEvent: t=<s>,v0=<hex HMAC-SHA256 of t.body>, 30 min",
		secret: "wsec_elevenlabs", hash: sha256.New, sigHeader: "ElevenLabs-Signature", ts: secondsTS, signed: joined("."),
		value: func(ts, sig string) string { return "t=" + ts + ",v0=" + sig },
		body:  `{"type":"post_call_transcription","data":{}}`, event: "post_call_transcription"},
	{provider: "onfido", source: "@onfido/api 6.2.0 WebhookEventVerifier.readPayload: hex HMAC-SHA256 of the body in X-SHA2-Signature",
		secret: "onfido-webhook-token", hash: sha256.New, sigHeader: "X-SHA2-Signature", body: `{"payload":{"resource_type":"check","action":"check.completed"}}`},
	{provider: "zendesk", source: "Zendesk docs, verifying webhooks: base64 HMAC-SHA256 of timestamp+body",
		secret: "zendesk-signing-secret", hash: sha256.New, base64: true, sigHeader: "X-Zendesk-Webhook-Signature",
		tsHeader: "X-Zendesk-Webhook-Signature-Timestamp", ts: func(t time.Time) string { return t.UTC().Format(time.RFC3339) }, signed: joined(""),
		body: `{"type":"zen:event-type:ticket.created","id":"zd-1"}`},
	{provider: "clickup", source: "ClickUp docs, webhook signature: hex HMAC-SHA256 of the body in X-Signature",
		secret: "clickup-webhook-secret", hash: sha256.New, sigHeader: "X-Signature", body: `{"webhook_id":"7689a169","event":"taskCreated","task_id":"c0j"}`, event: "taskCreated"},
	{provider: "aftership", source: "AfterShip docs, webhook signature: base64 HMAC-SHA256 of the body in aftership-hmac-sha256",
		secret: "aftership-secret", hash: sha256.New, base64: true, sigHeader: "Aftership-Hmac-Sha256", body: `{"event":"tracking_update","msg":{"id":"t1"}}`, event: "tracking_update"},
	{provider: "paystack", source: "Paystack: hex HMAC-SHA512 of the body with the secret key in x-paystack-signature (3P, consistent)",
		secret: "sk_test_paystack", hash: sha512.New, sigHeader: "X-Paystack-Signature", body: `{"event":"charge.success","data":{"id":302961}}`, event: "charge.success"},
	{provider: "heroku", source: "Heroku app webhooks: base64 HMAC-SHA256 of the body in Heroku-Webhook-Hmac-SHA256 (3P, consistent)",
		secret: "heroku-webhook-secret", hash: sha256.New, base64: true, sigHeader: "Heroku-Webhook-Hmac-SHA256",
		body: `{"action":"update","resource":"release","data":{}}`, extra: []string{"Heroku-Webhook-Id", "hk-wh-1"}, id: "hk-wh-1"},
	{provider: "circleci", source: "CircleCI webhooks: circleci-signature v1=<hex HMAC-SHA256 of the body> (3P, consistent)",
		secret: "circleci-secret", hash: sha256.New, sigHeader: "Circleci-Signature", value: prefixed("v1="),
		body: `{"id":"3888f21b","type":"workflow-completed"}`, extra: []string{"Circleci-Event-Type", "workflow-completed"}, id: "3888f21b", event: "workflow-completed"},
	{provider: "buildkite", checked: true, source: "Buildkite docs: X-Buildkite-Signature timestamp=<unix>,signature=<hex HMAC-SHA256 of timestamp.body>",
		secret: "buildkite-token", hash: sha256.New, sigHeader: "X-Buildkite-Signature", ts: secondsTS, signed: joined("."),
		value: func(ts, sig string) string { return "timestamp=" + ts + ",signature=" + sig },
		body:  `{"event":"build.finished","build":{}}`, extra: []string{"X-Buildkite-Event", "build.finished"}, event: "build.finished"},
	{provider: "launchdarkly", source: "LaunchDarkly: hex HMAC-SHA256 of the body in X-LD-Signature (3P, consistent)",
		secret: "ld-webhook-secret", hash: sha256.New, sigHeader: "X-LD-Signature", body: `{"_id":"ld-1","kind":"flag"}`},
	{provider: "twitter", source: "X Account Activity API: sha256=<base64 HMAC-SHA256 of the body> with the consumer secret (3P, consistent)",
		secret: "x-consumer-secret", hash: sha256.New, base64: true, sigHeader: "X-Twitter-Webhooks-Signature", value: prefixed("sha256="),
		body: `{"for_user_id":"2244994945","tweet_create_events":[]}`},
	{provider: "patreon", source: "Patreon: hex HMAC-MD5 of the body in X-Patreon-Signature (3P, consistent)",
		secret: "patreon-webhook-secret", hash: md5.New, sigHeader: "X-Patreon-Signature", body: `{"data":{"type":"member"}}`,
		extra: []string{"X-Patreon-Event", "members:pledge:create"}, event: "members:pledge:create"},
	{provider: "calcom", source: "Cal.com: hex HMAC-SHA256 of the body in X-Cal-Signature-256 (3P, consistent)",
		secret: "cal-webhook-secret", hash: sha256.New, sigHeader: "X-Cal-Signature-256", body: `{"triggerEvent":"BOOKING_CREATED","payload":{}}`, event: "BOOKING_CREATED"},
	{provider: "frameio", checked: true, source: "Frame.io: X-Frameio-Signature v0=<hex HMAC-SHA256 of v0:{timestamp}:{body}> (3P, consistent)",
		secret: "frameio-secret", hash: sha256.New, sigHeader: "X-Frameio-Signature", tsHeader: "X-Frameio-Request-Timestamp", ts: secondsTS,
		signed: versioned("v0"), value: prefixed("v0="), body: `{"type":"asset.created","resource":{}}`, event: "asset.created"},
	{provider: "trello", source: "Trello docs: base64 HMAC-SHA1 of body + callback URL with the app secret in X-Trello-Webhook",
		secret: "trello-app-secret", hash: sha1.New, base64: true, sigHeader: "X-Trello-Webhook", body: `{"action":{"id":"5f1","type":"updateCard"},"model":{}}`},
	{provider: "teams", source: "Microsoft Teams outgoing webhooks: Authorization: HMAC <base64 HMAC-SHA256 of the body>, key = base64-decoded security token",
		secret: base64.StdEncoding.EncodeToString([]byte("teams-security-token-bytes")), key: []byte("teams-security-token-bytes"), hash: sha256.New, base64: true,
		wrong:     []string{base64.StdEncoding.EncodeToString([]byte("other-security-token"))},
		sigHeader: "Authorization", value: prefixed("HMAC "), body: `{"type":"message","id":"1485983408511","text":"hi"}`, id: "1485983408511", event: "message"},
	{provider: "chargify", source: "Maxio/Chargify: hex HMAC-SHA256 of the body in X-Chargify-Webhook-Signature-Hmac-Sha-256 (3P, consistent)",
		secret: "chargify-shared-key", hash: sha256.New, sigHeader: "X-Chargify-Webhook-Signature-Hmac-Sha-256", body: `{"event":"signup_success","payload":{}}`,
		extra: []string{"X-Chargify-Webhook-Id", "cf-1"}, id: "cf-1"},
	{provider: "quickbooks", source: "Intuit QuickBooks: base64 HMAC-SHA256 of the body with the verifier token in intuit-signature (3P, consistent)",
		secret: "intuit-verifier-token", hash: sha256.New, base64: true, sigHeader: "Intuit-Signature", body: `{"eventNotifications":[{"realmId":"1"}]}`},
	{provider: "helpscout", source: "Help Scout: base64 HMAC-SHA1 of the body in X-HelpScout-Signature (3P, consistent)",
		secret: "helpscout-secret", hash: sha1.New, base64: true, sigHeader: "X-HelpScout-Signature", body: `{"id":1,"subject":"x"}`,
		extra: []string{"X-HelpScout-Event", "convo.created"}, event: "convo.created"},
	{provider: "webex", source: "Webex: hex HMAC-SHA1 of the body in X-Spark-Signature (3P, consistent)",
		secret: "webex-secret", hash: sha1.New, sigHeader: "X-Spark-Signature", body: `{"id":"wx-1","event":"created","resource":"messages"}`, id: "wx-1", event: "created"},
	{provider: "notion", source: "Notion: sha256=<hex HMAC-SHA256 of the body> with the verification token in X-Notion-Signature (3P, consistent)",
		secret: "secret_notion_verification", hash: sha256.New, sigHeader: "X-Notion-Signature", value: prefixed("sha256="),
		body: `{"id":"nt-1","type":"page.created"}`, id: "nt-1", event: "page.created"},
	{provider: "lob", checked: true, source: "Lob: hex HMAC-SHA256 of {Lob-Signature-Timestamp}.{body}, ms timestamp, 5 min (3P, consistent)",
		secret: "lob-webhook-secret", hash: sha256.New, sigHeader: "Lob-Signature", tsHeader: "Lob-Signature-Timestamp", ts: millisTS, signed: joined("."),
		body: `{"id":"evt_lob_1","event_type":{"id":"letter.delivered"}}`, id: "evt_lob_1"},
	{provider: "nylas", source: "Nylas v3: hex HMAC-SHA256 of the body in X-Nylas-Signature (3P, consistent)",
		secret: "nylas-webhook-secret", hash: sha256.New, sigHeader: "X-Nylas-Signature", body: `{"specversion":"1.0","type":"message.created","id":"ny-1"}`},
	{provider: "checkr", source: "Checkr docs (validating webhooks): hex HMAC-SHA256 of the body in X-Checkr-Signature",
		secret: "checkr-api-key", hash: sha256.New, sigHeader: "X-Checkr-Signature", body: `{"id":"ck-1","type":"report.completed"}`, id: "ck-1", event: "report.completed"},
	{provider: "dwolla", source: "Dwolla: hex HMAC-SHA256 of the body in X-Request-Signature-SHA-256 (3P, consistent)",
		secret: "dwolla-webhook-secret", hash: sha256.New, sigHeader: "X-Request-Signature-SHA-256", body: `{"id":"dw-1","topic":"transfer_completed"}`, id: "dw-1", event: "transfer_completed"},
	{provider: "checkout", source: "Checkout.com: hex HMAC-SHA256 of the body in Cko-Signature (3P, consistent)",
		secret: "cko-webhook-secret", hash: sha256.New, sigHeader: "Cko-Signature", body: `{"id":"evt_cko_1","type":"payment_approved"}`, id: "evt_cko_1", event: "payment_approved"},
	{provider: "customerio", source: "Customer.io: hex HMAC-SHA256 of v0:{X-CIO-Timestamp}:{body} in X-CIO-Signature (3P, consistent)",
		secret: "cio-signing-key", hash: sha256.New, sigHeader: "X-CIO-Signature", tsHeader: "X-CIO-Timestamp", ts: secondsTS, signed: versioned("v0"),
		body: `{"event_id":"cio-1","metric":"delivered"}`},
	{provider: "adyenplatform", source: "@adyen/api-library HmacValidator.validateHMACSignature: base64 HMAC-SHA256 of the body, hex-decoded key, in HmacSignature",
		secret: "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056", key: mustHex("44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"),
		hash: sha256.New, base64: true, sigHeader: "HmacSignature", body: `{"data":{"balancePlatform":"YOUR_BALANCE_PLATFORM"},"type":"balancePlatform.accountHolder.created"}`,
		wrong: []string{"AB"}},
	{provider: "tiktok", source: "TikTok docs, webhooks verification: TikTok-Signature t=<unix>,s=<hex HMAC-SHA256 of t.body>",
		secret: "tiktok-client-secret", hash: sha256.New, sigHeader: "TikTok-Signature", ts: secondsTS, signed: joined("."),
		value: func(ts, sig string) string { return "t=" + ts + ",s=" + sig }, body: `{"client_key":"ck","event":"authorization.removed","create_time":1750000000}`},
	{provider: "easypost", source: "EasyPost: X-Hmac-Signature hmac-sha256-hex=<hex HMAC-SHA256 of the body>, NFKD secret (3P, consistent)",
		secret: "easypost-ﬁ-secret", key: []byte("easypost-fi-secret"), hash: sha256.New, sigHeader: "X-Hmac-Signature", value: prefixed("hmac-sha256-hex="),
		body: `{"id":"evt_ep_1","description":"tracker.updated"}`, id: "evt_ep_1", event: "tracker.updated"},
	{provider: "asana", source: "Asana docs, webhooks: hex HMAC-SHA256 of the body in X-Hook-Signature, keyed with the handshake's X-Hook-Secret",
		secret: "asana-x-hook-secret", hash: sha256.New, sigHeader: "X-Hook-Signature", body: `{"events":[{"action":"changed","resource":{"gid":"1"}}]}`},
}

func init() {
	for _, s := range specs {
		Builders[s.provider] = s.build
	}
	Builders["telegram"] = func(now time.Time, base string) Case {
		return Case{Provider: "telegram", Source: "Telegram Bot API setWebhook: secret_token sent in X-Telegram-Bot-Api-Secret-Token",
			Secrets: []string{"tg_secret-Token1"}, Method: "POST", URL: base + "/p/telegram",
			Header: hdr("X-Telegram-Bot-Api-Secret-Token", "tg_secret-Token1", "Content-Type", "application/json"),
			Body:   []byte(`{"update_id":10000,"message":{"text":"hi"}}`), ID: "10000", SignatureHeaders: []string{"X-Telegram-Bot-Api-Secret-Token"}, BodyUnsigned: true,
			Tamper: func(c *Case) { c.Header.Set("X-Telegram-Bot-Api-Secret-Token", "tg_secret-Token2") }}
	}
	Builders["telnyx"] = func(now time.Time, base string) Case {
		body := `{"data":{"event_type":"message.received","id":"tx-1"}}`
		t := unix(now)
		other := ed25519.NewKeyFromSeed(make([]byte, 32))
		return Case{Provider: "telnyx", Source: "telnyx 7.24.0 lib/webhooks.ts: base64 Ed25519 over timestamp|body, base64 public key, ±5 min (stdlib Ed25519)",
			PublicKeys: []string{base64.StdEncoding.EncodeToString(telnyxKey.Public().(ed25519.PublicKey))}, Now: now, Method: "POST", URL: base + "/p/telnyx",
			Header: hdr("Telnyx-Timestamp", t, "Telnyx-Signature-Ed25519", base64.StdEncoding.EncodeToString(ed25519.Sign(telnyxKey, []byte(t+"|"+body))), "Content-Type", "application/json"),
			Body:   []byte(body), SignatureHeaders: []string{"Telnyx-Signature-Ed25519"}, Timestamped: true,
			WrongPublicKeys: []string{base64.StdEncoding.EncodeToString(other.Public().(ed25519.PublicKey))}}
	}
}
