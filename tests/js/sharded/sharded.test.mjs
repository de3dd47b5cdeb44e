// The sharded adapter on a real Redis Cluster (three masters, ../lib/redis-cluster.mjs):
// two Sockeye nodes (a, b: ShardedRedisAdapter) and one Node socket.io 4.8 node with
// createShardedAdapter of @socket.io/redis-adapter 8.3 and node-redis cluster clients
// (c). Every operation is sent from each node and checked on every node; then masters
// are stopped and started again while the nodes run.
//
// Dynamic subscriptions: a node subscribes to a room's channel (`socket.io#/#room#`)
// when the room gets its first local socket, and that SSUBSCRIBE is in flight while
// the test goes on. So before a broadcast to a room, the test waits until the room's
// master counts the expected subscribers (PUBSUB SHARDNUMSUB): no race, and a check
// that both kinds of node name and subscribe the same channels.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import {
  Clients, startServerProcess, stop, call, next, collect, until, connect, withTimeout, TIMEOUT, TEST_TIMEOUT,
} from "../cluster/harness.mjs";
import { once } from "node:events";
import { JS_DIR, sockeyeBinary } from "../lib/bins.mjs";
import { RedisCluster } from "../lib/redis-cluster.mjs";

let cluster;
const nodes = {};
const names = ["a", "b", "c"];
const clients = new Clients(nodes);
const T = { timeout: TEST_TIMEOUT };

const on = (name, auth = {}) => clients.on(name, auth);
const closeAll = () => clients.closeAll();

/** A node of the suite: `sockeye` (cluster_node) or `node` (node-server.mjs), sharded. */
async function startNode(kind, name) {
  const args = ["--adapter", "sharded", "--redis-cluster", cluster.seeds, "--name", name, "--port", "0"];
  const [command, argv] = kind === "node"
    ? [process.execPath, [path.join(JS_DIR, "cluster", "node-server.mjs"), ...args]]
    : [sockeyeBinary("cluster_node"), args];
  const proc = await startServerProcess(command, argv, `${kind}:${name}`);
  return Object.assign(proc, { kind, name });
}

/** The sharded channel of a room of namespace `/`. */
const roomChannel = (room) => `socket.io#/#${room}#`;

/** How many nodes the master of `channel` counts as subscribed to it. */
async function subscribers(channel) {
  const master = await cluster.masterOf(channel);
  const out = await master.cli("pubsub", "shardnumsub", channel);
  return Number(out.trim().split("\n")[1]);
}

/** Waits until `n` nodes are subscribed to `room`'s channel. */
function subscribedBy(room, n) {
  return until(async () => (await subscribers(roomChannel(room)).catch(() => -1)) === n,
    `${n} nodes subscribed to ${roomChannel(room)}`);
}

/** Like ../cluster/harness.mjs's barrier, once the marker room's channel is subscribed. */
async function barrier(sender, receivers, room, nodesWithRoom = 3) {
  await subscribedBy(room, nodesWithRoom);
  const marker = `m${Math.random().toString(36).slice(2)}`;
  const seen = receivers.map((r) => next(r, "marker", `marker at ${r.id}`));
  await call(sender, "to", room, "marker", marker);
  await Promise.all(seen);
}

before(async () => {
  cluster = await RedisCluster.start(3);
  const [a, b, c] = await Promise.all([
    startNode("sockeye", "a"),
    startNode("sockeye", "b"),
    startNode("node", "c"),
  ]);
  Object.assign(nodes, { a, b, c });
});

afterEach(closeAll);

after(async () => {
  closeAll();
  await Promise.all(Object.values(nodes).map((n) => stop(n)));
  await cluster?.close();
});

test("every node counts the three nodes of the cluster (PUBSUB SHARDNUMSUB)", T, async () => {
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
    await subscribedBy(room, 3);
    const got = inside.map((s, i) => next(s, "news", `news at ${names[i]}`));
    await call(from, "to", room, "news", { from: sender, n: 1 });
    assert.deepEqual(await Promise.all(got), names.map(() => ({ from: sender, n: 1 })));
    for (const s of outside) await call(s, "join", room);
    await barrier(from, outside, room);
    assert.deepEqual(wrong, [[], [], []]);
  });

  test(`a broadcast with acks from ${sender} collects the answers of clients on every node`, T, async () => {
    const room = `acks-${sender}`;
    const members = await Promise.all(names.map((n) => on(n, { room })));
    members.forEach((m, i) => m.on("question", (payload, cb) => cb({ node: names[i], payload })));
    const from = await on(sender);
    // A broadcast with acks goes on the namespace's channel: no room subscription to wait for.
    const answer = await call(from, "to-with-ack", room, "question", sender);
    assert.equal(answer.err, null);
    assert.deepEqual(answer.responses.map((r) => r.node).sort(), names);
    for (const r of answer.responses) assert.equal(r.payload, sender);
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
    // Each node subscribed to the new room's channel when its sockets joined it.
    await subscribedBy(target, 3);
    const got = members.map((s) => next(s, "joined-news"));
    await call(from, "to", target, "joined-news", sender);
    assert.deepEqual(await Promise.all(got), [sender, sender, sender]);
    await call(from, "sockets-leave", source, target);
    await until(async () => {
      const list = await call(from, "fetch", target);
      return Array.isArray(list) && list.length === 0;
    }, `${target} empty`);
    // ... and unsubscribed once the room had no local socket left.
    await subscribedBy(target, 0);
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
      assert.deepEqual(s.handshake.auth, { room, user: `user-${names[i]}` });
      assert.equal(s.handshake.query.EIO, "4");
      assert.equal(typeof s.handshake.issued, "number");
      assert.equal(s.handshake.headers.host, new URL(nodes[names[i]].url).host);
    });
    assert.equal(list.length, 3);
    // allRooms is not part of the sharded protocol: a clear error on either kind of node.
    const rooms = await call(from, "rooms");
    assert.equal(typeof rooms.error, "string", JSON.stringify(rooms));
  });

  test(`serverSideEmit from ${sender}: with an ack every other node answers, without one each hears it`, T, async () => {
    const from = await on(sender);
    const answer = await call(from, "sse", "hello", { from: sender });
    assert.equal(answer.err, null);
    const others = names.filter((n) => n !== sender);
    assert.deepEqual(answer.responses.map((r) => r.node).sort(), others, JSON.stringify(answer.responses));
    for (const r of answer.responses) assert.deepEqual(r.payload, { from: sender });
    const listeners = await Promise.all(others.map((n) => on(n)));
    const heard = listeners.map((s) => next(s, "notified"));
    await call(from, "notify", sender);
    assert.deepEqual(
      (await Promise.all(heard)).map((h) => [h.node, h.payload]),
      others.map((n) => [n, sender]));
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
    await barrier(from, elsewhere, room, 2);
    assert.deepEqual(wrong, [[], []]);
    closeAll();
  }
});

test("the demo binary joins the Redis Cluster with --redis-adapter sharded: its chat crosses nodes", T, async (t) => {
  const demos = [];
  t.after(() => Promise.all(demos.map((d) => stop(d))));
  for (const label of ["one", "two"]) {
    demos.push(await startServerProcess(sockeyeBinary("sockeye"), ["--port", "0", "--log-level", "warn",
      "--redis-adapter", "sharded", "--redis-url", cluster.seeds], `sockeye:sharded:${label}`));
  }
  const chat = async (demo, name) => {
    const socket = connect(`${demo.url}/chat`, { auth: { name }, transports: ["websocket"],
      reconnection: false, forceNew: true });
    t.after(() => socket.close());
    await withTimeout(Promise.race([once(socket, "connect"),
      once(socket, "connect_error").then(([e]) => { throw e; })]), `${name} joins the chat`);
    return socket;
  };
  const alice = await chat(demos[0], "alice");
  const bob = await chat(demos[1], "bob");
  const heard = [];
  bob.on("chat message", (m) => heard.push(m));
  // The lobby's channel is subscribed when its first local socket joins, in the
  // background: say it again until bob, on the other node, hears it.
  await until(() => {
    if (heard.length > 0) return true;
    alice.emit("chat message", "lobby", "across the cluster");
    return false;
  }, "bob hears alice across the Redis Cluster");
  assert.deepEqual(heard[0], { room: "lobby", from: "alice", text: "across the cluster" });
});

/** Room names whose channels live on `master` (or, with `not`, on any other one). */
async function roomsOn(master, prefix, count, not = false) {
  const found = [];
  for (let i = 0; found.length < count; i++) {
    const room = `${prefix}-${i}`;
    if (((await cluster.masterOf(roomChannel(room))) === master) !== not) found.push(room);
  }
  return found;
}

/** Broadcasts from every node to `room` until each other node's member hears it. */
async function everyWayThrough(room, members, senders) {
  for (const from of names) {
    for (const to of names.filter((n) => n !== from)) {
      let n = 0;
      await until(async () => {
        const tag = `${room}-${from}-${to}-${n++}`;
        const heard = new Promise((resolve) => {
          const onProbe = (t) => { if (t === tag) { members[to].off("probe", onProbe); resolve(true); } };
          members[to].on("probe", onProbe);
          setTimeout(() => { members[to].off("probe", onProbe); resolve(false); }, 500);
        });
        await call(senders[from], "to", room, "probe", tag);
        return heard;
      }, `${room}: ${from} -> ${to}`, TIMEOUT * 4);
    }
  }
}

test("a master stops: the other masters' rooms keep working; it starts again: its rooms resume by themselves", { timeout: 300_000 }, async (t) => {
  // The namespace's own channel carries requests and acks: stop a master that does not
  // serve it, so the rooms elsewhere must keep working meanwhile.
  const main = await cluster.masterOf("socket.io#/#");
  const victim = cluster.nodes.find((n) => n !== main);
  t.after(async () => {
    if (!victim.running) await victim.start();
  });
  const [away] = await roomsOn(victim, "on-victim", 1);
  const [kept] = await roomsOn(victim, "elsewhere", 1, true);
  const members = {};
  const inKept = {};
  for (const n of names) {
    members[n] = await on(n, { room: away });
    inKept[n] = await on(n, { room: kept });
  }
  const senders = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await on(n)])));
  await subscribedBy(away, 3);
  await subscribedBy(kept, 3);
  await everyWayThrough(away, members, senders);

  await victim.stop();
  // The survivors notice, and keep serving their own slots.
  await until(async () => (await main.cli("cluster", "nodes")).includes("fail"), "the stopped master marked failed");
  await everyWayThrough(kept, inKept, senders);
  // A broadcast (without acks) to every socket still goes through the namespace's channel.
  const all = names.map((n) => next(inKept[n], "to-all"));
  await call(senders.c, "except", "nobody", "to-all", "c");
  assert.deepEqual(await Promise.all(all), ["c", "c", "c"]);

  await victim.start();
  await cluster.ready();
  // Nobody restarts the nodes: their clients reconnect to the master and subscribe again.
  await subscribedBy(away, 3);
  await everyWayThrough(away, members, senders);
  // And after recovery nothing is lost or reordered: 30 messages from each node.
  const seen = Object.fromEntries(names.map((n) => [n, collect(members[n], "after")]));
  for (const from of names) {
    for (let i = 0; i < 30; i++) await call(senders[from], "to", away, "after", `${from}${i}`);
  }
  await until(() => names.every((n) => seen[n].length >= 90), "90 messages on every node");
  for (const n of names) {
    for (const from of names) {
      assert.deepEqual(seen[n].filter((m) => m.startsWith(from)),
        Array.from({ length: 30 }, (_, i) => `${from}${i}`), `${from} -> ${n}`);
    }
    assert.equal(seen[n].length, 90);
  }
  for (const node of Object.values(nodes)) assert.equal(node.child.exitCode, null, `${node.name} still running`);
});

test("the master of the namespace's channel restarts: requests and broadcasts resume by themselves", { timeout: 300_000 }, async (t) => {
  const main = await cluster.masterOf("socket.io#/#");
  t.after(async () => {
    if (!main.running) await main.start();
  });
  await main.stop();
  await main.start();
  await cluster.ready();
  // fetchSockets and serverSideEmit travel on the namespace's channel and the nodes'
  // response channels: they work again once every node has subscribed again.
  for (const name of names) {
    const s = await on(name);
    await until(async () => (await call(s, "servers")) === 3, `${name} sees 3 servers again`);
  }
  const room = "after-main-restart";
  const members = await Promise.all(names.map((n) => on(n, { room, user: n })));
  for (const sender of names) {
    const from = await on(sender);
    const list = await until(async () => {
      const l = await call(from, "fetch", room);
      return Array.isArray(l) && l.length === 3 && l;
    }, `fetch from ${sender} after the restart`);
    assert.deepEqual(list.map((s) => s.id).sort(), members.map((m) => m.id).sort());
    const answer = await until(async () => {
      const a = await call(from, "sse", "hello", sender);
      return a.err === null && a;
    }, `serverSideEmit from ${sender} after the restart`);
    assert.equal(answer.responses.length, 2);
  }
});
