// The admin UI's /admin namespace across two `sockeye --admin-ui --redis-url` nodes on
// one real Redis: an admin logged in to node one sees node two's client in
// `all_sockets`, both nodes' `server_stats`, the client's events, and disconnects it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startRedis, startServerProcess, stop, withTimeout, root, sockeyeBin, TEST_TIMEOUT } from "./harness.mjs";
import { waitForEvent } from "../lib/wait.mjs";
import { PASSWORD, USER, adminSocket, chatClient } from "../admin/lib.mjs";

let redis, admin, ada;
const servers = [];

before(async () => {
  redis = await startRedis();
  for (const label of ["one", "two"]) {
    servers.push(await startServerProcess(sockeyeBin(), ["--port", "0", "--log-level", "warn",
      "--static-dir", path.join(root, "www"), "--redis-url", redis.url,
      "--admin-ui", `${USER}:${PASSWORD}`, "--cors-origins", "http://127.0.0.1:9"], `sockeye:${label}`));
  }
});

after(async () => {
  admin?.disconnect();
  ada?.disconnect();
  await Promise.all(servers.map((s) => stop(s)));
  await redis?.close();
});

test("an admin on node one sees and disconnects a client of node two", { timeout: TEST_TIMEOUT }, async () => {
  ada = await chatClient(servers[1].url, "ada", "kitchen");
  admin = adminSocket(servers[0].url, { username: USER, password: PASSWORD });
  const seen = [];
  admin.onAny((event, ...args) => seen.push([event, ...args]));
  const [sockets] = await waitForEvent(admin, "all_sockets", { what: "all_sockets" });
  const found = sockets.find((s) => s.id === ada.id);
  assert.ok(found, `node two's ${ada.id} in ${JSON.stringify(sockets.map((s) => s.id))}`);
  assert.deepEqual([...found.rooms].sort(), [ada.id, "kitchen", "lobby"].sort());
  assert.equal(found.nsp, "/chat");

  // One server_stats line per node, each its own serverId.
  await withTimeout((async () => {
    while (new Set(seen.filter(([e]) => e === "server_stats").map(([, s]) => s.serverId)).size < 2) {
      await waitForEvent(admin, "server_stats", { what: "server_stats" });
    }
  })(), "server_stats from both nodes", 10_000);

  const received = waitForEvent(admin, "event_received", { what: "event_received from node two",
    filter: (nsp, id, args) => id === ada.id && args[0] === "hi" });
  ada.emit("hi", 1);
  assert.deepEqual((await received).slice(0, 3), ["/chat", ada.id, ["hi", 1]]);

  const gone = waitForEvent(ada, "disconnect", { what: "ada disconnected from node one's admin" });
  admin.emit("_disconnect", "/chat", false, ada.id);
  assert.equal((await gone)[0], "io server disconnect");
});
