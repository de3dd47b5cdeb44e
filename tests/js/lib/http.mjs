// HTTP pieces shared by the suites: the fixture's POST /push, and a static file server
// for pages and client packages.

import { createServer } from "node:http";
import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import assert from "node:assert/strict";
import { withTimeout } from "./wait.mjs";

/** POST /push with a JSON body; asserts the fixture's `200 {"ok":true}`. */
export async function push(url, body) {
  const res = await withTimeout(
    fetch(`${url}/push`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
    "the POST /push response",
  );
  const text = await res.text();
  assert.equal(res.status, 200, `POST /push status (body: ${text})`);
  assert.deepEqual(JSON.parse(text), { ok: true }, "POST /push body");
}

export const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

/** The file under `roots` (URL prefix -> directory, longest prefix first) for a URL path. */
function resolveFile(roots, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes("\0")) return null;
  for (const [prefix, dir] of roots) {
    if (!decoded.startsWith(prefix)) continue;
    const file = normalize(join(dir, decoded.slice(prefix.length)));
    if (file !== dir && !file.startsWith(dir + sep)) return null; // no ../ escapes
    return file;
  }
  return null;
}

/**
 * Serves files on 127.0.0.1:0 (GET and HEAD, no caching). `roots`: [URL prefix,
 * directory] pairs, longest prefix first; `index`: the file served for `/`. Resolves with
 * `{ url, overrides, close }`; `overrides` maps a URL path to a body served instead of the
 * file (a page with another module path, say).
 */
export async function startStaticServer({ roots, index = "/index.html" }) {
  const overrides = new Map();
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (overrides.has(path) && req.method === "GET") {
      const body = Buffer.from(overrides.get(path));
      res.writeHead(200, {
        "content-type": MIME[extname(path)] ?? "application/octet-stream",
        "content-length": body.length,
        "cache-control": "no-store",
      });
      res.end(body);
      return;
    }
    const file = resolveFile(roots, path === "/" ? index : path);
    if ((req.method !== "GET" && req.method !== "HEAD") || !file) {
      res.writeHead(file ? 405 : 400, { "content-type": "text/plain" }).end();
      return;
    }
    let body;
    try {
      if (!statSync(file).isFile()) throw new Error("not a file");
      body = await readFile(file);
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${path}`);
      return;
    }
    res.writeHead(200, {
      "content-type": MIME[extname(file)] ?? "application/octet-stream",
      "content-length": body.length,
      "cache-control": "no-store",
    });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise((ok, fail) => server.once("error", fail).listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    overrides,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}
