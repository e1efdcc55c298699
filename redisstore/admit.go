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
	// Claim is what the dedupe claim found. Only a Claimed admission goes
	// on to the app; for the others Admit has given the token back.
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
// lim. dd and lim must come from the same Client.
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
	if dd.c != lim.c {
		return nil, errors.New("redis admit: dedupe store and limiter of different clients")
	}
	c := dd.c
	now := c.now()
	token := newToken()
	acquire, slot := lim.acquireCall(limitKey, now, maxWait)
	bctx, cancel := c.bound(ctx)
	cmds := c.runPipelined(bctx, nil, dd.claimArgs(key, now, lease, token), acquire)
	cancel()
	var claim dedupe.Claim
	v, claimErr := scriptResult(cmds[0], "redis dedupe claim")
	if claimErr == nil {
		claim, claimErr = claimResult(v, now, lease, token)
	}
	g, wait, grantErr := grantResult(cmds[1])
	tookToken := grantErr == nil && g == granted
	a := &Admission{Claim: claim, dd: dd, key: key, lim: lim, limitKey: limitKey}
	if claimErr != nil || a.Claim.Result != dedupe.Claimed {
		if tookToken {
			lim.refund(limitKey, slot)
		}
		if claimErr != nil {
			return nil, claimErr
		}
		a.once.Do(func() {})
		return a, nil
	}
	err := grantErr
	switch {
	case err != nil:
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
		a.slot = ""
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
		c := a.dd.c
		call := a.dd.releaseArgs(a.key, a.Claim.Token)
		if commit {
			call = a.dd.commitArgs(a.key, status, ttl)
		}
		var slot func(context.Context, redis.Pipeliner)
		if a.slot != "" {
			// not checked: a slot that was not given back lapses
			slot = func(ctx context.Context, p redis.Pipeliner) { p.ZRem(ctx, a.lim.slotsKey(a.limitKey), a.slot) }
		}
		bctx, cancel := c.bound(ctx)
		defer cancel()
		_, err = scriptResult(c.runPipelined(bctx, slot, call)[0], "redis dedupe")
	})
	return err
}
