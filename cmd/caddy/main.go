// Command caddy is Caddy with the standard modules and this one: what
// `xcaddy build --with github.com/webhookverify/caddy-webhook-verify`
// makes, buildable with plain `go build ./cmd/caddy`. The tests that need
// a real Caddy process (crash and reload tests) build it.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	// the standard modules, and this one
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/webhookverify/caddy-webhook-verify"
)

func main() {
	caddycmd.Main()
}
