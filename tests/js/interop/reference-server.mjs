// The interop fixture (see FIXTURE.md) implemented with Node's official `socket.io`
// 4.8 server. It exists to prove that the interop tests are right: every test must pass
// against it. Sockeye's `interop_fixture` (tests/fixtures/) implements the same contract.
//
//   PORT=0 node reference-server.mjs   ->  prints "listening on 127.0.0.1:<port>"
//
// SOCKEYE_PARSER=msgpack: the server uses socket.io-msgpack-parser (the interop suite's
// msgpack run sets it for the clients and, through the environment, for this server);
// unset or "json": the built-in parser.

import { createServer } from "node:http";
import { Server } from "socket.io";
import msgpackParser from "socket.io-msgpack-parser";

const PARSERS = { json: {}, msgpack: { parser: msgpackParser } };
const parserName = process.env.SOCKEYE_PARSER || "json";
if (!Object.hasOwn(PARSERS, parserName)) {
  process.stderr.write(`SOCKEYE_PARSER=${parserName}: expected "json" or "msgpack"\n`);
  process.exit(2);
}

const port = Number.parseInt(process.env.PORT ?? "0", 10);

// Answers POST /push; every other non-Engine.IO request is a 404. Socket.IO wraps this
// listener, so requests under /socket.io/ never reach it.
function httpHandler(req, res) {
  const reply = (status, body) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  if (req.url !== "/push" || req.method !== "POST") {
    reply(404, { ok: false, error: "not found" });
    return;
  }
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      reply(400, { ok: false, error: "invalid JSON" });
      return;
    }
    if (body === null || typeof body !== "object" || typeof body.event !== "string") {
      reply(400, { ok: false, error: "`event` must be a string" });
      return;
    }
    const nsp = io.of(typeof body.namespace === "string" ? body.namespace : "/");
    const target = typeof body.room === "string" ? nsp.to(body.room) : nsp;
    target.emit(body.event, body.data);
    reply(200, { ok: true });
  });
}

const httpServer = createServer(httpHandler);

const io = new Server(httpServer, {
  path: "/socket.io/",
  pingInterval: 300,
  pingTimeout: 400,
  cors: { origin: "*" },
  // connectionStateRecovery is off unless configured.
  ...PARSERS[parserName],
});

// ---- namespace "/" -------------------------------------------------------------------

io.use((socket, next) => {
  const auth = socket.handshake.auth;
  if (auth && auth.token === "reject") {
    const err = new Error("not authorized");
    err.data = { code: 42, reason: "bad token" };
    next(err);
    return;
  }
  next();
});

io.on("connection", (socket) => {
  // socket.handshake.auth is `{}` when the client sent no auth payload (socket.io's
  // default); `?? null` never applies with the official server.
  socket.emit("welcome", { id: socket.id, auth: socket.handshake.auth ?? null, namespace: "/" });

  // Departures go to the socket's group only (FIXTURE.md), so tests do not hear each other's.
  const group = socket.handshake.auth?.group;
  if (typeof group === "string") socket.join(group);

  socket.on("disconnect", (reason) => {
    if (typeof group === "string") io.to(group).emit("peer-left", { id: socket.id, reason });
  });

  socket.on("echo", (...args) => {
    socket.emit("echo", ...args);
  });

  socket.on("echo-ack", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });

  socket.on("message", (...args) => {
    socket.send(...args);
  });

  socket.on("join", (room, ack) => {
    socket.join(room);
    ack("joined", room);
  });

  socket.on("leave", (room, ack) => {
    socket.leave(room);
    ack("left", room);
  });

  socket.on("to-room", (room, msg) => {
    io.to(room).emit("room-msg", room, msg);
  });

  socket.on("to-room-others", (room, msg) => {
    socket.to(room).emit("room-msg", room, msg);
  });

  socket.on("to-rooms-except", (rooms, exceptRoom, msg) => {
    io.to(rooms).except(exceptRoom).emit("room-msg", "multi", msg);
  });

  socket.on("broadcast", (msg) => {
    io.emit("bcast", msg);
  });

  socket.on("broadcast-others", (msg) => {
    socket.broadcast.emit("bcast", msg);
  });

  socket.on("ask-client", (payload, ack) => {
    socket.timeout(5000).emit("question", payload, (err, answer) => {
      ack(err ? { error: "timeout" } : { answer });
    });
  });

  socket.on("ask-client-timeout", (payload, ack) => {
    socket.timeout(200).emit("question", payload, (err, answer) => {
      ack(err ? { error: "timeout" } : { answer });
    });
  });

  socket.on("server-disconnect", () => {
    socket.disconnect();
  });

  socket.on("rooms", (ack) => {
    ack([...socket.rooms].sort());
  });
});

// ---- namespace "/custom" ---------------------------------------------------------------

const custom = io.of("/custom");

custom.on("connection", (socket) => {
  socket.emit("welcome", { id: socket.id, auth: socket.handshake.auth ?? null, namespace: "/custom" });

  socket.on("echo-ack", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack("custom", ...args);
  });

  socket.on("broadcast", (msg) => {
    custom.emit("bcast", msg);
  });
});

// ---- namespace "/guarded" --------------------------------------------------------------

// socket.io has no rate limits: this is what Sockeye's `rate_limit("limited",
// RateLimit::per_minute(3))` with a flood limit of 5 drops a minute does, as a
// middleware (no refill is needed: a test lasts far less than the 20 s a token takes).
const LIMITED_BURST = 3;
const MAX_DROPS = 5;

const guarded = io.of("/guarded");

guarded.on("connection", (socket) => {
  const seen = { incoming: [], outgoing: [] };
  socket.onAny((event) => seen.incoming.push(event));
  socket.onAnyOutgoing((event) => seen.outgoing.push(event));
  let tokens = LIMITED_BURST;
  let drops = 0;
  socket.use((packet, next) => {
    const [event] = packet;
    if (event === "limited") {
      if (tokens >= 1) {
        tokens -= 1;
      } else {
        const ack = packet[packet.length - 1];
        if (typeof ack === "function") ack({ error: "rate limited" });
        drops += 1;
        if (drops > MAX_DROPS) {
          socket.disconnect();
          return;
        }
        return next(new Error("rate limited"));
      }
    }
    if (event === "forbidden") return next(new Error("unauthorized event"));
    if (event === "forbidden-disconnect") return next(new Error("disconnect me"));
    next();
  });
  socket.on("error", (err) => {
    socket.emit("refused", err.message);
    if (err.message === "disconnect me") socket.disconnect();
  });
  socket.emit("welcome", { id: socket.id, auth: socket.handshake.auth ?? null, namespace: "/guarded" });

  socket.on("echo-ack", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("forbidden", (ack) => ack("the handler ran"));
  socket.on("limited", (n, ack) => ack(n));
  socket.on("seen", (ack) => ack({ incoming: [...seen.incoming], outgoing: [...seen.outgoing] }));
});

// ---- lifecycle -------------------------------------------------------------------------

// Exit at once, like a process killed by the signal: no Socket.IO DISCONNECT packet and
// no Engine.IO close packet reach the clients; their connections just drop.
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));

httpServer.listen(port, "127.0.0.1", () => {
  const { port: actual } = httpServer.address();
  process.stdout.write(`listening on 127.0.0.1:${actual}\n`);
});
