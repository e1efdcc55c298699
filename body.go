package webhookverify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/webhookverify/caddy-webhook-verify/budget"
)

// chunkSize is the unit in which a body takes memory as its bytes arrive.
// A body that fits one chunk (nearly every webhook) is used in place; a
// larger one is gathered in chunks, then copied once into a block of
// exactly its size. No buffer ever grows by doubling, so none is larger
// than the body it holds, and growing leaves no garbage behind.
const chunkSize = budget.SmallShare

type chunk = [chunkSize]byte

var chunkPool = sync.Pool{New: func() any { return new(chunk) }}

// bodyLimits bound what reading one body may take.
type bodyLimits struct {
	max     int64         // bytes; more is 413
	timeout time.Duration // to receive it all; slower is 408
	budget  *budget.Budget
	wait    time.Duration // for room in the budget; longer is 503
}

// bufferedBody is a request body read once. Every attempt to deliver it
// gets its own reader; the memory goes back (to the chunk pool and to the
// process-wide budget) only when the handler and every reader handed out
// are done with it, because a transport may still be writing a request
// body after RoundTrip returned.
type bufferedBody struct {
	data   []byte
	chunk  *chunk // data's storage, when it fits one chunk
	budget *budget.Budget
	small  int64 // budget held within budget.SmallShare
	large  int64 // budget held beyond it
	refs   atomic.Int32
}

// errBudget is returned when the process-wide body budget stays full
// longer than the wait; the sender gets 503 with Retry-After.
var errBudget = errors.New("webhook gateway busy: too many bodies being received")

// readBody reads r's body, refusing more than lim.max bytes (413), bodies
// that take longer than lim.timeout to arrive (408), and, when the
// process-wide budget has no room within lim.wait, answering 503. Memory is
// taken from the budget a chunk at a time as bytes arrive, never on the
// word of a Content-Length.
func readBody(w http.ResponseWriter, r *http.Request, lim bodyLimits) (*bufferedBody, error) {
	if r.ContentLength > lim.max {
		return nil, caddyhttp.Error(http.StatusRequestEntityTooLarge, errTooLarge)
	}
	b := &bufferedBody{budget: lim.budget}
	b.refs.Store(1)
	if r.Body == nil || r.Body == http.NoBody {
		return b, nil
	}
	if lim.timeout > 0 {
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(lim.timeout)) == nil {
			// A deadline left on the connection would cancel the request
			// context once it passes, while the app is still answering.
			defer rc.SetReadDeadline(time.Time{})
		}
	}
	// MaxBytesReader also tells the server to close the connection after
	// answering, instead of draining the rest of an oversized body.
	src := http.MaxBytesReader(w, r.Body, lim.max)
	var chunks []*chunk
	n := 0
	for {
		if err := b.take(r.Context(), chunkSize, lim.wait); err != nil {
			b.drop(chunks)
			return nil, err
		}
		c := chunkPool.Get().(*chunk)
		chunks = append(chunks, c)
		m, err := io.ReadFull(src, c[:])
		n += m
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			b.drop(chunks)
			return nil, bodyError(err)
		}
	}
	if len(chunks) == 1 {
		b.chunk, b.data = chunks[0], chunks[0][:n]
		return b, nil
	}
	b.data = make([]byte, 0, n)
	for _, c := range chunks {
		b.data = append(b.data, c[:min(chunkSize, n-len(b.data))]...)
		chunkPool.Put(c)
	}
	b.giveBack(int64(len(chunks)*chunkSize - n))
	return b, nil
}

// bodyError maps a failed read to the answer the sender gets.
func bodyError(err error) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return caddyhttp.Error(http.StatusRequestEntityTooLarge, errTooLarge)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return caddyhttp.Error(http.StatusRequestTimeout, errBodyTimeout)
	}
	return caddyhttp.Error(http.StatusBadRequest, errBodyRead)
}

// take holds n more bytes of the budget, waiting up to wait for room. The
// first chunk of a body counts as small, the rest as large.
func (b *bufferedBody) take(ctx context.Context, n int64, wait time.Duration) error {
	if b.budget == nil {
		return nil
	}
	large := b.small >= budget.SmallShare
	if !b.budget.TryAcquire(n, large) {
		ctx, cancel := context.WithTimeout(ctx, wait)
		err := b.budget.Acquire(ctx, n, large)
		cancel()
		if err != nil {
			return caddyhttp.Error(http.StatusServiceUnavailable, errBudget)
		}
	}
	if large {
		b.large += n
	} else {
		b.small += n
	}
	return nil
}

// giveBack returns n held bytes to the budget, large ones first.
func (b *bufferedBody) giveBack(n int64) {
	if b.budget == nil {
		return
	}
	fromLarge := min(n, b.large)
	b.budget.Release(fromLarge, true)
	b.budget.Release(n-fromLarge, false)
	b.large -= fromLarge
	b.small -= n - fromLarge
}

// drop ends a read that failed: its chunks go back to the pool and its
// budget back to the process.
func (b *bufferedBody) drop(chunks []*chunk) {
	for _, c := range chunks {
		chunkPool.Put(c)
	}
	b.giveBack(b.small + b.large)
}

func (b *bufferedBody) bytes() []byte { return b.data }

// release drops one reference; the last one gives the memory back.
func (b *bufferedBody) release() {
	if b.refs.Add(-1) == 0 {
		if b.chunk != nil {
			chunkPool.Put(b.chunk)
			b.chunk = nil
		}
		b.data = nil
		b.giveBack(b.small + b.large)
	}
}

// reader returns a fresh reader over the body, holding a reference until it
// is closed.
func (b *bufferedBody) reader() io.ReadCloser {
	b.refs.Add(1)
	br := &bodyReader{body: b}
	br.Reset(b.data)
	return br
}

// attach makes r carry a fresh reader over the body, and lets transports
// that replay a request body (HTTP/2 retries) get another.
func (b *bufferedBody) attach(r *http.Request) {
	r.Body = b.reader()
	r.ContentLength = int64(len(b.data))
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
