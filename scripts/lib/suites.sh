# The counting of scripts/test.sh, in one place so that scripts/selftest-counting.sh
# can run the very same functions on suites that fail on purpose. Sourced, not run.
#
# Every suite ends as `passed` and `failed` numbers added to the totals. A suite is a
# failure unless it positively reported passing tests: a non-zero exit, a test that was
# cancelled (node's word for a timeout or a failing hook), skipped, todo or ignored, a
# test binary that ended without its summary, a file that defined no test, a suite
# directory that is missing or empty: each counts as failed, never as nothing.

passed=0
failed=0
failures=()

note() { printf '\n==> %s\n' "$*"; }

# count <passed> <failed> <label>: adds to the totals; a failure is remembered by label.
count() {
  passed=$((passed + $1))
  failed=$((failed + $2))
  if [ "$2" -gt 0 ]; then failures+=("$3 ($2 failed)"); fi
}

# check <label> <command...>: one pass or one fail, by the command's exit status (which
# it returns).
check() {
  local label=$1; shift
  note "$label"
  if "$@"; then count 1 0 "$label"; else count 0 1 "$label"; return 1; fi
}

# suite_files <dir>: fails (and says so) unless <dir> holds *.test.mjs files.
suite_files() {
  local dir=$1
  if [ ! -d "$dir" ]; then echo "suite directory $dir is missing"; return 1; fi
  if ! compgen -G "$dir/*.test.mjs" >/dev/null; then echo "suite directory $dir holds no *.test.mjs"; return 1; fi
}

# node_tap_counts <log> <exit status>: prints `passed failed` for a node --test TAP log.
# Fails: fail + cancelled + skipped + todo; a top-level entry named by a file path (a
# file that defined no test, or crashed before defining any); no summary at all; a
# summary of zero tests; a non-zero exit with nothing else counted as failed.
node_tap_counts() {
  awk -v rc="$2" '
    /^# tests /     { tests = $3; seen = 1 }
    /^# pass /      { p = $3 }
    /^# fail /      { f += $3 }
    /^# cancelled / { f += $3 }
    /^# skipped /   { f += $3 }
    /^# todo /      { f += $3 }
    # Node names a file that ran no test of its own after its path.
    /^(not )?ok [0-9]+ - \/.*\.(m?js|cjs|ts)$/ { file_entries++; if ($1 == "ok") p_files++ }
    END {
      if (!seen) { print 0, 1; exit }
      # Those entries passed as tests of their own: they count as failures instead
      # (the ones that did not pass are in `# fail` already).
      p -= p_files; f += p_files
      if (tests - file_entries <= 0 && f == 0) f = 1
      if (rc != 0 && f == 0) f = 1
      print p, f
    }' "$1"
}

# node_suite <label> <log> <dir or file...>: runs a node:test suite from tests/js (paths
# relative to it, or absolute) and counts it with node_tap_counts.
node_suite() {
  local label=$1 log=$2; shift 2
  note "$label"
  local arg
  for arg in "$@"; do
    case $arg in
      -*) ;;
      *)
        local path=$arg
        [ "${path#/}" = "$path" ] && path=$ROOT/tests/js/$arg
        if [ -d "$path" ]; then
          suite_files "$path" || { count 0 1 "$label (no tests)"; return; }
        elif [ ! -f "$path" ]; then
          echo "$path is missing"; count 0 1 "$label (missing)"; return
        fi
        ;;
    esac
  done
  (cd "$ROOT/tests/js" && node --test --test-reporter=tap --test-concurrency=1 "$@") >"$log" 2>&1
  local rc=$? p f
  read -r p f < <(node_tap_counts "$log" "$rc")
  grep -E '^(not ok|ok) ' "$log" | tail -n 200
  if [ "$f" -gt 0 ]; then
    grep -E '^# (tests|pass|fail|cancelled|skipped|todo) ' "$log" | tail -6
    grep -E '^(not )?ok [0-9]+ - /' "$log" | sed 's/^/(a file that ran no test of its own) /'
    [ "$rc" -ne 0 ] && echo "node exited with status $rc"
    tail -40 "$log"
  fi
  echo "$label: $p passed, $f failed"
  count "$p" "$f" "$label"
}

# cargo_log_counts <log> <exit status>: prints `passed failed` for the output of
# `cargo test` (or `wasm-pack test`). Fails: the failed and ignored tests of each
# `test result:` line; every test binary (a `Running` or `Doc-tests` line) that printed
# no `test result:` (it died: abort, stack overflow, exit), wasm-bindgen's `no tests to
# run!` standing for one; a non-zero exit with nothing else counted as failed; no test
# run at all.
cargo_log_counts() {
  awk -v rc="$2" '
    /^ +(Running|Doc-tests) / { binaries++ }
    # wasm-bindgen-test-runner says this for a binary with no test in it.
    /^no tests to run!$/ { results++ }
    /^test result:/ {
      results++
      for (i = 1; i <= NF; i++) {
        if ($(i+1) ~ /^passed/) p += $i
        if ($(i+1) ~ /^failed/) f += $i
        if ($(i+1) ~ /^ignored/) f += $i
      }
    }
    END {
      if (binaries > results) f += binaries - results
      if (p == 0 && f == 0) f = 1
      if (rc != 0 && f == 0) f = 1
      print p + 0, f + 0
    }' "$1"
}

# cargo_suite <label> <log> <command...>: runs a cargo-style test command and counts it
# with cargo_log_counts.
cargo_suite() {
  local label=$1 log=$2; shift 2
  note "$label"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]} p f
  read -r p f < <(cargo_log_counts "$log" "$rc")
  if [ "$f" -gt 0 ]; then
    local binaries results
    binaries=$(grep -cE '^ +(Running|Doc-tests) ' "$log")
    results=$(grep -cE '^(test result:|no tests to run!$)' "$log")
    echo "$label: $binaries test binaries, $results reported; exit status $rc"
  fi
  echo "$label: $p passed, $f failed"
  count "$p" "$f" "$label"
}

# plain_suite <label> <log> <command...>: a runner that ends with its own plain line
# `... N passed, N failed`; counted by that line and its exit status.
plain_suite() {
  local label=$1 log=$2; shift 2
  note "$label"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]} p f
  read -r p f < <(awk -v rc="$rc" '
    / [0-9]+ passed, [0-9]+ failed$/ { p = $(NF-3); f = $(NF-1); seen = 1 }
    END {
      if (!seen) { p = 0; f = 1 }
      if (p == 0 && f == 0) f = 1
      if (rc != 0 && f == 0) f = 1
      print p + 0, f + 0
    }' "$log")
  echo "$label: $p passed, $f failed"
  count "$p" "$f" "$label"
}

# start_server <log> <command...>: starts a server with PORT=0 that prints
# `listening on HOST:PORT` (it binds the port itself, so nothing is released and taken
# again) and sets SERVER_PID and SERVER_ADDR; waits up to 60 s for that line.
start_server() {
  local log=$1; shift
  PORT=0 "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  local _
  for _ in $(seq 1 600); do
    SERVER_ADDR=$(sed -n 's/^listening on //p' "$log" | head -1)
    [ -n "$SERVER_ADDR" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not start: $*"; cat "$log"; return 1
}
stop_server() { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; }

# summary: the failures, then the one closing line; returns non-zero on any failure.
summary() {
  note "summary"
  local f
  for f in "${failures[@]}"; do echo "FAILED: $f"; done
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
