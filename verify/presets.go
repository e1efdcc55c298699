package verify

import (
	"fmt"
	"net/http"
	"time"
)

// hmacPreset makes a preset out of an HMAC scheme written as data.
func hmacPreset(name, summary string, tolerance time.Duration, s HMACScheme, aliases ...string) *Preset {
	return &Preset{
		Name:      name,
		Aliases:   aliases,
		Summary:   summary,
		Tolerance: tolerance,
		build: func(cfg Config) (Verifier, error) {
			return s.compile(cfg)
		},
	}
}

const fiveMinutes = 5 * time.Minute

func init() {
	register(
		hmacPreset("github", "HMAC-SHA256 hex of the body in X-Hub-Signature-256 (legacy SHA-1 X-Hub-Signature when that is absent)", 0,
			HMACScheme{
				SignatureHeaders: []string{"X-Hub-Signature-256"},
				Prefix:           "sha256=",
				IDHeaders:        []string{"X-GitHub-Delivery"},
				EventHeaders:     []string{"X-GitHub-Event"},
				Fallback: &HMACScheme{
					SignatureHeaders: []string{"X-Hub-Signature"},
					Algorithm:        SHA1,
					Prefix:           "sha1=",
				},
			}),

		&Preset{
			Name:    "gitlab",
			Summary: "secret token in X-Gitlab-Token, compared in constant time",
			build: func(cfg Config) (Verifier, error) {
				s := TokenScheme{
					Header:       "X-Gitlab-Token",
					IDHeaders:    []string{"X-Gitlab-Event-UUID", "Idempotency-Key"},
					EventHeaders: []string{"X-Gitlab-Event"},
				}
				return s.compile(cfg)
			},
		},

		hmacPreset("stripe", "Stripe-Signature t=<unix>,v1=<hex> over {t}.{body}, HMAC-SHA256, 5m tolerance", fiveMinutes,
			HMACScheme{
				SignatureHeaders: []string{"Stripe-Signature"},
				Format:           KeyValueList(',', "t", "v1"),
				Signed:           "{timestamp}.{body}",
				IDField:          "id",
				EventField:       "type",
			}),

		hmacPreset("slack", "X-Slack-Signature v0=<hex> over v0:{timestamp}:{body}, HMAC-SHA256, 5m tolerance", fiveMinutes,
			HMACScheme{
				SignatureHeaders: []string{"X-Slack-Signature"},
				Prefix:           "v0=",
				Signed:           "v0:{timestamp}:{body}",
				TimestampHeaders: []string{"X-Slack-Request-Timestamp"},
				IDField:          "event_id",
				EventField:       "type",
			}),

		hmacPreset("shopify", "HMAC-SHA256 base64 of the body in X-Shopify-Hmac-Sha256", 0,
			HMACScheme{
				SignatureHeaders: []string{"X-Shopify-Hmac-Sha256", "Shopify-Hmac-Sha256"},
				Encoding:         Base64,
				IDHeaders:        []string{"X-Shopify-Event-Id", "Shopify-Event-Id", "X-Shopify-Webhook-Id"},
				EventHeaders:     []string{"X-Shopify-Topic", "Shopify-Topic"},
			}),

		hmacPreset("standard", "Standard Webhooks / Svix: webhook-signature v1,<base64> over {id}.{timestamp}.{body}, whsec_ base64 secret, 5m tolerance", fiveMinutes,
			HMACScheme{
				SignatureHeaders: []string{"Webhook-Signature", "Svix-Signature"},
				Encoding:         Base64,
				Format:           VersionedList(' ', "v1"),
				Signed:           "{id}.{timestamp}.{body}",
				TimestampHeaders: []string{"Webhook-Timestamp", "Svix-Timestamp"},
				SecretFormat:     SecretWhsec,
				IDHeaders:        []string{"Webhook-Id", "Svix-Id"},
				EventField:       "type",
			}, "svix"),

		&Preset{
			Name:      "hmac",
			Summary:   "generic HMAC: header, algorithm, encoding, prefix, signed template, timestamp_header",
			Tolerance: fiveMinutes,
			Methods:   []string{http.MethodPost, http.MethodPut, http.MethodPatch},
			build: func(cfg Config) (Verifier, error) {
				s, err := cfg.Generic.scheme()
				if err != nil {
					return nil, err
				}
				v, err := s.compile(cfg)
				if err != nil {
					return nil, fmt.Errorf("provider hmac: %w", err)
				}
				return v, nil
			},
		},
	)
}
