package journal

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"
)

// IDPrefix starts every id NewID makes.
const IDPrefix = "msg_"

// crockford is Crockford's base32 alphabet, as ULIDs use it: no I, L, O, U,
// so an id read aloud or retyped survives.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID makes a delivery id: IDPrefix and a ULID, 26 characters of
// Crockford base32 holding t in milliseconds (48 bits) and 80 random bits.
// Ids sort as their times do (to the millisecond), which is what lets List
// walk newest first without an index of its own.
func NewID(t time.Time) string {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], uint64(t.UnixMilli())<<16)
	rand.Read(u[6:]) // never fails (crypto/rand panics rather)
	hi, lo := binary.BigEndian.Uint64(u[:8]), binary.BigEndian.Uint64(u[8:])
	// 26 characters of 5 bits hold 130 bits: the first carries the top 3.
	var out [len(IDPrefix) + 26]byte
	copy(out[:], IDPrefix)
	for i := len(out) - 1; i >= len(IDPrefix); i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// IDTime is the time an id made by NewID holds (to the millisecond); false
// for anything else.
func IDTime(id string) (time.Time, bool) {
	if len(id) != len(IDPrefix)+26 || id[:len(IDPrefix)] != IDPrefix {
		return time.Time{}, false
	}
	var ms uint64
	for i, c := range []byte(id[len(IDPrefix):]) {
		v := strings.IndexByte(crockford, c)
		if v < 0 || (i == 0 && v > 7) { // the first character carries 3 bits
			return time.Time{}, false
		}
		if i < 10 { // 3 + 9*5 = the 48 bits of the time
			ms = ms<<5 | uint64(v)
		}
	}
	return time.UnixMilli(int64(ms)), true
}
