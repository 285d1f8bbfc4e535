#!/usr/bin/env bash
# The runbook's load tests (Phase 4) against a release build on loopback: normal (100 users),
# peak (500), stress (1,000) and spike (100 → 1,000), each for a bounded time. Every fifth user
# watches a live show while the host chats; the others shop (browse → search → product → cart →
# checkout → pay, again and again). Prints each run's step latencies and the runbook's targets
# table with the measured values, and writes them into docs/BENCHMARKS.md between the markers
# for the database used.
#
#   bench/run-load.sh [sqlite|postgres] [seconds per profile] [profiles...]
#   bench/run-load.sh sqlite 20                 # all four, 20 s each
#   bench/run-load.sh postgres 20 normal peak
#   LSN_BENCH_THINK_MS=0 bench/run-load.sh sqlite 20   # no pause between a user's steps
set -euo pipefail
cd "$(dirname "$0")/.."
db=${1:-sqlite}; seconds=${2:-20}; shift 2 || true
profiles=("$@"); [ ${#profiles[@]} -eq 0 ] && profiles=(normal peak stress spike)
source bench/lib.sh
bench_init "${LSN_BENCH_PORT:-3902}"
export LSN_DB_SYNCHRONOUS=${LSN_DB_SYNCHRONOUS:-full}
[ "$db" = postgres ] && bench_postgres lsn_load
bench_user bench@lsn.local admin bench-admin-password
bench_user host@lsn.local creator bench-host-password
bench_start
bench_as bench@lsn.local bench-admin-password
bench_product "Bench Tee" BENCH-TEE 3300 1000000 A-01-1 Bench
bench_as host@lsn.local bench-host-password
host=$cookie
show=$(bench_live_show "Load Show")
label="$db, synchronous=${LSN_DB_SYNCHRONOUS}"
[ "$db" = postgres ] && label="PostgreSQL $(psql -tAc "SHOW server_version" "$bench_pg_admin" | cut -d" " -f1)"
out="$work/results.md"
{
  echo "Measured $(date -u +%Y-%m-%d) with \`bench/run-load.sh $db $seconds ${profiles[*]}\` ($label, ${LSN_BENCH_THINK_MS:-1000} ms between a user's steps, load client on the same two cores)."
  for p in "${profiles[@]}"; do
    target/release/lsn-bench --base "$base" --scenario load --profile "$p" --seconds "$seconds" --show "$show" --cookie "$host" --think-ms "${LSN_BENCH_THINK_MS:-1000}" --label "$label"
  done
} | tee "$out"
python3 - "$db" "$out" <<'PY'
import sys, re
db, out = sys.argv[1], sys.argv[2]
path = "docs/BENCHMARKS.md"
text = open(path).read()
start, end = f"<!-- load:{db}:start -->", f"<!-- load:{db}:end -->"
body = open(out).read().strip()
if start in text and end in text:
    text = text[:text.index(start) + len(start)] + "\n" + body + "\n" + text[text.index(end):]
else:
    text += f"\n{start}\n{body}\n{end}\n"
open(path, "w").write(text)
print(f"\nwritten to {path} ({db})")
PY
