package webhookverify

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/internal/testvectors"
	"github.com/webhookverify/caddy-webhook-verify/verify"
)

// providerSites is one route per test vector builder, with its keys passed
// through the environment as users would.
func providerSites(t *testing.T, cases []testvectors.Case) string {
	var b strings.Builder
	b.WriteString(":9080 {\n")
	for i, c := range cases {
		fmt.Fprintf(&b, "\twebhook_verify %s %s {\n", testvectors.Route(c), c.Provider)
		for j, s := range c.Secrets {
			name := fmt.Sprintf("WV_P%d_S%d", i, j)
			t.Setenv(name, s)
			fmt.Fprintf(&b, "\t\tsecret {env.%s}\n", name)
		}
		for j, k := range c.PublicKeys {
			name := fmt.Sprintf("WV_P%d_K%d", i, j)
			t.Setenv(name, k)
			fmt.Fprintf(&b, "\t\tpublic_key {env.%s}\n", name)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("\treverse_proxy {upstream}\n}\n")
	return b.String()
}

func send(t *testing.T, c testvectors.Case) (int, string) {
	t.Helper()
	req, err := http.NewRequest(c.Method, c.URL, bytes.NewReader(c.Body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = c.Header.Clone()
	status, _, body := do(t, req)
	return status, body
}

// Every preset's delivery, signed by independent code (Ed25519, ECDSA and
// URL-signing ones included), passes through a real Caddy and
// reverse_proxy with its body intact; tampered and stale copies do not.
func TestEveryPresetThroughCaddy(t *testing.T) {
	base := "http://" + caddyAddr
	cases := testvectors.Fresh(time.Now(), base)
	// SNS fetches its signing certificate from a local PKI standing in for AWS.
	client, _, _ := testvectors.SNS()
	old := verify.DefaultHTTPClient
	verify.DefaultHTTPClient = client
	t.Cleanup(func() { verify.DefaultHTTPClient = old })
	up := newUpstream(t)
	startCaddy(t, up, providerSites(t, cases))

	passed := map[string]bool{}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			before := up.count()
			if status, body := send(t, c); status != 200 {
				t.Fatalf("valid delivery: %d %q (source: %s)", status, body, c.Source)
			}
			reqs := up.requests()
			if len(reqs) != before+1 || !bytes.Equal(reqs[len(reqs)-1].Body, c.Body) {
				t.Fatalf("the app did not get the body byte for byte")
			}
			passed[c.Provider] = true

			bad := c.Clone()
			if c.Tamper != nil {
				c.Tamper(&bad)
			} else {
				bad.Body[len(bad.Body)-2] ^= 1
			}
			if status, _ := send(t, bad); status != 401 {
				t.Fatalf("tampered delivery: %d", status)
			}
			if c.Timestamped {
				p, _ := verify.Lookup(c.Provider)
				stale := testvectors.Builders[c.Name](time.Now().Add(-p.Tolerance-time.Minute), base)
				if status, _ := send(t, stale); status != 401 {
					t.Fatalf("stale delivery: %d", status)
				}
			}
			if up.count() != before+1 {
				t.Fatalf("a rejected delivery reached the app")
			}
		})
	}
	if len(passed) < 30 {
		t.Fatalf("%d presets passed through Caddy, want at least 30", len(passed))
	}
	t.Logf("%d presets passed through Caddy", len(passed))
}

// Unsigned set-up requests are answered by the gateway, not the app.
func TestHandshakesThroughCaddy(t *testing.T) {
	t.Setenv("WV_K", "k")
	up := newUpstream(t)
	startCaddy(t, up, `
	:9080 {
		webhook_verify /dropbox dropbox {
			secret {env.WV_K}
		}
		webhook_verify /meta meta {
			secret {env.WV_K}
		}
		webhook_verify /okta okta {
			secret {env.WV_K}
		}
		webhook_verify /worldline worldline {
			secret {env.WV_K}
		}
		reverse_proxy {upstream}
	}`)
	for _, c := range []struct {
		path, header, value, want, contentType string
	}{
		{"/dropbox?challenge=dbx-123", "", "", "dbx-123", "text/plain; charset=utf-8"},
		{"/meta?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1158201444", "", "", "1158201444", "text/plain; charset=utf-8"},
		{"/okta", "X-Okta-Verification-Challenge", "vfy-42", `{"verification":"vfy-42"}`, "application/json"},
		// Worldline: echo X-GCS-Webhooks-Endpoint-Verification in the body.
		{"/worldline", "X-GCS-Webhooks-Endpoint-Verification", "wl-9f3a", "wl-9f3a", "text/plain; charset=utf-8"},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+caddyAddr+c.path, nil)
		if c.header != "" {
			req.Header.Set(c.header, c.value)
		}
		status, header, body := do(t, req)
		if status != 200 || body != c.want || header.Get("Content-Type") != c.contentType || header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d %q %q", c.path, status, body, header.Get("Content-Type"))
		}
	}
	// A GET that is not a handshake is an unsigned request.
	req, _ := http.NewRequest(http.MethodGet, "http://"+caddyAddr+"/meta?hub.mode=unsubscribe", nil)
	if status, _, _ := do(t, req); status != 401 {
		t.Errorf("non-handshake GET: %d", status)
	}
	req, _ = http.NewRequest(http.MethodGet, "http://"+caddyAddr+"/worldline", nil)
	if status, _, _ := do(t, req); status != 401 {
		t.Errorf("worldline GET without the verification header: %d", status)
	}
	if up.count() != 0 {
		t.Fatalf("the app saw %d handshake requests", up.count())
	}
}

// Behind a proxy that changes the URL, `url` gives the one the provider signed.
func TestURLTemplateThroughCaddy(t *testing.T) {
	c := testvectors.Builders["twilio"](time.Now(), "https://hooks.example.com")
	t.Setenv("WV_TW", c.Secrets[0])
	up := newUpstream(t)
	startCaddy(t, up, `
	:9080 {
		webhook_verify /p/* twilio {
			secret {env.WV_TW}
			url https://hooks.example.com{http.request.uri}
		}
		reverse_proxy {upstream}
	}`)
	sent := c.Clone()
	sent.URL = strings.Replace(c.URL, "https://hooks.example.com", "http://"+caddyAddr, 1)
	if status, body := send(t, sent); status != 200 {
		t.Fatalf("twilio behind a proxy: %d %q", status, body)
	}
	// Without the public URL the signature cannot match.
	startCaddy(t, up, `
	:9080 {
		webhook_verify /p/* twilio {
			secret {env.WV_TW}
		}
		reverse_proxy {upstream}
	}`)
	if status, _ := send(t, sent); status != 401 {
		t.Fatalf("twilio with the rebuilt URL: %d, want 401", status)
	}
}

// A uri or rewrite directive that runs before webhook_verify does not change
// the URL that is checked: it is the one the sender requested.
func TestURLSignedBeforeRewrites(t *testing.T) {
	c := testvectors.Builders["twilio"](time.Now(), "http://"+caddyAddr)
	t.Setenv("WV_TW", c.Secrets[0])
	up := newUpstream(t)
	startCaddy(t, up, `
	:9080 {
		uri strip_prefix /p
		webhook_verify /twilio twilio {
			secret {env.WV_TW}
		}
		reverse_proxy {upstream}
	}`)
	if status, body := send(t, c); status != 200 {
		t.Fatalf("twilio after uri strip_prefix: %d %q", status, body)
	}
	if reqs := up.requests(); len(reqs) != 1 || reqs[0].Path != "/twilio" {
		t.Fatalf("the app got %+v", reqs)
	}
}
