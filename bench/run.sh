#!/usr/bin/env bash
# Checkout benchmark against a release build on loopback.
#
#   bench/run.sh [sqlite|postgres] [shoppers] [seconds] [full|normal]
#
# Starts LSN on a fresh database (PostgreSQL: LSN_BENCH_DATABASE_URL, e.g. the one scripts/test.sh
# starts), seeds a product with plenty of stock, drives shoppers through browse → search →
# product → cart → checkout → pay, then a contention run (2,000 buyers, 25 units), and checks
# that no unit was oversold. Prints markdown tables for docs/BENCHMARKS.md. Bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
db=${1:-sqlite}; shoppers=${2:-100}; seconds=${3:-20}; sync=${4:-full}
source bench/lib.sh
bench_init "${LSN_BENCH_PORT:-3900}"
export LSN_DB_SYNCHRONOUS=$sync LSN_DB_MAX_CONNECTIONS=${LSN_DB_MAX_CONNECTIONS:-16}
[ "$db" = postgres ] && bench_postgres lsn_bench
bench_user bench@lsn.local admin bench-admin-password
bench_start
jar="$work/jar"
csrf=$(curl -sf -c "$jar" -H 'content-type: application/json' -d '{"email":"bench@lsn.local","password":"bench-admin-password"}' "$base/api/auth/login" | python3 -c 'import sys,json; print(json.load(sys.stdin)["csrf_token"])')
post() { curl -sf -b "$jar" -H "x-csrf-token: $csrf" -H 'content-type: application/json' -d "$2" "$base$1" >/dev/null; }
post /api/v1/products '{"title":"Bench Tee","slug":"bench-tee","status":"active","category":"Bench","variants":[{"sku":"BENCH-TEE","price":3300}]}'
post /api/v1/inventory/receive '{"sku":"BENCH-TEE","bin":"A-01-1","quantity":1000000}'
post /api/v1/products '{"title":"Bench Drop","slug":"bench-drop","status":"active","variants":[{"sku":"BENCH-DROP","price":9900}]}'
post /api/v1/inventory/receive '{"sku":"BENCH-DROP","bin":"A-02-1","quantity":25}'
label="$db, synchronous=$sync"
[ "$db" = postgres ] && label="PostgreSQL $(psql -tAc "SHOW server_version" "$bench_pg_admin" | cut -d" " -f1) (fsync=$(psql -tAc "SHOW fsync" "$bench_pg_admin"), synchronous_commit=$(psql -tAc "SHOW synchronous_commit" "$bench_pg_admin"))"
target/release/lsn-bench --base "$base" --scenario checkout --shoppers "$shoppers" --seconds "$seconds" --label "$label"
target/release/lsn-bench --base "$base" --scenario contention --shoppers 2000 --sku BENCH-DROP --label "$label, 25 units"
stock=$(curl -sf -b "$jar" "$base/api/v1/inventory/BENCH-DROP")
echo
echo "$stock" | python3 -c '
import sys, json
j = json.load(sys.stdin)
print("contention stock after the race: BENCH-DROP on_hand=%d reserved=%d available=%d, oversold: %s" % (j["on_hand"], j["reserved"], j["available"], "no" if j["available"] >= 0 and j["on_hand"] >= 0 else "YES"))'
