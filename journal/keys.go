package journal

import (
	"bytes"
	"encoding/binary"
	"time"
)

// Keys are built so that bbolt's byte order is the order we want to walk
// in: names end with a NUL (which names may not contain), times are
// big-endian nanoseconds.

// stamp encodes t for a key; times before 1970 (and the zero time) sort
// first.
func stamp(t time.Time) uint64 {
	if t.Before(time.Unix(0, 0)) {
		return 0
	}
	return uint64(t.UnixNano())
}

func unstamp(n uint64) time.Time { return time.Unix(0, int64(n)) }

// targetKey is id NUL destination: a delivery's targets are one prefix.
func targetKey(id, destination string) []byte {
	k := make([]byte, 0, len(id)+1+len(destination))
	k = append(k, id...)
	k = append(k, 0)
	return append(k, destination...)
}

// dueKey is route NUL destination NUL next id: each destination's pending
// targets are one prefix, in the order they fall due.
func dueKey(route, destination string, next time.Time, id string) []byte {
	k := make([]byte, 0, len(route)+len(destination)+2+8+len(id))
	k = append(k, route...)
	k = append(k, 0)
	k = append(k, destination...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, stamp(next))
	return append(k, id...)
}

// dueEntry is a parsed dueKey.
type dueEntry struct {
	route, destination string
	next               uint64
	id                 string
}

// parseDueKey splits a dueKey; prefixLen is the length of its route NUL
// destination NUL part.
func parseDueKey(k []byte) (e dueEntry, prefixLen int, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return e, 0, false
	}
	j := bytes.IndexByte(k[i+1:], 0)
	if j < 0 {
		return e, 0, false
	}
	prefixLen = i + 1 + j + 1
	if len(k) < prefixLen+8 {
		return e, 0, false
	}
	e.route = string(k[:i])
	e.destination = string(k[i+1 : i+1+j])
	e.next = binary.BigEndian.Uint64(k[prefixLen:])
	e.id = string(k[prefixLen+8:])
	return e, prefixLen, true
}

// doneKey is route NUL finished id: each route's finished deliveries are
// one prefix, in the order they finished.
func doneKey(route string, finished time.Time, id string) []byte {
	k := make([]byte, 0, len(route)+1+8+len(id))
	k = append(k, route...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, stamp(finished))
	return append(k, id...)
}

// seqKey is a Seq, big-endian: the seq index walks in commit order.
func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// destSeqKey is destination NUL seq: each destination's deliveries are one
// prefix, in commit order, so Since is a seek and a walk.
func destSeqKey(destination string, seq uint64) []byte {
	k := make([]byte, 0, len(destination)+1+8)
	k = append(k, destination...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// countKey is route NUL destination NUL state.
func countKey(route, destination string, s State) []byte {
	k := make([]byte, 0, len(route)+len(destination)+2+len(s))
	k = append(k, route...)
	k = append(k, 0)
	k = append(k, destination...)
	k = append(k, 0)
	return append(k, s...)
}

func parseCountKey(k []byte) (Key, bool) {
	parts := bytes.SplitN(k, []byte{0}, 3)
	if len(parts) != 3 {
		return Key{}, false
	}
	return Key{Route: string(parts[0]), Destination: string(parts[1]), State: State(parts[2])}, true
}

// pastPrefix is the smallest key above every key starting with prefix,
// whose last byte is the NUL that ends a name: Seek to it to skip the
// prefix.
func pastPrefix(prefix []byte) []byte {
	p := bytes.Clone(prefix)
	p[len(p)-1] = 1
	return p
}

// parseDoneKey splits a doneKey; prefixLen is the length of its route NUL
// part.
func parseDoneKey(k []byte) (route string, finished uint64, id string, prefixLen int, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) < i+1+8 {
		return "", 0, "", 0, false
	}
	return string(k[:i]), binary.BigEndian.Uint64(k[i+1:]), string(k[i+1+8:]), i + 1, true
}
