package webhookverify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/webhookverify/caddy-webhook-verify/redisstore"
)

// RedisStorage puts every dedupe zone, rate_limit zone and the journal of
// durable deliveries in Redis, so several Caddy instances behind one load
// balancer share them (a directive can still say `store memory` to stay
// local). A single node, Sentinel or Cluster works (go-redis'
// UniversalClient).
//
// For "nothing acknowledged is lost", Redis itself must persist what it
// acknowledges: appendonly yes with appendfsync always (everysec risks
// about two seconds of acknowledged deliveries on a power loss), and
// maxmemory-policy noeviction (an evicting Redis silently drops journal
// keys).
type RedisStorage struct {
	// Addrs are redis:// or rediss:// URLs or host:port addresses: one for
	// a single node, several for a Cluster's seed nodes.
	Addrs []string `json:"addrs"`
	// Username and Password (use placeholders such as {env.REDIS_PASSWORD}:
	// they are resolved at load; the password never appears in logs or
	// errors).
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// MasterName makes Addrs the Sentinels of this master.
	MasterName string `json:"master_name,omitempty"`
	// Prefix starts every key; default `wv:`. Instances that share state
	// use the same one.
	Prefix string `json:"prefix,omitempty"`
	// OnError is what dedupe and rate limits do when Redis fails: `open`
	// (default) lets the delivery through, with a WARN line and the
	// `store_bypassed` metric result; `closed` answers 503 with
	// Retry-After. Durable routes always answer 503: an acknowledgement is
	// never given for a delivery that is not stored.
	OnError string `json:"on_error,omitempty"`
}

// redisClients holds the clients by their configuration, so a reload
// keeps the connections.
var redisClients = caddy.NewUsagePool()

type redisZone struct{ *redisstore.Client }

func (z redisZone) Destruct() error { return z.Close() }

// redisLogger sends go-redis' own log lines (dial errors, retries) to
// Caddy's log at DEBUG instead of stderr: failures reach the log at WARN
// through the stores' errors, with their context.
type redisLogger struct{}

func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	caddy.Log().Named("webhook.redis").Debug(fmt.Sprintf(format, v...))
}

func init() {
	redis.SetLogger(redisLogger{})
}

// provisionRedis makes (or shares) the Redis client.
func (a *App) provisionRedis() error {
	rs := a.Storage.Redis
	repl := caddy.NewReplacer()
	o := redisstore.Options{Prefix: rs.Prefix, MasterName: rs.MasterName}
	for _, addr := range rs.Addrs {
		v, err := repl.ReplaceOrErr(addr, true, true)
		if err != nil {
			return fmt.Errorf("webhook: storage redis: an address is empty or names an unknown placeholder")
		}
		o.Addrs = append(o.Addrs, v)
	}
	var err error
	if o.Username, err = repl.ReplaceOrErr(rs.Username, true, false); err != nil {
		return fmt.Errorf("webhook: storage redis: username names an unknown placeholder")
	}
	if o.Password, err = repl.ReplaceOrErr(rs.Password, true, false); err != nil {
		return fmt.Errorf("webhook: storage redis: password names an unknown placeholder")
	}
	switch rs.OnError {
	case "", "open", "closed":
	default:
		return fmt.Errorf("webhook: storage redis: on_error %q (want open or closed)", rs.OnError)
	}
	a.failOpen = rs.OnError != "closed"
	sum := sha256.Sum256([]byte(strings.Join(append(o.Addrs, o.Username, o.Password, o.Prefix, o.MasterName), "\x00")))
	key := "redis:" + hex.EncodeToString(sum[:])
	val, _, err := redisClients.LoadOrNew(key, func() (caddy.Destructor, error) {
		c, err := redisstore.New(o)
		if err != nil {
			return nil, err
		}
		return redisZone{c}, nil
	})
	if err != nil {
		return fmt.Errorf("webhook: storage redis: %w", err)
	}
	a.redis, a.redisKey = val.(redisZone).Client, key
	a.logger.Info("shared state in Redis", zap.String("redis", a.redis.String()), zap.Bool("fail_open", a.failOpen))
	return nil
}

func (a *App) cleanupRedis() error {
	if a.redisKey == "" {
		return nil
	}
	_, err := redisClients.Delete(a.redisKey)
	a.redisKey, a.redis = "", nil
	return err
}

// unmarshalRedisStorage parses the rest of
//
//	storage redis <url...> {
//		username    <u>
//		password    <p>
//		master_name <name>
//		prefix      <p>
//		on_error    open|closed
//	}
func unmarshalRedisStorage(d *caddyfile.Dispenser) (*Storage, error) {
	rs := &RedisStorage{Addrs: d.RemainingArgs()}
	if len(rs.Addrs) == 0 {
		return nil, d.Err("webhook: storage redis: want at least one address")
	}
	err := eachSubdirective(d, "webhook: storage redis: ", nil, func(sub string) error {
		var arg string
		if !d.AllArgs(&arg) {
			return d.ArgErr()
		}
		switch sub {
		case "username":
			rs.Username = arg
		case "password":
			rs.Password = arg
		case "master_name":
			rs.MasterName = arg
		case "prefix":
			rs.Prefix = arg
		case "on_error":
			if arg != "open" && arg != "closed" {
				return d.Errf("webhook: storage redis: on_error: want open or closed, got %q", arg)
			}
			rs.OnError = arg
		default:
			return d.Errf("webhook: storage redis: unrecognized subdirective '%s'", sub)
		}
		return nil
	})
	return &Storage{Redis: rs}, err
}
