package webhookverify

import (
	"net/http"
	"strings"
)

// secretHeaderWords mark header names whose values carry a secret, a
// token or a signature: the admin API, the console and the logs show
// them as "[redacted]".
var secretHeaderWords = []string{"authorization", "cookie", "token", "secret", "signature", "password", "api-key", "apikey", "hmac"}

// IsSecretHeader reports whether a header's value must not be shown.
func IsSecretHeader(name string) bool {
	lower := strings.ToLower(name)
	for _, w := range secretHeaderWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// RedactHeader is a copy of h with the values of secret-bearing headers
// replaced by "[redacted]".
func RedactHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for name, values := range h {
		if IsSecretHeader(name) {
			out[name] = []string{"[redacted]"}
			continue
		}
		out[name] = values
	}
	return out
}
