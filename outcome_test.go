package webhookverify

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/webhookverify/caddy-webhook-verify/budget"
	"github.com/webhookverify/caddy-webhook-verify/verify"
)

// Every outcome in the table is counted under its result (or, for events
// on the way such as a retry, not at all) and logged at its level with its
// message and the fields every line carries, in one record call.
func TestEveryOutcomeIsCountedAndLogged(t *testing.T) {
	if err := initMetrics(prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	preset, _ := verify.Lookup("github")
	h := &Handler{Name: "outcomes", MaxBody: 1024, preset: preset, logger: zap.New(core),
		metrics: newRouteMetrics("outcomes", "github"), bodyLimits: bodyLimits{budget: budget.New(1 << 20)}}
	r := httptest.NewRequest("POST", "/hook", nil)
	d := &delivery{h: h, r: r, repl: caddy.NewReplacer(), Delivery: verify.Delivery{ID: "id-1", Event: "push"},
		verifyErr: &verify.Error{Reason: verify.ReasonBadSignature, Detail: "no match"}}

	seen := map[string]bool{}
	for o := range numOutcomes {
		info := outcomes[o]
		if info.name == "" || seen[info.name] {
			t.Fatalf("outcome %d has an empty or repeated name %q", o, info.name)
		}
		seen[info.name] = true
		var before float64
		if info.counted {
			before = testutil.ToFloat64(h.metrics.results[o])
		} else if h.metrics.results[o] != nil {
			t.Errorf("%s is not counted but has a series", info.name)
		}
		logs.TakeAll()
		d.record(o)

		if info.counted {
			if got := testutil.ToFloat64(h.metrics.results[o]) - before; got != 1 {
				t.Errorf("%s: counted %v times, want 1", info.name, got)
			}
			if !strings.Contains(deliveriesHelp(), info.name+": "+info.help) {
				t.Errorf("%s is not described in the metric's help", info.name)
			}
		}
		lines := logs.TakeAll()
		if info.level == logNone {
			if len(lines) != 0 {
				t.Errorf("%s: %d log lines, want none", info.name, len(lines))
			}
			continue
		}
		if len(lines) != 1 {
			t.Fatalf("%s: %d log lines, want 1", info.name, len(lines))
		}
		line := lines[0]
		fields := line.ContextMap()
		if line.Level != info.level || line.Message != info.message || fields["outcome"] != info.name ||
			fields["route"] != "outcomes" || fields["provider"] != "github" || fields["delivery_id"] != "id-1" {
			t.Errorf("%s: logged %s %q %v", info.name, line.Level, line.Message, fields)
		}
	}
}
