// Disconnect reasons on both sides, and reconnection after the server restarts.

import assert from "node:assert/strict";
import {
  START_TIMEOUT_MS,
  TEST_TIMEOUT_MS,
  TIMEOUT_MS,
  awaitConnect,
  describeModes,
  emitAck,
  scenario,
  uniq,
  useServer,
  usePool,
  waitForEvent,
} from "./harness.mjs";

const srv = useServer();

describeModes("disconnect", (mode) => {
  const h = usePool(srv, mode);

  scenario('client disconnect: "io client disconnect" locally, peers see "client namespace disconnect"', async () => {
    // peer-left goes to the leaving socket's group only (FIXTURE.md): a group per test.
    const auth = { group: uniq("group") };
    const a = await h.pool.connect({ auth });
    const b = await h.pool.connect({ auth });
    const c = await h.pool.connect({ auth });
    const aId = a.id;

    const reason = waitForEvent(a, "disconnect");
    a.disconnect();
    assert.deepEqual((await reason).slice(0, 1), ["io client disconnect"]);
    assert.equal(a.connected, false);
    assert.equal(a.active, false);

    for (const peer of [b, c]) {
      const [left] = await peer.log.waitFor("peer-left", (p) => p.id === aId, "peer-left for A");
      assert.deepEqual(left, { id: aId, reason: "client namespace disconnect" });
    }
  });

  scenario('server-disconnect: "io server disconnect" locally, no reconnection; peers see "server namespace disconnect"', async () => {
    // Reconnection on: the client must still not reconnect after a server-side disconnect.
    const auth = { group: uniq("group") };
    const a = await h.pool.connect({ auth, managerOpts: { reconnection: true, reconnectionDelay: 100 } });
    const b = await h.pool.connect({ auth });
    const aId = a.id;

    const reason = waitForEvent(a, "disconnect");
    a.emit("server-disconnect");
    assert.deepEqual((await reason).slice(0, 1), ["io server disconnect"]);
    assert.equal(a.connected, false);
    assert.equal(a.active, false, "no automatic reconnection after io server disconnect");

    const [left] = await b.log.waitFor("peer-left", (p) => p.id === aId, "peer-left for A");
    assert.deepEqual(left, { id: aId, reason: "server namespace disconnect" });
  });

  scenario('connection dropped by the client (engine closed, no DISCONNECT packet): peers see "transport close"', async () => {
    const auth = { group: uniq("group") };
    const a = await h.pool.connect({ auth });
    const b = await h.pool.connect({ auth });
    const aId = a.id;

    const reason = waitForEvent(a, "disconnect");
    a.io.engine.close();
    assert.deepEqual((await reason).slice(0, 1), ["forced close"]);

    const [left] = await b.log.waitFor("peer-left", (p) => p.id === aId, "peer-left for A");
    assert.deepEqual(left, { id: aId, reason: "transport close" });
  });

  // Stops the file's server; it is started again on the same port, so later tests are unaffected.
  scenario(
    "server stopped: the client sees the transport close; after a restart on the same port it reconnects",
    { timeout: 2 * START_TIMEOUT_MS + TEST_TIMEOUT_MS },
    async () => {
      const auth = { token: "comeback" };
      const s = await h.pool.connect({
        auth,
        managerOpts: { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200 },
      });
      const firstId = s.id;
      const server = srv.server;
      const port = server.port;

      const disconnected = waitForEvent(s, "disconnect", { what: "disconnect after the server stopped" });
      await server.stop();
      const [reason] = await disconnected;
      if (mode.expect === "websocket") {
        assert.equal(reason, "transport close");
      } else {
        // The official server exiting mid long-poll gives "transport error" (xhr poll error);
        // a server that answers the pending poll with a close packet first gives "transport close".
        assert.ok(["transport close", "transport error"].includes(reason), `unexpected reason: ${reason}`);
      }
      assert.equal(s.connected, false);
      assert.equal(s.active, true, "the client keeps trying to reconnect");

      // Registered before the restart: the client may reconnect before start() returns.
      const reconnected = waitForEvent(s.io, "reconnect", {
        what: "the Manager's reconnect event",
        timeout: START_TIMEOUT_MS + TIMEOUT_MS,
      });
      await server.start(port);
      assert.equal(server.port, port, "restarted on the same port");
      const [attempts] = await reconnected;
      assert.ok(attempts >= 1, `reconnect after ${attempts} attempt(s)`);

      await awaitConnect(s);
      const [welcome] = await s.log.waitFor("welcome", (w) => w.id !== firstId, "a new welcome after reconnecting");
      assert.deepEqual(welcome, { id: s.id, auth, namespace: "/" });
      assert.notEqual(s.id, firstId, "a new session, new socket id (no connection state recovery)");
      await h.pool.assertTransport(s.io);
      assert.deepEqual(await emitAck(s, "echo-ack", "after restart"), ["after restart"]);
    },
  );
});
