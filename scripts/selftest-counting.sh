#!/usr/bin/env bash
# The counting self-test: runs the real functions of scripts/lib/suites.sh (the ones
# scripts/test.sh counts with) on suites that fail on purpose (tests/selftest/), and
# checks that each way of failing is counted as a failure and that the controls count
# exactly their passing tests. Ends with `counting self-test: N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/target/selftest
rm -rf "$WORK/logs" "$WORK/no-tests"
mkdir -p "$WORK/logs" "$WORK/no-tests"
echo "a folder without test files" >"$WORK/no-tests/README.md"
FIXTURES=$ROOT/tests/selftest

ok=0
bad=0

# counted <kind> <command...>: runs one counting function in a subshell with fresh
# totals and prints `passed failed` as it counted them.
counted() {
  (
    # shellcheck source=lib/suites.sh
    source "$ROOT/scripts/lib/suites.sh"
    "$@" >>"$WORK/logs/output.log" 2>&1
    echo "$passed $failed"
  )
}

# expect <what> <passed> <failed> <command...>: `<failed>` is a number, or `+` for
# "at least one".
expect() {
  local what=$1 want_p=$2 want_f=$3; shift 3
  local got_p got_f
  read -r got_p got_f < <(counted "$@")
  if [ "$want_f" = "+" ]; then
    if [ "${got_f:-0}" -ge 1 ] && [ "${got_p:-0}" -le "$want_p" ]; then
      ok=$((ok + 1)); echo "ok: $what counted as $got_p passed, $got_f failed"
      return
    fi
  elif [ "$got_p" = "$want_p" ] && [ "$got_f" = "$want_f" ]; then
    ok=$((ok + 1)); echo "ok: $what counted as $got_p passed, $got_f failed"
    return
  fi
  bad=$((bad + 1))
  echo "NOT OK: $what counted as ${got_p:-?} passed, ${got_f:-?} failed; expected $want_p passed, $want_f failed"
}

node_case() { node_suite "$1" "$WORK/logs/$1.log" "$FIXTURES/node/$1"; }
expect "node: a passing suite (the control)" 3 0 node_case passing
expect "node: a before hook that throws (cancelled)" 0 + node_case failing-hook
expect "node: a test that times out (cancelled)" 0 + node_case timeout
expect "node: a file that defines no test" 0 + node_case empty
expect "node: skipped and todo tests" 1 + node_case skipped
expect "node: a file that throws at import" 0 + node_case crash
expect "node: a suite directory that is missing" 0 + \
  node_suite missing "$WORK/logs/missing.log" "$FIXTURES/node/no-such-suite"
expect "node: a suite directory without test files" 0 + \
  node_suite no-tests "$WORK/logs/no-tests.log" "$WORK/no-tests"

# cargo_case <test>: runs the control (`passes`, two tests) beside the binary <test>, as
# the workspace's `cargo test` runs many binaries: one that reports must not hide one
# that did not.
cargo_case() {
  CARGO_TARGET_DIR=$WORK/cargo-target cargo_suite "$1" "$WORK/logs/cargo-$1.log" \
    cargo test --locked --manifest-path "$FIXTURES/cargo/Cargo.toml" --no-fail-fast --test passes --test "$1"
}
expect "cargo: passing tests (the control)" 2 0 cargo_case passes
expect "cargo: a test binary killed by a signal" 3 + cargo_case aborts
expect "cargo: a test binary that exits 0 before it reports" 2 + cargo_case exits
expect "cargo: an ignored test" 3 + cargo_case ignored
expect "cargo: a build that fails" 0 + \
  cargo_suite no-such-test "$WORK/logs/cargo-build.log" \
  cargo test --locked --manifest-path "$FIXTURES/cargo/Cargo.toml" --test no-such-test

say() { printf '%s\n' "$@"; }
expect "plain: a runner's own line (the control)" 3 0 plain_suite plain "$WORK/logs/plain.log" say "x: 3 passed, 0 failed"
expect "plain: a good line but a non-zero exit" 3 + plain_suite plain "$WORK/logs/plain.log" sh -c 'echo "x: 3 passed, 0 failed"; exit 1'
expect "plain: no summary line" 0 + plain_suite plain "$WORK/logs/plain.log" say "all good"
expect "plain: zero tests" 0 + plain_suite plain "$WORK/logs/plain.log" say "x: 0 passed, 0 failed"

echo "counting self-test: $ok passed, $bad failed"
[ "$bad" -eq 0 ]
