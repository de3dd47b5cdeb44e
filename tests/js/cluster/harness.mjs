// The cluster suite's pieces: a real Redis of its own (on a unix socket, ../lib/redis.mjs),
// Sockeye and Node socket.io nodes on it, official socket.io-client clients, and waits
// with deadlines. Processes and waits come from ../lib/ (see ../README.md).
//
// Environment: SOCKEYE_TARGET_DIR (default <repo>/target/debug), where `sockeye` and
// `cluster_node` are; REDIS_SERVER (default redis-server on PATH).
import path from "node:path";
import { io as connect } from "socket.io-client";
import { JS_DIR, ROOT as root, sockeyeBinary } from "../lib/bins.mjs";
import { refusedPort } from "../lib/ports.mjs";
import { startServer } from "../lib/process.mjs";
import { Redis, redisClientOptions } from "../lib/redis.mjs";
import { until as untilWithin, waitForEvent, withTimeout as within } from "../lib/wait.mjs";

/** Generous: the suite runs on a loaded 2-core machine. */
export const TIMEOUT = 15_000;
/** One test's bound: a few connects, broadcasts and acks, each bounded by TIMEOUT. */
export const TEST_TIMEOUT = 120_000;

/** A redis-server of the suite's own (`url`, `stop()`, `start()` at the same url, `close()`). */
export function startRedis() {
  return Redis.start();
}

/**
 * Starts a server binary with `args` (it binds port 0 and prints `listening on
 * HOST:PORT`); resolves with its Proc (../lib/process.mjs), whose `url` is its address.
 */
export function startServerProcess(command, args, label) {
  return startServer({ command, args, cwd: root, label, startTimeout: TIMEOUT * 2 });
}

/** Stops a node or a server process (SIGTERM, SIGKILL after TIMEOUT) and waits for it to exit. */
export function stop(proc) {
  return proc.stop({ grace: TIMEOUT });
}

/** A cluster node: `sockeye` (tests/fixtures/src/bin/cluster_node.rs) or `node` (node-server.mjs);
 * `extra` are more flags for it (`--adapter streams`, `--recovery`). */
export async function startNode(kind, name, redisUrl, extra = []) {
  const args = ["--redis-url", redisUrl, "--name", name, "--port", "0", ...extra];
  const [command, argv] = kind === "node"
    ? [process.execPath, [path.join(JS_DIR, "cluster", "node-server.mjs"), ...args]]
    : [sockeyeBinary("cluster_node"), args];
  const proc = await startServerProcess(command, argv, `${kind}:${name}`);
  return Object.assign(proc, { kind, name });
}

/** The `sockeye` binary. */
export function sockeyeBin() {
  return sockeyeBinary("sockeye");
}

/** An official socket.io-client connected to `node`, websocket only. */
export async function client(node, auth = {}, opened = []) {
  const socket = connect(node.url, { auth, transports: ["websocket"], reconnection: false, forceNew: true });
  opened.push(socket); // before the wait: a client that never connects is closed too
  await waitForEvent(socket, "connect", { what: `connect to ${node.name}`, timeout: TIMEOUT });
  return socket;
}

/** Rejects when `promise` takes longer than the timeout. */
export function withTimeout(promise, what, ms = TIMEOUT) {
  return within(promise, what, ms);
}

/** Emits and resolves with the ack. */
export function call(socket, event, ...args) {
  return withTimeout(socket.timeout(TIMEOUT).emitWithAck(event, ...args), `ack of ${event}`);
}

/** The next `event` on `socket` (its first argument). */
export async function next(socket, event, what = event) {
  const [first] = await waitForEvent(socket, event, { what, timeout: TIMEOUT });
  return first;
}

/** Collects every `event` on `socket` into an array. */
export function collect(socket, event) {
  const seen = [];
  socket.on(event, (payload) => seen.push(payload));
  return seen;
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export function until(check, what, ms = TIMEOUT * 2) {
  return untilWithin(check, what, ms, 50);
}

/** Resolves when `socket` has been quiet about `event` long enough for a wrong delivery
 * to show: after a round trip through every node's Redis path (the barrier event). */
export async function barrier(sender, receivers, room) {
  // A marker sent after the message under test through the same path: once every
  // receiver has it, anything sent before it to them has arrived too (Redis and each
  // node keep order).
  const marker = `m${Math.random().toString(36).slice(2)}`;
  const seen = receivers.map((r) => next(r, "marker", `marker at ${r.id}`));
  await call(sender, "to", room, "marker", marker);
  await Promise.all(seen);
}

/**
 * The clients a test opens, disconnected by `closeAll()`: the test files call it in
 * afterEach, so a failing test leaves no client behind for the next one.
 */
export class Clients {
  constructor(nodes) {
    this.nodes = nodes;
    this.opened = [];
  }

  /** A client on node `name` (or a node object). */
  on(name, auth = {}) {
    return client(typeof name === "string" ? this.nodes[name] : name, auth, this.opened);
  }

  /** Keeps `socket` (made elsewhere) for closeAll. */
  add(socket) {
    this.opened.push(socket);
    return socket;
  }

  closeAll() {
    for (const s of this.opened) s.disconnect();
    this.opened = [];
  }
}

export { connect, redisClientOptions, refusedPort, root };
