package events

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Stream defaults.
const (
	DefaultHeartbeat    = 15 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultRetry        = 2 * time.Second
)

// Message is one Server-Sent Event.
type Message struct {
	// ID is the id: line, which the client sends back as Last-Event-ID
	// when it reconnects; "" writes none.
	ID string
	// Event is the event: line; "" writes none (the client's default,
	// "message").
	Event string
	// Data is written as data: lines, one per line of it.
	Data []byte
}

// Feed is what Serve writes: the messages of one client's stream.
type Feed interface {
	// Next returns the next message, waiting for one until ctx ends (then
	// it returns ctx's error). Any other error ends the stream.
	Next(ctx context.Context) (Message, error)
}

// FeedFunc makes a Feed of a function.
type FeedFunc func(ctx context.Context) (Message, error)

// Next calls f.
func (f FeedFunc) Next(ctx context.Context) (Message, error) { return f(ctx) }

// StreamOptions configure Serve.
type StreamOptions struct {
	// Heartbeat is how long the stream may stay silent before a comment
	// line is sent, so that proxies and load balancers keep it open;
	// default DefaultHeartbeat.
	Heartbeat time.Duration
	// WriteTimeout bounds each write: a client that stops reading is cut
	// off after it (it may resume with Last-Event-ID); default
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Retry is the reconnection delay suggested to browsers (the retry:
	// field); default DefaultRetry.
	Retry time.Duration
}

// LastEventID is where a client resumes: the Last-Event-ID header (sent by
// browsers when they reconnect), else the last_event_id query parameter
// (for a first connection, which cannot set headers from EventSource).
// "" when neither is given.
func LastEventID(r *http.Request) string {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		return id
	}
	return r.URL.Query().Get("last_event_id")
}

// Serve answers r with text/event-stream and writes f's messages until the
// client goes away (nil) or f ends (its error). A message is flushed as
// soon as it is written; after Heartbeat without one, a comment line is.
// Serve sets the status and headers; call it before writing anything.
func Serve(w http.ResponseWriter, r *http.Request, f Feed, o StreamOptions) error {
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Retry <= 0 {
		o.Retry = DefaultRetry
	}
	sw := newWriter(w, o.WriteTimeout)
	defer sw.done()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	h.Del("Content-Length")
	w.WriteHeader(http.StatusOK)
	sw.buf = append(sw.buf, "retry: "...)
	sw.buf = strconv.AppendInt(sw.buf, o.Retry.Milliseconds(), 10)
	sw.buf = append(sw.buf, "\n\n"...)
	if err := sw.flush(); err != nil {
		return nil // the client is gone
	}
	for {
		ctx, cancel := context.WithTimeout(r.Context(), o.Heartbeat)
		m, err := f.Next(ctx)
		cancel()
		if r.Context().Err() != nil {
			return nil
		}
		switch {
		case err == nil:
			sw.message(m)
		case errors.Is(err, context.DeadlineExceeded):
			sw.buf = append(sw.buf, ": heartbeat\n\n"...)
		default:
			return err
		}
		if err := sw.flush(); err != nil {
			return nil // the client is gone or stopped reading
		}
	}
}

// writer writes SSE fields through one buffer and flushes them.
type writer struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     []byte
	failed  bool
}

func newWriter(w http.ResponseWriter, timeout time.Duration) *writer {
	return &writer{w: w, rc: http.NewResponseController(w), timeout: timeout, buf: make([]byte, 0, 1024)}
}

// message appends m's fields. Line breaks in the id and the event name
// would start new fields, so they are dropped; data is split into lines
// at every CR, LF or CRLF, as clients split it.
func (sw *writer) message(m Message) {
	if m.ID != "" {
		sw.buf = append(sw.buf, "id: "...)
		sw.buf = appendLine(sw.buf, m.ID)
		sw.buf = append(sw.buf, '\n')
	}
	if m.Event != "" {
		sw.buf = append(sw.buf, "event: "...)
		sw.buf = appendLine(sw.buf, m.Event)
		sw.buf = append(sw.buf, '\n')
	}
	data := m.Data
	for {
		i := indexLineBreak(data)
		sw.buf = append(sw.buf, "data: "...)
		if i < 0 {
			sw.buf = append(sw.buf, data...)
			sw.buf = append(sw.buf, '\n')
			break
		}
		sw.buf = append(sw.buf, data[:i]...)
		sw.buf = append(sw.buf, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	sw.buf = append(sw.buf, '\n')
}

func appendLine(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] != '\r' && s[i] != '\n' && s[i] != 0 {
			buf = append(buf, s[i])
		}
	}
	return buf
}

func indexLineBreak(b []byte) int {
	for i, c := range b {
		if c == '\r' || c == '\n' {
			return i
		}
	}
	return -1
}

// flush writes the buffer under a write deadline and flushes it to the
// client.
func (sw *writer) flush() error {
	sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout)) // unsupported writers have none
	_, err := sw.w.Write(sw.buf)
	sw.buf = sw.buf[:0]
	if err == nil {
		err = sw.rc.Flush()
	}
	if err != nil {
		sw.failed = true
	}
	return err
}

// done lifts the write deadline so that it does not outlive the stream on
// a kept-alive connection.
func (sw *writer) done() {
	if !sw.failed {
		sw.rc.SetWriteDeadline(time.Time{})
	}
}

// SSEOptions configure ServeSSE.
type SSEOptions struct {
	StreamOptions
	// Filter, when set, keeps only the events it returns true for, on top
	// of the route and type query parameters.
	Filter func(*Event) bool
}

// ServeSSE streams hub's events to r's client as Server-Sent Events: each
// event is an `id:` line (Event.ID), an `event:` line (Event.Type) and a
// `data:` line (the event as JSON).
//
// The client resumes after the id in Last-Event-ID (or ?last_event_id=):
// 0 sends the whole history first, none starts from now. When the history
// no longer reaches back to that id, a `reset` event (no id, data
// {"reason":"gap"}) comes first, then the whole history: the client
// should reload whatever it shows from its other sources. Query
// parameters route= and type= (comma-separated, each may repeat) keep
// only events of those routes and types.
//
// The stream ends when the client goes, when the hub closes, or when the
// client falls a whole buffer behind (it is dropped, and reconnects with
// its Last-Event-ID).
func ServeSSE(w http.ResponseWriter, r *http.Request, hub *Hub, o SSEOptions) error {
	last := uint64(Live)
	if id := LastEventID(r); id != "" {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			http.Error(w, "Last-Event-ID must be an event id", http.StatusBadRequest)
			return nil
		}
		last = n
	}
	keep := queryFilter(r, o.Filter)
	sub := hub.Subscribe(last)
	defer sub.Close()
	gap := sub.Gap
	var data []byte
	feed := FeedFunc(func(ctx context.Context) (Message, error) {
		if gap {
			gap = false
			return Message{Event: "reset", Data: []byte(`{"reason":"gap"}`)}, nil
		}
		for {
			e, err := sub.Next(ctx)
			if err != nil {
				return Message{}, err
			}
			if keep != nil && !keep(&e) {
				continue
			}
			data, err = json.Marshal(&e)
			if err != nil {
				return Message{}, err
			}
			return Message{ID: strconv.FormatUint(e.ID, 10), Event: e.Type, Data: data}, nil
		}
	})
	err := Serve(w, r, feed, o.StreamOptions)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// queryFilter combines the route and type query parameters with f; nil
// keeps everything.
func queryFilter(r *http.Request, f func(*Event) bool) func(*Event) bool {
	q := r.URL.Query()
	routes, types := listParam(q["route"]), listParam(q["type"])
	if routes == nil && types == nil {
		return f
	}
	return func(e *Event) bool {
		if routes != nil && !routes[e.Route] {
			return false
		}
		if types != nil && !types[e.Type] {
			return false
		}
		return f == nil || f(e)
	}
}

func listParam(values []string) map[string]bool {
	var set map[string]bool
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				if set == nil {
					set = map[string]bool{}
				}
				set[item] = true
			}
		}
	}
	return set
}
