#!/usr/bin/env bash
# Sockeye's demo, on a fresh machine: installs what the build needs, builds the browser
# client into www/pkg when it is missing or older than its sources, then runs the
# `sockeye` server, which prints the URL to open. Extra arguments go to `sockeye`
# (e.g. `bash scripts/demo.sh --port 3000`); relative paths are from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# Stale when anything the package is built from is newer than its entry point.
# (-quit rather than `| head`: under pipefail a find cut off by head would end the script.)
stale=1
if [ -f www/pkg/sockeye.js ]; then
  newer=$(find client-wasm/src client-wasm/js shared/src client-wasm/Cargo.toml \
    shared/Cargo.toml Cargo.lock scripts/build-client.sh \
    -type f -newer www/pkg/sockeye.js -print -quit)
  [ -z "$newer" ] && stale=0
fi
if [ "$stale" = 1 ]; then
  bash scripts/build-client.sh web www/pkg
fi

# The pages of this checkout unless the caller names others (by --static-dir, which
# overrides the variable, or by SOCKEYE_STATIC_DIR itself).
export SOCKEYE_STATIC_DIR="${SOCKEYE_STATIC_DIR:-$PWD/www}"
exec cargo run --release -p sockeye -- "$@"
