package events

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/webhookverify/caddy-webhook-verify/journal"
	"github.com/webhookverify/caddy-webhook-verify/redact"
)

// Signal wakes waiters when something new is there, without losing a wake
// that comes between a check and a wait: take C, check, then wait on C.
// The zero Signal is ready to use.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// C is closed at the next Notify.
func (s *Signal) C() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Notify wakes everyone waiting on a C taken before it. It never blocks.
func (s *Signal) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// DefaultPage is how many messages Pages reads at once.
const DefaultPage = 100

// Pages is a Feed over a store read in order, for streams that resume from
// their store rather than from a Hub's history (webhook_stream resumes from
// the journal): it reads a page after the last position it returned, hands
// it out, and when caught up waits for Signal.
type Pages struct {
	// After is the position of the last message the client has; Read
	// takes it from there. It advances as messages are returned.
	After string
	// Read returns up to limit messages after the position after, in
	// order, each with its position as its ID.
	Read func(ctx context.Context, after string, limit int) ([]Message, error)
	// Signal is notified whenever a message may have been added.
	Signal *Signal
	// Limit is the page size; default DefaultPage.
	Limit int

	page []Message
}

// Next implements Feed.
func (p *Pages) Next(ctx context.Context) (Message, error) {
	for len(p.page) == 0 {
		wake := p.Signal.C() // before reading, so a message added meanwhile wakes us
		limit := p.Limit
		if limit <= 0 {
			limit = DefaultPage
		}
		page, err := p.Read(ctx, p.After, limit)
		if err != nil {
			return Message{}, err
		}
		if len(page) > 0 {
			p.page = page
			break
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
	m := p.page[0]
	p.page[0] = Message{}
	p.page = p.page[1:]
	p.After = m.ID
	return m, nil
}

// Delivery is the data of one event of a delivery stream (webhook_stream):
// the delivery as it arrived, for a subscriber that re-sends it to an app.
type Delivery struct {
	ID         string    `json:"id"`
	Route      string    `json:"route"`
	Provider   string    `json:"provider,omitempty"`
	Event      string    `json:"event,omitempty"`
	ProviderID string    `json:"provider_id,omitempty"`
	Received   time.Time `json:"received"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	// Header is the original header less hop-by-hop fields (removed when
	// journaled) and secret-bearing ones (redact.Strip); signatures stay,
	// so the app can check them.
	Header http.Header `json:"header"`
	// Body is the body as text when it is UTF-8, else base64 (and
	// BodyEncoding says "base64").
	Body         string `json:"body"`
	BodyEncoding string `json:"body_encoding,omitempty"`
}

// NewDelivery makes the stream's view of a journaled delivery; extra names
// more header fields to leave out (see redact.Strip).
func NewDelivery(d *journal.Delivery, extra ...string) Delivery {
	out := Delivery{
		ID: d.ID, Route: d.Route, Provider: d.Provider, Event: d.Event, ProviderID: d.ProviderID,
		Received: d.Received, Method: d.Method, Path: d.Path, Header: redact.Strip(d.Header, extra...),
	}
	if out.Header == nil {
		out.Header = http.Header{}
	}
	if utf8.Valid(d.Body) {
		out.Body = string(d.Body)
	} else {
		out.Body, out.BodyEncoding = base64.StdEncoding.EncodeToString(d.Body), "base64"
	}
	return out
}

// Bytes is the body as it arrived.
func (d Delivery) Bytes() ([]byte, error) {
	if d.BodyEncoding == "base64" {
		return base64.StdEncoding.DecodeString(d.Body)
	}
	return []byte(d.Body), nil
}

// Authorized reports whether r carries one of tokens: as
// "Authorization: Bearer <token>", or, with allowQuery, as ?token= (for
// EventSource in browsers, which cannot set headers; query strings end up
// in logs, hence off by default). Every token is compared in constant
// time. No token configured authorizes nothing.
func Authorized(r *http.Request, tokens []string, allowQuery bool) bool {
	given, ok := "", false
	if auth := r.Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "Bearer ") {
		given, ok = strings.TrimSpace(auth[7:]), true
	} else if allowQuery {
		given = r.URL.Query().Get("token")
		ok = given != ""
	}
	match := 0
	for _, t := range tokens {
		if t != "" {
			match |= subtle.ConstantTimeCompare([]byte(given), []byte(t))
		}
	}
	return ok && match == 1
}

var _ Feed = (*Pages)(nil)
