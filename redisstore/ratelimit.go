package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/ratelimit"
)

// LimitOptions configure a Limiter.
type LimitOptions struct {
	// Events per Window is the sustained rate.
	Events int
	Window time.Duration
	// Burst is how many deliveries may go at once after a quiet spell;
	// default Events.
	Burst int
	// MaxConcurrent caps deliveries in flight per key, across instances;
	// 0 means no cap.
	MaxConcurrent int
	// SlotLease is the longest a delivery holds its concurrency slot: a
	// slot not given back by then (its instance died) is free again.
	// Set it to the longest a delivery may take; default
	// DefaultSlotLease.
	SlotLease time.Duration
}

// DefaultSlotLease is the default LimitOptions.SlotLease.
const DefaultSlotLease = 5 * time.Minute

// concurrencyRetryAfter is what a sender turned away by the concurrency
// cap is told: a slot frees up when a delivery finishes, which is not
// known (ratelimit.Memory says the same).
const concurrencyRetryAfter = time.Second

// slotPoll bounds the waits between looks for a free slot, when Acquire
// may wait for one.
const (
	slotPollMin = 10 * time.Millisecond
	slotPollMax = 200 * time.Millisecond
)

// Limiter is a ratelimit.Limiter in Redis, shared by every instance that
// uses the same zone (and prefix): one GCRA bucket per key (the
// theoretical arrival time of the next delivery, the same arithmetic as a
// token bucket of Burst tokens refilled at Events per Window) and, with
// MaxConcurrent, a zset of the slots held, each scored by when its lease
// lapses. Per key:
//
//	<prefix>rl:{<zone>:<key>}:t  the arrival time, µs (a string, PX until the bucket is full)
//	<prefix>rl:{<zone>:<key>}:s  zset: slot id → lease end, µs
//
// One script takes a slot and a token together, atomically, in one round
// trip; giving the slot back is another (ZREM). Times come from the
// client's clock.
type Limiter struct {
	c        *Client
	base     string  // <prefix>rl:{<zone>:
	interval float64 // µs between tokens
	burst    int
	maxConc  int
	lease    time.Duration
}

// Limiter returns the limiter of a zone. Routes that share a zone share
// its buckets; a changed rate applies to the buckets as they are.
func (c *Client) Limiter(zone string, o LimitOptions) (*Limiter, error) {
	if zone == "" {
		return nil, errors.New("redis rate limit: empty zone")
	}
	if o.Events <= 0 || o.Window <= 0 {
		return nil, errors.New("redis rate limit: rate must be a positive number of events per positive window")
	}
	if o.Burst == 0 {
		o.Burst = o.Events
	}
	if o.Burst < 0 || o.MaxConcurrent < 0 || o.SlotLease < 0 {
		return nil, errors.New("redis rate limit: burst, max_concurrent and slot lease must not be negative")
	}
	if o.SlotLease == 0 {
		o.SlotLease = DefaultSlotLease
	}
	return &Limiter{
		c:        c,
		base:     c.prefix + "rl:{" + escapeZone(zone) + ":",
		interval: float64(o.Window.Microseconds()) / float64(o.Events),
		burst:    o.Burst,
		maxConc:  o.MaxConcurrent,
		lease:    o.SlotLease,
	}, nil
}

func (l *Limiter) keys(key string) []string {
	base := l.base + key + "}"
	return []string{base + ":t", base + ":s"}
}

func (l *Limiter) slotsKey(key string) string { return l.base + key + "}:s" }

// acquireScript takes a slot (with a cap) and a token, or neither. A
// full cap refuses before the bucket is touched, so no token is spent on
// a refusal. A token that comes within max wait is reserved: the caller
// waits for it.
//
// KEYS[1] arrival time, KEYS[2] slots; ARGV now µs, interval µs, burst,
// max wait µs, cap, slot lease end µs, slot id, slot lease ms. Returns
// {0, wait µs} (granted), {1, wait µs} (no token within max wait),
// {2, 0} (cap reached).
var acquireScript = newScript(`
local now = tonumber(ARGV[1])
local cap = tonumber(ARGV[5])
if cap > 0 then
	redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
	if redis.call('ZCARD', KEYS[2]) >= cap then return {2, 0} end
end
local interval = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new = tat + interval
local wait = math.ceil(new - interval * tonumber(ARGV[3]) - now)
if wait > tonumber(ARGV[4]) then return {1, wait} end
redis.call('SET', KEYS[1], string.format('%.17g', new), 'PX', string.format('%d', math.ceil((new - now) / 1000) + 1))
if cap > 0 then
	redis.call('ZADD', KEYS[2], ARGV[6], ARGV[7])
	redis.call('PEXPIRE', KEYS[2], ARGV[8])
end
if wait < 0 then wait = 0 end
return {0, wait}
`)

// refundScript gives back a token that was taken but not used (and the
// slot taken with it).
//
// KEYS[1] arrival time, KEYS[2] slots; ARGV now µs, interval µs, slot id.
var refundScript = newScript(`
local now = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat > now then
	local back = math.max(tat - tonumber(ARGV[2]), now)
	redis.call('SET', KEYS[1], string.format('%.17g', back), 'PX', string.format('%d', math.ceil((back - now) / 1000) + 1))
end
if ARGV[3] ~= '' then redis.call('ZREM', KEYS[2], ARGV[3]) end
return 1
`)

// grant is what the acquire script said.
type grant int

const (
	granted grant = iota
	noToken
	capReached
)

// acquireCall is the acquire script for one try at now, with a new slot
// id when there is a cap.
func (l *Limiter) acquireCall(key string, now time.Time, maxWait time.Duration) (scriptCall, string) {
	slot := ""
	if l.maxConc > 0 {
		var b [8]byte
		for i := range b {
			b[i] = byte(rand.Uint32())
		}
		slot = hex.EncodeToString(b[:])
	}
	nowUS := now.UnixMicro()
	return scriptCall{acquireScript, l.keys(key), []any{
		nowUS, strconv.FormatFloat(l.interval, 'f', -1, 64), l.burst, max(maxWait.Microseconds(), 0),
		l.maxConc, nowUS + l.lease.Microseconds(), slot, max(l.lease.Milliseconds(), 1),
	}}, slot
}

// parseGrant reads the acquire script's answer.
func parseGrant(v any) (grant, time.Duration, error) {
	r, ok := v.([]any)
	if !ok || len(r) != 2 {
		return 0, 0, fmt.Errorf("redis rate limit: unexpected answer %v", v)
	}
	g, ok1 := r[0].(int64)
	us, ok2 := r[1].(int64)
	if !ok1 || !ok2 || g < 0 || g > int64(capReached) {
		return 0, 0, fmt.Errorf("redis rate limit: unexpected answer %v", v)
	}
	return grant(g), time.Duration(us) * time.Microsecond, nil
}

// Acquire implements ratelimit.Limiter. One round trip, unless it waits:
// for a token that comes within maxWait it sleeps (the token is reserved,
// as with ratelimit.Memory); for a free slot it looks again, at growing
// intervals, until maxWait has passed. Giving the slot back (release,
// with a cap) is one more.
func (l *Limiter) Acquire(ctx context.Context, key string, maxWait time.Duration) (release func(), err error) {
	slot, err := l.acquire(ctx, key, maxWait)
	if err != nil {
		return nil, err
	}
	return l.releaser(key, slot), nil
}

// acquire is Acquire, returning the slot taken ("" without a cap).
func (l *Limiter) acquire(ctx context.Context, key string, maxWait time.Duration) (slot string, err error) {
	deadline := l.c.now().Add(maxWait)
	poll := slotPollMin
	for {
		now := l.c.now()
		call, slot := l.acquireCall(key, now, deadline.Sub(now))
		bctx, cancel := l.c.bound(ctx)
		v, err := call.s.run(bctx, l.c.rdb, call.keys, call.args...).Result()
		cancel()
		if err != nil {
			return "", fmt.Errorf("redis rate limit: %w", err)
		}
		g, wait, err := parseGrant(v)
		if err != nil {
			return "", err
		}
		switch g {
		case granted:
			return slot, l.await(ctx, key, slot, wait)
		case noToken:
			return "", &ratelimit.LimitedError{RetryAfter: wait}
		}
		left := deadline.Sub(now)
		if left <= 0 {
			return "", &ratelimit.LimitedError{RetryAfter: concurrencyRetryAfter, Concurrency: true}
		}
		if err := l.c.sleep(ctx, min(poll, left)); err != nil {
			return "", err
		}
		poll = min(2*poll, slotPollMax)
	}
}

// await waits for a reserved token; if ctx ends first, the token and slot
// are given back.
func (l *Limiter) await(ctx context.Context, key, slot string, wait time.Duration) error {
	if wait <= 0 {
		return nil
	}
	if err := l.c.sleep(ctx, wait); err != nil {
		l.refund(key, slot)
		return err
	}
	return nil
}

// releaser gives the slot back (once), or does nothing without a cap.
// It does not wait on a Redis that does not answer longer than the
// client's timeout; a slot it could not give back lapses with its lease.
func (l *Limiter) releaser(key, slot string) func() {
	if slot == "" {
		return func() {}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := l.c.bound(context.Background())
			defer cancel()
			l.c.rdb.ZRem(ctx, l.slotsKey(key), slot)
		})
	}
}

func (l *Limiter) refundCall(key, slot string) scriptCall {
	return scriptCall{refundScript, l.keys(key), []any{l.c.now().UnixMicro(), strconv.FormatFloat(l.interval, 'f', -1, 64), slot}}
}

// refund gives back a token (and slot) that was taken but will not be
// used; best effort.
func (l *Limiter) refund(key, slot string) {
	ctx, cancel := l.c.bound(context.Background())
	defer cancel()
	call := l.refundCall(key, slot)
	call.s.run(ctx, l.c.rdb, call.keys, call.args...)
}

var _ ratelimit.Limiter = (*Limiter)(nil)
