#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ (one per protocol decoder) for a number of libFuzzer
# executions each, and prints the counts libFuzzer reports.
#
#   scripts/fuzz.sh [RUNS]        RUNS defaults to 1000000 per target
#
# Environment: FUZZ_MAX_LEN (default 4096), FUZZ_TARGETS (default: all of them).
# Not part of scripts/test.sh: a million runs per target takes minutes.
#
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address, ...). Only the stable
# toolchain is assumed, so RUSTC_BOOTSTRAP=1 lets stable rustc accept them.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-1000000}
MAX_LEN=${FUZZ_MAX_LEN:-4096}
read -r -a TARGETS <<<"${FUZZ_TARGETS:-engine_packet engine_payload socket_decoder socket_msgpack value_json server_entry}"
LOGS=target/fuzz-logs
mkdir -p "$LOGS"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2
fi
export RUSTC_BOOTSTRAP=1

cargo fuzz build --fuzz-dir fuzz

failed=0
summary=()
for target in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  log="$LOGS/$target.log"
  echo "==> fuzzing $target for $RUNS runs (log: $log)"
  status=0
  cargo fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -runs="$RUNS" -max_len="$MAX_LEN" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
  done_line=$(grep -E '^Done [0-9]+ runs' "$log" | tail -1 || true)
  executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$status" -ne 0 ] || [ -z "$done_line" ]; then
    failed=1
    tail -40 "$log"
    summary+=("$target: FAILED (exit $status) after ${executed:-?} executions; see $log and fuzz/artifacts/$target/")
  else
    summary+=("$target: $done_line (executed units: ${executed:-?})")
  fi
done

echo
echo "==> fuzz summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
