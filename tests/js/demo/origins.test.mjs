// Cross-site WebSocket hijacking, tried in real Chromium against the `sockeye` binary.
// A browser opens a WebSocket to any site (CORS does not apply to WebSockets) and sends
// that site's cookies, so the server must refuse pages of other origins itself. A page
// served from another port is another origin: under the default (same-origin) it must
// get no session over polling, WebSocket, the upgrade or the plain `/ws`; with
// `--cors-origins` naming it, it connects (and a third origin still does not).
//
// Environment: SOCKEYE_TARGET_DIR (default ../../target/debug), where `sockeye` is.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JS_DIR, sockeyeBinary } from "../lib/bins.mjs";
import { launchBrowser } from "../lib/browser.mjs";
import { startStaticServer } from "../lib/http.mjs";
import { startServer } from "../lib/process.mjs";

const WAIT = 15_000;
const TEST = { timeout: 60_000 };

// The page: socket.io-client's browser build, and helpers that report how an attempt
// ended (never rejecting, never retrying).
const PAGE = `<!doctype html><meta charset="utf-8"><title>origins</title>
<script src="/socket.io.min.js"></script>
<script>
window.tryIo = (url, transports) => new Promise((resolve) => {
  const socket = io(url, { transports, reconnection: false, timeout: 5000 });
  socket.on("connect", () => {
    const engine = socket.io.engine;
    const done = () => { resolve("connected over " + engine.transport.name); socket.disconnect(); };
    // With both transports, wait for the upgrade: that is the path being tested.
    if (transports.length > 1 && engine.transport.name !== "websocket") engine.once("upgrade", done);
    else done();
  });
  socket.on("connect_error", (e) => { resolve("refused: " + e.message); socket.disconnect(); });
});
window.tryWebSocket = (url) => new Promise((resolve) => {
  const ws = new WebSocket(url);
  ws.onopen = () => { resolve("open"); ws.close(); };
  ws.onerror = () => resolve("refused");
});
</script>`;

let dir, browser;
const started = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sockeye-origins-"));
  writeFileSync(join(dir, "index.html"), PAGE);
  copyFileSync(join(JS_DIR, "node_modules", "socket.io-client", "dist", "socket.io.min.js"), join(dir, "socket.io.min.js"));
  browser = await launchBrowser();
}, { timeout: 90_000 });

after(async () => {
  await browser?.close();
  for (const s of started) await (s.stop ? s.stop() : s.close());
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The `sockeye` binary serving the page itself, with these extra arguments. */
async function sockeye(...args) {
  const server = await startServer({
    command: sockeyeBinary("sockeye"),
    args: ["--port", "0", "--static-dir", dir, "--log-level", "info", ...args],
    label: "sockeye",
  });
  started.push(server);
  return server;
}

/** Another origin: the same page from a static server on another port. */
async function otherSite() {
  const site = await startStaticServer({ roots: [["/", dir]] });
  started.push(site);
  return site;
}

/** A page of `origin`, in a context of its own. */
async function pageAt(origin) {
  const context = await browser.newContext();
  context.setDefaultTimeout(WAIT);
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  return page;
}

/** Every kind of attempt from `page` to `server`, and how each ended. */
async function attempts(page, server) {
  const ws = server.url.replace("http://", "ws://");
  return {
    polling: await page.evaluate(([u]) => tryIo(u, ["polling"]), [server.url]),
    websocket: await page.evaluate(([u]) => tryIo(u, ["websocket"]), [server.url]),
    upgrade: await page.evaluate(([u]) => tryIo(u, ["polling", "websocket"]), [server.url]),
    rawEngine: await page.evaluate(([u]) => tryWebSocket(u), [`${ws}/socket.io/?EIO=4&transport=websocket`]),
    plainWs: await page.evaluate(([u]) => tryWebSocket(u), [`${ws}/ws`]),
  };
}

const CONNECTED = {
  polling: "connected over polling",
  websocket: "connected over websocket",
  upgrade: "connected over websocket",
  rawEngine: "open",
  plainWs: "open",
};
const REFUSED = {
  polling: "refused: xhr poll error",
  websocket: "refused: websocket error",
  upgrade: "refused: xhr poll error",
  rawEngine: "refused",
  plainWs: "refused",
};

describe("origins: the sockeye binary in Chromium", () => {
  test("default: a page of the server's own origin connects, a page of another port is refused on every path", TEST, async () => {
    const server = await sockeye();
    const own = await pageAt(server.url);
    assert.deepEqual(await attempts(own, server), CONNECTED);

    const site = await otherSite();
    const foreign = await pageAt(site.url);
    assert.deepEqual(await attempts(foreign, server), REFUSED);
    // One log line per refused request, naming the origin.
    assert.match(server.output(), new RegExp(`origin not allowed.*${site.url.replace(/[.:/]/g, "\\$&")}`));
  });

  test("--cors-origins: the listed origin connects on every path, another origin is still refused", TEST, async () => {
    const listed = await otherSite();
    const unlisted = await otherSite();
    const server = await sockeye("--cors-origins", listed.url);
    assert.deepEqual(await attempts(await pageAt(listed.url), server), CONNECTED);
    assert.deepEqual(await attempts(await pageAt(unlisted.url), server), REFUSED);
  });
});
