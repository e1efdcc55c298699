package testvectors

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Cases for the presets written as code, signed here with the standard
// library from each provider's documented formula.

const adyenKey = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"

func adyenItem(psp, value, success, merchantRef string) map[string]any {
	return map[string]any{"NotificationRequestItem": map[string]any{
		"pspReference": psp, "merchantAccountCode": "TestMerchant", "merchantReference": merchantRef,
		"amount": map[string]any{"value": json.Number(value), "currency": "EUR"}, "eventCode": "AUTHORISATION", "success": success,
		"additionalData": map[string]any{},
	}}
}

// signAdyenItems computes each item's hmacSignature as @adyen/api-library's
// HmacValidator.calculateHmac does.
func signAdyenItems(key string, items []map[string]any) []byte {
	k, _ := hex.DecodeString(key)
	list := make([]any, len(items))
	for i, wrapper := range items {
		it := wrapper["NotificationRequestItem"].(map[string]any)
		amount := it["amount"].(map[string]any)
		str := func(v any) string {
			if v == nil {
				return ""
			}
			if n, ok := v.(json.Number); ok {
				return string(n)
			}
			return v.(string)
		}
		data := strings.Join([]string{str(it["pspReference"]), str(it["originalReference"]), str(it["merchantAccountCode"]), str(it["merchantReference"]),
			str(amount["value"]), str(amount["currency"]), str(it["eventCode"]), str(it["success"])}, ":")
		it["additionalData"].(map[string]any)["hmacSignature"] = base64.StdEncoding.EncodeToString(macOf(sha256.New, k, data))
		list[i] = wrapper
	}
	body, _ := json.Marshal(map[string]any{"live": "false", "notificationItems": list})
	return body
}

// snsPKI stands in for AWS: a CA, a certificate for
// sns.us-east-1.amazonaws.com serving the signing certificate over HTTPS,
// and a client that reaches it for any SNS host and trusts the CA.
type snsPKI struct {
	key    *rsa.PrivateKey
	client *http.Client
	// fetches counts the certificate downloads.
	mu      sync.Mutex
	fetches int
}

var (
	snsOnce sync.Once
	sns     *snsPKI
)

// SNSCertURL is where the test PKI serves the signing certificate.
const SNSCertURL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"

// SNS returns the test PKI, started on first use.
func SNS() (client *http.Client, sign func(canonical string, v2 bool) string, fetches func() int) {
	snsOnce.Do(func() {
		caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
			NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
		ca, _ := x509.ParseCertificate(caDER)
		serverKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		serverDER, _ := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), DNSNames: []string{"sns.us-east-1.amazonaws.com"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, &serverKey.PublicKey, caKey)
		signKey, _ := rsa.GenerateKey(rand.Reader, 2048)
		signDER, _ := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}, ca, &signKey.PublicKey, caKey)
		signPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: signDER})
		p := &snsPKI{key: signKey}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, ".pem"):
				p.mu.Lock()
				p.fetches++
				p.mu.Unlock()
				w.Write(signPEM)
			case r.URL.Query().Get("Action") == "ConfirmSubscription":
				io := `<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>arn:aws:sns:us-east-1:123456789012:test:1</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>`
				w.Write([]byte(io))
			default:
				http.NotFound(w, r)
			}
		}))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}}}
		srv.StartTLS()
		pool := x509.NewCertPool()
		pool.AddCert(ca)
		addr := srv.Listener.Addr().String()
		p.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		}}
		sns = p
	})
	sign = func(canonical string, v2 bool) string {
		var sig []byte
		if v2 {
			sum := sha256.Sum256([]byte(canonical))
			sig, _ = rsa.SignPKCS1v15(rand.Reader, sns.key, crypto.SHA256, sum[:])
		} else {
			sum := sha1.Sum([]byte(canonical))
			sig, _ = rsa.SignPKCS1v15(rand.Reader, sns.key, crypto.SHA1, sum[:])
		}
		return base64.StdEncoding.EncodeToString(sig)
	}
	return sns.client, sign, func() int { sns.mu.Lock(); defer sns.mu.Unlock(); return sns.fetches }
}

// SNSMessage signs an SNS message of the given fields (AWS docs, "Verifying
// the signatures of Amazon SNS messages": Name\nValue\n for the type's
// fields in order).
func SNSMessage(fields map[string]string, v2 bool) []byte {
	_, sign, _ := SNS()
	var names []string
	switch fields["Type"] {
	case "Notification":
		names = []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	default:
		names = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	var b strings.Builder
	for _, n := range names {
		if v, ok := fields[n]; ok {
			b.WriteString(n + "\n" + v + "\n")
		}
	}
	msg := map[string]string{}
	for k, v := range fields {
		msg[k] = v
	}
	msg["SignatureVersion"] = "1"
	if v2 {
		msg["SignatureVersion"] = "2"
	}
	msg["Signature"] = sign(b.String(), v2)
	if msg["SigningCertURL"] == "" {
		msg["SigningCertURL"] = SNSCertURL
	}
	body, _ := json.Marshal(msg)
	return body
}

func contentfulEscape(s, keep string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

func init() {
	Builders["adyen"] = func(now time.Time, base string) Case {
		body := signAdyenItems(adyenKey, []map[string]any{adyenItem("7914073381342284", "1130", "true", "TestPayment-1407325143704"), adyenItem("7914073381342285", "500", "false", "TestPayment-2")})
		return Case{Provider: "adyen", Source: "@adyen/api-library HmacValidator: base64 HMAC-SHA256 (hex key) of the ':'-joined fields, per item of a batch",
			Secrets: []string{adyenKey}, WrongSecrets: []string{strings.Repeat("AB", 32)}, Method: "POST", URL: base + "/p/adyen",
			Header: hdr("Content-Type", "application/json"), Body: body, ID: "7914073381342284:AUTHORISATION:true,7914073381342285:AUTHORISATION:false", Event: "AUTHORISATION",
			SignatureInBody: true,
			StripSignature: func(c *Case) {
				c.Body = []byte(strings.NewReplacer(`"hmacSignature"`, `"noSignature"`).Replace(string(c.Body)))
			},
			Tamper: func(c *Case) { c.Body = []byte(strings.Replace(string(c.Body), `"value":500`, `"value":501`, 1)) }}
	}
	Builders["braintree"] = func(now time.Time, base string) Case {
		xml := `<?xml version="1.0" encoding="UTF-8"?><notification><timestamp type="datetime">2025-06-15T12:00:00Z</timestamp><kind>subscription_went_past_due</kind><subject></subject></notification>`
		payload := base64.StdEncoding.EncodeToString([]byte(xml)) + "\n"
		key := sha1.Sum([]byte("bt-private-key"))
		sig := hex.EncodeToString(macOf(sha1.New, key[:], payload))
		body := url.Values{"bt_signature": {"other_pub|00&bt-public-key|" + sig}, "bt_payload": {payload}}.Encode()
		return Case{Provider: "braintree", Source: "braintree_node WebhookNotificationGateway: hex HMAC-SHA1 of bt_payload keyed with SHA-1 of the private key",
			Secrets: []string{"bt-public-key:bt-private-key"}, WrongSecrets: []string{"bt-public-key:other-private"}, Method: "POST", URL: base + "/p/braintree",
			Header: hdr("Content-Type", "application/x-www-form-urlencoded"), Body: []byte(body), Event: "subscription_went_past_due",
			SignatureInBody: true,
			StripSignature:  func(c *Case) { c.Body = []byte(url.Values{"bt_payload": {payload}}.Encode()) },
			Tamper: func(c *Case) {
				bad := base64.StdEncoding.EncodeToString([]byte(strings.Replace(xml, "past_due", "past_duE", 1))) + "\n"
				c.Body = []byte(url.Values{"bt_signature": {"bt-public-key|" + sig}, "bt_payload": {bad}}.Encode())
			}}
	}
	Builders["contentful"] = func(now time.Time, base string) Case {
		body := `{"sys":{"id":"entry1"}}`
		u := base + "/p/contentful?x=1"
		ts := unixMs(now)
		// the toolkit signs /p/contentful?x%253D1: the query escaped, then encodeURI'd
		path := contentfulEscape("/p/contentful?"+contentfulEscape("x=1", "-_.!~*'()"), "-_.!~*'();,/?:@&=+$#")
		canonical := "POST\n" + path + "\nx-contentful-signed-headers:x-contentful-signed-headers,x-contentful-timestamp,x-contentful-topic;x-contentful-timestamp:" + ts +
			";x-contentful-topic:ContentManagement.Entry.publish\n" + body
		secret := strings.Repeat("a", 64)
		return Case{Provider: "contentful", Source: "@contentful/node-apps-toolkit signRequest: hex HMAC-SHA256 of the canonical request (path with the query escaped twice)",
			Secrets: []string{secret}, Now: now, Method: "POST", URL: u,
			Header: hdr("Content-Type", "application/json", "X-Contentful-Topic", "ContentManagement.Entry.publish", "X-Contentful-Timestamp", ts,
				"X-Contentful-Signed-Headers", "x-contentful-signed-headers,x-contentful-timestamp,x-contentful-topic",
				"X-Contentful-Signature", hex.EncodeToString(macOf(sha256.New, []byte(secret), canonical))),
			Body: []byte(body), Event: "ContentManagement.Entry.publish", SignatureHeaders: []string{"X-Contentful-Signature"}, Timestamped: true}
	}
	Builders["mandrill"] = func(now time.Time, base string) Case {
		u := base + "/p/mandrill"
		events := `[{"event":"send","_id":"md-1","ts":1750000000}]`
		form := url.Values{"mandrill_events": {events}}
		return Case{Provider: "mandrill", Source: "Mandrill docs, authenticating webhook requests: base64 HMAC-SHA1 of URL + sorted key+value POST params",
			Secrets: []string{"mandrill-webhook-key"}, Method: "POST", URL: u,
			Header: hdr("Content-Type", "application/x-www-form-urlencoded", "X-Mandrill-Signature", b64MAC(sha1.New, "mandrill-webhook-key", u, "mandrill_events", events)),
			Body:   []byte(form.Encode()), SignatureHeaders: []string{"X-Mandrill-Signature"},
			Tamper: func(c *Case) {
				c.Body = []byte(url.Values{"mandrill_events": {strings.Replace(events, "md-1", "md-2", 1)}}.Encode())
			}}
	}
	Builders["msgraph"] = func(now time.Time, base string) Case {
		body := `{"value":[{"subscriptionId":"sub-1","clientState":"graph-client-state","changeType":"created","resource":"Users/1/messages/2"}]}`
		return Case{Provider: "msgraph", Source: "Microsoft Graph change notifications: clientState in every notification equals the subscription's",
			Secrets: []string{"graph-client-state"}, Method: "POST", URL: base + "/p/msgraph", Header: hdr("Content-Type", "application/json"),
			Body: []byte(body), Event: "created", BodyUnsigned: true, SignatureInBody: true,
			StripSignature: func(c *Case) { c.Body = []byte(strings.Replace(body, `"clientState":"graph-client-state",`, "", 1)) },
			Tamper:         func(c *Case) { c.Body = []byte(strings.Replace(body, "graph-client-state", "graph-client-statE", 1)) }}
	}
	Builders["sns"] = func(now time.Time, base string) Case {
		client, _, _ := SNS()
		fields := map[string]string{"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
			"Subject": "My First Message", "Message": "Hello world!", "Timestamp": "2012-05-02T00:54:06.655Z"}
		body := SNSMessage(fields, true)
		return Case{Provider: "sns", Source: "AWS SNS docs: RSA SHA-256 (SignatureVersion 2) over the canonical Name\\nValue\\n string, certificate from a local PKI standing in for AWS",
			Secrets: []string{"arn:aws:sns:us-west-2:123456789012:MyTopic"}, WrongSecrets: []string{"arn:aws:sns:us-west-2:123456789012:OtherTopic"},
			Method: "POST", URL: base + "/p/sns", Header: hdr("Content-Type", "text/plain; charset=UTF-8", "X-Amz-Sns-Message-Type", "Notification"),
			Body: body, ID: fields["MessageId"], Event: "Notification", SignatureInBody: true, HTTPClient: client,
			StripSignature: func(c *Case) {
				var m map[string]string
				json.Unmarshal(c.Body, &m)
				delete(m, "Signature")
				c.Body, _ = json.Marshal(m)
			},
			Tamper: func(c *Case) { c.Body = []byte(strings.Replace(string(c.Body), "Hello world!", "Hello world?", 1)) }}
	}
}

var _ = sort.Strings
var _ = hmac.Equal
