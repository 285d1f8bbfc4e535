#!/usr/bin/env bash
# Flash-deal race against a release build on loopback.
#
#   bench/run-deal.sh [buyers] [units]
#
# Starts LSN on a fresh SQLite database, creates a creator, a live show and a product with stock,
# and lets lsn-bench (as the host) pin it and start a deal; when the 10-second countdown ends all
# buyers try at once. Prints orders won (must equal the units), answers and their latency.
set -euo pipefail
cd "$(dirname "$0")/.."
buyers=${1:-2000}; units=${2:-100}
port=${LSN_BENCH_PORT:-3902}
base="http://127.0.0.1:$port"
cargo build --release -q -p lsn -p lsn-bench
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export LSN_DATA_DIR="$work/data" PORT=$port LSN_DEMO=false LSN_LOG=warn LSN_DB_SYNCHRONOUS=${LSN_DB_SYNCHRONOUS:-full}
ulimit -n 20000 2>/dev/null || true
LSN_ADMIN_PASSWORD=bench-host-password target/release/lsn admin create --email host@lsn.local --role admin >/dev/null
target/release/lsn serve > "$work/serve.log" 2>&1 &
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
cookie=$(curl -si -H 'content-type: application/json' -d '{"email":"host@lsn.local","password":"bench-host-password"}' "$base/api/auth/login" | grep -i '^set-cookie: lsn_session' | sed 's/^[Ss]et-[Cc]ookie: //; s/;.*//' | tr -d '\r')
csrf=$(curl -sf -H "cookie: $cookie" "$base/api/auth/me" | python3 -c 'import sys,json; print(json.load(sys.stdin)["csrf_token"])')
post() { curl -sf -H "cookie: $cookie" -H "x-csrf-token: $csrf" -H 'content-type: application/json' -d "$2" "$base$1"; }
post /api/v1/products '{"title":"Bench Drop","slug":"bench-drop","status":"active","variants":[{"sku":"BENCH-DROP","price":9900}]}' >/dev/null
post /api/v1/inventory/receive "{\"sku\":\"BENCH-DROP\",\"bin\":\"A-02-1\",\"quantity\":$((units * 2))}" >/dev/null
now=$(($(date +%s) * 1000))
show=$(post /api/v1/live/shows "{\"title\":\"Bench Drop Live\",\"scheduled_at\":$now}" | python3 -c 'import sys,json; print(json.load(sys.stdin)["show"]["id"])')
post "/api/v1/live/shows/$show/start" '{}' >/dev/null
target/release/lsn-bench --base "$base" --scenario deal --show "$show" --cookie "$cookie" --sku BENCH-DROP --shoppers "$buyers" --quantity "$units" --label "SQLite, synchronous=$LSN_DB_SYNCHRONOUS"
