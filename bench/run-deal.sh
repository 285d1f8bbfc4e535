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
source bench/lib.sh
bench_init "${LSN_BENCH_PORT:-3902}"
export LSN_DB_SYNCHRONOUS=${LSN_DB_SYNCHRONOUS:-full}
bench_user host@lsn.local admin bench-host-password
bench_start
cookie=$(bench_login host@lsn.local bench-host-password)
csrf=$(bench_csrf "$cookie")
post() { curl -sf -H "cookie: $cookie" -H "x-csrf-token: $csrf" -H 'content-type: application/json' -d "$2" "$base$1"; }
post /api/v1/products '{"title":"Bench Drop","slug":"bench-drop","status":"active","variants":[{"sku":"BENCH-DROP","price":9900}]}' >/dev/null
post /api/v1/inventory/receive "{\"sku\":\"BENCH-DROP\",\"bin\":\"A-02-1\",\"quantity\":$((units * 2))}" >/dev/null
now=$(($(date +%s) * 1000))
show=$(post /api/v1/live/shows "{\"title\":\"Bench Drop Live\",\"scheduled_at\":$now}" | python3 -c 'import sys,json; print(json.load(sys.stdin)["show"]["id"])')
post "/api/v1/live/shows/$show/start" '{}' >/dev/null
target/release/lsn-bench --base "$base" --scenario deal --show "$show" --cookie "$cookie" --sku BENCH-DROP --shoppers "$buyers" --quantity "$units" --label "SQLite, synchronous=$LSN_DB_SYNCHRONOUS"
