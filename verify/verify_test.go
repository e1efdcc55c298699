package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	stripewebhook "github.com/stripe/stripe-go/v82/webhook"
)

// vector is one request and what verification must say about it.
type vector struct {
	name    string
	headers []string // "Name: value" pairs
	body    string
	want    Reason // "" means it must pass
	wantID  string
	wantEv  string
}

func hdr(pairs ...string) http.Header {
	h := http.Header{}
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, ": ")
		h.Add(k, v)
	}
	return h
}

func at(unix int64) func() time.Time {
	return func() time.Time { return time.Unix(unix, 0) }
}

// runVectors builds the preset with cfg and checks every vector.
func runVectors(t *testing.T, provider string, cfg Config, vectors []vector) {
	t.Helper()
	p, ok := Lookup(provider)
	if !ok {
		t.Fatalf("no preset %q", provider)
	}
	v, err := p.New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", provider, err)
	}
	for _, tc := range vectors {
		t.Run(tc.name, func(t *testing.T) {
			d, err := v.Verify(&Request{Method: "POST", URL: "https://example.com/hook?a=1", Header: hdr(tc.headers...), Body: []byte(tc.body)})
			if got := ReasonOf(err); got != tc.want || (err != nil && got == "") {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tc.want)
			}
			if tc.wantID != "" && d.ID != tc.wantID {
				t.Errorf("id = %q, want %q", d.ID, tc.wantID)
			}
			if tc.wantEv != "" && d.Event != tc.wantEv {
				t.Errorf("event = %q, want %q", d.Event, tc.wantEv)
			}
		})
	}
}

// macHex and mac64 compute signatures with crypto/hmac directly, independently
// of the scheme code under test.
func macHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func mac64(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestGitHub(t *testing.T) {
	const docSecret, docBody = "It's a Secret to Everybody", "Hello, World!"
	// Published in github/docs validating-webhook-deliveries.md.
	const docSig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	// The same inputs under the legacy SHA-1 header (providers.md V1b, accepted by go-github).
	const docSigSHA1 = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"
	runVectors(t, "github", Config{Secrets: []string{"old secret", docSecret}}, []vector{
		{name: "docs vector", headers: []string{"X-Hub-Signature-256: " + docSig, "X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958", "X-GitHub-Event: push"}, body: docBody,
			wantID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", wantEv: "push"},
		{name: "uppercase hex", headers: []string{"X-Hub-Signature-256: sha256=" + strings.ToUpper(docSig[7:])}, body: docBody},
		{name: "legacy sha1 alone", headers: []string{"X-Hub-Signature: " + docSigSHA1}, body: docBody},
		{name: "both headers", headers: []string{"X-Hub-Signature-256: " + docSig, "X-Hub-Signature: " + docSigSHA1}, body: docBody},
		{name: "bad sha256 is not rescued by a good sha1", headers: []string{"X-Hub-Signature-256: sha256=" + strings.Repeat("0", 64), "X-Hub-Signature: " + docSigSHA1}, body: docBody, want: ReasonBadSignature},
		{name: "tampered body", headers: []string{"X-Hub-Signature-256: " + docSig}, body: "Hello, World?", want: ReasonBadSignature},
		{name: "missing", headers: []string{"X-GitHub-Delivery: x"}, body: docBody, want: ReasonMissingSignature, wantID: "x"},
		{name: "no prefix", headers: []string{"X-Hub-Signature-256: " + docSig[7:]}, body: docBody, want: ReasonMalformedSignature},
		{name: "sha1 prefix in sha256 header", headers: []string{"X-Hub-Signature-256: sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"}, body: docBody, want: ReasonMalformedSignature},
		{name: "not hex", headers: []string{"X-Hub-Signature-256: sha256=" + strings.Repeat("zz", 32)}, body: docBody, want: ReasonMalformedSignature},
		{name: "short", headers: []string{"X-Hub-Signature-256: sha256=757107ea"}, body: docBody, want: ReasonMalformedSignature},
		{name: "empty", headers: []string{"X-Hub-Signature-256: "}, body: docBody, want: ReasonMalformedSignature},
	})

	// octokit/webhooks-methods.js test/sign.test.ts
	runVectors(t, "github", Config{Secrets: []string{"mysecret"}}, []vector{
		{name: "octokit vector", headers: []string{"X-Hub-Signature-256: sha256=4864d2759938a15468b5df9ade20bf161da9b4f737ea61794142f3484236bda3"}, body: `{"foo":"bar"}`},
	})
	runVectors(t, "github", Config{Secrets: []string{"wrong"}}, []vector{
		{name: "wrong secret", headers: []string{"X-Hub-Signature-256: " + docSig}, body: docBody, want: ReasonBadSignature},
	})
}

func TestGitLab(t *testing.T) {
	runVectors(t, "gitlab", Config{Secrets: []string{"current-token", "previous-token"}}, []vector{
		{name: "current", headers: []string{"X-Gitlab-Token: current-token", "X-Gitlab-Event-UUID: 13792a34-cac6-4fda-95a8-c58e00a3954e", "X-Gitlab-Event: Push Hook"}, body: "{}",
			wantID: "13792a34-cac6-4fda-95a8-c58e00a3954e", wantEv: "Push Hook"},
		{name: "previous", headers: []string{"X-Gitlab-Token: previous-token", "Idempotency-Key: k1"}, body: "{}", wantID: "k1"},
		{name: "wrong", headers: []string{"X-Gitlab-Token: current-tokeN"}, body: "{}", want: ReasonBadSignature},
		{name: "prefix of the token", headers: []string{"X-Gitlab-Token: current"}, body: "{}", want: ReasonBadSignature},
		{name: "missing", body: "{}", want: ReasonMissingSignature},
		{name: "empty", headers: []string{"X-Gitlab-Token: "}, body: "{}", want: ReasonMissingSignature},
	})
}

func TestStripe(t *testing.T) {
	const now = 1700000000
	const secret = "whsec_test_secret"
	const body = `{"id":"evt_1","object":"event","type":"charge.succeeded","data":{"object":{"id":"ch_1"}}}`
	// providers.md V18: produced by stripe-go GenerateTestSignedPayload and stripe-node alike.
	const v18Body = `{"id":"evt_1","object":"event"}`
	const v18 = "t=1700000000,v1=0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edd"

	sdk := func(ts int64, key, payload, scheme string) string {
		return stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{
			Payload: []byte(payload), Secret: key, Timestamp: time.Unix(ts, 0), Scheme: scheme,
		}).Header
	}
	good := sdk(now, secret, body, "v1")
	goodSig := good[strings.Index(good, "v1="):]
	otherSig := sdk(now, "whsec_other", body, "v1")
	otherSig = otherSig[strings.Index(otherSig, "v1="):]

	runVectors(t, "stripe", Config{Secrets: []string{secret}, Now: at(now)}, []vector{
		{name: "V18", headers: []string{"Stripe-Signature: " + v18}, body: v18Body, wantID: "evt_1"},
		{name: "stripe-go signed", headers: []string{"Stripe-Signature: " + good}, body: body, wantID: "evt_1", wantEv: "charge.succeeded"},
		{name: "second v1 matches", headers: []string{"Stripe-Signature: t=1700000000," + otherSig + "," + goodSig}, body: body},
		{name: "v0 never counts", headers: []string{"Stripe-Signature: " + sdk(now, secret, body, "v0")}, body: body, want: ReasonMalformedSignature},
		{name: "v0 plus wrong v1", headers: []string{"Stripe-Signature: " + sdk(now, secret, body, "v0") + "," + otherSig}, body: body, want: ReasonBadSignature},
		{name: "unknown keys ignored", headers: []string{"Stripe-Signature: " + good + ",v2=abc"}, body: body},
		{name: "tampered body", headers: []string{"Stripe-Signature: " + good}, body: strings.Replace(body, "evt_1", "evt_2", 1), want: ReasonBadSignature},
		{name: "timestamp swapped", headers: []string{"Stripe-Signature: t=1700000001," + goodSig}, body: body, want: ReasonBadSignature},
		{name: "stale", headers: []string{"Stripe-Signature: " + sdk(now-301, secret, body, "v1")}, body: body, want: ReasonStale},
		{name: "edge of tolerance", headers: []string{"Stripe-Signature: " + sdk(now-300, secret, body, "v1")}, body: body},
		{name: "future", headers: []string{"Stripe-Signature: " + sdk(now+301, secret, body, "v1")}, body: body, want: ReasonFuture},
		{name: "missing", body: body, want: ReasonMissingSignature},
		{name: "no timestamp", headers: []string{"Stripe-Signature: " + goodSig}, body: body, want: ReasonMalformedSignature},
		{name: "no v1", headers: []string{"Stripe-Signature: t=1700000000"}, body: body, want: ReasonMalformedSignature},
		{name: "pair without =", headers: []string{"Stripe-Signature: t=1700000000,garbage," + goodSig}, body: body, want: ReasonMalformedSignature},
		{name: "two timestamps", headers: []string{"Stripe-Signature: t=1700000000,t=1700000000," + goodSig}, body: body, want: ReasonMalformedSignature},
		{name: "timestamp not a number", headers: []string{"Stripe-Signature: t=soon," + goodSig}, body: body, want: ReasonBadSignature},
	})
	// A key rotation on our side: the old secret is still accepted.
	runVectors(t, "stripe", Config{Secrets: []string{"whsec_new", secret}, Now: at(now)}, []vector{
		{name: "rotated", headers: []string{"Stripe-Signature: " + good}, body: body},
	})
	runVectors(t, "stripe", Config{Secrets: []string{"whsec_wrong"}, Now: at(now)}, []vector{
		{name: "wrong secret", headers: []string{"Stripe-Signature: " + good}, body: body, want: ReasonBadSignature},
	})
	// A tolerance of one hour accepts what five minutes rejects.
	runVectors(t, "stripe", Config{Secrets: []string{secret}, Now: at(now), Tolerance: time.Hour}, []vector{
		{name: "custom tolerance", headers: []string{"Stripe-Signature: " + sdk(now-3000, secret, body, "v1")}, body: body},
	})
}

func TestSlack(t *testing.T) {
	// Slack docs "Verifying requests from Slack" (providers.md V3).
	const v3Secret = "8f742231b10e8888abcd99yyyzzz85a5"
	const v3Body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	const v3Sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	const ts = 1531420618
	runVectors(t, "slack", Config{Secrets: []string{v3Secret}, Now: at(ts + 60)}, []vector{
		{name: "docs vector", headers: []string{"X-Slack-Signature: " + v3Sig, "X-Slack-Request-Timestamp: 1531420618"}, body: v3Body},
		{name: "tampered", headers: []string{"X-Slack-Signature: " + v3Sig, "X-Slack-Request-Timestamp: 1531420618"}, body: v3Body + "&x=1", want: ReasonBadSignature},
		{name: "timestamp changed", headers: []string{"X-Slack-Signature: " + v3Sig, "X-Slack-Request-Timestamp: 1531420619"}, body: v3Body, want: ReasonBadSignature},
		{name: "missing timestamp", headers: []string{"X-Slack-Signature: " + v3Sig}, body: v3Body, want: ReasonMissingTimestamp},
		{name: "missing signature", headers: []string{"X-Slack-Request-Timestamp: 1531420618"}, body: v3Body, want: ReasonMissingSignature},
		{name: "wrong version", headers: []string{"X-Slack-Signature: v1=" + v3Sig[3:], "X-Slack-Request-Timestamp: 1531420618"}, body: v3Body, want: ReasonMalformedSignature},
	})
	runVectors(t, "slack", Config{Secrets: []string{v3Secret}, Now: at(ts + 301)}, []vector{
		{name: "stale", headers: []string{"X-Slack-Signature: " + v3Sig, "X-Slack-Request-Timestamp: 1531420618"}, body: v3Body, want: ReasonStale},
	})
	runVectors(t, "slack", Config{Secrets: []string{v3Secret}, Now: at(ts - 301)}, []vector{
		{name: "future", headers: []string{"X-Slack-Signature: " + v3Sig, "X-Slack-Request-Timestamp: 1531420618"}, body: v3Body, want: ReasonFuture},
	})
	// slack-go security_test.go (providers.md V4), and an Events API body
	// whose event_id becomes the delivery id.
	const v4Body = `{"token":"aF5ynEYQH0dFN9imlgcADxDB","team_id":"XXXXXXXXX","api_app_id":"YYYYYYYYY","event":{"type":"app_mention","user":"AAAAAAAAA","text":"<@EEEEEEEEE> hello world","client_msg_id":"477cc591-ch73-a14z-4db8-g0cd76321bec","ts":"1531431954.000073","channel":"TTTTTTTTT","event_ts":"1531431954.000073"},"type":"event_callback","event_id":"TvBP7LRED7","event_time":1531431954,"authed_users":["EEEEEEEEE"]}`
	runVectors(t, "slack", Config{Secrets: []string{"other", "e6b19c573432dcc6b075501d51b51bb8"}, Now: at(1531431954)}, []vector{
		{name: "slack-go vector", headers: []string{"X-Slack-Signature: v0=adada4ed31709aef585c2580ca3267678c6a8eaeb7e0c1aca3ee57b656886b2c", "X-Slack-Request-Timestamp: 1531431954"}, body: v4Body,
			wantID: "TvBP7LRED7", wantEv: "event_callback"},
	})
}

func TestShopify(t *testing.T) {
	const secret = "test_secret"
	const body = `{"id":"evt_1"}`
	// providers.md §4.2, computed from Shopify's documented formula.
	const sig = "yZ3NaeL0VaVZqH3LA+yTevsWLEkH+KGY//JeZXAoBg0="
	if got := mac64(secret, body); got != sig {
		t.Fatalf("independent computation %s disagrees with the reference vector", got)
	}
	big := strings.Repeat(`{"line_items":[1,2,3]}`, 100)
	runVectors(t, "shopify", Config{Secrets: []string{"previous", secret}}, []vector{
		{name: "vector", headers: []string{"X-Shopify-Hmac-Sha256: " + sig, "X-Shopify-Topic: orders/create", "X-Shopify-Webhook-Id: w1", "X-Shopify-Event-Id: e1"}, body: body, wantID: "e1", wantEv: "orders/create"},
		{name: "webhook id when no event id", headers: []string{"X-Shopify-Hmac-Sha256: " + sig, "X-Shopify-Webhook-Id: w1"}, body: body, wantID: "w1"},
		{name: "events header family", headers: []string{"Shopify-Hmac-Sha256: " + sig, "Shopify-Event-Id: e2", "Shopify-Topic: orders/paid"}, body: body, wantID: "e2", wantEv: "orders/paid"},
		{name: "larger body", headers: []string{"X-Shopify-Hmac-Sha256: " + mac64(secret, big)}, body: big},
		{name: "hex is not base64", headers: []string{"X-Shopify-Hmac-Sha256: " + macHex(secret, body)}, body: body, want: ReasonMalformedSignature},
		{name: "tampered", headers: []string{"X-Shopify-Hmac-Sha256: " + sig}, body: `{"id":"evt_2"}`, want: ReasonBadSignature},
		{name: "missing", body: body, want: ReasonMissingSignature},
		{name: "garbage", headers: []string{"X-Shopify-Hmac-Sha256: %%%"}, body: body, want: ReasonMalformedSignature},
	})
	runVectors(t, "shopify", Config{Secrets: []string{"wrong"}}, []vector{
		{name: "wrong secret", headers: []string{"X-Shopify-Hmac-Sha256: " + sig}, body: body, want: ReasonBadSignature},
	})
}

func TestStandardWebhooks(t *testing.T) {
	// The spec's vector (standard-webhooks libraries/go TestWebhookSign, providers.md V5).
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	const id, ts, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", `{"test": 2432232314}`
	const sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	other := "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
	cfg := Config{Secrets: []string{secret}, Now: at(1614265330)}
	runVectors(t, "standard", cfg, []vector{
		{name: "spec vector", headers: []string{"Webhook-Id: " + id, "Webhook-Timestamp: " + ts, "Webhook-Signature: " + sig}, body: body, wantID: id},
		{name: "svix headers", headers: []string{"Svix-Id: " + id, "Svix-Timestamp: " + ts, "Svix-Signature: " + sig}, body: body, wantID: id},
		{name: "several signatures", headers: []string{"Webhook-Id: " + id, "Webhook-Timestamp: " + ts, "Webhook-Signature: " + other + " v1a,c2lnbmF0dXJl " + sig}, body: body},
		{name: "only other versions", headers: []string{"Webhook-Id: " + id, "Webhook-Timestamp: " + ts, "Webhook-Signature: v2," + sig[3:]}, body: body, want: ReasonMalformedSignature},
		{name: "wrong signature", headers: []string{"Webhook-Id: " + id, "Webhook-Timestamp: " + ts, "Webhook-Signature: " + other}, body: body, want: ReasonBadSignature},
		{name: "other id", headers: []string{"Webhook-Id: msg_other", "Webhook-Timestamp: " + ts, "Webhook-Signature: " + sig}, body: body, want: ReasonBadSignature},
		{name: "missing id", headers: []string{"Webhook-Timestamp: " + ts, "Webhook-Signature: " + sig}, body: body, want: ReasonMalformedSignature},
		{name: "missing timestamp", headers: []string{"Webhook-Id: " + id, "Webhook-Signature: " + sig}, body: body, want: ReasonMissingTimestamp},
		{name: "bad timestamp", headers: []string{"Webhook-Id: " + id, "Webhook-Timestamp: 1614265330.5", "Webhook-Signature: " + sig}, body: body, want: ReasonBadSignature},
		{name: "missing signature", headers: []string{"Webhook-Id: " + id, "Webhook-Timestamp: " + ts}, body: body, want: ReasonMissingSignature},
		{name: "tampered", headers: []string{"Webhook-Id: " + id, "Webhook-Timestamp: " + ts, "Webhook-Signature: " + sig}, body: `{"test": 2432232315}`, want: ReasonBadSignature},
	})
	runVectors(t, "svix", Config{Secrets: []string{secret}, Now: at(1614265330 + 301)}, []vector{
		{name: "stale", headers: []string{"Svix-Id: " + id, "Svix-Timestamp: " + ts, "Svix-Signature: " + sig}, body: body, want: ReasonStale},
	})
	runVectors(t, "svix", Config{Secrets: []string{secret}, Now: at(1614265330 - 301)}, []vector{
		{name: "future", headers: []string{"Svix-Id: " + id, "Svix-Timestamp: " + ts, "Svix-Signature: " + sig}, body: body, want: ReasonFuture},
	})

	// Deliveries signed now by the reference library pass, with the new
	// secret first and the old one still configured.
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	payload := []byte(`{"type":"user.created","data":{"id":"u1"}}`)
	signed, err := wh.Sign("msg_sdk", now, payload)
	if err != nil {
		t.Fatal(err)
	}
	runVectors(t, "standard", Config{Secrets: []string{"whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", secret}}, []vector{
		{name: "library signed", headers: []string{"Webhook-Id: msg_sdk", "Webhook-Timestamp: " + strconv.FormatInt(now.Unix(), 10), "Webhook-Signature: " + signed}, body: string(payload),
			wantID: "msg_sdk", wantEv: "user.created"},
	})
	// providers.md §4.2: 32×0x01 key.
	runVectors(t, "standard", Config{Secrets: []string{"whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}, Now: at(1700000000)}, []vector{
		{name: "derived vector", headers: []string{"Webhook-Id: msg_1", "Webhook-Timestamp: 1700000000", "Webhook-Signature: v1,FJo2GdkyWLYd9ym3CZNosbU6mHVAi628L4/8uNI3qNM="}, body: `{"id":"evt_1"}`},
	})
}

// The generic scheme must be able to express the common presets by hand.
func TestGenericExpressesPresets(t *testing.T) {
	runVectors(t, "hmac", Config{Secrets: []string{"It's a Secret to Everybody"}, Generic: Generic{Header: "X-Hub-Signature-256", Prefix: "sha256="}}, []vector{
		{name: "github by hand", headers: []string{"X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}, body: "Hello, World!"},
		{name: "tampered", headers: []string{"X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}, body: "Hello, World?", want: ReasonBadSignature},
	})
	runVectors(t, "hmac", Config{Secrets: []string{"test_secret"}, Generic: Generic{Header: "X-Shopify-Hmac-Sha256", Encoding: "base64"}}, []vector{
		{name: "shopify by hand", headers: []string{"X-Shopify-Hmac-Sha256: yZ3NaeL0VaVZqH3LA+yTevsWLEkH+KGY//JeZXAoBg0=", "Idempotency-Key: k-1"}, body: `{"id":"evt_1"}`, wantID: "k-1"},
	})
	runVectors(t, "hmac", Config{Secrets: []string{"8f742231b10e8888abcd99yyyzzz85a5"}, Now: at(1531420618),
		Generic: Generic{Header: "X-Slack-Signature", Prefix: "v0=", Signed: "v0:{timestamp}:{body}", TimestampHeader: "X-Slack-Request-Timestamp"}}, []vector{
		{name: "slack by hand", headers: []string{"X-Slack-Signature: v0=" + macHex("8f742231b10e8888abcd99yyyzzz85a5", "v0:1531420618:a=b"), "X-Slack-Request-Timestamp: 1531420618"}, body: "a=b"},
		{name: "stale", headers: []string{"X-Slack-Signature: v0=" + macHex("8f742231b10e8888abcd99yyyzzz85a5", "v0:1531420000:a=b"), "X-Slack-Request-Timestamp: 1531420000"}, body: "a=b", want: ReasonStale},
	})
	m := hmac.New(sha256.New, []byte("k"))
	m.Write([]byte("POST https://example.com/hook?a=1 v=7 {}"))
	sig := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	runVectors(t, "hmac", Config{Secrets: []string{"k"}, Generic: Generic{Header: "Sig", Encoding: "base64url", Signed: "{method} {url} v={header.x-version} {body}"}}, []vector{
		{name: "method url header", headers: []string{"Sig: " + sig, "X-Version: 7"}, body: "{}"},
		{name: "header changed", headers: []string{"Sig: " + sig, "X-Version: 8"}, body: "{}", want: ReasonBadSignature},
	})
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		provider string
		cfg      Config
		want     string
	}{
		{"github", Config{}, "needs at least one secret"},
		{"github", Config{Secrets: []string{"a", ""}}, "secret #2 is empty"},
		{"stripe", Config{Secrets: []string{"a"}, Tolerance: -time.Second}, "negative"},
		{"standard", Config{Secrets: []string{"whsec_!!!not-base64"}}, "secret #1 is not base64"},
		{"standard", Config{Secrets: []string{"whsec_"}}, "secret #1 is not base64"},
		{"hmac", Config{Secrets: []string{"a"}}, "needs a header"},
		{"hmac", Config{Secrets: []string{"a"}, Generic: Generic{Header: "X", Algorithm: "md5"}}, "unknown algorithm"},
		{"hmac", Config{Secrets: []string{"a"}, Generic: Generic{Header: "X", Encoding: "base32"}}, "unknown encoding"},
		{"hmac", Config{Secrets: []string{"a"}, Generic: Generic{Header: "X", Signed: "{timestamp}.{body}"}}, "no timestamp source"},
		{"hmac", Config{Secrets: []string{"a"}, Generic: Generic{Header: "X", Signed: "{bodY}"}}, "unknown placeholder"},
		{"hmac", Config{Secrets: []string{"a"}, Generic: Generic{Header: "X", Signed: "{body"}}, "unclosed placeholder"},
		{"hmac", Config{Secrets: []string{"a"}, Generic: Generic{Header: "X", TimestampFormat: "unix_ms"}}, "needs a timestamp_header"},
	}
	for _, c := range cases {
		p, _ := Lookup(c.provider)
		_, err := p.New(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %+v: err = %v, want it to mention %q", c.provider, c.cfg.Generic, err, c.want)
		}
		for _, s := range c.cfg.Secrets {
			if err != nil && len(s) > len("whsec_") && strings.Contains(err.Error(), s) {
				t.Errorf("error %q leaks the secret", err)
			}
		}
	}
}

func TestJSONFields(t *testing.T) {
	cases := []struct {
		body, a, b string
	}{
		{`{"id":"evt_1","type":"x"}`, "evt_1", "x"},
		{` { "object" : {"id":"nested","type":"no"} , "list":[1,{"id":"n"},"]"], "n":-1.5e3, "t":true, "z":null, "id" : "top", "type":"t\"q\u00e9" }`, "top", `t"qé`},
		{`{"type":null,"id":{"a":1},"type":"later"}`, "", "later"},
		{`{"id":1,"type":"x"}`, "1", "x"},
		{`{"id":-1.5e3,"type":true}`, "-1.5e3", ""},
		{`{"data":"}\\\"","id":"after-escape"}`, "after-escape", ""},
		{`[{"id":"x"}]`, "", ""},
		{`{"id":"unterminated`, "", ""},
		{`{}`, "", ""},
		{``, "", ""},
		{`{"a":{"b":[}`, "", ""},
	}
	for _, c := range cases {
		a, b := jsonFields([]byte(c.body), "id", "type")
		if a != c.a || b != c.b {
			t.Errorf("jsonFields(%s) = %q, %q; want %q, %q", c.body, a, b, c.a, c.b)
		}
	}
}

func TestPresetsRegistered(t *testing.T) {
	for _, name := range []string{"github", "gitlab", "stripe", "slack", "shopify", "standard", "svix", "hmac"} {
		if _, ok := Lookup(name); !ok {
			t.Errorf("preset %q missing", name)
		}
	}
	if p, _ := Lookup("svix"); p.Name != "standard" {
		t.Errorf("svix is an alias of %q", p.Name)
	}
	seen := map[string]bool{}
	for _, p := range Presets() {
		if seen[p.Name] || p.Summary == "" {
			t.Errorf("preset %q listed twice or without summary", p.Name)
		}
		seen[p.Name] = true
	}
}
