package dispatch

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
)

// Defaults for a Route and its destinations.
var (
	// DefaultSchedule is the waits between attempts: eight attempts over
	// about 28 hours, so a destination down for a day still gets it.
	DefaultSchedule = []time.Duration{
		5 * time.Second, 5 * time.Minute, 30 * time.Minute,
		2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
	}
)

const (
	// DefaultRetention is how long finished deliveries are kept.
	DefaultRetention = 7 * 24 * time.Hour
	// DefaultTimeout bounds one attempt at a destination.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxConcurrent caps attempts in flight per destination.
	DefaultMaxConcurrent = 8
	// DefaultAck is the status the provider gets once a delivery is
	// journaled.
	DefaultAck = http.StatusAccepted
	// secretPrefix starts Standard Webhooks secrets; the rest is base64.
	secretPrefix = "whsec_"
)

// Route is one deliver block: where a verified webhook goes and how.
type Route struct {
	// Name identifies the route in the journal; it must be unique and
	// stable across reloads (a renamed route's pending deliveries wait).
	Name string
	// Destinations receive every delivery their Events match (fan-out).
	Destinations []Destination
	// Schedule is the waits between attempts, each with ±10% jitter; when
	// it runs out the target is dead. Default DefaultSchedule.
	Schedule []time.Duration
	// Sign, when set, is a Standard Webhooks secret ("whsec_" and base64)
	// that signs every outgoing delivery and notice (Webhook-Signature).
	Sign string
	// Envelope wraps the body as {"id","event_type","provider",
	// "timestamp","version","data"}.
	Envelope bool
	// Retention is how long finished deliveries are kept; default
	// DefaultRetention.
	Retention time.Duration
	// Notify, when set, is a URL that gets a JSON POST when a target goes
	// dead ({"text": ...} works as a Slack incoming webhook).
	Notify string
	// Ack is the status the provider gets once a delivery is journaled
	// (the handler's business; the dispatcher ignores it). Default 202.
	Ack int
}

// StreamPrefix starts the name of a stream destination, and no other.
const StreamPrefix = "stream:"

// Destination is one place deliveries go: a URL, or a named stream.
type Destination struct {
	// Stream, instead of URL, names a stream that subscribers read from
	// the journal (webhook_stream): publishing is the journal write, so
	// an attempt at a stream succeeds at once, without a request. Its
	// Name is always StreamPrefix and the stream's name.
	Stream string
	// Name identifies the destination in the journal, the admin API and
	// pause; default the URL's host and path. Unique within a route.
	Name string
	URL  string
	// Events are path.Match globs of event types; empty means all.
	Events []string
	// Header lines are added to every attempt, replacing any the delivery
	// carries (secrets already resolved).
	Header http.Header
	// RateLimit paces attempts; zero means none.
	RateLimit RateLimit
	// MaxConcurrent caps attempts in flight; default DefaultMaxConcurrent,
	// so that a destination that hangs holds only that many of the
	// dispatcher's workers (each for at most its Timeout) and the other
	// destinations keep theirs.
	MaxConcurrent int
	// Timeout bounds one attempt, response included; default
	// DefaultTimeout.
	Timeout time.Duration
}

// RateLimit is Events per Window, with bursts of up to Burst (default
// Events).
type RateLimit struct {
	Events int
	Window time.Duration
	Burst  int
}

// WithDefaults fills unset fields and checks the rest.
func (r Route) WithDefaults() (Route, error) {
	if r.Name == "" || strings.IndexByte(r.Name, 0) >= 0 {
		return r, fmt.Errorf("route name %q: must be non-empty, without NUL", r.Name)
	}
	if len(r.Destinations) == 0 {
		return r, fmt.Errorf("route %s: no destination", r.Name)
	}
	if len(r.Schedule) == 0 {
		r.Schedule = slices.Clone(DefaultSchedule)
	}
	for _, d := range r.Schedule {
		if d <= 0 {
			return r, fmt.Errorf("route %s: schedule step %s is not positive", r.Name, d)
		}
	}
	if r.Retention == 0 {
		r.Retention = DefaultRetention
	}
	if r.Retention < 0 {
		return r, fmt.Errorf("route %s: negative retention", r.Name)
	}
	if r.Ack == 0 {
		r.Ack = DefaultAck
	}
	if r.Ack < 200 || r.Ack > 299 {
		return r, fmt.Errorf("route %s: ack %d is not a 2xx status", r.Name, r.Ack)
	}
	if _, err := signingKey(r.Sign); err != nil {
		return r, fmt.Errorf("route %s: sign: %w", r.Name, err)
	}
	if r.Notify != "" {
		if _, err := httpURL(r.Notify); err != nil {
			return r, fmt.Errorf("route %s: notify: %w", r.Name, err)
		}
	}
	dests := make([]Destination, len(r.Destinations))
	seen := map[string]bool{}
	for i, d := range r.Destinations {
		d, err := d.withDefaults()
		if err != nil {
			return r, fmt.Errorf("route %s: %w", r.Name, err)
		}
		if seen[d.Name] {
			return r, fmt.Errorf("route %s: destination name %q twice", r.Name, d.Name)
		}
		seen[d.Name] = true
		dests[i] = d
	}
	r.Destinations = dests
	return r, nil
}

func (d Destination) withDefaults() (Destination, error) {
	if d.Stream != "" {
		if d.URL != "" {
			return d, fmt.Errorf("destination %s: a stream has no URL", d.Stream)
		}
		// subscribers find a stream's deliveries in the journal by this
		// name, so it is not a choice
		if d.Name != "" && d.Name != StreamPrefix+d.Stream {
			return d, fmt.Errorf("destination %s: a stream destination is named %s%s, not %q", d.Stream, StreamPrefix, d.Stream, d.Name)
		}
		d.Name = StreamPrefix + d.Stream
	} else {
		u, err := httpURL(d.URL)
		if err != nil {
			return d, fmt.Errorf("destination %s: %w", d.URL, err)
		}
		if d.Name == "" {
			d.Name = strings.TrimSuffix(u.Host+u.Path, "/")
		}
		if strings.HasPrefix(d.Name, StreamPrefix) {
			return d, fmt.Errorf("destination %s: names starting with %q are for streams; give it another name", d.URL, StreamPrefix)
		}
	}
	if strings.IndexByte(d.Name, 0) >= 0 {
		return d, fmt.Errorf("destination name %q contains a NUL", d.Name)
	}
	for _, e := range d.Events {
		if _, err := path.Match(e, ""); err != nil {
			return d, fmt.Errorf("destination %s: events %q: %w", d.Name, e, err)
		}
	}
	if d.Timeout == 0 {
		d.Timeout = DefaultTimeout
	}
	if d.MaxConcurrent == 0 {
		d.MaxConcurrent = DefaultMaxConcurrent
	}
	if d.Timeout < 0 || d.MaxConcurrent < 0 {
		return d, fmt.Errorf("destination %s: negative timeout or max_concurrent", d.Name)
	}
	if rl := d.RateLimit; rl != (RateLimit{}) {
		if rl.Events <= 0 || rl.Window <= 0 || rl.Burst < 0 {
			return d, fmt.Errorf("destination %s: rate limit needs positive events per positive window", d.Name)
		}
		if d.RateLimit.Burst == 0 {
			d.RateLimit.Burst = rl.Events
		}
	}
	return d, nil
}

func httpURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("not an absolute http or https URL")
	}
	return u, nil
}

// signingKey decodes a Standard Webhooks secret; nil for "".
func signingKey(secret string) ([]byte, error) {
	if secret == "" {
		return nil, nil
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(key) == 0 {
		// the error would quote the secret; say only what is wrong
		return nil, errors.New("not a whsec_ and base64 secret")
	}
	return key, nil
}

// Targets names the destinations that want an event, in the route's
// order: those without Events, and those with a glob matching it. The
// handler calls it (through Dispatcher.Accept) when the webhook arrives,
// so fan-out is fixed in the journal from then on.
func (r Route) Targets(event string) []string {
	var names []string
	for _, d := range r.Destinations {
		if d.wants(event) {
			names = append(names, d.Name)
		}
	}
	return names
}

func (d Destination) wants(event string) bool {
	if len(d.Events) == 0 {
		return true
	}
	for _, e := range d.Events {
		if ok, _ := path.Match(e, event); ok {
			return true
		}
	}
	return false
}
