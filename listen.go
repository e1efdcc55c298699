package webhookverify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"

	"github.com/webhookverify/caddy-webhook-verify/events"
	"github.com/webhookverify/caddy-webhook-verify/redact"
)

// listenCommand is `caddy webhook listen`: a subscriber of a
// webhook_stream that re-sends each delivery to a local app.
func listenCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "listen --from <stream URL> --token <token> [--forward <url>] [--resign <secret>] [--print]",
		Short: "Follows a webhook_stream and re-sends each delivery to a local app",
		Args:  cobra.NoArgs,
		RunE:  runListen,
	}
	f := c.Flags()
	f.String("from", "", "the webhook_stream's URL, e.g. https://hooks.example.com/_stream/dev")
	f.String("token", "", "the stream's token; {env.*} and {file.*} placeholders work")
	f.String("forward", "", "re-send every delivery here (method, headers and body as they came)")
	f.String("resign", "", "re-sign each forwarded delivery as Standard Webhooks with this whsec_ secret, instead of keeping the provider's signature")
	f.Bool("print", false, "only print the deliveries, do not forward them")
	f.String("last-event-id", "", "resume after this position")
	f.Int("count", 0, "exit after this many deliveries (0: follow until interrupted)")
	return c
}

// errStreamAuth ends listen: retrying cannot fix a refused token or a
// wrong URL.
var errStreamAuth = errors.New("the stream refused")

func runListen(cmd *cobra.Command, _ []string) error {
	flags := cmd.Flags()
	get := func(name string) string { v, _ := flags.GetString(name); return v }
	from, forward, resign := get("from"), get("forward"), get("resign")
	printOnly, _ := flags.GetBool("print")
	count, _ := flags.GetInt("count")
	if checkURL(from) != nil {
		return fmt.Errorf("--from: want the stream's http:// or https:// URL")
	}
	if forward == "" && !printOnly {
		return errors.New("--forward <url> (or --print to only print)")
	}
	token, err := caddy.NewReplacer().ReplaceOrErr(get("token"), true, true)
	if err != nil || token == "" {
		return errors.New("--token is empty or names an unknown placeholder")
	}
	var key []byte
	if resign != "" {
		if key, err = base64.StdEncoding.DecodeString(strings.TrimPrefix(resign, "whsec_")); err != nil || len(key) == 0 {
			return errors.New("--resign: want a Standard Webhooks secret, whsec_ and base64")
		}
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()

	l := &listener{from: from, token: token, forward: forward, key: key, printOnly: printOnly, count: count,
		lastID: get("last-event-id"), out: cmd.OutOrStdout(), client: &http.Client{Timeout: 30 * time.Second}}
	backoff := time.Second
	for {
		err := l.follow(ctx)
		switch {
		case errors.Is(err, errStreamAuth), errors.Is(err, errListenDone):
			if errors.Is(err, errListenDone) {
				return nil
			}
			return err
		case ctx.Err() != nil:
			return nil
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "stream dropped (%v); reconnecting in %s from %s\n", err, backoff, orDash(l.lastID))
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil
		}
		if l.progressed {
			backoff = time.Second
		} else {
			backoff = min(2*backoff, 30*time.Second)
		}
	}
}

var errListenDone = errors.New("done")

type listener struct {
	from, token, forward string
	key                  []byte
	printOnly            bool
	count, seen          int
	lastID               string
	progressed           bool
	out                  io.Writer
	client               *http.Client
}

// follow reads the stream until it ends, forwarding each delivery; it
// advances lastID only past deliveries forwarded (or printed), so a
// dropped connection resumes without losing one.
func (l *listener) follow(ctx context.Context) error {
	l.progressed = false
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.from, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", errStreamAuth, err)
	}
	req.Header.Set("Authorization", "Bearer "+l.token)
	req.Header.Set("Accept", "text/event-stream")
	if l.lastID != "" {
		req.Header.Set("Last-Event-ID", l.lastID)
	}
	resp, err := (&http.Client{}).Do(req) // no timeout: the stream lasts
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w the token (401): check --token", errStreamAuth)
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed ||
		(resp.StatusCode < 300 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")):
		return fmt.Errorf("%w: no webhook_stream at %s (%s, %q)", errStreamAuth, l.from, resp.Status, resp.Header.Get("Content-Type"))
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("the stream answered %s", resp.Status) // 5xx: Caddy restarting, say; try again
	}
	return readEvents(resp.Body, func(id, data string) error {
		var d events.Delivery
		if err := json.Unmarshal([]byte(data), &d); err != nil || d.ID == "" {
			return nil // a reset notice, or not a delivery
		}
		if err := l.handle(ctx, d); err != nil {
			return err
		}
		l.lastID, l.progressed = id, true
		if l.seen++; l.count > 0 && l.seen >= l.count {
			return errListenDone
		}
		return nil
	})
}

// handle prints a delivery and, unless printing only, re-sends it to the
// local app, trying again (with backoff) while the app is not there.
func (l *listener) handle(ctx context.Context, d events.Delivery) error {
	line := fmt.Sprintf("%s  %s  %s  event=%s  id=%s", d.Received.Local().Format(time.TimeOnly), d.Route, d.Provider, orDash(d.Event), d.ID)
	if l.printOnly {
		fmt.Fprintln(l.out, line)
		return nil
	}
	body, err := d.Bytes()
	if err != nil {
		return err
	}
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		status, err := l.send(ctx, d, body)
		if err == nil {
			fmt.Fprintf(l.out, "%s  -> %d\n", line, status)
			return nil
		}
		fmt.Fprintf(l.out, "%s  -> %v (again in %s)\n", line, err, wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// send re-sends one delivery: the original method, headers and body
// byte-for-byte (so the app's own signature check passes, if its clock
// tolerance allows), or re-signed as Standard Webhooks with --resign. Any
// answer from the app counts as sent; only a failure to reach it is
// retried.
func (l *listener) send(ctx context.Context, d events.Delivery, body []byte) (int, error) {
	target, err := url.Parse(l.forward)
	if err != nil {
		return 0, err
	}
	method := d.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header = d.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("X-Webhook-Stream-Id", d.ID)
	if l.key != nil {
		for name := range req.Header {
			if redact.Classify(name) == redact.Signature {
				req.Header.Del(name)
			}
		}
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		m := hmac.New(sha256.New, l.key)
		m.Write([]byte(d.ID + "." + ts + "."))
		m.Write(body)
		req.Header.Set("Webhook-Id", d.ID)
		req.Header.Set("Webhook-Timestamp", ts)
		req.Header.Set("Webhook-Signature", "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}
