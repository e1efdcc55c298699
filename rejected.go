package webhookverify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/webhookverify/caddy-webhook-verify/journal"
	"github.com/webhookverify/caddy-webhook-verify/verify"
)

// Bounds of the rejected requests kept per route for diagnosis.
const (
	rejectedPerRoute   = 100
	rejectedRouteBytes = 4 << 20   // headers and bodies, per route
	rejectedMaxBody    = 256 << 10 // a longer body is not kept
)

// Rejected is a request that failed verification, kept so that "wrong
// secret" is seen in seconds. Header is redacted; the original headers
// stay inside, for reverify.
type Rejected struct {
	ID         string      `json:"id"`
	Time       time.Time   `json:"time"`
	Route      string      `json:"route"`
	Provider   string      `json:"provider"`
	Reason     string      `json:"reason"`
	Detail     string      `json:"detail,omitempty"`
	DeliveryID string      `json:"delivery_id,omitempty"`
	Event      string      `json:"event,omitempty"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	ClientIP   string      `json:"client_ip,omitempty"`
	Header     http.Header `json:"header"`
	BodySize   int         `json:"body_size"`
	BodyKept   bool        `json:"body_kept"`

	header http.Header
	body   []byte
	url    string // the public URL, for schemes that sign it
}

func (r *Rejected) size() int {
	n := len(r.body) + len(r.Path) + len(r.Detail)
	for k, vs := range r.header {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	return 2*n + 256 // the redacted copy and the fields
}

// rejectedLog keeps the last rejected requests of each route, bounded in
// number and bytes. It lives in a pool so a reload keeps it.
type rejectedLog struct {
	mu     sync.Mutex
	routes map[string]*rejectedRing
}

type rejectedRing struct {
	items []*Rejected // oldest first
	bytes int
}

func (*rejectedLog) Destruct() error { return nil }

var rejectedLogs = caddy.NewUsagePool()

func (l *rejectedLog) add(r *Rejected) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ring := l.routes[r.Route]
	if ring == nil {
		ring = &rejectedRing{}
		l.routes[r.Route] = ring
	}
	ring.items = append(ring.items, r)
	ring.bytes += r.size()
	for len(ring.items) > rejectedPerRoute || (ring.bytes > rejectedRouteBytes && len(ring.items) > 1) {
		ring.bytes -= ring.items[0].size()
		ring.items[0] = nil
		ring.items = ring.items[1:]
	}
}

// list is the kept rejections of route ("" for all), newest first.
func (l *rejectedLog) list(route string) []*Rejected {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*Rejected
	for name, ring := range l.routes {
		if route != "" && name != route {
			continue
		}
		out = append(out, ring.items...)
	}
	// newest first; ids sort by time
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ID > out[j-1].ID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func (l *rejectedLog) get(id string) *Rejected {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ring := range l.routes {
		for _, r := range ring.items {
			if r.ID == id {
				return r
			}
		}
	}
	return nil
}

// keepRejected records a request that failed verification (body is nil
// when it was refused before its body was read).
func (d *delivery) keepRejected(err error, body []byte) {
	if d.h.app == nil || d.h.app.rejected == nil {
		return
	}
	now := time.Now()
	r := &Rejected{
		ID: "rej_" + journal.NewID(now)[len(journal.IDPrefix):], Time: now, Route: d.h.Name, Provider: d.h.preset.Name,
		Reason: string(verify.ReasonOf(err)), Detail: errDetail(err), DeliveryID: truncate(d.ID), Event: truncate(d.Event),
		Method: d.r.Method, Path: truncate(originalURI(d.r)), ClientIP: d.clientIP(),
		Header: RedactHeader(d.r.Header), BodySize: len(body), header: d.r.Header.Clone(),
	}
	if d.h.signsURL {
		r.url = d.h.publicURL(d.r, d.repl)
	}
	if d.h.KeepRejectedBodies && body != nil && len(body) <= rejectedMaxBody {
		r.body, r.BodyKept = bytes.Clone(body), true
	}
	d.h.app.rejected.add(r)
}

// reverify verifies a kept rejection again with its route's current
// configuration, as of the time it arrived (so a timestamp that was fresh
// then still is), and delivers it like a fresh delivery when it passes.
// Only durable routes can deliver without the provider: for a synchronous
// route it reports that the provider must redeliver.
func (a *App) reverify(r *Rejected) (verify.Delivery, string, error) {
	h := a.handler(r.Route)
	if h == nil {
		return verify.Delivery{}, "", fmt.Errorf("route %s is not configured any more", r.Route)
	}
	if !r.BodyKept && r.BodySize > 0 {
		return verify.Delivery{}, "", errors.New("its body was not kept (keep_rejected_bodies)")
	}
	cfg := h.verifyConfig
	cfg.Now = func() time.Time { return r.Time }
	v, err := h.preset.New(cfg)
	if err != nil {
		return verify.Delivery{}, "", err
	}
	req := &verify.Request{Method: r.Method, URL: r.url, Header: r.header, Body: r.body}
	dl, err := v.Verify(req)
	if err != nil {
		return dl, "", err
	}
	if h.Deliver == nil {
		return dl, "", errNotDurable
	}
	rec := &journal.Delivery{Route: h.Name, Provider: h.preset.Name, Event: dl.Event, ProviderID: dl.ID,
		Method: r.Method, Path: r.Path, Header: r.header, Body: r.body}
	if _, err := a.accept(context.Background(), rec); err != nil {
		return dl, "", err
	}
	return dl, rec.ID, nil
}

// errNotDurable says a verified rejection cannot be delivered here.
var errNotDurable = errors.New("it verifies now, but its route is synchronous: ask the provider to redeliver it")

// addHandler registers a route's handler, for reverify.
func (a *App) addHandler(h *Handler) {
	a.handlersMu.Lock()
	defer a.handlersMu.Unlock()
	if a.handlers == nil {
		a.handlers = map[string]*Handler{}
	}
	a.handlers[h.Name] = h
}

func (a *App) handler(route string) *Handler {
	a.handlersMu.Lock()
	defer a.handlersMu.Unlock()
	return a.handlers[route]
}
