package webhookverify

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/webhookverify/caddy-webhook-verify/verify"
)

// providersMarkdown is the README's provider table, made from the registry.
func providersMarkdown() string {
	var b strings.Builder
	b.WriteString("| provider | aliases | tolerance | delivery id (dedupe key) | scheme |\n|---|---|---|---|---|\n")
	for _, p := range verify.Presets() {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", p.Name, orDash(strings.Join(p.Aliases, ", ")), tolerance(p),
			deliveryID(p), strings.ReplaceAll(p.Summary, "|", "\\\\|"))
	}
	return b.String()
}

// The README's table of providers is the registry's, exactly; so is the
// output of `caddy webhook providers`.
func TestReadmeProviderTable(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(readme), "<!-- providers -->\n")
	table, _, ok2 := strings.Cut(rest, "<!-- /providers -->")
	if !ok1 || !ok2 {
		t.Fatal("README.md has no <!-- providers --> ... <!-- /providers --> block")
	}
	// the count in the prose follows the registry too
	if n := strings.Count(string(readme), fmt.Sprintf("%d provider presets", len(verify.Presets()))); n != 2 {
		t.Errorf("README should say %d provider presets (twice); found %d", len(verify.Presets()), n)
	}
	if want := providersMarkdown(); table != want {
		t.Fatalf("README provider table is out of date; it should read:\n%s", want)
	}
	var out strings.Builder
	if err := writeProviders(&out); err != nil {
		t.Fatal(err)
	}
	for _, p := range verify.Presets() {
		if !strings.Contains(out.String(), "\n"+p.Name+" ") {
			t.Errorf("caddy webhook providers does not list %s", p.Name)
		}
	}
	if lines := strings.Count(out.String(), "\n"); lines != len(verify.Presets())+1 {
		t.Errorf("%d lines for %d presets", lines, len(verify.Presets()))
	}
}

// outcomesMarkdown is the README's table of outcomes, made from the table
// in outcome.go that drives the metrics and the logs.
func outcomesMarkdown() string {
	var b strings.Builder
	b.WriteString("| outcome (`result` label) | counted in `deliveries_total` | log level | message | extra fields |\n|---|---|---|---|---|\n")
	for _, o := range outcomes {
		counted, level, msg := "-", "-", "-"
		if o.counted {
			counted = "yes: " + o.help
		}
		if o.level != logNone {
			level = strings.ToUpper(o.level.String())
			msg = "`" + o.message + "`"
			if o.shadowMessage != "" {
				msg += " (with `enforce off`: `" + o.shadowMessage + "`)"
			}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", o.name, counted, level, msg, orDash(o.fields.names))
	}
	return b.String()
}

// The README's table of outcomes is the code's.
func TestReadmeOutcomeTable(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(readme), "<!-- outcomes -->\n")
	table, _, ok2 := strings.Cut(rest, "<!-- /outcomes -->")
	if !ok1 || !ok2 {
		t.Fatal("README.md has no <!-- outcomes --> ... <!-- /outcomes --> block")
	}
	if want := outcomesMarkdown(); table != want {
		t.Fatalf("README outcome table is out of date; it should read:\n%s", want)
	}
}
