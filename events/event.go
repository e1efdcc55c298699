// Package events is the live event stream: one Event per decision about a
// webhook (verified, rejected with its reason, forwarded, accepted,
// attempted, delivered, dead, replayed, ...), published to a Hub that keeps
// a bounded history and fans events out to subscribers without ever waiting
// for them, and served over Server-Sent Events by ServeSSE.
//
// The SSE side is split so that other streams reuse it: Serve writes any
// Feed of Messages (id, event name, data) with heartbeats, flushes and write
// deadlines; ServeSSE is Serve over a Hub subscription, and Pages is a Feed
// over a store read in order (the delivery stream, which resumes from the
// journal), with Delivery its payload and Authorized its token check.
// RejectedLog keeps the last rejected requests per route for diagnosis.
//
// Events carry ids, names, statuses and timings: never a header, a body, a
// query string, a secret, a signature or a token. FromRequest is the one
// place an event takes anything from a request.
//
// The package knows nothing of Caddy.
package events

import (
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/dispatch"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// Event is one decision about a webhook. Fields that do not apply to its
// Type are left empty (and omitted from its JSON).
type Event struct {
	// ID is assigned by the Hub: increasing, and larger than any id an
	// earlier hub in this process or a previous run gave (it starts at the
	// hub's creation time in microseconds). It is the SSE id.
	ID uint64 `json:"id"`
	// Time is when it happened; Publish fills it when zero.
	Time time.Time `json:"time"`
	// Type is what happened: one of the Type constants.
	Type string `json:"type"`
	// Route names the webhook_verify route (or deliver block).
	Route string `json:"route,omitempty"`
	// Provider is the preset's name (github, stripe, ...).
	Provider string `json:"provider,omitempty"`
	// EventType is the webhook's own event type (push,
	// charge.succeeded, ...).
	EventType string `json:"event,omitempty"`
	// DeliveryID is ours: "msg_..." for journaled deliveries (the
	// Webhook-Id destinations see).
	DeliveryID string `json:"delivery_id,omitempty"`
	// ProviderID is the provider's delivery or event id, when it sends one.
	ProviderID string `json:"provider_id,omitempty"`
	// RequestID ties together the events of one request (verified, then
	// forwarded or accepted) and a RejectedLog entry to its event.
	RequestID string `json:"request_id,omitempty"`
	// Method and Path (without the query string, which may carry a token)
	// of the request.
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	// ClientIP is the sender's address.
	ClientIP string `json:"client_ip,omitempty"`
	// Size is the request body's length in bytes, when known.
	Size int64 `json:"size,omitempty"`
	// Reason says why a request was turned away: for TypeRejected a
	// verify.Reason (missing_signature, bad_signature, stale, ...).
	Reason string `json:"reason,omitempty"`
	// Detail says more about Reason, for people (verify.Error's detail,
	// which never holds a secret or a MAC).
	Detail string `json:"detail,omitempty"`
	// Status is the HTTP status: the answer to the sender, or for
	// attempts the destination's (0 when none came).
	Status int `json:"status,omitempty"`
	// Destination is the deliver destination of an attempt.
	Destination string `json:"destination,omitempty"`
	// Attempt is the attempt's number at its destination, from 1, replays
	// included; for a synchronous retry, the try's number.
	Attempt int `json:"attempt,omitempty"`
	// Replay is true for attempts made after a replay.
	Replay bool `json:"replay,omitempty"`
	// Error is a transport error, a timeout, or the start of a failed
	// answer's body.
	Error string `json:"error,omitempty"`
	// Duration is how long the attempt or the forward took, in
	// nanoseconds (as journal.Attempt's).
	Duration time.Duration `json:"duration,omitempty"`
	// NextAttempt is when a failed attempt is tried again.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// Targets is how many destinations an accepted delivery goes to, or
	// how many targets a replay made pending.
	Targets int `json:"targets,omitempty"`
}

// The event types. A request that reaches a route gives one of the first
// group, then, once verified, one of the second (synchronous routes) or
// TypeAccepted and what follows it (durable routes).
const (
	// Turned away before or during verification.
	TypeRejected         = "rejected" // Reason says why
	TypeTooLarge         = "too_large"
	TypeBodyTimeout      = "body_timeout"
	TypeBodyUnreadable   = "body_unreadable"
	TypeMethodNotAllowed = "method_not_allowed"
	TypeBusy             = "busy"
	TypeHandshake        = "handshake"
	TypeHandshakeRefused = "handshake_refused"
	TypeVerified         = "verified"

	// After verification.
	TypeDuplicate      = "duplicate"
	TypeInFlight       = "in_flight"
	TypeRateLimited    = "rate_limited"
	TypeStoreFailed    = "store_failed"
	TypeSenderGone     = "sender_gone"
	TypeRetrying       = "retrying"
	TypeForwarded      = "forwarded"
	TypeUpstreamFailed = "upstream_failed"

	// Durable routes: journaled, then attempted in the background.
	TypeAccepted  = "accepted"
	TypeAttempt   = "attempt" // a failed attempt that will be retried at NextAttempt
	TypeDelivered = "delivered"
	TypeDead      = "dead"
	TypeReplayed  = "replayed"
)

// Types lists every type, in the order above (the console page is built
// with it).
var Types = []string{
	TypeRejected, TypeTooLarge, TypeBodyTimeout, TypeBodyUnreadable, TypeMethodNotAllowed, TypeBusy,
	TypeHandshake, TypeHandshakeRefused, TypeVerified,
	TypeDuplicate, TypeInFlight, TypeRateLimited, TypeStoreFailed, TypeSenderGone, TypeRetrying,
	TypeForwarded, TypeUpstreamFailed,
	TypeAccepted, TypeAttempt, TypeDelivered, TypeDead, TypeReplayed,
}

// Failure reports whether a type means something went wrong: the sender
// was turned away for a fault, or a delivery failed. (Duplicates and
// handshakes are not failures.)
func Failure(typ string) bool {
	switch typ {
	case TypeRejected, TypeTooLarge, TypeBodyTimeout, TypeBodyUnreadable, TypeMethodNotAllowed, TypeBusy,
		TypeHandshakeRefused, TypeRateLimited, TypeStoreFailed, TypeUpstreamFailed, TypeAttempt, TypeDead:
		return true
	}
	return false
}

// FromRequest starts an event about r: its Method, its Path (never the
// query string), its body's Size and the ClientIP from its remote address
// (the caller may set Caddy's client IP instead). It reads nothing else
// from r: no header, no body.
func FromRequest(typ string, r *http.Request) Event {
	e := Event{Type: typ, Method: r.Method, Size: max(r.ContentLength, 0)}
	if r.URL != nil {
		e.Path = r.URL.Path
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		e.ClientIP = host
	}
	return e
}

// FromDelivery starts an event about a journaled delivery (TypeAccepted,
// usually): its ids, route, provider, event type and target count. Its
// header and body stay out.
func FromDelivery(typ string, d *journal.Delivery) Event {
	return Event{
		Type: typ, Time: d.Received, Route: d.Route, Provider: d.Provider, EventType: d.Event,
		DeliveryID: d.ID, ProviderID: d.ProviderID, Method: d.Method, Path: pathOnly(d.Path),
		Size: int64(len(d.Body)), Targets: len(d.Targets),
	}
}

// pathOnly cuts the query string off a journaled path.
func pathOnly(p string) string {
	p, _, _ = strings.Cut(p, "?")
	return p
}

// FromAttempt is the event for one attempt: TypeDelivered, TypeDead, or
// TypeAttempt for a failure that will be retried at NextAttempt.
func FromAttempt(info dispatch.AttemptInfo) Event {
	typ := TypeAttempt
	switch info.State {
	case journal.Delivered:
		typ = TypeDelivered
	case journal.Dead:
		typ = TypeDead
	}
	e := Event{
		Type: typ, Route: info.Route, Provider: info.Provider, EventType: info.Event, DeliveryID: info.ID,
		Destination: info.Destination, Attempt: info.Attempt, Replay: info.Replay, Status: info.Status,
		Error: info.Error, Duration: info.Duration,
	}
	if info.State == journal.Pending {
		e.NextAttempt = info.Next
	}
	return e
}

// FromReplay is the event for a replay: of one delivery, or in bulk
// (DeliveryID empty; Route and Reason, the replayed state, say which).
func FromReplay(info dispatch.ReplayInfo) Event {
	return Event{
		Type: TypeReplayed, DeliveryID: info.ID, Route: info.Route, Reason: string(info.State),
		Destination: info.Destination, Targets: info.Targets,
	}
}

// Observer publishes the dispatcher's attempts and replays to a Hub; pass
// it as dispatch.Options.Observer (or call it from the observer that also
// feeds metrics). Publish never blocks, as Observer requires.
type Observer struct {
	dispatch.NopObserver
	Hub *Hub
}

// Attempted publishes FromAttempt(info).
func (o Observer) Attempted(info dispatch.AttemptInfo) { o.Hub.Publish(FromAttempt(info)) }

// Replayed publishes FromReplay(info).
func (o Observer) Replayed(info dispatch.ReplayInfo) { o.Hub.Publish(FromReplay(info)) }

var _ dispatch.Observer = Observer{}
