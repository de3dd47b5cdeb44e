// HTTP pieces shared by the suites: the fixture's POST /push, and a static file server
// for pages and client packages.

import { createServer, request as httpRequest } from "node:http";
import { connect as netConnect } from "node:net";
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
 * `{ url, overrides, forwarded, close }`; `overrides` maps a URL path to a body served
 * instead of the file (a page with another module path, say).
 *
 * `forward` (optional): `{ prefix, target }` sends every request whose path starts with
 * `prefix` (e.g. "/socket.io/"), WebSocket upgrades included, to the server `target()`
 * returns (`http://127.0.0.1:<port>`, or null: 502), so that a page of this server
 * reaches that server from its own origin. `forwarded` lists the forwarded request URLs.
 */
export async function startStaticServer({ roots, index = "/index.html", forward }) {
  const overrides = new Map();
  const forwarded = [];
  const forwardTarget = (req) => {
    if (!forward || !req.url.startsWith(forward.prefix)) return undefined;
    forwarded.push(req.url);
    const target = forward.target();
    return target ? new URL(target) : null;
  };
  const server = createServer(async (req, res) => {
    const target = forwardTarget(req);
    if (target !== undefined) {
      forwardRequest(req, res, target);
      return;
    }
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
  const upgraded = new Set();
  server.on("upgrade", (req, socket, head) => {
    upgraded.add(socket);
    socket.on("close", () => upgraded.delete(socket));
    const target = forwardTarget(req);
    if (!target) {
      socket.end("HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\n\r\n");
      return;
    }
    forwardUpgrade(req, socket, head, target);
  });
  await new Promise((ok, fail) => server.once("error", fail).listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    overrides,
    forwarded,
    close: () =>
      new Promise((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
      }),
  };
}

/**
 * Forwards one HTTP request to `target` (a URL) and its answer back, bodies streamed.
 * (Also the browser benchmark's forwarder, bench/browser/run.mjs.)
 */
export function forwardRequest(req, res, target) {
  if (!target) {
    res.writeHead(502, { "content-type": "text/plain" }).end("no server to forward to");
    return;
  }
  const upstream = httpRequest(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode, answer.statusMessage, answer.rawHeaders);
      answer.pipe(res);
    },
  );
  upstream.on("error", () => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" }).end("upstream error");
    else res.destroy();
  });
  // The page went away (its browser context closed): so does the forwarded request.
  res.on("close", () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

/** Forwards a WebSocket upgrade: the request head, then the raw bytes both ways. */
export function forwardUpgrade(req, socket, head, target) {
  const upstream = netConnect(Number(target.port), target.hostname, () => {
    const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    upstream.write(lines.join("\r\n") + "\r\n\r\n");
    if (head?.length) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  // Small frames go on at once both ways (the benchmark measures them).
  upstream.setNoDelay(true);
  socket.setNoDelay(true);
  upstream.on("error", () => socket.destroy());
  socket.on("error", () => upstream.destroy());
  upstream.on("close", () => socket.destroy());
  socket.on("close", () => upstream.destroy());
}
