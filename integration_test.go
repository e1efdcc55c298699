package webhookverify

import (
	"bytes"
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

// GitHub's published vector (github/docs validating-webhook-deliveries.md).
const (
	ghSecret = "It's a Secret to Everybody"
	ghBody   = "Hello, World!"
	ghSig    = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)

func h(pairs ...string) http.Header {
	out := http.Header{}
	for i := 0; i+1 < len(pairs); i += 2 {
		out.Set(pairs[i], pairs[i+1])
	}
	return out
}

// hmacHex and hmacB64 sign independently of the module's code.
func hmacHex(key, msg []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

func hmacB64(key, msg []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

const allProviders = `
	:9080 {
		webhook_verify /github/* github {
			secret {env.WV_GH_NEW} {env.WV_GH_OLD}
		}
		webhook_verify /gitlab gitlab {
			secret {env.WV_GITLAB}
		}
		webhook_verify /stripe stripe {
			secret {env.WV_STRIPE}
		}
		webhook_verify /slack slack {
			secret {env.WV_SLACK}
		}
		webhook_verify /shopify shopify {
			secret {env.WV_SHOPIFY}
		}
		webhook_verify /svix svix {
			secret {env.WV_SVIX}
		}
		webhook_verify /generic hmac {
			secret {env.WV_GENERIC}
			header X-Signature
			prefix "v0="
			signed "v0:{timestamp}:{body}"
			timestamp_header X-Timestamp
		}
		reverse_proxy {upstream} {
			header_up X-Webhook-Id {http.webhook.id}
			header_up X-Webhook-Event {http.webhook.event}
			header_up X-Webhook-Provider {http.webhook.provider}
		}
	}`

func setProviderSecrets(t *testing.T) {
	t.Setenv("WV_GH_NEW", "a brand new secret")
	t.Setenv("WV_GH_OLD", ghSecret)
	t.Setenv("WV_GITLAB", "gitlab-token-123")
	t.Setenv("WV_STRIPE", "whsec_stripe_test_secret")
	t.Setenv("WV_SLACK", "8f742231b10e8888abcd99yyyzzz85a5")
	t.Setenv("WV_SHOPIFY", "shpss_shopify_secret")
	t.Setenv("WV_SVIX", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	t.Setenv("WV_GENERIC", "generic-secret")
}

// Requests signed the way each provider signs (with its SDK where it has a
// signer, by independent computation where not) pass through a real Caddy
// and reverse_proxy with the body untouched; the same requests tampered,
// forged or unsigned never reach the app.
func TestProvidersThroughCaddy(t *testing.T) {
	setProviderSecrets(t)
	up := newUpstream(t)
	startCaddy(t, up, allProviders)

	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	stripeBody := []byte(`{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"payment_intent.succeeded"}`)
	stripeHeader := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{
		Payload: stripeBody, Secret: "whsec_stripe_test_secret", Timestamp: now,
	}).Header
	staleStripe := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{
		Payload: stripeBody, Secret: "whsec_stripe_test_secret", Timestamp: now.Add(-10 * time.Minute),
	}).Header

	svixBody := []byte(`{"type":"user.created","data":{"id":"user_29w83sxmDNGwOuEthce5gg56FcC"}}`)
	wh, err := standardwebhooks.NewWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	svixSig, err := wh.Sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", now, svixBody)
	if err != nil {
		t.Fatal(err)
	}

	slackBody := []byte(`{"type":"event_callback","event_id":"Ev0PV52K21","event":{"type":"app_mention"}}`)
	slackSig := "v0=" + hmacHex([]byte("8f742231b10e8888abcd99yyyzzz85a5"), []byte("v0:"+ts+":"+string(slackBody)))

	shopifyBody := []byte(`{"id":820982911946154500,"email":"jon@example.com"}`)
	shopifySig := hmacB64([]byte("shpss_shopify_secret"), shopifyBody)

	genericBody := []byte("anything at all")
	genericSig := "v0=" + hmacHex([]byte("generic-secret"), []byte("v0:"+ts+":"+string(genericBody)))

	binary := make([]byte, 4096)
	for i := range binary {
		binary[i] = byte(i * 7)
	}

	cases := []struct {
		name    string
		path    string
		header  http.Header
		body    []byte
		status  int
		id, evt string
	}{
		{"github docs vector (old secret)", "/github/hook", h("X-Hub-Signature-256", ghSig, "X-GitHub-Delivery", "d-1", "X-GitHub-Event", "push"), []byte(ghBody), 200, "d-1", "push"},
		{"github binary body", "/github/hook", h("X-Hub-Signature-256", "sha256="+hmacHex([]byte("a brand new secret"), binary)), binary, 200, "", ""},
		{"github tampered", "/github/hook", h("X-Hub-Signature-256", ghSig), []byte("Hello, World?"), 401, "", ""},
		{"github unsigned", "/github/hook", h("X-GitHub-Delivery", "d-2"), []byte(ghBody), 401, "", ""},
		{"github forged", "/github/hook", h("X-Hub-Signature-256", "sha256="+hmacHex([]byte("guess"), []byte(ghBody))), []byte(ghBody), 401, "", ""},
		{"gitlab token", "/gitlab", h("X-Gitlab-Token", "gitlab-token-123", "X-Gitlab-Event", "Push Hook", "X-Gitlab-Event-UUID", "g-1"), []byte(`{}`), 200, "g-1", "Push Hook"},
		{"gitlab wrong token", "/gitlab", h("X-Gitlab-Token", "gitlab-token-124"), []byte(`{}`), 401, "", ""},
		{"stripe-go signed", "/stripe", h("Stripe-Signature", stripeHeader), stripeBody, 200, "evt_1NG8Du2eZvKYlo2CUI79vXWy", "payment_intent.succeeded"},
		{"stripe stale", "/stripe", h("Stripe-Signature", staleStripe), stripeBody, 401, "", ""},
		{"stripe tampered", "/stripe", h("Stripe-Signature", stripeHeader), bytes.Replace(stripeBody, []byte("succeeded"), []byte("failed"), 1), 401, "", ""},
		{"slack", "/slack", h("X-Slack-Signature", slackSig, "X-Slack-Request-Timestamp", ts), slackBody, 200, "Ev0PV52K21", "event_callback"},
		{"slack old timestamp", "/slack", h("X-Slack-Signature", slackSig, "X-Slack-Request-Timestamp", strconv.FormatInt(now.Unix()-600, 10)), slackBody, 401, "", ""},
		{"shopify", "/shopify", h("X-Shopify-Hmac-Sha256", shopifySig, "X-Shopify-Event-Id", "e-9", "X-Shopify-Topic", "orders/create"), shopifyBody, 200, "e-9", "orders/create"},
		{"shopify unsigned", "/shopify", h("X-Shopify-Topic", "orders/create"), shopifyBody, 401, "", ""},
		{"svix (standard-webhooks library)", "/svix", h("Svix-Id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "Svix-Timestamp", ts, "Svix-Signature", svixSig), svixBody, 200, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "user.created"},
		{"webhook-* headers", "/svix", h("Webhook-Id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "Webhook-Timestamp", ts, "Webhook-Signature", "v1,bm90IGl0 "+svixSig), svixBody, 200, "", ""},
		{"svix replayed id", "/svix", h("Svix-Id", "msg_other", "Svix-Timestamp", ts, "Svix-Signature", svixSig), svixBody, 401, "", ""},
		{"generic", "/generic", h("X-Signature", genericSig, "X-Timestamp", ts), genericBody, 200, "", ""},
		{"generic wrong", "/generic", h("X-Signature", genericSig, "X-Timestamp", ts), []byte("something else"), 401, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := up.count()
			status, _, body := post(t, c.path, c.header, c.body)
			if status != c.status {
				t.Fatalf("status %d (%q), want %d", status, body, c.status)
			}
			reqs := up.requests()
			if c.status != 200 {
				if len(reqs) != before {
					t.Fatalf("a rejected request reached the app")
				}
				if body != "" {
					t.Errorf("rejection body %q says more than the status", body)
				}
				return
			}
			if len(reqs) != before+1 {
				t.Fatalf("app got %d requests, want 1", len(reqs)-before)
			}
			got := reqs[len(reqs)-1]
			if !bytes.Equal(got.Body, c.body) {
				t.Fatalf("app got a different body:\n%q\nwant\n%q", got.Body, c.body)
			}
			if body != "app ok" {
				t.Errorf("sender got %q, want the app's answer", body)
			}
			if c.id != "" && got.Header.Get("X-Webhook-Id") != c.id {
				t.Errorf("{http.webhook.id} = %q, want %q", got.Header.Get("X-Webhook-Id"), c.id)
			}
			if c.evt != "" && got.Header.Get("X-Webhook-Event") != c.evt {
				t.Errorf("{http.webhook.event} = %q, want %q", got.Header.Get("X-Webhook-Event"), c.evt)
			}
			if got.Header.Get("X-Webhook-Provider") == "" {
				t.Errorf("{http.webhook.provider} not set")
			}
		})
	}
}

// With the directive in the site block and the proxy inside handle blocks
// (no route), verification still runs first: a forged request must not
// reach the app, nor be answered by a respond in a handle block.
func TestHandleBlockLayout(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	up := newUpstream(t)
	startCaddy(t, up, `
	:9080 {
		handle /hooks/* {
			reverse_proxy {upstream}
		}
		handle /status/* {
			respond "status page"
		}
		webhook_verify /hooks/* github {
			secret {env.WV_GH}
		}
		webhook_verify /status/* github {
			secret {env.WV_GH}
		}
		handle {
			respond "fallback"
		}
	}`)
	if status, _, _ := post(t, "/hooks/github", h("X-Hub-Signature-256", "sha256="+strings.Repeat("ab", 32)), []byte(ghBody)); status != 401 {
		t.Fatalf("forged delivery in handle layout: %d, want 401", status)
	}
	if status, _, body := post(t, "/status/x", nil, []byte(ghBody)); status != 401 {
		t.Fatalf("respond answered before verification: %d %q", status, body)
	}
	if up.count() != 0 {
		t.Fatalf("the app saw a forged delivery")
	}
	if status, _, body := post(t, "/hooks/github", h("X-Hub-Signature-256", ghSig), []byte(ghBody)); status != 200 || body != "app ok" {
		t.Fatalf("valid delivery in handle layout: %d %q", status, body)
	}
	if status, _, body := post(t, "/elsewhere", nil, nil); status != 200 || body != "fallback" {
		t.Fatalf("unrelated path: %d %q", status, body)
	}
}

// Oversized, slow, wrongly-methoded requests get a clear status and never
// reach the app.
func TestBadRequestsThroughCaddy(t *testing.T) {
	t.Setenv("WV_GH", ghSecret)
	up := newUpstream(t)
	startCaddy(t, up, `
	:9080 {
		webhook_verify github {
			secret {env.WV_GH}
			max_body 1KiB
			body_timeout 1s
		}
		reverse_proxy {upstream}
	}`)

	t.Run("announced too large", func(t *testing.T) {
		big := bytes.Repeat([]byte("x"), 2048)
		status, _, _ := post(t, "/", h("X-Hub-Signature-256", "sha256="+hmacHex([]byte(ghSecret), big)), big)
		if status != 413 {
			t.Fatalf("status %d, want 413", status)
		}
	})
	t.Run("chunked too large", func(t *testing.T) {
		chunk := strings.Repeat("y", 4000)
		// a well-formed (wrong) signature: a missing or malformed one is
		// refused before the body is read
		line := rawRequest(t, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Hub-Signature-256: sha256="+strings.Repeat("0", 64)+"\r\n\r\n"+
			"fa0\r\n"+chunk+"\r\n", 0, "0\r\n\r\n")
		if !strings.Contains(line, " 413 ") {
			t.Fatalf("got %q, want 413", line)
		}
	})
	t.Run("at the limit", func(t *testing.T) {
		exact := bytes.Repeat([]byte("z"), 1024)
		status, _, _ := post(t, "/", h("X-Hub-Signature-256", "sha256="+hmacHex([]byte(ghSecret), exact)), exact)
		if status != 200 {
			t.Fatalf("status %d, want 200", status)
		}
	})
	t.Run("slow body", func(t *testing.T) {
		line := rawRequest(t, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\nX-Hub-Signature-256: sha256="+strings.Repeat("0", 64)+"\r\n\r\n0123456789", 2*time.Second, "0123456789")
		if !strings.Contains(line, " 408 ") {
			t.Fatalf("got %q, want 408", line)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+caddyAddr+"/", nil)
		status, header, _ := do(t, req)
		if status != 405 || header.Get("Allow") != "POST" {
			t.Fatalf("status %d Allow %q, want 405 POST", status, header.Get("Allow"))
		}
	})
	t.Run("garbage headers", func(t *testing.T) {
		for _, v := range []string{"", "sha256=", "sha256=zz", "md5=00", strings.Repeat("sha256=", 1000), "sha256=" + strings.Repeat("0", 10000)} {
			if status, _, _ := post(t, "/", h("X-Hub-Signature-256", v), []byte(ghBody)); status != 401 {
				t.Fatalf("%.40q: status %d, want 401", v, status)
			}
		}
	})
	// Only the request "at the limit" may have reached the app.
	if n := up.count(); n != 1 {
		t.Fatalf("app saw %d requests, want 1", n)
	}
}

// Rejections are logged once at INFO with the reason and without any
// secret, signature or token.
func TestRejectionLog(t *testing.T) {
	setProviderSecrets(t)
	up := newUpstream(t)
	_, logFile := startCaddy(t, up, allProviders)

	forged := "sha256=" + hmacHex([]byte("not the secret"), []byte(ghBody))
	post(t, "/github/x", h("X-Hub-Signature-256", forged, "X-GitHub-Delivery", "delivery-77"), []byte(ghBody))
	post(t, "/gitlab", h("X-Gitlab-Token", "gitlab-token-12"), []byte("{}"))

	logs := readLog(t, logFile)
	var lines []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `"webhook rejected"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("want 2 rejection lines, got %d in:\n%s", len(lines), logs)
	}
	for _, want := range []string{`"level":"info"`, `"reason":"bad_signature"`, `"delivery_id":"delivery-77"`, `"route":"/github/*"`, `"provider":"github"`, `"client_ip":"127.0.0.1"`, `"request_id":"`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("log line lacks %s: %s", want, lines[0])
		}
	}
	for _, secret := range []string{ghSecret, "a brand new secret", forged[7:], "gitlab-token-12", "gitlab-token-123"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
}

// A secret that resolves to nothing fails the config load, naming the
// route and the placeholder but never a value.
func TestMissingSecretFailsLoad(t *testing.T) {
	t.Setenv("WV_PRESENT", "present-secret-value")
	cases := []struct{ secret, want string }{
		{"{env.WV_DEFINITELY_UNSET}", "route /github/*: secret #2 {env.WV_DEFINITELY_UNSET} is empty"},
		{"{file./nonexistent/secret}", "secret #2 {file./nonexistent/secret} is empty"},
	}
	for _, c := range cases {
		assertLoadError(t, `{
			admin localhost:2999
			http_port 9080
		}
		:9080 {
			webhook_verify /github/* github {
				secret {env.WV_PRESENT} `+c.secret+`
			}
			respond "should not load"
		}`, c.want)
	}
}
