package events

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRejectedLogBounds(t *testing.T) {
	l := NewRejectedLog(RejectedOptions{PerRoute: 3})
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		l.Add(Rejected{Route: "a", Reason: fmt.Sprint("r", i), Time: at.Add(time.Duration(i) * time.Second)})
		l.Add(Rejected{Route: "b", Reason: fmt.Sprint("r", i), Time: at.Add(time.Duration(i)*time.Second + time.Millisecond)})
	}
	a := l.List("a", 0)
	if len(a) != 3 || a[0].Reason != "r4" || a[2].Reason != "r2" {
		t.Errorf("route a keeps %v", a)
	}
	all := l.List("", 4)
	if len(all) != 4 || all[0].Route != "b" || all[0].Reason != "r4" || all[1].Route != "a" {
		t.Errorf("all, newest first: %+v", all)
	}
	if !strings.HasPrefix(a[0].ID, "rej_") || len(a[0].ID) != 30 {
		t.Errorf("id %q", a[0].ID)
	}

	// bytes: each entry has a 10 KB header; 25 KB keeps two
	small := NewRejectedLog(RejectedOptions{MaxBytes: 25 << 10})
	for i := 0; i < 5; i++ {
		small.Add(Rejected{Route: "a", Reason: fmt.Sprint("r", i), Header: http.Header{"X-Big": {strings.Repeat("x", 10<<10)}}})
	}
	if got := small.List("a", 0); len(got) != 2 || got[0].Reason != "r4" {
		t.Errorf("byte bound kept %d", len(got))
	}
	// one entry over the bound alone stays (the newest is always kept)
	small.Add(Rejected{Route: "a", Reason: "huge", Header: http.Header{"X-Big": {strings.Repeat("x", 40<<10)}}})
	if got := small.List("a", 0); len(got) != 1 || got[0].Reason != "huge" {
		t.Errorf("after a huge one: %d", len(got))
	}
}

func TestRejectedLogBodies(t *testing.T) {
	h := http.Header{"Stripe-Signature": {"t=1,v1=ab"}, "Content-Type": {"application/json"}}
	off := NewRejectedLog(RejectedOptions{})
	r := off.Add(Rejected{Route: "s", Header: h, Body: []byte("{}")})
	if r.BodyKept || r.Size != 2 {
		t.Errorf("bodies off: kept %v, size %d", r.BodyKept, r.Size)
	}
	got, ok := off.Get(r.ID)
	if !ok || got.Header.Get("Stripe-Signature") != "[redacted]" || got.Body != nil {
		t.Errorf("bodies off: Get %+v", got)
	}
	on := NewRejectedLog(RejectedOptions{KeepBodies: true, MaxBytes: 4096, Redact: []string{"Content-Type"}})
	r = on.Add(Rejected{Route: "s", Header: h, Body: []byte("{}")})
	got, _ = on.Get(r.ID)
	if !got.BodyKept || string(got.Body) != "{}" || got.Header.Get("Stripe-Signature") != "t=1,v1=ab" {
		t.Errorf("bodies on: Get %+v", got)
	}
	listed := on.List("s", 0)[0]
	if listed.Body != nil || listed.Header.Get("Stripe-Signature") != "[redacted]" || listed.Header.Get("Content-Type") != "[redacted]" {
		t.Errorf("bodies on: List %+v", listed)
	}
	big := on.Add(Rejected{Route: "s", Body: make([]byte, 8192)})
	if big.BodyKept || big.Size != 8192 {
		t.Errorf("a body over the bound: kept %v size %d", big.BodyKept, big.Size)
	}
	if _, ok := on.Get("rej_nope"); ok {
		t.Error("Get of an unknown id")
	}
}
