#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine (see ../shared/SETUP.md for
# why each step is done this way). Safe to run again: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

# cargo-installed tools (wasm-pack, wasm-bindgen) land here; a fresh shell may not have it.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

# The browser package is built with a pinned nightly (scripts/build-client.sh): its std
# is rebuilt without panic messages and formatting (docs/client-size.md), which needs
# rust-src. Pinned so that a build is the same on every machine.
CLIENT_TOOLCHAIN=$(sed -n 's/^CLIENT_TOOLCHAIN=//p' scripts/build-client.sh)
if ! rustup run "$CLIENT_TOOLCHAIN" rustc --version >/dev/null 2>&1 ||
  ! rustup component list --toolchain "$CLIENT_TOOLCHAIN" --installed | grep -q '^rust-src'; then
  rustup toolchain install "$CLIENT_TOOLCHAIN" --profile minimal --component rust-src
fi

# Debian packages. Chromium and its driver come from the same apt run so their versions
# match (chrome-for-testing downloads are unreachable here).
need_apt=()
command -v node >/dev/null || need_apt+=(nodejs npm)
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  need_apt+=(chromium chromium-driver)
fi
# The cluster suite and the soak start their own redis-server (on a unix socket).
command -v redis-server >/dev/null || need_apt+=(redis-server)
# The message queue suite (tests/js/mq/) starts its own rabbitmq-server beside Redis.
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need_apt+=(rabbitmq-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

# wasm-pack, from crates.io (its GitHub release binaries are unreachable).
WASM_PACK_VERSION=0.15.1
if [ "$(wasm-pack --version 2>/dev/null)" != "wasm-pack $WASM_PACK_VERSION" ]; then
  cargo install wasm-pack --locked --version "$WASM_PACK_VERSION"
fi

# wasm-bindgen CLI at exactly the lockfile's wasm-bindgen version: wasm-pack uses the one
# on PATH only when the versions are equal (otherwise it tries GitHub, then builds its own).
# No --locked: the CLI's locked webpki-roots is not on the registry mirror.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-0.2.130}
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# The official JavaScript Socket.IO packages, playwright-core and binaryen (whose wasm-opt
# wasm-pack uses; Debian's binaryen produces broken wasm), exactly as locked.
if [ ! -d tests/js/node_modules ] || [ ! -x tests/js/node_modules/.bin/wasm-opt ] ||
  [ tests/js/package-lock.json -nt tests/js/node_modules/.package-lock.json ]; then
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi

# The official Python client (python-socketio, websocket-client) and pytest for
# tests/python, exactly as pinned, in a git-ignored virtual environment.
PY_VENV=tests/python/.venv
if [ ! -x "$PY_VENV/bin/python" ] || [ tests/python/requirements.txt -nt "$PY_VENV/.installed" ]; then
  # Debian's python3 has venv (with ensurepip) only with python3-venv installed.
  python3 -c 'import ensurepip, venv' 2>/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
  python3 -m venv "$PY_VENV"
  "$PY_VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt
  touch "$PY_VENV/.installed"
fi

# Flask-SocketIO with python-socketio's Redis and kombu managers for tests/js/mq/, exactly
# as pinned, in a virtual environment of its own (git-ignored).
MQ_VENV=tests/mq/.venv
if [ ! -x "$MQ_VENV/bin/python" ] || [ tests/mq/requirements.txt -nt "$MQ_VENV/.installed" ]; then
  python3 -c 'import ensurepip, venv' 2>/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
  python3 -m venv "$MQ_VENV"
  "$MQ_VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/mq/requirements.txt
  touch "$MQ_VENV/.installed"
fi
