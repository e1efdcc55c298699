package webhookverify

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// warnOpenRoutes logs a warning for each reverse_proxy that follows a
// webhook_verify with a matcher in the same route list, but has no matcher
// itself: it also proxies requests that webhook_verify never checked (a
// path next to the matched one, `/github` beside `/github/*`, say), so a
// forgery sent there reaches the app.
func warnOpenRoutes(logger *zap.Logger, httpApp *caddyhttp.App) {
	for name, srv := range httpApp.Servers {
		warnOpenList(logger, name, srv.Routes)
	}
}

func warnOpenList(logger *zap.Logger, server string, routes caddyhttp.RouteList) {
	var narrow []string // routes of matched webhook_verify handlers seen so far
	for _, route := range routes {
		for _, handler := range route.Handlers {
			switch h := handler.(type) {
			case *Handler:
				if len(route.MatcherSets) > 0 {
					narrow = append(narrow, h.Name)
				}
			case *caddyhttp.Subroute:
				warnOpenList(logger, server, h.Routes)
			default:
				if len(narrow) > 0 && len(route.MatcherSets) == 0 && caddy.GetModuleName(handler) == "reverse_proxy" {
					logger.Warn("a reverse_proxy without a matcher follows webhook_verify routes with matchers: "+
						"requests they do not match reach the upstream unverified; give the proxy the same matcher, "+
						"or put each webhook_verify and its proxy in a handle block",
						zap.String("server", server), zap.Strings("webhook_verify_routes", narrow))
					narrow = nil
				}
			}
		}
	}
}
