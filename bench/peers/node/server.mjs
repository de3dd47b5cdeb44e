// The Node socket.io peer of Sockeye's benchmark: the contract of
// bench/src/bin/sockeye-bench-server.rs on namespace `/`, default settings.
//   node server.mjs --port 0   prints `listening on 127.0.0.1:PORT`, serves until SIGTERM.
import { createServer } from "node:http";
import { Server } from "socket.io";

const FLOOD_MAX = 1000;
const i = process.argv.indexOf("--port");
const port = i >= 0 ? Number(process.argv[i + 1]) : 3000;

const http = createServer();
const io = new Server(http, { serveClient: false });
io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("broadcast", (...args) => {
    const ack = args.pop();
    socket.broadcast.emit("fanout", ...args);
    if (typeof ack === "function") ack();
  });
  socket.on("flood", (count, payload, ack) => {
    for (let n = 0; n < Math.min(Number(count) || 0, FLOOD_MAX); n++) socket.emit("flood", payload);
    if (typeof ack === "function") ack();
  });
});
http.listen(port, "127.0.0.1", () => {
  console.log(`listening on 127.0.0.1:${http.address().port}`);
});
const stop = () => io.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
