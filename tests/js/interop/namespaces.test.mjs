// Two namespaces ("/" and "/custom") multiplexed over one Engine.IO connection.

import assert from "node:assert/strict";
import { awaitConnect, describeModes, emitAck, scenario, uniq, useServer, usePool } from "./harness.mjs";

const srv = useServer();

describeModes("namespaces", (mode) => {
  const h = usePool(srv, mode);

  /** One Manager with a "/" socket and a "/custom" socket, both connected. */
  async function both(rootAuth = { ns: "root" }, customAuth = { ns: "custom" }) {
    const manager = h.pool.manager();
    const root = h.pool.socket({ manager, auth: rootAuth });
    const custom = h.pool.socket({ manager, nsp: "/custom", auth: customAuth });
    await Promise.all([awaitConnect(root), awaitConnect(custom)]);
    [root.welcome] = await root.log.waitFor("welcome");
    [custom.welcome] = await custom.log.waitFor("welcome");
    await h.pool.assertTransport(manager);
    return { manager, root, custom };
  }

  scenario("/ and /custom share one Manager and one Engine.IO connection; each gets its welcome", async () => {
    const { manager, root, custom } = await both({ who: "root" }, { who: "custom", n: [1, 2] });
    assert.equal(root.io, manager);
    assert.equal(custom.io, manager, "both sockets use the same Manager");
    assert.equal(manager.opens, 1, "exactly one Engine.IO connection was opened");
    assert.equal(manager.engine.readyState, "open");
    assert.deepEqual(root.welcome, { id: root.id, auth: { who: "root" }, namespace: "/" });
    assert.deepEqual(custom.welcome, { id: custom.id, auth: { who: "custom", n: [1, 2] }, namespace: "/custom" });
    assert.notEqual(root.id, custom.id, "each namespace socket has its own id");
  });

  scenario("a namespace joined later rides the existing connection", async () => {
    const root = await h.pool.connect({ auth: { first: true } });
    const manager = root.io;
    const engineId = manager.engine.id;
    const custom = await h.pool.connect({ manager, nsp: "/custom" });
    assert.equal(custom.io, manager);
    assert.equal(manager.opens, 1);
    assert.equal(manager.engine.id, engineId, "same Engine.IO session");
    assert.deepEqual(custom.welcome, { id: custom.id, auth: {}, namespace: "/custom" });
  });

  scenario("echo-ack is namespace-specific", async () => {
    const { root, custom } = await both();
    assert.deepEqual(await emitAck(custom, "echo-ack", 1, "a", { b: [null] }), ["custom", 1, "a", { b: [null] }]);
    assert.deepEqual(await emitAck(root, "echo-ack", 1, "a", { b: [null] }), [1, "a", { b: [null] }]);
    assert.deepEqual(await emitAck(custom, "echo-ack", Buffer.from([5, 6])), ["custom", Buffer.from([5, 6])]);
  });

  scenario("a /custom broadcast reaches /custom sockets only", async () => {
    const one = await both();
    const two = h.pool.socket({ nsp: "/custom" }); // another connection, /custom only
    await awaitConnect(two);
    const three = await h.pool.connect(); // another connection, / only

    const msg = uniq("custom-bcast");
    one.custom.emit("broadcast", msg);
    await one.custom.log.waitFor("bcast", (m) => m === msg);
    await two.log.waitFor("bcast", (m) => m === msg);

    const marker = uniq("root-marker");
    one.root.emit("broadcast", marker); // same connection as the /custom sender, so ordered after it
    await one.root.log.waitFor("bcast", (m) => m === marker);
    await three.log.waitFor("bcast", (m) => m === marker);
    assert.deepEqual(one.root.log.all("bcast"), [[marker]], "/ socket on the sender's connection");
    assert.deepEqual(three.log.all("bcast"), [[marker]], "/ socket on another connection");
    assert.equal(one.custom.log.count("bcast", (m) => m === marker), 0, "/ broadcast does not reach /custom");
    assert.equal(one.custom.log.count("bcast", (m) => m === msg), 1);
    assert.equal(two.log.count("bcast", (m) => m === msg), 1);
  });

  scenario("disconnecting /custom keeps / connected on the same connection; /custom can rejoin", async () => {
    const { manager, root, custom } = await both();
    const engine = manager.engine;
    const oldCustomId = custom.id;

    const reason = new Promise((resolve) => custom.once("disconnect", resolve));
    custom.disconnect();
    assert.equal(await reason, "io client disconnect");
    assert.equal(custom.connected, false);
    assert.equal(root.connected, true);
    assert.deepEqual(await emitAck(root, "echo-ack", "still here"), ["still here"]);
    assert.equal(manager.engine, engine, "the Engine.IO connection was kept");
    assert.equal(engine.readyState, "open");

    custom.connect();
    await awaitConnect(custom);
    const [welcome] = await custom.log.waitFor("welcome", (w) => w.id !== oldCustomId, "a second welcome");
    assert.deepEqual(welcome, { id: custom.id, auth: { ns: "custom" }, namespace: "/custom" });
    assert.notEqual(custom.id, oldCustomId);
    assert.equal(manager.engine, engine);
    assert.equal(manager.opens, 1);
    assert.deepEqual(await emitAck(custom, "echo-ack", "back"), ["custom", "back"]);
  });

  scenario("a refused / connection does not close the connection /custom uses", async () => {
    const manager = h.pool.manager();
    const custom = h.pool.socket({ manager, nsp: "/custom" });
    await awaitConnect(custom);
    const root = h.pool.socket({ manager, auth: { token: "reject" } });
    const err = await new Promise((resolve, reject) => {
      root.once("connect_error", resolve);
      root.once("connect", () => reject(new Error("refused socket connected")));
    });
    assert.equal(err.message, "not authorized");
    assert.deepEqual(err.data, { code: 42, reason: "bad token" });
    assert.equal(custom.connected, true);
    assert.deepEqual(await emitAck(custom, "echo-ack", "unaffected"), ["custom", "unaffected"]);
    assert.equal(manager.opens, 1);
    await h.pool.assertTransport(manager);
  });
});
