package dispatch

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// hopByHop are fields that describe one connection, not the message
// (RFC 9110 §7.6.1), plus those the client recomputes for the new one.
var hopByHop = []string{
	"Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
	"Proxy-Connection", "Content-Length", "Host",
}

// CleanHeader copies h without its hop-by-hop fields: those above, any
// Proxy-* field, and any field the Connection header names. The handler
// journals the cleaned copy; attempts clean again, for journals written by
// older versions.
func CleanHeader(h http.Header) http.Header {
	out := h.Clone()
	if out == nil {
		return http.Header{}
	}
	for _, v := range h.Values("Connection") {
		for name := range strings.SplitSeq(v, ",") {
			out.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopByHop {
		out.Del(name)
	}
	for name := range out {
		if len(name) >= 6 && strings.EqualFold(name[:6], "Proxy-") {
			delete(out, name)
		}
	}
	return out
}

// Outgoing headers.
const (
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
	HeaderProvider  = "X-Webhook-Provider"
	HeaderEvent     = "X-Webhook-Event"
	HeaderAttempt   = "X-Webhook-Attempt"
)

// attemptHeader is what one attempt sends: the delivery's header, cleaned,
// then ours, then the destination's lines, which win.
func attemptHeader(rt *route, dst *destination, d *journal.Delivery, body []byte, at time.Time, attempt int) http.Header {
	h := CleanHeader(d.Header)
	// The provider asked for an encoding of its own response; this
	// response is ours, and Go's transport decodes it only if it asked.
	h.Del("Accept-Encoding")
	if rt.Envelope {
		h.Set("Content-Type", "application/json")
	}
	signHeader(h, rt.key, d.ID, at, body)
	setOrDelete(h, HeaderProvider, d.Provider)
	setOrDelete(h, HeaderEvent, d.Event)
	h.Set(HeaderAttempt, strconv.Itoa(attempt))
	for name, values := range dst.Header {
		h[http.CanonicalHeaderKey(name)] = slices.Clone(values)
	}
	return h
}

func setOrDelete(h http.Header, name, value string) {
	if value == "" {
		h.Del(name)
	} else {
		h.Set(name, value)
	}
}

// signHeader sets the Standard Webhooks headers: id, timestamp and, with
// a key, the signature v1,base64(HMAC-SHA256(key, id.timestamp.body)).
// Without a key any Webhook-Signature the provider sent goes: it signed
// the provider's id and timestamp, not ours, and would only mislead.
func signHeader(h http.Header, key []byte, id string, at time.Time, body []byte) {
	ts := strconv.FormatInt(at.Unix(), 10)
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, ts)
	if key == nil {
		h.Del(HeaderSignature)
		return
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	h.Set(HeaderSignature, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

// EnvelopeVersion is the envelope's "version".
const EnvelopeVersion = "1.0"

// envelopeHead is the envelope without its data, which is spliced in raw
// so that a JSON body arrives as the provider wrote it.
type envelopeHead struct {
	ID        string `json:"id"`
	EventType string `json:"event_type"`
	Provider  string `json:"provider"`
	Timestamp string `json:"timestamp"`
	Version   string `json:"version"`
}

// envelope wraps a delivery's body: {"id","event_type","provider",
// "timestamp" (receipt, RFC 3339),"version","data"}, where data is the
// body itself when it is JSON and a JSON string of it otherwise (bytes
// that are not UTF-8 become U+FFFD there).
func envelope(d *journal.Delivery) []byte {
	head, _ := json.Marshal(envelopeHead{
		ID: d.ID, EventType: d.Event, Provider: d.Provider,
		Timestamp: d.Received.UTC().Format(time.RFC3339), Version: EnvelopeVersion,
	}) // strings only: cannot fail
	data := d.Body
	if !json.Valid(data) {
		data, _ = json.Marshal(string(d.Body))
	}
	out := make([]byte, 0, len(head)+len(data)+9)
	out = append(out, head[:len(head)-1]...)
	out = append(out, `,"data":`...)
	out = append(out, data...)
	return append(out, '}')
}
