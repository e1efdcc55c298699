package webhookverify

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/webhookverify/caddy-webhook-verify/verify"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "webhook",
		Usage: "providers",
		Short: "Works with webhook_verify: lists its provider presets",
		Long: `
Subcommands for the webhook_verify handler.

  caddy webhook providers    lists every provider preset, one per line,
                             with its signing scheme in a few words`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(&cobra.Command{
				Use:   "providers",
				Short: "Lists every provider preset and its signing scheme",
				Args:  cobra.NoArgs,
				RunE: func(cmd *cobra.Command, _ []string) error {
					return writeProviders(cmd.OutOrStdout())
				},
			})
		},
	})
}

// writeProviders lists the presets, one per line.
func writeProviders(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tALIASES\tTOLERANCE\tDELIVERY ID\tSCHEME")
	for _, p := range verify.Presets() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, orDash(strings.Join(p.Aliases, ",")), tolerance(p), orDash(p.DeliveryID), p.Summary)
	}
	return tw.Flush()
}

func tolerance(p *verify.Preset) string {
	if p.Tolerance == 0 {
		return "-"
	}
	// 5m rather than 5m0s
	s := p.Tolerance.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
