package testvectors

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Cases for the presets that complete ngrok's verify-webhook list, signed
// with the standard library from each provider's documented formula.
var ngrokSpecs = []spec{
	{provider: "autodesk", source: "APS docs, How to verify payload signature: x-adsk-signature sha1hash=<hex HMAC-SHA1 of the body> with the secret token",
		secret: "aps-webhook-secret-token-0123456789", hash: sha1.New, sigHeader: "X-Adsk-Signature", value: prefixed("sha1hash="),
		body: `{"version":"1.0","resourceUrn":"urn:adsk.wipprod:dm.lineage:1","hook":{"event":"dm.version.added"},"payload":{}}`},
	{provider: "bolt", source: "Bolt docs, How to verify webhooks: X-Bolt-Hmac-Sha256 base64 HMAC-SHA256 of the body with the signing secret",
		secret: "bolt-signing-secret", hash: sha256.New, base64: true, sigHeader: "X-Bolt-Hmac-Sha256", body: `{"type":"pending","object":"transaction","data":{"id":"TAe1"}}`},
	{provider: "castle", source: "castle-node WebhookVerifyService: X-Castle-Signature base64 HMAC-SHA256 of the body with the API secret",
		secret: "castle-api-secret", hash: sha256.New, base64: true, sigHeader: "X-Castle-Signature",
		body: `{"api_version":"v1","type":"$incident.confirmed","data":{"user_id":"u1"}}`, event: "$incident.confirmed"},
	{provider: "clearbit", source: "clearbit-ruby Clearbit::Webhook: X-Request-Signature sha1=<hex HMAC-SHA1 of the body>, key = API key without sk_",
		secret: "sk_clearbit0123456789", key: []byte("clearbit0123456789"), hash: sha1.New, sigHeader: "X-Request-Signature", value: prefixed("sha1="),
		wrong: []string{"sk_clearbit0123456780", "clearbit"}, body: `{"id":"custom_id","status":200,"type":"person","body":{}}`},
	{provider: "go1", checked: true, source: "@go1/webhook-verifier-js verifySignature: Go1-Signature t=<unix>,v1=<hex HMAC-SHA256 of t.body>, 60 s",
		secret: "go1-secret-key", hash: sha256.New, sigHeader: "Go1-Signature", ts: secondsTS, signed: joined("."),
		value: func(ts, sig string) string { return "t=" + ts + ",v1=" + sig },
		body:  `{"type":"user.create","fired_at":"2020-04-29T06:29:13+0000","data":{"id":"8191190"}}`, event: "user.create"},
	{provider: "hostedhooks", checked: true, source: "HostedHooks docs, Webhook signatures: t=<unix>,s=<hex HMAC-SHA256 of t.body> with the endpoint signing secret",
		secret: "hostedhooks-signing-secret", hash: sha256.New, sigHeader: "HostedHooks-Signature", ts: secondsTS, signed: joined("."),
		value: func(ts, sig string) string { return "t=" + ts + ",s=" + sig },
		body:  `{"data":{"order":{"id":1}},"version":"1.0","event_type":"order.fulfilled"}`},
	{provider: "mongodb", source: "MongoDB Atlas docs, Integrate with webhooks: X-MMS-Signature base64 HMAC-SHA1 of the body",
		secret: "atlas-webhook-secret", hash: sha1.New, base64: true, sigHeader: "X-MMS-Signature",
		body: `{"id":"5c0a1b2c3d4e5f6a7b8c9d0e","eventTypeName":"JOINED_GROUP","status":"OPEN"}`, extra: []string{"X-MMS-Event", "alert.open"}, event: "alert.open"},
	{provider: "pinwheel", source: "Pinwheel docs, Webhook signature verification: x-pinwheel-signature v2=<hex HMAC-SHA256 of v2:{x-timestamp}:{body}> with the API secret",
		secret: "pinwheel-api-secret", hash: sha256.New, sigHeader: "X-Pinwheel-Signature", tsHeader: "X-Timestamp", ts: secondsTS, signed: versioned("v2"),
		value: prefixed("v2="), body: `{"event":"account.added","event_id":"e1","payload":{}}`, event: "account.added"},
	{provider: "signalsciences", source: "Fastly docs, Signal Sciences generic webhooks: X-SigSci-Signature hex HMAC-SHA256 of the payload",
		secret: "sigsci-signing-key", hash: sha256.New, sigHeader: "X-SigSci-Signature",
		body: `{"created":"2022-12-09T10:43:54-08:00","type":"flag","payload":{}}`, event: "flag"},
	{provider: "sonatype", source: "Sonatype docs, Working with HMAC payloads: X-Nexus-Webhook-Signature hex HMAC-SHA1 of the body",
		secret: "nexus-secret-key", hash: sha1.New, sigHeader: "X-Nexus-Webhook-Signature",
		body: `{"timestamp":"2016-11-10T23:57:49.664+0000","nodeId":"52905B51","initiator":"admin/127.0.0.1","repositoryName":"npm-proxy","action":"CREATED"}`},
	{provider: "conformity", source: "Trend Micro Cloud One Conformity docs, Webhook communication: X-Conformity-Signature hex HMAC-SHA256 of the body",
		secret: "Y29uZm9ybWl0eS10b2tlbg", hash: sha256.New, sigHeader: "X-Conformity-Signature", body: `{"id":"ccc:check:1","riskLevel":"HIGH"}`},
	{provider: "worldline", source: "onlinepayments-sdk-nodejs webhooks/validation.ts: X-GCS-Signature base64 HMAC-SHA256 of the body, X-GCS-KeyId names the key",
		secret: "worldline-secret-webhook-key", hash: sha256.New, base64: true, sigHeader: "X-GCS-Signature", extra: []string{"X-GCS-KeyId", "key-1"},
		body: `{"apiVersion":"v1","id":"8ee793f6-4553-4749-85dc-f2ef095c5ab0","created":"2017-02-02T11:24:14.040+0100","merchantId":"20000","type":"payment.paid"}`,
		id:   "8ee793f6-4553-4749-85dc-f2ef095c5ab0", event: "payment.paid"},
}

// hygraphPayload is JSON.stringify({Body, EnvironmentName, TimeStamp}) for
// strings without \b, \f, U+2028 or U+2029, where Go's encoder (HTML
// escaping off) writes what JavaScript does.
func hygraphPayload(body, env string, ts int64) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Body            string
		EnvironmentName string
		TimeStamp       int64
	}{body, env, ts}); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// plivoV3 signs as plivo-node's validateV3Signature checks, for a URL
// without a fragment and parameters without escapes needing decoding:
// scheme://host/path?<query pairs sorted>[.]<form params sorted> . nonce.
func plivoV3(authToken, rawURL string, form url.Values, nonce string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	base := u.Scheme + "://" + u.Host + u.EscapedPath()
	var pairs []string
	for k, vs := range u.Query() {
		for _, v := range vs {
			pairs = append(pairs, k+"\x00"+v)
		}
	}
	sort.Strings(pairs)
	query := strings.ReplaceAll(strings.Join(pairs, "&"), "\x00", "=")
	var params []string
	for k, vs := range form {
		for _, v := range vs {
			params = append(params, k+"\x00"+v)
		}
	}
	sort.Strings(params)
	if query != "" || len(params) > 0 {
		base += "?" + query
	}
	if query != "" && len(params) > 0 {
		base += "."
	}
	for _, p := range params {
		base += strings.Replace(p, "\x00", "", 1)
	}
	return base64.StdEncoding.EncodeToString(macOf(sha256.New, []byte(authToken), base, ".", nonce))
}

func init() {
	for _, s := range ngrokSpecs {
		Builders[s.provider] = s.build
	}
	Builders["hygraph"] = func(now time.Time, base string) Case {
		body := `{"operation":"publish","data":{"__typename":"Post","title":"<b>\"Hé\"</b>\nline"}}` + "\n"
		ts := now.UnixMilli()
		sig := base64.StdEncoding.EncodeToString(macOf(sha256.New, []byte("hygraph-secret-key-at-least-32-chars"), hygraphPayload(body, "master", ts)))
		return Case{Provider: "hygraph", Source: "@hygraph/utils generateWebhookSignature: sign=<base64 HMAC-SHA256 of JSON {Body, EnvironmentName, TimeStamp}>, env=, t=<ms>",
			Secrets: []string{"hygraph-secret-key-at-least-32-chars"}, Now: now, Method: "POST", URL: base + "/p/hygraph",
			Header: hdr("Gcms-Signature", "sign="+sig+", env=master, t="+unixMs(now), "Content-Type", "application/json"),
			Body:   []byte(body), SignatureHeaders: []string{"Gcms-Signature"}}
	}
	Builders["plivo"] = func(now time.Time, base string) Case {
		u := base + "/p/plivo?tenant=b&app=a"
		form := url.Values{"CallUUID": {"c1e0-7a55"}, "From": {"14155550100"}, "To": {"14155550199"}, "Digits": {"9", "1"}}
		return Case{Provider: "plivo", Source: "plivo-node utils/v3Security.js: base64 HMAC-SHA256 over URL?sorted query.sorted params.nonce",
			Secrets: []string{"plivo-auth-token"}, Method: "POST", URL: u,
			Header: hdr("Content-Type", "application/x-www-form-urlencoded", "X-Plivo-Signature-V3-Nonce", "05429567804466091622",
				"X-Plivo-Signature-V3", plivoV3("plivo-auth-token", u, form, "05429567804466091622")),
			Body: []byte(form.Encode()), SignatureHeaders: []string{"X-Plivo-Signature-V3"}}
	}
	Builders["plivo-get"] = func(now time.Time, base string) Case {
		u := base + "/p/plivo-get?MessageUUID=m-1&Status=delivered&From=1415"
		return Case{Provider: "plivo", Source: "plivo-node utils/v3Security.js: GET, base64 HMAC-SHA256 over URL?sorted query.nonce",
			Secrets: []string{"plivo-auth-token"}, Method: "GET", URL: u,
			Header:           hdr("X-Plivo-Signature-V3-Nonce", "12345", "X-Plivo-Signature-V3", "AAAA,"+plivoV3("plivo-auth-token", u, nil, "12345")),
			SignatureHeaders: []string{"X-Plivo-Signature-V3"},
			Tamper:           func(c *Case) { c.URL = strings.Replace(c.URL, "delivered", "failed", 1) }}
	}
	Builders["brex"] = func(now time.Time, base string) Case {
		// Brex hands out the secret as plain base64 (GET /v1/webhooks/secrets).
		secret := "bWFzdGVyLWJyZXgtd2ViaG9vay1zZWNyZXQ="
		body := `{"event_type":"REFERRAL_ACTIVATED","referral_id":"ref_1"}`
		t := unix(now)
		key, _ := base64.StdEncoding.DecodeString(secret)
		return Case{Provider: "brex", Source: "Brex Webhooks API (Webhook-Signature, two during rotation) and its verification recipe: v1,<base64 HMAC-SHA256 of id.timestamp.body>, key = base64-decoded secret",
			Secrets: []string{secret}, Now: now, Method: "POST", URL: base + "/p/brex",
			Header: hdr("Webhook-Id", "msg_brex_1", "Webhook-Timestamp", t, "Webhook-Signature", "v1,AAAA v1,"+base64.StdEncoding.EncodeToString(macOf(sha256.New, key, "msg_brex_1.", t, ".", body))),
			Body:   []byte(body), ID: "msg_brex_1", SignatureHeaders: []string{"Webhook-Signature"}, Timestamped: true,
			WrongSecrets: []string{"b3RoZXItYnJleC1zZWNyZXQ="}}
	}
}
