#!/usr/bin/env bash
# Sockeye's one test command: installs what the tests need, then runs every check and
# every suite. It ends with one line, `N passed, N failed`, and exits non-zero on any
# failure. CI runs exactly this (.ci/run).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# An inherited environment must not weaken the run: clear every variable that switches a
# check off, narrows what is tested (which client, which servers, how many cases), points
# a suite at another binary or server, or changes how node, pytest or cargo select and
# build tests. Each suite below is handed exactly what it needs.
unset CLIENT BROWSER_SERVERS PROPTEST_CASES SERVER_CMD PORT TICK_MS RUST_LOG \
  NODE_OPTIONS NODE_TEST_CONTEXT NODE_PATH PYTEST_ADDOPTS PYTHONPATH \
  CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR CARGO_BUILD_TARGET RUSTFLAGS RUSTDOCFLAGS \
  RUST_TEST_THREADS WASM_BINDGEN_TEST_TIMEOUT WASM_BINDGEN_TEST_ONLY_NODE WASM_BINDGEN_TEST_ONLY_WEB \
  CHROMEDRIVER CHROMIUM_PATH REDIS_SERVER EXAMPLES_DIR TEST_VERBOSE
for var in $(compgen -v | grep -E '^(SOCKEYE_|INTEROP_|CLUSTER_|BROWSER_|CONFORMANCE_|RECOVERY_|CLIENT_|BUNDLER_|PROPTEST_|FUZZ_)'); do
  unset "$var"
done

# Every JS suite runs Sockeye's binaries from here (tests/js/README.md).
export SOCKEYE_TARGET_DIR=$ROOT/target/debug
LOGS=$ROOT/target/test-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
# shellcheck source=lib/suites.sh
source scripts/lib/suites.sh

# --- set-up (idempotent) -----------------------------------------------------------
note "set-up"
bash scripts/setup.sh || { echo "set-up failed"; echo "0 passed, 1 failed"; exit 1; }

# --- the counting itself -------------------------------------------------------------
# Each way a suite can fail (a failing hook, a timeout, an empty suite, a crashed test
# binary, ...) run through the functions below, which must count it as a failure.
plain_suite "counting self-test" "$LOGS/selftest-counting.log" bash scripts/selftest-counting.sh

# --- static checks -----------------------------------------------------------------
check "cargo fmt --check" cargo fmt --all -- --check
check "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
# Issue 16: the only import cycle left between sockeye-server's modules is the natural
# namespace/socket/broadcast one (the adapter boundary sits below all three).
check "sockeye-server's module map has no other import cycle" \
  python3 scripts/module-map.py server/src --allow namespace,socket,broadcast
check "sockeye-protocol builds for wasm32" \
  cargo build --locked -p sockeye-protocol -p sockeye-client --target wasm32-unknown-unknown
# What a library user compiles: sockeye-server on its own, without its optional features,
# builds, and its dependencies hold no command-line, log-output or Redis crates (those are
# the `sockeye` binary's, in cli/, and sockeye-redis's, in redis/).
lean_library() {
  cargo build --locked -p sockeye-server --no-default-features || return 1
  local tree extra
  tree=$(cargo tree --locked -p sockeye-server --no-default-features -e normal --prefix none) || return 1
  extra=$(grep -E '^(clap|tracing-subscriber|redis|rmpv) ' <<<"$tree" | sort -u)
  [ -z "$extra" ] && return 0
  echo "sockeye-server without features depends on:"; echo "$extra"; return 1
}
check "sockeye-server builds alone, without CLI or Redis crates" lean_library
check "the fuzz targets build" cargo build --locked --manifest-path fuzz/Cargo.toml --bins

# --- Rust tests ----------------------------------------------------------------------
# Every binary the later suites run comes from this build: if it fails, those suites are
# counted as failed rather than run against stale binaries.
if check "build the binaries under test" cargo build --locked --workspace --all-targets --examples; then
  BUILT=1
else
  BUILT=0
fi
cargo_suite "cargo test" "$LOGS/cargo-test.log" cargo test --locked --workspace --no-fail-fast

# --- JavaScript suites against Sockeye ------------------------------------------------
# The test fixtures (tests/fixtures/) are binaries of their own crate, beside `sockeye`.
FIXTURES=$ROOT/target/debug

# built <label>: whether the binaries under test were built; if not, the suite counts as
# one failure instead of running against stale binaries.
built() {
  [ "$BUILT" = 1 ] && return 0
  note "$1"; echo "not run: the build of the binaries under test failed"
  count 0 1 "$1 (not run: build failed)"
  return 1
}

label="conformance suite (engine.io + socket.io protocol)"
built "$label" && node_suite "$label" "$LOGS/conformance.log" conformance/

label="interop: official socket.io-client against Sockeye"
built "$label" && node_suite "$label" "$LOGS/interop.log" interop/

# The same two suites against the official Node servers (npm socket.io 4.8 and
# engine.io 6.6): a test that is wrong about the protocol fails here, not only on us.
label="conformance suite against the official Node server"
SERVER_CMD="node $(printf '%q' "$ROOT/tests/js/conformance/reference-server.mjs")" \
  node_suite "$label" "$LOGS/conformance-reference.log" conformance/
label="interop: official socket.io-client against the official Node server"
SERVER_CMD="node $(printf '%q' "$ROOT/tests/js/interop/reference-server.mjs")" \
  node_suite "$label" "$LOGS/interop-reference.log" interop/

# The interop suite again with socket.io-msgpack-parser on both ends (SOCKEYE_PARSER:
# the clients get its `parser`, Sockeye's fixture `--parser msgpack`, the reference
# server reads the variable), against Sockeye and against the official Node server.
label="interop (msgpack parser): official socket.io-client + socket.io-msgpack-parser against Sockeye"
built "$label" && SOCKEYE_PARSER=msgpack node_suite "$label" "$LOGS/interop-msgpack.log" interop/
label="interop (msgpack parser): official socket.io-client + socket.io-msgpack-parser against the official Node server"
SOCKEYE_PARSER=msgpack SERVER_CMD="node $(printf '%q' "$ROOT/tests/js/interop/reference-server.mjs")" \
  node_suite "$label" "$LOGS/interop-msgpack-reference.log" interop/

# The official Python client (python-socketio, in tests/python/.venv) against Sockeye in
# each transport; then the same tests against the official Node server, which proves
# them right about the protocol.
label="python interop: official python-socketio client against Sockeye"
built "$label" && SOCKEYE_TEST_LOGS=$LOGS plain_suite "$label" "$LOGS/python-interop.log" \
  tests/python/run.sh "$FIXTURES/interop_fixture"
SOCKEYE_TEST_LOGS=$LOGS/python-reference plain_suite \
  "python interop: the same tests against the official Node socket.io server" "$LOGS/python-reference.log" \
  tests/python/run.sh "node $(printf '%q' "$ROOT/tests/js/interop/reference-server.mjs")"

# Two Sockeye nodes and a Node socket.io node with @socket.io/redis-adapter on one real
# Redis (the suite starts its own redis-server on a unix socket, and stops it mid-way).
label="cluster: Sockeye and Node socket.io nodes on one Redis"
built "$label" && node_suite "$label" "$LOGS/cluster.log" cluster/
# The same matrix on the Redis Streams adapter (@socket.io/redis-streams-adapter 0.3 on the
# Node node), plus the stream's entries, the streams emitter and link blips.
label="cluster (streams): Sockeye and Node socket.io nodes on one Redis stream"
built "$label" && node_suite "$label" "$LOGS/cluster-streams.log" cluster-streams/

# The Flask-SocketIO chat (tests/mq/, python-socketio's queue managers) and a Sockeye
# node on one channel of a real Redis, then of a real RabbitMQ (the suite starts its own
# redis-server and rabbitmq-server, and restarts each mid-way).
label="message queue: Flask-SocketIO and Sockeye nodes on Redis and RabbitMQ"
built "$label" && node_suite "$label" "$LOGS/mq.log" mq/

# The sharded adapter (SPUBLISH/SSUBSCRIBE) on a real three-master Redis Cluster that the
# suite starts (redis-server --cluster-enabled yes, redis-cli --cluster create): two
# Sockeye nodes and a Node node with createShardedAdapter; masters stopped and restarted.
label="sharded cluster: Sockeye and Node socket.io nodes on a Redis Cluster"
built "$label" && node_suite "$label" "$LOGS/sharded.log" sharded/

# --- the browser client --------------------------------------------------------------
# wasm-pack and wasm-bindgen come from cargo install; npm binaryen's wasm-opt from tests/js.
export PATH="$ROOT/tests/js/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
check "browser client package (--target web)" bash scripts/build-client.sh web
check "browser client package (--target bundler)" bash scripts/build-client.sh bundler
# A size check, not a timing test: the package a page downloads stays within its budget.
check "browser client package size within budget" bash scripts/check-client-size.sh client-wasm/pkg

# The Rust API in Chromium: the fixture runs under a supervisor that the tests (inside the
# browser) ask to stop, start, restart or freeze it.
label="wasm-pack test --headless --chrome (Rust API in Chromium)"
if built "$label"; then
  SUPERVISOR_OUT=$LOGS/supervisor.out
  (cd tests/js && exec node supervisor.mjs) \
    >"$SUPERVISOR_OUT" 2>"$LOGS/supervisor.log" &
  SUPERVISOR_PID=$!
  FIXTURE_URL= CONTROL_URL=
  for _ in $(seq 1 600); do
    FIXTURE_URL=$(sed -n 's/^fixture //p' "$SUPERVISOR_OUT")
    CONTROL_URL=$(sed -n 's/^control //p' "$SUPERVISOR_OUT")
    [ -n "$FIXTURE_URL" ] && [ -n "$CONTROL_URL" ] && break
    kill -0 "$SUPERVISOR_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -n "$FIXTURE_URL" ] && [ -n "$CONTROL_URL" ]; then
    # A target that fails to build or a hung browser (the timeout) prints no failing test
    # of its own: cargo_suite counts the exit status and the binaries that did not report.
    SOCKEYE_TEST_URL=$FIXTURE_URL SOCKEYE_TEST_CONTROL=$CONTROL_URL WASM_BINDGEN_TEST_TIMEOUT=120 \
      cargo_suite "$label" "$LOGS/wasm-pack-test.log" \
      timeout 1200 wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver client-wasm \
      --features typed
  else
    cat "$LOGS/supervisor.log"
    count 0 1 "$label (supervisor start)"
  fi
  kill "$SUPERVISOR_PID" 2>/dev/null
  wait "$SUPERVISOR_PID" 2>/dev/null
fi

# The JS API in Chromium (Playwright), against Sockeye and the official Node server.
label="browser: Sockeye's wasm client in Chromium"
built "$label" && CLIENT_PKG_DIR="$ROOT/client-wasm/pkg" node_suite "$label" "$LOGS/browser.log" browser/

# `sockeye exec` in its Socket.IO modes (issue 18): --emit with the official client and
# with Sockeye's browser client (the web package) in Chromium, --broadcast. Its plain
# WebSocket mode is cli/tests/exec.rs, in `cargo test`.
label="sockeye exec: --emit and --broadcast with socket.io-client and in Chromium"
built "$label" && CLIENT_PKG_DIR="$ROOT/client-wasm/pkg" node_suite "$label" "$LOGS/exec.log" exec/

# The package as users get it: its TypeScript declarations, and the bundler build in webpack.
label="package: TypeScript declarations, webpack build, socket.io-client drop-in"
built "$label" && BUNDLER_PKG_DIR="$ROOT/client-wasm/pkg-bundler" node_suite "$label" "$LOGS/package.log" package/

# The demo: the `sockeye` binary serving www/ (with the client package in www/pkg), its
# pages driven in Chromium by Playwright.
label="demo pages in Chromium"
if built "$label"; then
  if bash scripts/build-client.sh web www/pkg >"$LOGS/build-www-pkg.log" 2>&1; then
    SOCKEYE_TEST_LOGS="$LOGS" node_suite "$label" "$LOGS/demo.log" demo/
  else
    cat "$LOGS/build-www-pkg.log"
    count 0 1 "$label (package build)"
  fi
fi

# The feature examples (server/examples/), each driven by the official socket.io-client.
label="feature examples with socket.io-client"
built "$label" && node_suite "$label" "$LOGS/examples.log" examples/

# The admin UI (@socket.io/admin-ui 0.5.1) against `sockeye --admin-ui`: its /admin
# protocol with socket.io-client, and the official UI's built pages in Chromium.
label="admin UI: /admin protocol and the official UI in Chromium"
built "$label" && node_suite "$label" "$LOGS/admin.log" admin/

# A smoke run of the load generator (bench/) against Sockeye: a second each of echo over
# WebSocket and over long-polling (the demo binary), and of fanout (the benchmark
# server, which has `broadcast`); each must count something, and fanout lose nothing.
# Then ratelimit: 4 clients' echoes beside a flooder (20 000 packets/s) on the benchmark
# server with a limit of 200/s: every echo answered, the flooder paced (none of its acks
# refused), not disconnected.
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
    echo "$BENCH_LINE" | grep -Eq '"lost":0[,}]' &&
    bench_run ratelimit "$ROOT/target/debug/sockeye-bench-server" --rate-limit 200 -- \
      ratelimit -c 4 -d 1 --flood-rate 20000 &&
    echo "$BENCH_LINE" | grep -Eq '"flooded":\{"echoes":[1-9][0-9]*' &&
    echo "$BENCH_LINE" | grep -Eq '"acks_echoed":[1-9][0-9]*' &&
    echo "$BENCH_LINE" | grep -Eq '"acks_rate_limited":0[,}]' &&
    echo "$BENCH_LINE" | grep -Eq '"disconnected":false'
}
label="load generator smoke (echo, polling echo, fanout, ratelimit; 1 s each)"
built "$label" && check "$label" bench_smoke

# The chaos soak's short form: 100 clients cut at random for 5 s, on one node with
# connection state recovery (nothing may be lost, duplicated or reordered), without it
# (the losses must show), on two nodes on Redis with it, and on three nodes on Redis
# Streams with it while clients roam, a node restarts and Redis pauses.
label="chaos soak (short form: recovery on, off, two nodes on Redis, three on Redis Streams)"
built "$label" && plain_suite "$label" "$LOGS/soak.log" bash bench/soak.sh --short

# --- summary -----------------------------------------------------------------------
echo "logs: $LOGS"
summary
