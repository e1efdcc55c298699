#!/usr/bin/env bash
# Builds Caddy with this module (xcaddy) and runs the example gateway on
# :8080 in front of the tiny app in example/app. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$(go env GOPATH)/bin:$PATH"
if ! command -v xcaddy >/dev/null; then
	echo "==> installing xcaddy"
	go install github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5
fi
echo "==> building Caddy v2.11.9 with the module (the first build takes a few minutes)"
mkdir -p bin
xcaddy build v2.11.9 --with github.com/webhookverify/caddy-webhook-verify@v0.0.0=. --output bin/caddy
go build -o bin/example-app ./example/app

export GITHUB_WEBHOOK_SECRET="${GITHUB_WEBHOOK_SECRET:-example-github-secret}"
export STRIPE_WEBHOOK_SECRET="${STRIPE_WEBHOOK_SECRET:-whsec_example_stripe_secret}"
export GITLAB_WEBHOOK_TOKEN="${GITLAB_WEBHOOK_TOKEN:-example-gitlab-token}"

bin/example-app &
app=$!
trap 'kill $app 2>/dev/null || true' EXIT

cat <<MSG

==> the gateway listens on http://localhost:8080, the app on 127.0.0.1:9000
    In another terminal, send a signed test delivery:
        go run ./example/send -provider github          # 200, the app prints it
        go run ./example/send -provider stripe
        go run ./example/send -provider gitlab
        go run ./example/send -provider github -tamper  # 401, the app never sees it

MSG
bin/caddy run --config example/Caddyfile --adapter caddyfile
