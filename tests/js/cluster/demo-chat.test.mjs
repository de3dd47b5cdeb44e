// The demo's chat across two `sockeye --redis-url` processes on one real Redis: users
// on different nodes share rooms, the online list, private messages and names; a push
// to one node reaches the push pages on the other.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { once } from "node:events";
import {
  freePort, startRedis, start, stop, next, until, withTimeout, connect, root, TIMEOUT,
} from "./harness.mjs";

let redis;
const servers = [];
const opened = [];

async function user(server, name) {
  const socket = connect(`${server.url}/chat`, { auth: { name }, transports: ["websocket"],
    reconnection: false, forceNew: true });
  opened.push(socket);
  const online = [];
  socket.on("online", (names) => online.push(names));
  await withTimeout(Promise.race([once(socket, "connect"),
    once(socket, "connect_error").then(([e]) => { throw e; })]), `${name} joins the chat`);
  return { socket, online };
}

before(async () => {
  const port = await freePort();
  redis = await startRedis(port);
  const bin = process.env.SOCKEYE_BIN ?? path.join(root, "target/debug/sockeye");
  for (const label of ["one", "two"]) {
    const { child, match } = await start(bin, ["--port", "0", "--log-level", "warn",
      "--static-dir", path.join(root, "www"), "--redis-url", `redis://127.0.0.1:${port}/`],
    /listening on (\S+)/, `sockeye:${label}`);
    servers.push({ child, url: `http://${match[1]}` });
  }
});

after(async () => {
  for (const s of opened) s.disconnect();
  await Promise.all(servers.map((s) => stop(s.child)));
  if (redis) await stop(redis);
});

test("two users on two sockeye processes chat in the lobby, see each other online, and message privately", async () => {
  const alice = await user(servers[0], "alice");
  const bob = await user(servers[1], "bob");
  await until(() => alice.online.some((n) => n.includes("alice") && n.includes("bob")),
    "alice sees bob online");
  await until(() => bob.online.some((n) => n.includes("alice") && n.includes("bob")),
    "bob sees alice online");

  const heard = next(bob.socket, "chat message");
  alice.socket.emit("chat message", "lobby", "hello from node one");
  assert.deepEqual(await heard, { room: "lobby", from: "alice", text: "hello from node one" });

  const whisper = next(bob.socket, "private");
  const echo = next(alice.socket, "private");
  alice.socket.emit("private", "bob", "just you");
  const message = { from: "alice", to: "bob", text: "just you" };
  assert.deepEqual(await whisper, message);
  assert.deepEqual(await echo, message);

  // A name is taken across the cluster, not only on its node.
  const clash = connect(`${servers[1].url}/chat`, { auth: { name: "alice" },
    transports: ["websocket"], reconnection: false, forceNew: true });
  opened.push(clash);
  const [err] = await withTimeout(once(clash, "connect_error"), "the clash is refused");
  assert.equal(err.message, "that name is taken");

  // bob leaves: alice, on the other node, sees the list shrink.
  const left = next(alice.socket, "system");
  bob.socket.disconnect();
  assert.equal(await left, "bob left");
  await until(() => alice.online.some((n) => n.length === 1 && n[0] === "alice"),
    "alice alone online");
});

test("a push to one node reaches the push pages connected to the other", async () => {
  const page = connect(`${servers[1].url}/dcenter`, { transports: ["websocket"],
    reconnection: false, forceNew: true });
  opened.push(page);
  await withTimeout(once(page, "connect"), "push page connects");
  const pushed = next(page, "dcenter");
  const res = await fetch(`${servers[0].url}/push?message=across`, { signal: AbortSignal.timeout(TIMEOUT) });
  assert.equal(res.status, 200);
  assert.deepEqual(await pushed, { message: "across" });
});
