#!/usr/bin/env bash
# Sockeye's demo, on a fresh machine: installs what the build needs, builds the browser
# client into www/pkg when it is missing or older than its sources, then runs the
# `sockeye` server, which prints the URL to open. Extra arguments go to `sockeye`
# (e.g. `bash scripts/demo.sh --port 3000`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

stale=1
if [ -f www/pkg/sockeye.js ]; then
  newer=$(find client-wasm/src client-wasm/js shared/src client-wasm/Cargo.toml -newer www/pkg/sockeye.js -type f | head -1)
  [ -z "$newer" ] && stale=0
fi
if [ "$stale" = 1 ]; then
  bash scripts/build-client.sh web www/pkg
fi

exec cargo run --release -p sockeye-server --bin sockeye -- --static-dir www "$@"
