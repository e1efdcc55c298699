package webhookverify

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/webhookverify/caddy-webhook-verify/dedupe"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// The collectors are made once and registered with every config's
// registry, so their values carry over a reload. Labels are the route, the
// provider, the result or outcome, and the zone: never an id or an address.
var webhookMetrics = struct {
	once           sync.Once
	deliveries     *prometheus.CounterVec
	attempts       *prometheus.CounterVec
	verifyDuration *prometheus.HistogramVec
	deliverTime    *prometheus.HistogramVec
	zones          zoneCollector

	// durable delivery (deliver)
	deliverAttempts *prometheus.CounterVec
	deliverDead     *prometheus.CounterVec
	deliverLatency  *prometheus.HistogramVec
	queue           queueCollector
}{}

// The kinds of zones whose sizes are gauges.
const (
	zoneDedupe    = "dedupe"
	zoneRateLimit = "rate_limit"
)

func initMetrics(registry *prometheus.Registry) error {
	const ns, sub = "caddy", "webhook"
	m := &webhookMetrics
	m.once.Do(func() {
		m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "deliveries_total",
			Help: deliveriesHelp(),
		}, []string{"route", "provider", "result"})
		m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "upstream_attempts_total",
			Help: "Attempts to hand a delivery to the app, by outcome: the status class the app answered (2xx..5xx) or error when it could not be reached.",
		}, []string{"route", "provider", "outcome"})
		m.verifyDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "verify_duration_seconds",
			Help:    "Time spent checking a delivery's signature.",
			Buckets: prometheus.ExponentialBuckets(5e-6, 4, 9), // 5µs .. 330ms
		}, []string{"route", "provider"})
		m.deliverTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "delivery_duration_seconds",
			Help:    "Time from handing a verified delivery to the app to its final answer, retries included.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "provider"})
		m.deliverAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "deliver_attempts_total",
			Help: "Attempts of durable deliveries at their destinations, by outcome: the status class (2xx..5xx) or error.",
		}, []string{"route", "destination", "outcome"})
		m.deliverDead = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "deliver_dead_total",
			Help: "Durable deliveries that ran out of attempts (or got 410) at a destination.",
		}, []string{"route", "destination"})
		m.deliverLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "deliver_latency_seconds",
			Help:    "Time from accepting a durable delivery to its destination's 2xx, retries and replays included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 12), // 5ms .. ~6 days
		}, []string{"route", "destination"})
	})
	for _, c := range []prometheus.Collector{m.deliveries, m.attempts, m.verifyDuration, m.deliverTime, &m.zones,
		m.deliverAttempts, m.deliverDead, m.deliverLatency, &m.queue} {
		if err := registry.Register(c); err != nil {
			if !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
				return err
			}
		}
	}
	return nil
}

// routeMetrics are one route's series, resolved once at provision so the
// request path only adds to them.
type routeMetrics struct {
	results        [numOutcomes]prometheus.Counter // nil for outcomes not counted
	attempts       map[string]prometheus.Counter
	verifyDuration prometheus.Observer
	deliverTime    prometheus.Observer
}

func newRouteMetrics(route, provider string) *routeMetrics {
	m := &webhookMetrics
	rm := &routeMetrics{
		attempts:       map[string]prometheus.Counter{},
		verifyDuration: m.verifyDuration.WithLabelValues(route, provider),
		deliverTime:    m.deliverTime.WithLabelValues(route, provider),
	}
	for o, info := range outcomes {
		if info.counted {
			rm.results[o] = m.deliveries.WithLabelValues(route, provider, info.name)
		}
	}
	for _, o := range []string{"2xx", "3xx", "4xx", "5xx", "error"} {
		rm.attempts[o] = m.attempts.WithLabelValues(route, provider, o)
	}
	return rm
}

// attempt counts one attempt by the status the app answered (0: none).
func (rm *routeMetrics) attempt(status int) {
	switch {
	case status >= 200 && status < 600:
		rm.attempts[[]string{"2xx", "3xx", "4xx", "5xx"}[status/100-2]].Inc()
	default:
		rm.attempts["error"].Inc()
	}
}

// zoneCollector reports the dedupe entries and rate-limit buckets each
// zone holds, read at scrape time from the zones alive now, for stores
// that can tell (dedupe.Sizer).
type zoneCollector struct{}

var zoneSizeDescs = map[string]*prometheus.Desc{
	zoneDedupe: prometheus.NewDesc("caddy_webhook_dedupe_entries",
		"Delivery ids a dedupe zone remembers.", []string{"zone"}, nil),
	zoneRateLimit: prometheus.NewDesc("caddy_webhook_rate_limit_buckets",
		"Token buckets a rate_limit zone keeps.", []string{"zone"}, nil),
}

func (zoneCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range zoneSizeDescs {
		ch <- desc
	}
}

// Collect reports the size of every zone alive. Entries that share a zone
// name (a rate changed by a reload makes a new entry while the old one
// drains) are summed: two series with one label set would make the whole
// scrape fail.
func (zoneCollector) Collect(ch chan<- prometheus.Metric) {
	type kindName struct{ kind, name string }
	sizes := map[kindName]int{}
	zones.Range(func(_, value any) bool {
		z := value.(zone)
		if sizer, ok := z.store.(dedupe.Sizer); ok && zoneSizeDescs[z.kind] != nil {
			sizes[kindName{z.kind, z.name}] += sizer.Len()
		}
		return true
	})
	for k, size := range sizes {
		ch <- prometheus.MustNewConstMetric(zoneSizeDescs[k.kind], prometheus.GaugeValue, float64(size), k.name)
	}
}

var _ prometheus.Collector = zoneCollector{}

// provisionMetrics registers the collectors with this config's registry.
func (h *Handler) provisionMetrics(ctx caddy.Context) error {
	if reg := ctx.GetMetricsRegistry(); reg != nil {
		if err := initMetrics(reg); err != nil {
			return err
		}
	} else {
		initMetrics(prometheus.NewRegistry()) // make the collectors all the same
	}
	h.metrics = newRouteMetrics(h.Name, h.preset.Name)
	return nil
}

// queueCollector reports the journal's queue at scrape time: targets by
// route, destination and state, and the age of the oldest pending one.
type queueCollector struct{}

var (
	queueTargetsDesc = prometheus.NewDesc("caddy_webhook_queue_targets",
		"Durable deliveries' targets in the journal, by route, destination and state (pending, delivered, dead).",
		[]string{"route", "destination", "state"}, nil)
	queueOldestDesc = prometheus.NewDesc("caddy_webhook_queue_oldest_pending_seconds",
		"Age of the oldest delivery still pending at some destination; 0 when none is.", nil, nil)
)

func (queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueTargetsDesc
	ch <- queueOldestDesc
}

// Collect reads every open journal's stats, with a deadline so a slow
// store cannot hang a scrape.
func (queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts := map[journal.Key]int{}
	var oldest time.Time
	found := false
	stores.Range(func(_, value any) bool {
		stats, err := value.(storeZone).Stats(ctx)
		if err != nil {
			return true
		}
		found = true
		for k, n := range stats.Targets {
			counts[k] += n
		}
		if !stats.OldestPending.IsZero() && (oldest.IsZero() || stats.OldestPending.Before(oldest)) {
			oldest = stats.OldestPending
		}
		return true
	})
	if !found {
		return
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(queueTargetsDesc, prometheus.GaugeValue, float64(n), k.Route, k.Destination, string(k.State))
	}
	age := 0.0
	if !oldest.IsZero() {
		age = time.Since(oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(queueOldestDesc, prometheus.GaugeValue, age)
}

var _ prometheus.Collector = queueCollector{}
