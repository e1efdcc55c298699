package webhookverify

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
	"go.uber.org/zap"

	"github.com/webhookverify/caddy-webhook-verify/dispatch"
	"github.com/webhookverify/caddy-webhook-verify/events"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// Storage says where the webhook app keeps what must survive a restart
// or be shared: the journal of durable deliveries (and, with Redis, the
// dedupe zones and rate limits).
type Storage struct {
	// Bolt is the embedded journal, a file on local disk (the default).
	Bolt *BoltStorage `json:"bolt,omitempty"`
	// Redis holds the journal, the dedupe zones and the rate limits of
	// several instances.
	Redis *RedisStorage `json:"redis,omitempty"`
}

// BoltStorage is a bbolt file.
type BoltStorage struct {
	// Path is the file; default <Caddy data dir>/webhook/deliveries.db.
	// Its directory is created (0700) when missing.
	Path string `json:"path,omitempty"`
	// MaxSize bounds the file, in bytes; beyond it the journal refuses
	// writes as a full disk would, and durable routes answer 503. Default
	// no bound.
	MaxSize int64 `json:"max_size,omitempty"`
}

// queue is the webhook app's durable delivery: the routes with deliver,
// the journal and the dispatcher that works it.
type queue struct {
	mu       sync.Mutex
	routes   map[string]dispatch.Route
	store    journal.Store
	storeKey string
	openErr  error     // why the journal could not be opened, last time
	lastOpen time.Time // when that was tried
	started  bool
	disp     atomic.Pointer[dispatch.Dispatcher]
}

// stores holds the journals by path, so a reload (which provisions the
// new config before it stops the old one) shares the open file instead of
// waiting forever for bbolt's lock.
var stores = caddy.NewUsagePool()

type storeZone struct{ journal.Store }

func (z storeZone) Destruct() error { return z.Close() }

// journalPath is where the bolt journal lives.
func (a *App) journalPath() string {
	if a.Storage != nil && a.Storage.Bolt != nil && a.Storage.Bolt.Path != "" {
		return caddy.NewReplacer().ReplaceAll(a.Storage.Bolt.Path, "")
	}
	return filepath.Join(caddy.AppDataDir(), "webhook", "deliveries.db")
}

// addRoute registers a durable route and opens the journal with the
// first. Handlers call it while they provision, before anything starts. A
// journal that cannot be opened (a read-only or missing directory) does
// not fail the config: durable routes answer 503, so providers retry,
// until it can be.
func (a *App) addRoute(r dispatch.Route) error {
	a.q.mu.Lock()
	defer a.q.mu.Unlock()
	if _, dup := a.q.routes[r.Name]; dup {
		return fmt.Errorf("route %s: two durable routes with one name; give each a distinct `name`", r.Name)
	}
	if a.q.routes == nil {
		a.q.routes = map[string]dispatch.Route{}
	}
	a.q.routes[r.Name] = r
	if a.q.store == nil && a.q.lastOpen.IsZero() {
		a.openJournalLocked()
	}
	return nil
}

// openJournalLocked opens (or shares) the journal, and logs why not.
func (a *App) openJournalLocked() error {
	path := a.journalPath()
	key := "bolt:" + path
	if a.redis != nil {
		path, key = a.redis.String(), "redis:"+a.redisKey
	}
	a.q.lastOpen = time.Now()
	val, _, err := stores.LoadOrNew(key, func() (caddy.Destructor, error) {
		if a.redis != nil {
			return storeZone{a.redis.Journal()}, nil
		}
		o := journal.Options{}
		if a.Storage != nil && a.Storage.Bolt != nil {
			o.MaxSize = int(a.Storage.Bolt.MaxSize)
		}
		s, err := journal.OpenBolt(path, o)
		if err != nil {
			return nil, err
		}
		return storeZone{s}, nil
	})
	if err != nil {
		a.q.openErr = err
		a.logger.Error("the journal cannot be opened: durable routes answer 503 until it can", zap.String("path", path), zap.Error(err))
		return err
	}
	a.q.store, a.q.storeKey, a.q.openErr = val.(storeZone).Store, key, nil
	a.logger.Info("journal open", zap.String("path", path))
	return nil
}

// journalRetry bounds how often a journal that failed to open is tried
// again.
const journalRetry = time.Second

// dispatcher is the dispatcher, made once every durable route is known
// and the journal is open: at Start, or at the first delivery if a server
// takes requests before this app starts (Caddy starts apps in no set
// order), or once a journal that failed to open can be opened.
func (a *App) dispatcher() (*dispatch.Dispatcher, error) {
	if d := a.q.disp.Load(); d != nil {
		return d, nil
	}
	a.q.mu.Lock()
	defer a.q.mu.Unlock()
	if d := a.q.disp.Load(); d != nil {
		return d, nil
	}
	if a.q.store == nil {
		if time.Since(a.q.lastOpen) < journalRetry {
			return nil, fmt.Errorf("journal unavailable: %w", a.q.openErr)
		}
		if err := a.openJournalLocked(); err != nil {
			return nil, fmt.Errorf("journal unavailable: %w", err)
		}
	}
	o := dispatch.Options{Store: a.q.store, Routes: a.q.routes, Observer: &queueObserver{app: a}, Lease: a.leaseLocked()}
	if a.redis != nil {
		// other instances' deliveries (and a dead instance's) wake no one
		// here: look for them every second
		o.IdleWait = sharedIdleWait
	}
	d, err := dispatch.New(o)
	if err != nil {
		return nil, err
	}
	if a.q.started {
		d.Start()
	}
	a.q.disp.Store(d)
	return d, nil
}

// sharedIdleWait is how often a dispatcher on a shared store looks for
// work that another instance appended.
const sharedIdleWait = time.Second

// leaseMargin is how much longer than the longest attempt timeout a
// claimed task stays hidden from other dispatchers: long enough for an
// attempt to be recorded, short enough that another instance takes over
// a crashed one's tasks soon.
const leaseMargin = 10 * time.Second

// leaseLocked is the dispatcher's lease.
func (a *App) leaseLocked() time.Duration {
	return a.longestTimeoutLocked() + leaseMargin
}

// longestTimeoutLocked is the longest attempt timeout of any destination.
func (a *App) longestTimeoutLocked() time.Duration {
	longest := time.Duration(0)
	for _, r := range a.q.routes {
		for _, d := range r.Destinations {
			longest = max(longest, d.Timeout)
		}
	}
	return longest
}

// accept journals a delivery for its route's destinations, and wakes the
// subscribers of the streams among them.
func (a *App) accept(ctx context.Context, rec *journal.Delivery) (int, error) {
	d, err := a.dispatcher()
	if err != nil {
		return 0, err
	}
	n, err := d.Accept(ctx, rec)
	if err == nil {
		names := make([]string, len(rec.Targets))
		for i, t := range rec.Targets {
			names[i] = t.Destination
		}
		a.publishStreams(names)
	}
	return n, err
}

// journal is the open journal, or nil.
func (a *App) journal() journal.Store {
	a.q.mu.Lock()
	defer a.q.mu.Unlock()
	if a.q.store == nil && a.Storage != nil && a.Storage.Redis != nil {
		a.openJournalLocked()
	}
	return a.q.store
}

// startQueue starts delivering, when any route is durable.
func (a *App) startQueue() error {
	if a.q == nil {
		return nil
	}
	a.q.mu.Lock()
	a.q.started = true
	durable := len(a.q.routes) > 0
	a.q.mu.Unlock()
	if !durable {
		return nil
	}
	if d, err := a.dispatcher(); err == nil {
		d.Start()
	}
	return nil
}

// stopQueue stops delivering, waiting for attempts in flight up to the
// grace period; what did not finish stays pending (leased) in the journal
// and is tried again after the lease, by the next config or the next start.
func (a *App) stopQueue() error {
	if a.q == nil {
		return nil
	}
	a.q.mu.Lock()
	a.q.started = false // a request the old server still takes starts nothing
	a.q.mu.Unlock()
	if a.q.disp.Load() == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.stopGrace())
	defer cancel()
	if err := a.q.disp.Load().Stop(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// stopGrace is how long Stop waits for attempts in flight: the http app's
// grace period when it has one, else the longest attempt timeout.
func (a *App) stopGrace() time.Duration {
	if v, err := a.ctx.AppIfConfigured("http"); err == nil {
		if httpApp, ok := v.(*caddyhttp.App); ok && httpApp.GracePeriod > 0 {
			return time.Duration(httpApp.GracePeriod)
		}
	}
	a.q.mu.Lock()
	defer a.q.mu.Unlock()
	return max(time.Second, a.longestTimeoutLocked())
}

// cleanupQueue lets go of the journal; the pool closes it when the last
// config using it is gone.
func (a *App) cleanupQueue() error {
	if a.q == nil {
		return nil
	}
	a.q.mu.Lock()
	defer a.q.mu.Unlock()
	if a.q.storeKey == "" {
		return nil
	}
	_, err := stores.Delete(a.q.storeKey)
	a.q.storeKey, a.q.store = "", nil
	return err
}

// queueObserver turns what the dispatcher does into metrics and log lines:
// an attempt that failed, with its next attempt time (INFO); a delivery
// gone dead (WARN); delivered after retries (INFO), or at once (DEBUG).
type queueObserver struct{ app *App }

func (o *queueObserver) Attempted(info dispatch.AttemptInfo) {
	o.app.hub.Publish(events.FromAttempt(info))
	m := &webhookMetrics
	m.deliverAttempts.WithLabelValues(info.Route, info.Destination, statusClass(info.Status)).Inc()
	fields := []zap.Field{
		zap.String("route", info.Route), zap.String("provider", info.Provider), zap.String("destination", info.Destination),
		zap.String("id", info.ID), zap.String("event", truncate(info.Event)), zap.Int("attempt", info.Attempt),
		zap.Int("status", info.Status), zap.Duration("duration", info.Duration),
	}
	if info.Error != "" {
		fields = append(fields, zap.String("error", info.Error))
	}
	log := o.app.logger
	switch info.State {
	case journal.Delivered:
		if received, ok := journal.IDTime(info.ID); ok {
			m.deliverLatency.WithLabelValues(info.Route, info.Destination).Observe(time.Since(received).Seconds())
		}
		if info.Attempt > 1 {
			log.Info("delivered after retries", fields...)
		} else {
			log.Debug("delivered", fields...)
		}
	case journal.Dead:
		m.deliverDead.WithLabelValues(info.Route, info.Destination).Inc()
		log.Warn("delivery dead: no attempt left (replay it from the admin API)", fields...)
	default:
		log.Info("delivery attempt failed", append(fields, zap.Time("next_attempt", info.Next))...)
	}
}

func (o *queueObserver) Replayed(info dispatch.ReplayInfo) {
	o.app.hub.Publish(events.FromReplay(info))
	o.app.logger.Info("deliveries replayed", zap.String("id", info.ID), zap.String("route", info.Route),
		zap.String("state", string(info.State)), zap.String("destination", info.Destination), zap.Int("targets", info.Targets))
}

func (o *queueObserver) NotifyFailed(info dispatch.AttemptInfo, err error) {
	o.app.logger.Warn("notify about a dead delivery failed", zap.String("route", info.Route),
		zap.String("destination", info.Destination), zap.String("id", info.ID), zap.Error(err))
}

func (o *queueObserver) StoreFailed(op string, err error) {
	if errors.Is(err, journal.ErrStale) {
		o.app.logger.Warn("an attempt outlived its lease; the destination may see the delivery twice", zap.String("op", op))
		return
	}
	o.app.logger.Error("journal failed under the delivery workers", zap.String("op", op), zap.Error(err))
}

// statusClass is the outcome label of an attempt: 2xx..5xx, or error.
func statusClass(status int) string {
	if status >= 200 && status < 600 {
		return []string{"2xx", "3xx", "4xx", "5xx"}[status/100-2]
	}
	return "error"
}

// unmarshalStorage parses the rest of `storage <kind> ...`:
//
//	storage bolt [<path>] {
//		max_size <size>
//	}
func unmarshalStorage(d *caddyfile.Dispenser, kind string) (*Storage, error) {
	if kind == "redis" {
		return unmarshalRedisStorage(d)
	}
	if kind != "bolt" {
		return nil, d.Errf("webhook: storage: unknown kind %q (want bolt or redis)", kind)
	}
	s := &Storage{Bolt: &BoltStorage{}}
	if d.NextArg() {
		s.Bolt.Path = d.Val()
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	err := eachSubdirective(d, "webhook: storage: ", nil, func(sub string) error {
		var arg string
		if sub != "max_size" || !d.AllArgs(&arg) {
			return d.Errf("webhook: storage bolt: want max_size <size>, got %q", sub)
		}
		size, err := humanize.ParseBytes(arg)
		if err != nil || size < 1<<20 {
			return d.Errf("webhook: storage bolt: max_size: invalid size %q (at least 1MiB)", arg)
		}
		s.Bolt.MaxSize = int64(size)
		return nil
	})
	return s, err
}
