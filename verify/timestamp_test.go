package verify

import (
	"math/big"
	"strconv"
	"testing"
	"time"
)

// Far-future timestamps were accepted: now.Sub(t) saturates for a t more
// than ~292 years ahead and negating it overflowed.
func TestCheckTimestampFarFuture(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		format TimeFormat
		ts     string
		want   Reason
	}{
		{UnixSeconds, "9000000000000000000", ReasonFuture},
		{UnixSeconds, "9223372036854775807", ReasonStale}, // wraps inside time: refused either way
		{UnixSeconds, "99999999999", ReasonFuture},
		{UnixMillis, "9000000000000000000", ReasonFuture},
		{RFC3339, "9999-12-31T23:59:59Z", ReasonFuture},
		{RFC3339, "0001-01-01T00:00:00Z", ReasonStale},
		{UnixSeconds, "0", ReasonStale},
		{UnixSeconds, "1700000300", ""},
		{UnixSeconds, "1700000301", ReasonFuture},
		{UnixSeconds, "1699999700", ""},
		{UnixSeconds, "1699999699", ReasonStale},
	} {
		_, err := checkTimestamp(c.format, c.ts, now, 5*time.Minute)
		var got Reason
		if err != nil {
			got = err.Reason
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.ts, got, c.want)
		}
	}
}

// FuzzCheckTimestamp: an accepted Unix timestamp lies within the
// tolerance of now, checked with arbitrary-precision integers.
func FuzzCheckTimestamp(f *testing.F) {
	for _, s := range []string{"1700000000", "9000000000000000000", "9223372036854775807", "0", "1699999700", "1700000300"} {
		f.Add(s, int64(300))
	}
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, ts string, tolSeconds int64) {
		if tolSeconds <= 0 || tolSeconds > 1<<32 {
			return
		}
		tol := time.Duration(tolSeconds) * time.Second
		if _, err := checkTimestamp(UnixSeconds, ts, now, tol); err != nil {
			return
		}
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			t.Fatalf("accepted %q, which is not an integer", ts)
		}
		diff := new(big.Int).Sub(big.NewInt(n), big.NewInt(now.Unix()))
		if diff.CmpAbs(big.NewInt(tolSeconds)) > 0 {
			t.Fatalf("accepted %q: %s s from now, tolerance %d s", ts, diff, tolSeconds)
		}
	})
}
