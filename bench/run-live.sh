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
source bench/lib.sh
bench_init "${LSN_BENCH_PORT:-3901}"
export LSN_DB_SYNCHRONOUS=normal
bench_user host@lsn.local creator bench-host-password
bench_start
bench_as host@lsn.local bench-host-password
show=$(bench_live_show "Bench Show")
target/release/lsn-bench --base "$base" --scenario room --show "$show" --cookie "$cookie" --shoppers "$viewers" --rate "$rate" --seconds "$seconds" --pid "$pid" --protocol "$protocol" --label "SQLite, one node, protocol $protocol"
