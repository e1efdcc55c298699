// Package retry decides whether and when a failed delivery to the app is
// tried again: which outcomes are retryable, exponential backoff with full
// jitter, the app's Retry-After, and a total time budget.
//
// It knows nothing of Caddy; the clock and the random source are injectable.
package retry

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults, chosen so that every retry fits inside GitHub's 10 s timeout.
const (
	DefaultBase   = 250 * time.Millisecond
	DefaultMax    = 5 * time.Second
	DefaultBudget = 8 * time.Second
)

// DefaultStatuses are the app responses retried unless configured otherwise.
var DefaultStatuses = []int{
	http.StatusRequestTimeout,
	http.StatusTooManyRequests,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

// Policy says how a delivery is retried.
type Policy struct {
	// Retries is how many more attempts follow the first.
	Retries int
	// Base and Max bound the backoff: before retry n (1-based) the wait is
	// uniform in [0, min(Max, Base·2^(n-1))] ("full jitter").
	Base, Max time.Duration
	// Budget bounds the whole delivery, waits and attempts together.
	Budget time.Duration
	// Statuses are the app responses worth another attempt.
	Statuses []int
	// Rand returns a float in [0, 1); default math/rand/v2.
	Rand func() float64
}

// WithDefaults fills unset fields and checks the rest.
func (p Policy) WithDefaults() (Policy, error) {
	if p.Retries < 0 {
		return p, errors.New("retry count must not be negative")
	}
	if p.Base == 0 {
		p.Base = DefaultBase
	}
	if p.Max == 0 {
		p.Max = max(DefaultMax, p.Base)
	}
	if p.Budget == 0 {
		p.Budget = DefaultBudget
	}
	if p.Base < 0 || p.Max < 0 || p.Budget < 0 {
		return p, errors.New("backoff and budget must be positive")
	}
	if p.Max < p.Base {
		return p, fmt.Errorf("backoff max %s is below base %s", p.Max, p.Base)
	}
	if len(p.Statuses) == 0 {
		p.Statuses = DefaultStatuses
	}
	for _, s := range p.Statuses {
		if s < 100 || s > 599 {
			return p, fmt.Errorf("status %d is not an HTTP status", s)
		}
		if s >= 200 && s < 300 {
			return p, fmt.Errorf("status %d is a success; it cannot be retried", s)
		}
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	return p, nil
}

// RetryableStatus reports whether an app response with this status is
// worth another attempt.
func (p Policy) RetryableStatus(status int) bool {
	return slices.Contains(p.Statuses, status)
}

// Backoff is the wait before retry n (1 for the first retry).
func (p Policy) Backoff(n int) time.Duration {
	ceiling := p.Max
	if n <= 62 {
		if d := p.Base << (n - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return time.Duration(p.Rand() * float64(ceiling))
}

// Next decides the wait before retry n, given the Retry-After the app sent
// (if any), the time now and the delivery's deadline. It reports false when
// there is no retry left or no time for one: a Retry-After is never cut
// short, so one that does not fit the budget ends the retries.
func (p Policy) Next(n int, retryAfter string, now, deadline time.Time) (time.Duration, bool) {
	if n > p.Retries {
		return 0, false
	}
	wait := p.Backoff(n)
	if ra, ok := ParseRetryAfter(retryAfter, now); ok && ra > wait {
		wait = ra
	}
	if !now.Add(wait).Before(deadline) {
		return 0, false
	}
	return wait, true
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
