#!/usr/bin/env bash
# Schemathesis (from PyPI) against LSN's own /api/openapi.json, as an anonymous visitor, as a
# signed-in customer with an order, and as an admin: every generated request must get an answer
# that is not a 5xx, with a status code, content type and body the document declares.
#
#   scripts/api-fuzz.sh              # 40 examples per operation and identity
#   scripts/api-fuzz.sh 200          # more
#
# Starts `lsn serve` (debug build, demo data, SQLite in a temporary directory) on a free loopback
# port, and a pinned Schemathesis in a virtualenv under ~/.cache/lsn. Reports go to
# target/api-fuzz/<identity>/ (JUnit XML, and a replayable cassette of every failing request).
set -euo pipefail
cd "$(dirname "$0")/.."

examples=${1:-40}
seed=${LSN_FUZZ_SEED:-20261130}
st_version=4.32.5
venv=${LSN_FUZZ_VENV:-$HOME/.cache/lsn/schemathesis-$st_version}
lsn_bin=${LSN_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/lsn}
reports=${CARGO_TARGET_DIR:-$PWD/target}/api-fuzz

if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "==> installing Schemathesis $st_version into $venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd=sudo
    $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$st_version"
fi
[ -x "$lsn_bin" ] || cargo build --quiet -p lsn

work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
PORT=$port LSN_DATA_DIR="$work/data" LSN_PUBLIC_URL="$base" LSN_LOG=warn LSN_LOG_FORMAT=text \
  "$lsn_bin" serve >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do curl -fs "$base/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fs "$base/readyz" >/dev/null || { cat "$work/server.log"; echo "lsn did not start"; exit 1; }

# Sign in (demo accounts), and give the customer a cart and an order so that the order
# operations reach their logic instead of answering 404.
session() { # email -> "cookie csrf"
  local jar="$work/$1.jar"
  curl -fs -c "$jar" -H 'content-type: application/json' -H "origin: $base" \
    -d "{\"email\":\"$1\",\"password\":\"lsn-demo-password\"}" "$base/api/auth/login" >"$work/$1.json"
  printf '%s %s' "$(awk '$6 == "lsn_session" {print $7}' "$jar")" \
    "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["csrf_token"])' "$work/$1.json")"
}
read -r c_cookie c_csrf <<<"$(session ann@example.com)"
read -r a_cookie a_csrf <<<"$(session admin@lsn.local)"
sku=$(curl -fs "$base/api/v1/products?limit=1&in_stock=true" | python3 -c 'import json, sys; print(json.load(sys.stdin)["items"][0]["variants"][0]["sku"])')
as_customer=(-H "cookie: lsn_session=$c_cookie" -H "x-csrf-token: $c_csrf" -H "origin: $base" -H 'content-type: application/json')
curl -fs "${as_customer[@]}" -d "{\"sku\":\"$sku\",\"quantity\":1}" "$base/api/v1/cart/items" >/dev/null
order=$(curl -fs "${as_customer[@]}" "$base/api/v1/checkout" \
  -d '{"shipping_address":{"name":"Ann Shopper","line1":"1 George St","suburb":"Sydney","state":"NSW","postcode":"2000"}}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["order"]["id"])')
show=$(curl -fs "$base/api/v1/live/shows?limit=1" | python3 -c 'import json, sys; s = json.load(sys.stdin)["shows"]; print(s[0]["id"] if s else "none")')

cat >"$work/schemathesis.toml" <<EOF
[[operations]]
include-path-regex = "^/api/v1/orders/\\\\{id\\\\}"
parameters = { id = "$order" }

[[operations]]
include-path-regex = "^/api/v1/live/shows/\\\\{id\\\\}"
parameters = { id = "$show" }
EOF

status=0
run() { # identity, then extra schemathesis arguments
  local who=$1; shift
  echo "==> Schemathesis as $who ($examples examples per operation, seed $seed)"
  mkdir -p "$reports/$who"
  # Logging out would end the session the rest of the run uses.
  # Run from the temporary directory: Schemathesis keeps a cache in the working directory.
  local attempt ok=0
  for attempt in 1 2; do
    if (cd "$work" && "$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run "$base/api/openapi.json" --url "$base" "$@" \
      --exclude-path /api/auth/logout \
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
      --phases examples,coverage,fuzzing --max-examples "$examples" --seed "$seed" --workers 2 --request-timeout 10 \
      --report junit,vcr --report-dir "$reports/$who" --warnings off >"$reports/$who/output.txt" 2>&1); then
      ok=1
      break
    fi
    # CPython 3.11's ast.parse is not safe across Hypothesis's worker threads: a run that fails
    # only on that crash inside the tool (no failed check) is run once more.
    grep -q "AST constructor recursion depth mismatch" "$reports/$who/output.txt" && ! grep -qE "^[0-9]+\. Test Case ID" "$reports/$who/output.txt" || break
    echo "    (the tool itself crashed: ast.parse across threads; running it again)"
  done
  if [ $ok -eq 0 ]; then
    status=1
    tail -n 60 "$reports/$who/output.txt"
  else
    grep -E "^ *Test cases:|generated" "$reports/$who/output.txt" | tail -n 1
  fi
}
run anonymous -H "origin: $base"
run customer -H "cookie: lsn_session=$c_cookie" -H "x-csrf-token: $c_csrf" -H "origin: $base"
run admin -H "cookie: lsn_session=$a_cookie" -H "x-csrf-token: $a_csrf" -H "origin: $base"

# A 5xx is a failure above; a panic or an internal error that did not reach a response is one too.
if grep -E "panicked|internal error" "$work/server.log" >/dev/null; then
  grep -E "panicked|internal error" "$work/server.log" | head -n 20
  status=1
fi
[ $status -eq 0 ] && echo "==> Schemathesis: no 5xx, every answer as documented"
exit $status
