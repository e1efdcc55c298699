package events

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/journal"
	"github.com/webhookverify/caddy-webhook-verify/redact"
)

// RejectedLog defaults.
const (
	DefaultRejectedPerRoute = 100
	DefaultRejectedBytes    = 1 << 20
)

// Rejected is a request turned away, kept for diagnosis.
type Rejected struct {
	// ID is "rej_" and a ULID; Add fills it.
	ID string `json:"id"`
	// Time is when it came; Add fills it when zero.
	Time      time.Time `json:"time"`
	Route     string    `json:"route"`
	Provider  string    `json:"provider,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	// Reason and Detail are the event's (see Event).
	Reason   string `json:"reason"`
	Detail   string `json:"detail,omitempty"`
	Method   string `json:"method"`
	Path     string `json:"path"`
	ClientIP string `json:"client_ip,omitempty"`
	// Header: List and the JSON show it redacted (redact.Header); Get
	// gives it as it came when bodies are kept, for verifying again.
	Header http.Header `json:"header,omitempty"`
	// Size is the body's length.
	Size int64 `json:"size"`
	// Body is kept only with KeepBodies, and only when it fits.
	Body []byte `json:"-"`
	// BodyKept says whether Body is there.
	BodyKept bool `json:"body_kept"`
}

// RejectedOptions configure a RejectedLog.
type RejectedOptions struct {
	// PerRoute is how many requests are kept per route; default
	// DefaultRejectedPerRoute.
	PerRoute int
	// MaxBytes bounds what a route's entries take (headers and kept
	// bodies); the oldest go first. Default DefaultRejectedBytes.
	MaxBytes int
	// KeepBodies keeps bodies and the original headers (signatures
	// included), so a request can be verified again once a secret is
	// fixed. Off, only redacted headers are kept.
	KeepBodies bool
	// Redact names more header fields to hide (see redact.Header).
	Redact []string
}

// RejectedLog keeps the last rejected requests of each route, bounded in
// count and bytes. Its methods are safe for concurrent use.
type RejectedLog struct {
	o      RejectedOptions
	mu     sync.Mutex
	routes map[string]*rejectedRoute
}

type rejectedRoute struct {
	entries []Rejected // oldest first
	bytes   int
}

// NewRejectedLog makes a RejectedLog.
func NewRejectedLog(o RejectedOptions) *RejectedLog {
	if o.PerRoute <= 0 {
		o.PerRoute = DefaultRejectedPerRoute
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultRejectedBytes
	}
	return &RejectedLog{o: o, routes: map[string]*rejectedRoute{}}
}

// Add keeps r (its header redacted unless bodies are kept; its body only
// with KeepBodies and when it fits in MaxBytes) and returns it as kept,
// with its ID and Time filled.
func (l *RejectedLog) Add(r Rejected) Rejected {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	if r.ID == "" {
		r.ID = "rej_" + journal.NewID(r.Time)[len(journal.IDPrefix):]
	}
	if r.Size == 0 {
		r.Size = int64(len(r.Body))
	}
	if l.o.KeepBodies {
		r.Header = r.Header.Clone()
		r.Body = append([]byte(nil), r.Body...)
	} else {
		r.Header = redact.Header(r.Header, l.o.Redact...)
		r.Body = nil
	}
	size := rejectedSize(&r)
	if r.Body != nil && size > l.o.MaxBytes {
		size -= len(r.Body)
		r.Body = nil
	}
	r.BodyKept = r.Body != nil
	l.mu.Lock()
	defer l.mu.Unlock()
	rt := l.routes[r.Route]
	if rt == nil {
		rt = &rejectedRoute{}
		l.routes[r.Route] = rt
	}
	rt.entries = append(rt.entries, r)
	rt.bytes += size
	for len(rt.entries) > 1 && (len(rt.entries) > l.o.PerRoute || rt.bytes > l.o.MaxBytes) {
		rt.bytes -= rejectedSize(&rt.entries[0])
		rt.entries[0] = Rejected{}
		rt.entries = rt.entries[1:]
	}
	return r
}

// rejectedSize is roughly what an entry takes.
func rejectedSize(r *Rejected) int {
	n := 256 + len(r.Body) + len(r.Path) + len(r.Detail)
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(v) + 16
		}
	}
	return n
}

// List returns up to limit entries (all when limit <= 0), newest first,
// of one route or of all ("" route), with redacted headers and no bodies.
func (l *RejectedLog) List(route string, limit int) []Rejected {
	l.mu.Lock()
	var out []Rejected
	for name, rt := range l.routes {
		if route == "" || name == route {
			out = append(out, rt.entries...)
		}
	}
	l.mu.Unlock()
	sortNewestFirst(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i] = l.public(out[i])
	}
	return out
}

// Get returns one entry; with KeepBodies, with its original header and its
// body (for verifying it again), else as List shows it.
func (l *RejectedLog) Get(id string) (Rejected, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, rt := range l.routes {
		for _, r := range rt.entries {
			if r.ID == id {
				r.Header = r.Header.Clone()
				r.Body = append([]byte(nil), r.Body...)
				return r, true
			}
		}
	}
	return Rejected{}, false
}

// public returns r as List shows it: headers redacted, no body.
func (l *RejectedLog) public(r Rejected) Rejected {
	r.Header = redact.Header(r.Header, l.o.Redact...)
	r.Body = nil
	return r
}

// sortNewestFirst sorts by time, then id, both descending.
func sortNewestFirst(rs []Rejected) {
	slices.SortFunc(rs, func(a, b Rejected) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
}
