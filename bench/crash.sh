#!/usr/bin/env bash
# Crash safety: checkout load while LSN is killed with SIGKILL at random moments and restarted,
# then a check that every acknowledged order is there and paid or cleanly pending, that stock is
# neither lost nor doubled, and that no job or payment event is lost. Loopback only, bounded.
#
#   bench/crash.sh [kills] [shoppers] [sqlite|postgres]     # e.g. bench/crash.sh 10 50
#
# SQLite: embedded, synchronous=FULL (the default durability); LSN is killed. PostgreSQL (the
# test cluster of scripts/test.sh, or LSN_BENCH_DATABASE_URL with LSN_BENCH_PG_DATA): LSN is
# killed, and every other time PostgreSQL too is restarted in immediate mode (a crash of the
# database server) while the load runs. Prints a table of counts; exits non-zero on any
# discrepancy.
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-10}; shoppers=${2:-50}; db=${3:-sqlite}
source bench/lib.sh
bench_init "${LSN_BENCH_PORT:-3904}"
export LSN_DB_SYNCHRONOUS=full
if [ "$db" = postgres ]; then
  bench_postgres lsn_crash
  # The test cluster trades durability for speed (synchronous_commit=off acknowledges a commit
  # before its WAL is written, so a database crash loses it): this database asks for durable
  # commits, as a production database must. (fsync=off still survives a crash of PostgreSQL
  # itself, which is what this run does, though not one of the machine.)
  psql -q "$bench_pg_admin" -c "ALTER DATABASE $bench_pg_db SET synchronous_commit = on" >/dev/null
  pg_data=${LSN_BENCH_PG_DATA:-/tmp/lsn-test-pg/data}
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  pg_restart() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -m immediate -w restart >/dev/null; else "$pg_bin/pg_ctl" -D "$pg_data" -m immediate -w restart >/dev/null; fi
  }
fi
initial=100000
bench_user bench@lsn.local admin bench-admin-password
bench_start
bench_as bench@lsn.local bench-admin-password
bench_product "Bench Tee" BENCH-TEE 3300 "$initial" A-01-1

seconds=$((kills * 3 + 6))
target/release/lsn-bench --base "$base" --scenario checkout --shoppers "$shoppers" --seconds "$seconds" --ack-log "$work/acks" --label crash > "$work/load.out" 2>&1 &
load=$!
pg_restarts=0
for i in $(seq "$kills"); do
  sleep "$(python3 -c 'import random; print(round(random.uniform(1.0, 3.0), 2))')"
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  if [ "$db" = postgres ] && [ $((i % 2)) -eq 0 ]; then
    pg_restart; pg_restarts=$((pg_restarts + 1))
  fi
  bench_start
  if [ "$db" = postgres ] && [ $((i % 2)) -eq 1 ]; then
    # The database crashes under the running shop too.
    sleep 1; pg_restart; pg_restarts=$((pg_restarts + 1))
  fi
done
wait "$load" || true
# One last crash, then a normal start (which puts back the jobs the dead process had claimed)
# and a few seconds for the worker to finish what is due (payment events, mail, …).
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
bench_start
sleep 5
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
pid=""
if [ "$db" = postgres ]; then
  # Every LSN process is stopped now, so a job still marked running was claimed by a killed one;
  # on PostgreSQL its lock would put it back after 5 minutes: do now what that expiry does.
  psql -q "$DATABASE_URL" -c "UPDATE jobs SET status = 'queued', locked_by = NULL, locked_until = NULL WHERE status = 'running'" >/dev/null
fi
target/release/lsn jobs run > "$work/jobs.out" 2>&1 || true

target=${DATABASE_URL:-$work/data/lsn.db}
python3 - "$target" "$work/acks" "$initial" "$kills" "$shoppers" "${pg_restarts:-0}" <<'PY'
import sqlite3, subprocess, sys
db, acks_path, initial, kills, shoppers, pg_restarts = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]

class Pg:
    """Just enough of sqlite3's connection for the checks, through psql."""
    def execute(self, sql, args=()):
        for a in args:
            sql = sql.replace("?", "'" + str(a).replace("'", "''") + "'", 1)
        out = subprocess.run(["psql", "-tA", "-F", "\t", "-c", sql, db], capture_output=True, text=True, check=True).stdout
        rows = [tuple(int(v) if v.lstrip("-").isdigit() else v for v in line.split("\t")) for line in out.splitlines() if line]
        return Rows(rows)

class Rows(list):
    def fetchone(self):
        return self[0] if self else None
placed, paid = set(), set()
for line in open(acks_path):
    what, _, oid = line.strip().partition(" ")
    (placed if what == "placed" else paid).add(oid)
c = Pg() if db.startswith("postgres") else sqlite3.connect(db)
status = dict(c.execute("SELECT id, status FROM orders"))
missing = [o for o in placed | paid if o not in status]
paid_not_paid = [o for o in paid if status.get(o) not in ("paid", "processing", "shipped", "delivered")]
unclean = [o for o in placed - paid if status.get(o) not in ("pending_payment", "cancelled", "paid")]
vid = c.execute("SELECT id FROM variants WHERE sku = 'BENCH-TEE'").fetchone()[0]
on_hand, reserved = c.execute("SELECT on_hand, reserved FROM stock_levels WHERE variant_id = ?", (vid,)).fetchone()
bins = c.execute("SELECT COALESCE(SUM(quantity), 0) FROM bin_stock WHERE variant_id = ?", (vid,)).fetchone()[0]
sold = c.execute("SELECT COALESCE(SUM(i.quantity), 0) FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.status IN ('paid','processing','shipped','delivered') AND i.variant_id = ?", (vid,)).fetchone()[0]
active = c.execute("SELECT COALESCE(SUM(quantity), 0) FROM reservations WHERE status = 'active' AND variant_id = ?", (vid,)).fetchone()[0]
pending_qty = c.execute("SELECT COALESCE(SUM(i.quantity), 0) FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.status = 'pending_payment' AND i.variant_id = ?", (vid,)).fetchone()[0]
active_for_closed = c.execute("SELECT COUNT(*) FROM reservations r JOIN orders o ON o.id = r.order_id WHERE r.status = 'active' AND o.status <> 'pending_payment'").fetchone()[0]
unprocessed = c.execute("SELECT COUNT(*) FROM webhook_events WHERE processed_at IS NULL").fetchone()[0]
jobs = dict(c.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status"))
stuck = jobs.get("running", 0) + jobs.get("dead", 0)
due_left = c.execute("SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND schedule IS NULL").fetchone()[0]
problems = {
    "acknowledged orders missing": len(missing),
    "paid (acknowledged) but not paid in the database": len(paid_not_paid),
    "placed (acknowledged) but neither pending, cancelled nor paid": len(unclean),
    "stock lost or doubled (initial - on hand - sold)": initial - on_hand - sold,
    "bins disagree with on hand": bins - on_hand,
    "reserved disagrees with active reservations": reserved - active,
    "active reservations disagree with pending orders": active - pending_qty,
    "active reservations of closed orders": active_for_closed,
    "payment events not applied": unprocessed,
    "jobs running or dead": stuck,
    "one-off jobs left queued": due_left,
}
engine = f"PostgreSQL, restarted in immediate mode {pg_restarts} times" if db.startswith("postgres") else "SQLite synchronous=FULL"
print(f"\n### Crash safety: {kills} SIGKILLs under checkout load ({shoppers} shoppers), {engine}\n")
print("| measure | count |\n|---|---|")
print(f"| orders acknowledged as placed | {len(placed)} |")
print(f"| orders acknowledged as paid | {len(paid)} |")
print(f"| acknowledged orders found | {len([o for o in placed | paid if o in status])} |")
print(f"| units sold (paid orders) / on hand / reserved | {sold} / {on_hand} / {reserved} |")
print(f"| jobs by status | {', '.join(f'{k} {v}' for k, v in sorted(jobs.items()))} |")
for k, v in problems.items():
    print(f"| {k} | {v} |")
for o in paid_not_paid[:5]:
    pay = c.execute("SELECT status, intent_id FROM payments WHERE order_id = ? ORDER BY created_at DESC", (o,)).fetchone()
    moves = c.execute("SELECT from_status, to_status, actor, reason FROM order_transitions WHERE order_id = ? ORDER BY at", (o,))
    print(f"  paid but {status.get(o)}: order {o}, payment {pay}, transitions {list(moves)}")
bad = {k: v for k, v in problems.items() if v}
print("\ndiscrepancies: " + (", ".join(f"{k}: {v}" for k, v in bad.items()) if bad else "0"))
sys.exit(1 if bad else 0)
PY
