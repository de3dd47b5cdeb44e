// The cluster suite's pieces: a real Redis on a free port, Sockeye and Node socket.io
// nodes on it, official socket.io-client clients, and waits with deadlines.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { io as connect } from "socket.io-client";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
/** Generous: the suite runs on a loaded 2-core machine. */
export const TIMEOUT = 15_000;
const children = new Set();
process.on("exit", () => { for (const c of children) c.kill("SIGKILL"); });

/** A free TCP port on 127.0.0.1, as the OS picks it. */
export async function freePort() {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** Spawns a process; resolves once a line of its output matches `ready`. */
export function start(command, args, ready, label) {
  const child = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"], cwd: root, env: { ...process.env, PORT: "0" },
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  let output = "";
  const onData = (chunk) => {
    output += chunk;
    if (process.env.CLUSTER_DEBUG) process.stderr.write(`[${label}] ${chunk}`);
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} not ready in ${TIMEOUT} ms:\n${output}`)), TIMEOUT * 2);
    const check = () => {
      const match = output.match(ready);
      if (match) {
        clearTimeout(timer);
        child.stdout.off("data", check);
        child.stderr.off("data", check);
        resolve({ child, match, output: () => output });
      }
    };
    child.stdout.on("data", check);
    child.stderr.on("data", check);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code}) before it was ready:\n${output}`));
    });
  });
}

/** Stops a process and waits for it to exit. */
export async function stop(child, signal = "SIGTERM") {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT);
  await once(child, "exit");
  clearTimeout(timer);
}

/** A redis-server of its own on `port`, nothing persisted. */
export async function startRedis(port) {
  const bin = process.env.REDIS_SERVER ?? "redis-server";
  const { child } = await start(bin, ["--port", String(port), "--bind", "127.0.0.1", "--save", "",
    "--appendonly", "no"], /Ready to accept connections/, `redis:${port}`);
  return child;
}

/** A cluster node: `sockeye` (server/examples/cluster_node) or `node` (node-server.mjs). */
export async function startNode(kind, name, redisUrl) {
  const args = ["--redis-url", redisUrl, "--name", name, "--port", "0"];
  const [command, argv] = kind === "node"
    ? [process.execPath, [path.join(here, "node-server.mjs"), ...args]]
    : [process.env.CLUSTER_NODE_CMD ?? path.join(root, "target/debug/examples/cluster_node"), args];
  const { child, match, output } = await start(command, argv, /listening on (\S+)/, `${kind}:${name}`);
  return { kind, name, child, url: `http://${match[1]}`, output };
}

/** An official socket.io-client connected to `node`, websocket only. */
export async function client(node, auth = {}) {
  const socket = connect(node.url, { auth, transports: ["websocket"], reconnection: false, forceNew: true });
  await withTimeout(once(socket, "connect"), `connect to ${node.name}`);
  return socket;
}

/** Rejects when `promise` takes longer than the timeout. */
export function withTimeout(promise, what, ms = TIMEOUT) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms); }),
  ]);
}

/** Emits and resolves with the ack. */
export function call(socket, event, ...args) {
  return withTimeout(socket.timeout(TIMEOUT).emitWithAck(event, ...args), `ack of ${event}`);
}

/** The next `event` on `socket` (its first argument). */
export function next(socket, event, what = event) {
  return withTimeout(new Promise((resolve) => socket.once(event, resolve)), what);
}

/** Collects every `event` on `socket` into an array. */
export function collect(socket, event) {
  const seen = [];
  socket.on(event, (payload) => seen.push(payload));
  return seen;
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function until(check, what, ms = TIMEOUT * 2) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
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

export { root, connect };
