#!/usr/bin/env bash
# Sockeye's one test command: installs what the tests need, then runs every check and
# every suite. It ends with one line, `N passed, N failed`, and exits non-zero on any
# failure. CI runs exactly this (.ci/run).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LOGS=${SOCKEYE_TEST_LOGS:-$ROOT/target/test-logs}
mkdir -p "$LOGS"

passed=0
failed=0
failures=()

note() { printf '\n==> %s\n' "$*"; }
count() { # count <passed> <failed> <label>
  passed=$((passed + $1))
  failed=$((failed + $2))
  if [ "$2" -gt 0 ]; then failures+=("$3 ($2 failed)"); fi
}
check() { # check <label> <command...>: one pass or one fail
  local label=$1; shift
  note "$label"
  if "$@"; then count 1 0 "$label"; else count 0 1 "$label"; fi
}

# --- set-up (idempotent) -----------------------------------------------------------
note "set-up"
bash scripts/setup.sh || { echo "set-up failed"; echo "0 passed, 1 failed"; exit 1; }

# --- static checks -----------------------------------------------------------------
check "cargo fmt --check" cargo fmt --all -- --check
check "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
check "sockeye-protocol builds for wasm32" \
  cargo build --locked -p sockeye-protocol -p sockeye-client --target wasm32-unknown-unknown

# --- Rust tests ----------------------------------------------------------------------
note "cargo test"
cargo build --locked --workspace --all-targets --examples
cargo test --locked --workspace --no-fail-fast 2>&1 | tee "$LOGS/cargo-test.log"
read -r rust_passed rust_failed < <(awk '/^test result:/ {
    for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }
    seen = 1 } END { if (!seen) { p = 0; f = 1 } print p + 0, f + 0 }' "$LOGS/cargo-test.log")
count "${rust_passed:-0}" "${rust_failed:-1}" "cargo test"

# --- JavaScript suites against Sockeye ------------------------------------------------
# start_server <log> <command...>: starts a server that prints `listening on HOST:PORT`
# and sets SERVER_PID and SERVER_ADDR.
start_server() {
  local log=$1; shift
  PORT=0 "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    SERVER_ADDR=$(sed -n 's/^listening on //p' "$log" | head -1)
    [ -n "$SERVER_ADDR" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not start: $*"; cat "$log"; return 1
}
stop_server() { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; }

# node_suite <label> <log> <node --test args...>: runs a node:test suite, counts results.
node_suite() {
  local label=$1 log=$2; shift 2
  note "$label"
  (cd tests/js && node --test --test-reporter=tap --test-concurrency=1 "$@") >"$log" 2>&1
  local p f
  p=$(grep -E '^# pass ' "$log" | tail -1 | awk '{print $3}')
  f=$(grep -E '^# fail ' "$log" | tail -1 | awk '{print $3}')
  grep -E '^(not ok|ok) ' "$log" | tail -n 200
  if [ -z "$p" ]; then tail -50 "$log"; p=0; f=1; fi
  echo "$label: $p passed, $f failed"
  count "$p" "$f" "$label"
}

EXAMPLES=$ROOT/target/debug/examples
if [ -d tests/js/conformance ] && ls tests/js/conformance/*.test.mjs >/dev/null 2>&1; then
  if start_server "$LOGS/conformance-server.log" "$EXAMPLES/conformance"; then
    CONFORMANCE_URL="http://$SERVER_ADDR" \
      node_suite "conformance suite (engine.io + socket.io protocol)" "$LOGS/conformance.log" conformance/
    stop_server
  else
    count 0 1 "conformance server start"
  fi
fi

if [ -d tests/js/interop ] && ls tests/js/interop/*.test.mjs >/dev/null 2>&1; then
  SERVER_CMD="$EXAMPLES/interop_fixture" \
    node_suite "interop: official socket.io-client against Sockeye" "$LOGS/interop.log" interop/
fi

# Two Sockeye nodes and a Node socket.io node with @socket.io/redis-adapter on one real
# Redis (the suite starts its own redis-server on a free port, and stops it mid-way).
if [ -d tests/js/cluster ] && ls tests/js/cluster/*.test.mjs >/dev/null 2>&1; then
  CLUSTER_NODE_CMD="$EXAMPLES/cluster_node" SOCKEYE_BIN="$ROOT/target/debug/sockeye" \
    node_suite "cluster: Sockeye and Node socket.io nodes on one Redis" "$LOGS/cluster.log" cluster/
fi

# --- the browser client --------------------------------------------------------------
# wasm-pack and wasm-bindgen come from cargo install; npm binaryen's wasm-opt from tests/js.
export PATH="$ROOT/tests/js/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
check "browser client package (--target web)" bash scripts/build-client.sh web
check "browser client package (--target bundler)" bash scripts/build-client.sh bundler

# cargo_style_results <log> <label>: counts `test result:` lines; none, or nothing run at
# all, is a failure (an empty suite must not look green).
cargo_style_results() {
  local log=$1 label=$2 p f
  read -r p f < <(awk '/^test result:/ {
      for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }
      seen = 1 } END { if (!seen) { p = 0; f = 1 } print p + 0, f + 0 }' "$log")
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  echo "$label: $p passed, $f failed"
  count "$p" "$f" "$label"
}

# The Rust API in Chromium: the fixture runs under a supervisor that the tests (inside the
# browser) ask to stop, start, restart or freeze it.
note "wasm-pack test --headless --chrome (Rust API in Chromium)"
SUPERVISOR_OUT=$LOGS/supervisor.out
(cd tests/js && SERVER_CMD="$EXAMPLES/interop_fixture" exec node supervisor.mjs) \
  >"$SUPERVISOR_OUT" 2>"$LOGS/supervisor.log" &
SUPERVISOR_PID=$!
for _ in $(seq 1 600); do
  FIXTURE_URL=$(sed -n 's/^fixture //p' "$SUPERVISOR_OUT")
  CONTROL_URL=$(sed -n 's/^control //p' "$SUPERVISOR_OUT")
  [ -n "$FIXTURE_URL" ] && [ -n "$CONTROL_URL" ] && break
  kill -0 "$SUPERVISOR_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -n "$FIXTURE_URL" ] && [ -n "$CONTROL_URL" ]; then
  SOCKEYE_TEST_URL=$FIXTURE_URL SOCKEYE_TEST_CONTROL=$CONTROL_URL WASM_BINDGEN_TEST_TIMEOUT=120 \
    timeout 1200 wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver client-wasm \
    2>&1 | tee "$LOGS/wasm-pack-test.log"
  wasm_pack_rc=${PIPESTATUS[0]}
  cargo_style_results "$LOGS/wasm-pack-test.log" "wasm-pack test"
  # A target that failed to build, or a hung browser (timeout), prints no failing test
  # line of its own: the exit code counts it.
  if [ "$wasm_pack_rc" -ne 0 ]; then count 0 1 "wasm-pack test exit code $wasm_pack_rc"; fi
else
  cat "$LOGS/supervisor.log"
  count 0 1 "supervisor start"
fi
kill "$SUPERVISOR_PID" 2>/dev/null
wait "$SUPERVISOR_PID" 2>/dev/null

# The JS API in Chromium (Playwright), against Sockeye and the official Node server.
if ls tests/js/browser/*.test.mjs >/dev/null 2>&1; then
  SOCKEYE_SERVER_CMD="$EXAMPLES/interop_fixture" CLIENT_PKG_DIR="$ROOT/client-wasm/pkg" \
    RECOVERY_SERVER_CMD="$EXAMPLES/connection_state_recovery" \
    node_suite "browser: Sockeye's wasm client in Chromium" "$LOGS/browser.log" browser/
fi

# The package as users get it: its TypeScript declarations, and the bundler build in webpack.
if ls tests/js/package/*.test.mjs >/dev/null 2>&1; then
  SOCKEYE_SERVER_CMD="$EXAMPLES/interop_fixture" BUNDLER_PKG_DIR="$ROOT/client-wasm/pkg-bundler" \
    node_suite "package: TypeScript declarations, webpack build" "$LOGS/package.log" package/
fi

# The demo: the `sockeye` binary serving www/ (with the client package in www/pkg), its
# pages driven in Chromium by Playwright.
if ls tests/js/demo/*.test.mjs >/dev/null 2>&1; then
  if bash scripts/build-client.sh web www/pkg >"$LOGS/build-www-pkg.log" 2>&1; then
    SOCKEYE_BIN="$ROOT/target/debug/sockeye" SOCKEYE_TEST_LOGS="$LOGS" \
      node_suite "demo pages in Chromium" "$LOGS/demo.log" demo/
  else
    cat "$LOGS/build-www-pkg.log"
    count 0 1 "demo package build"
  fi
fi

# The feature examples (server/examples/), each driven by the official socket.io-client.
if ls tests/js/examples/*.test.mjs >/dev/null 2>&1; then
  EXAMPLES_DIR="$EXAMPLES" node_suite "feature examples with socket.io-client" "$LOGS/examples.log" examples/
fi

# A smoke run of the load generator (bench/) against Sockeye: a second each of echo over
# WebSocket and over long-polling (the demo binary), and of fanout (the benchmark
# server, which has `broadcast`); each must count something, and fanout lose nothing.
# Figures come from the benchmark command (bash bench/run.sh), not from here.
# bench_run <label> <server...> -- <sockeye-bench args...>: one scenario, its JSON line in
# BENCH_LINE; fails when the load generator fails.
bench_run() {
  local label=$1; shift
  local server=()
  while [ "$1" != "--" ]; do server+=("$1"); shift; done; shift
  start_server "$LOGS/bench-$label.log" "${server[@]}" --port 0 || return 1
  BENCH_LINE=$("$ROOT/target/debug/sockeye-bench" "$@" --url "http://$SERVER_ADDR" --pid "$SERVER_PID")
  local rc=$?
  stop_server
  echo "$BENCH_LINE"
  return $rc
}
bench_smoke() {
  local demo=("$ROOT/target/debug/sockeye" --log-level warn)
  bench_run echo "${demo[@]}" -- echo -c 10 -w 4 -d 1 &&
    echo "$BENCH_LINE" | grep -Eq '"acks":[1-9][0-9]*' &&
    bench_run polling "${demo[@]}" -- echo --transport polling -c 4 -w 2 -d 1 &&
    echo "$BENCH_LINE" | grep -Eq '"acks":[1-9][0-9]*' &&
    bench_run fanout "$ROOT/target/debug/sockeye-bench-server" -- fanout -c 20 -w 4 -d 1 &&
    echo "$BENCH_LINE" | grep -Eq '"deliveries":[1-9][0-9]*' &&
    echo "$BENCH_LINE" | grep -Eq '"lost":0[,}]'
}
check "load generator smoke (echo, polling echo, fanout; 1 s each)" bench_smoke

# The chaos soak's short form: 100 clients cut at random for 5 s, on one node with
# connection state recovery (nothing may be lost, duplicated or reordered), without it
# (the losses must show), and on two nodes on Redis with it.
check "chaos soak (short form: recovery on, off, two nodes on Redis)" bash bench/soak.sh --short

# --- summary -----------------------------------------------------------------------
note "summary"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "logs: $LOGS"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
