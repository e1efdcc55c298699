package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/internal/redistest"
)

var bg = context.Background()

// newClient connects to srv as one instance would, with now as its clock
// (nil: the wall clock), and closes the client when t ends.
func newClient(t testing.TB, srv *redistest.Server, now func() time.Time) *Client {
	t.Helper()
	c, err := New(Options{Addrs: []string{srv.Addr}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// within fails t if fn has not returned after a generous bound: what a
// hang would look like, told apart from a slow machine. It is not a
// timing assertion; fn's error is returned.
func within(t testing.TB, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	timer := time.NewTimer(time.Minute)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		t.Fatalf("%s hung", what)
		return nil
	}
}
