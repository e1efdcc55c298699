package webhookverify

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

	"github.com/webhookverify/caddy-webhook-verify/internal/testvectors"
	"github.com/webhookverify/caddy-webhook-verify/verify"
)

func hmacOf(key string, parts ...string) []byte {
	m := hmac.New(sha256.New, []byte(key))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// Signed challenges are verified, then answered by the gateway (or passed
// to the app with `handshake app`); keyed unsigned ones are answered with
// the route's secret; Asana's handed-over secret signs later deliveries.
func TestHandshakeAnswersThroughCaddy(t *testing.T) {
	t.Setenv("WV_HS", "hs-secret")
	client, _, _ := testvectors.SNS()
	old := verify.DefaultHTTPClient
	verify.DefaultHTTPClient = client
	t.Cleanup(func() { verify.DefaultHTTPClient = old })
	up := newUpstream(t)
	startCaddy(t, up, `
	:9080 {
		webhook_verify /slack slack {
			secret {env.WV_HS}
		}
		webhook_verify /slack-app slack {
			secret {env.WV_HS}
			handshake app
		}
		webhook_verify /zoom zoom {
			secret {env.WV_HS}
		}
		webhook_verify /x twitter {
			secret {env.WV_HS}
		}
		webhook_verify /graph msgraph {
			secret {env.WV_HS}
		}
		webhook_verify /trello trello {
			secret {env.WV_HS}
		}
		webhook_verify /asana-it asana
		webhook_verify /sns sns {
			secret arn:aws:sns:us-west-2:123456789012:MyTopic
			handshake gateway confirm_subscription
		}
		reverse_proxy {upstream}
	}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	slackBody := `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
	slackHeader := http.Header{"X-Slack-Request-Timestamp": {ts}, "X-Slack-Signature": {"v0=" + hex.EncodeToString(hmacOf("hs-secret", "v0:", ts, ":", slackBody))}}
	if status, _, body := post(t, "/slack", slackHeader, []byte(slackBody)); status != 200 || body != `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}` {
		t.Errorf("slack url_verification: %d %s", status, body)
	}
	// unsigned, it is refused like any delivery
	if status, _, _ := post(t, "/slack", http.Header{"X-Slack-Request-Timestamp": {ts}}, []byte(slackBody)); status != 401 {
		t.Errorf("unsigned url_verification: %d", status)
	}
	if up.count() != 0 {
		t.Fatalf("the app saw a challenge the gateway answers")
	}
	if status, _, _ := post(t, "/slack-app", slackHeader, []byte(slackBody)); status != 200 || up.count() != 1 {
		t.Errorf("handshake app: %d, app saw %d", status, up.count())
	}

	zoomBody := `{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}`
	zoomHeader := http.Header{"X-Zm-Request-Timestamp": {ts}, "X-Zm-Signature": {"v0=" + hex.EncodeToString(hmacOf("hs-secret", "v0:", ts, ":", zoomBody))}}
	want := `{"encryptedToken":"` + hex.EncodeToString(hmacOf("hs-secret", "qgg8vlvZRS6UYooatFL8Aw")) + `","plainToken":"qgg8vlvZRS6UYooatFL8Aw"}`
	if status, _, body := post(t, "/zoom", zoomHeader, []byte(zoomBody)); status != 200 || body != want {
		t.Errorf("zoom url_validation: %d %s", status, body)
	}

	req, _ := http.NewRequest(http.MethodGet, "http://"+caddyAddr+"/x?crc_token=challenge_token", nil)
	want = `{"response_token":"sha256=` + base64.StdEncoding.EncodeToString(hmacOf("hs-secret", "challenge_token")) + `"}`
	if status, _, body := do(t, req); status != 200 || body != want {
		t.Errorf("x crc: %d %s", status, body)
	}
	if status, header, body := post(t, "/graph?validationToken=Validation%3A+Testing+client+application+reachability", nil, nil); status != 200 ||
		body != "Validation: Testing client application reachability" || !strings.HasPrefix(header.Get("Content-Type"), "text/plain") {
		t.Errorf("graph validationToken: %d %q", status, body)
	}
	req, _ = http.NewRequest(http.MethodHead, "http://"+caddyAddr+"/trello", nil)
	if status, _, _ := do(t, req); status != 200 {
		t.Errorf("trello HEAD: %d", status)
	}

	// Asana: the handshake's secret is echoed and kept; it signs what follows.
	status, header, _ := post(t, "/asana-it", http.Header{"X-Hook-Secret": {"b537207f20cbfa02357cf448134da559"}}, nil)
	if status != 200 || header.Get("X-Hook-Secret") != "b537207f20cbfa02357cf448134da559" {
		t.Errorf("asana handshake: %d %q", status, header.Get("X-Hook-Secret"))
	}
	if status, _, _ := post(t, "/asana-it", http.Header{"X-Hook-Secret": {"attacker"}}, nil); status != 401 {
		t.Errorf("a second asana handshake: %d", status)
	}
	asanaBody := `{"events":[]}`
	if status, _, _ := post(t, "/asana-it", http.Header{"X-Hook-Signature": {hex.EncodeToString(hmacOf("b537207f20cbfa02357cf448134da559", asanaBody))}}, []byte(asanaBody)); status != 200 {
		t.Errorf("asana delivery with the handed-over secret: %d", status)
	}

	// SNS: a signed SubscriptionConfirmation is confirmed by the gateway.
	confirm := testvectors.SNSMessage(map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "c-it", "Token": "tok",
		"TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic", "Message": "confirm", "Timestamp": "2012-05-02T00:54:06.655Z",
		"SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=tok"}, true)
	before := up.count()
	if status, _, body := post(t, "/sns", http.Header{"X-Amz-Sns-Message-Type": {"SubscriptionConfirmation"}}, confirm); status != 200 || body != "subscription confirmed" {
		t.Errorf("sns confirmation: %d %q", status, body)
	}
	if up.count() != before {
		t.Errorf("the app saw the confirmation the gateway answered")
	}
}
