// Namespace "/guarded": packet middlewares (socket.use), catch-all listeners (onAny,
// onAnyOutgoing) and a rate limit, as the official client sees them.

import assert from "node:assert/strict";
import { describeModes, emitAck, push, scenario, uniq, useServer, usePool, waitForEvent } from "./harness.mjs";

const srv = useServer();

describeModes("guarded", (mode) => {
  const h = usePool(srv, mode);
  const connect = () => h.pool.connect({ nsp: "/guarded" });

  scenario("a packet a middleware passes reaches its handler", async () => {
    const s = await connect();
    assert.deepEqual(await emitAck(s, "echo-ack", 1, "two", { three: [3] }), [1, "two", { three: [3] }]);
  });

  scenario("a refused packet: no handler, no ack, the error handler's answer, still connected", async () => {
    const s = await connect();
    let acked = false;
    s.emit("forbidden", () => {
      acked = true;
    });
    assert.deepEqual(await s.log.waitFor("refused"), ["unauthorized event"]);
    // Later packets go through: the socket stays connected, as in socket.io.
    assert.deepEqual(await emitAck(s, "echo-ack", "after"), ["after"]);
    assert.equal(acked, false, "the refused packet's ack must not be answered");
    assert.equal(s.connected, true);
  });

  scenario("an error handler may disconnect: io server disconnect", async () => {
    const s = await connect();
    const reason = waitForEvent(s, "disconnect");
    s.emit("forbidden-disconnect");
    assert.deepEqual((await reason).slice(0, 1), ["io server disconnect"]);
    assert.deepEqual(s.log.all("refused"), [["disconnect me"]]);
  });

  scenario("onAny sees every event, refused ones too; onAnyOutgoing emits and broadcasts, not acks", async () => {
    const s = await connect();
    await emitAck(s, "echo-ack", 1);
    s.emit("forbidden");
    await s.log.waitFor("refused");
    const data = uniq("pushed");
    await push(srv.server.url, { event: "pushed", data, namespace: "/guarded" });
    await s.log.waitFor("pushed", (d) => d === data);
    const [seen] = await emitAck(s, "seen");
    assert.deepEqual(seen, {
      incoming: ["echo-ack", "forbidden", "seen"],
      outgoing: ["welcome", "refused", "pushed"],
    });
  });

  scenario("past the rate limit the ack says so; sustained flooding disconnects", async () => {
    const s = await connect();
    const answers = [];
    for (let n = 1; n <= 3; n++) answers.push(await emitAck(s, "limited", n));
    assert.deepEqual(answers, [[1], [2], [3]]);
    // Five drops are allowed: each ack answered with the error, each one reported.
    for (let n = 4; n <= 8; n++) {
      assert.deepEqual(await emitAck(s, "limited", n), [{ error: "rate limited" }]);
    }
    // Other events are not limited (and this answer comes after the last "refused").
    assert.deepEqual(await emitAck(s, "echo-ack", "free"), ["free"]);
    assert.equal(s.log.count("refused", (m) => m === "rate limited"), 5);
    // The sixth drop: its ack is answered, then the socket is removed.
    const reason = waitForEvent(s, "disconnect");
    const last = emitAck(s, "limited", 9);
    assert.deepEqual(await last, [{ error: "rate limited" }]);
    assert.deepEqual((await reason).slice(0, 1), ["io server disconnect"]);
  });
});
