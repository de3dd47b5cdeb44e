// The `--target bundler` package (scripts/build-client.sh bundler) in a real bundler:
// webpack 5 bundles a page that imports it by package name, as an app would, and the
// page talks to Sockeye's interop fixture in Chromium.
//
// Environment: BUNDLER_PKG_DIR (default ../../client-wasm/pkg-bundler); the fixture is
// Sockeye's interop_fixture in SOCKEYE_TARGET_DIR (default ../../target/debug),
// or SERVER_CMD (a shell command, see ../interop/FIXTURE.md).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import webpack from "webpack";
import { ROOT } from "../lib/bins.mjs";
import { launchBrowser } from "../lib/browser.mjs";
import { startStaticServer } from "../lib/http.mjs";
import { startServer } from "../lib/process.mjs";
import { SERVER_CMD } from "../interop/harness.mjs";

const PKG = process.env.BUNDLER_PKG_DIR || join(ROOT, "client-wasm", "pkg-bundler");
const TIMEOUT = 60_000;

let out, server, browser, web;

/** Serves the folder `dir` (webpack's output) on a port of its own. */
function serve(dir) {
  return startStaticServer({ roots: [["/", dir]] });
}

before(async () => {
  assert.ok(existsSync(join(PKG, "sockeye.js")), `missing ${PKG}: run scripts/build-client.sh bundler`);
  out = await mkdtemp(join(tmpdir(), "sockeye-bundle-"));
  await writeFile(
    join(out, "entry.js"),
    `import { io } from "sockeye-client";
const server = new URLSearchParams(location.search).get("server");
const socket = io.connect(server, { transports: ["websocket"] });
socket.emit("echo-ack", "bundled", 7, new Uint8Array([1, 2]), (a, b, bytes) => {
  document.body.dataset.result = JSON.stringify([a, b, [...new Uint8Array(bytes)]]);
});
`,
  );
  server = await startServer({ command: SERVER_CMD, shell: true, label: "fixture" });
  browser = await launchBrowser();
}, { timeout: TIMEOUT });

after(async () => {
  await browser?.close();
  await web?.close();
  await server?.stop();
  if (out) await rm(out, { recursive: true, force: true });
});

test("package: the bundler build works in webpack 5 and connects from Chromium", { timeout: TIMEOUT * 2 }, async () => {
  const stats = await new Promise((resolve, reject) =>
    webpack(
      {
        mode: "production",
        context: out,
        entry: "./entry.js",
        output: { path: join(out, "dist"), filename: "main.js" },
        resolve: { alias: { "sockeye-client": PKG } },
        experiments: { asyncWebAssembly: true, topLevelAwait: true },
        performance: { hints: false },
      },
      (err, stats) => (err ? reject(err) : resolve(stats)),
    ),
  );
  assert.ok(!stats.hasErrors(), stats.toString({ all: false, errors: true }));
  await writeFile(join(out, "dist", "page.html"), '<!doctype html><body><script src="main.js"></script></body>');

  web = await serve(join(out, "dist"));
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${web.url}/page.html?server=${encodeURIComponent(server.url)}`);
  await page.waitForFunction(() => document.body.dataset.result, null, { timeout: TIMEOUT });
  const result = JSON.parse(await page.evaluate(() => document.body.dataset.result));
  assert.deepEqual(result, ["bundled", 7, [1, 2]]);
  assert.deepEqual(errors, []);
  await page.close();
});
