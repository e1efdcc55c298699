package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Options configure a Client.
type Options struct {
	// Addrs is where Redis is: one address (a single node), several (the
	// seed nodes of a Cluster), or the Sentinels' addresses with
	// MasterName. Each is host:port or a redis:// or rediss:// URL
	// (redis://user:password@host:port/db); rediss:// means TLS. A single
	// URL with addr= query parameters names a Cluster's seed nodes
	// (redis://host:port?addr=host2:port2). Other query parameters are
	// refused: timeouts come from Timeout.
	Addrs []string
	// Username and Password, when set, win over those in the URLs.
	Username string
	Password string
	// MasterName, with Sentinel addresses in Addrs, is the master to ask
	// the Sentinels for.
	MasterName string
	// SentinelUsername and SentinelPassword are for Sentinels that want
	// their own (the master's are Username and Password).
	SentinelUsername string
	SentinelPassword string
	// TLS, when set, is used for every connection (rediss:// sets a
	// default one).
	TLS *tls.Config
	// Prefix starts every key; default DefaultPrefix. Instances that
	// share dedupe, rate limits and the queue use the same prefix.
	Prefix string
	// Timeout bounds every operation (each round trip of one) when the
	// caller's context allows longer; default DefaultTimeout. An
	// unreachable Redis costs at most this, never a hang.
	Timeout time.Duration
	// Now is the clock for leases, expiries, rate-limit arrivals and the
	// journal's due times; default time.Now. Instances sharing a Redis
	// compare their clocks through it: keep them in sync (NTP).
	Now func() time.Time
	// Sleep waits d or until ctx is done, for a rate-limit wait; default
	// a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// PoolSize is the connections kept per Redis node; default go-redis's
	// (ten per CPU).
	PoolSize int
}

// Defaults for Options.
const (
	DefaultPrefix  = "wv:"
	DefaultTimeout = 3 * time.Second
)

// Client is one connection pool to Redis, shared by the dedupe stores,
// limiters and journal made from it. It reconnects by itself when Redis
// comes back.
type Client struct {
	rdb     redis.UniversalClient
	prefix  string
	timeout time.Duration
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
	desc    string
}

// New makes a Client. It does not connect yet (Ping does): a Redis that
// is down when Caddy starts is an error per operation, not at start.
// Errors never contain the password.
func New(o Options) (*Client, error) {
	if len(o.Addrs) == 0 {
		return nil, errors.New("redis: no address")
	}
	if o.Timeout < 0 || o.PoolSize < 0 {
		return nil, errors.New("redis: timeout and pool size must not be negative")
	}
	u, err := universalOptions(o)
	if err != nil {
		return nil, errors.New(redact(err.Error(), u, o.Password, o.SentinelPassword))
	}
	c := &Client{
		rdb:     redis.NewUniversalClient(u),
		prefix:  o.Prefix,
		timeout: o.Timeout,
		now:     o.Now,
		sleep:   o.Sleep,
	}
	if c.prefix == "" {
		c.prefix = DefaultPrefix
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleep
	}
	c.desc = describe(u, o.MasterName, c.prefix)
	return c, nil
}

// universalOptions turns Options into go-redis's, with timeouts that make
// an unreachable Redis an error within Timeout.
func universalOptions(o Options) (*redis.UniversalOptions, error) {
	u := &redis.UniversalOptions{MasterName: o.MasterName}
	switch {
	case len(o.Addrs) == 1 && strings.Contains(o.Addrs[0], "addr="):
		co, err := parseClusterURL(o.Addrs[0])
		if err != nil {
			return u, err
		}
		u.Addrs, u.Username, u.Password, u.TLSConfig = co.Addrs, co.Username, co.Password, co.TLSConfig
		u.IsClusterMode = true
	default:
		for i, a := range o.Addrs {
			if !strings.Contains(a, "://") {
				if a == "" {
					return u, fmt.Errorf("redis: address %d is empty", i+1)
				}
				u.Addrs = append(u.Addrs, a)
				continue
			}
			so, err := parseURL(a)
			if err != nil {
				return u, fmt.Errorf("redis: address %d: %w", i+1, err)
			}
			if i > 0 && (so.TLSConfig != nil) != (u.TLSConfig != nil) {
				return u, errors.New("redis: the addresses mix redis:// and rediss://")
			}
			u.Addrs = append(u.Addrs, so.Addr)
			u.Username = cmpOr(u.Username, so.Username)
			u.Password = cmpOr(u.Password, so.Password)
			u.DB = max(u.DB, so.DB)
			if so.TLSConfig != nil {
				u.TLSConfig = so.TLSConfig
			}
		}
	}
	if (len(u.Addrs) > 1 || u.IsClusterMode) && o.MasterName == "" && u.DB != 0 {
		return u, errors.New("redis: a Cluster has only database 0")
	}
	u.Username = cmpOr(o.Username, u.Username)
	u.Password = cmpOr(o.Password, u.Password)
	u.SentinelUsername, u.SentinelPassword = o.SentinelUsername, o.SentinelPassword
	if o.TLS != nil {
		u.TLSConfig = o.TLS
	}
	t := cmpOr(o.Timeout, DefaultTimeout)
	u.DialTimeout = min(2*time.Second, t)
	u.ReadTimeout = t
	u.WriteTimeout = t
	u.PoolTimeout = t
	u.ContextTimeoutEnabled = true
	// One retry (on a connection Redis closed, say); a dial that fails
	// twice is an error now, not after go-redis's default five tries.
	u.MaxRetries = 1
	u.DialerRetries = 2
	u.DialerRetryTimeout = 50 * time.Millisecond
	u.PoolSize = o.PoolSize
	u.ClientName = "caddy-webhook-verify"
	// Redis Enterprise's maintenance notices: other servers answer the
	// handshake with an error; not asking keeps logs quiet.
	u.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return u, nil
}

func cmpOr[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

// parseURL is redis.ParseURL without the URL (and its password) in its
// errors.
func parseURL(s string) (*redis.Options, error) {
	if err := checkURL(s, false); err != nil {
		return nil, err
	}
	o, err := redis.ParseURL(s)
	return o, unprefixed(err)
}

func parseClusterURL(s string) (*redis.ClusterOptions, error) {
	if err := checkURL(s, true); err != nil {
		return nil, err
	}
	o, err := redis.ParseClusterURL(s)
	return o, unprefixed(err)
}

// unprefixed drops go-redis's "redis: " from an error we prefix ourselves.
func unprefixed(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(strings.TrimPrefix(err.Error(), "redis: "))
}

// checkURL refuses what url.Parse refuses, with the reason only (a
// *url.Error quotes the whole URL), other schemes, and query parameters
// but addr= (with cluster).
func checkURL(s string, cluster bool) error {
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("invalid URL: %v", ue.Err)
		}
		return errors.New("invalid URL")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return fmt.Errorf("invalid URL scheme %q: want redis:// or rediss://", u.Scheme)
	}
	for name := range u.Query() {
		if name != "addr" || !cluster {
			return fmt.Errorf("unsupported URL parameter %q", name)
		}
	}
	return nil
}

// redact removes passwords from a message, should any library quote one.
func redact(msg string, u *redis.UniversalOptions, passwords ...string) string {
	for _, p := range append(passwords, u.Password, u.SentinelPassword) {
		if p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return msg
}

func describe(u *redis.UniversalOptions, master, prefix string) string {
	var b strings.Builder
	b.WriteString("redis")
	if u.TLSConfig != nil {
		b.WriteString("+tls")
	}
	switch {
	case master != "":
		fmt.Fprintf(&b, " sentinel %s master %s", strings.Join(u.Addrs, ","), master)
	case len(u.Addrs) > 1 || u.IsClusterMode:
		fmt.Fprintf(&b, " cluster %s", strings.Join(u.Addrs, ","))
	default:
		fmt.Fprintf(&b, " %s db %d", strings.Join(u.Addrs, ","), u.DB)
	}
	if u.Username != "" {
		fmt.Fprintf(&b, " user %s", u.Username)
	}
	fmt.Fprintf(&b, " prefix %q", prefix)
	return b.String()
}

// String says where the client goes, without the password.
func (c *Client) String() string { return c.desc }

// Prefix is the key prefix.
func (c *Client) Prefix() string { return c.prefix }

// Redis is the go-redis client underneath, for hooks (metrics, tracing)
// and for tests.
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// Ping checks that Redis answers.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	return c.rdb.Ping(ctx).Err()
}

// Close closes the pool. Stores made from the client fail afterwards.
func (c *Client) Close() error { return c.rdb.Close() }

// bound is ctx with the client's timeout, unless ctx ends sooner.
func (c *Client) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= c.timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// script is a Lua script run with EVALSHA, falling back to EVAL (which
// loads it) when Redis does not know it: after a restart, on a new node.
type script struct{ *redis.Script }

func newScript(src string) script { return script{redis.NewScript(src)} }

// run runs the script once: one round trip, two the first time a node
// sees it.
func (s script) run(ctx context.Context, c redis.Scripter, keys []string, args ...any) *redis.Cmd {
	return s.Run(ctx, c, keys, args...)
}

// scriptCall is one script run in a pipeline.
type scriptCall struct {
	s    script
	keys []string
	args []any
}

// runPipelined runs scripts (and, with extra, plain commands after them)
// in one pipeline: one round trip per node. Scripts a node did not know
// run again with EVAL.
func (c *Client) runPipelined(ctx context.Context, extra func(context.Context, redis.Pipeliner), calls ...scriptCall) []*redis.Cmd {
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(calls))
	for i, call := range calls {
		cmds[i] = call.s.EvalSha(ctx, pipe, call.keys, call.args...)
	}
	if extra != nil {
		extra(ctx, pipe)
	}
	pipe.Exec(ctx) // errors are in the commands
	for i, call := range calls {
		if redis.HasErrorPrefix(cmds[i].Err(), "NOSCRIPT") {
			cmds[i] = call.s.Eval(ctx, c.rdb, call.keys, call.args...)
		}
	}
	return cmds
}
