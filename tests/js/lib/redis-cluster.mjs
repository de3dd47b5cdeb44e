// A real Redis Cluster of the suite's own: three masters (redis-server --cluster-enabled
// yes, each in a fresh private folder), made one cluster by `redis-cli --cluster create`.
//
// Ports: redis-server cannot bind port 0 and report it, and a node must come back at the
// same port after a stop (the others know it by address). So each node's client and bus
// ports are found free by binding port 0 here, released, and handed to redis-server at
// once; a start that loses that race (the port got taken) is retried with new ports.
//
// `cluster-require-full-coverage no`: while one master is down, the slots of the others
// keep working (what the failover test checks). `cluster-node-timeout` is short so the
// others notice a stopped master in a couple of seconds.
//
// Environment: REDIS_SERVER, REDIS_CLI (default: the ones on PATH).

import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startProcess } from "./process.mjs";
import { until } from "./wait.mjs";

const run = promisify(execFile);
const CLI = () => process.env.REDIS_CLI ?? "redis-cli";
const folders = new Set();
process.on("exit", () => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

/** A port that was free a moment ago (bound to port 0, then released). */
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

/** One master of the cluster. */
class ClusterNode {
  constructor(dir) {
    this.dir = dir;
    this.port = null;
    this.busPort = null;
    this.proc = null;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}/`;
  }

  get running() {
    return this.proc !== null && this.proc.running;
  }

  /** Starts redis-server; the first time on fresh ports, later on the same ones. */
  async start() {
    if (this.proc) throw new Error("redis-server already running");
    const fresh = this.port === null;
    for (let attempt = 0; ; attempt++) {
      if (fresh) [this.port, this.busPort] = [await freePort(), await freePort()];
      try {
        this.proc = await startProcess({
          command: process.env.REDIS_SERVER ?? "redis-server",
          args: ["--port", String(this.port), "--cluster-port", String(this.busPort),
            "--bind", "127.0.0.1", "--dir", this.dir, "--cluster-enabled", "yes",
            "--cluster-config-file", `nodes-${this.port}.conf`, "--cluster-node-timeout", "2000",
            "--cluster-require-full-coverage", "no", "--save", "", "--appendonly", "no"],
          label: `redis:${this.port}`,
          ready: /ready to accept connections/i,
          what: '"ready to accept connections"',
        });
        return this;
      } catch (e) {
        this.proc = null;
        if (!fresh || attempt >= 3) throw e;
      }
    }
  }

  /** Stops redis-server (SIGTERM); its folder and ports stay for a restart. */
  async stop() {
    const proc = this.proc;
    this.proc = null;
    await proc?.stop();
  }

  /** `redis-cli -p PORT args...`, its output. */
  async cli(...args) {
    const { stdout } = await run(CLI(), ["-h", "127.0.0.1", "-p", String(this.port), ...args]);
    return stdout;
  }

  /** The slot ranges this master serves, from its own CLUSTER NODES line. */
  async slots() {
    const mine = (await this.cli("cluster", "nodes")).split("\n").find((l) => l.includes("myself"));
    return (mine ?? "").trim().split(" ").slice(8).filter((r) => /^\d+(-\d+)?$/.test(r))
      .map((r) => r.split("-").map(Number)).map(([a, b = a]) => [a, b]);
  }
}

export class RedisCluster {
  constructor(size) {
    this.nodes = Array.from({ length: size }, () => {
      const dir = mkdtempSync(join(tmpdir(), "sockeye-redis-cluster-"));
      folders.add(dir);
      return new ClusterNode(dir);
    });
  }

  /** A new cluster of `size` masters (no replicas), started and with every slot served. */
  static async start(size = 3) {
    const cluster = new RedisCluster(size);
    await Promise.all(cluster.nodes.map((n) => n.start()));
    await run(CLI(), ["--cluster", "create", ...cluster.nodes.map((n) => `127.0.0.1:${n.port}`),
      "--cluster-replicas", "0", "--cluster-yes"]);
    await cluster.ready();
    return cluster;
  }

  /** The seed URLs, comma-separated, as both kinds of node take them. */
  get seeds() {
    return this.nodes.map((n) => n.url).join(",");
  }

  /** Resolves once every running master says cluster_state:ok and knows them all. */
  async ready(ms = 60_000) {
    const running = this.nodes.filter((n) => n.running);
    await until(async () => {
      for (const n of running) {
        const info = await n.cli("cluster", "info").catch(() => "");
        if (!info.includes("cluster_state:ok")) return false;
        if (!info.includes(`cluster_known_nodes:${this.nodes.length}`)) return false;
      }
      return true;
    }, "cluster_state:ok on every master", ms, 100);
  }

  /** The master that serves `channel`'s slot (sharded channels hash like keys). */
  async masterOf(channel) {
    const up = this.nodes.find((n) => n.running);
    const slot = Number((await up.cli("cluster", "keyslot", channel)).trim());
    for (const n of this.nodes) {
      if (!n.running) continue;
      if ((await n.slots()).some(([a, b]) => a <= slot && slot <= b)) return n;
    }
    // The master is down: the others still list its slots against its address.
    return this.nodes.find((n) => !n.running);
  }

  /** Stops every master and removes their folders. */
  async close() {
    await Promise.all(this.nodes.map((n) => n.stop()));
    for (const n of this.nodes) {
      rmSync(n.dir, { recursive: true, force: true });
      folders.delete(n.dir);
    }
  }
}
