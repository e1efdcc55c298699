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
    In another terminal, send signed test deliveries:
        bin/caddy webhook send --provider github --secret $GITHUB_WEBHOOK_SECRET --url http://localhost:8080/github --event push --body example/push.json
    (202 at once: the delivery is journaled; the app and its CI endpoint print it)
        bin/caddy webhook send --provider stripe --secret $STRIPE_WEBHOOK_SECRET --url http://localhost:8080/stripe
        bin/caddy webhook send --provider gitlab --secret $GITLAB_WEBHOOK_TOKEN --url http://localhost:8080/gitlab
    (200: these routes hand the delivery to the app synchronously)
    and a forged one (401, the app never sees it):
        curl -i -X POST http://localhost:8080/github/push -H 'X-Hub-Signature-256: sha256=00' -d '{}'
    See the durable deliveries:  curl -s localhost:2019/webhook/deliveries
    and the gateway's metrics at http://localhost:2019/metrics (caddy_webhook_*).

MSG
bin/caddy run --config example/Caddyfile --adapter caddyfile
