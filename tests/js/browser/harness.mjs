// Shared machinery of the browser suite: a tiny static file server for the pages and the
// client module, one headless Chromium (playwright-core, Debian's /usr/bin/chromium) for
// the whole run, a fresh browser context per test, and the servers under test (reused from
// ../interop/harness.mjs).
//
// Environment:
//   CLIENT=sockeye|official   which client module the pages import (default sockeye)
//   CLIENT_PKG_DIR            where sockeye.js lives (default <repo>/client-wasm/pkg, i.e.
//                             ../../client-wasm/pkg from tests/js); served at /pkg/
//   SOCKEYE_SERVER_CMD        shell command starting Sockeye's interop fixture; when set,
//                             every scenario also runs against it
//   BROWSER_SERVERS           comma list restricting the servers: reference,sockeye
//   CHROMIUM_PATH             browser executable (default /usr/bin/chromium)
//   INTEROP_TIMEOUT_MS        how long any single wait may take (default 10000), in Node
//                             and in the page
//   BROWSER_VERBOSE=1         print the page's console output as test diagnostics

import { createServer } from "node:http";
import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { it } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { START_TIMEOUT_MS, TIMEOUT_MS, ServerUnderTest, withTimeout } from "../interop/harness.mjs";

export { START_TIMEOUT_MS, TIMEOUT_MS, ServerUnderTest, withTimeout };

const HERE = dirname(fileURLToPath(import.meta.url));
const VERBOSE = process.env.BROWSER_VERBOSE === "1";

/** Upper bound for one test (several waits in a row, maybe a server restart). */
export const TEST_TIMEOUT_MS = Math.max(60_000, 4 * TIMEOUT_MS);

// ---- which client -------------------------------------------------------------------------

export const CLIENT = process.env.CLIENT || "sockeye";
if (!["sockeye", "official"].includes(CLIENT)) {
  throw new Error(`CLIENT must be "sockeye" or "official", not ${JSON.stringify(CLIENT)}`);
}
export const OFFICIAL_DIR = join(HERE, "..", "node_modules", "socket.io-client", "dist");
/** A relative CLIENT_PKG_DIR is taken from the current directory (tests/js when run as documented). */
export const PKG_DIR = process.env.CLIENT_PKG_DIR
  ? resolve(process.env.CLIENT_PKG_DIR)
  : resolve(HERE, "..", "..", "..", "client-wasm", "pkg");
/** URL path (on the static server) of the module the pages import. */
export const SOCKEYE_MODULE = "/pkg/sockeye.js";
export const OFFICIAL_MODULE = "/official/socket.io.esm.min.js";
export const CLIENT_MODULE = CLIENT === "official" ? OFFICIAL_MODULE : SOCKEYE_MODULE;

// ---- servers under test ---------------------------------------------------------------------

function shellQuote(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

/** The servers every scenario runs against: the official Node reference, and Sockeye's fixture. */
export const SERVERS = (() => {
  const all = [
    {
      key: "reference",
      name: "node-reference",
      cmd: `${shellQuote(process.execPath)} ${shellQuote(join(HERE, "..", "interop", "reference-server.mjs"))}`,
    },
  ];
  if (process.env.SOCKEYE_SERVER_CMD) {
    all.push({ key: "sockeye", name: "sockeye-fixture", cmd: process.env.SOCKEYE_SERVER_CMD });
  }
  const only = process.env.BROWSER_SERVERS?.split(",").map((s) => s.trim()).filter(Boolean);
  return only ? all.filter((s) => only.includes(s.key)) : all;
})();

/** Servers with connection state recovery on: the Node twin, and Sockeye's example. */
export const RECOVERY_SERVERS = (() => {
  const all = [
    {
      key: "reference",
      name: "node-recovery",
      cmd: `${shellQuote(process.execPath)} ${shellQuote(join(HERE, "recovery-server.mjs"))}`,
    },
  ];
  if (process.env.RECOVERY_SERVER_CMD) {
    all.push({ key: "sockeye", name: "sockeye-recovery", cmd: process.env.RECOVERY_SERVER_CMD });
  }
  const only = process.env.BROWSER_SERVERS?.split(",").map((s) => s.trim()).filter(Boolean);
  return only ? all.filter((s) => only.includes(s.key)) : all;
})();

/** Transport configurations, as in ../interop/harness.mjs (MODES), with names for titles. */
export const MODES = [
  { name: "websocket", opts: { transports: ["websocket"] }, expect: "websocket", upgrade: false },
  { name: "polling", opts: { transports: ["polling"], upgrade: false }, expect: "polling", upgrade: false },
  {
    name: "polling+upgrade",
    opts: { transports: ["polling", "websocket"], upgrade: true },
    expect: "websocket",
    upgrade: true,
  },
];

/** Options every test socket gets: quick reconnection so server restarts are fast. */
export const FAST_RECONNECT = { reconnectionDelay: 100, reconnectionDelayMax: 500 };

// ---- static file server -----------------------------------------------------------------------

const MIME = {
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

/** URL prefix -> directory. Longest prefix first. */
const ROOTS = [
  ["/official/", OFFICIAL_DIR],
  ["/pkg/", PKG_DIR],
  ["/", HERE],
];

function resolveFile(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes("\0")) return null;
  for (const [prefix, dir] of ROOTS) {
    if (!decoded.startsWith(prefix)) continue;
    const file = normalize(join(dir, decoded.slice(prefix.length)));
    if (file !== dir && !file.startsWith(dir + sep)) return null; // no ../ escapes
    return file;
  }
  return null;
}

/** Serves the suite's folder at /, the official client's dist/ at /official/, the pkg at /pkg/. */
export async function startStaticServer() {
  // URL path -> body served instead of the file (e.g. readme.html with another module path).
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
    const file = resolveFile(path === "/" ? "/page.html" : path);
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

/** Fails early, with the fix, when the selected client module is not there. */
export function assertClientPresent() {
  if (CLIENT === "official") {
    assert.ok(
      existsSync(join(OFFICIAL_DIR, "socket.io.esm.min.js")),
      `missing ${OFFICIAL_DIR}/socket.io.esm.min.js: run "npm ci" in tests/js`,
    );
  } else {
    assert.ok(
      existsSync(join(PKG_DIR, "sockeye.js")),
      `missing ${PKG_DIR}/sockeye.js: build it with "scripts/build-client.sh web", ` +
        `point CLIENT_PKG_DIR at it, or run with CLIENT=official`,
    );
  }
}

// ---- browser ----------------------------------------------------------------------------------

const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  // Timers of a headless page must not be throttled (pingInterval is 300 ms).
  "--disable-background-timer-throttling",
  "--disable-renderer-backgrounding",
  "--disable-backgrounding-occluded-windows",
];

export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
  assert.ok(existsSync(executablePath), `no browser at ${executablePath} (apt-get install chromium)`);
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: START_TIMEOUT_MS });
}

/**
 * The suite's shared state: set by the test file's before() hooks.
 * { browser, web (static server), server (ServerUnderTest of the current describe) }
 */
export const env = { browser: null, web: null };

/**
 * Opens a fresh browser context and page, collecting console errors and uncaught page
 * errors. `path` is the page to load (default the generic harness page). Returns
 * { page, context, consoleErrors, pageErrors }.
 */
export async function openPage(t, { path } = {}) {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const pageErrors = [];
  const consoleLines = [];
  page.on("pageerror", (err) => pageErrors.push(err.stack || String(err)));
  page.on("console", (msg) => {
    const line = `[console.${msg.type()}] ${msg.text()}`;
    consoleLines.push(line);
    if (VERBOSE) t?.diagnostic(line);
  });
  const url =
    path ??
    `/page.html?client=${encodeURIComponent(CLIENT_MODULE)}&timeout=${encodeURIComponent(String(TIMEOUT_MS))}`;
  return { page, context, pageErrors, consoleLines, url };
}

/**
 * A test that runs in a fresh page with the client module loaded as `window.client` and
 * the in-page helpers as `window.T`. `fn({ page, server, t })`. Fails on uncaught page errors.
 * opts: node:test options, plus `path` (another page instead of page.html),
 * `query(server)` (query string appended to it), `beforeGoto(page)` (e.g. page.route).
 */
export function browserTest(title, opts, fn) {
  if (typeof opts === "function") [opts, fn] = [{}, opts];
  return it(title, { timeout: TEST_TIMEOUT_MS, ...opts }, async (t) => {
    const p = await openPage(t, opts);
    try {
      await opts.beforeGoto?.(p.page);
      const query = opts.query ? opts.query(env.server) : "";
      await withTimeout(p.page.goto(env.web.url + p.url + query), "the page to load");
      if (!opts.path) {
        // page.html sets window.ready synchronously when its module script runs (before load).
        await withTimeout(
          p.page.evaluate(() => window.ready),
          `the client module ${CLIENT_MODULE} to load in the page`,
        );
      }
      await fn({ page: p.page, t, server: env.server });
    } catch (err) {
      throw decorate(err, p);
    } finally {
      await p.context.close().catch(() => {});
      // A test that stopped the server and failed before starting it again must not take
      // the following tests down with it.
      const server = env.server;
      if (server && !server.child && server.port) await server.start(server.port);
    }
    if (p.pageErrors.length) {
      throw decorate(new Error(`uncaught error(s) in the page:\n${p.pageErrors.join("\n")}`), p, false);
    }
  });
}

function decorate(err, p, withPageErrors = true) {
  const extra = [];
  if (withPageErrors && p.pageErrors.length) extra.push(`--- uncaught page errors ---\n${p.pageErrors.join("\n")}`);
  const errors = p.consoleLines.filter((l) => /^\[console\.(error|warning)\]/.test(l));
  if (errors.length) extra.push(`--- page console errors/warnings ---\n${errors.slice(-30).join("\n")}`);
  if (extra.length && err && typeof err === "object") {
    try {
      err.message += `\n${extra.join("\n")}`;
    } catch {
      // read-only message
    }
  }
  return err;
}

/** Expected value for a received ArrayBuffer / typed array, as T.describe() renders it. */
export function bin(bytes, type = "ArrayBuffer") {
  return { $type: type, bytes: [...bytes] };
}

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
