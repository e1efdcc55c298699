package webhookverify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/events"
	"github.com/webhookverify/caddy-webhook-verify/journal"
	"github.com/webhookverify/caddy-webhook-verify/redact"
	"github.com/webhookverify/caddy-webhook-verify/verify"
)

// rejectedMaxBody bounds a kept rejected body; a longer one is not kept.
const rejectedMaxBody = 256 << 10

// keepRejected records a request that failed verification in the webhook
// app's log of rejected requests (body is nil when it was refused before
// its body was read). Only routes with keep_rejected_bodies keep the body
// and the original headers (signatures included, for reverify); others
// keep redacted headers only.
func (d *delivery) keepRejected(err error, body []byte) {
	app := d.h.app
	if app == nil || app.rejected == nil {
		return
	}
	r := events.Rejected{
		Route: d.h.Name, Provider: d.h.preset.Name, RequestID: d.requestID(),
		Reason: string(verify.ReasonOf(err)), Detail: errDetail(err),
		Method: d.r.Method, Path: truncate(originalURI(d.r)), ClientIP: d.clientIP(),
		Size: int64(len(body)),
	}
	if d.h.KeepRejectedBodies && len(body) <= rejectedMaxBody {
		r.Header, r.Body = d.r.Header, body // Add copies them
	} else {
		r.Header = redact.Header(d.r.Header)
	}
	app.rejected.Add(r)
}

// reverify verifies a kept rejection again with its route's current
// configuration, as of the time it arrived (so a timestamp that was fresh
// then still is), and delivers it like a fresh delivery when it passes.
// Only durable routes can deliver without the provider: for a synchronous
// route it reports that the provider must redeliver.
func (a *App) reverify(r events.Rejected) (verify.Delivery, string, error) {
	h := a.handler(r.Route)
	switch {
	case h == nil:
		return verify.Delivery{}, "", fmt.Errorf("route %s is not configured any more", r.Route)
	case !r.BodyKept && r.Size > 0, !h.KeepRejectedBodies:
		return verify.Delivery{}, "", errors.New("its body was not kept (keep_rejected_bodies)")
	case h.signsURL && h.URL == "":
		return verify.Delivery{}, "", errors.New("its provider signs the URL, which is not kept: set the route's url")
	}
	cfg := h.verifyConfig
	cfg.Now = func() time.Time { return r.Time }
	v, err := h.preset.New(cfg)
	if err != nil {
		return verify.Delivery{}, "", err
	}
	req := &verify.Request{Method: r.Method, Header: r.Header, Body: r.Body}
	if h.signsURL {
		req.URL = h.URL
	}
	dl, err := v.Verify(req)
	if err != nil {
		return dl, "", err
	}
	if h.Deliver == nil {
		return dl, "", errNotDurable
	}
	rec := &journal.Delivery{Route: h.Name, Provider: h.preset.Name, Event: dl.Event, ProviderID: dl.ID,
		Method: r.Method, Path: r.Path, Header: r.Header, Body: r.Body}
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
