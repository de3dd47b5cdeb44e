// One cluster on the Redis Streams adapter: two Sockeye nodes (a, b) and one Node
// socket.io 4.8 node with @socket.io/redis-streams-adapter 0.3 (c), on one real Redis,
// official socket.io-client clients on each. Every operation of the classic suite
// (../cluster/cluster.test.mjs) is sent from each node and checked on every node; then
// the stream itself (entries as the Node adapter writes them), the Rust StreamsEmitter,
// and link blips: the Sockeye nodes' connections killed from Redis, and Redis paused.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { createClient } from "redis";
import {
  Clients, startRedis, startNode, stop, call, next, collect, until, barrier,
  redisClientOptions, TIMEOUT, TEST_TIMEOUT,
} from "../cluster/harness.mjs";

let redisUrl, redis, admin;
const nodes = {};
const names = ["a", "b", "c"];
const clients = new Clients(nodes);
const T = { timeout: TEST_TIMEOUT };
const STREAMS = ["--adapter", "streams"];

const on = (name, auth = {}) => clients.on(name, auth);
const closeAll = () => clients.closeAll();

before(async () => {
  redis = await startRedis();
  redisUrl = redis.url;
  admin = createClient(redisClientOptions(redisUrl));
  admin.on("error", () => {});
  await admin.connect();
  const [a, b, c] = await Promise.all([
    startNode("sockeye", "a", redisUrl, STREAMS),
    startNode("sockeye", "b", redisUrl, STREAMS),
    startNode("node", "c", redisUrl, STREAMS),
  ]);
  Object.assign(nodes, { a, b, c });
});

afterEach(closeAll);

after(async () => {
  closeAll();
  await admin?.quit().catch(() => {});
  await Promise.all(Object.values(nodes).map((n) => stop(n)));
  await redis?.close();
});

/** The entries of the stream `socket.io` whose broadcast is `event`, as `[uid, args]`, in order. */
async function streamBroadcasts(event) {
  const entries = await admin.xRange("socket.io", "-", "+");
  return entries
    .filter((e) => e.message.type === "3" && e.message.data.startsWith("{"))
    .map((e) => [e.message.uid, JSON.parse(e.message.data).packet.data])
    .filter(([, data]) => data[0] === event)
    .map(([uid, data]) => [uid, data[1]]);
}

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
    await call(from, "to", room, "news", { from: sender, n: 1, bin: undefined });
    assert.deepEqual(await Promise.all(got), names.map(() => ({ from: sender, n: 1 })));
    for (const s of outside) await call(s, "join", room);
    await barrier(from, outside, room);
    assert.deepEqual(wrong, [[], [], []]);
  });

  test(`binary arguments from ${sender} reach every node intact`, T, async () => {
    const room = `bin-${sender}`;
    const inside = await Promise.all(names.map((n) => on(n, { room })));
    const from = await on(sender);
    const got = inside.map((s, i) => next(s, "file", `file at ${names[i]}`));
    await call(from, "to", room, "file", { name: "x", bytes: Buffer.from([0, 1, 2, 255]) });
    for (const file of await Promise.all(got)) {
      assert.equal(file.name, "x");
      assert.deepEqual([...new Uint8Array(file.bytes)], [0, 1, 2, 255]);
    }
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
      assert.deepEqual(s.handshake.auth, { room, user: `user-${names[i]}` });
      assert.equal(s.handshake.query.EIO, "4");
      assert.equal(typeof s.handshake.issued, "number");
      assert.equal(s.handshake.headers.host, new URL(nodes[names[i]].url).host);
    });
    assert.equal(list.length, 3);
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
    closeAll();
  }
});

test("Sockeye's stream entries are the Node adapter's: same XADD (MAXLEN ~ 10000), fields, type as text, JSON data", T, async () => {
  const room = "entry-format";
  const member = await on("c", { room });
  // MONITOR shows each command as Redis received it: the trimming arguments included.
  // node-redis 4 has no MONITOR: a raw connection speaks it (inline command, status lines).
  const monitor = net.createConnection(redis.socket);
  const xadds = [];
  let buffered = "";
  let monitoring = false;
  monitor.on("data", (chunk) => {
    buffered += chunk.toString("latin1");
    const lines = buffered.split("\r\n");
    buffered = lines.pop();
    for (const line of lines) {
      if (line === "+OK") monitoring = true;
      if (/"XADD"/i.test(line) && line.includes("format")) xadds.push(line);
    }
  });
  await new Promise((resolve, reject) => monitor.once("connect", resolve).once("error", reject));
  monitor.write("MONITOR\r\n");
  await until(() => monitoring, "MONITOR on");
  try {
    for (const sender of ["a", "c"]) {
      const from = await on(sender);
      const got = next(member, "format", `format from ${sender}`);
      await call(from, "to", room, "format", sender);
      assert.equal(await got, sender);
    }
    await until(() => xadds.length >= 2, "both XADDs seen by MONITOR");
  } finally {
    monitor.destroy();
  }
  // `<time> [0 unix:...] "XADD" "socket.io" "MAXLEN" "~" "10000" "*" "uid" "..." ...`
  const head = (line) => line.slice(line.indexOf('"XADD"')).split('" "').slice(0, 7).join('" "');
  assert.equal(head(xadds[0]), head(xadds[1]), xadds.join("\n"));
  assert.match(xadds[0], /"XADD" "socket\.io" "MAXLEN" "~" "10000" "\*" "uid" "[0-9a-f]{16}" "nsp" "\/" "type" "3" "data" /i);
  const entries = (await admin.xRange("socket.io", "-", "+")).filter((e) => {
    if (e.message.type !== "3" || !e.message.data.startsWith("{")) return false;
    return JSON.parse(e.message.data).packet.data[0] === "format";
  });
  assert.equal(entries.length, 2, JSON.stringify(entries));
  const [sockeye, node] = entries.map((e) => e.message);
  assert.deepEqual(Object.keys(sockeye), Object.keys(node));
  const [s, n] = [JSON.parse(sockeye.data), JSON.parse(node.data)];
  assert.deepEqual(s.packet, { type: 2, data: ["format", "a"] });
  assert.deepEqual(n.packet, { type: 2, data: ["format", "c"] });
  assert.deepEqual(s.opts, n.opts);
});

test("the Rust StreamsEmitter reaches rooms on Sockeye and Node nodes, in the stream as a Node node writes it", T, async () => {
  const room = "rust-streams-emitter";
  const members = await Promise.all(names.map((n) => on(n, { room })));
  const outsiders = await Promise.all(names.map((n) => on(n)));
  const wrong = outsiders.map((s) => collect(s, "from-rust"));
  const got = members.map((s) => next(s, "from-rust"));
  const id = await call(await on("b"), "streams-emit", room, "from-rust", { via: "rust" });
  assert.match(id, /^\d+-\d+$/);
  assert.deepEqual(await Promise.all(got), names.map(() => ({ via: "rust" })));
  const [entry] = await admin.xRange("socket.io", id, id);
  assert.equal(entry.message.uid, "emitter");
  for (const s of outsiders) await call(s, "join", room);
  await barrier(members[0], outsiders, room);
  assert.deepEqual(wrong, [[], [], []]);
});

/**
 * Broadcasts `count` messages of `event` to a room from each sender node, in batches that
 * `disturb(send)` interleaves with its disturbance (`send(from, to)` sends numbers
 * [from, to) from every sender), then checks every receiver: from each other node,
 * exactly that node's entries in the stream (nothing Redis accepted is lost, nothing
 * comes twice, all in order); from its own node, everything sent (local delivery never
 * waits for Redis).
 */
async function sendThrough(event, senderNames, count, disturb) {
  const room = `room-${event}`;
  const receivers = Object.fromEntries(
    await Promise.all(names.map(async (n) => [n, await on(n, { room })])));
  const seen = Object.fromEntries(names.map((n) => [n, collect(receivers[n], event)]));
  const senders = await Promise.all(senderNames.map((n) => on(n)));
  const send = (from, to) => Promise.all(senders.map(async (s, i) => {
    for (let k = from; k < to; k++) await call(s, "to", room, event, `${senderNames[i]}${k}`);
  }));
  await disturb(send);
  // A marker from every sender once the link is back: everything before it has arrived.
  for (const s of senders) await barrier(s, Object.values(receivers), room);
  const accepted = await streamBroadcasts(event);
  for (const n of names) {
    for (const from of senderNames) {
      const got = seen[n].filter((m) => m.startsWith(from));
      if (from === n) {
        assert.deepEqual(got, Array.from({ length: count }, (_, k) => `${from}${k}`), `${from} -> ${n} (local)`);
        continue;
      }
      const inStream = accepted.map(([, p]) => p).filter((p) => p.startsWith(from));
      assert.deepEqual(got, inStream, `${from} -> ${n}: the stream's entries, once each, in order`);
    }
  }
  return accepted;
}

/** The ids of the Sockeye stream readers' connections (named `sockeye-streams-reader-*`). */
async function readers() {
  const list = await admin.sendCommand(["CLIENT", "LIST"]);
  return list.split("\n").filter((l) => / name=sockeye-streams-reader/.test(l))
    .map((line) => /(?:^| )id=(\d+)/.exec(line)[1]);
}

test("a killed Redis connection loses nothing: the Sockeye nodes' reader resumes after the last entry it read", { timeout: 180_000 }, async () => {
  let kills = 0;
  const accepted = await sendThrough("blip", ["c", "a"], 30, async (send) => {
    // Kill both Sockeye nodes' stream readers, ten times, broadcasting right after each
    // kill: the broadcasts land while the readers reconnect, a gap that only resuming
    // from the last id read covers.
    for (let k = 0; k < 30; k += 3) {
      const ids = await until(async () => {
        const ids = await readers();
        return ids.length === 2 && ids;
      }, "both readers connected");
      for (const id of ids) kills += await admin.sendCommand(["CLIENT", "KILL", "ID", id]);
      await send(k, k + 3);
    }
  });
  assert.equal(kills, 20);
  // Node's broadcasts all reached the stream.
  assert.equal(accepted.filter(([, p]) => p.startsWith("c")).length, 30);
});

test("a paused Redis loses nothing it accepted: entries queue and arrive in order once it runs again", { timeout: 180_000 }, async (t) => {
  const child = redis.proc.child;
  t.after(() => child.kill("SIGCONT"));
  await sendThrough("pause", ["c", "b"], 20, async (send) => {
    await send(0, 5);
    child.kill("SIGSTOP");
    await send(5, 15);
    // Longer than a blocked XREAD's grace: the Sockeye readers give up and reconnect.
    await new Promise((r) => setTimeout(r, 9_000));
    child.kill("SIGCONT");
    await send(15, 20);
  });
});
