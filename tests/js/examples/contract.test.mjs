// What every feature example promises besides its feature, and what examples.test.mjs
// leaves out: the exact `listening on` line with PORT=0, CORS for any origin, a clean
// exit (code 0) on SIGTERM with clients connected, binary as Node `Buffer`s over both
// transports, and namespaces sharing one connection. Environment: SOCKEYE_TARGET_DIR
// (default ../../target/debug; the examples are in its examples/). Every wait is
// bounded; nothing sleeps.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Manager, io } from "socket.io-client";
import { sockeyeBinary } from "../lib/bins.mjs";
import { startProcess } from "../lib/process.mjs";
import { TIMEOUT_MS, waitForEvent, withTimeout } from "../lib/wait.mjs";

const T = { timeout: 60_000 };
const EXAMPLES = ["acks", "rooms", "namespaces", "auth", "broadcast", "background_emit", "binary", "layer",
  "connection_state_recovery", "packet_middleware", "rate_limit"];
// Where a client of each example may connect, and with what.
const JOIN = { namespaces: ["/orders", {}], auth: ["/", { auth: { token: "let-me-in" } }] };

/**
 * Runs the example binary itself (no shell, so its own exit code is seen) with PORT=0;
 * resolves once its first stdout line has been read.
 */
async function start(name) {
  const proc = await startProcess({
    command: sockeyeBinary(`examples/${name}`),
    label: name,
    ready: (line, stream) => stream === "stdout" && [line],
    what: `${name}'s first line`,
    startTimeout: TIMEOUT_MS,
  });
  try {
    const [line] = proc.match;
    const m = /^listening on 127\.0\.0\.1:(\d+)$/.exec(line);
    assert.ok(m, `${name}'s first line is ${JSON.stringify(line)}`);
    assert.notEqual(Number(m[1]), 0);
    return { proc, child: proc.child, exited: proc.exited, url: `http://127.0.0.1:${m[1]}` };
  } catch (err) {
    proc.signal("SIGKILL");
    throw err;
  }
}

/** Stops a server left running by a failed test. */
function kill(server) {
  if (server && server.proc.running) server.proc.signal("SIGKILL");
}

function connected(s) {
  const outcome = new Promise((ok, fail) => {
    s.once("connect", ok);
    s.once("connect_error", fail);
  });
  return withTimeout(outcome, `connect to ${s.nsp}`);
}

describe("every example", () => {
  for (const name of EXAMPLES) {
    test(`${name}: listening line, CORS for any origin, exit 0 on SIGTERM with clients`, T, async () => {
      const server = await start(name);
      const sockets = [];
      try {
        // A handshake from a page on another origin, and a browser's preflight.
        const origin = { Origin: "http://elsewhere.example" };
        const endpoint = `${server.url}/socket.io/?EIO=4&transport=polling`;
        const handshake = await fetch(endpoint, { headers: origin });
        assert.equal(handshake.status, 200);
        assert.equal(handshake.headers.get("access-control-allow-origin"), "*");
        // Close that session (an Engine.IO close packet) rather than leave it to time out.
        const { sid } = JSON.parse((await handshake.text()).slice(1));
        const close = await fetch(`${endpoint}&sid=${sid}`, { method: "POST", headers: origin, body: "1" });
        assert.equal(close.status, 200);
        assert.equal(close.headers.get("access-control-allow-origin"), "*");
        const preflight = await fetch(endpoint, {
          method: "OPTIONS",
          headers: { ...origin, "Access-Control-Request-Method": "POST" },
        });
        assert.equal(preflight.headers.get("access-control-allow-origin"), "*");

        const [path, opts] = JOIN[name] ?? ["/", {}];
        for (const transports of [["websocket"], ["polling"]]) {
          const s = io(`${server.url}${path}`, { forceNew: true, reconnection: false, transports, ...opts });
          sockets.push(s);
          await connected(s);
        }
        const gone = sockets.map((s) => waitForEvent(s, "disconnect", { what: `${name}: disconnect on shutdown` }));
        server.child.kill("SIGTERM");
        assert.deepEqual(await withTimeout(server.exited, `${name} to exit after SIGTERM`), { code: 0, signal: null });
        await Promise.all(gone);
      } finally {
        sockets.forEach((s) => s.disconnect());
        kill(server);
      }
    });
  }
});

describe("example binary, per transport", () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  for (const transports of [["websocket"], ["polling"]]) {
    test(`every byte value both ways, as Buffer [${transports}]`, T, async () => {
      const server = await start("binary");
      const s = io(server.url, { forceNew: true, reconnection: false, transports });
      try {
        const [meta, blob] = await waitForEvent(s, "blob");
        assert.deepEqual(meta, { kind: "all bytes" });
        assert.ok(Buffer.isBuffer(blob), "a binary argument arrives as a Buffer");
        assert.ok(blob.equals(all));
        // Reversing distinct byte values shows each one arrived intact and in place.
        const out = await s.timeout(10_000).emitWithAck("reverse", { name: "all", data: all });
        assert.ok(Buffer.isBuffer(out.data), "nested binary in an ack arrives as a Buffer");
        assert.ok(out.data.equals(Buffer.from(all).reverse()));
        assert.equal(await s.timeout(10_000).emitWithAck("checksum", all), (255 * 256) / 2);
        assert.equal(await s.timeout(10_000).emitWithAck("checksum", Buffer.alloc(0)), 0);
      } finally {
        s.disconnect();
        server.child.kill("SIGTERM");
        await withTimeout(server.exited, "binary to exit").finally(() => kill(server));
      }
    });
  }
});

describe("example namespaces, on one connection", () => {
  test("namespaces share a connection; a refused one leaves the others working", T, async () => {
    const server = await start("namespaces");
    const manager = new Manager(server.url, { reconnection: false, transports: ["websocket"] });
    const [orders, admin, team] = ["/orders", "/admin", "/team-blue"].map((ns) => manager.socket(ns).connect());
    try {
      await Promise.all([orders, admin, team].map(connected));
      const nowhere = manager.socket("/nowhere").connect();
      const [err] = await waitForEvent(nowhere, "connect_error");
      assert.equal(err.message, "Invalid namespace");
      admin.disconnect();
      assert.equal(await orders.timeout(10_000).emitWithAck("whoami"), "/orders");
      assert.equal(await team.timeout(10_000).emitWithAck("whoami"), "/team-blue");
      assert.equal(manager.engine.readyState, "open", "leaving one namespace keeps the connection");
    } finally {
      manager.engine?.close();
      server.child.kill("SIGTERM");
      await withTimeout(server.exited, "namespaces to exit").finally(() => kill(server));
    }
  });
});
