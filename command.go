package webhookverify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/webhookverify/caddy-webhook-verify/verify"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "webhook",
		Usage: "providers | sign | send | deliveries | replay | tail | listen",
		Short: "Lists webhook_verify's providers; signs and sends test deliveries; lists and replays durable ones",
		Long: `
Subcommands for the webhook_verify handler.

  caddy webhook providers
      lists every provider preset, one per line, with its signing scheme

  caddy webhook sign --provider <p> --secret <s> [--body <file>|-] [--url <u>] [--curl]
      prints the headers provider p would send with that body, with a fresh
      delivery id and timestamp (and the rewritten body or URL where the
      provider's scheme changes them)

  caddy webhook send --provider <p> --secret <s> --url <u> [--body <file>|-]
      signs the same way and posts the delivery to the URL

  caddy webhook deliveries [--route <r>] [--state pending|delivered|dead] [--limit <n>] [--json]
      lists the durable deliveries a running Caddy journaled, newest first,
      one line per destination (through the admin endpoint: --address, or
      the one in --config, else localhost:2019)

  caddy webhook replay <id> [--destination <d>]
  caddy webhook replay --state dead [--route <r>]
      delivers a delivery again, or every dead one

  caddy webhook tail [--route <r>] [--type rejected,dead] [--json]
      follows every decision live, one line per event (colour on a
      terminal), resuming after a reload

  caddy webhook listen --from <stream URL> --token <t> --forward <local URL> [--resign <whsec_...>] [--print]
      follows a webhook_stream and re-sends each delivery to a local app
      (method, headers and body as they came), resuming after a drop

The secret may be a placeholder such as {env.GITHUB_WEBHOOK_SECRET} or
{file./run/secrets/github}, so that it stays out of the shell history and
the process list.`,
		CobraFunc: webhookCommands,
	})
}

// webhookCommands adds the subcommands to caddy's "webhook" command.
func webhookCommands(cmd *cobra.Command) {
	cmd.AddCommand(&cobra.Command{
		Use:   "providers",
		Short: "Lists every provider preset and its signing scheme",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return writeProviders(cmd.OutOrStdout())
		},
	})
	for _, send := range []bool{false, true} {
		sub := &cobra.Command{
			Use:   "sign",
			Short: "Prints the headers a provider would send with a body",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return runSign(cmd, send)
			},
		}
		if send {
			sub.Use, sub.Short = "send", "Signs a test delivery as a provider would and posts it"
		}
		f := sub.Flags()
		f.String("provider", "", "the provider preset (see caddy webhook providers)")
		f.String("secret", "", "the shared secret as the provider shows it; {env.*} and {file.*} placeholders work")
		f.String("body", "", "file with the body, or - for stdin (default: a small JSON test event)")
		f.String("url", "", "where the delivery goes (required by send, and by providers that sign the URL)")
		f.String("content-type", "application/json", "the body's content type")
		f.String("event", "", "event type, for providers that send it in a header (default: one the provider sends, e.g. ping for github)")
		f.String("id", "", "delivery id (default: a fresh one)")
		if !send {
			f.Bool("curl", false, "print a curl command that sends the delivery instead of the headers")
		}
		cmd.AddCommand(sub)
	}
	adminCommands(cmd)
}

func runSign(cmd *cobra.Command, send bool) error {
	flags := cmd.Flags()
	get := func(name string) string { v, _ := flags.GetString(name); return v }
	p, ok := verify.Lookup(get("provider"))
	if !ok || !p.CanSign() {
		var signable []string
		for _, p := range verify.Presets() {
			if p.CanSign() {
				signable = append(signable, p.Name)
			}
		}
		return fmt.Errorf("--provider %q: want one of %s", get("provider"), strings.Join(signable, ", "))
	}
	secret, err := caddy.NewReplacer().ReplaceOrErr(get("secret"), true, true)
	if err != nil || secret == "" {
		return errors.New("--secret is empty or names an unknown placeholder")
	}
	id := get("id")
	if id == "" {
		id = verify.RandomID()
	}
	body, err := readBodyFlag(cmd, get("body"), id)
	if err != nil {
		return err
	}
	target := get("url")
	if send && target == "" {
		return errors.New("send needs --url")
	}
	signed, err := p.Sign(verify.SignOptions{
		Secret: secret, URL: target, Body: body, ContentType: get("content-type"), ID: id, Event: get("event"),
	})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if send {
		return sendSigned(out, signed)
	}
	if curl, _ := flags.GetBool("curl"); curl {
		return writeCurl(out, signed)
	}
	return writeSigned(out, cmd.ErrOrStderr(), signed, target, body)
}

// readBodyFlag reads --body: a file, - for stdin, or a test event.
func readBodyFlag(cmd *cobra.Command, name, id string) ([]byte, error) {
	switch name {
	case "":
		return fmt.Appendf(nil, `{"id":"evt_%s","type":"webhook.test","created":%d}`, strings.ReplaceAll(id, "-", ""), time.Now().Unix()), nil
	case "-":
		return io.ReadAll(cmd.InOrStdin())
	}
	return os.ReadFile(name)
}

// writeSigned prints the headers, one "Name: value" per line; a body or URL
// that the scheme changed follows, since the delivery needs them.
func writeSigned(out, notes io.Writer, s *verify.Signed, target string, body []byte) error {
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range s.Header {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(out, "%s: %s\n", name, s.Header.Get(name))
	}
	if s.URL != target {
		fmt.Fprintf(notes, "the signature covers this URL; send the delivery there:\n%s\n", s.URL)
	}
	if !bytes.Equal(s.Body, body) {
		fmt.Fprintf(out, "\n%s\n", s.Body)
	}
	return nil
}

// writeCurl prints a curl command that sends the signed delivery.
func writeCurl(out io.Writer, s *verify.Signed) error {
	target := s.URL
	if target == "" {
		target = "http://localhost:8080/"
	}
	fmt.Fprintf(out, "curl -sS -X %s %s", s.Method, shellQuote(target))
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range s.Header {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(out, " \\\n  -H %s", shellQuote(name+": "+s.Header.Get(name)))
	}
	_, err := fmt.Fprintf(out, " \\\n  --data-binary %s\n", shellQuote(string(s.Body)))
	return err
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// sendSigned sends the delivery and prints the answer.
func sendSigned(out io.Writer, s *verify.Signed) error {
	req, err := http.NewRequest(s.Method, s.URL, bytes.NewReader(s.Body))
	if err != nil {
		return err
	}
	req.Header = s.Header
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprintf(out, "%s %s\n", resp.Proto, resp.Status)
	if len(answer) > 0 {
		fmt.Fprintf(out, "%s\n", bytes.TrimSpace(answer))
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("the delivery was answered %s", resp.Status)
	}
	return nil
}

// writeProviders lists the presets, one per line.
func writeProviders(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROVIDER\tALIASES\tTOLERANCE\tDELIVERY ID\tSCHEME")
	for _, p := range verify.Presets() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, orDash(strings.Join(p.Aliases, ",")), tolerance(p), deliveryID(p), p.Summary)
	}
	return tw.Flush()
}

// deliveryID says where the dedupe key comes from: the provider's id, or,
// when that id is not signed, the body digest.
func deliveryID(p *verify.Preset) string {
	switch {
	case p.DeliveryID == "":
		return "- (body digest)"
	case p.Name == "hmac":
		return p.DeliveryID + "; body digest unless `signed` has {id}"
	case !p.IDSigned:
		return p.DeliveryID + " (unsigned: body digest)"
	}
	return p.DeliveryID
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
