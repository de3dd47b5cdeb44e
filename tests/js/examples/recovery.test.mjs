// Connection state recovery against Sockeye (server/examples/connection_state_recovery),
// judged by the official socket.io-client 4.8: after a cut, the same id, the same rooms,
// every missed packet once and in order, and `socket.recovered`. Environment:
// SOCKEYE_TARGET_DIR (default ../../target/debug; see ../README.md). Every wait is bounded.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { io } from "socket.io-client";
import { ServerUnderTest, withTimeout } from "../interop/harness.mjs";
import { EXAMPLES_DIR as DIR } from "../lib/bins.mjs";
const T = { timeout: 60_000 };

/** Polls `check` until it is truthy; bounded. */
async function until(check, what, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const ack = (s, ...args) => withTimeout(s.timeout(15_000).emitWithAck(...args), `ack of ${args[0]}`);

describe("connection state recovery with socket.io-client", () => {
  let server;
  const sockets = [];
  before(async () => {
    server = await new ServerUnderTest(`'${join(DIR, "connection_state_recovery")}'`).start(0);
  }, T);
  after(async () => {
    sockets.forEach((s) => s.disconnect());
    await server?.stop();
  });

  /** A client that reconnects only when told to (so a test decides when). */
  async function client(transports = ["websocket"]) {
    const s = io(server.url, { forceNew: true, transports, reconnection: false });
    sockets.push(s);
    const hello = withTimeout(new Promise((ok) => s.once("hello", ok)), "hello");
    await withTimeout(new Promise((ok, fail) => { s.once("connect", ok); s.once("connect_error", fail); }), "connect");
    return { s, hello: await hello };
  }

  /** Cuts `s`'s transport and waits until the server has let the socket go. */
  async function cut(s, driver, room) {
    const gone = new Promise((ok) => s.once("disconnect", ok));
    s.io.engine.close();
    assert.equal(await withTimeout(gone, "disconnect"), "forced close");
    await until(async () => (await ack(driver, "members", room)) === 0, "the server sees the cut");
  }

  /** Reconnects `s` and resolves with its next `hello`. */
  async function reconnect(s) {
    const hello = withTimeout(new Promise((ok) => s.once("hello", ok)), "hello after reconnect");
    s.connect();
    await withTimeout(new Promise((ok) => s.once("connect", ok)), "reconnect");
    return hello;
  }

  for (const transports of [["websocket"], ["polling"]]) {
    test(`after a cut (${transports[0]}): same id, same rooms, the missed packets once and in order`, T, async () => {
      const room = `r-${transports[0]}`;
      const { s, hello } = await client(transports);
      assert.equal(hello.recovered, false);
      assert.equal(s.recovered, false);
      const { s: driver } = await client();
      const ticks = [];
      s.on("tick", (n, offset) => {
        assert.equal(typeof offset, "string", "each packet carries its offset last");
        ticks.push(n);
      });
      assert.deepEqual(await ack(s, "join", room), [room, s.id].sort());
      await ack(driver, "tick", room, 1);
      await until(() => ticks.length === 1, "the first tick");
      const id = s.id;

      await cut(s, driver, room);
      await ack(driver, "tick", room, 5); // to the room, while s is away
      await ack(driver, "tick-socket", id, 2); // to s itself, while it is away

      const again = await reconnect(s);
      assert.equal(s.recovered, true);
      assert.deepEqual(again, { id, recovered: true });
      assert.equal(s.id, id);
      await until(() => ticks.length === 8, `the missed ticks (got ${JSON.stringify(ticks)})`).catch((e) => { throw new Error(`${e.message} ${JSON.stringify(ticks)}`); });
      assert.deepEqual(ticks, [1, 1, 2, 3, 4, 5, 1, 2]);
      // Its rooms came back: a new tick to the room reaches it, once.
      await ack(driver, "tick", room, 1);
      await until(() => ticks.length === 9, "a tick after recovery");
      assert.equal(await ack(driver, "members", room), 1);
    });
  }

  test("a client that missed more than its queue holds gets every packet back", T, async () => {
    // The example keeps the default queue bound (4096 frames): 6000 missed packets
    // exceed it, and the replay must not cost the client its connection.
    const { s } = await client();
    const { s: driver } = await client();
    let last = 0;
    let count = 0;
    let ordered = true;
    s.on("tick", (n) => { ordered &&= n === last + 1 || (last === 1 && n === 1); last = n; count++; });
    await ack(s, "join", "big");
    await ack(driver, "tick", "big", 1);
    await until(() => count === 1, "the first tick");
    await cut(s, driver, "big");
    await ack(driver, "tick", "big", 6000);
    const again = await reconnect(s);
    assert.equal(again.recovered, true);
    await until(() => count === 6001, `6000 missed ticks (got ${count - 1})`, 60_000);
    assert.ok(ordered, "in order");
    assert.equal(s.connected, true);
  });

  test("a recovered socket skips the middlewares; a fresh one does not", T, async () => {
    const { s, hello } = await client();
    const { s: driver } = await client();
    await ack(s, "join", "mw");
    await ack(driver, "tick", "mw", 1);
    await until(() => s._lastOffset, "an offset");
    await cut(s, driver, "mw");
    s.auth = { token: "refuse" }; // the middleware would refuse this
    const again = await reconnect(s);
    assert.deepEqual(again, { id: hello.id, recovered: true });
    // Without a session to recover, the same auth is refused.
    const fresh = io(server.url, { forceNew: true, transports: ["websocket"], reconnection: false, auth: { token: "refuse" } });
    sockets.push(fresh);
    const err = await withTimeout(new Promise((ok) => fresh.once("connect_error", ok)), "connect_error");
    assert.equal(err.message, "refused");
  });

  test("an unknown session or a client's own disconnect is not recovered", T, async () => {
    const { s, hello } = await client();
    const { s: driver } = await client();
    await ack(s, "join", "solo");
    await ack(driver, "tick", "solo", 1);
    await until(() => s._lastOffset, "an offset");
    const id = hello.id;
    // The client leaves on purpose: the server keeps nothing for it.
    s.disconnect();
    await until(async () => (await ack(driver, "members", "solo")) === 0, "gone");
    const fresh = await reconnect(s);
    assert.equal(s.recovered, false);
    assert.equal(fresh.recovered, false);
    assert.notEqual(s.id, id);
    // A pid the server never gave: a fresh session too.
    const other = await client();
    await ack(other.s, "join", "solo2");
    await ack(driver, "tick", "solo2", 1);
    await until(() => other.s._lastOffset, "an offset");
    await cut(other.s, driver, "solo2");
    other.s._pid = "not-a-session";
    const second = await reconnect(other.s);
    assert.equal(second.recovered, false);
    assert.notEqual(other.s.id, other.hello.id);
  });
});
