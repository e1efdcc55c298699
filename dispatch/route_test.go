package dispatch

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/webhookverify/caddy-webhook-verify/journal"
)

func TestRouteWithDefaults(t *testing.T) {
	ok := Destination{URL: "https://app.example/hooks/"}
	r, err := Route{Name: "gh", Destinations: []Destination{ok, {Name: "b", URL: "http://b.example", RateLimit: RateLimit{Events: 5, Window: time.Minute}}}}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Schedule, DefaultSchedule) || r.Retention != DefaultRetention || r.Ack != 202 {
		t.Errorf("route defaults %+v", r)
	}
	if d := r.Destinations[0]; d.Name != "app.example/hooks" || d.Timeout != DefaultTimeout || d.MaxConcurrent != DefaultMaxConcurrent {
		t.Errorf("destination defaults %+v", d)
	}
	if b := r.Destinations[1]; b.RateLimit.Burst != 5 {
		t.Errorf("burst default %+v", b.RateLimit)
	}

	cases := []struct {
		name string
		r    Route
	}{
		{"no name", Route{Destinations: []Destination{ok}}},
		{"no destination", Route{Name: "r"}},
		{"relative URL", Route{Name: "r", Destinations: []Destination{{URL: "/hooks"}}}},
		{"ftp URL", Route{Name: "r", Destinations: []Destination{{URL: "ftp://x.example/"}}}},
		{"bad glob", Route{Name: "r", Destinations: []Destination{{URL: "http://x", Events: []string{"[push"}}}}},
		{"name twice", Route{Name: "r", Destinations: []Destination{ok, ok}}},
		{"negative step", Route{Name: "r", Destinations: []Destination{ok}, Schedule: []time.Duration{time.Second, -1}}},
		{"bad secret", Route{Name: "r", Destinations: []Destination{ok}, Sign: "whsec_not*base64"}},
		{"bad notify", Route{Name: "r", Destinations: []Destination{ok}, Notify: "hooks.slack.com/x"}},
		{"ack not 2xx", Route{Name: "r", Destinations: []Destination{ok}, Ack: 302}},
		{"rate without window", Route{Name: "r", Destinations: []Destination{{URL: "http://x", RateLimit: RateLimit{Events: 1}}}}},
		{"negative timeout", Route{Name: "r", Destinations: []Destination{{URL: "http://x", Timeout: -time.Second}}}},
		{"stream renamed", Route{Name: "r", Destinations: []Destination{{Stream: "dev", Name: "mine"}}}},
		{"URL named like a stream", Route{Name: "r", Destinations: []Destination{{URL: "http://x", Name: "stream:dev"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.r.WithDefaults(); err == nil {
				t.Fatal("accepted")
			} else if strings.Contains(err.Error(), "not*base64") {
				t.Errorf("the error quotes the secret: %v", err)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	r, err := Route{Name: "r", Destinations: []Destination{
		{Name: "all", URL: "http://all"},
		{Name: "pushes", URL: "http://p", Events: []string{"push", "pull_request"}},
		{Name: "issues", URL: "http://i", Events: []string{"issues.*"}},
	}}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		event string
		want  []string
	}{
		{"push", []string{"all", "pushes"}},
		{"pull_request", []string{"all", "pushes"}},
		{"issues.opened", []string{"all", "issues"}},
		{"issues", []string{"all"}},
		{"", []string{"all"}},
	}
	for _, tc := range cases {
		if got := r.Targets(tc.event); !slices.Equal(got, tc.want) {
			t.Errorf("Targets(%q) = %v, want %v", tc.event, got, tc.want)
		}
	}
}

func TestCleanHeader(t *testing.T) {
	in := http.Header{
		"Content-Type":        {"application/json"},
		"Connection":          {"keep-alive, X-Hop"},
		"X-Hop":               {"1"},
		"Keep-Alive":          {"timeout=5"},
		"Proxy-Authorization": {"Basic x"},
		"Proxy-Foo":           {"y"},
		"Te":                  {"trailers"},
		"Trailer":             {"X-T"},
		"Transfer-Encoding":   {"chunked"},
		"Upgrade":             {"h2c"},
		"Content-Length":      {"12"},
		"X-Github-Event":      {"push"},
	}
	got := CleanHeader(in)
	want := http.Header{"Content-Type": {"application/json"}, "X-Github-Event": {"push"}}
	if len(got) != len(want) || got.Get("Content-Type") != "application/json" || got.Get("X-Github-Event") != "push" {
		t.Errorf("CleanHeader = %v, want %v", got, want)
	}
	if in.Get("Connection") == "" {
		t.Error("CleanHeader changed its argument")
	}
	if CleanHeader(nil) == nil {
		t.Error("CleanHeader(nil) is nil; Append wants a header")
	}
}

// outcome's decisions, with the jitter pinned: rand 0.5 is no jitter.
func TestOutcome(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rt := &route{Route: Route{Schedule: []time.Duration{time.Minute, time.Hour}}}
	cases := []struct {
		name       string
		round      int
		rand       float64
		status     int
		retryAfter string
		want       journal.Outcome
	}{
		{"2xx delivered", 0, 0.5, 204, "", journal.Outcome{State: journal.Delivered}},
		{"410 dead at once", 0, 0.5, 410, "", journal.Outcome{State: journal.Dead}},
		{"5xx first step", 0, 0.5, 503, "", journal.Outcome{State: journal.Pending, Next: now.Add(time.Minute)}},
		{"transport error first step", 0, 0.5, 0, "", journal.Outcome{State: journal.Pending, Next: now.Add(time.Minute)}},
		{"jitter low", 0, 0, 500, "", journal.Outcome{State: journal.Pending, Next: now.Add(54 * time.Second)}},
		{"jitter high", 0, 1, 500, "", journal.Outcome{State: journal.Pending, Next: now.Add(66 * time.Second)}},
		{"second step", 1, 0.5, 500, "", journal.Outcome{State: journal.Pending, Next: now.Add(time.Hour)}},
		{"schedule run out", 2, 0.5, 500, "", journal.Outcome{State: journal.Dead}},
		{"retry-after longer honoured", 0, 0.5, 429, "90", journal.Outcome{State: journal.Pending, Next: now.Add(90 * time.Second)}},
		{"retry-after clamped to twice the step", 0, 0.5, 429, "3600", journal.Outcome{State: journal.Pending, Next: now.Add(2 * time.Minute)}},
		{"retry-after shorter ignored", 0, 0.5, 503, "5", journal.Outcome{State: journal.Pending, Next: now.Add(time.Minute)}},
		{"retry-after as a date", 0, 0.5, 503, now.Add(100 * time.Second).Format(http.TimeFormat), journal.Outcome{State: journal.Pending, Next: now.Add(100 * time.Second)}},
		{"retry-after garbage ignored", 0, 0.5, 503, "soon", journal.Outcome{State: journal.Pending, Next: now.Add(time.Minute)}},
		{"retry-after on the last step still dead", 2, 0.5, 503, "10", journal.Outcome{State: journal.Dead}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &Dispatcher{rand: func() float64 { return tc.rand }}
			got := d.outcome(rt, journal.Target{Round: tc.round}, result{status: tc.status, retryAfter: tc.retryAfter}, now)
			if got.State != tc.want.State || !got.Next.Equal(tc.want.Next) {
				t.Errorf("outcome = %s %v, want %s %v", got.State, got.Next, tc.want.State, tc.want.Next)
			}
		})
	}
}

// The envelope is JSON for any body: the body itself as data when it is
// JSON (verbatim), a string of it otherwise.
func FuzzEnvelope(f *testing.F) {
	for _, s := range []string{`{"a":1}`, ` [1, 2] `, `not json`, ``, "\xff\xfe", `"str"`, `{"a":`, `null`} {
		f.Add([]byte(s), "push")
	}
	f.Fuzz(func(t *testing.T, body []byte, event string) {
		d := &journal.Delivery{ID: "msg_1", Event: event, Provider: "github", Received: time.Unix(1700000000, 0), Body: body}
		out := envelope(d)
		var env struct {
			envelopeHead
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(out, &env); err != nil {
			t.Fatalf("envelope of %q is not JSON: %v\n%s", body, err, out)
		}
		if env.ID != "msg_1" || env.Provider != "github" || env.Version != "1.0" || env.Timestamp != "2023-11-14T22:13:20Z" {
			t.Fatalf("envelope fields %+v", env)
		}
		if utf8.ValidString(event) && env.EventType != event {
			t.Fatalf("event_type %q, want %q", env.EventType, event)
		}
		if json.Valid(body) {
			if !bytes.Contains(out, body) {
				t.Fatalf("JSON body not verbatim in %s", out)
			}
			return
		}
		var s string
		if err := json.Unmarshal(env.Data, &s); err != nil {
			t.Fatalf("data of a non-JSON body is not a string: %s", env.Data)
		}
		if utf8.Valid(body) && s != string(body) {
			t.Fatalf("data %q, want %q", s, body)
		}
	})
}
