#!/usr/bin/env bash
# The chaos soak: clients cut at random (abrupt TCP close, stalled reads, server kicks)
# while numbered broadcasts and acked emits flow, in three set-ups:
#   1. one node, connection state recovery on:  every client must get every broadcast
#      exactly once and in order, and every reconnect its session back; broadcasts,
#      acks, cuts of each kind and recovered reconnects must all be non-zero (an idle
#      soak loses nothing); the run fails otherwise (sockeye-bench --expect-no-loss);
#   2. one node, recovery off:                  the losses are counted (and must show:
#      a soak that cannot see a loss proves nothing);
#   3. two nodes on one Redis, recovery on:     as 1, with clients on both nodes and the
#      sender on the first;
#   4. three nodes on the Redis Streams adapter, recovery on: as 1, and a cut client comes
#      back to any node (its session is in Redis); meanwhile the third node is stopped
#      (SIGTERM: its sockets' sessions go to Redis) and started again on its port, and
#      Redis is paused (SIGSTOP) and resumed: nothing Redis accepted may be lost.
# One JSON line per set-up (see bench/src/soak.rs), then `soak: N passed, N failed`.
#
#   bash bench/soak.sh            the long form: release build, 500 clients, 60 s each
#   bash bench/soak.sh --short    the test command's form: debug build, 100 clients, 5 s
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "${1:-}" = "--short" ]; then
  PROFILE=debug CLIENTS=100 SECONDS_EACH=5 RATE=40 CUT_MS=40
else
  PROFILE=release CLIENTS=500 SECONDS_EACH=60 RATE=100 CUT_MS=20
  cargo build --release -p sockeye-bench >/dev/null || exit 1
fi
BIN=${SOAK_BIN_DIR:-$ROOT/target/$PROFILE}
LOGS=${SOCKEYE_TEST_LOGS:-$ROOT/target/test-logs}/soak
mkdir -p "$LOGS"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# Quick pings, so that a stalled client is found out within a second, and a small
# queue, so that stalls also overflow it.
SERVER_OPTS=(--ping-interval-ms 500 --ping-timeout-ms 500 --max-buffered-frames 256)

pids=()
# A node restarted by the chaos of set-up 4 (from a subshell) leaves its pid here.
RESTARTED=$(mktemp "${TMPDIR:-/tmp}/sockeye-soak-restarted.XXXXXX")
cleanup() {
  for p in "${pids[@]}" $(cat "$RESTARTED" 2>/dev/null); do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
  : >"$RESTARTED"
  wait 2>/dev/null
}
trap 'cleanup; rm -f "$RESTARTED"' EXIT
trap cleanup EXIT

# start <log> <command...>: starts a server printing `listening on ADDR`; sets ADDR.
start() {
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do
    ADDR=$(sed -n 's/^listening on //p' "$log" | head -1)
    [ -n "$ADDR" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not start: $*"; cat "$log"; return 1
}
stop_all() { cleanup; pids=(); }

passed=0
failed=0
soak() { # soak <label> <extra soak args...> -- <urls...>
  local label=$1; shift
  local args=()
  while [ "$1" != "--" ]; do args+=("$1"); shift; done; shift
  local urls=()
  for u in "$@"; do urls+=(--url "http://$u"); done
  local line
  if line=$(timeout $((SECONDS_EACH + 120)) "$BIN/sockeye-bench" soak "${urls[@]}" -c "$CLIENTS" \
      -d "$SECONDS_EACH" --rate "$RATE" --cut-every-ms "$CUT_MS" "${args[@]}" 2>"$LOGS/$label.err"); then
    echo "$label: $line"
    LINE=$line
    return 0
  fi
  echo "$label: FAILED $(tail -3 "$LOGS/$label.err")"
  LINE=
  return 1
}
count() { if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi; }

one_node_recovery() {
  start "$LOGS/server-recovery.log" "$BIN/sockeye-bench-server" --port 0 --recovery "${SERVER_OPTS[@]}" || return 1
  soak "one node, recovery on" --expect-no-loss -- "$ADDR"
  local rc=$?
  stop_all
  return $rc
}

one_node_no_recovery() {
  start "$LOGS/server-plain.log" "$BIN/sockeye-bench-server" --port 0 "${SERVER_OPTS[@]}" || return 1
  soak "one node, recovery off" -- "$ADDR"
  local rc=$?
  stop_all
  [ $rc -eq 0 ] || return 1
  # The harness must see what recovery prevents.
  echo "$LINE" | grep -Eq '"lost":[1-9]' || { echo "recovery off, yet nothing lost: the soak cannot see a loss"; return 1; }
}

two_nodes_recovery() {
  command -v redis-server >/dev/null || { echo "two nodes: redis-server is missing"; return 1; }
  # A unix socket in a folder of its own: no TCP port is picked and let go (another
  # process could take it in between).
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/sockeye-soak-redis.XXXXXX")
  redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 --save '' --appendonly no \
    >"$LOGS/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do grep -qi "ready to accept connections" "$LOGS/redis.log" && break; sleep 0.1; done
  grep -qi "ready to accept connections" "$LOGS/redis.log" || { echo "redis-server did not start"; cat "$LOGS/redis.log"; return 1; }
  local url="unix://$dir/redis.sock"
  start "$LOGS/node-a.log" "$BIN/sockeye-bench-server" --port 0 --recovery --redis-url "$url" "${SERVER_OPTS[@]}" || return 1
  local a=$ADDR
  start "$LOGS/node-b.log" "$BIN/sockeye-bench-server" --port 0 --recovery --redis-url "$url" "${SERVER_OPTS[@]}" || return 1
  local b=$ADDR
  soak "two nodes on Redis, recovery on" --expect-no-loss -- "$a" "$b"
  local rc=$?
  stop_all
  rm -rf "$dir"
  return $rc
}

# start_redis: a redis-server on a unix socket in a folder of its own; sets REDIS_DIR,
# REDIS_URL and REDIS_PID.
start_redis() {
  command -v redis-server >/dev/null || { echo "redis-server is missing"; return 1; }
  REDIS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sockeye-soak-redis.XXXXXX")
  redis-server --port 0 --unixsocket "$REDIS_DIR/redis.sock" --unixsocketperm 700 --save '' --appendonly no \
    >"$LOGS/redis-streams.log" 2>&1 &
  REDIS_PID=$!
  pids+=($REDIS_PID)
  for _ in $(seq 1 100); do grep -qi "ready to accept connections" "$LOGS/redis-streams.log" && break; sleep 0.1; done
  grep -qi "ready to accept connections" "$LOGS/redis-streams.log" || { echo "redis-server did not start"; return 1; }
  REDIS_URL="unix://$REDIS_DIR/redis.sock"
}

three_nodes_streams() {
  start_redis || return 1
  local opts=(--recovery --adapter streams --redis-url "$REDIS_URL" "${SERVER_OPTS[@]}")
  start "$LOGS/streams-a.log" "$BIN/sockeye-bench-server" --port 0 "${opts[@]}" || return 1
  local a=$ADDR
  start "$LOGS/streams-b.log" "$BIN/sockeye-bench-server" --port 0 "${opts[@]}" || return 1
  local b=$ADDR
  start "$LOGS/streams-c.log" "$BIN/sockeye-bench-server" --port 0 "${opts[@]}" || return 1
  local c=$ADDR c_pid=${pids[-1]}
  # The chaos beside the cuts, on a clock from the soak's start (its clients join first).
  local span=$((SECONDS_EACH * 1000))
  (
    ms() { sleep "$(awk "BEGIN { print $1 / 1000 }")"; }
    ms $((span * 3 / 10))
    echo "chaos: stopping node c ($c)"
    kill -TERM "$c_pid"
    while kill -0 "$c_pid" 2>/dev/null; do sleep 0.05; done
    ms $((span * 2 / 10))
    echo "chaos: starting node c again on ${c##*:}"
    "$BIN/sockeye-bench-server" --port "${c##*:}" "${opts[@]}" >"$LOGS/streams-c-again.log" 2>&1 &
    echo $! >>"$RESTARTED"
    ms $((span * 1 / 10))
    echo "chaos: pausing Redis"
    kill -STOP "$REDIS_PID"
    ms 1500
    kill -CONT "$REDIS_PID"
    echo "chaos: Redis resumed"
  ) >"$LOGS/streams-chaos.log" 2>&1 &
  local chaos=$!
  soak "three nodes on Redis Streams, recovery on, roaming" --expect-no-loss --roam -- "$a" "$b" "$c"
  local rc=$?
  wait "$chaos"
  sed 's/^/  /' "$LOGS/streams-chaos.log"
  grep -q "Redis resumed" "$LOGS/streams-chaos.log" || { echo "the chaos did not run to its end"; rc=1; }
  grep -q "^listening on" "$LOGS/streams-c-again.log" || { echo "node c did not start again"; rc=1; }
  stop_all
  rm -rf "$REDIS_DIR"
  return $rc
}

if [ -n "${SOAK_ONLY:-}" ]; then
  count "$SOAK_ONLY"
  echo "soak: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
fi

count one_node_recovery
count one_node_no_recovery
count two_nodes_recovery
count three_nodes_streams
echo "soak: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
