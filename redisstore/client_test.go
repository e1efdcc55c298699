package redisstore

import (
	"strings"
	"testing"

	"github.com/webhookverify/caddy-webhook-verify/internal/redistest"
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
