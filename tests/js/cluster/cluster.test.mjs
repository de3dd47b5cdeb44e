// One cluster on one real Redis: two Sockeye nodes (a, b) and one Node socket.io 4.8
// node with @socket.io/redis-adapter 8.3 (c), clients from the official
// socket.io-client on each. Every operation is sent from each node and checked on
// every node; then both emitters; then Redis goes away and comes back.
// Every test has its own timeout, and its clients are closed after it (afterEach) whether
// it passed or not, so one failure does not spill into the next test.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";
import {
  Clients, startRedis, startNode, stop, call, next, collect, until, barrier, withTimeout,
  redisClientOptions, refusedPort, sockeyeBin, TIMEOUT, TEST_TIMEOUT,
} from "./harness.mjs";

const run = promisify(execFile);
let redisUrl, redis;
const nodes = {};
const names = ["a", "b", "c"];
const clients = new Clients(nodes);
const T = { timeout: TEST_TIMEOUT };

/** A client on node `name`, closed when the test ends. */
const on = (name, auth = {}) => clients.on(name, auth);
const closeAll = () => clients.closeAll();

before(async () => {
  redis = await startRedis();
  redisUrl = redis.url;
  const [a, b, c] = await Promise.all([
    startNode("sockeye", "a", redisUrl),
    startNode("sockeye", "b", redisUrl),
    startNode("node", "c", redisUrl),
  ]);
  Object.assign(nodes, { a, b, c });
});

afterEach(closeAll);

after(async () => {
  closeAll();
  await Promise.all(Object.values(nodes).map((n) => stop(n)));
  await redis?.close();
});

test("every node counts the three nodes of the cluster", T, async () => {
  for (const name of names) {
    const s = await on(name);
    await until(async () => (await call(s, "servers")) === 3, `${name} sees 3 servers`);
  }
});

for (const sender of names) {
  test(`a room broadcast from ${sender} reaches the room on every node, and only the room`, T, async () => {
    const room = `room-${sender}`;
    const inside = await Promise.all(names.map((n) => on(n, { room })));
    const outside = await Promise.all(names.map((n) => on(n)));
    const wrong = outside.map((s) => collect(s, "news"));
    const from = await on(sender);
    const got = inside.map((s, i) => next(s, "news", `news at ${names[i]}`));
    await call(from, "to", room, "news", { from: sender, n: 1 });
    assert.deepEqual(await Promise.all(got), names.map(() => ({ from: sender, n: 1 })));
    // Everyone joins the marker room: once the marker is everywhere, a stray "news"
    // would have arrived too.
    for (const s of outside) await call(s, "join", room);
    await barrier(from, outside, room);
    assert.deepEqual(wrong, [[], [], []]);
  });

  test(`a broadcast with acks from ${sender} collects the answers of clients on every node`, T, async () => {
    const room = `acks-${sender}`;
    const members = await Promise.all(names.map((n) => on(n, { room })));
    members.forEach((m, i) => m.on("question", (payload, cb) => cb({ node: names[i], payload })));
    const from = await on(sender);
    const answer = await call(from, "to-with-ack", room, "question", sender);
    assert.equal(answer.err, null);
    assert.deepEqual(answer.responses.map((r) => r.node).sort(), names);
    for (const r of answer.responses) assert.equal(r.payload, sender);
    // A client that never answers: a timeout, with the answers that came.
    const silent = await on(names[(names.indexOf(sender) + 1) % 3], { room });
    silent.on("question", () => {});
    const partial = await call(from, "to-with-ack", room, "question", sender);
    assert.equal(partial.err, "operation has timed out");
    assert.deepEqual(partial.responses.map((r) => r.node).sort(), names);
  });

  test(`except from ${sender} leaves out the excluded room on every node`, T, async () => {
    const room = `ex-all-${sender}`;
    const excluded = `ex-out-${sender}`;
    const kept = await Promise.all(names.map((n) => on(n, { room })));
    const left = await Promise.all(names.map((n) => on(n, { room })));
    for (const s of left) await call(s, "join", excluded);
    const wrong = left.map((s) => collect(s, "except-news"));
    const from = await on(sender, { room: excluded });
    const got = kept.map((s, i) => next(s, "except-news", `except-news at ${names[i]}`));
    await call(from, "except", excluded, "except-news", sender);
    assert.deepEqual(await Promise.all(got), [sender, sender, sender]);
    await barrier(from, left, room);
    assert.deepEqual(wrong, [[], [], []]);
  });

  test(`socketsJoin and socketsLeave from ${sender} move sockets on every node`, T, async () => {
    const source = `src-${sender}`;
    const target = `dst-${sender}`;
    const members = await Promise.all(names.map((n) => on(n, { room: source })));
    const from = await on(sender);
    await call(from, "sockets-join", source, target);
    const fetched = await until(async () => {
      const list = await call(from, "fetch", target);
      return Array.isArray(list) && list.length === 3 && list;
    }, `3 sockets in ${target}`);
    assert.deepEqual(fetched.map((s) => s.data.node).sort(), names);
    const got = members.map((s) => next(s, "joined-news"));
    await call(from, "to", target, "joined-news", sender);
    assert.deepEqual(await Promise.all(got), [sender, sender, sender]);
    await call(from, "sockets-leave", source, target);
    await until(async () => {
      const list = await call(from, "fetch", target);
      return Array.isArray(list) && list.length === 0;
    }, `${target} empty`);
  });

  test(`disconnectSockets from ${sender} disconnects the room on every node`, T, async () => {
    const room = `kick-${sender}`;
    const members = await Promise.all(names.map((n) => on(n, { room })));
    const bystanders = await Promise.all(names.map((n) => on(n)));
    const from = await on(sender);
    const reasons = members.map((s) => next(s, "disconnect"));
    await call(from, "disconnect-sockets", room);
    assert.deepEqual(await Promise.all(reasons), names.map(() => "io server disconnect"));
    assert.ok(bystanders.every((s) => s.connected), "sockets outside the room stay");
    assert.ok(from.connected);
  });

  test(`fetchSockets from ${sender} returns the sockets of every node with their data`, T, async () => {
    const room = `fetch-${sender}`;
    const members = await Promise.all(names.map((n) => on(n, { room, user: `user-${n}` })));
    const from = await on(sender);
    const list = await call(from, "fetch", room);
    assert.ok(Array.isArray(list), JSON.stringify(list));
    const byId = Object.fromEntries(list.map((s) => [s.id, s]));
    members.forEach((m, i) => {
      const s = byId[m.id];
      assert.ok(s, `socket of ${names[i]} fetched`);
      assert.deepEqual(s.data, { node: names[i], user: `user-${names[i]}` });
      assert.deepEqual(s.rooms, [m.id, room].sort());
      // socket.handshake, in socket.io's shape whichever node describes it.
      assert.deepEqual(s.handshake.auth, { room, user: `user-${names[i]}` });
      assert.equal(s.handshake.query.EIO, "4");
      assert.equal(s.handshake.query.transport, "websocket");
      assert.equal(typeof s.handshake.issued, "number");
      assert.ok(Math.abs(Date.now() - s.handshake.issued) < 60_000, "issued is a recent time");
      assert.ok(!Number.isNaN(Date.parse(s.handshake.time)), `time parses: ${s.handshake.time}`);
      assert.equal(typeof s.handshake.headers, "object");
      assert.equal(s.handshake.headers.host, new URL(nodes[names[i]].url).host);
      assert.equal(typeof s.handshake.url, "string");
    });
    assert.equal(list.length, 3);
    const rooms = await call(from, "rooms");
    for (const m of members) assert.ok(rooms.includes(m.id), `${m.id} in allRooms`);
    assert.ok(rooms.includes(room));
  });

  test(`serverSideEmit from ${sender}: with an ack every other node answers, without one each hears it`, T, async () => {
    const from = await on(sender);
    const answer = await call(from, "sse", "hello", { from: sender });
    assert.equal(answer.err, null);
    const others = names.filter((n) => n !== sender);
    assert.deepEqual(
      answer.responses.map((r) => r.node).sort(), others,
      JSON.stringify(answer.responses));
    for (const r of answer.responses) assert.deepEqual(r.payload, { from: sender });
    const listeners = await Promise.all(others.map((n) => on(n)));
    const heard = listeners.map((s) => next(s, "notified"));
    await call(from, "notify", sender);
    assert.deepEqual(
      (await Promise.all(heard)).map((h) => [h.node, h.payload]),
      others.map((n) => [n, sender]));
    // No node listens to this one: the sender gets a timeout, not a hang.
    const silence = await call(from, "sse", "nobody-listens", 1);
    assert.match(silence.err, /timeout reached: only 0 responses received out of 2/);
    assert.deepEqual(silence.responses, []);
  });
}

test("local broadcasts stay on their node", T, async () => {
  for (const sender of names) {
    const here = await on(sender);
    const elsewhere = await Promise.all(names.filter((n) => n !== sender).map((n) => on(n)));
    const wrong = elsewhere.map((s) => collect(s, "local-news"));
    const from = await on(sender);
    const got = next(here, "local-news");
    await call(from, "local", "local-news", sender);
    assert.equal(await got, sender);
    const room = `after-local-${sender}`;
    for (const s of elsewhere) await call(s, "join", room);
    await barrier(from, elsewhere, room);
    assert.deepEqual(wrong, [[], []]);
    await closeAll();
  }
});

test("@socket.io/redis-emitter from Node reaches rooms on Sockeye and Node nodes", T, async () => {
  const redisClient = createClient(redisClientOptions(redisUrl));
  redisClient.on("error", () => {});
  await redisClient.connect();
  try {
    const emitter = new Emitter(redisClient);
    const room = "emitter-room";
    const members = await Promise.all(names.map((n) => on(n, { room })));
    const outsiders = await Promise.all(names.map((n) => on(n, { room: "emitter-out" })));
    const wrong = outsiders.map((s) => collect(s, "from-emitter"));
    const got = members.map((s) => next(s, "from-emitter"));
    emitter.to(room).emit("from-emitter", { via: "node" }, 2);
    assert.deepEqual(await Promise.all(got), names.map(() => ({ via: "node" })));
    // socketsJoin through the emitter, then a broadcast to the new room.
    emitter.in("emitter-out").socketsJoin("emitter-joined");
    const sockeye = await on("a");
    await until(async () => (await call(sockeye, "fetch", "emitter-joined")).length === 3,
      "emitter's socketsJoin applied on every node");
    const joined = outsiders.map((s) => next(s, "after-join"));
    emitter.to("emitter-joined").emit("after-join", 1);
    assert.deepEqual(await Promise.all(joined), [1, 1, 1]);
    assert.deepEqual(wrong, [[], [], []]);
  } finally {
    await redisClient.quit();
  }
});

test("sockeye emit (the Rust emitter) reaches rooms on Sockeye and Node nodes", T, async () => {
  const room = "rust-emitter-room";
  const members = await Promise.all(names.map((n) => on(n, { room })));
  const got = members.map((s) => next(s, "from-rust"));
  await withTimeout(run(sockeyeBin(), ["emit", "--redis-url", redisUrl, "--to", room, "from-rust",
    '{"via":"rust"}'], { timeout: TIMEOUT }), "sockeye emit");
  assert.deepEqual(await Promise.all(got), names.map(() => ({ via: "rust" })));
});

test("Redis stops and starts again: local delivery goes on, cross-node delivery resumes, nothing sent after recovery is lost", { timeout: 300_000 }, async (t) => {
  // Redis is back for whatever follows, even when this test fails while it is down.
  t.after(async () => {
    if (!redis.running) await redis.start();
  });
  const room = "outage";
  const receivers = Object.fromEntries(
    await Promise.all(names.map(async (n) => [n, await on(n, { room })])));
  const senders = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await on(n)])));

  await redis.stop();
  // While Redis is away, each node still delivers to its own sockets.
  for (const n of names) {
    const got = next(receivers[n], "during", `local delivery on ${n} during the outage`);
    await call(senders[n], "local", "during", n);
    assert.equal(await got, n);
  }
  // A room broadcast still reaches the sender's own node.
  const own = next(receivers.a, "during-room");
  await call(senders.a, "to", room, "during-room", "a");
  assert.equal(await own, "a");
  // Requests to the other nodes fail cleanly instead of hanging.
  const fetched = await call(senders.a, "fetch", room);
  assert.match(fetched.error, /cluster link is down|timeout reached/, JSON.stringify(fetched));
  const asked = await call(senders.b, "sse", "hello", "x");
  assert.match(asked.err, /cluster link is down|timeout reached/, JSON.stringify(asked));

  await redis.start();
  // Cross-node delivery resumes by itself: probe from each node until every other
  // node's receiver hears it.
  for (const from of names) {
    for (const to of names.filter((n) => n !== from)) {
      let n = 0;
      await until(async () => {
        const tag = `${from}-${to}-${n++}`;
        const heard = new Promise((resolve) => {
          const onProbe = (t) => { if (t === tag) { receivers[to].off("probe", onProbe); resolve(true); } };
          receivers[to].on("probe", onProbe);
          setTimeout(() => { receivers[to].off("probe", onProbe); resolve(false); }, 500);
        });
        await call(senders[from], "to", room, "probe", tag);
        return heard;
      }, `${from} -> ${to} after the restart`, TIMEOUT * 4);
    }
  }
  // After recovery: 50 messages from each node, all delivered everywhere, in order.
  const seen = Object.fromEntries(names.map((n) => [n, collect(receivers[n], "after")]));
  for (const from of names) {
    for (let i = 0; i < 50; i++) await call(senders[from], "to", room, "after", `${from}${i}`);
  }
  const expected = (from) => Array.from({ length: 50 }, (_, i) => `${from}${i}`);
  await until(() => names.every((n) => seen[n].length >= 150), "150 messages on every node");
  for (const n of names) {
    for (const from of names) {
      assert.deepEqual(seen[n].filter((m) => m.startsWith(from)), expected(from), `${from} -> ${n}`);
    }
    assert.equal(seen[n].length, 150);
  }
  for (const node of Object.values(nodes)) {
    assert.equal(node.child.exitCode, null, `${node.name} still running`);
  }
});

test("a node refuses to start when Redis is unreachable, with a clear error", T, async () => {
  // A port where connections are refused, and that nobody can bind meanwhile.
  const port = await refusedPort();
  const failed = await run(sockeyeBin(), ["--port", "0", "--redis-url", `redis://127.0.0.1:${port}/`],
    { timeout: TIMEOUT }).then(() => null, (e) => e);
  assert.ok(failed, "sockeye exited non-zero");
  assert.match(failed.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\//);
});
