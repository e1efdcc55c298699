package webhookverify

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/webhookverify/caddy-webhook-verify/console"
	"github.com/webhookverify/caddy-webhook-verify/events"
	"github.com/webhookverify/caddy-webhook-verify/journal"
)

func init() {
	caddy.RegisterModule(Console{})
	httpcaddyfile.RegisterDirective("webhook_console", parseConsole)
	httpcaddyfile.RegisterDirectiveOrder("webhook_console", httpcaddyfile.After, "forward_auth")
}

// Console serves the webhook console: one self-contained page (no CDN, no
// build step) with a live table of every decision on every webhook_verify
// route (verified, rejected and why, duplicate, rate limited, forwarded,
// and for durable routes accepted, each attempt, delivered, dead,
// replayed), filters, a detail panel with redacted headers and each
// attempt, and Replay buttons; plus the JSON and event-stream endpoints
// the page uses, under Base.
//
// Caddy's admin endpoint cannot host a page for people (it refuses
// browsers), so the console is a handler in a site. Safe by default: it
// answers only loopback clients, unless AllowRemote is set; replays are
// same-origin POSTs with a CSRF token.
type Console struct {
	// Base is the path the console is served under; the Caddyfile sets it
	// from a path matcher such as /console/*. Default "/".
	Base string `json:"base,omitempty"`

	// AllowRemote answers clients that are not on loopback. Set it only
	// when the site puts the console behind authentication (basic_auth,
	// forward_auth): the console shows what webhooks carry and replays
	// them.
	AllowRemote bool `json:"allow_remote,omitempty"`

	app     *App
	console *console.Console
}

// CaddyModule returns the Caddy module information.
func (Console) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.webhook_console",
		New: func() caddy.Module { return new(Console) },
	}
}

// Provision makes the page's handler over the webhook app.
func (c *Console) Provision(ctx caddy.Context) error {
	app, err := webhookApp(ctx)
	if err != nil {
		return err
	}
	c.app = app
	c.console, err = console.New(console.Options{
		Base: c.Base, Hub: app.hub, Source: appSource{app}, AllowRemote: c.AllowRemote,
		ClientIP: func(r *http.Request) string {
			ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
			return ip
		},
	})
	return err
}

// ServeHTTP serves the console; it never calls the next handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	c.console.ServeHTTP(w, r)
	return nil
}

// appSource is the console's view of the running webhook app: the
// journal and dispatcher as they are now (they may open after the
// console), and the rejected requests.
type appSource struct{ app *App }

func (s appSource) List(ctx context.Context, f journal.Filter) ([]journal.Delivery, error) {
	store := s.app.journal()
	if store == nil {
		return nil, nil
	}
	return store.List(ctx, f)
}

func (s appSource) Get(ctx context.Context, id string) (*journal.Delivery, error) {
	store := s.app.journal()
	if store == nil {
		return nil, journal.ErrNotFound
	}
	return store.Get(ctx, id)
}

func (s appSource) Replay(ctx context.Context, id, destination string) (int, error) {
	d, err := s.app.dispatcher()
	if err != nil {
		return 0, fmt.Errorf("no durable route to replay with: %w", err)
	}
	return d.Replay(ctx, id, destination)
}

func (s appSource) Rejected(_ context.Context, route string, limit int) ([]events.Rejected, error) {
	return s.app.rejected.List(route, limit), nil
}

// parseConsole parses
//
//	webhook_console [<matcher>] {
//		allow_remote
//	}
//
// With a path matcher such as /console/*, the page is served under
// /console/.
func parseConsole(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	h.Next() // directive name
	base := ""
	if h.NextArg() {
		if v := h.Val(); strings.HasPrefix(v, "/") {
			base = strings.TrimRight(strings.TrimSuffix(v, "*"), "/") + "/"
		}
	}
	h.Reset()
	h.Next()
	matcherSet, err := h.ExtractMatcherSet()
	if err != nil {
		return nil, err
	}
	c := &Console{Base: base}
	if err := c.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return h.NewRoute(matcherSet, c), nil
}

// UnmarshalCaddyfile sets up the console from Caddyfile tokens. Syntax:
//
//	webhook_console [<matcher>] {
//		allow_remote
//	}
func (c *Console) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	return eachSubdirective(d, "webhook_console: ", nil, func(sub string) error {
		switch sub {
		case "allow_remote":
			if d.NextArg() {
				return d.ArgErr()
			}
			c.AllowRemote = true
		default:
			return d.Errf("webhook_console: unrecognized subdirective '%s'", sub)
		}
		return nil
	})
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Console)(nil)
	_ caddyhttp.MiddlewareHandler = (*Console)(nil)
	_ caddyfile.Unmarshaler       = (*Console)(nil)
)
