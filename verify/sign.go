package verify

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SignOptions describe a test delivery to sign as a provider would.
type SignOptions struct {
	Secret string
	// Method defaults to POST.
	Method string
	// URL is where the delivery goes; URL-signing providers need it.
	URL string
	// Body is the payload as the provider would send it.
	Body []byte
	// ContentType defaults to application/json.
	ContentType string
	// Now is the signing time; default time.Now().
	Now time.Time
	// ID is the delivery id; default a fresh random one.
	ID string
	// Event is the event type, for providers that send it in a header;
	// default the preset's TestEvent.
	Event string
}

// Signed is a delivery as the provider would send it.
type Signed struct {
	Method string
	// URL can differ from the one asked for (Twilio adds bodySHA256).
	URL    string
	Header http.Header
	// Body can differ from the one given (Mailgun wraps it).
	Body []byte
}

var errNoSigner = errors.New("this provider signs with a private key or a user-described scheme; it cannot sign test deliveries")

// testEvents are the event types test deliveries carry by default, for
// providers that send the type in a header: one the provider really sends,
// so an app that routes on it sees something it knows.
var testEvents = map[string]string{
	"github":      "ping",
	"gitlab":      "Push Hook",
	"gitea":       "push",
	"forgejo":     "push",
	"bitbucket":   "repo:push",
	"shopify":     "orders/create",
	"woocommerce": "order.created",
	"twitch":      "channel.follow",
	"sentry":      "issue",
	"linear":      "Issue",
	"mongodb":     "alert.open",
}

// TestEvent is the event type a test delivery carries by default:
// "webhook.test" unless the provider has a well-known one.
func (p *Preset) TestEvent() string {
	if e, ok := testEvents[p.Name]; ok {
		return e
	}
	return "webhook.test"
}

// CanSign reports whether Sign works for the preset: every preset that
// signs with a shared secret.
func (p *Preset) CanSign() bool { return p.sign != nil }

// Sign signs a test delivery exactly as the provider would, with fresh ids
// and timestamps unless given.
func (p *Preset) Sign(o SignOptions) (*Signed, error) {
	if p.sign == nil {
		return nil, errNoSigner
	}
	if o.Secret == "" {
		return nil, errors.New("no secret")
	}
	if o.Method == "" {
		o.Method = http.MethodPost
	}
	if o.ContentType == "" {
		o.ContentType = "application/json"
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.ID == "" {
		o.ID = RandomID()
	}
	if o.Event == "" {
		o.Event = p.TestEvent()
	}
	s := &Signed{Method: o.Method, URL: o.URL, Header: http.Header{}, Body: o.Body}
	s.Header.Set("Content-Type", o.ContentType)
	if err := p.sign(o, s); err != nil {
		return nil, err
	}
	return s, nil
}

// RandomID is a fresh UUID-shaped id, as most providers send.
func RandomID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (e Encoding) encode(b []byte) string {
	switch e {
	case Base64:
		return base64.StdEncoding.EncodeToString(b)
	case Base64URL:
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return hex.EncodeToString(b)
}

func (f TimeFormat) format(t time.Time) string {
	switch f {
	case UnixMillis:
		return strconv.FormatInt(t.UnixMilli(), 10)
	case RFC3339:
		return t.UTC().Format(time.RFC3339Nano)
	case ISO8601:
		return t.UTC().Format("2006-01-02T15:04:05.000000")
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// signer makes the sign function of a data scheme.
func (s Scheme) signer() func(SignOptions, *Signed) error {
	if s.PublicKey != NoPublicKey {
		return nil
	}
	return func(o SignOptions, out *Signed) error {
		cfg := Config{Secrets: []string{o.Secret}}
		v, err := s.compile(cfg)
		if err != nil {
			return err
		}
		ts := ""
		if v.hasTimestamp {
			ts = s.TimestampFormat.format(o.Now)
		}
		if v.tsField != "" {
			// The timestamp travels in the signed body (Linear): add it
			// to a JSON object that lacks it.
			if got, _ := jsonFields(o.Body, v.tsField, ""); got == "" {
				body, err := withField(o.Body, v.tsField, ts)
				if err != nil {
					return err
				}
				o.Body, out.Body = body, body
			}
		}
		if len(v.idHeaders) > 0 {
			out.Header.Set(v.idHeaders[0], o.ID)
		}
		if o.Event != "" && len(v.eventHeaders) > 0 {
			out.Header.Set(v.eventHeaders[0], o.Event)
		}
		req := &Request{Method: o.Method, URL: o.URL, Header: out.Header, Body: o.Body}
		signedBody := o.Body
		if v.formPayload && isForm(out.Header) {
			form, err := url.ParseQuery(string(o.Body))
			if err != nil {
				return err
			}
			signedBody = []byte(form.Get("payload"))
		}
		signedURL := o.URL
		if v.urlTransform != nil {
			signedURL = v.urlTransform(signedURL)
		}
		if v.signsURL() && o.URL == "" {
			return errors.New("this provider signs the URL: give the URL the delivery goes to")
		}
		st := v.keys[0].pool.Get().(*macState)
		st.h.Reset()
		v.write(st, req, signedBody, signedURL, ts, o.ID)
		sig := s.Encoding.encode(st.h.Sum(nil))
		v.keys[0].pool.Put(st)

		var value string
		switch f := s.Format; f.kind {
		case formatKeyValue:
			value = f.signatureKey + "=" + sig
			if f.timestampKey != "" {
				value = f.timestampKey + "=" + ts + string(f.sep) + value
			}
		case formatVersioned:
			value = f.signatureKey + "," + sig
		default:
			value = s.Prefix + sig
		}
		out.Header.Set(v.sigHeaders[0], value)
		for name, value := range v.fixedHeaders {
			out.Header.Set(name, value)
		}
		if ts != "" && s.Format.timestampKey == "" && len(v.tsHeaders) > 0 {
			out.Header.Set(v.tsHeaders[0], ts)
		}
		return nil
	}
}

// withField adds "name":value (value written as a JSON number) at the
// start of a JSON object body.
func withField(body []byte, name, value string) ([]byte, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return nil, errors.New("the body must be a JSON object, which carries the signed timestamp")
	}
	key, _ := json.Marshal(name)
	out := append(append(append([]byte{'{'}, key...), ':'), value...)
	rest := bytes.TrimSpace(trimmed[1:])
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...), nil
}

func signToken(header string, value func(secret string) string, idHeader, eventHeader, defaultEvent string) func(SignOptions, *Signed) error {
	return func(o SignOptions, out *Signed) error {
		out.Header.Set(header, value(o.Secret))
		if idHeader != "" {
			out.Header.Set(idHeader, o.ID)
		}
		if eventHeader != "" {
			event := o.Event
			if event == "" {
				event = defaultEvent
			}
			out.Header.Set(eventHeader, event)
		}
		return nil
	}
}

func signTwilio(o SignOptions, out *Signed) error {
	if o.URL == "" {
		return errors.New("twilio signs the URL: give the URL the delivery goes to")
	}
	data := o.URL
	if o.Method == http.MethodPost && isForm(out.Header) {
		form, err := url.ParseQuery(string(o.Body))
		if err != nil {
			return err
		}
		data += sortedParams(form)
	} else if len(o.Body) > 0 {
		sum := sha256.Sum256(o.Body)
		sep := "?"
		if strings.Contains(o.URL, "?") {
			sep = "&"
		}
		out.URL = o.URL + sep + "bodySHA256=" + hex.EncodeToString(sum[:])
		data = out.URL
	}
	m := hmac.New(sha1.New, []byte(o.Secret))
	m.Write([]byte(data))
	out.Header.Set("X-Twilio-Signature", base64.StdEncoding.EncodeToString(m.Sum(nil)))
	out.Header.Set("I-Twilio-Idempotency-Token", o.ID)
	return nil
}

func signMailgun(o SignOptions, out *Signed) error {
	ts := strconv.FormatInt(o.Now.Unix(), 10)
	token := strings.ReplaceAll(o.ID, "-", "")
	m := hmac.New(sha256.New, []byte(o.Secret))
	m.Write([]byte(ts + token))
	signature := map[string]string{"timestamp": ts, "token": token, "signature": hex.EncodeToString(m.Sum(nil))}
	if isForm(out.Header) {
		form, err := url.ParseQuery(string(o.Body))
		if err != nil {
			return err
		}
		for k, v := range signature {
			form.Set(k, v)
		}
		out.Body = []byte(form.Encode())
		return nil
	}
	eventData := json.RawMessage(o.Body)
	if !json.Valid(eventData) {
		return errors.New("mailgun: the body must be JSON event data (or a form)")
	}
	body, err := json.Marshal(map[string]any{"signature": signature, "event-data": eventData})
	out.Body = body
	return err
}

func signNetlify(o SignOptions, out *Signed) error {
	sum := sha256.Sum256(o.Body)
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"netlify","sha256":"` + hex.EncodeToString(sum[:]) + `"}`))
	m := hmac.New(sha256.New, []byte(o.Secret))
	m.Write([]byte(head + "." + claims))
	out.Header.Set("X-Webhook-Signature", head+"."+claims+"."+base64.RawURLEncoding.EncodeToString(m.Sum(nil)))
	if o.Event != "" {
		out.Header.Set("X-Netlify-Event", o.Event)
	}
	return nil
}
