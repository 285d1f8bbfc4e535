#!/usr/bin/env bash
# The whole LSN test suite, on SQLite and PostgreSQL.
#
# Installs what the tests need when it is missing: from Debian's packages a C toolchain,
# PostgreSQL, Redis, the aiosmtpd SMTP server, python3-venv, Chromium, Node and npm; from
# crates.io every locked crate and cargo-deny; playwright-core from npm; Schemathesis from PyPI in
# a virtualenv for the API fuzzing; starts a throw-away PostgreSQL cluster on a loopback port, then runs
# formatting, lint and every test (tests start their own Redis servers on free ports). Safe to
# run again: it reuses what is already there.
#
#   scripts/test.sh              # everything
#   scripts/test.sh -- login     # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }
need_root() { if [ "$(id -u)" -ne 0 ]; then echo "sudo"; fi; }

# ---------------------------------------------------------------- system packages
missing=()
# A C compiler and make build the bundled SQLite and jemalloc.
command -v cc >/dev/null 2>&1 && command -v make >/dev/null 2>&1 || missing+=(build-essential)
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || missing+=(postgresql)
command -v pg_dump >/dev/null 2>&1 || missing+=(postgresql-client)
python3 -c 'import aiosmtpd' >/dev/null 2>&1 || /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || missing+=(python3-aiosmtpd)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} from Debian's packages"
  $(need_root) apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $(need_root) apt-get install -y -qq "${missing[@]}" >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
# The SMTP test runs Debian's aiosmtpd with the system Python.
if /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1; then export LSN_TEST_PYTHON=/usr/bin/python3; else export LSN_TEST_PYTHON=python3; fi

# ---------------------------------------------------------------- PostgreSQL
PGPORT=${LSN_TEST_PG_PORT:-54329}
PGDIR=${LSN_TEST_PG_DIR:-/tmp/lsn-test-pg}
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if ! as_pg "$pg_bin/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
  log "starting a test PostgreSQL on 127.0.0.1:$PGPORT ($PGDIR)"
  if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
    rm -rf "$PGDIR"; mkdir -p "$PGDIR"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$PGDIR"
    as_pg "$pg_bin/initdb" -D "$PGDIR/data" -U postgres -A trust --no-sync >/dev/null
  fi
  as_pg "$pg_bin/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w \
    -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" start >/dev/null
fi
psql -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
  -c "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lsn') THEN CREATE ROLE lsn LOGIN SUPERUSER PASSWORD 'lsn'; END IF; END\$\$;" >/dev/null
export LSN_TEST_DATABASE_URL="postgres://lsn:lsn@127.0.0.1:$PGPORT/postgres"
export LSN_TEST_REQUIRE_ALL=1

# ---------------------------------------------------------------- Rust
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
log "cargo deny (licences, bans, sources; the advisory database is on GitHub, out of reach here)"
deny_root=${LSN_TOOLS_DIR:-$HOME/.cache/lsn}/cargo-deny
if [ ! -x "$deny_root/bin/cargo-deny" ]; then
  CARGO_TARGET_DIR=${LSN_TOOLS_TARGET:-/var/tmp/lsn-tools-target} \
    cargo install --quiet --locked cargo-deny@0.20.2 --root "$deny_root"
fi
# `cargo deny --offline` reads `cargo metadata`, which wants every crate of every target in the
# local cache (wasm-bindgen, android_system_properties, …), and a Linux build never downloads
# those: fetch them all first (a no-op once they are there).
cargo fetch --locked --quiet
deny_out=$(mktemp)
if ! "$deny_root/bin/cargo-deny" --offline check licenses bans sources >"$deny_out" 2>&1; then
  cat "$deny_out"; exit 1
fi
tail -n 1 "$deny_out"; rm -f "$deny_out"
log "cargo test (SQLite and PostgreSQL)"
extra=()
if [ "${1:-}" = "--" ]; then shift; extra=("$@"); fi
cargo test --workspace --quiet "${extra[@]}" 2>&1 | tee /tmp/lsn-test-output.txt
log "browser tests (headless Chromium, playwright-core)"
# `cargo test` has just built the binary (a separate `cargo build` would rebuild with other features).
lsn_bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/lsn"
[ -x "$lsn_bin" ] || cargo build --quiet -p lsn
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
LSN_BIN="$lsn_bin" npm --prefix tests/browser test --silent
log "API fuzzing (Schemathesis against /api/openapi.json)"
LSN_BIN="$lsn_bin" scripts/api-fuzz.sh "${LSN_FUZZ_EXAMPLES:-30}"
# Drop the per-test databases left behind by failed runs.
psql -qAt -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'lsn_t_%'" \
  | while read -r db; do psql -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true; done
log "all tests passed"
