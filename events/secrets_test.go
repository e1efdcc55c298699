package events

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/dispatch"
	"github.com/webhookverify/caddy-webhook-verify/journal"
	"github.com/webhookverify/caddy-webhook-verify/verify"
)

// testSecrets ride on every request of the test below, in every place a
// request can carry one.
var testSecrets = []string{
	"tok-AUTH-7f3a9c",     // Authorization: Bearer
	"tok-GITLAB-5e1b2d",   // X-Gitlab-Token
	"tok-QUERY-9a8b7c",    // ?token=
	"tok-COOKIE-3c4d5e",   // Cookie
	"tok-USERINFO-1a2b3c", // user:password@ in the URL
	"tok-BODY-6f7e8d",     // the body
	"whsec-GITHUB-0d9c8b", // the secret GitHub signs with
}

// signedRequest is a GitHub delivery signed with the test secret and
// carrying the other test secrets.
func signedRequest(t *testing.T) (*http.Request, string) {
	body := `{"zen":"` + testSecrets[5] + `"}`
	p, _ := verify.Lookup("github")
	s, err := p.Sign(verify.SignOptions{Secret: testSecrets[6], Body: []byte(body), Event: "push"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "https://user:"+testSecrets[4]+"@hooks.example.com/github/hook?token="+testSecrets[2], strings.NewReader(body))
	for k, v := range s.Header {
		r.Header[k] = v
	}
	r.Header.Set("Authorization", "Bearer "+testSecrets[0])
	r.Header.Set("X-Gitlab-Token", testSecrets[1])
	r.Header.Set("Cookie", "session="+testSecrets[3])
	return r, s.Header.Get("X-Hub-Signature-256")
}

// Events built from a request carrying secrets, by every builder, for
// every type, and the rejected log's listing, show none of them: not the
// secrets, not the signature, not their base64.
func TestNoSecretInEvents(t *testing.T) {
	r, signature := signedRequest(t)
	needles := append([]string{signature, strings.TrimPrefix(signature, "sha256=")}, testSecrets...)
	for _, s := range testSecrets {
		needles = append(needles, base64.StdEncoding.EncodeToString([]byte(s)))
	}
	needles = append(needles, base64.StdEncoding.EncodeToString([]byte("user:"+testSecrets[4])))

	hub := NewHub(HubOptions{})
	srv, _ := sseServer(t, hub, SSEOptions{})
	for _, typ := range Types {
		e := FromRequest(typ, r)
		e.Route, e.Provider, e.Reason, e.Detail = "github", "github", "bad_signature", "no signature matches"
		hub.Publish(e)
	}
	body, _ := io.ReadAll(r.Body)
	d := &journal.Delivery{
		ID: journal.NewID(time.Now()), Route: "github", Provider: "github", Event: "push", Method: r.Method,
		Path: r.URL.RequestURI(), Header: dispatch.CleanHeader(r.Header), Body: body,
		Targets: []journal.Target{{Destination: "app"}},
	}
	hub.Publish(FromDelivery(TypeAccepted, d))
	obs := Observer{Hub: hub}
	obs.Attempted(dispatch.AttemptInfo{ID: d.ID, Route: d.Route, Provider: "github", Event: "push", Destination: "app",
		Attempt: 1, Status: 500, Error: "oops", State: journal.Pending, Next: time.Now()})
	obs.Attempted(dispatch.AttemptInfo{ID: d.ID, Route: d.Route, Destination: "app", Attempt: 2, Status: 200, State: journal.Delivered})
	obs.Replayed(dispatch.ReplayInfo{ID: d.ID, Targets: 1})
	last := hub.Publish(Event{Type: TypeDead})

	s, _, _ := open(t, srv.URL+"?last_event_id=0", nil)
	var stream strings.Builder
	for {
		e := s.nextEvent(t)
		stream.WriteString(e.ID + " " + e.Event + " " + e.Data + "\n")
		if e.ID == formatID(last) {
			break
		}
	}
	if !strings.Contains(stream.String(), `"path":"/github/hook"`) || !strings.Contains(stream.String(), `"type":"replayed"`) {
		t.Fatalf("the stream lacks what it should carry:\n%s", stream.String())
	}
	log := NewRejectedLog(RejectedOptions{KeepBodies: true})
	log.Add(Rejected{Route: "github", Reason: "bad_signature", Method: r.Method, Path: r.URL.Path, Header: r.Header, Body: body})
	listing, _ := json.Marshal(log.List("", 0))
	for _, text := range []string{stream.String(), string(listing)} {
		for _, needle := range needles {
			if strings.Contains(text, needle) {
				t.Errorf("%q leaked into:\n%s", needle, text)
			}
		}
	}
	if !strings.Contains(string(listing), `"X-Hub-Signature-256":["[redacted]"]`) || !strings.Contains(string(listing), `"X-Github-Event":["push"]`) {
		t.Errorf("the listing should show header names, hiding secret values: %s", listing)
	}
}

func formatID(id uint64) string {
	b, _ := json.Marshal(id)
	return string(b)
}
