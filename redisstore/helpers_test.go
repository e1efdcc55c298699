package redisstore

import (
	"context"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webhookverify/caddy-webhook-verify/internal/redistest"
)

var bg = context.Background()

// quiet drops go-redis's own log lines (a dial refused while a test has
// Redis down); the tests check the errors the methods return.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	os.Exit(m.Run())
}

// silentServer accepts connections and never answers: a Redis that hangs
// (or a network that drops the replies). It closes them when t ends.
func silentServer(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

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
