package webhookverify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/webhookverify/caddy-webhook-verify/budget"
	"github.com/webhookverify/caddy-webhook-verify/events"
)

func provisioned(t testing.TB, h *Handler) *Handler {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	// A context made here has no config to load the webhook app from.
	h.app = new(App)
	if err := h.app.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.app.Cleanup() })
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	return h
}

// newRequest makes a request the way Caddy's server hands it to handlers:
// with a replacer and the vars map in its context.
func newRequest(body []byte, header http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://example.com/hook", bytes.NewReader(body))
	r.Header = header
	ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
	ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{})
	return r.WithContext(ctx)
}

type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

type drain struct{ n int }

func (d *drain) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	n, _ := io.Copy(io.Discard, r.Body)
	r.Body.Close()
	d.n = int(n)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func TestSecretErrorsNeverShowValues(t *testing.T) {
	for _, raw := range []string{"lit{eral}-secret", "s3cr3t-{env.NOPE_NOT_SET}", "{abc-literal}"} {
		_, err := resolveAll([]string{raw}, "secret")
		if err == nil {
			t.Fatalf("%q resolved", raw)
		}
		if strings.Contains(err.Error(), raw) || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "abc-literal") {
			t.Errorf("error shows the configured value: %v", err)
		}
	}
	t.Setenv("WV_EMPTY", "")
	if _, err := resolveAll([]string{"{env.WV_EMPTY}"}, "secret"); err == nil || !strings.Contains(err.Error(), "{env.WV_EMPTY}") {
		t.Errorf("an empty env secret must fail and be named: %v", err)
	}
}

func TestValidateRejectsGenericFieldsOnPresets(t *testing.T) {
	h := Handler{Provider: "github", Header: "X-Sig"}
	if err := h.Validate(); err == nil || !strings.Contains(err.Error(), "header is only for provider hmac") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnknownProvider(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	h := Handler{Provider: "githbu", Secrets: []string{"x"}}
	err := h.Provision(ctx)
	if err == nil || !strings.Contains(err.Error(), `unknown provider "githbu"`) || !strings.Contains(err.Error(), "github") {
		t.Fatalf("err = %v", err)
	}
}

// BenchmarkHandler is one verified delivery through ServeHTTP: bounded
// read into a pooled buffer, verification, placeholders, and a next
// handler that reads the body.
func BenchmarkHandler(b *testing.B) {
	for _, n := range []int{1 << 10, 1 << 20} {
		body := bytes.Repeat([]byte("x"), n)
		m := hmac.New(sha256.New, []byte("bench-secret"))
		m.Write(body)
		header := http.Header{
			"X-Hub-Signature-256": {"sha256=" + hex.EncodeToString(m.Sum(nil))},
			"X-Github-Delivery":   {"72d3162e-cc78-11e3-81ab-4c9367dc0958"},
			"Content-Type":        {"application/json"},
		}
		b.Setenv("WV_BENCH_SECRET", "bench-secret")
		h := provisioned(b, &Handler{Provider: "github", Secrets: []string{"{env.WV_BENCH_SECRET}"}})
		h.logger = zap.NewNop() // Caddy's default level (INFO) skips the per-delivery DEBUG line
		next := &drain{}
		name := "1KiB"
		if n == 1<<20 {
			name = "1MiB"
		}
		// The request and writer are made once, so what is measured is the
		// handler: reading into a pooled buffer, verifying, setting the
		// placeholders and handing a fresh reader to the next handler.
		r := newRequest(body, header)
		w := &discardWriter{header: http.Header{}}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				r.Body = io.NopCloser(bytes.NewReader(body))
				r.ContentLength = int64(n)
				if err := h.ServeHTTP(w, r, next); err != nil || next.n != n {
					b.Fatalf("err %v, next read %d bytes", err, next.n)
				}
			}
		})
	}
}

// A client that announces a large body reserves that much of the budget
// (and no more), and one that sends less than it announced is refused and
// holds nothing afterwards.
func TestAnnouncedBody(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	r.ContentLength = 9 << 20 // claims 9 MiB; this reader ends after 2 bytes
	limits := bodyLimits{max: 10 << 20, budget: budget.New(64 << 20), wait: time.Second}
	if _, err := readBody(httptest.NewRecorder(), r, limits); err == nil {
		t.Fatal("a body shorter than announced was accepted")
	}
	if held := limits.budget.InUse(); held != 0 {
		t.Fatalf("%d bytes of the budget held after a refused body", held)
	}

	// A body that does come in full is read in full, in one block of its
	// size: no doubling, no rounding.
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 9<<20)))
	b, err := readBody(httptest.NewRecorder(), r, limits)
	if err != nil || len(b.bytes()) != 9<<20 {
		t.Fatalf("read %d bytes, %v", len(b.bytes()), err)
	}
	if c, held := cap(b.data), limits.budget.InUse(); c != 9<<20 || held != 9<<20 {
		t.Fatalf("a 9 MiB body holds a %d-byte block and %d bytes of the budget", c, held)
	}
	b.release()
	if held := limits.budget.InUse(); held != 0 {
		t.Fatalf("%d bytes of the budget still held after release", held)
	}
}

// BenchmarkEventStream is the cost the live event stream adds to a 1 KiB
// delivery: the handler with no hub, with a hub nobody follows, and with
// 10 followers reading every event.
func BenchmarkEventStream(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1<<10)
	m := hmac.New(sha256.New, []byte("bench-secret"))
	m.Write(body)
	header := http.Header{"X-Hub-Signature-256": {"sha256=" + hex.EncodeToString(m.Sum(nil))}, "X-Github-Delivery": {"72d3162e"}}
	b.Setenv("WV_BENCH_SECRET", "bench-secret")
	h := provisioned(b, &Handler{Provider: "github", Secrets: []string{"{env.WV_BENCH_SECRET}"}})
	h.logger = zap.NewNop()
	hub := h.app.hub
	for _, c := range []struct {
		name      string
		followers int
		noHub     bool
	}{{"no hub", 0, true}, {"no follower", 0, false}, {"10 followers", 10, false}} {
		b.Run(c.name, func(b *testing.B) {
			h.app.hub = hub
			if c.noHub {
				h.app.hub = nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for range c.followers {
				sub := hub.Subscribe(events.Live)
				go func() {
					defer sub.Close()
					for {
						if _, err := sub.Next(ctx); err != nil {
							return
						}
					}
				}()
			}
			next := &drain{}
			r := newRequest(body, header)
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				r.Body = io.NopCloser(bytes.NewReader(body))
				r.ContentLength = int64(len(body))
				if err := h.ServeHTTP(w, r, next); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	h.app.hub = hub
}
