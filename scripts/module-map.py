#!/usr/bin/env python3
"""The module map of a crate's `src/`: which top-level module uses which, and its cycles.

Usage: module-map.py CRATE_SRC [--allow a,b,c]

Prints one line per module with the modules it names (`crate::x`, grouped
`use crate::{x::.., y}`, and the crate root's re-exports resolved to the module that
defines them), then every import cycle (a strongly connected component of more than one
module). With --allow, exits 1 if any cycle is not the allowed set or a subset of it:
issue 16 leaves only the natural namespace/socket/broadcast cycle in server/src.
"""
import re
import sys
from pathlib import Path


def modules(src):
    names = {}
    for path in sorted(src.iterdir()):
        if path.name in ("lib.rs", "main.rs"):
            continue
        if path.suffix == ".rs":
            names.setdefault(path.stem, []).append(path)
        elif path.is_dir():
            names.setdefault(path.name, []).extend(sorted(path.rglob("*.rs")))
    return names


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def group_heads(body):
    """The first path segment of each item in a `{...}` use group (top level only)."""
    heads, depth, item = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            heads.append(item)
            item = ""
            continue
        if depth == 0:
            item += ch
    heads.append(item)
    return [h.strip().split("::")[0].strip() for h in heads if h.strip()]


def matching_brace(text, start):
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def referenced(text):
    names = set(re.findall(r"\bcrate::([A-Za-z_][A-Za-z0-9_]*)", text))
    for m in re.finditer(r"\bcrate::\{", text):
        end = matching_brace(text, m.end() - 1)
        names.update(group_heads(text[m.end():end]))
    return names


def root_exports(lib):
    """Names the crate root re-exports, mapped to the module they come from."""
    out = {}
    text = strip_comments(lib.read_text())
    for m in re.finditer(r"pub use ([a-z_][a-z0-9_]*)::(\{[^;]*\}|[A-Za-z_][A-Za-z0-9_]*);", text):
        module, rest = m.group(1), m.group(2)
        items = group_heads(rest[1:-1]) if rest.startswith("{") else [rest]
        for item in items:
            out[item.split(" as ")[-1].strip()] = module
    return out


def sccs(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    src = Path(sys.argv[1])
    allow = set()
    if "--allow" in sys.argv:
        allow = set(sys.argv[sys.argv.index("--allow") + 1].split(","))
    mods = modules(src)
    exports = root_exports(src / "lib.rs") if (src / "lib.rs").exists() else {}
    graph = {}
    for name, files in mods.items():
        deps = set()
        for f in files:
            for ref in referenced(strip_comments(f.read_text())):
                target = ref if ref in mods else exports.get(ref)
                if target and target != name:
                    deps.add(target)
        graph[name] = sorted(deps)
    for name in sorted(graph):
        print(f"{name}: {' '.join(graph[name]) or '-'}")
    cycles = [c for c in sccs(graph) if len(c) > 1]
    bad = False
    for c in cycles:
        ok = set(c) <= allow
        bad |= not ok
        print(f"cycle: {' -> '.join(c)}{'' if ok else '  (not allowed)'}")
    if not cycles:
        print("no cycles")
    sys.exit(1 if allow and bad else 0)


if __name__ == "__main__":
    main()
