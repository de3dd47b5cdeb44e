#!/usr/bin/env node
// The browser benchmark: Sockeye's wasm client against the official socket.io-client, on
// one page in headless Chromium, against Sockeye's benchmark server and the Node
// socket.io peer (same contract, see bench/src/bin/sockeye-bench-server.rs). Per client
// and server: time to connect (io() -> `connect`, median and p90 of sequential forceNew
// cycles), `flood` events received per second, `echo` acks per second; plus, once per
// server, the same on a bare WebSocket with hand-written frames: the browser's limit.
// WebSocket only: neither benchmark server sends CORS headers, which long-polling from
// the page's origin (another port) would need.
//
//   node bench/browser/run.mjs [--reps 3] [--seconds 3] [--connects 30] [--servers sockeye,node]
//                              [--pin] [--out bench/results]
//
// Needs: target/release/sockeye-bench-server (cargo build --release -p sockeye-bench),
// client-wasm/pkg (bash scripts/build-client.sh web), npm ci in bench/browser and in
// bench/peers/node, /usr/bin/chromium (or CHROMIUM_PATH).
//
// Prints one JSON line per (client, server) on stdout, progress on stderr; writes
// <out>/browser.json and <out>/browser.md. Exits 1 with a message when anything fails;
// every wait is bounded and every child process is stopped on the way out.

import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, extname, join, normalize, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..", "..");

// ---- failure and cleanup ----------------------------------------------------------------

const cleanups = [];
let exiting = false;

function log(line) {
  process.stderr.write(`${line}\n`);
}

async function cleanup() {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch {
      // best effort: the rest must still run
    }
  }
}

function fail(message) {
  if (exiting) return;
  exiting = true;
  log(`browser benchmark failed: ${message}`);
  cleanup().finally(() => process.exit(1));
  // If a cleanup step hangs, exit anyway (playwright kills its browser on exit).
  setTimeout(() => process.exit(1), 10_000).unref();
}

process.on("SIGINT", () => fail("interrupted (SIGINT)"));
process.on("SIGTERM", () => fail("terminated (SIGTERM)"));
process.on("unhandledRejection", (err) => fail(`unhandled rejection: ${err?.stack ?? err}`));

function withTimeout(promise, ms, what) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

function hasTaskset() {
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// ---- options ----------------------------------------------------------------------------

const { values: args } = parseArgs({
  options: {
    reps: { type: "string", default: "3" },
    seconds: { type: "string", default: "3" },
    connects: { type: "string", default: "30" },
    servers: { type: "string", default: "sockeye,node" },
    pin: { type: "boolean", default: false },
    out: { type: "string", default: join(ROOT, "bench", "results") },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").slice(1, 20).join("\n") + "\n");
  process.exit(0);
}
function usage(message) {
  log(`run.mjs: ${message} (see --help)`);
  process.exit(2);
}
const num = (name, min) => {
  const v = Number(args[name]);
  if (!Number.isFinite(v) || v < min) usage(`--${name} must be a number >= ${min}, not ${args[name]}`);
  return v;
};
const REPS = num("reps", 1);
const SECONDS = num("seconds", 0.5);
const CONNECTS = num("connects", 1);
const CONNECT_WARMUP = 3;
/** Idle time before each connect: past Chromium's 10 ms per-endpoint WebSocket throttle. */
const CONNECT_GAP_MS = 30;
const FLOOD_COUNT = 1000; // the servers' maximum per call
const FLOOD_IN_FLIGHT = 4;
const ECHO_IN_FLIGHT = 16;
/** The longest any single wait (a connect, an ack, a server start) may take. */
const TIMEOUT_MS = 10_000;
const START_TIMEOUT_MS = 30_000;
/** Everything, end to end: well past a normal run (about 90 s with the defaults). */
const WATCHDOG_MS = 120_000 + (REPS * 2 + 1) * 2 * (2 * SECONDS * 1000 + CONNECTS * 300 + 5_000);
// With --pin as bench/run.py: the servers on core 1, the load (the whole browser, all its
// processes) on core 0. Off by default: Chromium's network service, browser and renderer
// processes then share one core, which a browser never has to.
const PIN = args.pin && availableParallelism() >= 2 && hasTaskset();
const SERVER_CORE = "1";
const CLIENT_CORE = "0";

const CLIENTS = [
  { key: "sockeye", label: "Sockeye (wasm)" },
  { key: "official", label: "socket.io-client" },
];
/** The browser's own limit: bare WebSocket frames, measured once per server (middle rep). */
const RAW = { key: "raw", label: "raw WebSocket (limit)" };
const RAW_REP = Math.ceil(REPS / 2);
const ALL_SERVERS = {
  sockeye: {
    label: "Sockeye bench server",
    command: [join(ROOT, "target", "release", "sockeye-bench-server")],
    needs: [[join(ROOT, "target", "release", "sockeye-bench-server"), "cargo build --release -p sockeye-bench"]],
  },
  node: {
    label: "Node socket.io",
    command: [process.execPath, join(ROOT, "bench", "peers", "node", "server.mjs")],
    needs: [[join(ROOT, "bench", "peers", "node", "node_modules", "socket.io"), "npm ci --prefix bench/peers/node"]],
  },
};
const SERVER_KEYS = args.servers.split(",").map((s) => s.trim()).filter(Boolean);
for (const k of SERVER_KEYS) if (!ALL_SERVERS[k]) usage(`unknown server ${k} (known: ${Object.keys(ALL_SERVERS).join(", ")})`);

const PKG_DIR = join(ROOT, "client-wasm", "pkg");
const OFFICIAL_DIR = join(HERE, "node_modules", "socket.io-client", "dist");
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-background-timer-throttling",
  "--disable-renderer-backgrounding",
  "--disable-backgrounding-occluded-windows",
];

// ---- prerequisites ------------------------------------------------------------------------

function checkPrerequisites() {
  const missing = [
    [join(PKG_DIR, "sockeye.js"), "bash scripts/build-client.sh web"],
    [join(PKG_DIR, "sockeye_client_bg.wasm"), "bash scripts/build-client.sh web"],
    [join(OFFICIAL_DIR, "socket.io.esm.min.js"), "npm ci --prefix bench/browser"],
    [join(HERE, "node_modules", "playwright-core"), "npm ci --prefix bench/browser"],
    [CHROMIUM, "apt-get install -y chromium (or set CHROMIUM_PATH)"],
    ...SERVER_KEYS.flatMap((k) => ALL_SERVERS[k].needs),
  ].filter(([path]) => !existsSync(path));
  if (missing.length) {
    fail(`missing:\n${missing.map(([p, fix]) => `  ${relative(ROOT, p) || p}  (fix: ${fix})`).join("\n")}`);
    return false;
  }
  return true;
}

// ---- the static server: the page, the Sockeye package, the official bundle ----------------

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
};
const ROOTS = [
  ["/official/", OFFICIAL_DIR],
  ["/pkg/", PKG_DIR],
  ["/", HERE],
];

function resolveFile(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  for (const [prefix, dir] of ROOTS) {
    if (!decoded.startsWith(prefix)) continue;
    const file = normalize(join(dir, decoded.slice(prefix.length)));
    return file.startsWith(dir + sep) ? file : null;
  }
  return null;
}

async function startStaticServer() {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const file = resolveFile(path === "/" ? "/page.html" : path);
    let body;
    try {
      if (req.method !== "GET" || !file || !statSync(file).isFile()) throw new Error();
      body = await readFile(file);
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${path}`);
      return;
    }
    res.writeHead(200, {
      "content-type": MIME[extname(file)] ?? "application/octet-stream",
      "content-length": body.length,
      "cache-control": "no-store",
      // Cross-origin isolation: performance.now() at 5 µs instead of 100 µs. WebSockets
      // are not subject to it.
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    });
    res.end(body);
  });
  await withTimeout(
    new Promise((ok, err) => server.once("error", err).listen(0, "127.0.0.1", ok)),
    START_TIMEOUT_MS,
    "the static server to listen",
  );
  cleanups.push(
    () =>
      new Promise((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${server.address().port}`;
}

// ---- the servers under test ---------------------------------------------------------------

async function startServer(key) {
  const spec = ALL_SERVERS[key];
  const command = PIN ? ["taskset", "-c", SERVER_CORE, ...spec.command] : spec.command;
  const child = spawn(command[0], [...command.slice(1), "--port", "0"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let exited = null;
  const exit = new Promise((ok) =>
    child.once("exit", (code, signal) => {
      exited = signal ? `signal ${signal}` : `code ${code}`;
      ok();
    }),
  );
  // Both pipes are always drained, so a chatty server never blocks on them.
  const collect = (chunk) => {
    output = (output + chunk).slice(-4000);
  };
  child.stdout.setEncoding("utf8").on("data", collect);
  child.stderr.setEncoding("utf8").on("data", collect);
  child.once("error", (err) => collect(`\nspawn error: ${err.message}\n`));
  cleanups.push(async () => {
    if (exited === null) {
      child.kill("SIGTERM");
      const killed = await Promise.race([exit.then(() => true), new Promise((ok) => setTimeout(() => ok(false), 5000))]);
      if (!killed) {
        child.kill("SIGKILL");
        await withTimeout(exit, 5000, `${key} to exit after SIGKILL`).catch(() => {});
      }
    }
  });
  const address = await withTimeout(
    new Promise((ok, err) => {
      const look = () => {
        const m = output.match(/listening on (\S+)/);
        if (m) ok(m[1]);
      };
      child.stdout.on("data", look);
      exit.then(() => err(new Error(`${spec.label} exited (${exited}) before listening:\n${output}`)));
    }),
    START_TIMEOUT_MS,
    `${spec.label} to print "listening on" (output so far: ${JSON.stringify(output)})`,
  );
  return {
    key,
    label: spec.label,
    url: `http://${address}`,
    alive: () => exited === null,
    why: () => `${spec.label} exited (${exited}); its output:\n${output}`,
  };
}

// ---- noise: CPU used by processes that are not this run's ----------------------------------

/**
 * Jiffies: the machine's busy and total time (/proc/stat), and the time of this process
 * and all its descendants (browser, servers). Null where /proc is not there.
 */
function cpuSnapshot() {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    const busy = total - f[3] - f[4];
    const procs = new Map();
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, "utf8");
        const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        // ppid; utime, stime, and the reaped children's cutime, cstime.
        procs.set(Number(name), { ppid: Number(rest[1]), cpu: [11, 12, 13, 14].reduce((a, i) => a + Number(rest[i]), 0) });
      } catch {
        // gone meanwhile
      }
    }
    const ours = new Set([process.pid]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const [pid, p] of procs) {
        if (!ours.has(pid) && ours.has(p.ppid)) {
          ours.add(pid);
          grew = true;
        }
      }
    }
    let mine = 0;
    for (const pid of ours) mine += procs.get(pid)?.cpu ?? 0;
    return { total, busy, mine };
  } catch {
    return null;
  }
}

/** Percent of the whole machine that other processes used between two snapshots. */
function otherCpu(a, b) {
  if (!a || !b || b.total <= a.total) return null;
  const other = b.busy - a.busy - (b.mine - a.mine);
  return Math.max(0, Math.round((other / (b.total - a.total)) * 100));
}

// ---- statistics ---------------------------------------------------------------------------

function quantile(values, q) {
  const v = [...values].sort((a, b) => a - b);
  if (!v.length) return NaN;
  const pos = (v.length - 1) * q;
  const lo = Math.floor(pos);
  return v[lo] + (v[Math.min(lo + 1, v.length - 1)] - v[lo]) * (pos - lo);
}
const median = (values) => quantile(values, 0.5);
const round = (x, digits) => Number(x.toFixed(digits));

function fmtRate(x) {
  if (!Number.isFinite(x)) return "–";
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(0)}k`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(0);
}

// ---- the run ------------------------------------------------------------------------------

async function main() {
  if (!checkPrerequisites()) return;
  const began = Date.now();
  const watchdog = setTimeout(() => fail(`the whole run took more than ${WATCHDOG_MS / 1000} s`), WATCHDOG_MS);
  watchdog.unref();

  if (PIN) {
    // This process and everything it starts from here on (the browser) on core 0; the
    // servers get core 1 through their own taskset.
    execFileSync("taskset", ["-a", "-p", "-c", CLIENT_CORE, String(process.pid)], { stdio: "ignore" });
  }
  const { chromium } = await import("playwright-core");
  const web = await startStaticServer();
  const servers = [];
  for (const key of SERVER_KEYS) servers.push(await startServer(key));

  const browser = await withTimeout(
    // Signals are this script's to handle: it closes the browser with everything else.
    chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      timeout: START_TIMEOUT_MS,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    }),
    START_TIMEOUT_MS + 5000,
    "Chromium to start",
  );
  cleanups.push(() => withTimeout(browser.close(), 10_000, "Chromium to close"));
  const chromiumVersion = browser.version();
  const page = await browser.newPage();
  const pageErrors = [];
  page.on("pageerror", (err) => pageErrors.push(err.stack || String(err)));
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") pageErrors.push(`[console.${msg.type()}] ${msg.text()}`);
  });
  await withTimeout(page.goto(`${web}/page.html`), TIMEOUT_MS, "the page to load");
  const ready = await withTimeout(page.evaluate(() => window.ready), TIMEOUT_MS, "both client modules to load in the page").catch(
    (err) => {
      throw new Error(`${err.message}\n${pageErrors.join("\n")}`);
    },
  );
  log(
    `Chromium ${chromiumVersion}; page ${web} (crossOriginIsolated: ${ready.crossOriginIsolated}); ` +
      `servers ${servers.map((s) => `${s.key} ${s.url}`).join(", ")}; ` +
      (PIN ? `servers on core ${SERVER_CORE}, browser on core ${CLIENT_CORE}` : "not pinned"),
  );

  const inPage = async (what, fn, arg, ms) => {
    try {
      return await withTimeout(page.evaluate(fn, arg), ms, what);
    } catch (err) {
      const server = servers.find((s) => s.url === arg.url);
      const extra = [];
      if (server && !server.alive()) extra.push(server.why());
      if (pageErrors.length) extra.push(`page errors:\n${pageErrors.slice(-20).join("\n")}`);
      throw new Error(`${what}: ${err.message.split("\n")[0]}${extra.length ? `\n${extra.join("\n")}` : ""}`);
    }
  };

  const runs = [];
  for (let rep = 1; rep <= REPS; rep++) {
    for (const server of servers) {
      for (const client of rep === RAW_REP ? [...CLIENTS, RAW] : CLIENTS) {
        const common = { client: client.key, url: server.url, timeoutMs: TIMEOUT_MS };
        const tag = `${client.key} -> ${server.key}, rep ${rep}`;
        const before = cpuSnapshot();
        const connect = await inPage(
          `connect cycles (${tag})`,
          (a) => window.bench.connect(a),
          { ...common, n: CONNECTS, warmup: CONNECT_WARMUP, gapMs: CONNECT_GAP_MS },
          (CONNECTS + CONNECT_WARMUP) * (TIMEOUT_MS + CONNECT_GAP_MS),
        );
        const flood = await inPage(
          `flood (${tag})`,
          (a) => window.bench.flood(a),
          { ...common, seconds: SECONDS, inFlight: FLOOD_IN_FLIGHT, count: FLOOD_COUNT },
          SECONDS * 1000 + 3 * TIMEOUT_MS,
        );
        const echo = await inPage(
          `echo (${tag})`,
          (a) => window.bench.echo(a),
          { ...common, seconds: SECONDS, inFlight: ECHO_IN_FLIGHT },
          SECONDS * 1000 + 3 * TIMEOUT_MS,
        );
        if (!server.alive()) throw new Error(server.why());
        const other = otherCpu(before, cpuSnapshot());
        const run = {
          client: client.key,
          server: server.key,
          rep,
          connect_samples_ms: connect.samples.map((x) => round(x, 3)),
          connect_median_ms: round(median(connect.samples), 3),
          connect_p90_ms: round(quantile(connect.samples, 0.9), 3),
          events_per_sec: round(flood.events_per_sec, 0),
          acks_per_sec: round(echo.acks_per_sec, 0),
          flood_window_ms: round(flood.elapsed_ms, 1),
          echo_window_ms: round(echo.elapsed_ms, 1),
          other_cpu_pct: other,
        };
        runs.push(run);
        log(
          `[rep ${rep}] ${client.key.padEnd(8)} -> ${server.key.padEnd(7)} connect median ${run.connect_median_ms.toFixed(2)} ms ` +
            `p90 ${run.connect_p90_ms.toFixed(2)} ms, ${fmtRate(run.events_per_sec)} events/s, ${fmtRate(run.acks_per_sec)} acks/s` +
            (other === null ? "" : `; other processes ${other}% CPU`),
        );
      }
    }
  }
  if (pageErrors.length) throw new Error(`errors in the page:\n${pageErrors.slice(-20).join("\n")}`);

  // Connect times: median and p90 over every cycle of every repetition; rates: the median
  // of the repetitions, with their range.
  const results = [];
  for (const server of servers) {
    for (const client of [...CLIENTS, RAW]) {
      const mine = runs.filter((r) => r.client === client.key && r.server === server.key);
      const samples = mine.flatMap((r) => r.connect_samples_ms);
      const ev = mine.map((r) => r.events_per_sec);
      const ac = mine.map((r) => r.acks_per_sec);
      results.push({
        bench: "browser",
        client: client.key,
        client_label: client.label,
        baseline: client === RAW,
        server: server.key,
        server_label: server.label,
        transport: "websocket",
        reps: mine.length,
        connects: samples.length,
        connect_median_ms: round(median(samples), 3),
        connect_p90_ms: round(quantile(samples, 0.9), 3),
        events_per_sec: round(median(ev), 0),
        events_per_sec_min: Math.min(...ev),
        events_per_sec_max: Math.max(...ev),
        acks_per_sec: round(median(ac), 0),
        acks_per_sec_min: Math.min(...ac),
        acks_per_sec_max: Math.max(...ac),
        other_cpu_pct_max: mine.some((r) => r.other_cpu_pct !== null) ? Math.max(...mine.map((r) => r.other_cpu_pct ?? 0)) : null,
      });
    }
  }
  for (const r of results) {
    const zero = ["events_per_sec", "acks_per_sec"].filter((k) => !(r[k] > 0));
    if (zero.length || !(r.connect_median_ms > 0)) {
      throw new Error(`implausible figures for ${r.client} -> ${r.server}: ${JSON.stringify(r)}`);
    }
  }

  const meta = {
    date: new Date().toISOString().replace(/:\d\d\.\d+Z$/, "Z"),
    chromium: chromiumVersion,
    node: process.version,
    socket_io_client: JSON.parse(readFileSync(join(HERE, "node_modules", "socket.io-client", "package.json"), "utf8")).version,
    socket_io_server: peerVersion(),
    commit: gitCommit(),
    reps: REPS,
    seconds: SECONDS,
    connects_per_rep: CONNECTS,
    connect_warmup: CONNECT_WARMUP,
    connect_gap_ms: CONNECT_GAP_MS,
    raw_rep: RAW_REP,
    flood: { count: FLOOD_COUNT, in_flight: FLOOD_IN_FLIGHT, payload: "JSON string, 64 bytes" },
    echo: { in_flight: ECHO_IN_FLIGHT, payload: '{"data":"x"*52}, 64 bytes of JSON' },
    pinned: PIN ? { servers: SERVER_CORE, browser: CLIENT_CORE } : null,
    cpus: availableParallelism(),
    cross_origin_isolated: ready.crossOriginIsolated,
    wall_seconds: Math.round((Date.now() - began) / 1000),
    other_cpu_pct_max: runs.some((r) => r.other_cpu_pct !== null) ? Math.max(...runs.map((r) => r.other_cpu_pct ?? 0)) : null,
  };
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, "browser.json"), JSON.stringify({ meta, results, runs }, null, 1) + "\n");
  writeFileSync(join(args.out, "browser.md"), markdown(meta, results));
  for (const r of results) process.stdout.write(JSON.stringify(r) + "\n");
  log(`wrote ${relative(ROOT, join(args.out, "browser.md"))} and browser.json in ${meta.wall_seconds} s`);
}

function markdown(meta, results) {
  const lines = [
    "# Browser client benchmark",
    "",
    `\`node bench/browser/run.mjs${PIN ? " --pin" : ""}\` on ${meta.date}: Chromium ${meta.chromium} (headless), ` +
      `socket.io-client ${meta.socket_io_client} against Sockeye's wasm client on one page, ` +
      `WebSocket transport; commit ${meta.commit}; ${meta.cpus} cores` +
      (meta.pinned
        ? `, servers pinned to core ${meta.pinned.servers} and the browser to core ${meta.pinned.browser}`
        : ", nothing pinned (browser and server share them)") +
      `; Node ${meta.node}, Node peer socket.io ${meta.socket_io_server}. ` +
      `${meta.reps} repetition${meta.reps === 1 ? "" : "s"}, the clients alternating; whole run ${meta.wall_seconds} s.`,
    "",
    "| client | server | connect median ms | connect p90 ms | events/s | acks/s |",
    "|---|---|---:|---:|---:|---:|",
  ];
  for (const r of results) {
    lines.push(
      `| ${r.client_label} | ${r.server_label} | ${r.connect_median_ms.toFixed(2)} | ${r.connect_p90_ms.toFixed(2)} | ` +
        `${fmtRate(r.events_per_sec)} (${fmtRate(r.events_per_sec_min)}–${fmtRate(r.events_per_sec_max)}) | ` +
        `${fmtRate(r.acks_per_sec)} (${fmtRate(r.acks_per_sec_min)}–${fmtRate(r.acks_per_sec_max)}) |`,
    );
  }
  lines.push("", "| server | Sockeye / official: connect time | events/s | acks/s |", "|---|---:|---:|---:|");
  for (const server of [...new Set(results.map((r) => r.server))]) {
    // The limit row is there for scale; the ratios compare the two clients.
    const me = results.find((r) => r.server === server && r.client === "sockeye");
    const them = results.find((r) => r.server === server && r.client === "official");
    lines.push(
      `| ${me.server_label} | ${(me.connect_median_ms / them.connect_median_ms).toFixed(2)}x | ` +
        `${(me.events_per_sec / them.events_per_sec).toFixed(2)}x | ${(me.acks_per_sec / them.acks_per_sec).toFixed(2)}x |`,
    );
  }
  lines.push(
    "",
    `Time to connect: \`io(url, { forceNew: true, transports: ["websocket"] })\` until \`connect\`, then ` +
      `\`disconnect()\`; ${meta.connects_per_rep} sequential cycles per repetition after ${meta.connect_warmup} unmeasured ` +
      `ones, ${meta.connect_gap_ms} ms apart (Chromium holds back a WebSocket to the same host:port until 10 ms after the ` +
      `previous handshake), median and p90 over all of them (lower is better; in the ratio table above 1 means Sockeye ` +
      `is slower). ` +
      `events/s: \`flood\` events counted in the listener while ${meta.flood.in_flight} \`flood\` calls of ` +
      `${meta.flood.count} events (${meta.flood.payload}) are kept in flight for ${meta.seconds} s. acks/s: \`echo\` ` +
      `(${meta.echo.payload}) with ${meta.echo.in_flight} emits in flight for ${meta.seconds} s. Rates are the median ` +
      `of the repetitions (min–max). The raw WebSocket rows are the same measurements on a bare WebSocket with ` +
      `hand-written Engine.IO/Socket.IO frames and no parsing, once per server (repetition ${meta.raw_rep}): the most ` +
      `any client could get from this browser.`,
    "",
    meta.other_cpu_pct_max === null
      ? "Other processes' CPU use during the runs: not measured (no /proc)."
      : `Other processes (not this run's browser, servers or Node) used at most ${meta.other_cpu_pct_max}% of the ` +
          `machine's CPU during a run${meta.other_cpu_pct_max >= 10 ? ": a busy machine, figures disturbed" : ""} ` +
          "(per run in the JSON, `other_cpu_pct`).",
    "",
    "Raw figures: `bench/results/browser.json`.",
    "",
  );
  return lines.join("\n");
}

function peerVersion() {
  try {
    const lock = JSON.parse(readFileSync(join(ROOT, "bench", "peers", "node", "package-lock.json"), "utf8"));
    return lock.packages?.["node_modules/socket.io"]?.version ?? "?";
  } catch {
    return "?";
  }
}

function gitCommit() {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: ROOT, encoding: "utf8" }).trim();
    return head + (dirty ? " (with uncommitted changes)" : "");
  } catch {
    return "unknown";
  }
}

main().then(
  () => {
    if (exiting) return;
    exiting = true;
    return cleanup().then(() => process.exit(0));
  },
  (err) => fail(err?.stack ?? String(err)),
);
