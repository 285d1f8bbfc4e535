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
