package webhookverify

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/webhookverify/caddy-webhook-verify/events"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

// adminCommands adds the subcommands that talk to a running Caddy's admin
// endpoint: deliveries and replay.
func adminCommands(cmd *cobra.Command) {
	deliveries := &cobra.Command{
		Use:   "deliveries",
		Short: "Lists durable deliveries, newest first",
		Args:  cobra.NoArgs,
		RunE:  runDeliveries,
	}
	f := deliveries.Flags()
	f.String("route", "", "only this route")
	f.String("state", "", "only deliveries with a destination in this state: pending, delivered or dead")
	f.String("destination", "", "only deliveries to this destination")
	f.Int("limit", 50, "at most this many")
	f.Bool("json", false, "print the admin API's JSON")
	addAdminFlags(deliveries)
	cmd.AddCommand(deliveries)

	replay := &cobra.Command{
		Use:   "replay [<id>]",
		Short: "Delivers a delivery again (all its finished destinations, or --destination); with --state dead, every dead one",
		Args:  cobra.MaximumNArgs(1),
		RunE:  runReplay,
	}
	f = replay.Flags()
	f.String("destination", "", "only this destination")
	f.String("state", "", "replay every delivery in this state (dead or delivered) instead of one id")
	f.String("route", "", "with --state: only this route")
	addAdminFlags(replay)
	cmd.AddCommand(replay)
	cmd.AddCommand(tailCommand())
	cmd.AddCommand(listenCommand())
}

func addAdminFlags(c *cobra.Command) {
	c.Flags().String("address", "", "the admin endpoint (default: the one in --config, else localhost:2019)")
	c.Flags().String("config", "", "a config file to read the admin address from")
	c.Flags().String("adapter", "", "the config file's adapter")
}

// adminAddress is the admin endpoint the flags of addAdminFlags name.
func adminAddress(cmd *cobra.Command) (string, error) {
	flags := cmd.Flags()
	address, _ := flags.GetString("address")
	config, _ := flags.GetString("config")
	adapter, _ := flags.GetString("adapter")
	return caddycmd.DetermineAdminAPIAddress(address, nil, config, adapter)
}

// adminRequest calls the admin API and decodes its JSON answer.
func adminRequest(cmd *cobra.Command, method, uri string, out any) error {
	addr, err := adminAddress(cmd)
	if err != nil {
		return err
	}
	resp, err := caddycmd.AdminAPIRequest(addr, method, uri, nil, nil)
	if err != nil {
		return fmt.Errorf("admin endpoint %s: %w", addr, err)
	}
	defer resp.Body.Close()
	return json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out)
}

func runDeliveries(cmd *cobra.Command, _ []string) error {
	flags := cmd.Flags()
	q := url.Values{}
	for _, name := range []string{"route", "state", "destination"} {
		if v, _ := flags.GetString(name); v != "" {
			q.Set(name, v)
		}
	}
	limit, _ := flags.GetInt("limit")
	q.Set("limit", strconv.Itoa(limit))
	var list struct {
		Deliveries []journal.Delivery `json:"deliveries"`
	}
	if err := adminRequest(cmd, "GET", "/webhook/deliveries?"+q.Encode(), &list); err != nil {
		return err
	}
	if asJSON, _ := flags.GetBool("json"); asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	return writeDeliveries(cmd.OutOrStdout(), list.Deliveries)
}

// writeDeliveries prints one line per delivery and destination.
func writeDeliveries(w io.Writer, list []journal.Delivery) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVED\tID\tROUTE\tPROVIDER\tEVENT\tDESTINATION\tSTATE\tATTEMPTS\tLAST")
	for _, d := range list {
		for _, t := range d.Targets {
			var last []string
			if t.LastStatus != 0 {
				last = append(last, strconv.Itoa(t.LastStatus))
			}
			if t.LastError != "" {
				last = append(last, truncate(strings.Join(strings.Fields(t.LastError), " ")))
			}
			if t.State == journal.Pending && !t.Next.IsZero() {
				last = append(last, "next "+t.Next.Local().Format(time.TimeOnly))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.Received.Local().Format(time.DateTime), d.ID, d.Route,
				d.Provider, orDash(d.Event), t.Destination, t.State, t.Attempts, orDash(strings.Join(last, " ")))
		}
	}
	return tw.Flush()
}

func runReplay(cmd *cobra.Command, args []string) error {
	flags := cmd.Flags()
	destination, _ := flags.GetString("destination")
	state, _ := flags.GetString("state")
	route, _ := flags.GetString("route")
	q := url.Values{}
	if destination != "" {
		q.Set("destination", destination)
	}
	var uri string
	switch {
	case len(args) == 1 && state == "":
		uri = "/webhook/deliveries/" + url.PathEscape(args[0]) + "/replay"
	case len(args) == 0 && state != "":
		q.Set("state", state)
		if route != "" {
			q.Set("route", route)
		}
		uri = "/webhook/replay"
	default:
		return errors.New("give a delivery id, or --state dead (and optionally --route), not both")
	}
	if len(q) > 0 {
		uri += "?" + q.Encode()
	}
	var out struct {
		Replayed int `json:"replayed"`
	}
	if err := adminRequest(cmd, "POST", uri, &out); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "replayed %d destination(s)\n", out.Replayed)
	return nil
}

// tailCommand follows the admin endpoint's event stream.
func tailCommand() *cobra.Command {
	tail := &cobra.Command{
		Use:   "tail",
		Short: "Follows every webhook decision live (the admin endpoint's event stream), one line per event",
		Args:  cobra.NoArgs,
		RunE:  runTail,
	}
	f := tail.Flags()
	f.Bool("json", false, "print each event as JSON")
	f.String("route", "", "only these routes (comma-separated)")
	f.String("type", "", "only these event types (comma-separated), e.g. rejected,dead")
	f.Bool("color", isTerminal(), "colour failures red and successes green")
	f.Int("count", 0, "exit after this many events (0: follow until interrupted)")
	addAdminFlags(tail)
	return tail
}

func runTail(cmd *cobra.Command, _ []string) error {
	flags := cmd.Flags()
	q := url.Values{}
	for _, name := range []string{"route", "type"} {
		if v, _ := flags.GetString(name); v != "" {
			q.Set(name, v)
		}
	}
	addr, err := adminAddress(cmd)
	if err != nil {
		return err
	}
	asJSON, _ := flags.GetBool("json")
	color, _ := flags.GetBool("color")
	count, _ := flags.GetInt("count")
	out := cmd.OutOrStdout()
	lastID, seen := "", 0
	for {
		uri := "/webhook/events?" + q.Encode()
		header := http.Header{"Accept": {"text/event-stream"}}
		if lastID != "" {
			header.Set("Last-Event-ID", lastID)
		}
		resp, err := caddycmd.AdminAPIRequest(addr, http.MethodGet, uri, header, nil)
		if err != nil {
			return fmt.Errorf("admin endpoint %s: %w", addr, err)
		}
		done := errors.New("done")
		err = readEvents(resp.Body, func(id, data string) error {
			lastID = id
			var e events.Event
			if json.Unmarshal([]byte(data), &e) != nil || e.Type == "" {
				return nil // a reset or a heartbeat's kin
			}
			if asJSON {
				fmt.Fprintln(out, data)
			} else {
				fmt.Fprintln(out, eventLine(e, color))
			}
			if seen++; count > 0 && seen >= count {
				return done
			}
			return nil
		})
		resp.Body.Close()
		if errors.Is(err, done) {
			return nil
		}
		// the stream ended (Caddy reloaded or restarted): resume
		time.Sleep(time.Second)
	}
}

// readEvents reads a text/event-stream, calling fn for every event until
// fn returns an error.
func readEvents(r io.Reader, fn func(id, data string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var id string
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(data) > 0 {
				if err := fn(id, strings.Join(data, "\n")); err != nil {
					return err
				}
			}
			data = data[:0]
		case strings.HasPrefix(line, "id:"):
			id = strings.TrimSpace(line[3:])
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(line[5:], " "))
		}
	}
	return sc.Err()
}

// eventLine is one readable line about an event.
func eventLine(e events.Event, color bool) string {
	parts := []string{e.Time.Local().Format(time.TimeOnly), e.Type}
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("route", e.Route)
	add("provider", e.Provider)
	add("event", e.EventType)
	add("id", firstOf(e.DeliveryID, e.ProviderID))
	add("reason", e.Reason)
	add("destination", e.Destination)
	if e.Status != 0 {
		add("status", strconv.Itoa(e.Status))
	}
	if e.Attempt != 0 {
		add("attempt", strconv.Itoa(e.Attempt))
	}
	if e.Duration != 0 {
		add("took", e.Duration.Round(time.Millisecond).String())
	}
	add("error", e.Error)
	if !e.NextAttempt.IsZero() {
		add("next", e.NextAttempt.Local().Format(time.TimeOnly))
	}
	line := strings.Join(parts, "  ")
	if !color {
		return line
	}
	switch {
	case events.Failure(e.Type):
		return "\x1b[31m" + line + "\x1b[0m"
	case e.Type == events.TypeDelivered || e.Type == events.TypeForwarded || e.Type == events.TypeAccepted:
		return "\x1b[32m" + line + "\x1b[0m"
	}
	return line
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// isTerminal reports whether stdout is a terminal (for colour).
func isTerminal() bool {
	fi, err := os.Stdout.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
