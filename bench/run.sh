#!/usr/bin/env bash
# Checkout benchmark against a release build on loopback.
#
#   bench/run.sh [sqlite|postgres] [shoppers] [seconds] [full|normal] [orders/s]
#
# With orders/s the shoppers are paced to place that many orders a second together (each on a
# fixed beat), so latency is measured at that load; without it each shopper starts again as soon
# as it is done (a closed loop: throughput at saturation).
#
# Starts LSN on a fresh database (PostgreSQL: LSN_BENCH_DATABASE_URL, e.g. the one scripts/test.sh
# starts), seeds a product with plenty of stock, drives shoppers through browse → search →
# product → cart → checkout → pay, then a contention run (2,000 buyers, 25 units), and checks
# that no unit was oversold. Prints markdown tables for docs/BENCHMARKS.md. Bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
db=${1:-sqlite}; shoppers=${2:-100}; seconds=${3:-20}; sync=${4:-full}; rate=${5:-0}
source bench/lib.sh
bench_init "${LSN_BENCH_PORT:-3900}"
export LSN_DB_SYNCHRONOUS=$sync LSN_DB_MAX_CONNECTIONS=${LSN_DB_MAX_CONNECTIONS:-16}
[ "$db" = postgres ] && bench_postgres lsn_bench
bench_user bench@lsn.local admin bench-admin-password
bench_start
bench_as bench@lsn.local bench-admin-password
bench_product "Bench Tee" BENCH-TEE 3300 1000000 A-01-1 Bench
bench_product "Bench Drop" BENCH-DROP 9900 25 A-02-1
referral=()
if [ "${LSN_BENCH_REFERRAL:-0}" = 1 ]; then
  # Every shopper follows an approved creator's link first: every order is attributed.
  bench_user creator@lsn.local customer bench-creator-password
  bench_as creator@lsn.local bench-creator-password
  creator=$(bench_post /api/v1/creators/apply '{"handle":"bench","display_name":"Bench Creator"}' | python3 -c 'import sys, json; print(json.load(sys.stdin)["creator"]["id"])')
  bench_as bench@lsn.local bench-admin-password
  bench_post "/api/v1/admin/creators/$creator/decision" '{"action":"approve"}' >/dev/null
  bench_as creator@lsn.local bench-creator-password
  bench_post /api/v1/creators/me/links '{"target":"/","code":"BENCH-REF"}' >/dev/null
  bench_as bench@lsn.local bench-admin-password
  referral=(--referral BENCH-REF)
fi
label="$db, synchronous=$sync"
[ ${#referral[@]} -gt 0 ] && label="$label, every shopper referred by a creator"
[ "$db" = postgres ] && label="PostgreSQL $(psql -tAc "SHOW server_version" "$bench_pg_admin" | cut -d" " -f1) (fsync=$(psql -tAc "SHOW fsync" "$bench_pg_admin"), synchronous_commit=$(psql -tAc "SHOW synchronous_commit" "$bench_pg_admin"))"
[ "$rate" != 0 ] && label="$label, paced at $rate orders/s"
target/release/lsn-bench --base "$base" --scenario checkout --shoppers "$shoppers" --seconds "$seconds" --orders-per-second "$rate" "${referral[@]}" --label "$label"
target/release/lsn-bench --base "$base" --scenario contention --shoppers 2000 --sku BENCH-DROP --label "$label, 25 units"
stock=$(curl -sf -H "cookie: $cookie" "$base/api/v1/inventory/BENCH-DROP")
echo
echo "$stock" | python3 -c '
import sys, json
j = json.load(sys.stdin)
print("contention stock after the race: BENCH-DROP on_hand=%d reserved=%d available=%d, oversold: %s" % (j["on_hand"], j["reserved"], j["available"], "no" if j["available"] >= 0 and j["on_hand"] >= 0 else "YES"))'
