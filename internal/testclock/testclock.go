// Package testclock is the injected clock the tests of the plain-Go
// packages share: it stands still until a test moves it, so times in
// assertions are exact and nothing waits on the wall clock.
package testclock

import (
	"sync"
	"time"
)

// Clock is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Start is where every new Clock stands.
var Start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// New makes a Clock standing at Start.
func New() *Clock { return &Clock{t: Start} }

// Now is the time the clock stands at; pass it as a Now option.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}
