package verify

import (
	"encoding/json"
	"net/url"
	"regexp"
)

// Handshake is an answer the gateway gives by itself to a provider's
// unsigned set-up request (a subscription challenge, a ping), so the app
// never sees an unverified request.
type Handshake struct {
	Status      int
	ContentType string
	Body        []byte
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
		return &Handshake{Status: 200, ContentType: "text/plain; charset=utf-8", Body: []byte(challenge)}
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
