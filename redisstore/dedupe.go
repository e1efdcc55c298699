package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/dedupe"
)

// Dedupe is a dedupe.Store in Redis, shared by every instance that uses
// the same zone (and prefix). A key is one Redis string:
//
//	<prefix>dd:{<zone>}:<key>  "L <until ms> <token>"   claimed, in flight
//	                           "C <expires ms> <status>" committed
//
// with a PX expiry at the same moment, so a lease whose holder died lapses
// by itself. The expiry is also in the value and checked against the
// client's clock, which is what decides (the PX only frees the memory).
// Committed keys are also listed, by expiry, in the zset
// <prefix>dd:{<zone>}, which Len counts. The zone is the hash tag: in a
// Cluster a zone's keys live on one node.
type Dedupe struct {
	c    *Client
	base string // <prefix>dd:{<zone>}
	held atomic.Int64
}

// Dedupe returns the store of a zone. Zones are namespaces: routes that
// share a zone share their keys.
func (c *Client) Dedupe(zone string) (*Dedupe, error) {
	if zone == "" {
		return nil, errors.New("redis dedupe: empty zone")
	}
	return &Dedupe{c: c, base: c.prefix + "dd:{" + escapeZone(zone) + "}"}, nil
}

// escapeZone keeps a zone name from ending the hash tag or running into
// the rest of a key: braces, colons and percent signs are escaped.
func escapeZone(zone string) string {
	return strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D", ":", "%3A").Replace(zone)
}

func (d *Dedupe) key(k string) string { return d.base + ":" + k }

// claimScript claims a key in one step: a live committed value is a
// duplicate, a live lease another's claim (or, with this token, our own
// claim retried by go-redis after a lost reply); anything else is
// overwritten with our lease.
//
// KEYS[1] the key; ARGV now ms, lease ms, token, now+lease ms. Returns
// {0, 0} (claimed), {1, status} (duplicate), {2, until ms} (in flight).
var claimScript = newScript(`
local now = tonumber(ARGV[1])
local v = redis.call('GET', KEYS[1])
if v then
	local kind, at, x = string.match(v, '^(%a) (%d+) (%d+)$')
	if kind and tonumber(at) > now then
		if kind == 'C' then return {1, tonumber(x)} end
		if x == ARGV[3] then return {0, 0} end
		return {2, tonumber(at)}
	end
end
redis.call('SET', KEYS[1], 'L ' .. ARGV[4] .. ' ' .. ARGV[3], 'PX', ARGV[2])
return {0, 0}
`)

// commitScript remembers a key, and lists it for Len (dropping what has
// expired from the list, which itself expires with its last key).
//
// KEYS[1] the key, KEYS[2] the zone's list; ARGV value, ttl ms, expires ms,
// now ms.
var commitScript = newScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
	redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
`)

// releaseScript deletes a lease that still holds the token.
//
// KEYS[1] the key; ARGV token.
var releaseScript = newScript(`
local v = redis.call('GET', KEYS[1])
if v and string.match(v, '^L %d+ (%d+)$') == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// newToken makes a claim's token: random, so claims of different
// instances never collide, and never 0.
func newToken() uint64 {
	for {
		if t := rand.Uint64(); t != 0 {
			return t
		}
	}
}

// claimArgs are the claim script's keys and arguments.
func (d *Dedupe) claimArgs(key string, now time.Time, lease time.Duration, token uint64) scriptCall {
	nowMS := now.UnixMilli()
	leaseMS := max(lease.Milliseconds(), 1)
	return scriptCall{claimScript, []string{d.key(key)}, []any{nowMS, leaseMS, strconv.FormatUint(token, 10), nowMS + leaseMS}}
}

// claimResult reads the claim script's answer.
func claimResult(v any, now time.Time, lease time.Duration, token uint64) (dedupe.Claim, error) {
	r, ok := v.([]any)
	if !ok || len(r) != 2 {
		return dedupe.Claim{}, fmt.Errorf("redis dedupe: unexpected answer %v", v)
	}
	n, _ := r[1].(int64)
	switch r[0] {
	case int64(0):
		return dedupe.Claim{Result: dedupe.Claimed, Until: now.Add(lease), Token: token}, nil
	case int64(1):
		return dedupe.Claim{Result: dedupe.Duplicate, Status: int(n)}, nil
	case int64(2):
		return dedupe.Claim{Result: dedupe.InFlight, Until: time.UnixMilli(n)}, nil
	}
	return dedupe.Claim{}, fmt.Errorf("redis dedupe: unexpected answer %v", v)
}

// Claim implements dedupe.Store: one round trip.
func (d *Dedupe) Claim(ctx context.Context, key string, lease time.Duration) (dedupe.Claim, error) {
	ctx, cancel := d.c.bound(ctx)
	defer cancel()
	now, token := d.c.now(), newToken()
	call := d.claimArgs(key, now, lease, token)
	v, err := call.s.run(ctx, d.c.rdb, call.keys, call.args...).Result()
	if err != nil {
		return dedupe.Claim{}, fmt.Errorf("redis dedupe claim: %w", err)
	}
	return claimResult(v, now, lease, token)
}

// commitArgs are the commit script's keys and arguments.
func (d *Dedupe) commitArgs(key string, status int, ttl time.Duration) scriptCall {
	now := d.c.now()
	ttlMS := max(ttl.Milliseconds(), 1)
	expires := now.UnixMilli() + ttlMS
	value := "C " + strconv.FormatInt(expires, 10) + " " + strconv.Itoa(status)
	return scriptCall{commitScript, []string{d.key(key), d.base}, []any{value, ttlMS, expires, now.UnixMilli()}}
}

// Commit implements dedupe.Store. Remembering a delivery the app took is
// right even when the claim lapsed meanwhile, so the token is not
// checked (as in dedupe.Memory). One round trip.
func (d *Dedupe) Commit(ctx context.Context, key string, _ uint64, status int, ttl time.Duration) error {
	ctx, cancel := d.c.bound(ctx)
	defer cancel()
	call := d.commitArgs(key, status, ttl)
	if err := call.s.run(ctx, d.c.rdb, call.keys, call.args...).Err(); err != nil {
		return fmt.Errorf("redis dedupe commit: %w", err)
	}
	return nil
}

func (d *Dedupe) releaseArgs(key string, token uint64) scriptCall {
	return scriptCall{releaseScript, []string{d.key(key)}, []any{strconv.FormatUint(token, 10)}}
}

// Release implements dedupe.Store: one round trip, deleting the key only
// if this token still holds it.
func (d *Dedupe) Release(ctx context.Context, key string, token uint64) error {
	ctx, cancel := d.c.bound(ctx)
	defer cancel()
	call := d.releaseArgs(key, token)
	if err := call.s.run(ctx, d.c.rdb, call.keys, call.args...).Err(); err != nil {
		return fmt.Errorf("redis dedupe release: %w", err)
	}
	return nil
}

// Len implements dedupe.Sizer: the zone's committed keys that have not
// expired, across every instance. When Redis does not answer it returns
// the last count it got.
func (d *Dedupe) Len() int {
	ctx, cancel := d.c.bound(context.Background())
	defer cancel()
	n, err := d.c.rdb.ZCount(ctx, d.base, "("+strconv.FormatInt(d.c.now().UnixMilli(), 10), "+inf").Result()
	if err == nil {
		d.held.Store(n)
	}
	return int(d.held.Load())
}

var (
	_ dedupe.Store = (*Dedupe)(nil)
	_ dedupe.Sizer = (*Dedupe)(nil)
)
