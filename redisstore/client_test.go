package redisstore

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/webhookverify/caddy-webhook-verify/internal/redistest"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

const secret = "s3cr3t-pw"

// Addresses and URLs become the right kind of client; bad ones are errors
// that name the trouble and never quote the password.
func TestOptions(t *testing.T) {
	cases := []struct {
		name    string
		o       Options
		want    string // in String(), or in the error
		wantErr bool
	}{
		{"host:port", Options{Addrs: []string{"10.0.0.5:6379"}}, `redis 10.0.0.5:6379 db 0 prefix "wv:"`, false},
		{"URL with db and user", Options{Addrs: []string{"redis://gw:" + secret + "@10.0.0.5:6380/2"}}, `redis 10.0.0.5:6380 db 2 user gw prefix "wv:"`, false},
		{"rediss", Options{Addrs: []string{"rediss://:" + secret + "@cache.example:6379"}, Prefix: "a:"}, `redis+tls cache.example:6379 db 0 prefix "a:"`, false},
		{"several: a Cluster", Options{Addrs: []string{"10.0.0.5:7000", "redis://10.0.0.6:7000"}}, "redis cluster 10.0.0.5:7000,10.0.0.6:7000", false},
		{"cluster URL", Options{Addrs: []string{"redis://:" + secret + "@10.0.0.5:7000?addr=10.0.0.6:7000"}}, "redis cluster 10.0.0.5:7000,10.0.0.6:7000", false},
		{"sentinel", Options{Addrs: []string{"10.0.0.5:26379", "10.0.0.6:26379"}, MasterName: "mymaster"}, "redis sentinel 10.0.0.5:26379,10.0.0.6:26379 master mymaster", false},
		{"options win over the URL", Options{Addrs: []string{"redis://u:" + secret + "@h:1"}, Username: "v"}, "user v", false},
		{"no address", Options{}, "no address", true},
		{"empty address", Options{Addrs: []string{""}}, "empty", true},
		{"bad scheme", Options{Addrs: []string{"http://u:" + secret + "@h:1"}}, `scheme "http"`, true},
		{"bad port", Options{Addrs: []string{"redis://u:" + secret + "@h:port/0"}}, "invalid URL", true},
		{"bad db", Options{Addrs: []string{"redis://u:" + secret + "@h:1/x"}}, "database", true},
		{"query parameter", Options{Addrs: []string{"redis://u:" + secret + "@h:1/0?dial_timeout=3"}}, `"dial_timeout"`, true},
		{"mixed schemes", Options{Addrs: []string{"redis://h:1", "rediss://h:2"}}, "mix", true},
		{"cluster with a db", Options{Addrs: []string{"redis://h:1/3", "redis://h:2/3"}}, "database 0", true},
		{"negative timeout", Options{Addrs: []string{"h:1"}, Timeout: -1}, "negative", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.o)
			var got string
			if err != nil {
				got = err.Error()
			} else {
				got = c.String()
				c.Close()
			}
			if (err != nil) != tc.wantErr || !strings.Contains(got, tc.want) {
				t.Errorf("got %q (error %v), want %q", got, err != nil, tc.want)
			}
			if strings.Contains(got, secret) {
				t.Errorf("%q shows the password", got)
			}
		})
	}
}

// A server that wants a password: the one in the URL gets in; a wrong
// one is an error that does not quote it.
func TestPassword(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Password: secret})
	good, err := New(Options{Addrs: []string{"redis://:" + secret + "@" + srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := good.Ping(bg); err != nil {
		t.Fatalf("with the password: %v", err)
	}
	for _, o := range []Options{
		{Addrs: []string{srv.Addr}},
		{Addrs: []string{srv.Addr}, Password: "wrong-" + secret},
	} {
		bad, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := bad.Dedupe("z")
		_, err = d.Claim(bg, "k", 0)
		if err == nil {
			t.Errorf("%s: claimed without the password", bad)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q shows the password", err)
		}
		bad.Close()
	}
}

// The ACL the package doc recommends is enough for every store: keys
// under the prefix, read, write, scripting and connection commands.
func TestRecommendedACL(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	admin := newClient(t, srv, nil)
	acl := strings.Fields("ACL SETUSER gateway on >" + secret + " ~wv:* -@all +@read +@write +@scripting +@connection")
	args := make([]any, len(acl))
	for i, a := range acl {
		args[i] = a
	}
	if err := admin.Redis().Do(bg, args...).Err(); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Addrs: []string{srv.Addr}, Username: "gateway", Password: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, _ := c.Dedupe("z")
	l, _ := c.Limiter("z", LimitOptions{Events: 10, Window: time.Second, MaxConcurrent: 2})
	a, err := Admit(bg, d, "k", time.Minute, l, "k", 0)
	if err != nil {
		t.Fatal(err)
	}
	must(t, a.Done(bg, true, 200, time.Hour))
	j := c.Journal()
	must(t, j.Append(bg, &journal.Delivery{Route: "r", Targets: []journal.Target{{Destination: "a"}}}))
	tasks, err := j.Claim(bg, time.Now(), 1, time.Minute, nil)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("claim: %v %v", tasks, err)
	}
	must(t, j.Record(bg, tasks[0], journal.Attempt{Status: 200}, journal.Outcome{State: journal.Dead}))
	if _, err := j.Replay(bg, tasks[0].Delivery.ID, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	must(t, j.SetPaused(bg, "a", true))
	for name, fn := range map[string]func() error{
		"List":  func() error { _, err := j.List(bg, journal.Filter{}); return err },
		"Stats": func() error { _, err := j.Stats(bg); return err },
		"Prune": func() error { _, err := j.Prune(bg, func(string) time.Time { return time.Now() }); return err },
		"Len": func() error {
			if d.Len() != 1 {
				return errors.New("no count")
			}
			return nil
		},
	} {
		if err := fn(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// and nothing outside the prefix
	if err := c.Redis().Set(bg, "other", "x", 0).Err(); err == nil {
		t.Error("the ACL lets the gateway write outside its prefix")
	}
}
