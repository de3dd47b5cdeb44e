// The drop-in (issue 15): an app written for socket.io-client, whose bundler maps the
// name `socket.io-client` to Sockeye's `--target bundler` package, builds unchanged in
// webpack 5 and runs in Chromium against Sockeye's interop fixture. The app's source is
// what a socket.io-client user writes (`import { io, Manager, Socket } from
// "socket.io-client"`); only the webpack config (resolve.alias, and the wasm
// experiments the package needs) knows it is Sockeye.
//
// Environment: BUNDLER_PKG_DIR (default ../../client-wasm/pkg-bundler); the fixture is
// Sockeye's interop_fixture in SOCKEYE_TARGET_DIR (default ../../target/debug),
// or SERVER_CMD (a shell command, see ../interop/FIXTURE.md).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, realpathSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import webpack from "webpack";
import { ROOT } from "../lib/bins.mjs";
import { launchBrowser } from "../lib/browser.mjs";
import { startStaticServer } from "../lib/http.mjs";
import { startServer } from "../lib/process.mjs";
import { SERVER_CMD } from "../interop/harness.mjs";

const PKG = process.env.BUNDLER_PKG_DIR || join(ROOT, "client-wasm", "pkg-bundler");
const TIMEOUT = 60_000;

// The app, as a socket.io-client user writes it: default options (long-polling, then the
// upgrade to WebSocket), io(url), an emit with an ack, a second Manager with a socket of
// another namespace, and `instanceof` against the exported classes. It reports what it
// saw in document.body.dataset.result (or the first failure in dataset.error).
const APP = `import { io, Manager, Socket } from "socket.io-client";

const server = new URLSearchParams(location.search).get("server");
const fail = (err) => {
  document.body.dataset.error ||= String((err && (err.stack || err.message)) || err);
};

const socket = io(server);
socket.on("connect_error", fail);
socket.on("welcome", (welcome) => {
  socket.emit("echo-ack", "from the app", 7, { nested: [1, 2] }, (...echoed) => {
    const manager = new Manager(server);
    const custom = manager.socket("/custom");
    custom.on("connect_error", fail);
    custom.on("welcome", (customWelcome) => {
      custom.emit("echo-ack", "to /custom", (...customEchoed) => {
        document.body.dataset.result = JSON.stringify({
          welcome: { namespace: welcome.namespace, idIsSocketId: welcome.id === socket.id },
          echoed,
          customWelcome: { namespace: customWelcome.namespace, idIsSocketId: customWelcome.id === custom.id },
          customEchoed,
          socketIsSocket: socket instanceof Socket,
          customIsSocket: custom instanceof Socket,
          managerIsManager: manager instanceof Manager,
          socketIoIsManager: socket.io instanceof Manager,
          customOnItsManager: custom.io === manager,
          separateManagers: socket.io !== manager,
        });
        custom.disconnect();
        socket.disconnect();
      });
    });
  });
});
`;

let out, server, browser, web;

before(async () => {
  assert.ok(existsSync(join(PKG, "sockeye.js")), `missing ${PKG}: run scripts/build-client.sh bundler`);
  out = await mkdtemp(join(tmpdir(), "sockeye-drop-in-"));
  await mkdir(join(out, "src"));
  await writeFile(join(out, "src", "index.js"), APP);
  server = await startServer({ command: SERVER_CMD, shell: true, label: "fixture" });
  browser = await launchBrowser();
}, { timeout: TIMEOUT });

after(async () => {
  await browser?.close();
  await web?.close();
  await server?.stop();
  if (out) await rm(out, { recursive: true, force: true });
});

test("package: an app importing { io, Manager, Socket } from socket.io-client, aliased to Sockeye in webpack 5, builds and runs in Chromium", { timeout: TIMEOUT * 2 }, async () => {
  const stats = await new Promise((resolve, reject) =>
    webpack(
      {
        mode: "production",
        context: out,
        entry: "./src/index.js",
        output: { path: join(out, "dist"), filename: "main.js" },
        // The whole of the switch: the name socket.io-client is Sockeye's package.
        resolve: { alias: { "socket.io-client": PKG } },
        experiments: { asyncWebAssembly: true, topLevelAwait: true },
        // A name the app imports that the package does not export is a build error,
        // not a warning and an `undefined` at run time.
        module: { parser: { javascript: { exportsPresence: "error" } } },
        performance: { hints: false },
      },
      (err, stats) => (err ? reject(err) : resolve(stats)),
    ),
  );
  assert.ok(!stats.hasErrors(), stats.toString({ all: false, errors: true }));
  assert.ok(!stats.hasWarnings(), stats.toString({ all: false, warnings: true }));

  // The bundle is Sockeye's package (its glue and its wasm), not socket.io-client.
  const json = stats.toJson({ all: false, modules: true, nestedModules: true, assets: true });
  const paths = [];
  const collect = (modules) => {
    for (const m of modules || []) {
      if (m.nameForCondition) paths.push(m.nameForCondition);
      collect(m.modules);
    }
  };
  collect(json.modules);
  const pkg = realpathSync(PKG) + sep;
  assert.ok(paths.some((p) => p === pkg + "sockeye.js"), `sockeye.js of ${PKG} not bundled:\n${paths.join("\n")}`);
  assert.ok(!paths.some((p) => /[\\/](socket\.io-client|engine\.io-client)[\\/]/.test(p)), `socket.io-client bundled:\n${paths.join("\n")}`);
  assert.ok(json.assets.some((a) => a.name.endsWith(".wasm")), "no .wasm asset emitted");

  await writeFile(join(out, "dist", "index.html"), '<!doctype html><body><script src="main.js"></script></body>');
  web = await startStaticServer({ roots: [["/", join(out, "dist")]] });
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${web.url}/index.html?server=${encodeURIComponent(server.url)}`);
  await page.waitForFunction(() => document.body.dataset.result || document.body.dataset.error, null, { timeout: TIMEOUT });
  const { result, error } = await page.evaluate(() => ({ ...document.body.dataset }));
  assert.equal(error, undefined, `the app failed: ${error}`);
  assert.deepEqual(JSON.parse(result), {
    welcome: { namespace: "/", idIsSocketId: true },
    echoed: ["from the app", 7, { nested: [1, 2] }],
    customWelcome: { namespace: "/custom", idIsSocketId: true },
    customEchoed: ["custom", "to /custom"],
    socketIsSocket: true,
    customIsSocket: true,
    managerIsManager: true,
    socketIoIsManager: true,
    customOnItsManager: true,
    separateManagers: true,
  });
  assert.deepEqual(errors, []);
  await page.close();
});
