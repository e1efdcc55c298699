package verify

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/internal/testvectors"
)

// challenge runs a preset's challenge at stage.
func challenge(t *testing.T, provider string, stage Stage, req *Request, secrets []string, store SecretStore) (*Handshake, error) {
	t.Helper()
	p, _ := Lookup(provider)
	if req.Header == nil {
		req.Header = http.Header{}
	}
	d := Delivery{}
	if provider == "sns" {
		d.Event = "SubscriptionConfirmation"
	}
	return p.Challenge(&ChallengeRequest{Request: req, Stage: stage, Delivery: d, Secrets: secrets, Route: "r1", Store: store,
		ConfirmSubscription: true, Confirm: func(context.Context, string) error { return nil }})
}

func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// Each provider's documented challenge gets its documented answer, byte
// for byte, and only at its stage.
func TestChallengesAnswerAsDocumented(t *testing.T) {
	store := NewMemorySecretStore()
	cases := []struct {
		name, provider string
		stage          Stage
		req            Request
		secrets        []string
		wantBody       string
		wantHeader     string
	}{
		// api.slack.com/events/url_verification
		{"slack", "slack", AfterVerify, Request{Method: "POST", Body: []byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)},
			[]string{"s"}, `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`, ""},
		// Zoom docs, "Validate your webhook endpoint"
		{"zoom", "zoom", AfterVerify, Request{Method: "POST", Body: []byte(`{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}`)},
			[]string{"zoom-secret-token"}, `{"encryptedToken":"` + hmacHex("zoom-secret-token", "qgg8vlvZRS6UYooatFL8Aw") + `","plainToken":"qgg8vlvZRS6UYooatFL8Aw"}`, ""},
		// dev.twitch.tv, "Responding to a challenge request"
		{"twitch", "twitch", AfterVerify, Request{Method: "POST", Header: http.Header{"Twitch-Eventsub-Message-Type": {"webhook_callback_verification"}},
			Body: []byte(`{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387"}}`)}, []string{"s"}, "pogchamp-kappa-360noscope-vohiyo", ""},
		{"discord", "discord", AfterVerify, Request{Method: "POST", Body: []byte(`{"id":"1","type":1,"application_id":"2"}`)}, nil, `{"type":1}`, ""},
		{"twitter crc", "twitter", BeforeVerify, Request{Method: "GET", Query: "crc_token=challenge_token"}, []string{"consumer-secret"},
			`{"response_token":"sha256=` + base64.StdEncoding.EncodeToString(mustHex(hmacHex("consumer-secret", "challenge_token"))) + `"}`, ""},
		{"asana", "asana", BeforeVerify, Request{Method: "POST", Header: http.Header{"X-Hook-Secret": {"b537207f20cbfa02357cf448134da559"}}}, nil, "", "b537207f20cbfa02357cf448134da559"},
		{"braintree", "braintree", BeforeVerify, Request{Method: "GET", Query: "bt_challenge=20f9f8ed05f77439fe955c977e4c8a53"}, []string{"integration_public_key:integration_private_key"},
			"integration_public_key|" + braintreeHex("integration_private_key", "20f9f8ed05f77439fe955c977e4c8a53"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hs, err := challenge(t, c.provider, c.stage, &c.req, c.secrets, store)
			if err != nil || hs == nil {
				t.Fatalf("no answer: %v", err)
			}
			if string(hs.Body) != c.wantBody || hs.Status != 200 {
				t.Errorf("answer %d %s, want %s", hs.Status, hs.Body, c.wantBody)
			}
			if c.wantHeader != "" && hs.Header.Get("X-Hook-Secret") != c.wantHeader {
				t.Errorf("X-Hook-Secret = %q", hs.Header.Get("X-Hook-Secret"))
			}
			other := AfterVerify
			if c.stage == AfterVerify {
				other = BeforeVerify
			}
			if hs, _ := challenge(t, c.provider, other, &c.req, c.secrets, store); hs != nil {
				t.Errorf("answered at the other stage too")
			}
		})
	}
	// Asana keeps the first secret; a second handshake cannot replace it.
	if _, err := challenge(t, "asana", BeforeVerify, &Request{Method: "POST", Header: http.Header{"X-Hook-Secret": {"attacker"}}}, nil, store); err == nil {
		t.Errorf("a second X-Hook-Secret replaced the first")
	}
	if got, _ := store.Get(context.Background(), "r1"); got != "b537207f20cbfa02357cf448134da559" {
		t.Errorf("stored secret %q", got)
	}
	// Ordinary deliveries are no challenge.
	for _, p := range []string{"slack", "zoom", "discord"} {
		if hs, _ := challenge(t, p, AfterVerify, &Request{Method: "POST", Body: []byte(`{"type":"event_callback","event":"meeting.started"}`)}, []string{"s"}, store); hs != nil {
			t.Errorf("%s answered an ordinary delivery", p)
		}
	}
}

func mustHex(s string) []byte { b, _ := hex.DecodeString(s); return b }

func braintreeHex(priv, msg string) string {
	k := sha1Sum(priv)
	m := hmac.New(sha1New, k)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// Asana: a delivery signed with the handed-over secret verifies; before
// the handshake nothing does.
func TestAsanaUsesTheHandedOverSecret(t *testing.T) {
	store := NewMemorySecretStore()
	p, _ := Lookup("asana")
	v, err := p.New(Config{Store: store, Route: "asana-route"})
	if err != nil {
		t.Fatal(err)
	}
	c := testvectors.Builders["asana"](time.Now(), "https://example.com")
	if _, err := v.Verify(caseRequest(c)); ReasonOf(err) != ReasonBadSignature {
		t.Fatalf("before the handshake: %v", err)
	}
	store.SetIfAbsent(context.Background(), "asana-route", c.Secrets[0])
	if _, err := v.Verify(caseRequest(c)); err != nil {
		t.Fatalf("after the handshake: %v", err)
	}
}

// SNS fetches certificates only from https sns.<region>.amazonaws.com(.cn).
func TestSNSHostRule(t *testing.T) {
	for u, want := range map[string]bool{
		"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem": true,
		"https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService.pem": true,
		"https://sns.us-east-1.amazonaws.com.evil.com/x.pem":                    false,
		"http://sns.us-east-1.amazonaws.com/x.pem":                              false,
		"https://52.94.0.1/x.pem":                                               false,
		"https://[::1]/x.pem":                                                   false,
		"https://sns.us-east-1.amazonaws.com:8443/x.pem":                        false,
		"https://user@sns.us-east-1.amazonaws.com/x.pem":                        false,
		"https://evil.com/sns.us-east-1.amazonaws.com/x.pem":                    false,
		"https://sns.us-east-1.amazonaws.com/x.txt":                             false,
		"https://xsns.us-east-1.amazonaws.com/x.pem":                            false,
		"https://sns.us-east-1.amazonaws.com@evil.com/x.pem":                    false,
		"https://sns.us-east-1.amazonaws.com%2f@evil.com/x.pem":                 false,
		"https://sns.us-east-1.amazonaws.com\\@evil.com/x.pem":                  false,
		"javascript:alert(1)":                                                   false,
		"https://sns.a.amazonaws.com/x.pem":                                     false,
		"https://sns.us-east-1.amazonaws.com/SimpleNotificationService.pem?x=1": true,
	} {
		if got := SNSURLAllowed(u, true); got != want {
			t.Errorf("%s: allowed = %v, want %v", u, got, want)
		}
	}
	// A message naming a foreign certificate URL is refused before any fetch.
	client, _, fetches := testvectors.SNS()
	p, _ := Lookup("sns")
	v, _ := p.New(Config{Secrets: []string{"arn:aws:sns:us-west-2:123456789012:MyTopic"}, HTTPClient: client})
	before := fetches()
	body := testvectors.SNSMessage(map[string]string{"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
		"Message": "x", "Timestamp": "2012-05-02T00:54:06.655Z", "SigningCertURL": "https://sns.us-east-1.amazonaws.com.evil.com/x.pem"}, true)
	if _, err := v.Verify(&Request{Method: "POST", Header: http.Header{}, Body: body}); ReasonOf(err) != ReasonBadSignature {
		t.Errorf("foreign SigningCertURL: %v", err)
	}
	// Certificates are cached: many deliveries, at most one fetch.
	c := testvectors.Builders["sns"](time.Now(), "https://example.com")
	for range 5 {
		if _, err := v.Verify(caseRequest(c)); err != nil {
			t.Fatal(err)
		}
	}
	if n := fetches() - before; n > 1 {
		t.Errorf("%d certificate fetches for 5 deliveries", n)
	}
	// SubscriptionConfirmation: confirmed only on an SNS host.
	confirm := testvectors.SNSMessage(map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "c1", "Token": "tok",
		"TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic", "Message": "confirm", "Timestamp": "2012-05-02T00:54:06.655Z",
		"SubscribeURL": "https://evil.example/?Action=ConfirmSubscription"}, false)
	if _, err := challenge(t, "sns", AfterVerify, &Request{Method: "POST", Body: confirm}, nil, nil); err == nil {
		t.Errorf("a SubscribeURL on a foreign host was confirmed")
	}
	var confirmed string
	good := testvectors.SNSMessage(map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "c2", "Token": "tok",
		"TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic", "Message": "confirm", "Timestamp": "2012-05-02T00:54:06.655Z",
		"SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=tok"}, false)
	if _, err := v.Verify(&Request{Method: "POST", Header: http.Header{}, Body: good}); err != nil {
		t.Fatalf("SignatureVersion 1 confirmation: %v", err)
	}
	hs, err := sp(t).Challenge(&ChallengeRequest{Request: &Request{Method: "POST", Body: good}, Stage: AfterVerify, Delivery: Delivery{Event: "SubscriptionConfirmation"},
		ConfirmSubscription: true, Confirm: func(_ context.Context, u string) error { confirmed = u; return nil }})
	if err != nil || hs == nil || !strings.Contains(confirmed, "Token=tok") {
		t.Errorf("confirmation: %v %v %q", hs, err, confirmed)
	}
	hs, err = sp(t).Challenge(&ChallengeRequest{Request: &Request{Method: "POST", Body: good}, Stage: AfterVerify, Delivery: Delivery{Event: "SubscriptionConfirmation"},
		Confirm: func(context.Context, string) error { return errors.New("must not be called") }})
	if hs != nil || err != nil {
		t.Errorf("without confirm_subscription the gateway answered: %v %v", hs, err)
	}
}

func sp(t *testing.T) *Preset { p, _ := Lookup("sns"); return p }

var sha1New = sha1.New

func sha1Sum(s string) []byte { b := sha1.Sum([]byte(s)); return b[:] }
