// Connection state recovery from the browser: the client is cut (socket.io.engine.close()),
// the server sends to its room and to it while it is away, and on reconnect the client has
// the same id, `recovered` is true and every missed packet arrives once, in order. Run
// against a Node socket.io 4.8 server with connectionStateRecovery (recovery-server.mjs) and
// Sockeye's connection_state_recovery example. Functions given to page.evaluate run IN THE PAGE.

import assert from "node:assert/strict";
import { browserTest } from "./harness.mjs";

let unique = 0;

export function recoveryScenarios({ server: serverInfo }) {
  for (const transports of [["websocket"], ["polling"]]) {
    browserTest(`browser [${serverInfo.name}, ${transports[0]}] connection state recovery after a cut`, async ({ page, server }) => {
      // A room of this test's own: the server may still count the previous test's socket
      // in a shared room (its page is closed, but the server notices only later).
      const room = `room-${process.pid}-${++unique}`;
      const r = await page.evaluate(async ({ url, transports, room }) => {
        const until = async (check, what) => {
          const deadline = Date.now() + T.TIMEOUT_MS;
          while (!(await check())) {
            if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
            await new Promise((ok) => setTimeout(ok, 25));
          }
        };
        const open = async () => {
          const s = T.io(url, { transports, forceNew: true, reconnection: false });
          await T.connected(s);
          const [hello] = await s.log.waitFor("hello", undefined, "hello");
          return { s, hello };
        };
        const ack = async (s, ...args) => (await T.ack(s, ...args))[0];
        const { s, hello } = await open();
        const { s: driver } = await open();
        const ticks = [];
        s.on("tick", (n, offset) => ticks.push([n, typeof offset]));
        const rooms = await ack(s, "join", room);
        await ack(driver, "tick", room, 1);
        await until(() => ticks.length === 1, "the first tick");
        const id = s.id;
        const recoveredAtFirst = s.recovered;

        const gone = new Promise((ok) => s.once("disconnect", ok));
        s.io.engine.close();
        const reason = await T.withTimeout(gone, "disconnect");
        await until(async () => (await ack(driver, "members", room)) === 0, "the server sees the cut");
        await ack(driver, "tick", room, 5);
        await ack(driver, "tick-socket", id, 2);

        const before = s.log.count("hello");
        s.connect();
        await T.connected(s);
        const recovered = s.recovered;
        const [again] = await s.log.waitFor("hello", undefined, "hello after the reconnect", before + 1);
        await until(() => ticks.length === 8, `the missed ticks (${JSON.stringify(ticks)})`);
        await ack(driver, "tick", room, 1);
        await until(() => ticks.length === 9, "a tick after recovery");
        return {
          hello, rooms: rooms.includes(room), recoveredAtFirst, reason, sameId: s.id === id, recovered,
          again, id, ticks: ticks.map(([n]) => n), offsets: ticks.every(([, type]) => type === "string"),
        };
      }, { url: server.url, transports, room });
      assert.equal(r.hello.recovered, false);
      assert.equal(r.recoveredAtFirst, false);
      assert.ok(r.rooms);
      assert.equal(r.reason, "forced close");
      assert.equal(r.recovered, true, "socket.recovered after the reconnect");
      assert.ok(r.sameId, "the same socket id");
      assert.deepEqual(r.again, { id: r.id, recovered: true });
      assert.deepEqual(r.ticks, [1, 1, 2, 3, 4, 5, 1, 2, 1]);
      assert.ok(r.offsets, "each event carries its offset as a last string argument");
    });
  }
}
