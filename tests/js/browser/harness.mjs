// Shared machinery of the browser suite: a tiny static file server for the pages and the
// client module, one headless Chromium (playwright-core, Debian's /usr/bin/chromium) for
// the whole run, a fresh browser context per test, and the servers under test. Processes,
// waits, the static server and the browser launch come from ../lib/ (see ../README.md).
//
// Environment:
//   CLIENT=sockeye|official   which client module the pages import (default sockeye)
//   CLIENT_PKG_DIR            where sockeye.js lives (default <repo>/client-wasm/pkg, i.e.
//                             ../../client-wasm/pkg from tests/js); served at /pkg/
//   SOCKEYE_TARGET_DIR        where Sockeye's binaries are (default <repo>/target/debug):
//                             interop_fixture and examples/connection_state_recovery
//   BROWSER_SERVERS           comma list restricting the servers: reference,sockeye
//   CHROMIUM_PATH             browser executable (default /usr/bin/chromium)
//   INTEROP_TIMEOUT_MS        how long any single wait may take (default 10000), in Node
//                             and in the page
//   BROWSER_VERBOSE=1         print the page's console output as test diagnostics

import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { it } from "node:test";
import assert from "node:assert/strict";
import { nodeCommand, sockeyeCommand } from "../lib/bins.mjs";
import { launchBrowser } from "../lib/browser.mjs";
import { push, startStaticServer as serveFiles } from "../lib/http.mjs";
import { START_TIMEOUT_MS } from "../lib/process.mjs";
import { refusedPort } from "../lib/ports.mjs";
import { MODES, ServerUnderTest } from "../interop/harness.mjs";
import { TIMEOUT_MS, withTimeout } from "../lib/wait.mjs";

export { START_TIMEOUT_MS, TIMEOUT_MS, MODES, ServerUnderTest, launchBrowser, push, refusedPort, withTimeout };

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

const only = process.env.BROWSER_SERVERS?.split(",").map((s) => s.trim()).filter(Boolean);
const selected = (all) => (only ? all.filter((s) => only.includes(s.key)) : all);

/** The servers every scenario runs against: the official Node reference, and Sockeye's fixture. */
export const SERVERS = selected([
  { key: "reference", name: "node-reference", cmd: nodeCommand("interop/reference-server.mjs") },
  { key: "sockeye", name: "sockeye-fixture", cmd: sockeyeCommand("interop_fixture") },
]);

/** Servers with connection state recovery on: the Node twin, and Sockeye's example. */
export const RECOVERY_SERVERS = selected([
  { key: "reference", name: "node-recovery", cmd: nodeCommand("browser/recovery-server.mjs") },
  { key: "sockeye", name: "sockeye-recovery", cmd: sockeyeCommand("examples/connection_state_recovery") },
]);

/** Options every test socket gets: quick reconnection so server restarts are fast. */
export const FAST_RECONNECT = { reconnectionDelay: 100, reconnectionDelayMax: 500 };

// ---- static file server -----------------------------------------------------------------------

/**
 * Serves the suite's folder at /, the official client's dist/ at /official/, the pkg at
 * /pkg/, and forwards /socket.io/ (HTTP and WebSocket upgrades) to the current server
 * under test, so that a page reaches that server from its own origin: `io()`,
 * `io(options)` and relative URLs ("/custom") connect to the page's host. Pages are at
 * /page.html, not "/", as a namespace taken from the page's path would show.
 */
export function startStaticServer() {
  return serveFiles({
    roots: [
      ["/official/", OFFICIAL_DIR],
      ["/pkg/", PKG_DIR],
      ["/", HERE],
    ],
    index: "/page.html",
    forward: { prefix: "/socket.io/", target: () => env.server?.url ?? null },
  });
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

// launchBrowser: ../lib/browser.mjs

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
