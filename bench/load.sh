#!/usr/bin/env bash
# Load test on loopback: wrk sends 1 KiB GitHub-signed deliveries to Caddy
# with webhook_verify + reverse_proxy and to Caddy with reverse_proxy alone,
# in alternating rounds, and prints requests/s and the ratio of the medians.
# With two or more CPUs, Caddy gets CPU 0 to itself (GOMAXPROCS=1) and wrk
# and the upstream share CPU 1, so Caddy is the bottleneck being measured
# and the numbers do not swing with the scheduler.
#   bench/load.sh [seconds per round, default 10] [connections, default 32] [rounds, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
conns="${2:-32}"
rounds="${3:-5}"
caddy_cpu=() load_cpu=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	caddy_cpu=(env GOMAXPROCS=1 taskset -c 0) load_cpu=(taskset -c 1)
fi
export PATH="$(go env GOPATH)/bin:$PATH"

if ! command -v wrk >/dev/null; then
	echo "==> installing wrk"
	apt-get install -y wrk >/dev/null 2>&1 || sudo apt-get install -y wrk >/dev/null
fi
# (re)build Caddy when it is missing or older than the module's code
if [ ! -x bin/caddy ] || [ -n "$(find . -name '*.go' -newer bin/caddy -not -path './bin/*' | head -1)" ]; then
	command -v xcaddy >/dev/null || go install github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5
	xcaddy build v2.11.9 --with github.com/webhookverify/caddy-webhook-verify@v0.0.0=. --output bin/caddy
fi
go build -o bin/loadkit ./bench/loadkit

export BENCH_GITHUB_SECRET="bench-secret-$RANDOM"
work=$(mktemp -d)
bin/loadkit -lua "$work/deliveries.lua" -secret "$BENCH_GITHUB_SECRET" -size 1024
"${load_cpu[@]}" bin/loadkit -upstream 127.0.0.1:18090 &
pids=($!)
"${caddy_cpu[@]}" bin/caddy run --config bench/Caddyfile --adapter caddyfile >"$work/caddy.log" 2>&1 &
pids+=($!)
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do
	curl -fsS -o /dev/null http://127.0.0.1:18081/ 2>/dev/null && break
	sleep 0.2
done

# A signed delivery must pass, an unsigned one must not: otherwise the
# numbers would measure the wrong thing.
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:18082/ -d '{}')
[ "$status" = 401 ] || { echo "unsigned delivery got $status, want 401"; exit 1; }

rps() { # url -> requests/s
	"${load_cpu[@]}" wrk -t2 -c"$conns" -d"${duration}s" -s "$work/deliveries.lua" "$1" | tee -a "$work/wrk.log" |
		awk '/Non-2xx/ {bad=1} /Requests\/sec/ {r=$2} END {if (bad) print "non-2xx"; else print r}'
}

# warm up both (the first seconds after a start run slow and uneven)
for port in 18081 18082; do
	"${load_cpu[@]}" wrk -t2 -c"$conns" -d5s -s "$work/deliveries.lua" http://127.0.0.1:$port/ >/dev/null
done
plain=() verified=()
for round in $(seq "$rounds"); do
	# alternate which goes first, so drift favours neither
	if [ $((round % 2)) = 1 ]; then
		p=$(rps http://127.0.0.1:18081/)
		v=$(rps http://127.0.0.1:18082/)
	else
		v=$(rps http://127.0.0.1:18082/)
		p=$(rps http://127.0.0.1:18081/)
	fi
	if [ "$p" = non-2xx ] || [ "$v" = non-2xx ]; then
		echo "some requests were not answered 2xx:"; cat "$work/wrk.log"; exit 1
	fi
	plain+=("$p") verified+=("$v")
	printf 'round %d: reverse_proxy %10.0f req/s   webhook_verify+reverse_proxy %10.0f req/s\n' "$round" "$p" "$v"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mp=$(median "${plain[@]}") mv=$(median "${verified[@]}")
awk -v p="$mp" -v v="$mv" 'BEGIN {printf "median: reverse_proxy %.0f req/s, webhook_verify+reverse_proxy %.0f req/s, ratio %.3f\n", p, v, v/p}'
