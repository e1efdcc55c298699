// Package redact says which request header fields carry a secret, a
// signature or a token, and hides them: the console, the admin API, the log
// lines and the delivery stream all show headers through it, so a new
// provider's header is taught here once.
//
// Two kinds are told apart. A Secret field carries a credential itself
// (Authorization, Cookie, X-Gitlab-Token, Telegram's secret token): whoever
// reads it can forge deliveries. A Signature field carries a MAC or a
// signature over the body: it forges nothing else, but it lets an attacker
// test guesses at a weak secret offline and replay the delivery within its
// tolerance. Header masks both, for people; Strip removes only secrets, for
// the delivery stream, whose subscriber re-sends the delivery to an app
// that checks the signature itself.
//
// The package knows nothing of Caddy.
package redact

import (
	"net/http"
	"strings"
)

// Kind is what a header field carries.
type Kind uint8

// The kinds of field.
const (
	// Plain fields carry nothing secret.
	Plain Kind = iota
	// Signature fields carry a MAC or a signature of the delivery.
	Signature
	// Secret fields carry a credential.
	Secret
)

// Mask replaces the values of redacted fields.
const Mask = "[redacted]"

// secretNames carry a credential and match no pattern below.
var secretNames = map[string]bool{
	"authorization":       true,
	"proxy-authorization": true,
	"cookie":              true,
	"set-cookie":          true,
}

// signatureNames carry a MAC and match no pattern below.
var signatureNames = map[string]bool{
	"x-trello-webhook": true, // base64 HMAC-SHA1 of body and callback URL
}

// secretParts mark a credential anywhere in a name: X-Gitlab-Token,
// X-Telegram-Bot-Api-Secret-Token, X-Api-Key, X-Auth-Token, ...
var secretParts = []string{"token", "secret", "password", "passwd", "api-key", "apikey", "auth", "cookie", "credential", "session"}

// signatureParts mark a MAC anywhere in a name: X-Hub-Signature-256,
// Stripe-Signature, X-Shopify-Hmac-Sha256, X-Signature-Ed25519, ...
var signatureParts = []string{"signature", "hmac"}

// harmlessSuffixes end names that mention a signature without carrying
// one (X-Signature-Timestamp, Box-Signature-Version and -Algorithm).
var harmlessSuffixes = []string{"-timestamp", "-version", "-algorithm"}

// Classify says what a header field carries. Names are matched without
// regard to case. Unknown names that mention a token, a secret, a password,
// an API key, auth, a cookie, a credential or a session count as secrets;
// those that mention a signature or an HMAC count as signatures (unless
// they end in -Timestamp, -Version or -Algorithm). Every signature and
// token header of the verify presets is covered; a test checks each one.
func Classify(name string) Kind {
	n := strings.ToLower(name)
	if secretNames[n] {
		return Secret
	}
	for _, p := range secretParts {
		if strings.Contains(n, p) {
			return Secret
		}
	}
	if signatureNames[n] {
		return Signature
	}
	for _, p := range signatureParts {
		if strings.Contains(n, p) {
			for _, s := range harmlessSuffixes {
				if strings.HasSuffix(n, s) {
					return Plain
				}
			}
			return Signature
		}
	}
	return Plain
}

// Hidden reports whether Header masks the field: a secret or a signature,
// or one of extra (names compared without regard to case; a route's
// configured signature header, for the generic hmac preset).
func Hidden(name string, extra ...string) bool {
	if Classify(name) != Plain {
		return true
	}
	for _, e := range extra {
		if strings.EqualFold(name, e) {
			return true
		}
	}
	return false
}

// Header returns a copy of h in which every value of a hidden field (see
// Hidden) is Mask, so people see that the field was there and how often,
// never what it held. It is for the console, the admin API and logs. A nil
// h gives nil.
func Header(h http.Header, extra ...string) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for name, values := range h {
		if !Hidden(name, extra...) {
			out[name] = append([]string(nil), values...)
			continue
		}
		masked := make([]string, len(values))
		for i := range masked {
			masked[i] = Mask
		}
		out[name] = masked
	}
	return out
}

// Strip returns a copy of h without its Secret fields (and those named in
// extra), keeping signatures: it is for the delivery stream, whose
// subscriber forwards the delivery to an app that verifies it again. A nil
// h gives nil.
func Strip(h http.Header, extra ...string) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
outer:
	for name, values := range h {
		if Classify(name) == Secret {
			continue
		}
		for _, e := range extra {
			if strings.EqualFold(name, e) {
				continue outer
			}
		}
		out[name] = append([]string(nil), values...)
	}
	return out
}
