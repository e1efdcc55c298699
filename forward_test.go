package webhookverify

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/webhookverify/caddy-webhook-verify/retry"
)

// app answers like an upstream would: a few headers and a 1 KiB body.
type app struct{ body []byte }

func (a app) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Id", "abc")
	w.WriteHeader(http.StatusOK)
	w.Write(a.body)
	return nil
}

// BenchmarkForward measures what the forwarders add around the next
// handler when the first attempt succeeds: "bare" is the next handler
// alone with a fresh body reader, the baseline the others add to.
func BenchmarkForward(b *testing.B) {
	policy, _ := retry.Policy{Retries: 3}.WithDefaults()
	if err := initMetrics(prometheus.NewRegistry()); err != nil {
		b.Fatal(err)
	}
	metrics := newRouteMetrics("bench", "github")
	forwarders := []struct {
		name string
		f    forwarder
	}{
		{"bare", nil},
		{"direct", directForwarder{}},
		{"retry", &retryForwarder{policy: policy, now: time.Now}},
	}
	next := app{body: bytes.Repeat([]byte("r"), 1024)}
	reqBody := bytes.Repeat([]byte("q"), 1024)
	h := &Handler{Name: "bench", metrics: metrics, logger: zap.NewNop()}
	for _, fw := range forwarders {
		b.Run(fw.name, func(b *testing.B) {
			r := newRequest(reqBody, http.Header{})
			repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.header)
				body, err := readBody(w, r, bodyLimits{max: 1 << 20})
				if err != nil {
					b.Fatal(err)
				}
				if fw.f == nil {
					body.attach(r)
					err = next.ServeHTTP(w, r)
				} else {
					d := &delivery{h: h, w: w, r: r, repl: repl, next: caddyhttp.Handler(next), body: body}
					_, err = fw.f.forward(d)
				}
				if err != nil {
					b.Fatal(err)
				}
				body.release()
				r.Body = io.NopCloser(bytes.NewReader(reqBody))
			}
		})
	}
}
