#!/usr/bin/env bash
# Flash-deal race against a release build on loopback.
#
#   bench/run-deal.sh [buyers] [units]
#
# Starts LSN on a fresh SQLite database, creates a creator, a live show and a product with stock,
# and lets lsn-bench (as the host) pin it and start a deal; when the 10-second countdown ends all
# buyers try at once, first with cold connections, then (a second deal) with warm ones. Prints
# orders won (must equal the units), answers and their latency.
set -euo pipefail
cd "$(dirname "$0")/.."
buyers=${1:-2000}; units=${2:-100}
source bench/lib.sh
bench_init "${LSN_BENCH_PORT:-3902}"
export LSN_DB_SYNCHRONOUS=${LSN_DB_SYNCHRONOUS:-full}
bench_user host@lsn.local admin bench-host-password
bench_start
bench_as host@lsn.local bench-host-password
bench_product "Bench Drop" BENCH-DROP 9900 $((units * 2)) A-02-1
show=$(bench_live_show "Bench Drop Live")
# Cold: every buyer connects in the moment of the race. Warm: every buyer has fetched the deal
# during the countdown, as the live page does, and keeps its connection.
for mode in cold warm; do
  flag=""; sku=BENCH-DROP
  if [ "$mode" = warm ]; then
    flag=--warm; sku=BENCH-DROP-2
    bench_product "Bench Drop Two" "$sku" 9900 $((units * 2)) A-02-2
    show=$(bench_live_show "Bench Drop Live Two")
  fi
  target/release/lsn-bench --base "$base" --scenario deal --show "$show" --cookie "$cookie" --sku "$sku" --shoppers "$buyers" --quantity "$units" \
    $flag --label "SQLite, synchronous=$LSN_DB_SYNCHRONOUS"
done
# The server's own view of the buy requests (from its /metrics histogram), both runs together:
# what the buyers waited beyond this was spent on the client's side of the two shared cores.
echo
echo "server-side latency of the buy requests (both runs), cumulative:"
curl -sf "$base/metrics" | grep -E 'lsn_http_request_duration_seconds_bucket\{method="POST",route="[^"]*deals[^"]*buy"' \
  | sed 's/.*le="\([^"]*\)"} \(.*\)/  <= \1 s: \2/'
