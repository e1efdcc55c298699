package webhookverify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/bits"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/webhookverify/caddy-webhook-verify/budget"
)

// chunkSize is the unit in which a body of unknown size (sent chunked)
// takes memory as its bytes arrive: it is gathered in chunks, then copied
// once into a block of exactly its size. A body that announces its size
// reserves that much of the budget first and is read straight into a block
// of exactly that size; one that fits a chunk (nearly every webhook) is
// read into a pooled block of at most the next power of two. No buffer
// ever grows by doubling, so none is larger than its body can be.
const chunkSize = budget.SmallHolder

// smallestBlock is the smallest pooled block, for tiny bodies.
const smallestBlock = 1 << 10

// blockPools hold reusable blocks of 1 KiB, 2 KiB, ... up to chunkSize
// (64 KiB: seven classes).
var blockPools [7]sync.Pool

// blockClass is the index of the smallest pooled block that holds n bytes.
func blockClass(n int64) int {
	if n <= smallestBlock {
		return 0
	}
	return bits.Len64(uint64(n-1)) - bits.Len64(smallestBlock-1)
}

// getBlock takes a block of a class from its pool. Blocks travel as
// pointers so putting one back allocates nothing.
func getBlock(class int) *[]byte {
	if b, ok := blockPools[class].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, smallestBlock<<class)
	return &b
}

func putBlock(b *[]byte) {
	blockPools[blockClass(int64(len(*b)))].Put(b)
}

// bodyLimits bound what reading one body may take.
type bodyLimits struct {
	max     int64         // bytes; more is 413
	timeout time.Duration // to receive it all; slower is 408
	budget  *budget.Budget
	wait    time.Duration // for room in the budget; longer is 503
}

// bufferedBody is a request body read once. Every attempt to deliver it
// gets its own reader; the memory goes back (to the block pools and to the
// process-wide budget) only when the handler and every reader handed out
// are done with it, because a transport may still be writing a request
// body after RoundTrip returned.
type bufferedBody struct {
	data   []byte
	block  *[]byte // data's pooled storage, when it fits one block
	budget *budget.Budget
	small  bool  // a small holder of the budget (see budget.SmallHolder)
	held   int64 // bytes of the budget held
	refs   atomic.Int32
}

// errBudget is returned when the process-wide body budget stays full
// longer than the wait; the sender gets 503 with Retry-After.
var errBudget = errors.New("webhook gateway busy: too many bodies being received")

// readBody reads r's body, refusing more than lim.max bytes (413), bodies
// that take longer than lim.timeout to arrive (408), and, when the
// process-wide budget has no room within lim.wait, answering 503.
func readBody(w http.ResponseWriter, r *http.Request, lim bodyLimits) (*bufferedBody, error) {
	if r.ContentLength > lim.max {
		endEarly(w, r)
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
	// Given net/http's own ResponseWriter (not one of Caddy's wrappers of
	// it), MaxBytesReader also tells an HTTP/1 server to close the
	// connection after answering, instead of draining the rest.
	src := http.MaxBytesReader(baseWriter(w), r.Body, lim.max)
	var err error
	switch size := r.ContentLength; {
	case size >= 0 && size <= chunkSize:
		err = b.readSmall(r.Context(), src, size, lim.wait)
	case size > chunkSize:
		err = b.readAnnounced(r.Context(), src, size, lim.wait)
	default:
		err = b.readChunked(r.Context(), src, lim.wait)
	}
	if err != nil {
		if he, ok := err.(caddyhttp.HandlerError); ok && (he.StatusCode == http.StatusRequestEntityTooLarge || he.StatusCode == http.StatusServiceUnavailable) {
			endEarly(w, r)
		}
		return nil, err
	}
	return b, nil
}

// baseWriter is the ResponseWriter net/http gave Caddy, under Caddy's
// wrappers: only that one has the unexported method through which
// MaxBytesReader marks an HTTP/1 connection to be closed.
func baseWriter(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// drainLimit and drainTime bound what endEarly reads and throws away of
// an HTTP/2 or HTTP/3 body; probeTime bounds its wait for an HTTP/1 one.
const (
	drainLimit = 1 << 20
	drainTime  = 2 * time.Second
	probeTime  = time.Second
)

// endEarly readies the connection for an answer given before the body was
// read in full (413, the 401 of a request whose headers fail the check,
// the 503 of a full body budget), so the sender receives it.
//
// HTTP/1: close, don't drain. net/http would read up to 256 KiB of what is
// left before writing the answer, with no deadline, so a sender that
// stalls would never get it; and it would keep the connection. A read
// past a limit of 0 through MaxBytesReader on the base writer marks the
// connection (Connection: close, then FIN and a pause before the close so
// the sender can read the answer). Not when the sender waits for 100
// Continue: reading would ask for the body (net/http closes that
// connection anyway).
//
// HTTP/2 and 3: a stream whose request half is still open when the answer
// ends is reset (RST_STREAM NO_ERROR after the complete answer, RFC 9113
// section 8.1). Compliant clients keep the answer; some (curl 7.88) report
// only the reset. So the rest is read and thrown away within drainLimit
// and drainTime: a sender that finishes by then ends its stream and gets a
// clean answer; one that does not gets the answer and the reset.
func endEarly(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	rc := http.NewResponseController(w)
	if r.ProtoMajor == 1 {
		if r.Header.Get("Expect") != "" {
			return
		}
		if rc.SetReadDeadline(time.Now().Add(probeTime)) == nil {
			defer rc.SetReadDeadline(time.Time{})
		}
		var one [1]byte
		http.MaxBytesReader(baseWriter(w), r.Body, 0).Read(one[:])
		return
	}
	if r.ContentLength > drainLimit || rc.SetReadDeadline(time.Now().Add(drainTime)) != nil {
		return // would not finish in the bound, or could not be bounded
	}
	defer rc.SetReadDeadline(time.Time{})
	io.CopyN(io.Discard, r.Body, drainLimit)
}

// readSmall reads a body whose Content-Length says it fits a chunk into a
// pooled block; the server holds the sender to that length. It is a small
// holder of the budget, which keeps a quarter for such bodies.
func (b *bufferedBody) readSmall(ctx context.Context, src io.Reader, size int64, wait time.Duration) error {
	b.small = true
	class := blockClass(size)
	if err := b.take(ctx, smallestBlock<<class, wait); err != nil {
		return err
	}
	block := getBlock(class)
	n, err := readExactly(src, (*block)[:size])
	if err != nil {
		putBlock(block)
		b.giveBack(b.held)
		return err
	}
	b.block, b.data = block, (*block)[:n]
	return nil
}

// readExactly fills buf, the whole announced body, and checks that
// nothing follows.
func readExactly(src io.Reader, buf []byte) (int, error) {
	n, err := io.ReadFull(src, buf)
	if err == nil {
		var probe [1]byte
		if _, err = io.ReadFull(src, probe[:]); err == io.EOF {
			return n, nil
		} else if err == nil {
			return n, caddyhttp.Error(http.StatusBadRequest, errBodyRead) // longer than announced
		}
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return n, caddyhttp.Error(http.StatusBadRequest, errBodyRead) // shorter than announced
	}
	return n, bodyError(err)
}

// readAnnounced reads a body of a known size (over a chunk) into a block of
// exactly that size, having reserved as much of the budget: a body either
// fits or waits whole, so bodies that each hold part of the budget cannot
// stall one another.
func (b *bufferedBody) readAnnounced(ctx context.Context, src io.Reader, size int64, wait time.Duration) error {
	if err := b.take(ctx, size, wait); err != nil {
		return err
	}
	b.data = make([]byte, size)
	if _, err := readExactly(src, b.data); err != nil {
		b.data = nil
		b.giveBack(b.held)
		return err
	}
	return nil
}

// readChunked reads a body of unknown size a chunk at a time, as its bytes
// arrive, then copies it into a block of exactly its size. The copy counts
// against the budget too, for the moment both exist; the chunks are left
// to the collector rather than pooled, so a flood of large bodies leaves
// no pool of them behind.
func (b *bufferedBody) readChunked(ctx context.Context, src io.Reader, wait time.Duration) error {
	class := blockClass(chunkSize)
	var chunks []*[]byte
	n := 0
	for {
		if err := b.take(ctx, chunkSize, wait); err != nil {
			b.drop(chunks)
			return err
		}
		c := getBlock(class)
		chunks = append(chunks, c)
		m, err := io.ReadFull(src, *c)
		n += m
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			b.drop(chunks)
			return bodyError(err)
		}
	}
	if len(chunks) == 1 {
		b.block, b.data = chunks[0], (*chunks[0])[:n]
		return nil
	}
	gathered := b.held
	if err := b.take(ctx, int64(n), wait); err != nil {
		b.giveBack(b.held)
		return err
	}
	b.data = make([]byte, 0, n)
	for _, c := range chunks {
		b.data = append(b.data, (*c)[:min(len(*c), n-len(b.data))]...)
	}
	b.giveBack(gathered)
	return nil
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

// take holds n more bytes of the budget, waiting up to wait for room.
func (b *bufferedBody) take(ctx context.Context, n int64, wait time.Duration) error {
	if b.budget == nil {
		return nil
	}
	if !b.budget.TryAcquire(n, b.small) {
		ctx, cancel := context.WithTimeout(ctx, wait)
		err := b.budget.Acquire(ctx, n, b.small)
		cancel()
		if err != nil {
			return caddyhttp.Error(http.StatusServiceUnavailable, errBudget)
		}
	}
	b.held += n
	return nil
}

// giveBack returns n held bytes to the budget.
func (b *bufferedBody) giveBack(n int64) {
	if b.budget != nil {
		b.budget.Release(n, b.small)
		b.held -= n
	}
}

// drop ends a read that failed: its budget goes back to the process, and
// its block back to the pool when it was a single one.
func (b *bufferedBody) drop(blocks []*[]byte) {
	if len(blocks) == 1 {
		putBlock(blocks[0])
	}
	b.giveBack(b.held)
}

func (b *bufferedBody) bytes() []byte { return b.data }

// release drops one reference; the last one gives the memory back.
func (b *bufferedBody) release() {
	if b.refs.Add(-1) == 0 {
		if b.block != nil {
			putBlock(b.block)
			b.block = nil
		}
		b.data = nil
		b.giveBack(b.held)
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
