# Shared by the bench scripts (sourced, not run): a release build, a fresh data directory (and a
# fresh PostgreSQL database when asked), the server in the background, accounts and sign-in.
# Everything is removed on exit.

# bench_init PORT — builds, makes $work, sets $base and the server's environment.
bench_init() {
  port=$1
  base="http://127.0.0.1:$port"
  # LSN_BENCH_NO_BUILD=1 runs the binaries already in target/release (to compare two builds).
  [ -n "${LSN_BENCH_NO_BUILD:-}" ] || cargo build --release -q -p lsn -p lsn-bench
  work=$(mktemp -d)
  trap bench_cleanup EXIT
  export LSN_DATA_DIR="$work/data" PORT=$port LSN_DEMO=false LSN_LOG=warn
  # Every simulated shopper comes from this machine's loopback address: one network, as LSN
  # sees it, which the cap on unpaid checkouts per network (3 by default) would stop at once.
  export LSN_MAX_UNPAID_PER_NETWORK=0
  ulimit -n 20000 2>/dev/null || true
}

bench_cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  if [ -n "${pid:-}" ]; then kill -9 "$pid" 2>/dev/null || true; fi
  if [ -n "${bench_pg_db:-}" ]; then
    sleep 1
    psql -q "$bench_pg_admin" -c "DROP DATABASE IF EXISTS $bench_pg_db" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}

# bench_postgres PREFIX — a fresh database on LSN_BENCH_DATABASE_URL's server (default: the test
# cluster of scripts/test.sh); sets DATABASE_URL, $bench_pg_admin and $bench_pg_db.
bench_postgres() {
  bench_pg_admin=${LSN_BENCH_DATABASE_URL:-postgres://lsn:lsn@127.0.0.1:54329/postgres}
  bench_pg_db="$1_$$"
  psql -q "$bench_pg_admin" -c "CREATE DATABASE $bench_pg_db" >/dev/null
  export DATABASE_URL="${bench_pg_admin%/*}/$bench_pg_db"
}

# bench_start — starts `lsn serve` (appending to $work/serve.log), sets $pid, waits until it answers.
bench_start() {
  target/release/lsn serve >> "$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do curl -sf "$base/healthz" >/dev/null && return 0; sleep 0.05; done
  echo "LSN did not start; see its log:" >&2
  tail -20 "$work/serve.log" >&2
  exit 1
}

# bench_user EMAIL ROLE PASSWORD — an active account.
bench_user() {
  LSN_ADMIN_PASSWORD=$3 target/release/lsn admin create --email "$1" --role "$2" >/dev/null
}

# bench_login EMAIL PASSWORD — prints the session cookie (lsn_session=…).
bench_login() {
  curl -si -H 'content-type: application/json' -d "{\"email\":\"$1\",\"password\":\"$2\"}" "$base/api/auth/login" \
    | grep -i '^set-cookie: lsn_session' | sed 's/^[Ss]et-[Cc]ookie: //; s/;.*//' | tr -d '\r'
}

# bench_csrf COOKIE — prints that session's CSRF token.
bench_csrf() {
  curl -sf -H "cookie: $1" "$base/api/auth/me" | python3 -c 'import sys,json; print(json.load(sys.stdin)["csrf_token"])'
}

# bench_as EMAIL PASSWORD — signs in; later bench_post calls act as that user ($cookie, $csrf).
bench_as() {
  cookie=$(bench_login "$1" "$2")
  csrf=$(bench_csrf "$cookie")
}

# bench_post PATH JSON — POSTs as the user of the last bench_as; prints the answer.
bench_post() {
  curl -sf -H "cookie: $cookie" -H "x-csrf-token: $csrf" -H 'content-type: application/json' -d "$2" "$base$1"
}

# bench_product TITLE SKU PRICE QUANTITY BIN [CATEGORY] — an active product with stock in a bin
# (as staff).
bench_product() {
  local slug category=""
  slug=$(echo "$1" | tr '[:upper:] ' '[:lower:]-')
  [ -n "${6:-}" ] && category=",\"category\":\"$6\""
  bench_post /api/v1/products "{\"title\":\"$1\",\"slug\":\"$slug\",\"status\":\"active\"$category,\"variants\":[{\"sku\":\"$2\",\"price\":$3}]}" >/dev/null
  bench_post /api/v1/inventory/receive "{\"sku\":\"$2\",\"bin\":\"$5\",\"quantity\":$4}" >/dev/null
}

# bench_live_show TITLE — creates and starts a show hosted by the current user; prints its id.
bench_live_show() {
  local id
  id=$(bench_post /api/v1/live/shows "{\"title\":\"$1\",\"scheduled_at\":$(($(date +%s) * 1000))}" | python3 -c 'import sys,json; print(json.load(sys.stdin)["show"]["id"])')
  bench_post "/api/v1/live/shows/$id/start" '{}' >/dev/null
  echo "$id"
}
