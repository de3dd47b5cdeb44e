// The Node socket.io 4.8 twin of server/examples/connection_state_recovery.rs (read its
// doc comment for the contract), with connectionStateRecovery on.
//   PORT=0 node recovery-server.mjs   ->  prints "listening on 127.0.0.1:<port>"
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number.parseInt(process.env.PORT ?? "0", 10);
const http = createServer();
const io = new Server(http, {
  cors: { origin: "*" },
  connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true },
});
io.use((socket, next) => (socket.handshake.auth?.token === "refuse" ? next(new Error("refused")) : next()));
const handles = new Map();
io.on("connection", (socket) => {
  handles.set(socket.id, socket);
  socket.emit("hello", { id: socket.id, recovered: socket.recovered });
  socket.on("join", (room, ack) => { socket.join(room); ack([...socket.rooms].sort()); });
  socket.on("tick", (room, n, ack) => {
    for (let i = 1; i <= Math.min(n, 10_000); i++) io.to(room).emit("tick", i);
    ack(true);
  });
  // Through the kept handle, as a background task would; socket.io emits to a
  // disconnected socket through the adapter (stored for recovery) only via `io.to(id)`.
  socket.on("tick-socket", (id, n, ack) => {
    for (let i = 1; i <= Math.min(n, 10_000); i++) io.to(id).emit("tick", i);
    ack(handles.has(id));
  });
  socket.on("members", (room, ack) => ack(io.sockets.adapter.rooms.get(room)?.size ?? 0));
});
http.listen(port, "127.0.0.1", () => console.log(`listening on 127.0.0.1:${http.address().port}`));
const stop = () => io.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
