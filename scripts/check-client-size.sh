#!/usr/bin/env bash
# The browser client's size budget: scripts/check-client-size.sh [PKG_DIR]
# Sums what a page downloads from the package (every .wasm and .js file, gzip -9) and
# fails when it is over BUDGET. The budget is the size reached, plus a little room: it
# only goes down. Figures and where the bytes go: docs/client-size.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PKG=${1:-client-wasm/pkg}
# gzip -9 bytes of wasm + JS (issue 15's target is 20 KB; see docs/client-size.md).
BUDGET=82500

[ -d "$PKG" ] || { echo "error: $PKG is missing: build it with scripts/build-client.sh web" >&2; exit 1; }
total=0
files=0
while IFS= read -r f; do
  gz=$(gzip -9 -c "$f" | wc -c)
  total=$((total + gz))
  files=$((files + 1))
  printf '  %s: gzip %d bytes\n' "${f#"$PKG"/}" "$gz"
done < <(find "$PKG" -type f \( -name '*.wasm' -o -name '*.js' \) | sort)
if [ "$files" -eq 0 ] || ! ls "$PKG"/*.wasm >/dev/null 2>&1; then
  echo "error: no wasm in $PKG" >&2
  exit 1
fi
echo "package $PKG: gzip -9 total $total bytes (budget $BUDGET)"
if [ "$total" -gt "$BUDGET" ]; then
  echo "error: the browser client grew past its budget: $total > $BUDGET bytes gzip" >&2
  exit 1
fi
