// The protocol-conformance server (see README.md in this folder) implemented with the
// official Node.js `engine.io` and `socket.io` packages. It exists to prove that the
// conformance tests are right: every test in this folder must pass against it. Sockeye's
// `conformance` fixture (`cargo run -p sockeye-fixtures --bin conformance`) implements
// the same contract.
//
//   PORT=3000 node reference-server.mjs   ->  prints "listening on 127.0.0.1:3000"
//
// Contract:
//   * 127.0.0.1, port from $PORT (default 3000; 0 picks a free port);
//   * pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000 bytes,
//     connectTimeout 1000 ms, CORS for any origin, connection state recovery off;
//   * /engine.io/ : a bare Engine.IO v4 endpoint that echoes every message back
//     (text as text, binary as binary);
//   * /socket.io/ : Socket.IO v5 with namespaces "/" and "/custom"; on connect the server
//     emits `auth` with the client's auth payload; `message` is answered with
//     `message-back` carrying the same arguments; `message-with-ack` is acknowledged
//     with the same arguments.

import { createServer } from "node:http";
import { Server as EngineServer } from "engine.io";
import { Server as SocketIoServer } from "socket.io";

const HOST = "127.0.0.1";
const port = Number.parseInt(process.env.PORT ?? "3000", 10);

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 1_000_000;
const CONNECT_TIMEOUT = 1_000;

// Anything outside /engine.io/ and /socket.io/ is a plain 404 (both Engine.IO
// attachments hand unmatched requests down to this listener).
const httpServer = createServer((req, res) => {
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("not found");
});

// ---- /engine.io/ : bare Engine.IO echo ----------------------------------------------

const engine = new EngineServer({
  pingInterval: PING_INTERVAL,
  pingTimeout: PING_TIMEOUT,
  maxHttpBufferSize: MAX_PAYLOAD,
  cors: { origin: "*" },
});
engine.attach(httpServer, { path: "/engine.io/" });

engine.on("connection", (socket) => {
  // `data` is a string for text packets and a Buffer for binary ones; sending it back
  // unchanged keeps the frame type.
  socket.on("message", (data) => socket.send(data));
});

// ---- /socket.io/ : Socket.IO with "/" and "/custom" -----------------------------------

const io = new SocketIoServer(httpServer, {
  path: "/socket.io/",
  serveClient: false,
  pingInterval: PING_INTERVAL,
  pingTimeout: PING_TIMEOUT,
  maxHttpBufferSize: MAX_PAYLOAD,
  connectTimeout: CONNECT_TIMEOUT,
  cors: { origin: "*" },
  // connectionStateRecovery is deliberately not configured (off).
});

function onConnection(socket) {
  socket.emit("auth", socket.handshake.auth);

  socket.on("message", (...args) => {
    socket.emit("message-back", ...args);
  });

  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") {
      ack(...args);
    }
  });
}

io.of("/").on("connection", onConnection);
io.of("/custom").on("connection", onConnection);

// ---------------------------------------------------------------------------------------

httpServer.listen(port, HOST, () => {
  const { port: actual } = httpServer.address();
  console.log(`listening on ${HOST}:${actual}`);
});

function shutdown() {
  io.close();
  engine.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
