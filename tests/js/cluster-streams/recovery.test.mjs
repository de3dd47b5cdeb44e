// Connection state recovery across nodes on the Redis Streams adapter: two Sockeye nodes
// (a, b) and one Node socket.io node with @socket.io/redis-streams-adapter (c), all with
// recovery on, one real Redis. A client's connection is cut on one node; while it is away
// the other nodes broadcast to its room; it comes back to another node (as a load
// balancer may send it) naming its private id and last offset, and gets its id, rooms,
// data and every packet it missed, in order — Sockeye to Node, Node to Sockeye, Sockeye
// to Sockeye, and Node to Node (the reference).
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import {
  Clients, connect, startRedis, startNode, stop, call, next, collect, until,
  redisClientOptions, TIMEOUT, TEST_TIMEOUT,
} from "../cluster/harness.mjs";
import { waitForEvent } from "../lib/wait.mjs";

let redis, admin;
const nodes = {};
const clients = new Clients(nodes);
const T = { timeout: TEST_TIMEOUT };
const FLAGS = ["--adapter", "streams", "--recovery"];

before(async () => {
  redis = await startRedis();
  admin = createClient(redisClientOptions(redis.url));
  admin.on("error", () => {});
  await admin.connect();
  const [a, b, c] = await Promise.all([
    startNode("sockeye", "a", redis.url, FLAGS),
    startNode("sockeye", "b", redis.url, FLAGS),
    startNode("node", "c", redis.url, FLAGS),
  ]);
  Object.assign(nodes, { a, b, c });
});

afterEach(() => clients.closeAll());

after(async () => {
  clients.closeAll();
  await admin?.quit().catch(() => {});
  await Promise.all(Object.values(nodes).map((n) => stop(n)));
  await redis?.close();
});

/** A client on `node` that does not reconnect by itself; not connected yet. */
function unconnected(node, auth) {
  return clients.add(connect(node.url, {
    auth, transports: ["websocket"], reconnection: false, forceNew: true, autoConnect: false,
  }));
}

for (const [from, to] of [["a", "c"], ["c", "a"], ["a", "b"], ["c", "c"]]) {
  test(`a session cut on ${from} is recovered on ${to}: id, rooms, data and the missed packets in order`, T, async () => {
    const room = `recover-${from}-${to}`;
    const user = `user-${from}-${to}`;
    const first = unconnected(nodes[from], { room, user });
    first.connect();
    await waitForEvent(first, "connect", { what: `connect to ${from}`, timeout: TIMEOUT });
    assert.ok(first._pid, "the server gave a private id");
    // One packet with an offset, so that the client has one to name.
    const sender = await clients.on("b");
    const got = next(first, "before");
    await call(sender, "to", room, "before", 0);
    assert.equal(await got, 0);
    assert.match(first._lastOffset, /^\d+-\d+$/, "offsets are stream entry ids");
    // A local broadcast carries no offset, as on a Node node: the last one stays an entry id.
    const local = next(first, "here-only");
    await call(first, "local", "here-only", 1);
    assert.equal(await local, 1);
    assert.match(first._lastOffset, /^\d+-\d+$/, "a local broadcast leaves the offset alone");
    const { id, _pid: pid } = first;
    await call(first, "join", "extra-room");

    // The transport is cut: the server sees "transport close" and keeps the session.
    first.io.engine.close();
    await until(async () => (await admin.exists(`sio:session:${pid}`)) === 1,
      "the session is stored in Redis");

    // While it is away, the other nodes broadcast to its rooms (and to a room it is not in).
    const senders = { a: await clients.on("a"), c: await clients.on("c") };
    const sent = [];
    for (let k = 0; k < 3; k++) {
      for (const n of ["a", "c"]) {
        await call(senders[n], "to", room, "missed", `${room}:${n}${k}`);
        sent.push(`${room}:${n}${k}`);
      }
      await call(senders.a, "to", "extra-room", "missed", `${room}:extra${k}`);
      sent.push(`${room}:extra${k}`);
      await call(senders.c, "to", "not-its-room", "missed", `${room}:wrong${k}`);
    }
    // The order is the stream's (a Node node acks before its XADD is done).
    let expected;
    await until(async () => {
      const entries = await admin.xRange("socket.io", first._lastOffset, "+");
      expected = entries.map((e) => JSON.parse(e.message.data).packet?.data)
        .filter((d) => d?.[0] === "missed" && sent.includes(d[1])).map((d) => d[1]);
      return expected.length === sent.length;
    }, "every broadcast in the stream");

    const second = unconnected(nodes[to], { room: "should-not-join", user: "someone-else" });
    second._pid = pid;
    second._lastOffset = first._lastOffset;
    const seen = collect(second, "missed");
    second.connect();
    await waitForEvent(second, "connect", { what: `reconnect to ${to}`, timeout: TIMEOUT });
    assert.equal(second.recovered, true, "recovered");
    assert.equal(second.id, id, "same socket id");
    await until(() => seen.length >= expected.length, `${expected.length} missed packets`);
    assert.deepEqual(seen.filter((m) => m.startsWith(`${room}:`)), expected);
    const me = await call(second, "whoami");
    assert.equal(me.node, to);
    assert.equal(me.id, id);
    assert.deepEqual(me.rooms, [id, "extra-room", room].sort());
    assert.deepEqual(me.data, { node: from, user });
    // Live again: the next broadcast arrives once.
    const live = next(second, "after");
    await call(senders.c, "to", room, "after", "live");
    assert.equal(await live, "live");
    // The session was given back once: a second claim gets a fresh one.
    const third = unconnected(nodes.b, {});
    third._pid = pid;
    third._lastOffset = first._lastOffset;
    third.connect();
    await waitForEvent(third, "connect", { what: "a second claim", timeout: TIMEOUT });
    assert.equal(third.recovered, false);
    assert.notEqual(third.id, id);
  });
}

test("an offset that is not an entry id, or an unknown private id, gets a fresh session", T, async () => {
  for (const to of ["a", "c"]) {
    const s = unconnected(nodes[to], {});
    s._pid = "no-such-pid";
    s._lastOffset = "garbage";
    s.connect();
    await waitForEvent(s, "connect", { what: `connect to ${to}`, timeout: TIMEOUT });
    assert.equal(s.recovered, false);
    const me = await call(s, "whoami");
    assert.equal(me.recovered, false);
  }
});

// Last: node a does not come back.
test("a Sockeye node stopped under its clients: they recover on the other nodes, Node and Sockeye", T, async () => {
  const room = "node-stopped";
  const firsts = [unconnected(nodes.a, { room, user: "u0" }), unconnected(nodes.a, { room, user: "u1" })];
  for (const s of firsts) {
    s.connect();
    await waitForEvent(s, "connect", { what: "connect to a", timeout: TIMEOUT });
  }
  const sender = await clients.on("b");
  const got = firsts.map((s) => next(s, "before"));
  await call(sender, "to", room, "before", 0);
  await Promise.all(got);
  const [offset] = firsts.map((s) => s._lastOffset);
  const ids = firsts.map((s) => s.id);
  // SIGTERM: node a closes its sockets ("server shutting down", a reason recovery keeps).
  await stop(nodes.a);
  for (const s of firsts) {
    await until(async () => (await admin.exists(`sio:session:${s._pid}`)) === 1, "the sessions are in Redis");
  }
  const sent = [];
  const fromC = await clients.on("c");
  for (let k = 0; k < 3; k++) {
    for (const [n, s] of [["b", sender], ["c", fromC]]) {
      await call(s, "to", room, "missed", `${n}${k}`);
      sent.push(`${n}${k}`);
    }
  }
  let expected;
  await until(async () => {
    const entries = await admin.xRange("socket.io", offset, "+");
    expected = entries.map((e) => JSON.parse(e.message.data).packet?.data)
      .filter((d) => d?.[0] === "missed" && sent.includes(d[1])).map((d) => d[1]);
    return expected.length === sent.length;
  }, "every broadcast in the stream");
  for (const [i, to] of [[0, "c"], [1, "b"]]) {
    const again = unconnected(nodes[to], {});
    again._pid = firsts[i]._pid;
    again._lastOffset = firsts[i]._lastOffset;
    const seen = collect(again, "missed");
    again.connect();
    await waitForEvent(again, "connect", { what: `recover on ${to}`, timeout: TIMEOUT });
    assert.equal(again.recovered, true, `recovered on ${to}`);
    assert.equal(again.id, ids[i]);
    await until(() => seen.length >= expected.length, `missed packets on ${to}`);
    assert.deepEqual(seen, expected);
    const me = await call(again, "whoami");
    assert.deepEqual(me.data, { node: "a", user: `u${i}` });
    assert.ok(me.rooms.includes(room));
  }
});
