package webhookverify

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/webhookverify/caddy-webhook-verify/dedupe"
	"github.com/webhookverify/caddy-webhook-verify/ratelimit"
	"github.com/webhookverify/caddy-webhook-verify/redisstore"
	"github.com/webhookverify/caddy-webhook-verify/verify"
)

// delivery is one webhook request on its way through the pipeline: what
// every stage reads and writes, and what record tells the metrics, the
// log and the event stream. Placeholders are set from it as it learns
// things, never read back.
type delivery struct {
	h    *Handler
	w    http.ResponseWriter
	r    *http.Request
	repl *caddy.Replacer
	next caddyhttp.Handler
	body *bufferedBody

	// What verification learned, and why it failed.
	verify.Delivery
	verified  bool
	verifyErr error

	// Dedupe: the key and the claim on it.
	key   string
	claim dedupe.Claim

	// Rate limit: the bucket's key, and whether the concurrency cap hit.
	limitKey    string
	concurrency bool
	// retryAfter is what a 409 or 429 tells the sender to wait, or the
	// wait before the next attempt.
	retryAfter time.Duration

	// The app's side: the attempt (from 1), its answer (0 for none) and
	// the error the next handler returned.
	attempt     int
	status      int
	err         error
	forwardTime time.Duration

	// Durable routes: the journal's id for the delivery, and how many
	// destinations want it.
	journalID    string
	destinations int

	reqID string // see requestID
}

// The error texts a sender can see (through handle_errors' {err.message}):
// deliberately generic.
var (
	errNotVerified = errors.New("webhook verification failed")
	errMethod      = errors.New("method not allowed for webhook deliveries")
	errTooLarge    = errors.New("webhook body too large")
	errBodyTimeout = errors.New("webhook body not received in time")
	errBodyRead    = errors.New("webhook body could not be read")
	errInFlight    = errors.New("webhook delivery already in progress")
	errRateLimited = errors.New("webhook deliveries over the rate limit")
	errStore       = errors.New("webhook gateway cannot reach its store")
)

// maxHandshakeBody bounds what is read of a request without a signature,
// to look for a provider's unsigned handshake (WooCommerce's ping).
const maxHandshakeBody = 4 << 10

// busyRetryAfter is the Retry-After of a 503 that says "not now": a
// store failed or the body budget is full.
const busyRetryAfter = 5 * time.Second

// storeUnavailable answers 503 with Retry-After when a store failed, so
// the sender tries again.
func storeUnavailable(w http.ResponseWriter) error {
	w.Header().Set("Retry-After", retryAfterSeconds(busyRetryAfter))
	return caddyhttp.Error(http.StatusServiceUnavailable, errStore)
}

// ServeHTTP runs the pipeline: check the method and the signature's
// headers, read the body (bounded), verify, then deliver.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	d := deliveryPool.Get().(*delivery)
	*d = delivery{h: h, w: w, r: r, next: next, repl: r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)}
	d.repl.Set("http.webhook.route", h.Name)
	d.repl.Set("http.webhook.provider", h.preset.Name)
	err := d.run()
	*d = delivery{} // nothing outlives the request: the body has its own references
	deliveryPool.Put(d)
	return err
}

// deliveryPool recycles the per-request record, which is large enough
// (some 300 bytes) to be worth it on the hot path.
var deliveryPool = sync.Pool{New: func() any { return new(delivery) }}

func (d *delivery) run() error {
	h := d.h
	if !h.preset.AllowsMethod(d.r.Method) {
		d.record(outMethodNotAllowed)
		d.w.Header().Set("Allow", strings.Join(h.preset.Methods, ", "))
		return caddyhttp.Error(http.StatusMethodNotAllowed, errMethod)
	}

	// A request whose signature cannot be right from its headers alone is
	// refused before its body is read: unsigned floods cost no memory.
	// Presets with unsigned handshakes or challenges read a little of it
	// to look for one.
	limits := h.bodyLimits
	headerErr := verify.CheckHeaders(h.verifier, d.r.Header)
	switch {
	case headerErr != nil && !h.preset.HasChallenge(verify.BeforeVerify):
		return d.refuseUnread(headerErr)
	case headerErr != nil && !h.Shadow:
		limits.max = min(limits.max, maxHandshakeBody)
	}
	body, err := readBody(d.w, d.r, limits)
	if err != nil {
		return d.bodyFailed(err, headerErr)
	}
	d.body = body
	defer body.release()

	req := verify.Request{Method: d.r.Method, Query: d.r.URL.RawQuery, Header: d.r.Header, Body: body.bytes()}
	if h.signsURL {
		req.URL = h.publicURL(d.r, d.repl)
	}
	if answered, err := d.challenge(&req, verify.BeforeVerify); answered {
		return err
	}
	d.verify(&req)
	if !d.verified {
		if !h.Shadow {
			return caddyhttp.Error(http.StatusUnauthorized, errNotVerified)
		}
		// Shadow mode: the app gets it anyway, and nothing else is
		// decided for an unverified request.
		return d.forward()
	}
	if answered, err := d.challenge(&req, verify.AfterVerify); answered {
		return err
	}
	return d.deliver()
}

// verify checks the signature and sets what it learned.
func (d *delivery) verify(req *verify.Request) {
	start := time.Now()
	d.Delivery, d.verifyErr = d.h.verifier.Verify(req)
	d.h.metrics.verifyDuration.Observe(time.Since(start).Seconds())

	d.repl.Set("http.webhook.attempt", 1)
	d.repl.Set("http.webhook.id", d.ID)
	d.repl.Set("http.webhook.event", d.Event)
	if !d.Timestamp.IsZero() {
		d.repl.Set("http.webhook.timestamp", strconv.FormatInt(d.Timestamp.Unix(), 10))
	}
	if d.verifyErr != nil {
		d.reject(d.verifyErr)
		return
	}
	d.verified = true
	d.repl.Set("http.webhook.verified", true)
	d.record(outVerified)
}

// reject records why a request failed verification. Only the reason and
// its secret-free detail are logged, never a header value that carries a
// signature or token.
func (d *delivery) reject(err error) {
	d.verifyErr = err
	reason := verify.ReasonOf(err)
	d.repl.Set("http.webhook.verified", false)
	d.repl.Set("http.webhook.reason", string(reason))
	d.record(outcomeOf(reason))
	var body []byte
	if d.body != nil {
		body = d.body.bytes()
	}
	d.keepRejected(err, body)
}

// refuseUnread answers a request whose headers already show it cannot be
// verified, without reading its body. In shadow mode it goes to the app
// as it came, unbuffered.
func (d *delivery) refuseUnread(headerErr error) error {
	d.reject(headerErr)
	if !d.h.Shadow {
		endEarly(d.w, d.r)
		return caddyhttp.Error(http.StatusUnauthorized, errNotVerified)
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: d.w}}
	d.err = d.next.ServeHTTP(rec, d.r)
	d.status, d.attempt, d.forwardTime = rec.status, 1, time.Since(start)
	d.h.metrics.attempt(rec.status)
	d.recordForward()
	return d.err
}

// bodyFailed records a body that could not be read. A request whose
// headers had already failed the check is refused as unverified, whatever
// happened to the bounded read for a handshake.
func (d *delivery) bodyFailed(err, headerErr error) error {
	var he caddyhttp.HandlerError
	errors.As(err, &he)
	d.err = err
	switch {
	case headerErr != nil && he.StatusCode != http.StatusServiceUnavailable:
		d.reject(headerErr)
		return caddyhttp.Error(http.StatusUnauthorized, errNotVerified)
	case he.StatusCode == http.StatusRequestEntityTooLarge:
		d.record(outTooLarge)
	case he.StatusCode == http.StatusRequestTimeout:
		d.record(outBodyTimeout)
	case he.StatusCode == http.StatusServiceUnavailable:
		d.record(outBusy)
		d.w.Header().Set("Retry-After", retryAfterSeconds(busyRetryAfter))
	default:
		d.record(outBodyUnreadable)
	}
	return err
}

// deliver runs the stages after verification: dedupe claim, rate limit,
// forwarding (with retries) or journaling, then dedupe commit or release
// by what the app answered.
func (d *delivery) deliver() error {
	settle, answered, err := d.admit()
	if answered {
		return err
	}
	// Settled on every way out: the claim committed if the app took the
	// delivery, else released (on failure, and if the next handler
	// panics), and a concurrency slot given back.
	defer settle()
	// The delivery is bounded (by the retry budget, or the dedupe lease),
	// so neither the sender nor a claim waits on a hung app for longer.
	if d.h.deliveryBound > 0 {
		ctx, cancel := context.WithTimeout(d.r.Context(), d.h.deliveryBound)
		defer cancel()
		d.r = d.r.WithContext(ctx)
	}
	if d.h.Deliver != nil {
		return d.accept() // durable: journal, then answer the provider
	}
	return d.forward()
}

// took is whether the app (or the journal) took the delivery: what
// dedupe remembers.
func (d *delivery) took() bool {
	return d.err == nil && d.status >= 200 && d.status < 300
}

// admit takes the dedupe claim and the rate-limit token (and slot). It
// reports whether the sender was answered here (a duplicate, a copy in
// flight, over the limit, a store down); if not, settle ends the
// admission once the delivery is done. When both stores are Redis, the
// claim and the token take one round trip together, and settling one more.
func (d *delivery) admit() (settle func(), answered bool, err error) {
	if dd, lim := d.sharedStores(); dd != nil && lim != nil {
		return d.admitShared(dd, lim)
	}
	if d.h.Dedupe != nil {
		if answered, err := d.claimKey(); answered {
			return nil, true, err
		}
	}
	release := func() {}
	if d.h.RateLimit != nil {
		var err error
		if release, err = d.acquire(); err != nil {
			d.settleKey()
			return nil, true, err
		}
	}
	return func() {
		release()
		d.settleKey()
	}, false, nil
}

// sharedStores are the route's dedupe store and rate limiter when both
// live in Redis.
func (d *delivery) sharedStores() (*redisstore.Dedupe, *redisstore.Limiter) {
	if d.h.Dedupe == nil || d.h.RateLimit == nil {
		return nil, nil
	}
	dd, _ := d.h.Dedupe.store.(*redisstore.Dedupe)
	lim, _ := d.h.RateLimit.limiter.(*redisstore.Limiter)
	return dd, lim
}

// admitShared is admit in one round trip (redisstore.Admit).
func (d *delivery) admitShared(dd *redisstore.Dedupe, lim *redisstore.Limiter) (func(), bool, error) {
	d.key = d.h.Dedupe.key(d)
	d.limitKey = d.repl.ReplaceAll(d.h.RateLimit.Key, "")
	adm, err := redisstore.Admit(d.r.Context(), dd, d.key, d.h.Dedupe.lease, lim, d.limitKey, d.h.RateLimit.maxWait())
	if err != nil {
		release, err := d.limitFailed(err)
		if err != nil {
			return nil, true, err
		}
		return release, false, nil // on_error open: without a claim or a token
	}
	d.claim = adm.Claim
	if answered, err := d.answerClaim(); answered {
		return nil, true, err
	}
	return func() {
		ctx := context.WithoutCancel(d.r.Context())
		if err := adm.Done(ctx, d.took(), d.status, time.Duration(d.h.Dedupe.TTL)); err != nil {
			d.err = err
			d.record(outCommitFailed)
		}
	}, false, nil
}

// claimKey claims the delivery's dedupe key. It reports whether the
// sender was answered here: a duplicate, a copy in flight, a store down.
func (d *delivery) claimKey() (bool, error) {
	d.key = d.h.Dedupe.key(d)
	var err error
	d.claim, err = d.h.Dedupe.store.Claim(d.r.Context(), d.key, d.h.Dedupe.lease)
	if err != nil {
		if err := d.storeFailed(err); err != nil {
			return true, err
		}
		d.claim = dedupe.Claim{Result: dedupe.Claimed} // goes through without a claim
		return false, nil
	}
	return d.answerClaim()
}

// answerClaim answers a duplicate or a copy in flight.
func (d *delivery) answerClaim() (bool, error) {
	switch d.claim.Result {
	case dedupe.Duplicate:
		d.status = d.claim.Status
		d.repl.Set("http.webhook.duplicate", true)
		d.record(outDuplicate)
		d.w.Header().Set("Webhook-Duplicate", "true")
		d.w.WriteHeader(d.claim.Status)
		return true, nil
	case dedupe.InFlight:
		d.retryAfter = time.Until(d.claim.Until)
		d.record(outInFlight)
		d.w.Header().Set("Retry-After", retryAfterSeconds(d.retryAfter))
		return true, caddyhttp.Error(http.StatusConflict, errInFlight)
	}
	return false, nil
}

// settleKey commits the claim when the app took the delivery, else
// releases it, so the provider's own retry is not taken for a duplicate.
// It goes on when the sender has gone: the app took the delivery all the
// same.
func (d *delivery) settleKey() {
	if d.h.Dedupe == nil {
		return
	}
	ctx := context.WithoutCancel(d.r.Context())
	if d.took() {
		if err := d.h.Dedupe.store.Commit(ctx, d.key, d.claim.Token, d.status, time.Duration(d.h.Dedupe.TTL)); err != nil {
			d.err = err
			d.record(outCommitFailed)
		}
		return
	}
	if err := d.h.Dedupe.store.Release(ctx, d.key, d.claim.Token); err != nil {
		d.err = err
		d.record(outReleaseFailed)
	}
}

// acquire takes a rate-limit token (and a slot, with max_concurrent).
func (d *delivery) acquire() (func(), error) {
	d.limitKey = d.repl.ReplaceAll(d.h.RateLimit.Key, "")
	release, err := d.h.RateLimit.limiter.Acquire(d.r.Context(), d.limitKey, d.h.RateLimit.maxWait())
	if err == nil {
		return release, nil
	}
	return d.limitFailed(err)
}

// limitFailed answers a rate limit's refusal, a sender gone while
// waiting, or a store down (let through with on_error open).
func (d *delivery) limitFailed(err error) (func(), error) {
	var limited *ratelimit.LimitedError
	switch {
	case errors.As(err, &limited):
		d.retryAfter, d.concurrency = limited.RetryAfter, limited.Concurrency
		d.record(outRateLimited)
		d.w.Header().Set("Retry-After", retryAfterSeconds(limited.RetryAfter))
		return nil, caddyhttp.Error(http.StatusTooManyRequests, errRateLimited)
	case d.r.Context().Err() != nil:
		d.record(outSenderGone)
		return nil, caddyhttp.Error(499, err)
	}
	if err := d.storeFailed(err); err != nil {
		return nil, err
	}
	return func() {}, nil
}

// storeFailed answers a dedupe or rate-limit store that failed: 503 with
// Retry-After, or nil with on_error open, where a shared store that is
// down does not stop deliveries and this one goes on without it.
func (d *delivery) storeFailed(err error) error {
	d.err = err
	if d.h.app.failOpen && d.r.Context().Err() == nil {
		d.record(outStoreBypassed)
		d.err = nil
		return nil
	}
	d.record(outStoreFailed)
	return storeUnavailable(d.w)
}

// forward hands the delivery to the app through the forwarder.
func (d *delivery) forward() error {
	start := time.Now()
	d.status, d.err = d.h.forwarder.forward(d)
	d.forwardTime = time.Since(start)
	d.h.metrics.deliverTime.Observe(d.forwardTime.Seconds())
	d.recordForward()
	return d.err
}

// recordForward records what the app made of the delivery.
func (d *delivery) recordForward() {
	if deliveryFailed(d.status, d.err) {
		d.record(outUpstreamFailed)
	} else {
		d.record(outForwarded)
	}
}

// setAttempt starts attempt n to reach the app.
func (d *delivery) setAttempt(n int) {
	d.attempt = n
	d.repl.Set("http.webhook.attempt", n)
}

// deliveryFailed is whether the app failed a delivery: no answer, a 5xx,
// or the retryable 408 and 429.
func deliveryFailed(status int, err error) bool {
	return status == 0 || status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || (err != nil && status < 200)
}

// answer writes a handshake's answer: the gateway answers a provider's
// set-up request itself, so the app never sees an unverified request.
func (d *delivery) answer(hs *verify.Handshake) error {
	header := d.w.Header()
	for name, values := range hs.Header {
		header[name] = values
	}
	header.Set("X-Content-Type-Options", "nosniff")
	if hs.ContentType != "" {
		header.Set("Content-Type", hs.ContentType)
	}
	d.w.WriteHeader(hs.Status)
	_, err := d.w.Write(hs.Body)
	return err
}

func (d *delivery) clientIP() string {
	ip, _ := caddyhttp.GetVar(d.r.Context(), caddyhttp.ClientIPVarKey).(string)
	return ip
}

// requestID is Caddy's id for the request (made on first use).
func (d *delivery) requestID() string {
	if d.reqID == "" {
		d.reqID, _ = d.repl.GetString("http.request.uuid")
	}
	return d.reqID
}

func errDetail(err error) string {
	var ve *verify.Error
	if errors.As(err, &ve) {
		return ve.Detail
	}
	if err == nil {
		return ""
	}
	return err.Error()
}
