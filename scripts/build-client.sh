#!/usr/bin/env bash
# Builds the browser client's npm package: scripts/build-client.sh [web|bundler] [OUT_DIR]
#   web      (default) ES module for <script type="module"> / direct import; out: client-wasm/pkg
#   bundler  for webpack/vite/rollup; out: client-wasm/pkg-bundler
# wasm-pack produces the wasm and wasm-bindgen's JS (sockeye_client.js); we add the
# hand-written glue (client-wasm/js/sockeye.js + sockeye.d.ts, which imports
# ./sockeye_client.js) and make it the package's entry point. Ends with the package size.
# Needs the tools scripts/setup.sh installs.
set -euo pipefail
CALLER_PWD=$PWD
cd "$(dirname "$0")/.."
ROOT=$PWD

TARGET=${1:-web}
case $TARGET in
  web) default_out=client-wasm/pkg ;;
  bundler) default_out=client-wasm/pkg-bundler ;;
  *) echo "usage: $0 [web|bundler] [OUT_DIR]" >&2; exit 2 ;;
esac
# An OUT_DIR given on the command line is relative to the caller's directory; wasm-pack
# itself resolves relative --out-dir against the crate, so always hand it an absolute path.
if [ $# -ge 2 ]; then
  case $2 in /*) OUT=$2 ;; *) OUT=$CALLER_PWD/$2 ;; esac
else
  OUT=$ROOT/$default_out
fi

# Fail before the (slow) build if the glue is missing.
GLUE=(client-wasm/js/sockeye.js client-wasm/js/binary.js client-wasm/js/sockeye.d.ts)
for f in "${GLUE[@]}"; do
  if [ ! -f "$f" ]; then
    echo "error: $f is missing: the package's JS glue must exist before the package can be built" >&2
    exit 1
  fi
done

# npm's binaryen wasm-opt first on PATH: otherwise wasm-pack downloads one from GitHub
# (unreachable) or finds Debian's, which silently produces broken wasm. The cargo-installed
# wasm-bindgen must be on PATH too, or wasm-pack tries to fetch/build its own.
BIN=$ROOT/tests/js/node_modules/.bin
export PATH="$BIN:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if [ ! -x "$BIN/wasm-opt" ]; then
  echo "error: $BIN/wasm-opt is missing; run scripts/setup.sh" >&2
  exit 1
fi
lock_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $lock_version" ]; then
  echo "warning: wasm-bindgen on PATH is not $lock_version (Cargo.lock); wasm-pack will build its own (slow). Run scripts/setup.sh" >&2
fi

# The wasm is built with a pinned nightly that rebuilds std for it without panic messages,
# source locations or Debug formatting: none of them reach a user of the package (a panic
# in the browser is a trap either way), and they were a sixth of its bytes
# (docs/client-size.md). scripts/setup.sh installs this toolchain with rust-src.
CLIENT_TOOLCHAIN=nightly-2026-05-19
export RUSTUP_TOOLCHAIN=$CLIENT_TOOLCHAIN
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none"
# `--mode force` skips wasm-pack's checks, one of which installs the target's prebuilt std
# (rustup has none for this nightly on wasm32; build-std does not need it).
wasm-pack build client-wasm --mode force --profile wasm-release --target "$TARGET" --out-dir "$OUT" \
  -- -Z build-std=std,panic_abort

cp "${GLUE[@]}" "$OUT/"
# The glue imports ./sockeye_init.js, which differs by target (see client-wasm/js/init-*.js).
cp "client-wasm/js/init-$TARGET.js" "$OUT/sockeye_init.js"

# Point package.json at the glue. Done with node, not sed, so the JSON stays valid.
node - "$OUT" <<'JS'
const fs = require("fs");
const path = require("path");
const out = process.argv[2];
const file = path.join(out, "package.json");
const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
pkg.main = "sockeye.js";
pkg.module = "sockeye.js";
pkg.types = "sockeye.d.ts";
pkg.files = [...new Set([...(pkg.files || []), "sockeye.js", "binary.js", "sockeye_init.js", "sockeye.d.ts"])];
// Bundlers must not tree-shake away the glue's top-level setup or wasm-bindgen's snippets.
const side = new Set(Array.isArray(pkg.sideEffects) ? pkg.sideEffects : []);
side.add("./sockeye.js");
side.add("./sockeye_init.js");
if (fs.existsSync(path.join(out, "snippets"))) side.add("./snippets/*");
pkg.sideEffects = [...side];
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
JS

# The web package is what a page downloads as it is: its JS is minified (terser, no
# property mangling: the glue and wasm-bindgen's imports are looked up by name). A
# bundler minifies the bundler package itself, as it does socket.io-client's.
if [ "$TARGET" = web ]; then
  for f in "$OUT"/*.js; do
    "$BIN/terser" "$f" --module --compress --mangle --output "$f.min"
    mv "$f.min" "$f"
  done
fi

# Sizes: every .wasm and .js file that ships (not the .d.ts), raw and gzip -9.
echo "package: $OUT ($TARGET)"
total_raw=0
total_gz=0
while IFS= read -r f; do
  raw=$(wc -c <"$f")
  gz=$(gzip -9 -c "$f" | wc -c)
  total_raw=$((total_raw + raw))
  total_gz=$((total_gz + gz))
  printf '  %s: raw %d bytes, gzip %d bytes\n' "${f#"$OUT"/}" "$raw" "$gz"
done < <(find "$OUT" -type f \( -name '*.wasm' -o -name '*.js' \) | sort)
echo "package size: wasm+js raw $total_raw bytes, gzip $total_gz bytes"
