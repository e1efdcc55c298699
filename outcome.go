package webhookverify

import (
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/webhookverify/caddy-webhook-verify/events"
	"github.com/webhookverify/caddy-webhook-verify/verify"
)

// outcome is one way a request can end, or one event on its way: the
// table below is the only place that says how each is counted and logged,
// so every new consumer of outcomes (the journal, the event stream) hooks
// into record alone.
type outcome uint8

// The outcomes, in the order of the pipeline.
const (
	outMethodNotAllowed outcome = iota
	outTooLarge
	outBodyTimeout
	outBodyUnreadable
	outBusy
	outHandshake
	outHandshakeRefused
	outMissingSignature
	outBadSignature
	outStale
	outVerified
	outDuplicate
	outInFlight
	outStoreFailed
	outStoreBypassed
	outRateLimited
	outSenderGone
	outRetrying
	outForwarded
	outUpstreamFailed
	outAccepted
	outUnrouted
	outJournalFailed
	outCommitFailed
	outReleaseFailed
	numOutcomes
)

// logNone marks an outcome that writes no log line of its own.
const logNone = zapcore.InvalidLevel

// outcomeInfo is a row of the table.
type outcomeInfo struct {
	// name is the `result` label of caddy_webhook_deliveries_total and the
	// `outcome` field of log lines.
	name string
	// counted says whether the outcome counts in deliveries_total (an
	// event on the way, such as a retry, does not: attempts have their
	// own metric).
	counted bool
	// help describes the result in the metric's help text.
	help  string
	level zapcore.Level
	// message is the log line; shadowMessage, if set, replaces it in
	// shadow mode (`enforce off`).
	message, shadowMessage string
	// fields are what the line says beyond the fields every line has.
	fields fieldSet
	// event is the live event stream's type for the outcome ("" for none).
	event string
}

// fieldSet is what a kind of log line says beyond the common fields, and
// the names it uses, for the README.
type fieldSet struct {
	names string
	of    func(d *delivery) []zap.Field
}

var outcomes = [numOutcomes]outcomeInfo{
	outMethodNotAllowed: {name: "method_not_allowed", counted: true, help: "a method the provider never uses (405)",
		level: zapcore.InfoLevel, message: "method not allowed for webhook deliveries", fields: methodFields, event: events.TypeMethodNotAllowed},
	outTooLarge: {name: "too_large", counted: true, help: "a body over max_body (413)",
		level: zapcore.InfoLevel, message: "webhook body too large", fields: bodyFields, event: events.TypeTooLarge},
	outBodyTimeout: {name: "body_timeout", counted: true, help: "a body slower than body_timeout (408)",
		level: zapcore.InfoLevel, message: "webhook body not received in time", fields: bodyFields, event: events.TypeBodyTimeout},
	outBodyUnreadable: {name: "body_unreadable", counted: true, help: "a body that broke off or did not match its length (400)",
		level: zapcore.InfoLevel, message: "webhook body could not be read", fields: errorFields, event: events.TypeBodyUnreadable},
	outBusy: {name: "busy", counted: true, help: "the body budget was full (503)",
		level: zapcore.WarnLevel, message: "body budget full, delivery turned away", fields: budgetFields, event: events.TypeBusy},
	outHandshake: {name: "handshake", counted: true, help: "a provider's set-up request answered by the gateway",
		level: zapcore.InfoLevel, message: "answered provider handshake", event: events.TypeHandshake},
	outHandshakeRefused: {name: "handshake_refused", counted: true, help: "a set-up request that could not be answered (401)",
		level: zapcore.InfoLevel, message: "provider handshake refused", fields: errorFields, event: events.TypeHandshakeRefused},
	outMissingSignature: {name: "missing_signature", counted: true, help: "no signature (401)",
		level: zapcore.InfoLevel, message: "webhook rejected", shadowMessage: "webhook failed verification, passed on (enforce off)", fields: rejectFields, event: events.TypeRejected},
	outBadSignature: {name: "bad_signature", counted: true, help: "a malformed or wrong signature (401)",
		level: zapcore.InfoLevel, message: "webhook rejected", shadowMessage: "webhook failed verification, passed on (enforce off)", fields: rejectFields, event: events.TypeRejected},
	outStale: {name: "stale", counted: true, help: "a timestamp outside tolerance (401)",
		level: zapcore.InfoLevel, message: "webhook rejected", shadowMessage: "webhook failed verification, passed on (enforce off)", fields: rejectFields, event: events.TypeRejected},
	outVerified: {name: "verified", counted: true, help: "a valid signature",
		level: logNone, event: events.TypeVerified},
	outDuplicate: {name: "duplicate", counted: true, help: "a redelivery answered without the app",
		level: zapcore.InfoLevel, message: "duplicate delivery answered without the app", fields: statusFields, event: events.TypeDuplicate},
	outInFlight: {name: "in_flight", counted: true, help: "a copy of a delivery in flight (409)",
		level: zapcore.InfoLevel, message: "copy of a delivery in flight turned away", fields: retryAfterFields, event: events.TypeInFlight},
	outStoreFailed: {name: "store_failed", counted: true, help: "the dedupe or rate-limit store failed (503)",
		level: zapcore.WarnLevel, message: "store failed, delivery turned away", fields: errorFields, event: events.TypeStoreFailed},
	outStoreBypassed: {name: "store_bypassed", counted: true, help: "the shared store failed and on_error open let the delivery through",
		level: zapcore.WarnLevel, message: "store failed, delivery let through (on_error open)", fields: errorFields, event: events.TypeStoreFailed},
	outRateLimited: {name: "rate_limited", counted: true, help: "over the rate limit (429)",
		level: zapcore.InfoLevel, message: "delivery rate limited", fields: rateLimitFields, event: events.TypeRateLimited},
	outSenderGone: {name: "sender_gone", counted: true, help: "the sender hung up before the app was reached (499)",
		level: zapcore.DebugLevel, message: "sender hung up while the delivery waited", event: events.TypeSenderGone},
	outRetrying: {name: "retry", help: "",
		level: zapcore.InfoLevel, message: "retrying delivery", fields: retryFields, event: events.TypeRetrying},
	outForwarded: {name: "forwarded", counted: true, help: "handed to the app, which took it",
		level: zapcore.DebugLevel, message: "delivery forwarded", fields: forwardFields, event: events.TypeForwarded},
	outUpstreamFailed: {name: "upstream_failed", counted: true, help: "handed to the app, which failed it or could not be reached",
		level: zapcore.WarnLevel, message: "delivery failed", fields: forwardFields, event: events.TypeUpstreamFailed},
	outAccepted: {name: "accepted", counted: true, help: "journaled for durable delivery and acknowledged",
		level: zapcore.DebugLevel, message: "delivery accepted", fields: acceptFields, event: events.TypeAccepted},
	outUnrouted: {name: "unrouted", counted: true, help: "acknowledged, but no destination wants its event",
		level: zapcore.InfoLevel, message: "no destination wants the event; acknowledged and dropped", event: events.TypeAccepted},
	outJournalFailed: {name: "journal_failed", counted: true, help: "the journal could not be written (503)",
		level: zapcore.ErrorLevel, message: "journal write failed, delivery turned away", fields: errorFields, event: events.TypeStoreFailed},
	outCommitFailed: {name: "commit_failed", help: "",
		level: zapcore.WarnLevel, message: "dedupe commit failed; a redelivery may reach the app", fields: errorFields},
	outReleaseFailed: {name: "release_failed", help: "",
		level: zapcore.WarnLevel, message: "dedupe release failed; the claim lapses with its lease", fields: errorFields},
}

// deliveriesHelp is the help text of caddy_webhook_deliveries_total,
// made from the table.
func deliveriesHelp() string {
	var b strings.Builder
	b.WriteString("Webhook requests by result. Each counts once for how it was received and verified and, once verified (or passed in shadow mode), once more for its delivery:")
	for i, o := range outcomes {
		if o.counted {
			if i > 0 {
				b.WriteString(";")
			}
			b.WriteString(" " + o.name + ": " + o.help)
		}
	}
	b.WriteString(".")
	return b.String()
}

// record counts an outcome and writes its log line. It is the one place
// every decision about a request goes through.
func (d *delivery) record(o outcome) {
	info := &outcomes[o]
	if info.counted {
		d.h.metrics.results[o].Inc()
	}
	if info.event != "" && d.h.app != nil && d.h.app.hub != nil {
		d.publish(info.event)
	}
	if info.level == logNone {
		return
	}
	msg := info.message
	if d.h.Shadow && info.shadowMessage != "" {
		msg = info.shadowMessage
	}
	c := d.h.logger.Check(info.level, msg)
	if c == nil {
		return // the common case (forwarded, at DEBUG) costs nothing
	}
	fields := []zap.Field{
		zap.String("route", d.h.Name),
		zap.String("provider", d.h.preset.Name),
		zap.String("outcome", info.name),
		zap.String("delivery_id", truncate(d.ID)),
		zap.String("event", truncate(d.Event)),
		zap.String("client_ip", d.clientIP()),
	}
	if info.fields.of != nil {
		fields = append(fields, info.fields.of(d)...)
	}
	c.Write(fields...)
}

// outcomeOf maps a verification failure to its outcome.
func outcomeOf(reason verify.Reason) outcome {
	switch reason {
	case verify.ReasonMissingSignature:
		return outMissingSignature
	case verify.ReasonStale, verify.ReasonFuture:
		return outStale
	}
	return outBadSignature
}

// The fields of particular outcomes. Sender-chosen values are truncated;
// no secret, signature or token is ever among them.
var (
	methodFields = fieldSet{"`method`", func(d *delivery) []zap.Field {
		return []zap.Field{zap.String("method", truncate(d.r.Method))}
	}}
	bodyFields = fieldSet{"`content_length`, `max_body`", func(d *delivery) []zap.Field {
		return []zap.Field{zap.Int64("content_length", d.r.ContentLength), zap.Int64("max_body", d.h.MaxBody)}
	}}
	budgetFields = fieldSet{"`body_budget`", func(d *delivery) []zap.Field {
		return []zap.Field{zap.Int64("body_budget", d.h.bodyLimits.budget.Total())}
	}}
	errorFields = fieldSet{"`error`", func(d *delivery) []zap.Field {
		if d.err == nil {
			return nil
		}
		return []zap.Field{zap.Error(d.err)}
	}}
	rejectFields = fieldSet{"`reason`, `detail`, `request_id`", func(d *delivery) []zap.Field {
		reason := verify.ReasonOf(d.verifyErr)
		return []zap.Field{zap.String("reason", string(reason)), zap.String("detail", errDetail(d.verifyErr)), zap.String("request_id", d.requestID())}
	}}
	statusFields = fieldSet{"`status` (the original answer)", func(d *delivery) []zap.Field {
		return []zap.Field{zap.Int("status", d.status)}
	}}
	retryAfterFields = fieldSet{"`retry_after`", func(d *delivery) []zap.Field {
		return []zap.Field{zap.Duration("retry_after", d.retryAfter)}
	}}
	rateLimitFields = fieldSet{"`key`, `retry_after`, `concurrency`", func(d *delivery) []zap.Field {
		return []zap.Field{zap.String("key", truncate(d.limitKey)), zap.Duration("retry_after", d.retryAfter), zap.Bool("concurrency", d.concurrency)}
	}}
	retryFields = fieldSet{"`attempt`, `status` or `error`, `delay`", func(d *delivery) []zap.Field {
		f := []zap.Field{zap.Int("attempt", d.attempt), zap.Duration("delay", d.retryAfter)}
		if d.err != nil {
			return append(f, zap.Error(d.err))
		}
		return append(f, zap.Int("status", d.status))
	}}
	acceptFields = fieldSet{"`id`, `destinations`", func(d *delivery) []zap.Field {
		return []zap.Field{zap.String("id", d.journalID), zap.Int("destinations", d.destinations)}
	}}
	forwardFields = fieldSet{"`status`, `attempts`, `duration`, `error`", func(d *delivery) []zap.Field {
		f := []zap.Field{zap.Int("status", d.status), zap.Int("attempts", d.attempt), zap.Duration("duration", d.forwardTime)}
		if d.err != nil {
			f = append(f, zap.Error(d.err))
		}
		return f
	}}
)

// maxLoggedID bounds sender-chosen values in log lines.
const maxLoggedID = 128

func truncate(s string) string {
	if len(s) > maxLoggedID {
		return s[:maxLoggedID] + "..."
	}
	return s
}

// publish puts the outcome on the live event stream: ids, names,
// statuses and timings, never a header or a body.
func (d *delivery) publish(typ string) {
	e := events.FromRequest(typ, d.r)
	e.Route, e.Provider, e.EventType = d.h.Name, d.h.preset.Name, truncate(d.Event)
	e.ProviderID, e.DeliveryID, e.RequestID = truncate(d.ID), d.journalID, d.requestID()
	e.ClientIP = d.clientIP()
	e.Status, e.Attempt, e.Duration, e.Targets = d.status, d.attempt, d.forwardTime, d.destinations
	if typ == events.TypeRejected || typ == events.TypeHandshakeRefused {
		e.Reason, e.Detail = string(verify.ReasonOf(d.verifyErr)), errDetail(d.verifyErr)
	}
	if typ == events.TypeRetrying {
		e.NextAttempt = time.Now().Add(d.retryAfter)
	}
	if d.err != nil {
		e.Error = truncate(d.err.Error())
	}
	d.h.app.hub.Publish(e)
}
