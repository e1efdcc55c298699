package journal

import (
	"testing"
	"time"
)

func TestIDTime(t *testing.T) {
	for _, at := range []time.Time{time.UnixMilli(0), time.UnixMilli(1_795_983_314_936), time.Date(2999, 1, 2, 3, 4, 5, 6e6, time.UTC)} {
		got, ok := IDTime(NewID(at))
		if !ok || !got.Equal(at.Truncate(time.Millisecond)) {
			t.Errorf("IDTime(NewID(%v)) = %v %v", at, got, ok)
		}
	}
	for _, bad := range []string{"", "msg_", "msg_0123456789ABCDEFGHJKMNPQRSTU", "xyz_01JDQK8H6ZZZZZZZZZZZZZZZZZ", "msg_01JDQK8H6ZZZZZZZZZZZZZZZZ!"} {
		if _, ok := IDTime(bad); ok {
			t.Errorf("IDTime(%q) ok", bad)
		}
	}
}
