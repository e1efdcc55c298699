package verify

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// snsVerifier checks Amazon SNS HTTP(S) deliveries: the body is a JSON
// message signed with RSA (SignatureVersion 1: SHA-1, 2: SHA-256) over the
// canonical "Name\nValue\n" string of its fields, with the certificate at
// SigningCertURL, which must be an HTTPS URL on an
// sns.<region>.amazonaws.com(.cn) host and end in .pem. Certificates are
// fetched once and cached. The signature proves AWS sent the message, not
// that it came from your topic: the configured secrets are the topic ARNs
// allowed to deliver.
type snsVerifier struct {
	topics []string
	certs  *certCache
}

// snsHost is sns-validator's default host pattern.
var snsHost = regexp.MustCompile(`^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$`)

// SNSURLAllowed reports whether u may be fetched for SNS: HTTPS, an
// sns.<region>.amazonaws.com(.cn) host with no port, user or IP literal.
func SNSURLAllowed(u string, pemOnly bool) bool {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "https" || p.User != nil || p.Port() != "" || p.Opaque != "" {
		return false
	}
	if !snsHost.MatchString(p.Host) {
		return false
	}
	return !pemOnly || strings.HasSuffix(p.Path, ".pem")
}

func newSNS(cfg Config) (Verifier, error) {
	for i, arn := range cfg.Secrets {
		if !strings.HasPrefix(arn, "arn:") {
			return nil, fmt.Errorf("secret #%d is not a topic ARN (arn:aws:sns:...)", i+1)
		}
	}
	client := cfg.HTTPClient
	if client == nil {
		client = DefaultHTTPClient
	}
	return &snsVerifier{topics: cfg.Secrets, certs: sharedCertCache(client)}, nil
}

// snsMessage is an SNS HTTP(S) message.
type snsMessage struct {
	Type             string  `json:"Type"`
	MessageID        string  `json:"MessageId"`
	Token            string  `json:"Token"`
	TopicArn         string  `json:"TopicArn"`
	Subject          *string `json:"Subject"`
	Message          string  `json:"Message"`
	Timestamp        string  `json:"Timestamp"`
	SignatureVersion string  `json:"SignatureVersion"`
	Signature        string  `json:"Signature"`
	SigningCertURL   string  `json:"SigningCertURL"`
	SubscribeURL     string  `json:"SubscribeURL"`
}

// snsCanonical is the string SNS signs for a message (AWS docs, "Verifying
// the signatures of Amazon SNS messages").
func snsCanonical(m *snsMessage) (string, error) {
	var b strings.Builder
	add := func(name, value string) { b.WriteString(name + "\n" + value + "\n") }
	switch m.Type {
	case "Notification":
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		if m.Subject != nil {
			add("Subject", *m.Subject)
		}
		add("Timestamp", m.Timestamp)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		add("SubscribeURL", m.SubscribeURL)
		add("Timestamp", m.Timestamp)
		add("Token", m.Token)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	default:
		return "", fmt.Errorf("unknown message type %q", m.Type)
	}
	return b.String(), nil
}

func parseSNS(body []byte) (*snsMessage, error) {
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, errors.New("body is not an SNS message")
	}
	return &m, nil
}

func (v *snsVerifier) Verify(req *Request) (Delivery, error) {
	var d Delivery
	m, err := parseSNS(req.Body)
	if err != nil || m.Signature == "" {
		return d, fail(ReasonMissingSignature, "no Signature in the body")
	}
	d.ID, d.IDSigned, d.Event = m.MessageID, true, m.Type
	canonical, err := snsCanonical(m)
	if err != nil {
		return d, fail(ReasonMalformedSignature, "%v", err)
	}
	var hash crypto.Hash
	var digest []byte
	switch m.SignatureVersion {
	case "1":
		sum := sha1.Sum([]byte(canonical))
		hash, digest = crypto.SHA1, sum[:]
	case "2":
		sum := sha256.Sum256([]byte(canonical))
		hash, digest = crypto.SHA256, sum[:]
	default:
		return d, fail(ReasonMalformedSignature, "unsupported SignatureVersion")
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return d, fail(ReasonMalformedSignature, "Signature is not base64")
	}
	if !SNSURLAllowed(m.SigningCertURL, true) {
		return d, fail(ReasonBadSignature, "SigningCertURL is not an https sns.<region>.amazonaws.com .pem URL")
	}
	key, err := v.certs.get(m.SigningCertURL)
	if err != nil {
		return d, fail(ReasonBadSignature, "signing certificate: %v", err)
	}
	if rsa.VerifyPKCS1v15(key, hash, digest, sig) != nil {
		return d, fail(ReasonBadSignature, "the signature does not verify with the signing certificate")
	}
	if !constantTimeIn(m.TopicArn, v.topics) {
		return d, fail(ReasonBadSignature, "TopicArn is not one of the configured topics")
	}
	if t, ok := ISO8601.parse(m.Timestamp); ok {
		d.Timestamp = t
	}
	return d, nil
}

// certCache fetches SNS signing certificates once per URL. It is shared
// by the routes that use one HTTP client, and bounded.
type certCache struct {
	client *http.Client
	mu     sync.Mutex
	keys   map[string]*rsa.PublicKey
}

const maxCachedCerts = 64

var (
	certCachesMu sync.Mutex
	certCaches   = map[*http.Client]*certCache{}
)

func sharedCertCache(client *http.Client) *certCache {
	certCachesMu.Lock()
	defer certCachesMu.Unlock()
	c, ok := certCaches[client]
	if !ok {
		c = &certCache{client: client, keys: map[string]*rsa.PublicKey{}}
		certCaches[client] = c
	}
	return c
}

func (c *certCache) get(certURL string) (*rsa.PublicKey, error) {
	c.mu.Lock()
	key, ok := c.keys[certURL]
	c.mu.Unlock()
	if ok {
		return key, nil
	}
	resp, err := c.client.Get(certURL)
	if err != nil {
		return nil, errors.New("could not be fetched")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch answered %d", resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, errors.New("could not be read")
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errors.New("is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, errors.New("does not parse")
	}
	key, ok = cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("has no RSA key")
	}
	c.mu.Lock()
	if len(c.keys) >= maxCachedCerts {
		for k := range c.keys {
			delete(c.keys, k)
			break
		}
	}
	c.keys[certURL] = key
	c.mu.Unlock()
	return key, nil
}

// snsSubscription confirms a verified SubscriptionConfirmation by fetching
// its SubscribeURL (on an SNS host only), when the route allows it, and
// answers 200. Otherwise the message goes to the app, which confirms.
func snsSubscription(c *ChallengeRequest) (*Handshake, error) {
	if c.Stage != AfterVerify || !c.ConfirmSubscription || c.Delivery.Event != "SubscriptionConfirmation" {
		return nil, nil
	}
	m, err := parseSNS(c.Body)
	if err != nil {
		return nil, err
	}
	if !SNSURLAllowed(m.SubscribeURL, false) {
		return nil, errors.New("SubscribeURL is not an https sns.<region>.amazonaws.com URL")
	}
	confirm := c.Confirm
	if confirm == nil {
		confirm = defaultConfirm
	}
	ctx, cancel := context.WithTimeout(c.Context, 10*time.Second)
	defer cancel()
	if err := confirm(ctx, m.SubscribeURL); err != nil {
		return nil, fmt.Errorf("confirming the subscription: %w", err)
	}
	return textAnswer("subscription confirmed"), nil
}

// DefaultHTTPClient fetches SNS signing certificates and confirms
// subscriptions for routes that set no Config.HTTPClient. Tests replace it
// to stand a local PKI in for AWS; the host rule applies all the same.
var DefaultHTTPClient = &http.Client{Timeout: 10 * time.Second}

func defaultConfirm(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := DefaultHTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("SubscribeURL answered %d", resp.StatusCode)
	}
	return nil
}
