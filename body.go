package webhookverify

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// maxPooledBody is the largest buffer kept for reuse; bigger ones are left
// to the garbage collector so one huge delivery does not pin its memory.
const maxPooledBody = 4 << 20

// preGrowLimit bounds the memory taken up front for an announced body.
const preGrowLimit = 64 << 10

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// bufferedBody is a request body read once into a pooled buffer. Every
// attempt to deliver it gets its own reader; the buffer goes back to the
// pool only when the handler and every reader handed out are done with it,
// because a transport may still be writing a request body after
// RoundTrip returned.
type bufferedBody struct {
	buf  *bytes.Buffer
	refs atomic.Int32
}

// readBody reads r's body into a pooled buffer, refusing more than max
// bytes (413) and bodies that take longer than timeout to arrive (408).
func readBody(w http.ResponseWriter, r *http.Request, max int64, timeout time.Duration) (*bufferedBody, error) {
	if r.ContentLength > max {
		return nil, caddyhttp.Error(http.StatusRequestEntityTooLarge, errTooLarge)
	}
	b := &bufferedBody{buf: bodyPool.Get().(*bytes.Buffer)}
	b.refs.Store(1)
	b.buf.Reset()
	if r.Body == nil || r.Body == http.NoBody {
		return b, nil
	}
	if r.ContentLength > 0 {
		// Room for the whole body plus the read that finds EOF, so a
		// typical body is read without the buffer growing (and copying) -
		// but only up to preGrowLimit: Content-Length is the sender's
		// claim, and memory for a big body is taken as its bytes arrive,
		// not on the word of a client that may never send them.
		b.buf.Grow(int(min(r.ContentLength, preGrowLimit)) + bytes.MinRead)
	}
	if timeout > 0 {
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
			// A deadline left on the connection would cancel the request
			// context once it passes, while the app is still answering.
			defer rc.SetReadDeadline(time.Time{})
		}
	}
	// MaxBytesReader also tells the server to close the connection after
	// answering, instead of draining the rest of an oversized body.
	_, err := b.buf.ReadFrom(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		b.release()
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return nil, caddyhttp.Error(http.StatusRequestEntityTooLarge, errTooLarge)
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, caddyhttp.Error(http.StatusRequestTimeout, errBodyTimeout)
		default:
			return nil, caddyhttp.Error(http.StatusBadRequest, errBodyRead)
		}
	}
	return b, nil
}

func (b *bufferedBody) bytes() []byte { return b.buf.Bytes() }

// release drops one reference; the last one returns the buffer.
func (b *bufferedBody) release() {
	if b.refs.Add(-1) == 0 {
		if b.buf.Cap() <= maxPooledBody {
			bodyPool.Put(b.buf)
		}
		b.buf = nil
	}
}

// reader returns a fresh reader over the body, holding a reference until it
// is closed.
func (b *bufferedBody) reader() io.ReadCloser {
	b.refs.Add(1)
	br := &bodyReader{body: b}
	br.Reset(b.buf.Bytes())
	return br
}

// attach makes r carry a fresh reader over the body, and lets transports
// that replay a request body (HTTP/2 retries) get another.
func (b *bufferedBody) attach(r *http.Request) {
	r.Body = b.reader()
	r.ContentLength = int64(b.buf.Len())
	r.GetBody = func() (io.ReadCloser, error) { return b.reader(), nil }
}

type bodyReader struct {
	bytes.Reader
	body   *bufferedBody
	closed atomic.Bool
}

func (br *bodyReader) Close() error {
	if br.closed.CompareAndSwap(false, true) {
		br.body.release()
	}
	return nil
}
