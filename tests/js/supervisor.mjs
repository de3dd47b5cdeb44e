// Restart supervisor for the Rust wasm-bindgen tests of the browser client.
//
// Those tests run inside Chromium, so they cannot start, stop or restart a server
// themselves. This process runs the fixture server for them and gives them an HTTP
// control endpoint to do it, from the browser, with fetch():
//
//   POST /restart  stop the fixture and start it again at the same URL; answers only
//                  once it is listening again (reconnection tests)
//   POST /stop     stop the fixture (it stays down: "offline" tests)
//   POST /start    start it again at the same URL (no-op if it is running)
//   POST /freeze   SIGSTOP the fixture: connections stay open but nothing answers, so
//                  only the client's heartbeat can notice ("ping timeout" tests)
//   POST /thaw     SIGCONT it
//   GET  /status   {"running":bool,"url":"http://127.0.0.1:P"}
//
// Each answers 200 {"ok":true} (500 {"ok":false,"error":...} on failure). Requests are
// handled one at a time, in arrival order. CORS is open (the test page is served by
// wasm-bindgen-test-runner from another port).
//
// The fixture URL belongs to a relay in this process (lib/relay.mjs) that holds its port
// for the whole run; each fixture process binds a port of its own (PORT=0), so no port is
// released and bound again. While the fixture is stopped, connections are reset at once.
//
// Environment: as for the interop suite (interop/harness.mjs, README.md): the fixture is
// Sockeye's interop_fixture from SOCKEYE_TARGET_DIR, or SERVER_CMD (a command
// following interop/FIXTURE.md: it gets PORT=0 and prints "listening on 127.0.0.1:PORT").
//
// Prints exactly two lines to stdout, once both are up:
//   fixture http://127.0.0.1:<port>
//   control http://127.0.0.1:<port>
// then logs to stderr only. SIGTERM/SIGINT stop the fixture and exit.

import http from "node:http";
import { ServerUnderTest, SERVER_CMD } from "./interop/harness.mjs";

const log = (msg) => process.stderr.write(`[supervisor] ${msg}\n`);

const fixture = new ServerUnderTest(SERVER_CMD);
await fixture.start(0);
const port = fixture.port; // the relay's: every later start answers at this URL
const fixtureUrl = fixture.url;
log(`fixture started: ${fixtureUrl} (${SERVER_CMD})`);

const running = () => fixture.child !== null;
const actions = {
  async restart() {
    if (running()) await fixture.stop();
    await fixture.start(port);
  },
  async stop() {
    await fixture.stop();
  },
  async start() {
    if (!running()) await fixture.start(port);
  },
  async freeze() {
    process.kill(-fixture.child.pid, "SIGSTOP");
  },
  async thaw() {
    process.kill(-fixture.child.pid, "SIGCONT");
  },
};

// One control action at a time: a stop racing a start would leave the state undefined.
let queue = Promise.resolve();
function serialized(fn) {
  const result = queue.then(fn);
  queue = result.catch(() => {});
  return result;
}

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-allow-headers": "*",
  "access-control-allow-private-network": "true",
  "access-control-max-age": "600",
};

function reply(res, status, body) {
  res.writeHead(status, { ...CORS, "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

const control = http.createServer((req, res) => {
  req.resume(); // bodies are ignored
  const path = new URL(req.url, "http://x").pathname.replace(/^\/+/, "");
  if (req.method === "OPTIONS") {
    res.writeHead(204, CORS);
    res.end();
    return;
  }
  if (req.method === "GET" && path === "status") {
    reply(res, 200, { running: running(), url: fixtureUrl });
    return;
  }
  const action = actions[path];
  if (req.method !== "POST" || !Object.hasOwn(actions, path)) {
    reply(res, 404, { ok: false, error: `unknown: ${req.method} ${req.url}` });
    return;
  }
  const started = Date.now();
  serialized(action).then(
    () => {
      log(`${path}: done in ${Date.now() - started} ms`);
      reply(res, 200, { ok: true });
    },
    (err) => {
      log(`${path}: FAILED: ${err.stack || err}`);
      reply(res, 500, { ok: false, error: String(err.message || err) });
    },
  );
});
await new Promise((resolve, reject) => {
  control.once("error", reject);
  control.listen(0, "127.0.0.1", resolve);
});

process.stdout.write(`fixture ${fixtureUrl}\ncontrol http://127.0.0.1:${control.address().port}\n`);

let exiting = false;
async function shutdown(signal) {
  if (exiting) return;
  exiting = true;
  log(`${signal}: stopping the fixture`);
  control.close();
  control.closeAllConnections?.();
  try {
    await queue;
    if (running()) process.kill(-fixture.child.pid, "SIGCONT"); // a frozen one cannot exit
    await fixture.stop();
  } finally {
    process.exit(0);
  }
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
