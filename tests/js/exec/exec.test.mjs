// `sockeye exec` in its Socket.IO modes, judged by the official socket.io-client and by
// Sockeye's own browser client in Chromium:
// - `--emit EVENT`: one program per socket; each line it prints is EVENT to that socket,
//   each EVENT the client emits is a line on its standard input; the program ends when
//   the socket leaves, and the socket is disconnected when the program ends;
// - `--broadcast EVENT`: one program for the server; each line reaches every socket,
//   and the server stops when the program ends.
// The plain WebSocket mode is tested in Rust (cli/tests/exec.rs).
//
// Environment: SOCKEYE_TARGET_DIR (default ../../target/debug), where `sockeye` is;
// CLIENT_PKG_DIR (default <repo>/client-wasm/pkg, scripts/build-client.sh web), the
// browser package the Chromium test's page imports.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { io } from "socket.io-client";
import { ROOT, sockeyeBinary } from "../lib/bins.mjs";
import { launchBrowser } from "../lib/browser.mjs";
import { startServer } from "../lib/process.mjs";
import { until, waitForEvent, withTimeout } from "../lib/wait.mjs";

const TEST = { timeout: 120_000 };
const WAIT = 15_000;
const PKG_DIR = process.env.CLIENT_PKG_DIR
  ? resolve(process.env.CLIENT_PKG_DIR)
  : join(ROOT, "client-wasm", "pkg");
/** An echo that first prints its own pid. */
const CAT_WITH_PID = ["sh", "-c", "echo $$; exec cat"];

const running = [];
after(async () => {
  for (const server of running) await server.stop();
});

/** `sockeye exec --port 0 ARGS...`, stopped when the suite ends. */
async function exec(args) {
  const server = await startServer({
    command: sockeyeBinary("sockeye"),
    args: ["exec", "--port", "0", ...args],
    label: "sockeye exec",
  });
  running.push(server);
  return server;
}

/** An official client on `url`, its `event` events collected in `received`. */
function client(url, event) {
  const socket = io(url, { forceNew: true, reconnection: false, transports: ["websocket"] });
  socket.received = [];
  socket.on(event, (line) => socket.received.push(line));
  return socket;
}

/** Waits until `socket` has received `count` lines. */
const lines = (socket, count, what) =>
  until(() => socket.received.length >= count, `${what}: ${count} lines (have ${JSON.stringify(socket.received)})`, WAIT);

/** Waits until process `pid` is gone: ended and reaped (a zombie is still in /proc). */
const gone = (pid) => until(() => !existsSync(`/proc/${pid}`), `process ${pid} gone`, WAIT);

describe("sockeye exec --emit (official socket.io-client)", () => {
  test("each socket has its own program: lines in order both ways, ended when the socket leaves", TEST, async () => {
    const server = await exec(["--emit", "line", "--namespace", "/exec", "--", ...CAT_WITH_PID]);
    const a = client(`${server.url}/exec`, "line");
    const b = client(`${server.url}/exec`, "line");
    await lines(a, 1, "a's pid");
    await lines(b, 1, "b's pid");
    const [pidA, pidB] = [Number(a.received[0]), Number(b.received[0])];
    assert.ok(pidA > 0 && pidB > 0, `pids: ${a.received[0]}, ${b.received[0]}`);
    assert.notEqual(pidA, pidB, "a second socket gets its own program");

    const words = ["one", "two", "three", "four", "five"];
    for (const w of words) a.emit("line", w);
    // Not a string: the argument's JSON is the line.
    b.emit("line", { n: 1 });
    await lines(a, 1 + words.length, "a's echo");
    await lines(b, 2, "b's echo");
    assert.deepEqual(a.received.slice(1), words);
    assert.deepEqual(b.received.slice(1), ['{"n":1}']);

    a.disconnect();
    await gone(pidA);
    assert.ok(existsSync(`/proc/${pidB}`), "b's program goes on");
    b.emit("line", "still here");
    await lines(b, 3, "b after a left");
    assert.equal(b.received[2], "still here");
    b.disconnect();
    await gone(pidB);
  });

  test("the tutorial's count arrives as ten events, then the server disconnects the socket", TEST, async () => {
    const server = await exec(["--emit", "count", "--", "python3", join(ROOT, "examples", "exec", "count.py")]);
    const socket = client(server.url, "count");
    const [reason] = await waitForEvent(socket, "disconnect", { what: "the disconnect after 10", timeout: 60_000 });
    assert.deepEqual(socket.received, ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
    assert.equal(reason, "io server disconnect");
  });

  test("past --max-forks the handshake is refused", TEST, async () => {
    const server = await exec(["--emit", "line", "--max-forks", "1", "--", ...CAT_WITH_PID]);
    const a = client(server.url, "line");
    await lines(a, 1, "a's pid");
    const b = client(server.url, "line");
    const [error] = await waitForEvent(b, "connect_error", { what: "b refused" });
    assert.ok(error, "b gets a connect_error");
    assert.equal(b.connected, false);
    a.disconnect();
    b.close();
  });
});

describe("sockeye exec --broadcast (official socket.io-client)", () => {
  test("one program: each line reaches every socket, the same lines in the same order", TEST, async () => {
    const server = await exec(["--broadcast", "tick", "--", "cat"]);
    const a = client(server.url, "tick");
    const b = client(server.url, "tick");
    await Promise.all([waitForEvent(a, "connect"), waitForEvent(b, "connect")]);
    const sent = ["alpha", "beta", "gamma", "delta"];
    for (const line of sent) a.emit("tick", line);
    await lines(a, sent.length, "a");
    await lines(b, sent.length, "b");
    assert.deepEqual(a.received, sent);
    assert.deepEqual(b.received, sent);
    a.disconnect();
    b.disconnect();
  });

  test("when the program ends, the server stops", TEST, async () => {
    // head reads two lines, prints them and exits.
    const server = await exec(["--broadcast", "tick", "--", "head", "-n", "2"]);
    const a = client(server.url, "tick");
    const b = client(server.url, "tick");
    await Promise.all([waitForEvent(a, "connect"), waitForEvent(b, "connect")]);
    // head's output is a pipe, so it may hold its lines until it exits.
    a.emit("tick", "first");
    a.emit("tick", "second");
    await lines(a, 2, "a");
    await lines(b, 2, "b");
    assert.deepEqual(a.received, ["first", "second"]);
    assert.deepEqual(b.received, ["first", "second"]);
    const { code } = await withTimeout(server.exited, "the server to stop", WAIT);
    assert.equal(code, 0);
    a.close();
    b.close();
  });
});

describe("sockeye exec --emit with Sockeye's browser client in Chromium", () => {
  let browser, dir;

  before(async () => {
    assert.ok(existsSync(join(PKG_DIR, "sockeye.js")), `missing ${PKG_DIR}: scripts/build-client.sh web`);
    // The page and the client package beside it, served by `--staticdir`.
    dir = mkdtempSync(join(tmpdir(), "sockeye-exec-"));
    symlinkSync(PKG_DIR, join(dir, "pkg"));
    writeFileSync(
      join(dir, "index.html"),
      `<!doctype html><meta charset="utf-8"><pre id="lines"></pre>
<script type="module">
  import { io } from "/pkg/sockeye.js";
  const socket = io("/exec");
  window.received = [];
  socket.on("line", (line) => {
    window.received.push(line);
    document.getElementById("lines").textContent += line + "\\n";
  });
  window.socket = socket;
</script>`,
    );
    browser = await launchBrowser();
  }, { timeout: 90_000 });

  after(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the page from --staticdir gets the program's lines and sends its own", TEST, async () => {
    const server = await exec([
      "--emit", "line", "--namespace", "/exec", "--staticdir", dir,
      "--", "sh", "-c", "echo ready; exec cat",
    ]);
    const context = await browser.newContext();
    context.setDefaultTimeout(WAIT);
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => window.received?.includes("ready"), null, { timeout: WAIT });
    await page.evaluate(() => {
      window.socket.emit("line", "from chromium");
      window.socket.emit("line", [1, 2]);
    });
    await page.waitForFunction(() => window.received.length >= 3, null, { timeout: WAIT });
    assert.deepEqual(await page.evaluate(() => window.received), ["ready", "from chromium", "[1,2]"]);
    assert.match(await page.locator("#lines").innerText(), /from chromium/);
    assert.deepEqual(errors, []);
    await context.close();
  });
});
