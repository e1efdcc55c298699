package verify

import (
	"fmt"
	"net/textproto"
	"strings"
)

// template is the list of request parts a scheme signs, in order.
type template []segment

type segment struct {
	kind segmentKind
	text []byte // literal bytes, or the canonical header name for segHeader
}

type segmentKind uint8

const (
	segLiteral segmentKind = iota
	segBody
	segTimestamp
	segID
	segMethod
	segURL
	segHeader
)

// parseTemplate compiles a signed-bytes template such as
// "v0:{timestamp}:{body}". The placeholders are {body}, {timestamp}, {id},
// {method}, {url} and {header.<Field>}; everything else is literal text.
func parseTemplate(s string) (template, error) {
	var t template
	for s != "" {
		open := strings.IndexByte(s, '{')
		if open < 0 {
			t = append(t, segment{kind: segLiteral, text: []byte(s)})
			break
		}
		if open > 0 {
			t = append(t, segment{kind: segLiteral, text: []byte(s[:open])})
		}
		end := strings.IndexByte(s[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unclosed placeholder in %q", s)
		}
		name := s[open+1 : open+end]
		s = s[open+end+1:]
		switch {
		case name == "body":
			t = append(t, segment{kind: segBody})
		case name == "timestamp":
			t = append(t, segment{kind: segTimestamp})
		case name == "id":
			t = append(t, segment{kind: segID})
		case name == "method":
			t = append(t, segment{kind: segMethod})
		case name == "url":
			t = append(t, segment{kind: segURL})
		case strings.HasPrefix(name, "header.") && len(name) > len("header."):
			field := textproto.CanonicalMIMEHeaderKey(name[len("header."):])
			t = append(t, segment{kind: segHeader, text: []byte(field)})
		default:
			return nil, fmt.Errorf("unknown placeholder {%s} (want {body}, {timestamp}, {id}, {method}, {url} or {header.<field>})", name)
		}
	}
	if len(t) == 0 {
		return nil, fmt.Errorf("empty template")
	}
	return t, nil
}

func (t template) has(kind segmentKind) bool {
	for _, s := range t {
		if s.kind == kind {
			return true
		}
	}
	return false
}

// hasHeader reports whether the template signs the header name (canonical).
func (t template) hasHeader(name string) bool {
	for _, s := range t {
		if s.kind == segHeader && string(s.text) == name {
			return true
		}
	}
	return false
}
