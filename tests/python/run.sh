#!/usr/bin/env bash
# Runs the Python interop suite: the official python-socketio client against a server
# that implements tests/js/interop/FIXTURE.md.
#
#   tests/python/run.sh [SERVER_CMD] [pytest args...]
#   SERVER_CMD=target/debug/interop_fixture tests/python/run.sh
#   tests/python/run.sh "node tests/js/interop/reference-server.mjs"
#
# Needs tests/python/.venv (scripts/setup.sh makes it). Ends with one plain line,
# `python interop: N passed, N failed`, and exits non-zero on any failure, error or skip,
# on zero tests, and when pytest itself fails (e.g. exit code 5, nothing collected).
# Logs: $SOCKEYE_TEST_LOGS (default target/test-logs): python-interop.xml (JUnit) and
# python-interop-server.log (the server's output).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

if [ $# -gt 0 ]; then SERVER_CMD=$1; shift; fi
summary() { echo "python interop: $1 passed, $2 failed"; }
if [ -z "${SERVER_CMD:-}" ]; then
  echo "usage: $0 SERVER_CMD [pytest args...]  (or SERVER_CMD in the environment)" >&2
  summary 0 1
  exit 2
fi
PY=$HERE/.venv/bin/python
if [ ! -x "$PY" ]; then
  echo "$PY is missing: run scripts/setup.sh" >&2
  summary 0 1
  exit 2
fi

LOGS=${SOCKEYE_TEST_LOGS:-$ROOT/target/test-logs}
mkdir -p "$LOGS"
JUNIT=$LOGS/python-interop.xml
rm -f "$JUNIT"

# A relative SERVER_CMD is meant from where run.sh was called; pytest runs in $ROOT.
SERVER_CMD="cd $(printf '%q' "$PWD") && $SERVER_CMD"
cd "$ROOT" # so that pytest names tests tests/python/test_*.py::...
# The outer bound: SIGINT lets pytest run its teardown (which stops the server).
SERVER_CMD=$SERVER_CMD SERVER_LOG=${SERVER_LOG:-$LOGS/python-interop-server.log} \
  PYTHONDONTWRITEBYTECODE=1 \
  timeout -s INT -k 15 ${PY_INTEROP_SUITE_TIMEOUT:-600} \
  "$PY" -m pytest -p no:cacheprovider -q -rfEs --junitxml="$JUNIT" --rootdir="$HERE" \
  -c "$HERE/pytest.ini" "$HERE" "$@"
rc=$?

# Counts per test case from the JUnit report: a case with a failure, an error (also at
# set-up or teardown) or a skip is a failure; no report, or no case at all, is one too.
read -r passed failed < <("$PY" - "$JUNIT" <<'EOF'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print(0, 0)
    sys.exit()
# A test that failed and then errored at teardown is reported twice: count it once.
ok = {}
for case in root.iter("testcase"):
    key = (case.get("classname"), case.get("name"))
    bad = any(child.tag in ("failure", "error", "skipped") for child in case)
    ok[key] = ok.get(key, True) and not bad
print(sum(ok.values()), len(ok) - sum(ok.values()))
EOF
)
passed=${passed:-0}
failed=${failed:-0}
if [ "$rc" -ne 0 ] || [ $((passed + failed)) -eq 0 ]; then
  [ "$failed" -eq 0 ] && failed=1
  [ "$rc" -ne 0 ] && echo "pytest exited with code $rc" >&2
fi
summary "$passed" "$failed"
[ "$failed" -eq 0 ]
