package verify

import (
	"crypto/sha1"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// mandrillVerifier checks Mailchimp Transactional (Mandrill) webhooks:
// X-Mandrill-Signature is base64 HMAC-SHA1, keyed with the webhook key,
// over the webhook URL followed by every POST parameter sorted by name as
// name+value (mandrill_events, usually the only one), as Mandrill's
// "Authenticating webhook requests" documents.
type mandrillVerifier struct {
	keys []*macKey
}

func newMandrill(cfg Config) (Verifier, error) {
	return &mandrillVerifier{keys: macKeys(SHA1, cfg.Secrets)}, nil
}

func (v *mandrillVerifier) signsURL() bool { return true }

// CheckHeaders refuses a request without a well-formed
// X-Mandrill-Signature, before its body is read.
func (v *mandrillVerifier) CheckHeaders(h http.Header) error {
	var buf [maxSignatureSize]byte
	_, err := mandrillSignature(h, &buf)
	return err
}

func mandrillSignature(h http.Header, buf *[maxSignatureSize]byte) (int, error) {
	sig := h.Get("X-Mandrill-Signature")
	if sig == "" {
		return 0, fail(ReasonMissingSignature, "no X-Mandrill-Signature header")
	}
	n, ok := Base64.decode(buf[:], sig)
	if !ok || n != sha1.Size {
		return 0, fail(ReasonMalformedSignature, "signature is not a base64 SHA-1 MAC")
	}
	return n, nil
}

// mandrillParams is name+value for every form parameter, names sorted,
// the first value of each (Mandrill's PHP reference reads $_POST, which
// keeps one value per name).
func mandrillParams(body []byte) (string, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", errors.New("form body does not parse")
	}
	var b strings.Builder
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range form {
			if !yield(k) {
				return
			}
		}
	}) {
		b.WriteString(name)
		b.WriteString(form[name][0])
	}
	return b.String(), nil
}

func (v *mandrillVerifier) Verify(req *Request) (Delivery, error) {
	var d Delivery
	var want [maxSignatureSize]byte
	n, err := mandrillSignature(req.Header, &want)
	if err != nil {
		return d, err
	}
	params, err := mandrillParams(req.Body)
	if err != nil {
		return d, fail(ReasonBadSignature, "%v", err)
	}
	if !anyKeyMatches(v.keys, want[:n], req.URL, params) {
		return d, fail(ReasonBadSignature, "no signature matches any configured secret")
	}
	return d, nil
}

// signMandrill posts the body as mandrill_events, as Mandrill does.
func signMandrill(o SignOptions, out *Signed) error {
	if o.URL == "" {
		return errors.New("mandrill signs the URL: give the URL the delivery goes to")
	}
	body := o.Body
	if !isForm(out.Header) {
		body = []byte(url.Values{"mandrill_events": {string(o.Body)}}.Encode())
		out.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	params, err := mandrillParams(body)
	if err != nil {
		return err
	}
	out.Header.Set("X-Mandrill-Signature", Base64.encode(macOnce(SHA1, []byte(o.Secret), o.URL, params)))
	out.Body = body
	return nil
}

// headOK answers the HEAD request a provider sends to check that a URL
// exists before it registers a webhook there (Mandrill, Trello).
func headOK(req *Request) *Handshake {
	if req.Method != "HEAD" {
		return nil
	}
	return &Handshake{Status: http.StatusOK}
}
