package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/events"
	"github.com/webhookverify/caddy-webhook-verify/journal"
	"github.com/webhookverify/caddy-webhook-verify/redact"
)

// Delivery is a journaled delivery as the console's API shows it: the
// journal's fields (its header redacted and its query's secret-looking
// values hidden, in the detail only; never its body) and a summary of its
// targets.
type Delivery struct {
	journal.Delivery
	// State sums up the targets: dead when any is, else pending when any
	// is, else delivered.
	State journal.State `json:"state"`
	// Status is the latest status a destination answered.
	Status int `json:"status,omitempty"`
	// Attempts counts the attempts at every destination.
	Attempts int `json:"attempts"`
	// Updated is when a target last changed.
	Updated time.Time `json:"updated"`
	// Replayable is true when a target is finished (delivered or dead).
	Replayable bool `json:"replayable"`
	// Size is the body's length, in the detail only.
	Size int `json:"size,omitempty"`
}

// view makes the API's view of d; detail keeps the header and each
// target's attempts.
func (c *Console) view(d *journal.Delivery, detail bool) Delivery {
	v := Delivery{Delivery: *d, State: journal.Delivered}
	v.Body, v.Path, v.Header = nil, redactQuery(d.Path), nil
	v.Targets = make([]journal.Target, len(d.Targets))
	pending, dead := false, false
	for i, t := range d.Targets {
		v.Attempts += t.Attempts
		if t.Updated.After(v.Updated) || v.Updated.IsZero() {
			v.Updated = t.Updated
			if t.LastStatus != 0 {
				v.Status = t.LastStatus
			}
		}
		switch t.State {
		case journal.Pending:
			pending = true
		case journal.Dead:
			dead = true
			v.Replayable = true
		case journal.Delivered:
			v.Replayable = true
		}
		if !detail {
			t.History = nil
		}
		v.Targets[i] = t
	}
	switch {
	case dead:
		v.State = journal.Dead
	case pending:
		v.State = journal.Pending
	}
	if detail {
		v.Size = len(d.Body)
		v.Header = redact.Header(d.Header, c.o.Redact...)
	}
	return v
}

// redactQuery hides the values of query parameters whose names look like
// a secret or a signature (?token=, ?signature=).
func redactQuery(p string) string {
	path, query, ok := strings.Cut(p, "?")
	if !ok {
		return p
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return path + "?" + redact.Mask
	}
	for name, vs := range values {
		if redact.Classify(name) != redact.Plain {
			for i := range vs {
				vs[i] = redact.Mask
			}
		}
	}
	return path + "?" + values.Encode()
}

// list answers GET api/deliveries?route=&state=&destination=&before=&limit=.
func (c *Console) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(r, "limit", journal.DefaultListLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := journal.Filter{Route: q.Get("route"), State: journal.State(q.Get("state")), Destination: q.Get("destination"),
		Before: q.Get("before"), Limit: min(limit, journal.MaxListLimit)}
	if f.State != "" && !f.State.Valid() {
		writeError(w, http.StatusBadRequest, "state must be pending, delivered or dead")
		return
	}
	out := []Delivery{}
	if c.o.Source != nil {
		ds, err := c.o.Source.List(r.Context(), f)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "listing deliveries failed")
			return
		}
		for i := range ds {
			out = append(out, c.view(&ds[i], false))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": out})
}

// detail answers GET api/deliveries/<id>.
func (c *Console) detail(w http.ResponseWriter, r *http.Request, id string) {
	if c.o.Source == nil {
		writeError(w, http.StatusNotFound, "no such delivery")
		return
	}
	d, err := c.o.Source.Get(r.Context(), id)
	switch {
	case errors.Is(err, journal.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such delivery")
	case err != nil:
		writeError(w, http.StatusInternalServerError, "reading the delivery failed")
	default:
		writeJSON(w, http.StatusOK, c.view(d, true))
	}
}

// replay answers POST api/deliveries/<id>/replay[?destination=].
func (c *Console) replay(w http.ResponseWriter, r *http.Request, id string) {
	if c.o.Source == nil {
		writeError(w, http.StatusNotFound, "no such delivery")
		return
	}
	n, err := c.o.Source.Replay(r.Context(), id, r.URL.Query().Get("destination"))
	switch {
	case errors.Is(err, journal.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such delivery")
	case err != nil:
		writeError(w, http.StatusInternalServerError, "replay failed")
	case n == 0:
		writeError(w, http.StatusConflict, "nothing to replay: every destination is still pending")
	default:
		writeJSON(w, http.StatusOK, map[string]int{"replayed": n})
	}
}

// rejected answers GET api/rejected?route=&limit=.
func (c *Console) rejected(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit", events.DefaultRejectedPerRoute)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := []events.Rejected{}
	if c.o.Source != nil {
		rs, err := c.o.Source.Rejected(r.Context(), r.URL.Query().Get("route"), limit)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "listing rejected requests failed")
			return
		}
		for _, rj := range rs {
			// redact again: a Source other than RejectedLog may not have
			rj.Header, rj.Body, rj.Path = redact.Header(rj.Header, c.o.Redact...), nil, redactQuery(rj.Path)
			out = append(out, rj)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"rejected": out})
}

// Replayer replays deliveries; *dispatch.Dispatcher is one.
type Replayer interface {
	Replay(ctx context.Context, id, destination string) (int, error)
}

// Journal is a Source over the journal, the dispatcher that replays from
// it, and the rejected log. Nil parts give nothing (Store, Rejects) or
// refuse (Replayer).
type Journal struct {
	Store    journal.Store
	Replayer Replayer
	Rejects  *events.RejectedLog
}

// List implements Source.
func (j Journal) List(ctx context.Context, f journal.Filter) ([]journal.Delivery, error) {
	if j.Store == nil {
		return nil, nil
	}
	return j.Store.List(ctx, f)
}

// Get implements Source.
func (j Journal) Get(ctx context.Context, id string) (*journal.Delivery, error) {
	if j.Store == nil {
		return nil, journal.ErrNotFound
	}
	return j.Store.Get(ctx, id)
}

// Replay implements Source.
func (j Journal) Replay(ctx context.Context, id, destination string) (int, error) {
	if j.Replayer == nil {
		return 0, errors.New("console: no dispatcher to replay with")
	}
	return j.Replayer.Replay(ctx, id, destination)
}

// Rejected implements Source.
func (j Journal) Rejected(_ context.Context, route string, limit int) ([]events.Rejected, error) {
	if j.Rejects == nil {
		return nil, nil
	}
	return j.Rejects.List(route, limit), nil
}

var (
	_ Source       = Journal{}
	_ http.Handler = (*Console)(nil)
)
