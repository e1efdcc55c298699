package retry

import (
	"math"
	"testing"
	"time"
)

func policy(t *testing.T, p Policy) Policy {
	t.Helper()
	p, err := p.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	p := policy(t, Policy{Retries: 3})
	if p.Base != DefaultBase || p.Max != DefaultMax || p.Budget != DefaultBudget || len(p.Statuses) != 6 {
		t.Fatalf("defaults: %+v", p)
	}
	for _, s := range []int{408, 429, 500, 502, 503, 504} {
		if !p.RetryableStatus(s) {
			t.Errorf("%d not retried by default", s)
		}
	}
	for _, s := range []int{200, 201, 301, 400, 401, 404, 409, 422, 501} {
		if p.RetryableStatus(s) {
			t.Errorf("%d retried by default", s)
		}
	}
	// A status list replaces the defaults.
	p = policy(t, Policy{Retries: 1, Statuses: []int{409, 503}})
	if !p.RetryableStatus(409) || p.RetryableStatus(500) {
		t.Errorf("status list did not replace the defaults: %v", p.Statuses)
	}
}

func TestInvalidPolicies(t *testing.T) {
	for _, p := range []Policy{
		{Retries: -1},
		{Retries: 1, Base: time.Second, Max: time.Millisecond},
		{Retries: 1, Budget: -time.Second},
		{Retries: 1, Statuses: []int{200}},
		{Retries: 1, Statuses: []int{700}},
	} {
		if _, err := p.WithDefaults(); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}

// The wait before retry n is in [0, min(max, base·2^(n-1))], and spans it.
func TestBackoffBoundsAndJitter(t *testing.T) {
	for _, edge := range []float64{0, 0.5, math.Nextafter(1, 0)} {
		p := policy(t, Policy{Retries: 10, Base: 100 * time.Millisecond, Max: time.Second, Rand: func() float64 { return edge }})
		for n, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 9: time.Second, 70: time.Second} {
			got := p.Backoff(n)
			want := time.Duration(edge * float64(ceiling))
			if got != want || got < 0 || got > ceiling {
				t.Errorf("rand %v, retry %d: wait %s, want %s (ceiling %s)", edge, n, got, want, ceiling)
			}
		}
	}
	// With the real random source the waits spread over the range.
	p := policy(t, Policy{Retries: 1, Base: time.Second, Max: time.Second})
	var low, high int
	for range 1000 {
		switch d := p.Backoff(1); {
		case d < 0 || d > time.Second:
			t.Fatalf("wait %s out of range", d)
		case d < 250*time.Millisecond:
			low++
		case d > 750*time.Millisecond:
			high++
		}
	}
	if low < 150 || high < 150 {
		t.Errorf("jitter not spread: %d low, %d high of 1000", low, high)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"120", 2 * time.Minute, true},
		{"Sat, 28 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Saturday, 28-Nov-26 12:01:00 GMT", time.Minute, true},
		{"Sat Nov 28 12:00:05 2026", 5 * time.Second, true},
		{"Sat, 28 Nov 2026 11:00:00 GMT", 0, true}, // in the past: now
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999999", 0, false},
	}
	for _, c := range cases {
		got, ok := ParseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseRetryAfter(%q) = %s %v, want %s %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestNextRespectsRetriesRetryAfterAndBudget(t *testing.T) {
	now := time.Unix(1700000000, 0)
	p := policy(t, Policy{Retries: 2, Base: 100 * time.Millisecond, Max: time.Second, Budget: 5 * time.Second, Rand: func() float64 { return 0.5 }})
	deadline := now.Add(p.Budget)

	if wait, ok := p.Next(1, "", now, deadline); !ok || wait != 50*time.Millisecond {
		t.Errorf("retry 1: %s %v", wait, ok)
	}
	if _, ok := p.Next(3, "", now, deadline); ok {
		t.Errorf("a third retry of two was allowed")
	}
	// Retry-After longer than the backoff is honoured...
	if wait, ok := p.Next(1, "2", now, deadline); !ok || wait != 2*time.Second {
		t.Errorf("Retry-After 2: %s %v", wait, ok)
	}
	// ...shorter is not a reason to hurry...
	if wait, ok := p.Next(2, "0", now, deadline); !ok || wait != 100*time.Millisecond {
		t.Errorf("Retry-After 0: %s %v", wait, ok)
	}
	// ...and one that does not fit the budget ends the retries.
	if _, ok := p.Next(1, "10", now, deadline); ok {
		t.Errorf("Retry-After beyond the budget was accepted")
	}
	// Near the deadline there is no time for even the backoff.
	if _, ok := p.Next(1, "", deadline.Add(-10*time.Millisecond), deadline); ok {
		t.Errorf("a wait past the deadline was accepted")
	}
	if _, ok := p.Next(1, "", deadline, deadline); ok {
		t.Errorf("a retry at the deadline was accepted")
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"3", "Sat, 28 Nov 2026 12:00:30 GMT", "", "-1", "1e9"} {
		f.Add(s)
	}
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := ParseRetryAfter(s, now); d < 0 || (!ok && d != 0) {
			t.Fatalf("ParseRetryAfter(%q) = %s %v", s, d, ok)
		}
	})
}
