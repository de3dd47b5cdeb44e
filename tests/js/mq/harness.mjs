// The message queue suite's pieces: a redis-server and a rabbitmq-server of the suite's
// own, the Flask-SocketIO chat (tests/mq/flask_chat.py) and the Sockeye node
// (tests/fixtures/src/bin/mq_node.rs) on one channel of either, the write-only Python
// worker and Sockeye's emitter, and official socket.io-client clients.
//
// Environment: SOCKEYE_TARGET_DIR (where `mq_node` is); MQ_PYTHON (default
// tests/mq/.venv/bin/python); REDIS_SERVER (default redis-server on PATH);
// RABBITMQ_SERVER (default /usr/lib/rabbitmq/bin/rabbitmq-server, the Debian package's
// script that runs as the calling user); EPMD (default epmd on PATH).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { io as connect } from "socket.io-client";
import { ROOT, sockeyeBinary } from "../lib/bins.mjs";
import { startProcess, startServer } from "../lib/process.mjs";
import { waitForEvent, withTimeout as within } from "../lib/wait.mjs";

const run = promisify(execFile);

/** Generous: the suite runs on a loaded 2-core machine. */
export const TIMEOUT = 15_000;
/** One test's bound; the restart test waits for two reconnections with backoff. */
export const TEST_TIMEOUT = 150_000;
/** The Python of tests/mq/.venv (Flask-SocketIO, redis, kombu). */
export const PYTHON = process.env.MQ_PYTHON ?? path.join(ROOT, "tests", "mq", ".venv", "bin", "python");
const MQ_DIR = path.join(ROOT, "tests", "mq");

const folders = new Set();
process.on("exit", () => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});
function folder(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  folders.add(dir);
  return dir;
}

/** A TCP port nobody listens on now (the OS picks it; the servers below bind it next). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * A queue server of the suite's own that can be stopped and started again at the same
 * address (`url`), so that the nodes' URLs stay right across a restart.
 */
class QueueServer {
  async start() {
    if (this.proc) throw new Error(`${this.label} already running`);
    this.proc = await startProcess({ ...this.spec(), label: this.label, startTimeout: 90_000 });
    return this;
  }

  async stop() {
    const proc = this.proc;
    this.proc = null;
    await proc?.stop({ grace: TIMEOUT });
  }

  async close() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
    folders.delete(this.dir);
  }
}

/** redis-server on 127.0.0.1 (TCP: Flask-SocketIO picks RedisManager for redis:// only). */
export class Redis extends QueueServer {
  static async start() {
    const r = new Redis();
    r.kind = "redis";
    r.label = "redis";
    r.dir = folder("sockeye-mq-redis-");
    r.port = await freePort();
    r.url = `redis://127.0.0.1:${r.port}/0`;
    return r.start();
  }

  spec() {
    return {
      command: process.env.REDIS_SERVER ?? "redis-server",
      args: ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", "", "--appendonly", "no"],
      ready: /ready to accept connections/i,
      what: '"ready to accept connections"',
    };
  }
}

/**
 * rabbitmq-server with everything in a folder of its own: its node name, AMQP port,
 * Erlang distribution port and Erlang port mapper (an `epmd` of the suite's, on a port of
 * its own, so that no daemon outlives the suite) are the suite's, its database and logs
 * in that folder, no plugins.
 */
export class RabbitMQ extends QueueServer {
  static async start() {
    const r = new RabbitMQ();
    r.kind = "amqp";
    r.label = "rabbitmq";
    r.dir = folder("sockeye-mq-rabbitmq-");
    writeFileSync(path.join(r.dir, "enabled_plugins"), "[].\n");
    r.port = await freePort();
    r.distPort = await freePort();
    r.node = `sockeye-mq-${r.port}@localhost`;
    r.url = `amqp://guest:guest@127.0.0.1:${r.port}//`;
    r.epmdPort = await freePort();
    r.epmd = await startProcess({
      command: process.env.EPMD ?? "epmd",
      args: ["-port", String(r.epmdPort), "-address", "127.0.0.1", "-d"],
      label: "epmd",
      ready: /epmd running/,
      what: '"epmd running"',
    });
    try {
      return await r.start();
    } catch (err) {
      await r.epmd.stop();
      throw err;
    }
  }

  async close() {
    await super.close();
    await this.epmd?.stop();
  }

  spec() {
    const d = this.dir;
    return {
      command: process.env.RABBITMQ_SERVER ?? "/usr/lib/rabbitmq/bin/rabbitmq-server",
      env: {
        HOME: d, // its Erlang cookie
        ERL_EPMD_PORT: String(this.epmdPort),
        RABBITMQ_NODENAME: this.node,
        RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
        RABBITMQ_NODE_PORT: String(this.port),
        RABBITMQ_DIST_PORT: String(this.distPort),
        RABBITMQ_MNESIA_BASE: path.join(d, "mnesia"),
        RABBITMQ_LOG_BASE: path.join(d, "log"),
        RABBITMQ_LOGS: "-",
        RABBITMQ_ENABLED_PLUGINS_FILE: path.join(d, "enabled_plugins"),
        RABBITMQ_CONFIG_FILE: path.join(d, "rabbitmq"),
        RABBITMQ_ADVANCED_CONFIG_FILE: path.join(d, "advanced.config"),
        RABBITMQ_PID_FILE: path.join(d, "pid"),
      },
      ready: /Server startup complete/,
      what: '"Server startup complete"',
    };
  }
}

/** One cluster on one channel: the Flask-SocketIO chat (`flask`) and a Sockeye node (`sockeye`). */
export async function startCluster(queue, channel) {
  const [flask, sockeye] = await Promise.all([
    startServer({
      command: PYTHON,
      args: [path.join(MQ_DIR, "flask_chat.py"), queue.url, channel],
      env: { PYTHONUNBUFFERED: "1" },
      label: `flask:${channel}`,
      startTimeout: TIMEOUT * 2,
    }),
    startServer({
      command: sockeyeBinary("mq_node"),
      args: ["--message-queue", queue.url, "--channel", channel],
      label: `sockeye:${channel}`,
      startTimeout: TIMEOUT * 2,
    }),
  ]);
  const cluster = { flask, sockeye, channel, url: queue.url };
  // python-socketio starts its manager (and subscribes) on the first client's connect,
  // in a thread of its own: the cluster is up once messages cross both ways.
  const probes = new Clients();
  try {
    const [f, s] = await Promise.all([probes.on(flask), probes.on(sockeye)]);
    await untilDelivered(s, f, "sockeye to flask");
    await untilDelivered(f, s, "flask to sockeye");
  } finally {
    probes.closeAll();
  }
  return cluster;
}

/**
 * Broadcasts `probe` from `sender`'s node until `receiver` (on the other node) has one:
 * for a node that is still subscribing or reconnecting with backoff. Each attempt waits
 * up to 2 s for its own tag; the whole at most `ms`.
 */
export async function untilDelivered(sender, receiver, label, ms = 90_000) {
  const deadline = Date.now() + ms;
  for (let i = 0; ; i++) {
    const tag = `${label} ${i}`;
    const got = waitForEvent(receiver, "probe", { what: tag, timeout: 2_000, filter: (m) => m === tag });
    await call(sender, "to", null, "probe", tag);
    try {
      await got;
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`cross-node delivery (${label}) never came: ${err.message}`);
    }
  }
}

/** The `sockeye` demo server joining `cluster` with `--message-queue` (and its channel). */
export function startSockeyeCli(cluster) {
  return startServer({
    command: sockeyeBinary("sockeye"),
    args: ["--port", "0", "--log-level", "warn", "--static-dir", path.join(ROOT, "www"),
      "--message-queue", cluster.url, "--message-queue-channel", cluster.channel],
    cwd: ROOT,
    label: `sockeye --message-queue:${cluster.channel}`,
    startTimeout: TIMEOUT * 2,
  });
}

/** Runs the write-only Flask-SocketIO worker: one emit of `event` to `room`. */
export async function pythonWorker(cluster, room, event, payload) {
  await run(PYTHON, [path.join(MQ_DIR, "worker.py"), cluster.url, cluster.channel, room, event, JSON.stringify(payload)], { timeout: TIMEOUT * 2 });
}

/** Runs Sockeye's emitter (`mq_node emit`): one emit of `event` to `room`. */
export async function sockeyeEmitter(cluster, room, event, payload) {
  await run(sockeyeBinary("mq_node"), ["emit", "--message-queue", cluster.url, "--channel", cluster.channel, "--to", room, event, JSON.stringify(payload)], { timeout: TIMEOUT * 2 });
}

/** Publishes raw bodies on the cluster's channel (tests/mq/publish_raw.py). */
export async function publishRaw(cluster, bodies) {
  await run(PYTHON, [path.join(MQ_DIR, "publish_raw.py"), cluster.url, cluster.channel, ...bodies], { timeout: TIMEOUT * 2 });
}

/** The clients a test opens, closed by closeAll(). */
export class Clients {
  constructor() {
    this.opened = [];
  }

  /** An official socket.io-client connected to `node` (websocket only), in `room` when given. */
  async on(node, room) {
    const socket = connect(node.url, { auth: room ? { room } : {}, transports: ["websocket"], reconnection: false, forceNew: true });
    this.opened.push(socket);
    await waitForEvent(socket, "connect", { what: `connect to ${node.label}`, timeout: TIMEOUT });
    return socket;
  }

  closeAll() {
    for (const s of this.opened) s.disconnect();
    this.opened = [];
  }
}

/** Emits and resolves with the ack. */
export function call(socket, event, ...args) {
  return within(socket.timeout(TIMEOUT).emitWithAck(event, ...args), `ack of ${event}`, TIMEOUT);
}

/** The next `event` on `socket` (its first argument). */
export async function next(socket, event, what = event, timeout = TIMEOUT) {
  const [first] = await waitForEvent(socket, event, { what, timeout });
  return first;
}

/** Collects every `event` on `socket`. */
export function collect(socket, event) {
  const seen = [];
  socket.on(event, (payload) => seen.push(payload));
  return seen;
}

/**
 * Resolves once every receiver has a marker broadcast from `sender` to the whole
 * namespace: whatever the queue carried to them before it has arrived too (one channel,
 * one publisher per node, in order).
 */
export async function barrier(sender, receivers) {
  const marker = `m${Math.random().toString(36).slice(2)}`;
  const seen = receivers.map((r) => waitForEvent(r, "marker", { what: "the marker", timeout: TIMEOUT, filter: (m) => m === marker }));
  await call(sender, "to", null, "marker", marker);
  await Promise.all(seen);
}
