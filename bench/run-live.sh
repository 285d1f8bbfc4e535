#!/usr/bin/env bash
# Live-room fan-out benchmark against a release build on loopback.
#
#   bench/run-live.sh [viewers] [messages_per_second] [seconds] [protocol: 2 (default) or 1]
#
# Starts LSN on a fresh SQLite database, creates a creator and a live show, connects the viewers
# to its room, has the host chat at the given rate, and prints delivery latency and server memory
# per viewer. Bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
viewers=${1:-2000}; rate=${2:-50}; seconds=${3:-10}; protocol=${4:-2}
port=${LSN_BENCH_PORT:-3901}
base="http://127.0.0.1:$port"
cargo build --release -q -p lsn -p lsn-bench
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export LSN_DATA_DIR="$work/data" PORT=$port LSN_DEMO=false LSN_LOG=warn LSN_DB_SYNCHRONOUS=normal
ulimit -n 20000 2>/dev/null || true
LSN_ADMIN_PASSWORD=bench-host-password target/release/lsn admin create --email host@lsn.local --role creator >/dev/null
target/release/lsn serve > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
cookie=$(curl -si -H 'content-type: application/json' -d '{"email":"host@lsn.local","password":"bench-host-password"}' "$base/api/auth/login" | grep -i '^set-cookie: lsn_session' | sed 's/^[Ss]et-[Cc]ookie: //; s/;.*//' | tr -d '\r')
csrf=$(curl -sf -H "cookie: $cookie" "$base/api/auth/me" | python3 -c 'import sys,json; print(json.load(sys.stdin)["csrf_token"])')
now=$(($(date +%s) * 1000))
show=$(curl -sf -H "cookie: $cookie" -H "x-csrf-token: $csrf" -H 'content-type: application/json' -d "{\"title\":\"Bench Show\",\"scheduled_at\":$now}" "$base/api/v1/live/shows" | python3 -c 'import sys,json; print(json.load(sys.stdin)["show"]["id"])')
curl -sf -X POST -H "cookie: $cookie" -H "x-csrf-token: $csrf" "$base/api/v1/live/shows/$show/start" >/dev/null
target/release/lsn-bench --base "$base" --scenario room --show "$show" --cookie "$cookie" --shoppers "$viewers" --rate "$rate" --seconds "$seconds" --pid "$pid" --protocol "$protocol" --label "SQLite, one node, protocol $protocol"
