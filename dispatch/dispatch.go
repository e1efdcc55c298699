// Package dispatch delivers journaled webhooks to their destinations in
// the background: it claims due targets from a journal.Store, sends each
// attempt (the original request, or an envelope, signed the Standard
// Webhooks way), and records the outcome: delivered on 2xx, dead on 410 or
// when the retry schedule runs out, pending again otherwise.
//
// Destinations are independent: each has its own timeout, concurrency cap
// and rate limit, and the dispatcher never claims more for a destination
// than it may send at once, so a slow or dead destination holds back no
// other. Attempts are at least once: the journal's leases bring back any
// attempt a crash or a hard stop cut short, with the same Webhook-Id.
//
// The package knows nothing of Caddy; its clock and randomness are
// injectable, and it reports through an Observer instead of logging.
package dispatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/webhookverify/caddy-webhook-verify/journal"
	"github.com/webhookverify/caddy-webhook-verify/retry"
)

// Options configure a Dispatcher.
type Options struct {
	// Store is the journal; required.
	Store journal.Store
	// Routes by name. A target whose route or destination is not here
	// waits in the journal (neither attempted nor dropped).
	Routes map[string]Route
	// Client sends attempts and notices; default one that does not follow
	// redirects (a 3xx is a failed attempt, not a detour to somewhere the
	// route never named).
	Client *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Rand returns a float in [0, 1) for jitter; default math/rand/v2.
	Rand func() float64
	// Observer hears about attempts, replays and failures; default none.
	Observer Observer
	// Workers caps attempts in flight across all destinations; default
	// DefaultWorkers. (Each destination has its own cap too, see
	// Destination.MaxConcurrent.)
	Workers int
	// Lease is how long a claimed target stays hidden from other claims:
	// the longest destination timeout plus a minute unless set. A target
	// whose attempt was cut short is due again when it runs out.
	Lease time.Duration
	// IdleWait bounds the sleep when nothing is due, which is how soon
	// work appended by another process sharing the store (whose Wake does
	// not reach this one) is found; default DefaultIdleWait. Set it short
	// (a second) on a shared store.
	IdleWait time.Duration
	// PruneEvery is how often finished deliveries past their route's
	// retention are deleted (and once at Start); default an hour.
	PruneEvery time.Duration
}

// Defaults and bounds.
const (
	DefaultWorkers    = 64
	DefaultPruneEvery = time.Hour
	// NotifyTimeout bounds one notice.
	NotifyTimeout = 10 * time.Second
	// KeepResponse is how much of a failed attempt's response body is
	// kept as its error text.
	KeepResponse = 1 << 10
	// drainResponse is how much more is read (and dropped) so the
	// connection can be reused; a longer body costs a new connection.
	drainResponse = 64 << 10
	// DefaultIdleWait bounds a sleep with nothing due, so work that
	// appears without a Wake (another instance on a shared store, a
	// resumed destination there) is found within it.
	DefaultIdleWait = time.Minute
	// troubleWait is the pause after the store fails.
	troubleWait = time.Second
	// spinWait is the pause when something is due that could not be
	// claimed: short, but not a spin.
	spinWait = 10 * time.Millisecond
	// jitter is the ± fraction added to each schedule step, so targets
	// that failed together do not all come back together.
	jitter = 0.1
)

// Dispatcher runs the attempts. Start it, Wake it after each Accept (Accept
// does), Stop it when done. Its methods are safe for concurrent use.
type Dispatcher struct {
	store      journal.Store
	client     *http.Client
	now        func() time.Time
	rand       func() float64
	obs        Observer
	routes     map[string]*route
	workers    int
	idleWait   time.Duration
	lease      time.Duration
	pruneEvery time.Duration

	mu       sync.Mutex
	inflight int // attempts in flight, guarded by mu

	wake       chan struct{}
	stop       chan struct{}
	loopCtx    context.Context // the loop's and the janitor's store calls; canceled by Stop
	loopCancel context.CancelFunc
	ctx        context.Context // attempts and notices; canceled when Stop gives up waiting
	cancel     context.CancelFunc
	loops      sync.WaitGroup // the claim loop and the janitor
	work       sync.WaitGroup // attempts and notices
	started    sync.Once
	stopOnce   sync.Once
}

// route is a Route ready to use.
type route struct {
	Route
	key   []byte // signing key; nil when unsigned
	dests map[string]*destination
}

// destination is a Destination with its pacing state.
type destination struct {
	Destination
	limiter  *rate.Limiter // nil without a rate limit
	inflight int           // guarded by Dispatcher.mu
}

// New checks the routes and makes a Dispatcher; Start starts it.
func New(o Options) (*Dispatcher, error) {
	if o.Store == nil {
		return nil, errors.New("dispatch: no store")
	}
	d := &Dispatcher{
		store: o.Store, client: o.Client, now: o.Now, rand: o.Rand, obs: o.Observer,
		routes: map[string]*route{}, workers: o.Workers, lease: o.Lease, pruneEvery: o.PruneEvery,
		wake: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	if d.workers <= 0 {
		d.workers = DefaultWorkers
	}
	if d.client == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		// keep a connection per attempt in flight (the default keeps two
		// per host, and a busy destination would redial all the time)
		transport.MaxIdleConnsPerHost = d.workers
		d.client = &http.Client{
			Transport:     transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.rand == nil {
		d.rand = rand.Float64
	}
	if d.obs == nil {
		d.obs = NopObserver{}
	}
	if d.pruneEvery <= 0 {
		d.pruneEvery = DefaultPruneEvery
	}
	d.idleWait = o.IdleWait
	if d.idleWait <= 0 {
		d.idleWait = DefaultIdleWait
	}
	longest := time.Duration(0)
	for name, r := range o.Routes {
		if r.Name == "" {
			r.Name = name
		}
		if r.Name != name {
			return nil, fmt.Errorf("dispatch: route %q filed under %q", r.Name, name)
		}
		r, err := r.WithDefaults()
		if err != nil {
			return nil, fmt.Errorf("dispatch: %w", err)
		}
		rt := &route{Route: r, dests: map[string]*destination{}}
		rt.key, _ = signingKey(r.Sign) // checked by WithDefaults
		for _, dst := range r.Destinations {
			ds := &destination{Destination: dst}
			if rl := dst.RateLimit; rl.Events > 0 {
				ds.limiter = rate.NewLimiter(rate.Limit(float64(rl.Events)/rl.Window.Seconds()), rl.Burst)
			}
			rt.dests[dst.Name] = ds
			longest = max(longest, dst.Timeout)
		}
		d.routes[name] = rt
	}
	if d.lease <= 0 {
		d.lease = longest + time.Minute
	}
	d.loopCtx, d.loopCancel = context.WithCancel(context.Background())
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d, nil
}

// Start starts the claim loop and the janitor. Calling it again does
// nothing.
func (d *Dispatcher) Start() {
	d.started.Do(func() {
		select {
		case <-d.stop:
			return // stopped before it started: stay stopped
		default:
		}
		d.loops.Add(2)
		go d.run()
		go d.janitor()
	})
}

// Wake makes the loop look for due work now instead of when it meant to.
// It never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Stop stops claiming and waits for the attempts (and notices) in flight.
// If ctx ends first it cancels them and returns ctx's error once they have
// returned; what they did not record stays leased in the journal, due
// again when the lease runs out. Stop is for the end: a stopped Dispatcher
// does not start again.
func (d *Dispatcher) Stop(ctx context.Context) error {
	d.stopOnce.Do(func() {
		close(d.stop)
		d.loopCancel() // a long prune stops between chunks
	})
	d.loops.Wait()
	done := make(chan struct{})
	go func() {
		d.work.Wait()
		close(done)
	}()
	select {
	case <-done:
		d.cancel()
		return nil
	case <-ctx.Done():
		d.cancel()
		<-done
		return ctx.Err()
	}
}

// Accept journals a verified webhook for the destinations of its route
// that want its event, due at once, and wakes the loop. It fills
// del.Targets, del.ID (when empty) and del.Received (when zero), and
// cleans del.Header of hop-by-hop fields. It returns how many
// destinations want it; with none, nothing is journaled. An error means
// the delivery is not durable: answer the provider 503.
func (d *Dispatcher) Accept(ctx context.Context, del *journal.Delivery) (int, error) {
	rt := d.routes[del.Route]
	if rt == nil {
		return 0, fmt.Errorf("dispatch: no route %q", del.Route)
	}
	if del.Received.IsZero() {
		del.Received = d.now()
	}
	del.Header = CleanHeader(del.Header)
	del.Targets = del.Targets[:0]
	for _, name := range rt.Targets(del.Event) {
		del.Targets = append(del.Targets, journal.Target{Destination: name, Next: del.Received})
	}
	if len(del.Targets) == 0 {
		return 0, nil
	}
	if err := d.store.Append(ctx, del); err != nil {
		return 0, err
	}
	d.Wake()
	return len(del.Targets), nil
}

// Replay delivers a finished delivery again (to destination, or "" for
// every finished target), with the same Webhook-Id and a fresh schedule.
// It returns how many targets it replayed.
func (d *Dispatcher) Replay(ctx context.Context, id, destination string) (int, error) {
	n, err := d.store.Replay(ctx, id, destination, d.now())
	d.replayed(ReplayInfo{ID: id, Destination: destination, Targets: n})
	return n, err
}

// ReplayWhere replays in bulk (f.State Dead or Delivered; see
// journal.Filter). It returns how many targets it replayed.
func (d *Dispatcher) ReplayWhere(ctx context.Context, f journal.Filter) (int, error) {
	n, err := d.store.ReplayWhere(ctx, f, d.now())
	d.replayed(ReplayInfo{Route: f.Route, State: f.State, Destination: f.Destination, Targets: n})
	return n, err
}

// replayed wakes the loop for replayed targets (even when a bulk replay
// failed part way) and tells the observer.
func (d *Dispatcher) replayed(info ReplayInfo) {
	if info.Targets > 0 {
		d.Wake()
		d.obs.Replayed(info)
	}
}

// SetPaused holds or releases a destination (by name, in every route): its
// targets wait, and none goes dead meanwhile. The pause is in the journal,
// so it survives restarts and holds for every instance sharing it.
func (d *Dispatcher) SetPaused(ctx context.Context, destination string, paused bool) error {
	if err := d.store.SetPaused(ctx, destination, paused); err != nil {
		return err
	}
	d.Wake()
	return nil
}

// run is the claim loop: claim what may go now, start it, sleep until
// the next due time, a Wake, or a finished attempt.
func (d *Dispatcher) run() {
	defer d.loops.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(d.dispatch())
		select {
		case <-d.stop:
			return
		case <-d.wake:
		case <-timer.C:
		}
	}
}

// dispatch claims and starts what may go now, and says how long to sleep.
func (d *Dispatcher) dispatch() time.Duration {
	now := d.now()
	d.mu.Lock()
	free := d.workers - d.inflight
	d.mu.Unlock()
	if free <= 0 {
		return d.idleWait // a finishing attempt wakes the loop
	}
	tasks, err := d.store.Claim(d.loopCtx, now, free, d.lease, d.quota(now))
	if err != nil {
		d.storeFailed("claim", err)
		return troubleWait
	}
	for _, t := range tasks {
		d.begin(t, now)
	}
	if len(tasks) == free {
		return d.idleWait
	}
	next, ok, err := d.store.NextDue(d.loopCtx, d.quota(now))
	if err != nil {
		d.storeFailed("next", err)
		return troubleWait
	}
	wait := d.idleWait
	if ok {
		wait = min(wait, next.Sub(now))
	}
	if w, ok := d.nextToken(now); ok {
		wait = min(wait, w)
	}
	if wait <= 0 && len(tasks) == 0 {
		// due but not claimable this instant (another claimer took it, a
		// slot is being given back): look again shortly, not in a spin
		wait = spinWait
	}
	return max(wait, 0)
}

// quota is what Claim may take per destination right now: nothing for
// unknown ones, up to the concurrency cap and the rate limiter's whole
// tokens for the others.
func (d *Dispatcher) quota(now time.Time) journal.Quota {
	return func(routeName, destName string) int {
		rt := d.routes[routeName]
		if rt == nil {
			return 0
		}
		dst := rt.dests[destName]
		if dst == nil {
			return 0
		}
		d.mu.Lock()
		n := max(dst.MaxConcurrent-dst.inflight, 0)
		d.mu.Unlock()
		if dst.limiter != nil {
			n = min(n, max(int(math.Floor(dst.limiter.TokensAt(now))), 0))
		}
		return n
	}
}

// nextToken is how long until the first rate-limited destination that is
// out of tokens has one again.
func (d *Dispatcher) nextToken(now time.Time) (time.Duration, bool) {
	var wait time.Duration
	found := false
	for _, rt := range d.routes {
		for _, dst := range rt.dests {
			if dst.limiter == nil {
				continue
			}
			missing := 1 - dst.limiter.TokensAt(now)
			if missing <= 0 {
				continue
			}
			w := time.Duration(math.Ceil(missing / float64(dst.limiter.Limit()) * float64(time.Second)))
			if !found || w < wait {
				wait, found = w, true
			}
		}
	}
	return wait, found
}

// begin takes a slot and a token for a claimed task and starts its
// attempt.
func (d *Dispatcher) begin(t journal.Task, now time.Time) {
	rt := d.routes[t.Delivery.Route]
	if rt == nil || rt.dests[t.Target.Destination] == nil {
		return // quota let none of these through; should one come, its lease ends it
	}
	dst := rt.dests[t.Target.Destination]
	if dst.limiter != nil {
		dst.limiter.ReserveN(now, 1) // quota counted this token; take it
	}
	d.mu.Lock()
	d.inflight++
	dst.inflight++
	d.mu.Unlock()
	d.work.Add(1)
	go func() {
		defer d.work.Done()
		defer d.finished(dst)
		d.attempt(rt, dst, t)
	}()
}

func (d *Dispatcher) finished(dst *destination) {
	d.mu.Lock()
	d.inflight--
	dst.inflight--
	d.mu.Unlock()
	d.Wake() // a slot is free
}

// result is what came of sending one attempt.
type result struct {
	status     int
	text       string // the error, or the start of a non-2xx body
	retryAfter string
}

// attempt sends one attempt, records its outcome and tells the observer.
func (d *Dispatcher) attempt(rt *route, dst *destination, t journal.Task) {
	at := d.now()
	number := t.Target.Attempts + 1
	began := time.Now() // durations are measured, not injected
	res := d.send(rt, dst, t.Delivery, at, number)
	took := time.Since(began)
	if res.status == 0 && d.ctx.Err() != nil {
		return // Stop gave up on it: leased, it comes back after the lease
	}
	o := d.outcome(rt, t.Target, res, d.now())
	a := journal.Attempt{At: at, Status: res.status, Error: res.text, Duration: took, Replay: t.Target.Replays > 0}
	// not d.ctx: a finished attempt is recorded even while Stop gives up
	if err := d.store.Record(context.Background(), t, a, o); err != nil {
		d.obs.StoreFailed("record", err)
		return
	}
	info := AttemptInfo{
		ID: t.Delivery.ID, Route: rt.Name, Provider: t.Delivery.Provider, Event: t.Delivery.Event,
		Destination: dst.Name, Attempt: number, Replay: a.Replay, Status: a.Status, Error: a.Error,
		Duration: took, State: o.State, Next: o.Next,
	}
	d.obs.Attempted(info)
	if o.State == journal.Dead && rt.Notify != "" {
		d.notify(rt, info)
	}
}

// send makes one HTTP attempt; at a stream, there is nothing to send: the
// delivery was published when the journal took it.
func (d *Dispatcher) send(rt *route, dst *destination, del *journal.Delivery, at time.Time, number int) result {
	if dst.Stream != "" {
		return result{status: http.StatusOK}
	}
	body := del.Body
	if rt.Envelope {
		body = envelope(del)
	}
	method := del.Method
	if method == "" {
		method = http.MethodPost
	}
	ctx, cancel := context.WithTimeout(d.ctx, dst.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, dst.URL, bytes.NewReader(body))
	if err != nil {
		return result{text: err.Error()}
	}
	req.Header = attemptHeader(rt, dst, del, body, at, number)
	resp, err := d.client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && d.ctx.Err() == nil {
			return result{text: fmt.Sprintf("timeout after %s", dst.Timeout)}
		}
		return result{text: transportError(err)}
	}
	defer resp.Body.Close()
	res := result{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, drainResponse))
		return res
	}
	res.text = readText(resp.Body)
	return res
}

// transportError says what failed without the URL, which may carry a
// secret (a token in its path or query).
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

// readText keeps the start of a response body as text, drains a bounded
// amount more (so the connection can be reused) and drops the rest.
func readText(r io.Reader) string {
	buf, _ := io.ReadAll(io.LimitReader(r, KeepResponse))
	io.Copy(io.Discard, io.LimitReader(r, drainResponse))
	return strings.TrimSpace(strings.ToValidUTF8(string(buf), "\uFFFD"))
}

// outcome decides a target's state after an attempt that ended at now:
// 2xx delivered; 410 dead; otherwise the schedule's next step with
// jitter, or longer if the destination's Retry-After asks for it (up to
// twice the step), or dead when the schedule has run out.
func (d *Dispatcher) outcome(rt *route, t journal.Target, res result, now time.Time) journal.Outcome {
	switch {
	case res.status >= 200 && res.status < 300:
		return journal.Outcome{State: journal.Delivered}
	case res.status == http.StatusGone:
		return journal.Outcome{State: journal.Dead}
	}
	round := t.Round + 1 // attempts in this round, this one included
	if round > len(rt.Schedule) {
		return journal.Outcome{State: journal.Dead}
	}
	step := rt.Schedule[round-1]
	wait := time.Duration(float64(step) * (1 - jitter + 2*jitter*d.rand()))
	if ra, ok := retry.ParseRetryAfter(res.retryAfter, now); ok && ra > wait {
		wait = min(ra, 2*step)
	}
	return journal.Outcome{State: journal.Pending, Next: now.Add(wait)}
}

// janitor prunes at Start and every PruneEvery.
func (d *Dispatcher) janitor() {
	defer d.loops.Done()
	tick := time.NewTicker(d.pruneEvery)
	defer tick.Stop()
	for {
		d.Prune(d.loopCtx)
		select {
		case <-tick.C:
		case <-d.stop:
			return
		}
	}
}

// Prune deletes finished deliveries past their route's retention
// (DefaultRetention for routes not configured), and returns how many.
// The janitor calls it; it is exported for tests and admin use.
func (d *Dispatcher) Prune(ctx context.Context) (int, error) {
	now := d.now()
	n, err := d.store.Prune(ctx, func(name string) time.Time {
		if rt := d.routes[name]; rt != nil {
			return now.Add(-rt.Retention)
		}
		return now.Add(-DefaultRetention)
	})
	if err != nil && ctx.Err() == nil {
		d.obs.StoreFailed("prune", err)
	}
	return n, err
}

// storeFailed reports a failure of the loop's store calls, unless Stop
// caused it.
func (d *Dispatcher) storeFailed(op string, err error) {
	if d.loopCtx.Err() == nil {
		d.obs.StoreFailed(op, err)
	}
}
