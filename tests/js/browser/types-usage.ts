// Type-level usage check for Sockeye's TypeScript declarations (client-wasm/js/sockeye.d.ts):
// the socket.io-client 4.x API shapes a TypeScript user writes. It is never run, only
// compiled:
//
//   cd tests/js
//   npx -p typescript@5 tsc --noEmit --strict --target es2022 --module esnext \
//     --moduleResolution bundler --lib es2022,dom browser/types-usage.ts
//
// "../../../client-wasm/js/sockeye.js" resolves to client-wasm/js/sockeye.d.ts.
// Proven against the official typings (socket.io-client 4.8.4, TypeScript 5.9, import line
// changed to "socket.io-client"): everything compiles, including the @ts-expect-error
// lines, except `io.connect(...)`: socket.io-client sets io.connect at run time
// (Object.assign) but its typings omit it, while Sockeye's README uses it, so Sockeye's
// declarations must have it.

import defaultIo, { io, connect, Manager, Socket } from "../../../client-wasm/js/sockeye.js";

declare const SERVER_URL: string;

// ---- io(): url + options, io.connect, default export ---------------------------------------

const socket: Socket = io(SERVER_URL, {
  transports: ["websocket", "polling"],
  upgrade: true,
  forceNew: true,
  autoConnect: false,
  reconnection: true,
  reconnectionAttempts: 5,
  reconnectionDelay: 100,
  reconnectionDelayMax: 500,
  timeout: 10_000,
  auth: { token: "abc" },
});
const viaConnect: Socket = io.connect(SERVER_URL); // not in the official typings (see above)
const viaNamedConnect: Socket = connect(`${SERVER_URL}/custom`, { auth: (cb) => cb({ token: "from-function" }) });
const viaDefault: Socket = defaultIo(SERVER_URL);
const sameOrigin: Socket = io(); // the page's origin
const withOptionsOnly: Socket = io({ path: "/socket.io/" });

// ---- state -----------------------------------------------------------------------------------

const id: string | undefined = socket.id;
const isConnected: boolean = socket.connected;
const isDisconnected: boolean = socket.disconnected;
const isActive: boolean = socket.active;
const manager: Manager = socket.io;
const connected: Socket = socket.connect();
const opened: Socket = socket.open();

// ---- listeners ---------------------------------------------------------------------------------

socket.on("connect", () => {
  console.log("connected as", socket.id);
});
socket.on("disconnect", (reason, description) => {
  const r: string = reason; // "io server disconnect", "io client disconnect", "transport close", ...
  console.log(r, description);
  if (reason === "io server disconnect") socket.connect();
});
socket.on("connect_error", (err: Error) => {
  console.log(err.message, socket.active);
});
socket.on("welcome", (payload: { id: string; namespace: string }) => console.log(payload.id));
socket.once("news", (a: string, b: number) => console.log(a, b));
socket.on("question", (payload: unknown, answer: (reply: unknown) => void) => answer({ ok: true }));
const chained: Socket = socket.on("a", () => {}).on("b", () => {});
socket.off("news");
socket.off("welcome", () => {});
socket.off();
socket.removeAllListeners("news");
const count: number = socket.listeners("welcome").length;
const has: boolean = socket.hasListeners("welcome");

const anyListener = (event: string, ...args: any[]) => console.log(event, args);
socket.onAny(anyListener);
socket.prependAny(anyListener);
socket.offAny(anyListener);
socket.offAny();
const anyCount: number = socket.listenersAny().length;
socket.onAnyOutgoing(anyListener);
socket.offAnyOutgoing(anyListener);

// ---- emit --------------------------------------------------------------------------------------

const emitted: Socket = socket.emit("echo", 1, "two", { three: 3 }, [4], null, true);
socket.emit("echo-ack", "hello", 42, (a: string, b: number) => console.log(a, b));
socket.emit("binary", new Uint8Array([1, 2, 3]), new ArrayBuffer(8), { nested: [new Uint8Array(2)] });
socket.send("hello", { x: 1 });
socket.volatile.emit("cursor", { x: 1, y: 2 });
socket.compress(false).emit("big", "payload");
socket.timeout(5_000).emit("echo-ack", "x", (err: Error | null, value: string) => {
  if (err) console.log("no ack:", err.message);
  else console.log(value);
});

async function acks(): Promise<void> {
  const first: unknown = await socket.emitWithAck("echo-ack", "first", "second");
  const bounded: unknown = await socket.timeout(1_000).emitWithAck("echo-ack", { k: "v" });
  console.log(first, bounded);
}

// ---- Manager -----------------------------------------------------------------------------------

manager.on("reconnect_attempt", (attempt: number) => console.log("attempt", attempt));
manager.on("reconnect", (attempt: number) => console.log("reconnected after", attempt));
manager.on("reconnect_error", (err: Error) => console.log(err.message));
manager.on("reconnect_failed", () => console.log("gave up"));
manager.on("open", () => {});
manager.on("error", (err: Error) => console.log(err));
manager.on("close", (reason: string) => console.log(reason));
socket.io.on("reconnect_attempt", (n) => {
  const attempt: number = n;
  console.log(attempt);
});
const explicit = new Manager(SERVER_URL, { reconnectionDelayMax: 1_000, autoConnect: false });
const custom: Socket = explicit.socket("/custom", { auth: { token: "t" } });
explicit.reconnection(false);
explicit.open();
const transport: string = socket.io.engine.transport.name;
socket.io.engine.on("upgrade", (t) => console.log(t.name));

// ---- typed events (socket.io-client's generic Socket) -------------------------------------------

interface ServerToClientEvents {
  welcome: (payload: { id: string; auth: object; namespace: string }) => void;
  "room-msg": (room: string, msg: string) => void;
}
interface ClientToServerEvents {
  join: (room: string, ack: (status: string, room: string) => void) => void;
  "to-room": (room: string, msg: string) => void;
}
const typed: Socket<ServerToClientEvents, ClientToServerEvents> = io(SERVER_URL);
typed.on("room-msg", (room, msg) => console.log(room.toUpperCase(), msg.length));
typed.emit("join", "lobby", (status, room) => console.log(status, room));
typed.emit("to-room", "lobby", "hi");

// ---- disconnect ---------------------------------------------------------------------------------

const closed: Socket = socket.disconnect();
socket.close();

// ---- misuse must not compile ---------------------------------------------------------------------

// @ts-expect-error the URL is a string
io(42);
// @ts-expect-error reconnect_attempt passes a number
socket.io.on("reconnect_attempt", (n: string) => console.log(n));
// @ts-expect-error socket.id is not a number
const badId: number = socket.id;
// @ts-expect-error typed events check argument types
typed.emit("to-room", "lobby", 42);

export {
  viaConnect,
  viaNamedConnect,
  viaDefault,
  sameOrigin,
  withOptionsOnly,
  id,
  isConnected,
  isDisconnected,
  isActive,
  connected,
  opened,
  chained,
  count,
  has,
  anyCount,
  emitted,
  acks,
  custom,
  transport,
  closed,
  badId,
};
