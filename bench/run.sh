#!/usr/bin/env bash
# The benchmark command: builds Sockeye's load generator and every peer server in
# release, runs each scenario against each server (3 repetitions, interleaved, pinned
# with taskset), and writes bench/results/latest.{md,json,svg} (or --out DIR). Each
# figure comes with the server's CPU time per message. Takes a few minutes.
#   bash bench/run.sh [--reps N] [--seconds S] [--only echo16 fanout ...] [--no-build]
#                     [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
# 5000 idle sockets and 1000 receivers need two descriptors each on this side, one on
# the server's: raise the soft limit as far as the hard one allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true
echo "open files limit: $(ulimit -n)"
for tool in taskset cargo python3; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh needs $tool" >&2; exit 1; }
done
exec python3 bench/run.py "$@"
