// A redis-server of the suite's own, on a unix socket in a fresh private folder.
//
// redis-server cannot bind port 0 and report the port it got, and a cluster test stops
// Redis and starts it again at the same address while the nodes keep its URL. A TCP port
// picked in advance could be taken by another process in either gap, and the nodes would
// silently talk to someone else's Redis. A socket path in a folder made for this Redis
// (mkdtemp, mode 0700) is ours alone for the whole run, across restarts. Every client
// takes it: Sockeye's Redis client (redis-rs) as a `unix:///path` URL, node-redis as
// `{ socket: { path } }` (see `redisClientOptions`).
//
// Environment: REDIS_SERVER, the redis-server executable (default: the one on PATH).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess } from "./process.mjs";

const folders = new Set();
process.on("exit", () => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

export class Redis {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "sockeye-redis-"));
    folders.add(this.dir);
    this.socket = join(this.dir, "redis.sock");
    /** What every client of the suite connects to. */
    this.url = `unix://${this.socket}`;
    this.proc = null;
  }

  /** A new Redis, started. */
  static async start() {
    return new Redis().start();
  }

  /** Starts redis-server (again) on this Redis's socket; nothing is persisted. */
  async start() {
    if (this.proc) throw new Error("redis-server already running");
    this.proc = await startProcess({
      command: process.env.REDIS_SERVER ?? "redis-server",
      args: ["--port", "0", "--unixsocket", this.socket, "--unixsocketperm", "700", "--dir", this.dir,
        "--save", "", "--appendonly", "no"],
      label: "redis",
      // "Ready to accept connections" on TCP; "... now ready to accept connections at
      // <path>" when it listens on a unix socket only.
      ready: /ready to accept connections/i,
      what: '"ready to accept connections"',
    });
    return this;
  }

  /** True while redis-server runs. */
  get running() {
    return this.proc !== null && this.proc.running;
  }

  /** Stops redis-server (SIGTERM); the socket path stays this Redis's for a restart. */
  async stop() {
    const proc = this.proc;
    this.proc = null;
    await proc?.stop();
  }

  /** Stops redis-server and removes its folder. */
  async close() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
    folders.delete(this.dir);
  }
}

/** node-redis `createClient` options for a Redis URL (redis:// or unix://). */
export function redisClientOptions(url) {
  return url.startsWith("unix://") ? { socket: { path: url.slice("unix://".length) } } : { url };
}
