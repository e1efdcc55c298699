package webhookverify

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
	"go.uber.org/zap"

	"github.com/webhookverify/caddy-webhook-verify/budget"
	"github.com/webhookverify/caddy-webhook-verify/events"
	"github.com/webhookverify/caddy-webhook-verify/redisstore"
)

func init() {
	caddy.RegisterModule(App{})
	httpcaddyfile.RegisterGlobalOption("webhook", parseGlobalOption)
}

// App is the `webhook` app: what every webhook_verify route shares and
// what outlives a single request, such as the process-wide budget for
// request bodies. Handlers reach it through the config's context; with
// nothing configured it holds only defaults.
//
// In the Caddyfile it is the `webhook` global option:
//
//	{
//		webhook {
//			body_budget <size>
//			body_wait   <duration>
//			storage     bolt [<path>]
//			storage     redis <url...> { ... }
//		}
//	}
type App struct {
	// BodyBudget bounds the bytes of request bodies all webhook_verify
	// routes of this Caddy hold at once while they are received, verified
	// and handed on. A request that would go past it waits up to BodyWait
	// for room, then gets 503 with Retry-After (the provider retries). A
	// quarter of it is kept for bodies that announce at most 64 KiB, so a
	// flood of large uploads cannot crowd out ordinary deliveries. Default: 1/16
	// of the memory this process may use (Go's memory limit, which Caddy
	// sets from the container's cgroup limit, else the machine's memory),
	// at least 64 MiB and at most 1 GiB. Three quarters of it must hold
	// each route's max_body.
	BodyBudget int64 `json:"body_budget,omitempty"`

	// BodyWait is how long a request waits for room in the budget before
	// it is answered 503; default 2s.
	BodyWait caddy.Duration `json:"body_wait,omitempty"`

	// Storage is where durable deliveries are journaled; default a bbolt
	// file in Caddy's data directory. It is opened only when a route has
	// `deliver`.
	Storage *Storage `json:"storage,omitempty"`

	budget     *budget.Budget
	budgetZone string
	ctx        caddy.Context
	logger     *zap.Logger

	q *queue // durable delivery

	// shared state in Redis (storage redis)
	redis    *redisstore.Client
	redisKey string
	failOpen bool // dedupe and rate limits pass when Redis fails

	hub        *events.Hub         // every decision, live; kept across reloads
	rejected   *events.RejectedLog // kept for diagnosis, across reloads
	handlersMu *sync.Mutex
	handlers   map[string]*Handler // by route name, for reverify
}

// Defaults of the app; see the fields.
const (
	minBodyBudget      = 64 << 20
	maxDefaultBudget   = 1 << 30
	defaultBodyWait    = 2 * time.Second
	memoryShareDivisor = 16
)

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "webhook",
		New: func() caddy.Module { return new(App) },
	}
}

// observed holds the live event hub and the rejected requests, so a
// reload keeps a console's stream resumable and the rejections visible.
var observed = caddy.NewUsagePool()

type observedState struct {
	hub      *events.Hub
	rejected *events.RejectedLog
}

func (s observedState) Destruct() error {
	s.hub.Close()
	return nil
}

// budgets holds the body budget by size, so a reload that keeps the size
// keeps the budget (and the bytes in flight count against the same one).
var budgets = caddy.NewUsagePool()

type budgetZone struct{ *budget.Budget }

func (budgetZone) Destruct() error { return nil }

// Provision fills the defaults and takes the body budget.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx, a.logger = ctx, ctx.Logger()
	a.q = &queue{}
	a.handlersMu = new(sync.Mutex)
	val, _, err := observed.LoadOrNew("observed", func() (caddy.Destructor, error) {
		return observedState{
			hub:      events.NewHub(events.HubOptions{}),
			rejected: events.NewRejectedLog(events.RejectedOptions{KeepBodies: true}),
		}, nil
	})
	if err != nil {
		return err
	}
	a.hub, a.rejected = val.(observedState).hub, val.(observedState).rejected
	if a.BodyBudget < 0 || a.BodyWait < 0 {
		return fmt.Errorf("webhook: body_budget and body_wait must not be negative")
	}
	if a.BodyBudget == 0 {
		a.BodyBudget = defaultBodyBudget()
	}
	if a.BodyWait == 0 {
		a.BodyWait = caddy.Duration(defaultBodyWait)
	}
	a.budgetZone = "webhook/body_budget/" + strconv.FormatInt(a.BodyBudget, 10)
	val, _, err = budgets.LoadOrNew(a.budgetZone, func() (caddy.Destructor, error) {
		return budgetZone{budget.New(a.BodyBudget)}, nil
	})
	if err != nil {
		return err
	}
	a.budget = val.(budgetZone).Budget
	if a.Storage != nil && a.Storage.Redis != nil {
		if a.Storage.Bolt != nil {
			return fmt.Errorf("webhook: storage is bolt or redis, not both")
		}
		if err := a.provisionRedis(); err != nil {
			return err
		}
	}
	return nil
}

// defaultBodyBudget is 1/16 of the memory the process may use, within
// [64 MiB, 1 GiB]. Bodies buffered up to it can take about twice as much
// heap until the garbage collector catches up, which leaves most of the
// memory to everything else.
func defaultBodyBudget() int64 {
	avail := int64(math.MaxInt64)
	if limit, err := memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)(); err == nil && limit > 0 && limit < math.MaxInt64 {
		avail = int64(limit)
	}
	if limit := debug.SetMemoryLimit(-1); limit > 0 && limit < avail {
		avail = limit
	}
	return min(max(avail/memoryShareDivisor, minBodyBudget), maxDefaultBudget)
}

// Start starts the durable delivery workers and warns about sites whose
// proxy takes requests no webhook_verify checked. It runs once every app
// is provisioned, the http app included.
func (a *App) Start() error {
	if v, err := a.ctx.AppIfConfigured("http"); err == nil {
		if httpApp, ok := v.(*caddyhttp.App); ok {
			warnOpenRoutes(a.logger, httpApp)
		}
	}
	return a.startQueue()
}

// Stop stops the delivery workers, waiting for attempts in flight.
func (a *App) Stop() error { return a.stopQueue() }

// Cleanup lets go of the body budget and the journal.
func (a *App) Cleanup() error {
	var err error
	if a.hub != nil {
		_, err = observed.Delete("observed")
		a.hub, a.rejected = nil, nil
	}
	if a.budgetZone != "" {
		_, berr := budgets.Delete(a.budgetZone)
		err = errors.Join(err, berr)
		a.budgetZone = ""
	}
	return errors.Join(err, a.cleanupQueue(), a.cleanupRedis())
}

// webhookApp returns the config's webhook app, made with defaults when the
// Caddyfile or JSON config does not mention it.
func webhookApp(ctx caddy.Context) (*App, error) {
	v, err := ctx.App("webhook")
	if err != nil {
		return nil, err
	}
	return v.(*App), nil
}

// parseGlobalOption parses the `webhook` global option:
//
//	webhook {
//		body_budget <size>
//		body_wait   <duration>
//		storage     bolt [<path>] {
//			max_size <size>
//		}
//		storage     redis <url...> {
//			username    <u>
//			password    <p>
//			master_name <name>
//			prefix      <p>
//			on_error    open|closed
//		}
//	}
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("webhook: the global option may appear once")
	}
	app := new(App)
	d.Next() // the option's name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	err := eachSubdirective(d, "webhook: ", nil, func(sub string) error {
		if sub == "storage" {
			if !d.NextArg() {
				return d.ArgErr()
			}
			storage, err := unmarshalStorage(d, d.Val())
			if err != nil {
				return err
			}
			app.Storage = storage
			return nil
		}
		var arg string
		if !d.AllArgs(&arg) {
			return d.ArgErr()
		}
		switch sub {
		case "body_budget":
			size, err := humanize.ParseBytes(arg)
			if err != nil || size < 1<<20 || size > 1<<40 {
				return d.Errf("webhook: body_budget: invalid size %q (from 1MiB to 1TiB)", arg)
			}
			app.BodyBudget = int64(size)
		case "body_wait":
			dur, err := caddy.ParseDuration(arg)
			if err != nil || dur <= 0 {
				return d.Errf("webhook: body_wait: invalid duration %q", arg)
			}
			app.BodyWait = caddy.Duration(dur)
		default:
			return d.Errf("webhook: unrecognized subdirective '%s'", sub)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "webhook", Value: caddyconfig.JSON(app, nil)}, nil
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
