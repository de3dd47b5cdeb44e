#!/usr/bin/env python3
"""Where the browser client's wasm bytes go: python3 bench/client-size/where.py WASM [WASM...]

WASM is cargo's output for the client (target/wasm32-unknown-unknown/wasm-release/
sockeye_client.wasm, which still has function names). Each is put through what
scripts/build-client.sh does (wasm-bindgen, then wasm-opt -Oz), keeping the names (-g),
and twiggy (`cargo install twiggy`) sizes every function and data segment; the table
groups them. The names section itself is left out, so the total is the shipped size.
Needs wasm-bindgen and npm's wasm-opt on PATH (scripts/setup.sh installs both)."""
import collections
import csv
import io
import re
import subprocess
import sys
import tempfile
from pathlib import Path

GROUPS = [
    ("JSON library (serde_json, serde)", r"serde_json|serde_core|serde::|<serde|ValueVisitor|zmij|itoa|ryu|lexical"),
    ("floats: formatting and parsing", r"flt2dec|dec2flt|bignum|float|Big32x40|__floatuntidf"),
    ("formatting, panics, Debug", r"core::fmt|fmt::Debug|as core::fmt|panicking|panic|unwrap_failed|slice_error_fail|escape_debug|printable|Utf8Chunks"),
    ("allocator (dlmalloc)", r"dlmalloc|__rdl_|__rust_alloc|__rust_dealloc|__rust_realloc"),
    ("JS values walked in Rust (convert.rs, Reflect)", r"sockeye_client::convert"),
    ("collections and strings (alloc, core::str)", r"^alloc::|<alloc::|hashbrown|btree|core::str|<core::str|<str"),
    ("protocol: client state machines (shared client/)", r"sockeye_protocol::client"),
    ("protocol: packets, codec, JSON reader (shared)", r"sockeye_protocol"),
    ("client: manager, transports, JS API (client-wasm)", r"sockeye_client"),
    ("wasm-bindgen glue (imports, closures, externref)", r"wasm_bindgen|js_sys|web_sys|__wbg|__wbindgen|externref|shim|__externref"),
    ("data (strings, tables)", r"data segment"),
    ("other core (iterators, drop glue, memchr...)", r"core::|<core"),
]


def sizes(wasm: Path) -> collections.Counter:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["wasm-bindgen", "--target", "web", "--keep-debug", "--out-dir", tmp, str(wasm)], check=True)
        opt = Path(tmp) / "opt.wasm"
        subprocess.run(["wasm-opt", "-Oz", "-g", "--enable-bulk-memory", "--enable-nontrapping-float-to-int",
                        "--enable-sign-ext", "--enable-mutable-globals", "--enable-reference-types",
                        "--enable-multivalue", str(Path(tmp) / (wasm.stem + "_bg.wasm")), "-o", str(opt)], check=True)
        out = subprocess.run(["twiggy", "top", "-n", "1000000", "--format", "csv", str(opt)],
                             check=True, capture_output=True, text=True).stdout
    groups = collections.Counter()
    for row in csv.DictReader(io.StringIO(out)):
        name = re.sub(r"\[[0-9a-f]+\]", "", row["Name"])
        if "function names" in name or name.startswith("custom section") or name.startswith("Σ") or name.startswith("..."):
            continue
        size = int(row["ShallowSize"])
        for label, pattern in GROUPS:
            if re.search(pattern, name):
                groups[label] += size
                break
        else:
            groups["other (exports, tables, small items)"] += size
    return groups


def main() -> None:
    wasms = [Path(p) for p in sys.argv[1:]]
    if not wasms:
        sys.exit(__doc__)
    tables = [sizes(w) for w in wasms]
    labels = [g for g, _ in GROUPS] + ["other (exports, tables, small items)"]
    print("| where | " + " | ".join(str(w) for w in wasms) + " |")
    print("|---|" + "---:|" * len(wasms))
    for label in labels:
        print(f"| {label} | " + " | ".join(f"{t[label]:,}" for t in tables) + " |")
    print("| **total (bytes, before gzip)** | " + " | ".join(f"**{sum(t.values()):,}**" for t in tables) + " |")


if __name__ == "__main__":
    main()
