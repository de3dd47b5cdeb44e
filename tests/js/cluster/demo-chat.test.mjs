// The demo's chat across two `sockeye --redis-url` processes on one real Redis: users
// on different nodes share rooms, the online list, private messages and names; a push
// to one node reaches the push pages on the other. Once with each single-Redis adapter
// (`--redis-adapter classic` and `streams`); the sharded one is in ../sharded/.
// Each test has its own timeout; its clients are closed after it (afterEach), passed or not.
import { describe, test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { once } from "node:events";
import { createClient } from "redis";
import { redisClientOptions } from "../lib/redis.mjs";
import {
  Clients, startRedis, startServerProcess, stop, next, until, withTimeout, connect, root,
  sockeyeBin, TIMEOUT, TEST_TIMEOUT,
} from "./harness.mjs";

const T = { timeout: TEST_TIMEOUT };

for (const adapter of ["classic", "streams"]) {
  describe(`--redis-adapter ${adapter}`, () => {
    let redis;
    const servers = [];
    const clients = new Clients({});

    async function user(server, name) {
      const socket = clients.add(connect(`${server.url}/chat`, { auth: { name }, transports: ["websocket"],
        reconnection: false, forceNew: true }));
      const online = [];
      socket.on("online", (names) => online.push(names));
      await withTimeout(Promise.race([once(socket, "connect"),
        once(socket, "connect_error").then(([e]) => { throw e; })]), `${name} joins the chat`);
      return { socket, online };
    }

    before(async () => {
      redis = await startRedis();
      for (const label of ["one", "two"]) {
        servers.push(await startServerProcess(sockeyeBin(), ["--port", "0", "--log-level", "warn",
          "--static-dir", path.join(root, "www"), "--redis-url", redis.url, "--redis-adapter", adapter], `sockeye:${adapter}:${label}`));
      }
    });

    afterEach(() => clients.closeAll());

    after(async () => {
      clients.closeAll();
      await Promise.all(servers.map((s) => stop(s)));
      await redis?.close();
    });

    test("two users on two sockeye processes chat in the lobby, see each other online, and message privately", T, async () => {
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
      const clash = clients.add(connect(`${servers[1].url}/chat`, { auth: { name: "alice" },
        transports: ["websocket"], reconnection: false, forceNew: true }));
      const [err] = await withTimeout(once(clash, "connect_error"), "the clash is refused");
      assert.equal(err.message, "that name is taken");

      // bob leaves: alice, on the other node, sees the list shrink.
      const left = next(alice.socket, "system");
      bob.socket.disconnect();
      assert.equal(await left, "bob left");
      await until(() => alice.online.some((n) => n.length === 1 && n[0] === "alice"),
        "alice alone online");
    });

    test("a push to one node reaches the push pages connected to the other", T, async () => {
      const page = clients.add(connect(`${servers[1].url}/dcenter`, { transports: ["websocket"],
        reconnection: false, forceNew: true }));
      await withTimeout(once(page, "connect"), "push page connects");
      const pushed = next(page, "dcenter");
      const res = await fetch(`${servers[0].url}/push?message=across`, { signal: AbortSignal.timeout(TIMEOUT) });
      assert.equal(res.status, 200);
      assert.deepEqual(await pushed, { message: "across" });
    });

    test("the nodes run the adapter --redis-adapter names (the streams one writes the stream)", T, async () => {
      const admin = createClient(redisClientOptions(redis.url));
      await admin.connect();
      try {
        const type = await admin.type("socket.io");
        assert.equal(type, adapter === "streams" ? "stream" : "none");
        if (adapter === "streams") assert.ok(await admin.xLen("socket.io") > 0, "entries in the stream");
      } finally {
        await admin.quit();
      }
    });
  });
}
