package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webhookverify/caddy-webhook-verify/dedupe"
	"github.com/webhookverify/caddy-webhook-verify/ratelimit"
)

// Admission is one delivery's dedupe claim and rate-limit grant, taken in
// one round trip by Admit and settled in one by Done: two round trips per
// delivery where Dedupe and Limiter on their own take three (claim,
// acquire, commit), or four with a concurrency cap (and the slot's
// release).
type Admission struct {
	// Claim is what the dedupe claim found (Claimed without dedupe). Only
	// a Claimed admission goes on to the app; for the others Admit has
	// given the token back.
	Claim dedupe.Claim

	dd       *Dedupe
	key      string
	lim      *Limiter
	limitKey string
	slot     string
	once     sync.Once
}

// Admit claims key in dd and, in the same round trip (a pipeline of the
// two scripts), takes a token (and a slot, with a cap) for limitKey in
// lim. Either may be nil (a route without dedupe, or without a rate
// limit), not both; they must come from the same Client.
//
//   - Claim.Result Duplicate or InFlight: the token is given back (one
//     more round trip, off the common path); answer the sender from
//     Claim. Done does nothing.
//   - Claimed, but no token within maxWait: the claim is released (one
//     more round trip) and the error is a *ratelimit.LimitedError, as
//     from Limiter.Acquire. A token that comes within maxWait is waited
//     for; a full cap is waited on as Limiter.Acquire does.
//   - Claimed and granted: deliver, then call Done.
//
// Any other error means Redis could not decide; whatever was taken is
// given back, best effort (a claim lapses with its lease, a slot with its
// own).
func Admit(ctx context.Context, dd *Dedupe, key string, lease time.Duration, lim *Limiter, limitKey string, maxWait time.Duration) (*Admission, error) {
	var c *Client
	switch {
	case dd == nil && lim == nil:
		return nil, errors.New("redis admit: neither dedupe nor rate limit")
	case dd == nil:
		c = lim.c
	case lim != nil && dd.c != lim.c:
		return nil, errors.New("redis admit: dedupe store and limiter of different clients")
	default:
		c = dd.c
	}
	now := c.now()
	a := &Admission{Claim: dedupe.Claim{Result: dedupe.Claimed}, dd: dd, key: key, lim: lim, limitKey: limitKey}
	var calls []scriptCall
	var token uint64
	if dd != nil {
		token = newToken()
		calls = append(calls, dd.claimArgs(key, now, lease, token))
	}
	var slot string
	if lim != nil {
		var acquire scriptCall
		acquire, slot = lim.acquireCall(limitKey, now, maxWait)
		calls = append(calls, acquire)
	}
	bctx, cancel := c.bound(ctx)
	cmds := c.runPipelined(bctx, nil, calls...)
	cancel()

	var claimErr error
	if dd != nil {
		var v any
		if v, claimErr = scriptResult(cmds[0], "redis dedupe claim"); claimErr == nil {
			a.Claim, claimErr = claimResult(v, now, lease, token)
		}
	}
	g, wait, grantErr := granted, time.Duration(0), error(nil)
	if lim != nil {
		g, wait, grantErr = grantResult(cmds[len(cmds)-1])
	}
	if claimErr != nil || a.Claim.Result != dedupe.Claimed {
		if lim != nil && grantErr == nil && g == granted {
			lim.refund(limitKey, slot)
		}
		if claimErr != nil {
			return nil, claimErr
		}
		a.once.Do(func() {}) // nothing to settle
		return a, nil
	}
	err := grantErr
	switch {
	case err != nil || lim == nil:
	case g == granted:
		a.slot = slot
		err = lim.await(ctx, limitKey, slot, wait)
	case g == noToken:
		err = &ratelimit.LimitedError{RetryAfter: wait}
	case maxWait <= 0:
		err = &ratelimit.LimitedError{RetryAfter: concurrencyRetryAfter, Concurrency: true}
	default:
		// the cap is full: wait for a slot the way Acquire does
		a.slot, err = lim.acquire(ctx, limitKey, maxWait-c.now().Sub(now))
	}
	if err != nil {
		a.slot = "" // await and acquire gave back what they took
		a.Done(context.WithoutCancel(ctx), false, 0, 0)
		return nil, err
	}
	return a, nil
}

// scriptResult is a pipelined script's answer, or its error with what.
func scriptResult(cmd *redis.Cmd, what string) (any, error) {
	v, err := cmd.Result()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

func grantResult(cmd *redis.Cmd) (grant, time.Duration, error) {
	v, err := scriptResult(cmd, "redis rate limit")
	if err != nil {
		return 0, 0, err
	}
	return parseGrant(v)
}

// Done settles a Claimed admission in one round trip: with commit, the key
// is remembered for ttl with the app's status; without, the claim is
// released (if it still holds) so the provider's retry goes through.
// Either way the slot is given back. Calls after the first, and Done on
// an admission that was not Claimed, do nothing.
func (a *Admission) Done(ctx context.Context, commit bool, status int, ttl time.Duration) error {
	var err error
	a.once.Do(func() {
		var calls []scriptCall
		if a.dd != nil {
			call := a.dd.releaseArgs(a.key, a.Claim.Token)
			if commit {
				call = a.dd.commitArgs(a.key, status, ttl)
			}
			calls = append(calls, call)
		}
		var slot func(context.Context, redis.Pipeliner)
		if a.slot != "" {
			// not checked: a slot that was not given back lapses
			slot = func(ctx context.Context, p redis.Pipeliner) { p.ZRem(ctx, a.lim.slotsKey(a.limitKey), a.slot) }
		}
		if len(calls) == 0 && slot == nil {
			return
		}
		c := a.client()
		bctx, cancel := c.bound(ctx)
		defer cancel()
		cmds := c.runPipelined(bctx, slot, calls...)
		if len(cmds) > 0 {
			_, err = scriptResult(cmds[0], "redis dedupe")
		}
	})
	return err
}

func (a *Admission) client() *Client {
	if a.dd != nil {
		return a.dd.c
	}
	return a.lim.c
}
