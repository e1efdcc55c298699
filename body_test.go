package webhookverify

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/webhookverify/caddy-webhook-verify/budget"
)

func TestBlockClass(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want int
	}{{0, 0}, {1, 0}, {1024, 0}, {1025, 1}, {2048, 1}, {2049, 2}, {32 << 10, 5}, {32<<10 + 1, 6}, {64 << 10, 6}} {
		if got := blockClass(c.n); got != c.want || int64(smallestBlock<<got) < c.n {
			t.Errorf("blockClass(%d) = %d", c.n, got)
		}
	}
}

// Every size of body reads back exactly, holds at most one block (or its
// exact size) of the budget while held, and gives it all back.
func TestReadBodySizes(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 1024, 1025, 64<<10 - 1, 64 << 10, 64<<10 + 1, 300 << 10} {
		for _, chunked := range []bool{false, true} {
			b := budget.New(64 << 20)
			body := bytes.Repeat([]byte("a"), n)
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			r.ContentLength = int64(n)
			if chunked {
				r.Body = io.NopCloser(bytes.NewReader(body)) // no length known
				r.ContentLength = -1
			}
			got, err := readBody(httptest.NewRecorder(), r, bodyLimits{max: 1 << 20, budget: b, wait: time.Second})
			if err != nil {
				t.Fatalf("%d bytes (chunked %v): %v", n, chunked, err)
			}
			if !bytes.Equal(got.bytes(), body) {
				t.Fatalf("%d bytes (chunked %v): read %d", n, chunked, len(got.bytes()))
			}
			limit := int64(chunkSize)
			if n > chunkSize {
				limit = int64(n)
			} else if !chunked {
				limit = int64(smallestBlock << blockClass(int64(n)))
			}
			if held := b.InUse(); held > limit {
				t.Errorf("%d bytes (chunked %v) hold %d of the budget, want at most %d", n, chunked, held, limit)
			}
			got.release()
			if held := b.InUse(); held != 0 {
				t.Errorf("%d bytes (chunked %v): %d still held after release", n, chunked, held)
			}
		}
	}
}

// Oversized and failed reads give their memory back; a full budget is 503.
func TestReadBodyRefusals(t *testing.T) {
	b := budget.New(1 << 20)
	lim := bodyLimits{max: 100 << 10, budget: b, wait: 50 * time.Millisecond}
	status := func(err error) int {
		var he caddyhttp.HandlerError
		errors.As(err, &he)
		return he.StatusCode
	}

	r := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(strings.NewReader(strings.Repeat("x", 200<<10))))
	r.ContentLength = -1
	if _, err := readBody(httptest.NewRecorder(), r, lim); status(err) != 413 {
		t.Fatalf("chunked oversized: %v", err)
	}
	if b.InUse() != 0 {
		t.Fatalf("%d held after a 413", b.InUse())
	}

	// Large holders fill three quarters; the next large body waits, then 503.
	if err := b.Acquire(t.Context(), b.MaxLarge(), false); err != nil {
		t.Fatal(err)
	}
	r = httptest.NewRequest(http.MethodPost, "/", io.NopCloser(strings.NewReader(strings.Repeat("x", 90<<10))))
	r.ContentLength = -1
	if _, err := readBody(httptest.NewRecorder(), r, lim); status(err) != 503 {
		t.Fatalf("large body with the budget full: %v", err)
	}
	// A small one still finds room in the quarter kept for it.
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"small":true}`))
	small, err := readBody(httptest.NewRecorder(), r, lim)
	if err != nil {
		t.Fatalf("small body with large ones full: %v", err)
	}
	small.release()
	b.Release(b.MaxLarge(), false)
	if b.InUse() != 0 {
		t.Fatalf("%d held at the end", b.InUse())
	}
}
