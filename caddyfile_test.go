package webhookverify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	cases := []struct {
		name    string
		input   string
		want    Handler
		wantErr string
	}{
		{
			name:  "provider as argument",
			input: "webhook_verify github {\nsecret {env.A} {env.B}\n}",
			want:  Handler{Provider: "github", Secrets: []string{"{env.A}", "{env.B}"}},
		},
		{
			name: "everything",
			input: `webhook_verify {
				provider stripe
				name payments
				secret {env.NEW}
				secret {env.OLD}
				tolerance 2m
				max_body 2MiB
				body_timeout 5s
			}`,
			want: Handler{Provider: "stripe", Name: "payments", Secrets: []string{"{env.NEW}", "{env.OLD}"},
				Tolerance: caddy.Duration(2 * time.Minute), MaxBody: 2 << 20, BodyTimeout: caddy.Duration(5 * time.Second)},
		},
		{
			name:  "decimal sizes are decimal",
			input: "webhook_verify shopify {\nsecret s\nmax_body 1MB\n}",
			want:  Handler{Provider: "shopify", Secrets: []string{"s"}, MaxBody: 1000000},
		},
		{
			name: "generic scheme",
			input: `webhook_verify hmac {
				secret {env.S}
				header X-Signature
				algorithm sha512
				encoding base64url
				prefix "sha512="
				signed "{timestamp}.{body}"
				timestamp_header X-Timestamp
				timestamp_format unix_ms
				id_header X-Delivery
			}`,
			want: Handler{Provider: "hmac", Secrets: []string{"{env.S}"}, Header: "X-Signature", Algorithm: "sha512",
				Encoding: "base64url", Prefix: "sha512=", Signed: "{timestamp}.{body}", TimestampHeader: "X-Timestamp",
				TimestampFormat: "unix_ms", IDHeader: "X-Delivery"},
		},
		{name: "same provider twice is fine", input: "webhook_verify gitlab {\nprovider gitlab\nsecret t\n}", want: Handler{Provider: "gitlab", Secrets: []string{"t"}}},
		{
			name: "dedupe",
			input: `webhook_verify github {
				secret {env.S}
				dedupe 24h {
					key {http.request.header.X-Request-Id}
					max_entries 50000
					zone shared
				}
			}`,
			want: Handler{Provider: "github", Secrets: []string{"{env.S}"}, Dedupe: &Dedupe{
				TTL: caddy.Duration(24 * time.Hour), Key: "{http.request.header.X-Request-Id}", MaxEntries: 50000, Zone: "shared"}},
		},
		{name: "dedupe bare", input: "webhook_verify github {\nsecret s\ndedupe\n}", want: Handler{Provider: "github", Secrets: []string{"s"}, Dedupe: &Dedupe{}}},
		{name: "dedupe bad ttl", input: "webhook_verify github {\ndedupe forever\n}", wantErr: "invalid ttl"},
		{name: "dedupe two ttls", input: "webhook_verify github {\ndedupe 1h 2h\n}", wantErr: "wrong argument count"},
		{name: "dedupe bad max", input: "webhook_verify github {\ndedupe {\nmax_entries -5\n}\n}", wantErr: "not a positive integer"},
		{name: "dedupe unknown", input: "webhook_verify github {\ndedupe {\nttl 1h\n}\n}", wantErr: "unrecognized subdirective 'ttl'"},
		{name: "dedupe twice", input: "webhook_verify github {\ndedupe\ndedupe\n}", wantErr: "dedupe given twice"},
		{
			name: "retry",
			input: `webhook_verify github {
				secret s
				retry 5 {
					backoff 100ms 2s
					budget 9s
					status 500 503 429
				}
			}`,
			want: Handler{Provider: "github", Secrets: []string{"s"}, Retry: &Retry{Attempts: 5,
				BackoffBase: caddy.Duration(100 * time.Millisecond), BackoffMax: caddy.Duration(2 * time.Second),
				Budget: caddy.Duration(9 * time.Second), Statuses: []int{500, 503, 429}}},
		},
		{name: "retry bare", input: "webhook_verify github {\nretry 2\n}", want: Handler{Provider: "github", Retry: &Retry{Attempts: 2}}},
		{name: "retry without count", input: "webhook_verify github {\nretry\n}", wantErr: "wrong argument count"},
		{name: "retry bad count", input: "webhook_verify github {\nretry many\n}", wantErr: "not a number of attempts"},
		{name: "retry backoff order", input: "webhook_verify github {\nretry 2 {\nbackoff 5s 1s\n}\n}", wantErr: "max >= base"},
		{name: "retry backoff one value", input: "webhook_verify github {\nretry 2 {\nbackoff 5s\n}\n}", wantErr: "wrong argument count"},
		{name: "retry success status", input: "webhook_verify github {\nretry 2 {\nstatus 200\n}\n}", wantErr: "not a retryable HTTP status"},
		{name: "retry bad budget", input: "webhook_verify github {\nretry 2 {\nbudget 0s\n}\n}", wantErr: "invalid budget"},
		{name: "retry unknown", input: "webhook_verify github {\nretry 2 {\ntries 3\n}\n}", wantErr: "unrecognized subdirective 'tries'"},
		{
			name: "rate_limit",
			input: `webhook_verify shopify {
				secret s
				rate_limit 50/1s burst 100 {
					key {http.request.header.X-Shopify-Shop-Domain}
					mode wait
					max_wait 3s
					max_concurrent 4
					max_keys 1000
					zone shops
				}
			}`,
			want: Handler{Provider: "shopify", Secrets: []string{"s"}, RateLimit: &RateLimit{Events: 50, Window: caddy.Duration(time.Second),
				Burst: 100, Key: "{http.request.header.X-Shopify-Shop-Domain}", Mode: "wait", MaxWait: caddy.Duration(3 * time.Second),
				MaxConcurrent: 4, MaxKeys: 1000, Zone: "shops"}},
		},
		{name: "rate_limit bare", input: "webhook_verify github {\nrate_limit 5/1m\n}", want: Handler{Provider: "github", RateLimit: &RateLimit{Events: 5, Window: caddy.Duration(time.Minute)}}},
		{name: "rate_limit no rate", input: "webhook_verify github {\nrate_limit\n}", wantErr: "wrong argument count"},
		{name: "deliver to rate_limit", input: "webhook_verify github {\ndeliver {\nto http://app:8080/hook {\nrate_limit 10/1s burst 5\n}\n}\n}",
			want: Handler{Provider: "github", Deliver: &Deliver{To: []DeliverTo{{URL: "http://app:8080/hook",
				RateLimit: &DeliverRateLimit{Events: 10, Window: caddy.Duration(time.Second), Burst: 5}}}}}},
		{name: "deliver to rate_limit bad rate", input: "webhook_verify github {\ndeliver {\nto http://app:8080/hook {\nrate_limit ten/1s\n}\n}\n}", wantErr: "deliver: to: rate_limit: \"ten/1s\" is not <events>/<window>"},
		{name: "deliver to rate_limit extra word", input: "webhook_verify github {\ndeliver {\nto http://app:8080/hook {\nrate_limit 10/1s bursty 5\n}\n}\n}", wantErr: "wrong argument count"},
		{name: "rate_limit bad rate", input: "webhook_verify github {\nrate_limit 5\n}", wantErr: "is not <events>/<window>"},
		{name: "rate_limit bad window", input: "webhook_verify github {\nrate_limit 5/often\n}", wantErr: "is not <events>/<window>"},
		{name: "rate_limit zero", input: "webhook_verify github {\nrate_limit 0/1s\n}", wantErr: "is not <events>/<window>"},
		{name: "rate_limit burst without n", input: "webhook_verify github {\nrate_limit 5/1s burst\n}", wantErr: "wrong argument count"},
		{name: "rate_limit extra word", input: "webhook_verify github {\nrate_limit 5/1s bursty 3\n}", wantErr: "wrong argument count"},
		{name: "rate_limit bad mode", input: "webhook_verify github {\nrate_limit 5/1s {\nmode drop\n}\n}", wantErr: "mode \"drop\""},
		{name: "rate_limit unknown", input: "webhook_verify github {\nrate_limit 5/1s {\nburst 3\n}\n}", wantErr: "unrecognized subdirective 'burst'"},
		{
			name: "public keys and url",
			input: `webhook_verify discord {
				public_key {env.DISCORD_KEY_NEW} {env.DISCORD_KEY_OLD}
				url https://hooks.example.com{http.request.uri}
			}`,
			want: Handler{Provider: "discord", PublicKeys: []string{"{env.DISCORD_KEY_NEW}", "{env.DISCORD_KEY_OLD}"}, URL: "https://hooks.example.com{http.request.uri}"},
		},
		{name: "no provider", input: "webhook_verify {\nsecret s\n}", wantErr: "missing provider"},
		{name: "conflicting provider", input: "webhook_verify github {\nprovider stripe\n}", wantErr: "conflicts"},
		{name: "two arguments", input: `webhook_verify github stripe`, wantErr: "wrong argument count"},
		{name: "empty secret line", input: "webhook_verify github {\nsecret\n}", wantErr: "wrong argument count"},
		{name: "tolerance twice", input: "webhook_verify stripe {\ntolerance 1m\ntolerance 2m\n}", wantErr: "tolerance given twice"},
		{name: "bad duration", input: "webhook_verify stripe {\ntolerance soon\n}", wantErr: "invalid duration"},
		{name: "negative duration", input: "webhook_verify stripe {\ntolerance -1m\n}", wantErr: "invalid duration"},
		{name: "bad size", input: "webhook_verify stripe {\nmax_body lots\n}", wantErr: "invalid size"},
		{name: "zero size", input: "webhook_verify stripe {\nmax_body 0\n}", wantErr: "invalid size"},
		{name: "unknown algorithm", input: "webhook_verify hmac {\nalgorithm md5\n}", wantErr: "algorithm: unknown algorithm \"md5\""},
		{name: "unknown encoding", input: "webhook_verify hmac {\nencoding base32\n}", wantErr: "encoding: unknown encoding"},
		{name: "unknown timestamp format", input: "webhook_verify hmac {\ntimestamp_format iso\n}", wantErr: "timestamp_format: unknown timestamp format"},
		{name: "two values", input: "webhook_verify hmac {\nheader A B\n}", wantErr: "wrong argument count"},
		{name: "unknown subdirective", input: "webhook_verify github {\nsecrett x\n}", wantErr: "unrecognized subdirective 'secrett'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.input))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(h, c.want) {
				t.Fatalf("got  %+v\nwant %+v", h, c.want)
			}
		})
	}
}

// The golden files in testdata/adapt pin what `caddy adapt` makes of a
// Caddyfile: each holds the Caddyfile, a line of dashes, and the JSON.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		caddyfileText, want, ok := strings.Cut(string(data), "----------")
		if !ok {
			t.Fatalf("%s: no ---------- separator", f)
		}
		// as in Caddy's own golden tests: the Caddyfile ends in one newline
		caddyfileText, want = strings.TrimSpace(caddyfileText)+"\n", strings.TrimSpace(want)
		if !caddytest.CompareAdapt(t, f, caddyfileText, "caddyfile", want) {
			t.Errorf("%s: adapted JSON differs", f)
		}
	}
}

// The example Caddyfile must adapt and must keep verification ahead of the proxy.
func TestExampleAdapts(t *testing.T) {
	data, err := os.ReadFile("example/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	out := adapt(t, string(data))
	if !strings.Contains(out, `"handler":"webhook_verify"`) {
		t.Fatalf("example has no webhook_verify handler: %s", out)
	}
	if strings.Index(out, `"handler":"webhook_verify"`) > strings.Index(out, `"handler":"reverse_proxy"`) {
		t.Fatalf("webhook_verify comes after reverse_proxy: %s", out)
	}
}

func adapt(t *testing.T, caddyfileText string) string {
	t.Helper()
	cfg, warnings, err := caddyfileAdapter().Adapt([]byte(caddyfileText), nil)
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	for _, w := range warnings {
		t.Logf("warning: %s", w.String())
	}
	var compact json.RawMessage
	if err := json.Unmarshal(cfg, &compact); err != nil {
		t.Fatal(err)
	}
	return string(compact)
}

func TestDirectiveOrder(t *testing.T) {
	// The directive is placed right after forward_auth: ahead of handle,
	// route, respond and reverse_proxy even when written after them.
	out := adapt(t, `:8080 {
		respond /health "ok"
		reverse_proxy 127.0.0.1:9
		webhook_verify /hooks/* github {
			secret {env.S}
		}
	}`)
	wv := strings.Index(out, `"handler":"webhook_verify"`)
	for _, later := range []string{`"handler":"static_response"`, `"handler":"reverse_proxy"`} {
		if i := strings.Index(out, later); wv < 0 || i < wv {
			t.Errorf("%s is ordered before webhook_verify: %s", later, out)
		}
	}
}

func TestRouteNames(t *testing.T) {
	out := adapt(t, `:8080 {
		webhook_verify /a/* github {
			secret {env.S}
		}
		webhook_verify /a/* github {
			secret {env.S}
		}
		webhook_verify stripe {
			secret {env.S}
		}
		webhook_verify @named slack {
			name mine
			secret {env.S}
		}
		@named path /n
	}`)
	for _, want := range []string{`"name":"/a/*"`, `"name":"/a/*#2"`, `"name":"stripe"`, `"name":"mine"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in %s", want, out)
		}
	}
}
