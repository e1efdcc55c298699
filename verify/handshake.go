package verify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Handshake is an answer the gateway gives by itself to a provider's
// set-up request (a subscription challenge, a ping), so the app never sees
// an unverified request and need not know the secret.
type Handshake struct {
	Status      int
	ContentType string
	// Header holds extra response headers (Asana's X-Hook-Secret echo).
	Header http.Header
	Body   []byte
}

// Stage says when a challenge is asked.
type Stage uint8

// The stages of a request at which the gateway may answer a set-up request.
const (
	// BeforeVerify is for set-up requests that carry no signature but whose
	// answer needs the route's keys (X's CRC GET, Asana's X-Hook-Secret
	// handshake). They are always answered by the gateway.
	BeforeVerify Stage = iota
	// AfterVerify is for signed challenges, answered only once the request
	// verified (Slack's url_verification, Zoom's endpoint.url_validation,
	// Twitch's webhook_callback_verification, Discord's PING, SNS's
	// SubscriptionConfirmation). With `handshake app` they go to the app.
	AfterVerify
)

// ChallengeRequest is what a keyed challenge sees.
type ChallengeRequest struct {
	*Request
	Stage Stage
	// Delivery is what verification learned (AfterVerify only).
	Delivery Delivery
	// Secrets are the route's configured secrets.
	Secrets []string
	// Route names the route, for handshakes that keep a secret per route.
	Route string
	// Store keeps secrets handed over in a handshake (Asana); nil when the
	// route has none.
	Store SecretStore
	// Context bounds any request the answer makes (SNS's SubscribeURL).
	Context context.Context
	// ConfirmSubscription allows the gateway to confirm an SNS
	// subscription by fetching its SubscribeURL.
	ConfirmSubscription bool
	// Confirm fetches a confirmation URL; nil means an HTTPS GET.
	Confirm func(ctx context.Context, url string) error
}

// Challenge asks the preset whether req, at stage, is a set-up request the
// gateway answers itself, and returns the answer, or nil when it is not one
// (or not at this stage). An error means the request claimed to be a
// handshake that cannot be answered (a second Asana secret, an SNS
// SubscribeURL on a foreign host); the caller refuses it.
func (p *Preset) Challenge(c *ChallengeRequest) (*Handshake, error) {
	if c.Stage == BeforeVerify && p.Handshake != nil {
		if hs := p.Handshake(c.Request); hs != nil {
			return hs, nil
		}
	}
	if p.challenge == nil {
		return nil, nil
	}
	if c.Context == nil {
		c.Context = context.Background()
	}
	return p.challenge(c)
}

// HasChallenge reports whether Challenge may answer anything at stage:
// before verification unsigned set-up requests (Handshake) or keyed ones,
// after it signed ones.
func (p *Preset) HasChallenge(stage Stage) bool {
	return p.challenge != nil || (stage == BeforeVerify && p.Handshake != nil)
}

// challenging sets a preset's keyed challenge.
func challenging(p *Preset, c func(*ChallengeRequest) (*Handshake, error)) *Preset {
	p.challenge = c
	return p
}

// jsonAnswer is a 200 with a JSON body.
func jsonAnswer(v any) *Handshake {
	body, _ := json.Marshal(v)
	return &Handshake{Status: 200, ContentType: "application/json", Body: body}
}

// textAnswer is a 200 with a plain-text body.
func textAnswer(s string) *Handshake {
	return &Handshake{Status: 200, ContentType: "text/plain; charset=utf-8", Body: []byte(s)}
}

// bodyChallenge answers a verified JSON body whose typeField equals
// typeValue with answer(body).
func bodyChallenge(typeField, typeValue string, answer func(body []byte) *Handshake) func(*ChallengeRequest) (*Handshake, error) {
	return func(c *ChallengeRequest) (*Handshake, error) {
		if c.Stage != AfterVerify {
			return nil, nil
		}
		if got, _ := jsonFields(c.Body, typeField, ""); got != typeValue {
			return nil, nil
		}
		return answer(c.Body), nil
	}
}

// slackURLVerification answers Slack's signed url_verification with its
// challenge (api.slack.com/events/url_verification: respond with the
// challenge value, as text/plain or {"challenge": ...}).
var slackURLVerification = bodyChallenge("type", "url_verification", func(body []byte) *Handshake {
	challenge, _ := jsonFields(body, "challenge", "")
	if challenge == "" || len(challenge) > maxChallenge {
		return nil
	}
	return jsonAnswer(map[string]string{"challenge": challenge})
})

// zoomURLValidation answers Zoom's signed endpoint.url_validation with
// {"plainToken": t, "encryptedToken": hex(HMAC-SHA256(secret token, t))}.
func zoomURLValidation(c *ChallengeRequest) (*Handshake, error) {
	if c.Stage != AfterVerify {
		return nil, nil
	}
	if event, _ := jsonFields(c.Body, "event", ""); event != "endpoint.url_validation" {
		return nil, nil
	}
	var body struct {
		Payload struct {
			PlainToken string `json:"plainToken"`
		} `json:"payload"`
	}
	if json.Unmarshal(c.Body, &body) != nil || body.Payload.PlainToken == "" || len(body.Payload.PlainToken) > maxChallenge {
		return nil, errors.New("endpoint.url_validation without a plainToken")
	}
	// The request verified with one of the secrets; answer with the one
	// that signed it, so a rotation in progress answers correctly.
	secret := c.Secrets[0]
	if len(c.Secrets) > 1 {
		secret = signingSecret(c)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body.Payload.PlainToken))
	return jsonAnswer(map[string]string{"plainToken": body.Payload.PlainToken, "encryptedToken": hex.EncodeToString(m.Sum(nil))}), nil
}

// signingSecret is the route's secret that signed Zoom's request: during
// a rotation the answer must use the one Zoom holds.
func signingSecret(c *ChallengeRequest) string {
	ts := c.Header.Get("X-Zm-Request-Timestamp")
	sig := strings.TrimPrefix(c.Header.Get("X-Zm-Signature"), "v0=")
	want, err := hex.DecodeString(sig)
	if err == nil {
		for _, s := range c.Secrets {
			m := hmac.New(sha256.New, []byte(s))
			m.Write([]byte("v0:" + ts + ":"))
			m.Write(c.Body)
			if hmac.Equal(m.Sum(nil), want) {
				return s
			}
		}
	}
	return c.Secrets[0]
}

// twitchCallbackVerification answers Twitch's signed
// webhook_callback_verification with the raw challenge, as text/plain.
func twitchCallbackVerification(c *ChallengeRequest) (*Handshake, error) {
	if c.Stage != AfterVerify || c.Header.Get("Twitch-Eventsub-Message-Type") != "webhook_callback_verification" {
		return nil, nil
	}
	challenge, _ := jsonFields(c.Body, "challenge", "")
	if challenge == "" || len(challenge) > maxChallenge {
		return nil, errors.New("webhook_callback_verification without a challenge")
	}
	return textAnswer(challenge), nil
}

// discordPing answers Discord's signed PING (interaction type 1) with
// {"type":1} (PONG).
func discordPing(c *ChallengeRequest) (*Handshake, error) {
	if c.Stage != AfterVerify {
		return nil, nil
	}
	if t, _ := jsonFields(c.Body, "type", ""); t != "1" {
		return nil, nil
	}
	return &Handshake{Status: 200, ContentType: "application/json", Body: []byte(`{"type":1}`)}, nil
}

// twitterCRC answers X's challenge-response check, an unsigned
// GET ?crc_token=<t>, with {"response_token": "sha256=" +
// base64(HMAC-SHA256(consumer secret, t))}: only the secret's holder can.
func twitterCRC(c *ChallengeRequest) (*Handshake, error) {
	if c.Stage != BeforeVerify || c.Method != "GET" {
		return nil, nil
	}
	q, err := url.ParseQuery(c.Query)
	token := q.Get("crc_token")
	if err != nil || token == "" || len(token) > maxChallenge {
		return nil, nil
	}
	m := hmac.New(sha256.New, []byte(c.Secrets[0]))
	m.Write([]byte(token))
	return jsonAnswer(map[string]string{"response_token": "sha256=" + base64.StdEncoding.EncodeToString(m.Sum(nil))}), nil
}

// graphValidation echoes Microsoft Graph's validationToken (a POST with
// ?validationToken=, to be answered within 10 seconds as text/plain).
func graphValidation(req *Request) *Handshake {
	if req.Method != "POST" {
		return nil
	}
	q, err := url.ParseQuery(req.Query)
	token := q.Get("validationToken")
	if err != nil || token == "" || len(token) > maxChallenge {
		return nil
	}
	return textAnswer(token)
}

// maxChallenge bounds a challenge that is echoed back.
const maxChallenge = 512

// echoQuery answers GET ?<param>=<challenge> (when cond holds for the
// query) with the challenge as text.
func echoQuery(param string, cond func(url.Values) bool) func(*Request) *Handshake {
	return func(req *Request) *Handshake {
		if req.Method != "GET" {
			return nil
		}
		q, err := url.ParseQuery(req.Query)
		challenge := q.Get(param)
		if err != nil || challenge == "" || len(challenge) > maxChallenge || (cond != nil && !cond(q)) {
			return nil
		}
		return textAnswer(challenge)
	}
}

// oktaVerification answers Okta's one-time GET with
// X-Okta-Verification-Challenge by returning the value as
// {"verification": "..."}.
func oktaVerification(req *Request) *Handshake {
	challenge, _ := header(req.Header, []string{"X-Okta-Verification-Challenge"})
	if req.Method != "GET" || challenge == "" || len(challenge) > maxChallenge {
		return nil
	}
	body, _ := json.Marshal(map[string]string{"verification": challenge})
	return &Handshake{Status: 200, ContentType: "application/json", Body: body}
}

var wooPing = regexp.MustCompile(`^webhook_id=[0-9]{1,20}$`)

// wooCommercePing answers the unsigned POST "webhook_id=<n>" WooCommerce
// sends when a webhook is saved; it refuses to save one whose URL fails it.
func wooCommercePing(req *Request) *Handshake {
	if _, signed := header(req.Header, []string{"X-Wc-Webhook-Signature"}); signed || req.Method != "POST" || !wooPing.Match(req.Body) {
		return nil
	}
	return &Handshake{Status: 200}
}
