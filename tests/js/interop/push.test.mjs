// Server push from an HTTP route: POST /push on the same HTTP server.
// Non-receipt: a later push to the whole namespace acts as the marker. The server has
// emitted (queued) a push before answering its POST, so anything wrongly delivered by an
// earlier push is ahead of the marker on each connection.

import assert from "node:assert/strict";
import { awaitConnect, describeModes, emitAck, push, scenario, uniq, useServer, usePool } from "./harness.mjs";

const srv = useServer();

async function pushMarker(url, clients, namespace) {
  const m = uniq("push-marker");
  await push(url, namespace ? { event: "marker", data: m, namespace } : { event: "marker", data: m });
  await Promise.all(clients.map((c) => c.log.waitFor("marker", (x) => x === m, `push marker ${m}`)));
}

describeModes("push", (mode) => {
  const h = usePool(srv, mode);
  const url = () => srv.server.url;

  scenario("POST /push without room reaches every socket of /", async () => {
    const a = await h.pool.connect();
    const b = await h.pool.connect();
    const data = { text: "server news ✓", list: [1, null, true], nested: { deep: [{}] } };
    await push(url(), { event: "news", data });
    for (const s of [a, b]) assert.deepEqual(await s.log.waitFor("news"), [data]);
  });

  scenario("POST /push with a room reaches only that room", async () => {
    const a = await h.pool.connect();
    const b = await h.pool.connect();
    const c = await h.pool.connect();
    const room = uniq("push-room");
    assert.deepEqual(await emitAck(a, "join", room), ["joined", room]);
    assert.deepEqual(await emitAck(c, "join", room), ["joined", room]);

    await push(url(), { event: "room-news", data: "members only", room });
    await a.log.waitFor("room-news");
    await c.log.waitFor("room-news");
    await pushMarker(url(), [a, b, c]);
    assert.deepEqual(a.log.all("room-news"), [["members only"]]);
    assert.deepEqual(c.log.all("room-news"), [["members only"]]);
    assert.deepEqual(b.log.all("room-news"), [], "a non-member gets nothing");
  });

  scenario('POST /push with namespace "/custom" reaches /custom only', async () => {
    const root = await h.pool.connect();
    const custom = h.pool.socket({ manager: root.io, nsp: "/custom" }); // same connection as root
    await awaitConnect(custom);

    await push(url(), { event: "custom-news", data: { for: "/custom" }, namespace: "/custom" });
    assert.deepEqual(await custom.log.waitFor("custom-news"), [{ for: "/custom" }]);
    await pushMarker(url(), [root]);
    assert.deepEqual(root.log.all("custom-news"), [], "/ does not get a /custom push");
  });

  scenario("POST /push data of any JSON type is one argument; event names may be unicode", async () => {
    const s = await h.pool.connect();
    const values = [null, 0, "", "ü", false, [1, [2, "three"]], { a: { b: null } }];
    for (const data of values) await push(url(), { event: "pushed-✓", data });
    await pushMarker(url(), [s]);
    assert.deepEqual(s.log.all("pushed-✓"), values.map((v) => [v]));
  });
});
