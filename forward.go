package webhookverify

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/webhookverify/caddy-webhook-verify/retry"
)

// A forwarder hands a verified delivery to the app (the next handler) and
// reports the final status the app answered, 0 if it answered none. It is
// the one step of the pipeline that talks to the app.
type forwarder interface {
	forward(d *delivery) (int, error)
}

// directForwarder makes a single attempt.
type directForwarder struct{}

func (directForwarder) forward(d *delivery) (int, error) {
	d.setAttempt(1)
	d.body.attach(d.r)
	rec := &statusRecorder{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: d.w}}
	err := d.next.ServeHTTP(rec, d.r)
	d.h.metrics.attempt(rec.status)
	return rec.status, err
}

// statusRecorder notes the final status the next handler writes, passing
// everything through unbuffered.
type statusRecorder struct {
	caddyhttp.ResponseWriterWrapper
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriterWrapper.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriterWrapper.Write(b)
}

func (s *statusRecorder) ReadFrom(r io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriterWrapper.ReadFrom(r)
}

// retryForwarder tries again when the app fails in a retryable way, within
// the policy's budget.
type retryForwarder struct {
	policy retry.Policy
	now    func() time.Time
}

// maxHeldResponse bounds the body of a retryable response kept in case no
// retry follows; a bigger one goes to the sender as it comes, and ends the
// retries.
const maxHeldResponse = 64 << 10

func (f *retryForwarder) forward(d *delivery) (int, error) {
	r := d.r
	// The handler runs the delivery under the budget's deadline, which
	// cuts off an attempt still running when it passes.
	deadline, ok := r.Context().Deadline()
	if !ok {
		deadline = f.now().Add(f.policy.Budget)
	}
	for attempt := 1; ; attempt++ {
		d.setAttempt(attempt)
		aw := newAttemptWriter(d.w, attempt <= f.policy.Retries, f.policy.RetryableStatus)
		d.body.attach(r)
		err := d.next.ServeHTTP(aw, r)
		d.h.metrics.attempt(aw.status)
		if aw.passed {
			// streamed to the sender: success, a final failure, or too big to hold
			return aw.status, err
		}
		if err == nil && !aw.held {
			// the next handler wrote nothing; the server answers 200
			aw.WriteHeader(http.StatusOK)
			return aw.status, nil
		}
		if err != nil && !isTransportError(err) {
			return aw.status, err
		}
		if r.Context().Err() != nil {
			// the sender hung up, or the budget ran out
			return aw.finish(err)
		}
		wait, ok := f.policy.Next(attempt, aw.heldHeader.Get("Retry-After"), f.now(), deadline)
		if !ok {
			return aw.finish(err) // the delivery's own log line says it failed
		}
		d.status, d.err, d.retryAfter = aw.status, err, wait
		d.record(outRetrying)
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return aw.finish(err)
		}
	}
}

// isTransportError reports whether the next handler failed to get any
// answer from the app: reverse_proxy returns 502 for a refused or broken
// connection and 504 for a timeout. Those are always worth a retry.
func isTransportError(err error) bool {
	var he caddyhttp.HandlerError
	if !errors.As(err, &he) {
		return false
	}
	return he.StatusCode == http.StatusBadGateway || he.StatusCode == http.StatusGatewayTimeout
}

// attemptWriter receives one attempt's response. At WriteHeader it decides:
// a retryable status, while retries remain, is held back (headers and up to
// maxHeldResponse of body) to be dropped before the next attempt or sent
// after all if none comes; anything else goes straight to the sender,
// unbuffered. While the sender's header map is empty (the usual case), the
// next handler writes its headers right into it, so a response that is
// passed through costs no copy.
type attemptWriter struct {
	w          http.ResponseWriter
	header     http.Header
	direct     bool // header is w.Header()
	heldHeader http.Header
	mayHold    bool
	retryable  func(int) bool
	status     int
	held       bool
	passed     bool
	body       bytes.Buffer
}

func newAttemptWriter(w http.ResponseWriter, mayHold bool, retryable func(int) bool) *attemptWriter {
	a := &attemptWriter{w: w, mayHold: mayHold, retryable: retryable}
	if h := w.Header(); len(h) == 0 {
		a.header, a.direct = h, true
	} else {
		a.header = make(http.Header)
	}
	return a
}

func (a *attemptWriter) Header() http.Header { return a.header }

func (a *attemptWriter) WriteHeader(code int) {
	if code < 200 || a.status != 0 {
		return // informational responses are not relayed; a second header is a no-op
	}
	a.status = code
	if a.mayHold && a.retryable(code) {
		a.held = true
		a.heldHeader = a.header.Clone()
		if a.direct {
			clear(a.header) // the next attempt starts from an empty map again
		}
		return
	}
	a.pass(a.header)
}

// pass sends the status and headers (and anything held) to the sender;
// from then on writes go straight through.
func (a *attemptWriter) pass(header http.Header) {
	if dst := a.w.Header(); !a.direct || a.held {
		for k, v := range header {
			dst[k] = v
		}
	}
	a.w.WriteHeader(a.status)
	a.passed, a.held = true, false
	if a.body.Len() > 0 {
		a.w.Write(a.body.Bytes())
		a.body.Reset()
	}
}

func (a *attemptWriter) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.WriteHeader(http.StatusOK)
	}
	if a.held {
		if a.body.Len()+len(b) <= maxHeldResponse {
			return a.body.Write(b)
		}
		a.pass(a.heldHeader)
	}
	return a.w.Write(b)
}

// Flush lets streaming responses through once they are passed.
func (a *attemptWriter) Flush() {
	if a.passed {
		http.NewResponseController(a.w).Flush()
	}
}

// finish ends a delivery whose last attempt was not passed through: a held
// response goes to the sender as the app sent it; otherwise the error does.
func (a *attemptWriter) finish(err error) (int, error) {
	if a.held {
		a.pass(a.heldHeader)
		return a.status, nil
	}
	return a.status, err
}
