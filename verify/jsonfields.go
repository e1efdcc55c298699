package verify

import (
	"bytes"
	"encoding/json"
)

// jsonFields returns the values of up to two top-level string fields of a
// JSON object body (Stripe's event "id" and "type", say); a number is
// returned as its literal text (Linear's millisecond "webhookTimestamp").
// A field that is missing or of another kind gives "". It scans instead of decoding, skips
// nested values without building them and stops once both are found, so a
// large payload with the id up front costs next to nothing.
func jsonFields(body []byte, nameA, nameB string) (a, b string) {
	s := jsonScanner{buf: body}
	if !s.expect('{') {
		return
	}
	if s.peek() == '}' {
		return
	}
	for {
		key, ok := s.string()
		if !ok || !s.expect(':') {
			return
		}
		s.space()
		wantA := nameA != "" && a == "" && key == nameA
		wantB := nameB != "" && b == "" && key == nameB
		if c := s.peek(); (wantA || wantB) && (c == '"' || c == '-' || ('0' <= c && c <= '9')) {
			var val string
			if c == '"' {
				if val, ok = s.string(); !ok {
					return
				}
			} else {
				start := s.pos
				if !s.skipValue() {
					return
				}
				val = string(s.buf[start:s.pos])
			}
			if wantA {
				a = val
			}
			if wantB {
				b = val
			}
		} else if !s.skipValue() {
			return
		}
		if (nameA == "" || a != "") && (nameB == "" || b != "") {
			return
		}
		if !s.expect(',') {
			return
		}
	}
}

type jsonScanner struct {
	buf []byte
	pos int
}

func (s *jsonScanner) space() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *jsonScanner) peek() byte {
	s.space()
	if s.pos < len(s.buf) {
		return s.buf[s.pos]
	}
	return 0
}

func (s *jsonScanner) expect(c byte) bool {
	if s.peek() != c {
		return false
	}
	s.pos++
	return true
}

// stringEnd returns the index just past the closing quote of the string
// starting at s.pos, and whether it holds escapes.
func (s *jsonScanner) stringEnd() (int, bool, bool) {
	escaped := false
	for i := s.pos + 1; i < len(s.buf); i++ {
		switch s.buf[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return i + 1, escaped, true
		}
	}
	return 0, false, false
}

func (s *jsonScanner) string() (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	end, escaped, ok := s.stringEnd()
	if !ok {
		return "", false
	}
	raw := s.buf[s.pos:end]
	s.pos = end
	if !escaped {
		return string(raw[1 : len(raw)-1]), true
	}
	var out string
	if json.Unmarshal(raw, &out) != nil {
		return "", false
	}
	return out, true
}

// skipValue moves past one value of any kind.
func (s *jsonScanner) skipValue() bool {
	switch s.peek() {
	case 0:
		return false
	case '"':
		end, _, ok := s.stringEnd()
		s.pos = end
		return ok
	case '{', '[':
		depth := 0
		for s.pos < len(s.buf) {
			switch s.buf[s.pos] {
			case '"':
				end, _, ok := s.stringEnd()
				if !ok {
					return false
				}
				s.pos = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.pos++
					return true
				}
			}
			s.pos++
		}
		return false
	default:
		// a number, true, false or null: runs until a delimiter
		n := bytes.IndexAny(s.buf[s.pos:], ",}] \t\r\n")
		if n <= 0 {
			return false
		}
		s.pos += n
		return true
	}
}
