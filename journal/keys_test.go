package journal

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Index keys are read back from disk: parsing any bytes must not panic,
// and a key built from names without NUL must come back as it went in,
// and sort by due time within its destination.
func FuzzDueKey(f *testing.F) {
	f.Add("github", "app", int64(1700000000123456789), "msg_01HX", []byte("r\x00d\x00\x00\x00\x00\x00\x00\x00\x00\x01id"))
	f.Add("", "", int64(0), "", []byte{0, 0})
	f.Add("r\x01", "d", int64(-5), "x", []byte("\x00"))
	f.Fuzz(func(t *testing.T, route, destination string, nanos int64, id string, raw []byte) {
		parseDueKey(raw)
		parseDoneKey(raw)
		parseCountKey(raw)
		if strings.IndexByte(route, 0) >= 0 || strings.IndexByte(destination, 0) >= 0 {
			return
		}
		next := time.Unix(0, nanos)
		k := dueKey(route, destination, next, id)
		e, prefixLen, ok := parseDueKey(k)
		if !ok || e.route != route || e.destination != destination || e.id != id || e.next != stamp(next) {
			t.Fatalf("dueKey(%q, %q, %d, %q) came back as %+v %v", route, destination, nanos, id, e, ok)
		}
		if later := dueKey(route, destination, next.Add(time.Nanosecond), id); nanos >= 0 && nanos < 1<<62 && bytes.Compare(later, k) <= 0 {
			t.Fatalf("a later due time sorts first")
		}
		if past := pastPrefix(k[:prefixLen]); bytes.Compare(past, k) <= 0 || bytes.HasPrefix(past, k[:prefixLen]) {
			t.Fatalf("pastPrefix %q does not sort after %q", past, k)
		}
		r, finished, doneID, _, ok := parseDoneKey(doneKey(route, next, id))
		if !ok || r != route || finished != stamp(next) || doneID != id {
			t.Fatalf("doneKey came back as %q %d %q", r, finished, doneID)
		}
		if key, ok := parseCountKey(countKey(route, destination, Dead)); !ok || key != (Key{route, destination, Dead}) {
			t.Fatalf("countKey came back as %+v", key)
		}
	})
}
