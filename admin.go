package webhookverify

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/webhookverify/caddy-webhook-verify/events"
	"github.com/webhookverify/caddy-webhook-verify/journal"
	"github.com/webhookverify/caddy-webhook-verify/redact"
	"github.com/webhookverify/caddy-webhook-verify/verify"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// adminAPI serves the webhook app's deliveries on Caddy's admin endpoint
// (`admin.api.webhook`), JSON in and out:
//
//	GET  /webhook/deliveries?route=&state=&destination=&limit=&before=
//	GET  /webhook/deliveries/<id>[?body=true]
//	POST /webhook/deliveries/<id>/replay[?destination=]
//	POST /webhook/replay?route=&state=dead|delivered[&destination=]
//	POST /webhook/destinations/<name>/pause
//	POST /webhook/destinations/<name>/resume
//	GET  /webhook/destinations
//	GET  /webhook/events (text/event-stream; Last-Event-ID, ?route=, ?type=)
//	GET  /webhook/rejected?route=
//	POST /webhook/rejected/<id>/reverify
//
// Header values that carry secrets or signatures are redacted.
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.webhook",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Routes returns the admin routes.
func (a adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/webhook/", Handler: caddy.AdminHandlerFunc(a.serve)}}
}

func apiError(status int, format string, args ...any) error {
	return caddy.APIError{HTTPStatus: status, Err: fmt.Errorf(format, args...)}
}

func (a adminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/webhook/"), "/"), "/")
	app, store, err := activeApp(parts[0] != "rejected" && parts[0] != "events")
	if err != nil {
		return err
	}
	route := func(method string, n int, name string) bool {
		return len(parts) == n && parts[0] == name && r.Method == method
	}
	switch {
	case route(http.MethodGet, 1, "deliveries"):
		return apiList(w, r, store)
	case route(http.MethodGet, 2, "deliveries"):
		return apiGet(w, r, store, parts[1])
	case route(http.MethodPost, 3, "deliveries") && parts[2] == "replay":
		return app.apiReplay(w, r, parts[1])
	case route(http.MethodPost, 1, "replay"):
		return app.apiReplayWhere(w, r)
	case route(http.MethodGet, 1, "destinations"):
		return app.apiDestinations(w, r, store)
	case route(http.MethodPost, 3, "destinations") && (parts[2] == "pause" || parts[2] == "resume"):
		return app.apiPause(w, r, parts[1], parts[2] == "pause")
	case route(http.MethodGet, 1, "events"):
		return events.ServeSSE(w, r, app.hub, events.SSEOptions{})
	case route(http.MethodGet, 1, "rejected"):
		return writeJSON(w, map[string]any{"rejected": app.rejected.List(r.URL.Query().Get("route"), 0)})
	case route(http.MethodPost, 3, "rejected") && parts[2] == "reverify":
		return app.apiReverify(w, parts[1])
	case len(parts) > 0 && (parts[0] == "deliveries" || parts[0] == "replay" || parts[0] == "destinations" || parts[0] == "rejected" || parts[0] == "events"):
		return apiError(http.StatusMethodNotAllowed, "%s not allowed on %s", r.Method, r.URL.Path)
	}
	return apiError(http.StatusNotFound, "no such endpoint: %s", r.URL.Path)
}

// activeApp is the running config's webhook app, and its journal when
// withJournal.
func activeApp(withJournal bool) (*App, journal.Store, error) {
	v, err := caddy.ActiveContext().AppIfConfigured("webhook")
	if err != nil {
		return nil, nil, apiError(http.StatusNotFound, "no webhook app is running")
	}
	app := v.(*App)
	if !withJournal {
		return app, nil, nil
	}
	store := app.journal()
	if store == nil {
		return nil, nil, apiError(http.StatusNotFound, "no journal: no route has deliver, or it could not be opened (see the log)")
	}
	return app, store, nil
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// filterOf reads route, state, destination, limit and before.
func filterOf(r *http.Request) (journal.Filter, error) {
	q := r.URL.Query()
	f := journal.Filter{Route: q.Get("route"), State: journal.State(q.Get("state")), Destination: q.Get("destination"), Before: q.Get("before")}
	if f.State != "" && !f.State.Valid() {
		return f, apiError(http.StatusBadRequest, "state %q: want pending, delivered or dead", f.State)
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 || n > journal.MaxListLimit {
			return f, apiError(http.StatusBadRequest, "limit %q: want 1 to %d", l, journal.MaxListLimit)
		}
		f.Limit = n
	}
	return f, nil
}

// deliveryView is a delivery as the admin API shows it: headers redacted,
// the body only on request.
type deliveryView struct {
	*journal.Delivery
	Body         string `json:"body,omitempty"`
	BodyEncoding string `json:"body_encoding,omitempty"`
}

func viewOf(d *journal.Delivery, withBody bool) deliveryView {
	c := *d
	c.Header = redact.Header(d.Header)
	v := deliveryView{Delivery: &c}
	if withBody && d.Body != nil {
		if utf8.Valid(d.Body) {
			v.Body, v.BodyEncoding = string(d.Body), "utf-8"
		} else {
			v.Body, v.BodyEncoding = base64.StdEncoding.EncodeToString(d.Body), "base64"
		}
	}
	return v
}

func apiList(w http.ResponseWriter, r *http.Request, store journal.Store) error {
	f, err := filterOf(r)
	if err != nil {
		return err
	}
	list, err := store.List(r.Context(), f)
	if err != nil {
		return apiError(http.StatusServiceUnavailable, "journal: %v", err)
	}
	out := struct {
		Deliveries []deliveryView `json:"deliveries"`
		Next       string         `json:"next,omitempty"`
	}{Deliveries: []deliveryView{}}
	for i := range list {
		out.Deliveries = append(out.Deliveries, viewOf(&list[i], false))
	}
	if f.Limit == 0 {
		f.Limit = journal.DefaultListLimit
	}
	if len(list) == f.Limit {
		out.Next = list[len(list)-1].ID
	}
	return writeJSON(w, out)
}

func apiGet(w http.ResponseWriter, r *http.Request, store journal.Store, id string) error {
	d, err := store.Get(r.Context(), id)
	if errors.Is(err, journal.ErrNotFound) {
		return apiError(http.StatusNotFound, "no delivery %q", id)
	}
	if err != nil {
		return apiError(http.StatusServiceUnavailable, "journal: %v", err)
	}
	return writeJSON(w, viewOf(d, r.URL.Query().Get("body") == "true"))
}

func (a *App) apiReplay(w http.ResponseWriter, r *http.Request, id string) error {
	disp, err := a.dispatcher()
	if err != nil {
		return apiError(http.StatusServiceUnavailable, "%v", err)
	}
	n, err := disp.Replay(r.Context(), id, r.URL.Query().Get("destination"))
	switch {
	case errors.Is(err, journal.ErrNotFound):
		return apiError(http.StatusNotFound, "no delivery %q", id)
	case err != nil:
		return apiError(http.StatusServiceUnavailable, "journal: %v", err)
	}
	return writeJSON(w, map[string]any{"id": id, "replayed": n})
}

func (a *App) apiReplayWhere(w http.ResponseWriter, r *http.Request) error {
	f, err := filterOf(r)
	if err != nil {
		return err
	}
	if f.State != journal.Dead && f.State != journal.Delivered {
		return apiError(http.StatusBadRequest, "state: want dead or delivered")
	}
	disp, err := a.dispatcher()
	if err != nil {
		return apiError(http.StatusServiceUnavailable, "%v", err)
	}
	n, err := disp.ReplayWhere(r.Context(), f)
	if err != nil {
		return apiError(http.StatusServiceUnavailable, "journal: %v", err)
	}
	return writeJSON(w, map[string]any{"replayed": n})
}

func (a *App) apiDestinations(w http.ResponseWriter, r *http.Request, store journal.Store) error {
	paused, err := store.Paused(r.Context())
	if err != nil {
		return apiError(http.StatusServiceUnavailable, "journal: %v", err)
	}
	type dest struct {
		Route  string `json:"route"`
		Name   string `json:"name"`
		Paused bool   `json:"paused"`
	}
	out := []dest{}
	a.q.mu.Lock()
	for _, rt := range a.q.routes {
		for _, d := range rt.Destinations {
			out = append(out, dest{Route: rt.Name, Name: d.Name, Paused: slices.Contains(paused, d.Name)})
		}
	}
	a.q.mu.Unlock()
	return writeJSON(w, map[string]any{"destinations": out, "paused": paused})
}

func (a *App) apiPause(w http.ResponseWriter, r *http.Request, name string, pause bool) error {
	known := false
	a.q.mu.Lock()
	for _, rt := range a.q.routes {
		for _, d := range rt.Destinations {
			known = known || d.Name == name
		}
	}
	a.q.mu.Unlock()
	if !known {
		return apiError(http.StatusNotFound, "no destination named %q", name)
	}
	disp, err := a.dispatcher()
	if err != nil {
		return apiError(http.StatusServiceUnavailable, "%v", err)
	}
	if err := disp.SetPaused(r.Context(), name, pause); err != nil {
		return apiError(http.StatusServiceUnavailable, "journal: %v", err)
	}
	a.logger.Info("destination paused or resumed", zap.String("destination", name), zap.Bool("paused", pause))
	return writeJSON(w, map[string]any{"destination": name, "paused": pause, "at": time.Now().UTC()})
}

var _ caddy.AdminRouter = adminAPI{}

func (a *App) apiReverify(w http.ResponseWriter, id string) error {
	r, ok := a.rejected.Get(id)
	if !ok {
		return apiError(http.StatusNotFound, "no rejected request %q (only the last %d per route are kept)", id, events.DefaultRejectedPerRoute)
	}
	d, deliveryID, err := a.reverify(r)
	switch {
	case errors.Is(err, errNotDurable):
		return writeJSON(w, map[string]any{"verified": true, "delivered": false, "reason": err.Error()})
	case err != nil && verify.ReasonOf(err) != "":
		return writeJSON(w, map[string]any{"verified": false, "reason": string(verify.ReasonOf(err)), "detail": errDetail(err)})
	case err != nil:
		return apiError(http.StatusConflict, "cannot reverify: %v", err)
	}
	a.logger.Info("rejected request verified again and delivered", zap.String("rejected", id), zap.String("id", deliveryID), zap.String("route", r.Route))
	return writeJSON(w, map[string]any{"verified": true, "delivered": true, "id": deliveryID, "delivery_id": d.ID})
}
