// Connecting: auth payload, welcome event, socket ids, refusal by the connect middleware.

import assert from "node:assert/strict";
import { describeModes, scenario, uniq, useServer, usePool } from "./harness.mjs";

const srv = useServer();

describeModes("connect", (mode) => {
  const h = usePool(srv, mode);

  scenario("connects with auth: welcome echoes auth and namespace, socket.id equals welcome.id", async () => {
    const auth = {
      token: "secret-ü-🔑",
      user: { name: "ada", roles: ["admin", "dev"], meta: { n: 7, ok: true, none: null } },
      list: [1, "two", [3]],
    };
    const s = await h.pool.connect({ auth });
    assert.equal(s.connected, true);
    assert.equal(typeof s.id, "string");
    assert.ok(s.id.length > 0, "socket.id is not empty");
    assert.deepEqual(s.welcome, { id: s.id, auth, namespace: "/" });
  });

  scenario("connects without auth: welcome.auth is {} (the official server's default handshake.auth)", async () => {
    const s = await h.pool.connect();
    assert.deepEqual(s.welcome, { id: s.id, auth: {}, namespace: "/" });
  });

  scenario("every socket gets its own id, distinct from the Engine.IO session id", async () => {
    const a = await h.pool.connect({ auth: { n: 1 } });
    const b = await h.pool.connect({ auth: { n: 2 } });
    const c = await h.pool.connect({ auth: { n: 3 } });
    assert.equal(new Set([a.id, b.id, c.id]).size, 3, "three distinct socket ids");
    for (const s of [a, b, c]) {
      assert.equal(s.welcome.id, s.id);
      assert.equal(typeof s.io.engine.id, "string");
      assert.notEqual(s.id, s.io.engine.id, "Socket.IO v5 socket id differs from the Engine.IO sid");
    }
    assert.deepEqual([a, b, c].map((s) => s.welcome.auth.n), [1, 2, 3]);
  });

  scenario('auth.token "reject" is refused: connect_error "not authorized" with its data', async () => {
    const err = await h.pool.connectError({ auth: { token: "reject", extra: "ignored" } });
    assert.ok(err instanceof Error);
    assert.equal(err.message, "not authorized");
    assert.deepEqual(err.data, { code: 42, reason: "bad token" });
  });

  scenario("a refused client is not a peer: nobody sees it leave, and the next client connects", async () => {
    // A and the refused client share a group of their own: a peer-left for the refused
    // client would reach A, and no other test's departure can (FIXTURE.md).
    const group = uniq("group");
    const a = await h.pool.connect({ auth: { group } });
    const refused = h.pool.socket({ auth: { token: "reject", group } });
    const err = await new Promise((resolve, reject) => {
      refused.once("connect_error", resolve);
      refused.once("connect", () => reject(new Error("refused client connected")));
    });
    assert.equal(err.message, "not authorized");
    assert.equal(refused.connected, false);
    assert.equal(refused.active, false, "no automatic retry after a middleware refusal");

    const b = await h.pool.connect({ auth: { token: "fine" } });
    assert.deepEqual(b.welcome.auth, { token: "fine" });

    const marker = uniq("marker");
    a.emit("broadcast", marker);
    await a.log.waitFor("bcast", (m) => m === marker);
    await b.log.waitFor("bcast", (m) => m === marker);
    assert.deepEqual(a.log.all("peer-left"), [], "no peer-left for a socket that never connected");
  });
});
