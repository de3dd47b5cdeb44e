// The Node socket.io 4.8 node of the cluster suite, with @socket.io/redis-adapter 8.3:
// the contract of tests/fixtures/src/bin/cluster_node.rs (read its doc comment).
//   node node-server.mjs --redis-url redis://127.0.0.1:PORT/ --name c --port 0
//   node node-server.mjs --adapter sharded --redis-cluster redis://127.0.0.1:P1/,... --name c
// (--redis-url may also be unix:///path/to/redis.sock, as the suite's own Redis is.)
// --adapter streams: @socket.io/redis-streams-adapter 0.3 instead (../cluster-streams/);
// --recovery: connection state recovery on.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";
// node-redis 5.x for the Redis Cluster: 4.x loses sharded subscriptions when a master
// restarts (its resubscription fails with CROSSSLOT, node-redis issue 2902).
import { createCluster } from "redis5";
import { redisClientOptions } from "../lib/redis.mjs";

const flag = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const url = flag("--redis-url", "redis://127.0.0.1:6379/");
const node = flag("--name", "node");
const port = Number(flag("--port", "0"));

// --adapter sharded --redis-cluster redis://h:p/,...: createShardedAdapter on a Redis
// Cluster (node-redis cluster clients) instead of createAdapter on one Redis.
const sharded = flag("--adapter", "classic") === "sharded";
const pubClient = sharded
  ? createCluster({ rootNodes: flag("--redis-cluster", "").split(",").map((u) => ({ url: u })) })
  : createClient(redisClientOptions(url));
const subClient = pubClient.duplicate();
// Without listeners, node-redis throws on connection errors; the suite stops Redis.
for (const c of [pubClient, subClient]) c.on("error", (e) => console.error(`redis: ${e.message}`));
await Promise.all([pubClient.connect(), subClient.connect()]);
if (sharded) {
  // node-redis 5.12's cluster closes a master's pub/sub client when its last sharded
  // channel is unsubscribed; two such SUNSUBSCRIBEs at once (a socket leaving two rooms
  // of one master) close it twice, and the second rejects with ClientClosedError, which
  // the adapter does not catch. That one is harmless: log it instead of crashing.
  process.on("unhandledRejection", (e) => {
    if (e?.constructor?.name !== "ClientClosedError") throw e;
    console.error(`redis: ${e.message} (a double close of a sharded pub/sub client)`);
  });
}

const http = createServer();
const kind = flag("--adapter", "classic");
const adapter = kind === "streams" ? createStreamsAdapter(pubClient)
  : (sharded ? createShardedAdapter : createAdapter)(pubClient, subClient);
const io = new Server(http, {
  cors: { origin: "*" },
  adapter,
  ...(process.argv.includes("--recovery")
    ? { connectionStateRecovery: { maxDisconnectionDuration: 60_000, skipMiddlewares: true } } : {}),
});

io.on("hello", (payload, cb) => cb({ node, payload }));
io.on("notify", (payload) => io.local.emit("notified", { node, payload }));

io.on("connection", (socket) => {
  const auth = socket.handshake.auth ?? {};
  // A recovered session keeps its data and rooms.
  if (!socket.recovered) {
    socket.data = { node, user: auth.user ?? null };
    if (auth.room) socket.join(auth.room);
  }
  socket.on("whoami", (ack) => ack({ node, id: socket.id, rooms: [...socket.rooms].sort(), data: socket.data, recovered: socket.recovered }));
  socket.on("join", (room, ack) => { socket.join(room); ack?.(true); });
  socket.on("to", (room, event, payload, ack) => { io.to(room).emit(event, payload); ack?.(true); });
  socket.on("to-with-ack", (room, event, payload, ack) => {
    io.to(room).timeout(3000).emit(event, payload, (err, responses) =>
      ack({ err: err ? err.message : null, responses }));
  });
  socket.on("except", (room, event, payload, ack) => { io.except(room).emit(event, payload); ack?.(true); });
  socket.on("local", (event, payload, ack) => { io.local.emit(event, payload); ack?.(true); });
  socket.on("sockets-join", (target, room, ack) => { io.in(target).socketsJoin(room); ack?.(true); });
  socket.on("sockets-leave", (target, room, ack) => { io.in(target).socketsLeave(room); ack?.(true); });
  socket.on("disconnect-sockets", (target, ack) => { io.in(target).disconnectSockets(); ack?.(true); });
  socket.on("fetch", async (target, ack) => {
    try {
      const sockets = await io.in(target).fetchSockets();
      ack(sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data, handshake: s.handshake })));
    } catch (e) {
      ack({ error: e.message });
    }
  });
  socket.on("rooms", async (ack) => {
    try {
      ack([...(await io.of("/").adapter.allRooms())].sort());
    } catch (e) {
      ack({ error: e.message });
    }
  });
  socket.on("servers", async (ack) => ack(await io.of("/").adapter.serverCount()));
  // The adapter's requestsTimeout (5 s) bounds the wait.
  socket.on("sse", (event, payload, ack) => {
    io.serverSideEmit(event, payload, (err, responses) =>
      ack({ err: err ? err.message : null, responses }));
  });
  socket.on("notify", (payload, ack) => { io.serverSideEmit("notify", payload); ack?.(true); });
});

http.listen(port, "127.0.0.1", () => console.log(`listening on 127.0.0.1:${http.address().port}`));
const stop = () => io.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
