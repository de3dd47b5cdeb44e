#!/usr/bin/env node
// The browser benchmark: Sockeye's wasm client against the official socket.io-client in
// headless Chromium, against Sockeye's benchmark server and the Node socket.io peer (same
// contract, see bench/src/bin/sockeye-bench-server.rs). Per client and server: time to
// connect (io() -> `connect`, median and p90 of sequential forceNew cycles), `flood`
// events received per second and `echo` acks per second over WebSocket and over
// long-polling, the page's main-thread time per received `flood` event (CDP
// Performance.getMetrics), the JS heap after 100,000 events in one connection (CDP, after
// a forced GC), and each client's download size; plus, once per server, the WebSocket
// figures on a bare WebSocket with hand-written frames: the browser's limit.
//
//   node bench/browser/run.mjs [--reps 3] [--seconds 3] [--connects 30] [--servers sockeye,node]
//                              [--heap-events 100000] [--heap-transport polling|websocket]
//                              [--package client-wasm/pkg] [--profile] [--note TEXT]
//                              [--profile-transport polling|websocket]
//                              [--pin] [--out bench/results]
//
// Needs: target/release/sockeye-bench-server (cargo build --release -p sockeye-bench), a
// built Sockeye package (bash scripts/build-client.sh web [DIR]; --package DIR, default
// client-wasm/pkg), npm ci in bench/browser and in bench/peers/node, /usr/bin/chromium
// (or CHROMIUM_PATH). --profile adds a CPU profile of each client's polling flood (top
// functions by self time) to the report; --note TEXT is printed in it (e.g. which commit a
// --package was built from).
//
// Prints one JSON line per (client, server) on stdout, progress on stderr; writes
// <out>/browser.json and <out>/browser.md. Exits 1 with a message when anything fails;
// every wait is bounded and every child process is stopped on the way out.

import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename, dirname, extname, join, normalize, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
// The same forwarder as the browser test suite's static server.
import { forwardRequest, forwardUpgrade } from "../../tests/js/lib/http.mjs";

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
    "heap-events": { type: "string", default: "100000" },
    "heap-transport": { type: "string", default: "polling" },
    package: { type: "string", default: join(ROOT, "client-wasm", "pkg") },
    profile: { type: "boolean", default: false },
    "profile-transport": { type: "string", default: "polling" },
    note: { type: "string", default: "" },
    pin: { type: "boolean", default: false },
    out: { type: "string", default: join(ROOT, "bench", "results") },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n").slice(1, 26).join("\n") + "\n");
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
const FLOOD_COUNT = 1000; // the servers' maximum per call
const HEAP_EVENTS = Math.ceil(num("heap-events", FLOOD_COUNT * 2) / FLOOD_COUNT) * FLOOD_COUNT;
const CONNECT_WARMUP = 3;
/** Idle time before each connect: past Chromium's 10 ms per-endpoint WebSocket throttle. */
const CONNECT_GAP_MS = 30;
const FLOOD_IN_FLIGHT = 4;
const ECHO_IN_FLIGHT = 16;
const TRANSPORTS = ["websocket", "polling"];
// The heap phase's transport: polling by default, where 100k events take a few seconds
// (over WebSocket this browser delivers a few thousand messages a second).
const HEAP_TRANSPORT = args["heap-transport"];
if (!TRANSPORTS.includes(HEAP_TRANSPORT)) usage(`--heap-transport must be one of ${TRANSPORTS.join(", ")}`);
const PROFILE_TRANSPORT = args["profile-transport"];
if (!TRANSPORTS.includes(PROFILE_TRANSPORT)) usage(`--profile-transport must be one of ${TRANSPORTS.join(", ")}`);
/** The longest any single wait (a connect, an ack, a server start) may take. */
const TIMEOUT_MS = 10_000;
const START_TIMEOUT_MS = 30_000;
/** The heap phase's flood: generous, at 2,000 events/s at worst. */
const HEAP_TIMEOUT_MS = (HEAP_EVENTS / 2000) * 1000 + 3 * TIMEOUT_MS;
/** Everything, end to end: well past a normal run (about 4 minutes with the defaults). */
const WATCHDOG_MS =
  120_000 +
  (REPS * 2 + 1) * 2 * (4 * SECONDS * 1000 + CONNECTS * 300 + 10_000) +
  4 * (HEAP_TIMEOUT_MS + (args.profile ? SECONDS * 1000 + TIMEOUT_MS : 0));
// With --pin as bench/run.py: the servers on core 1, the load (the whole browser, all its
// processes, and this process: the pages' static server and /socket.io/ forwarder) on
// core 0. Off by default: Chromium's network service, browser and renderer processes then
// share one core, which a browser never has to.
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

const PKG_DIR = resolve(args.package);
const OFFICIAL_DIR = join(HERE, "node_modules", "socket.io-client", "dist");
/** What a page loads for socket.io-client: its UMD bundle (the esm.min file mangles `_placeholder`). */
const OFFICIAL_FILE = "socket.io.min.js";
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
    [join(PKG_DIR, "sockeye.js"), "bash scripts/build-client.sh web, or --package DIR"],
    [join(OFFICIAL_DIR, OFFICIAL_FILE), "npm ci --prefix bench/browser"],
    [join(HERE, "node_modules", "playwright-core"), "npm ci --prefix bench/browser"],
    [CHROMIUM, "apt-get install -y chromium (or set CHROMIUM_PATH)"],
    ...SERVER_KEYS.flatMap((k) => ALL_SERVERS[k].needs),
  ].filter(([path]) => !existsSync(path));
  if (!missing.length && !sockeyeFiles().some((f) => f.endsWith(".wasm"))) {
    missing.push([join(PKG_DIR, "*.wasm"), "bash scripts/build-client.sh web, or --package DIR"]);
  }
  if (missing.length) {
    fail(`missing:\n${missing.map(([p, fix]) => `  ${relative(ROOT, p) || p}  (fix: ${fix})`).join("\n")}`);
    return false;
  }
  return true;
}

// ---- package sizes: what a page downloads ---------------------------------------------------

/** Every .wasm and .js file of the Sockeye package (as scripts/build-client.sh counts them). */
function sockeyeFiles(dir = PKG_DIR) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...sockeyeFiles(path));
    else if (/\.(wasm|js)$/.test(entry.name)) found.push(path);
  }
  return found.sort();
}

/** gzip -9 of a file, as scripts/build-client.sh measures it (zlib's if there is no gzip). */
function gzipSize(path) {
  try {
    return execFileSync("gzip", ["-9", "-c", path], { maxBuffer: 1 << 28 }).length;
  } catch {
    return gzipSync(readFileSync(path), { level: 9 }).length;
  }
}

function packageSizes() {
  const measure = (paths, base) => {
    const files = paths.map((p) => ({ file: relative(base, p), raw: statSync(p).size, gzip: gzipSize(p) }));
    return { files, raw: files.reduce((a, f) => a + f.raw, 0), gzip: files.reduce((a, f) => a + f.gzip, 0) };
  };
  return {
    sockeye: { dir: relative(ROOT, PKG_DIR).startsWith("..") ? PKG_DIR : relative(ROOT, PKG_DIR), ...measure(sockeyeFiles(), PKG_DIR) },
    official: {
      dir: relative(ROOT, OFFICIAL_DIR),
      ...measure([join(OFFICIAL_DIR, OFFICIAL_FILE)], OFFICIAL_DIR),
    },
  };
}

// ---- the static server: the page and both clients, /socket.io/ forwarded -----------------

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
const FORWARD_PREFIX = "/socket.io/";

function resolveFile(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes("\0")) return null;
  for (const [prefix, dir] of ROOTS) {
    if (!decoded.startsWith(prefix)) continue;
    const file = normalize(join(dir, decoded.slice(prefix.length)));
    return file.startsWith(dir + sep) ? file : null;
  }
  return null;
}

/**
 * Serves the page, page.js, the Sockeye package at /pkg/ and socket.io-client's dist/ at
 * /official/ on 127.0.0.1:0, and forwards /socket.io/ (HTTP requests and WebSocket
 * upgrades) to `target` (the server under test), so that a page of this origin reaches
 * that server with same-origin requests. One per server under test.
 */
async function startStaticServer(target) {
  const upstream = new URL(target);
  const server = createServer(async (req, res) => {
    if (req.url.startsWith(FORWARD_PREFIX)) {
      forwardRequest(req, res, upstream);
      return;
    }
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
      // are not subject to it; polling goes to this origin.
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    });
    res.end(body);
  });
  const upgraded = new Set();
  server.on("upgrade", (req, socket, head) => {
    upgraded.add(socket);
    socket.on("close", () => upgraded.delete(socket));
    if (!req.url.startsWith(FORWARD_PREFIX)) {
      socket.end("HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n");
      return;
    }
    forwardUpgrade(req, socket, head, upstream);
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
        for (const socket of upgraded) socket.destroy();
      }),
  );
  return `http://127.0.0.1:${server.address().port}`;
}

// ---- CDP: main-thread time, JS heap, CPU profile -------------------------------------------

/** The page's cumulative main-thread time, seconds: all tasks, and script alone. */
async function mainThread(cdp) {
  const { metrics } = await withTimeout(cdp.send("Performance.getMetrics"), TIMEOUT_MS, "Performance.getMetrics");
  const get = (name) => metrics.find((m) => m.name === name)?.value ?? NaN;
  return { task: get("TaskDuration"), script: get("ScriptDuration") };
}

/** The page's JS heap after a forced GC, bytes (and array buffers' backing stores, if reported). */
async function heapAfterGc(cdp) {
  await withTimeout(cdp.send("HeapProfiler.collectGarbage"), TIMEOUT_MS, "HeapProfiler.collectGarbage");
  const usage = await withTimeout(cdp.send("Runtime.getHeapUsage"), TIMEOUT_MS, "Runtime.getHeapUsage");
  return { used: usage.usedSize, backing: usage.backingStorageSize ?? null };
}

/**
 * Self time per function of a CDP Profiler profile: the top `n` (ms, and % of the busy
 * samples: `(idle)` left out), and how much of the window the main thread was idle.
 */
function topFunctions(profile, n) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const f = byId.get(id).callFrame;
    if (f.functionName === "(idle)") {
      idle += dt;
      return;
    }
    const where = f.url ? ` ${basename(f.url.split("?")[0]) || f.url}:${f.lineNumber + 1}` : "";
    const key = `${f.functionName || "(anonymous)"}${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  const busy = total - idle;
  return {
    idle_pct: round((idle / total) * 100, 1),
    busy_ms: round(busy / 1000, 1),
    top: [...self]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([fn, us]) => ({ function: fn, self_ms: round(us / 1000, 1), pct_of_busy: round((us / busy) * 100, 1) })),
  };
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
  const watchdog = setTimeout(() => fail(`the whole run took more than ${Math.round(WATCHDOG_MS / 1000)} s`), WATCHDOG_MS);
  watchdog.unref();

  if (PIN) {
    // This process and everything it starts from here on (the browser) on core 0; the
    // servers get core 1 through their own taskset.
    execFileSync("taskset", ["-a", "-p", "-c", CLIENT_CORE, String(process.pid)], { stdio: "ignore" });
  }
  const sizes = packageSizes();
  log(
    `package sizes (gzip -9 / raw): Sockeye ${sizes.sockeye.gzip} / ${sizes.sockeye.raw} bytes (${sizes.sockeye.files.length} files), ` +
      `socket.io-client ${sizes.official.gzip} / ${sizes.official.raw} bytes`,
  );
  const { chromium } = await import("playwright-core");
  const servers = [];
  for (const key of SERVER_KEYS) {
    const server = await startServer(key);
    server.web = await startStaticServer(server.url);
    servers.push(server);
  }

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
  const pageErrors = [];
  // Console errors and warnings (a failed request, say): reported, not fatal, with the
  // measurement that was running. Uncaught exceptions (pageErrors) fail the run.
  const consoleMessages = [];
  let phase = "loading";

  // One page per client and server, each in its own browser context (so its own renderer
  // process: the CDP figures are that client's alone), loaded from that server's static
  // server so that its polling requests are same-origin.
  let crossOriginIsolated = true;
  const pages = new Map();
  for (const server of servers) {
    for (const client of [...CLIENTS, RAW]) {
      const context = await withTimeout(browser.newContext(), TIMEOUT_MS, "a browser context");
      const page = await withTimeout(context.newPage(), TIMEOUT_MS, "a page");
      page.on("pageerror", (err) => pageErrors.push(`[${client.key}] ${err.stack || String(err)}`));
      page.on("console", (msg) => {
        if (msg.type() === "error" || msg.type() === "warning") {
          consoleMessages.push({ client: client.key, server: server.key, phase, type: msg.type(), text: msg.text() });
        }
      });
      await withTimeout(page.goto(`${server.web}/page.html?client=${client.key}`), TIMEOUT_MS, "the page to load");
      const ready = await withTimeout(page.evaluate(() => window.ready), TIMEOUT_MS, `the ${client.key} client to load in the page`).catch(
        (err) => {
          throw new Error(`${err.message}\n${[...pageErrors, ...consoleMessages.map((m) => m.text)].join("\n")}`);
        },
      );
      crossOriginIsolated &&= ready.crossOriginIsolated;
      const cdp = await withTimeout(context.newCDPSession(page), TIMEOUT_MS, "a CDP session");
      await withTimeout(cdp.send("Performance.enable"), TIMEOUT_MS, "Performance.enable");
      pages.set(`${server.key}/${client.key}`, { page, cdp });
    }
  }
  log(
    `Chromium ${chromiumVersion}; crossOriginIsolated: ${crossOriginIsolated}; ` +
      `servers ${servers.map((s) => `${s.key} ${s.url} (pages at ${s.web})`).join(", ")}; ` +
      (PIN ? `servers on core ${SERVER_CORE}, browser on core ${CLIENT_CORE}` : "not pinned"),
  );

  const inPage = async (server, client, what, fn, arg, ms) => {
    const { page } = pages.get(`${server.key}/${client.key}`);
    phase = what;
    try {
      return await withTimeout(page.evaluate(fn, arg), ms, what);
    } catch (err) {
      const extra = [];
      if (!server.alive()) extra.push(server.why());
      if (pageErrors.length) extra.push(`page errors:\n${pageErrors.slice(-20).join("\n")}`);
      if (consoleMessages.length) extra.push(`console:\n${consoleMessages.slice(-20).map((m) => `[${m.client}] ${m.text}`).join("\n")}`);
      throw new Error(`${what}: ${err.message.split("\n")[0]}${extra.length ? `\n${extra.join("\n")}` : ""}`);
    }
  };
  // WebSocket straight to the server (as an app would; no CORS involved); polling through
  // the page's own origin, whose static server forwards it.
  const urlFor = (server, transport) => (transport === "websocket" ? server.url : null);

  /**
   * One flood connection: open (with a warm-up flood), measure with `run` (floodRun's
   * arguments) between two readings of the page's main-thread time, close.
   */
  const floodWithCpu = async (server, client, transport, run, tag, ms) => {
    const { cdp } = pages.get(`${server.key}/${client.key}`);
    const common = { client: client.key, url: urlFor(server, transport), transport, count: FLOOD_COUNT, timeoutMs: TIMEOUT_MS };
    try {
      await inPage(server, client, `flood connect (${tag})`, (a) => window.bench.floodOpen(a), common, 3 * TIMEOUT_MS);
      const t0 = await mainThread(cdp);
      const r = await inPage(server, client, `flood (${tag})`, (a) => window.bench.floodRun(a), { ...common, ...run }, ms);
      const t1 = await mainThread(cdp);
      return {
        ...r,
        task_us_per_event: ((t1.task - t0.task) * 1e6) / r.received,
        script_us_per_event: ((t1.script - t0.script) * 1e6) / r.received,
      };
    } finally {
      await inPage(server, client, `flood close (${tag})`, () => window.bench.close(), {}, TIMEOUT_MS).catch(() => {});
    }
  };

  // The JS heap, first, on the freshly loaded pages: after load (forced GC), then after
  // HEAP_EVENTS flood events in one connection (warm-up flood included), the connection
  // still open.
  const heaps = [];
  for (const server of servers) {
    for (const client of CLIENTS) {
      const { cdp } = pages.get(`${server.key}/${client.key}`);
      const tag = `${client.key} -> ${server.key}, heap`;
      const loaded = await heapAfterGc(cdp);
      const common = {
        client: client.key,
        url: urlFor(server, HEAP_TRANSPORT),
        transport: HEAP_TRANSPORT,
        count: FLOOD_COUNT,
        timeoutMs: TIMEOUT_MS,
      };
      let after;
      let flood;
      try {
        await inPage(server, client, `flood connect (${tag})`, (a) => window.bench.floodOpen(a), common, 3 * TIMEOUT_MS);
        flood = await inPage(
          server,
          client,
          `${HEAP_EVENTS} flood events (${tag})`,
          (a) => window.bench.floodRun(a),
          { ...common, total: HEAP_EVENTS - FLOOD_COUNT, inFlight: FLOOD_IN_FLIGHT },
          HEAP_TIMEOUT_MS,
        );
        after = await heapAfterGc(cdp);
      } finally {
        await inPage(server, client, `flood close (${tag})`, () => window.bench.close(), {}, TIMEOUT_MS).catch(() => {});
      }
      const heap = {
        client: client.key,
        server: server.key,
        events: flood.received + FLOOD_COUNT,
        loaded_kb: round(loaded.used / 1024, 0),
        after_kb: round(after.used / 1024, 0),
        loaded_backing_kb: loaded.backing === null ? null : round(loaded.backing / 1024, 0),
        after_backing_kb: after.backing === null ? null : round(after.backing / 1024, 0),
      };
      heaps.push(heap);
      log(
        `[heap] ${client.key.padEnd(8)} -> ${server.key.padEnd(7)} JS heap ${heap.loaded_kb} KB loaded, ${heap.after_kb} KB after ` +
          `${heap.events} events over ${HEAP_TRANSPORT}` + (heap.after_backing_kb === null ? "" : ` (array buffers ${heap.after_backing_kb} KB)`),
      );
    }
  }

  const runs = [];
  for (let rep = 1; rep <= REPS; rep++) {
    for (const server of servers) {
      for (const client of rep === RAW_REP ? [...CLIENTS, RAW] : CLIENTS) {
        const tag = (transport) => `${client.key} -> ${server.key} ${transport}, rep ${rep}`;
        const before = cpuSnapshot();
        const connect = await inPage(
          server,
          client,
          `connect cycles (${tag("websocket")})`,
          (a) => window.bench.connect(a),
          {
            client: client.key,
            url: server.url,
            transport: "websocket",
            n: CONNECTS,
            warmup: CONNECT_WARMUP,
            gapMs: CONNECT_GAP_MS,
            timeoutMs: TIMEOUT_MS,
          },
          (CONNECTS + CONNECT_WARMUP) * (TIMEOUT_MS + CONNECT_GAP_MS),
        );
        const run = {
          client: client.key,
          server: server.key,
          rep,
          connect_samples_ms: connect.samples.map((x) => round(x, 3)),
          connect_median_ms: round(median(connect.samples), 3),
          connect_p90_ms: round(quantile(connect.samples, 0.9), 3),
        };
        for (const transport of client === RAW ? ["websocket"] : TRANSPORTS) {
          const span = { seconds: SECONDS, inFlight: FLOOD_IN_FLIGHT };
          const flood =
            client === RAW
              ? await inPage(
                  server,
                  client,
                  `flood (${tag(transport)})`,
                  (a) => window.bench.flood(a),
                  { client: "raw", url: server.url, count: FLOOD_COUNT, timeoutMs: TIMEOUT_MS, ...span },
                  SECONDS * 1000 + 3 * TIMEOUT_MS,
                )
              : await floodWithCpu(server, client, transport, span, tag(transport), SECONDS * 1000 + 3 * TIMEOUT_MS);
          const echo = await inPage(
            server,
            client,
            `echo (${tag(transport)})`,
            (a) => window.bench.echo(a),
            {
              client: client.key,
              url: urlFor(server, transport),
              transport,
              seconds: SECONDS,
              inFlight: ECHO_IN_FLIGHT,
              timeoutMs: TIMEOUT_MS,
            },
            SECONDS * 1000 + 3 * TIMEOUT_MS,
          );
          run[transport] = {
            events_per_sec: round(flood.events_per_sec, 0),
            acks_per_sec: round(echo.acks_per_sec, 0),
            flood_window_ms: round(flood.elapsed_ms, 1),
            echo_window_ms: round(echo.elapsed_ms, 1),
            ...(client === RAW
              ? {}
              : {
                  flood_events_measured: flood.received,
                  task_us_per_event: round(flood.task_us_per_event, 2),
                  script_us_per_event: round(flood.script_us_per_event, 2),
                }),
          };
        }
        if (!server.alive()) throw new Error(server.why());
        run.other_cpu_pct = otherCpu(before, cpuSnapshot());
        runs.push(run);
        const ws = run.websocket;
        const lp = run.polling;
        log(
          `[rep ${rep}] ${client.key.padEnd(8)} -> ${server.key.padEnd(7)} connect median ${run.connect_median_ms.toFixed(2)} ms ` +
            `p90 ${run.connect_p90_ms.toFixed(2)} ms; websocket ${fmtRate(ws.events_per_sec)} events/s` +
            (ws.task_us_per_event === undefined ? "" : ` (${ws.task_us_per_event} µs main thread each)`) +
            `, ${fmtRate(ws.acks_per_sec)} acks/s` +
            (lp
              ? `; polling ${fmtRate(lp.events_per_sec)} events/s (${lp.task_us_per_event} µs each), ${fmtRate(lp.acks_per_sec)} acks/s`
              : "") +
            (run.other_cpu_pct === null ? "" : `; other processes ${run.other_cpu_pct}% CPU`),
        );
      }
    }
  }

  // Optional: where each client's main thread spends a flood (CPU profile), over --profile-transport.
  const profiles = [];
  if (args.profile) {
    for (const server of servers) {
      for (const client of CLIENTS) {
        const { cdp } = pages.get(`${server.key}/${client.key}`);
        const tag = `${client.key} -> ${server.key} ${PROFILE_TRANSPORT}, profile`;
        const common = { client: client.key, url: urlFor(server, PROFILE_TRANSPORT), transport: PROFILE_TRANSPORT, count: FLOOD_COUNT, timeoutMs: TIMEOUT_MS };
        let profile;
        try {
          await inPage(server, client, `flood connect (${tag})`, (a) => window.bench.floodOpen(a), common, 3 * TIMEOUT_MS);
          await withTimeout(cdp.send("Profiler.enable"), TIMEOUT_MS, "Profiler.enable");
          await withTimeout(cdp.send("Profiler.setSamplingInterval", { interval: 100 }), TIMEOUT_MS, "Profiler.setSamplingInterval");
          await withTimeout(cdp.send("Profiler.start"), TIMEOUT_MS, "Profiler.start");
          await inPage(
            server,
            client,
            `flood (${tag})`,
            (a) => window.bench.floodRun(a),
            { ...common, seconds: SECONDS, inFlight: FLOOD_IN_FLIGHT },
            SECONDS * 1000 + 3 * TIMEOUT_MS,
          );
          ({ profile } = await withTimeout(cdp.send("Profiler.stop"), TIMEOUT_MS, "Profiler.stop"));
          await withTimeout(cdp.send("Profiler.disable"), TIMEOUT_MS, "Profiler.disable");
        } finally {
          await inPage(server, client, `flood close (${tag})`, () => window.bench.close(), {}, TIMEOUT_MS).catch(() => {});
        }
        const summary = topFunctions(profile, 12);
        profiles.push({ client: client.key, server: server.key, transport: PROFILE_TRANSPORT, ...summary });
        log(
          `[profile] ${client.key} -> ${server.key} ${PROFILE_TRANSPORT} flood: idle ${summary.idle_pct}%; busy: ` +
            summary.top.slice(0, 5).map((t) => `${t.function} ${t.pct_of_busy}%`).join(", "),
        );
      }
    }
  }
  if (pageErrors.length) throw new Error(`errors in the page:\n${pageErrors.slice(-20).join("\n")}`);
  for (const m of consoleMessages) log(`console.${m.type} on the ${m.client} page (${m.server}) during ${m.phase}: ${m.text}`);

  // Connect times: median and p90 over every cycle of every repetition; rates and CPU per
  // event: the median of the repetitions, with their range.
  const results = [];
  for (const server of servers) {
    for (const client of [...CLIENTS, RAW]) {
      const mine = runs.filter((r) => r.client === client.key && r.server === server.key);
      const samples = mine.flatMap((r) => r.connect_samples_ms);
      const result = {
        bench: "browser",
        client: client.key,
        client_label: client.label,
        baseline: client === RAW,
        server: server.key,
        server_label: server.label,
        reps: mine.length,
        connects: samples.length,
        connect_median_ms: round(median(samples), 3),
        connect_p90_ms: round(quantile(samples, 0.9), 3),
      };
      for (const transport of TRANSPORTS) {
        const per = mine.map((r) => r[transport]).filter(Boolean);
        if (!per.length) continue;
        const stat = (key, digits) => {
          const v = per.map((p) => p[key]).filter((x) => x !== undefined);
          if (!v.length) return {};
          return { [key]: round(median(v), digits), [`${key}_min`]: Math.min(...v), [`${key}_max`]: Math.max(...v) };
        };
        result[transport] = {
          ...stat("events_per_sec", 0),
          ...stat("acks_per_sec", 0),
          ...stat("task_us_per_event", 2),
          ...stat("script_us_per_event", 2),
        };
      }
      const heap = heaps.find((h) => h.client === client.key && h.server === server.key);
      if (heap) result.heap = heap;
      result.other_cpu_pct_max = mine.some((r) => r.other_cpu_pct !== null) ? Math.max(...mine.map((r) => r.other_cpu_pct ?? 0)) : null;
      results.push(result);
    }
  }
  for (const r of results) {
    const bad = [];
    if (!(r.connect_median_ms > 0)) bad.push("connect");
    for (const t of r.baseline ? ["websocket"] : TRANSPORTS) {
      if (!(r[t]?.events_per_sec > 0) || !(r[t]?.acks_per_sec > 0)) bad.push(`${t} rates`);
      if (!r.baseline && !(r[t]?.task_us_per_event > 0)) bad.push(`${t} main-thread time`);
    }
    if (!r.baseline && !(r.heap?.after_kb > 0)) bad.push("heap");
    if (bad.length) throw new Error(`implausible figures (${bad.join(", ")}) for ${r.client} -> ${r.server}: ${JSON.stringify(r)}`);
  }

  const meta = {
    date: new Date().toISOString().replace(/:\d\d\.\d+Z$/, "Z"),
    command: ["node", relative(ROOT, fileURLToPath(import.meta.url)), ...process.argv.slice(2)]
      .map((a) => (/^[\w./:=,+-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`))
      .join(" "),
    // bench/run.py says how it was started (--only browser, say).
    invoked_by: process.env.SOCKEYE_BENCH_INVOKED_BY || null,
    note: args.note || null,
    commit: gitCommit(),
    package_dir: sizes.sockeye.dir,
    chromium: chromiumVersion,
    node: process.version,
    socket_io_client: JSON.parse(readFileSync(join(HERE, "node_modules", "socket.io-client", "package.json"), "utf8")).version,
    socket_io_client_file: `dist/${OFFICIAL_FILE}`,
    socket_io_server: peerVersion(),
    reps: REPS,
    seconds: SECONDS,
    connects_per_rep: CONNECTS,
    connect_warmup: CONNECT_WARMUP,
    connect_gap_ms: CONNECT_GAP_MS,
    raw_rep: RAW_REP,
    heap_events: HEAP_EVENTS,
    heap_transport: HEAP_TRANSPORT,
    flood: { count: FLOOD_COUNT, in_flight: FLOOD_IN_FLIGHT, payload: "JSON string, 64 bytes" },
    echo: { in_flight: ECHO_IN_FLIGHT, payload: '{"data":"x"*52}, 64 bytes of JSON' },
    pinned: PIN ? { servers: SERVER_CORE, browser: CLIENT_CORE } : null,
    cpus: availableParallelism(),
    cross_origin_isolated: crossOriginIsolated,
    wall_seconds: Math.round((Date.now() - began) / 1000),
    other_cpu_pct_max: runs.some((r) => r.other_cpu_pct !== null) ? Math.max(...runs.map((r) => r.other_cpu_pct ?? 0)) : null,
  };
  mkdirSync(args.out, { recursive: true });
  writeFileSync(
    join(args.out, "browser.json"),
    JSON.stringify({ meta, sizes, results, heaps, profiles, console: consoleMessages, runs }, null, 1) + "\n",
  );
  writeFileSync(join(args.out, "browser.md"), markdown(meta, sizes, results, profiles, consoleMessages));
  for (const r of results) process.stdout.write(JSON.stringify(r) + "\n");
  log(`wrote ${relative(ROOT, join(args.out, "browser.md"))} and browser.json in ${meta.wall_seconds} s`);
}

// ---- the report ---------------------------------------------------------------------------

function markdown(meta, sizes, results, profiles, consoleMessages) {
  const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
  const lines = [
    "# Browser client benchmark",
    "",
    `\`${meta.command}\`${meta.invoked_by ? ` (run by \`${meta.invoked_by}\`)` : ""} on ${meta.date}, commit ${meta.commit}: Chromium ${meta.chromium} (headless), ` +
      `Sockeye's wasm client (${meta.package_dir}) against socket.io-client ${meta.socket_io_client} ` +
      `(${meta.socket_io_client_file}), each on its own page; ${meta.cpus} cores` +
      (meta.pinned
        ? `, servers pinned to core ${meta.pinned.servers} and the browser (and the pages' static server) to core ${meta.pinned.browser}`
        : ", nothing pinned (browser and server share them)") +
      `; Node ${meta.node}, Node peer socket.io ${meta.socket_io_server}. ` +
      `${meta.reps} repetition${meta.reps === 1 ? "" : "s"}, the clients alternating; whole run ${meta.wall_seconds} s.`,
    "",
    ...(meta.note ? [`Note: ${meta.note}`, ""] : []),
  ];
  const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : "–");
  const range = (o, key, fmt) =>
    o?.[key] === undefined ? "–" : `${fmt(o[key])} (${fmt(o[`${key}_min`])}–${fmt(o[`${key}_max`])})`;
  const us = (x) => x.toFixed(1);
  for (const server of [...new Set(results.map((r) => r.server))]) {
    const me = results.find((r) => r.server === server && r.client === "sockeye");
    const them = results.find((r) => r.server === server && r.client === "official");
    const raw = results.find((r) => r.server === server && r.client === "raw");
    const rows = [
      ["connect median, ms (lower is better)", (r) => r?.connect_median_ms?.toFixed(2) ?? "–", (r) => r?.connect_median_ms],
      ["connect p90, ms (lower is better)", (r) => r?.connect_p90_ms?.toFixed(2) ?? "–", (r) => r?.connect_p90_ms],
      ...["websocket", "polling"].flatMap((t) => [
        [`events/s, ${t}`, (r) => range(r?.[t], "events_per_sec", fmtRate), (r) => r?.[t]?.events_per_sec],
      ]),
      ...["websocket", "polling"].map((t) => [
        `acks/s, ${t}`,
        (r) => range(r?.[t], "acks_per_sec", fmtRate),
        (r) => r?.[t]?.acks_per_sec,
      ]),
      ...["websocket", "polling"].map((t) => [
        `main-thread µs per event, ${t} flood (lower is better; in tasks [in script])`,
        (r) =>
          r?.[t]?.task_us_per_event === undefined
            ? "–"
            : `${range(r[t], "task_us_per_event", us)} [${us(r[t].script_us_per_event)}]`,
        (r) => r?.[t]?.task_us_per_event,
      ]),
      [
        `JS heap after ${meta.heap_events / 1000}k events, KB (lower is better)`,
        (r) => (r?.heap ? String(r.heap.after_kb) : "–"),
        (r) => r?.heap?.after_kb,
      ],
      ["JS heap on load, before connecting, KB", (r) => (r?.heap ? String(r.heap.loaded_kb) : "–"), (r) => r?.heap?.loaded_kb],
    ];
    lines.push(
      `## ${me.server_label}`,
      "",
      "| | Sockeye (wasm) | socket.io-client | ratio Sockeye / socket.io-client | raw WebSocket (limit) |",
      "|---|---:|---:|---:|---:|",
    );
    for (const [label, show, value] of rows) {
      lines.push(`| ${label} | ${show(me)} | ${show(them)} | ${ratio(value(me), value(them))} | ${show(raw)} |`);
    }
    lines.push("");
  }
  lines.push(
    "## Download size",
    "",
    "| | Sockeye (wasm) | socket.io-client | ratio Sockeye / socket.io-client |",
    "|---|---:|---:|---:|",
    `| gzip -9 | ${kb(sizes.sockeye.gzip)} | ${kb(sizes.official.gzip)} | ${ratio(sizes.sockeye.gzip, sizes.official.gzip)} |`,
    `| raw | ${kb(sizes.sockeye.raw)} | ${kb(sizes.official.raw)} | ${ratio(sizes.sockeye.raw, sizes.official.raw)} |`,
    "",
    `Sockeye: every .wasm and .js file in ${sizes.sockeye.dir} (${sizes.sockeye.files
      .map((f) => `${f.file} ${kb(f.gzip)} gzip`)
      .join(", ")}); socket.io-client: ${sizes.official.dir}/${sizes.official.files[0].file}.`,
    "",
    "## How",
    "",
    "Ratios above 1 mean Sockeye's figure is the larger: better for rates, worse for times, " +
      "main-thread time and heap. Each client runs on its own page (in its own browser context, so its own renderer " +
      "process), served by a static server that also forwards `/socket.io/` (HTTP and WebSocket upgrades) to the " +
      "server under test. WebSocket figures connect straight to the server (`io(serverUrl, { transports: " +
      '["websocket"] })`), as before; polling ones (`io(location.origin, { transports: ["polling"] })`) go through ' +
      "the forwarder, since the benchmark servers send no CORS headers: the forwarder's hop is in the polling " +
      "figures of both clients.",
    "",
    `Time to connect: \`io(url, { forceNew: true, transports: ["websocket"] })\` until \`connect\`, then ` +
      `\`disconnect()\`; ${meta.connects_per_rep} sequential cycles per repetition after ${meta.connect_warmup} unmeasured ` +
      `ones, ${meta.connect_gap_ms} ms apart (Chromium holds back a WebSocket to the same host:port until 10 ms after the ` +
      `previous handshake), median and p90 over all of them. ` +
      `events/s: \`flood\` events counted in the listener while ${meta.flood.in_flight} \`flood\` calls of ` +
      `${meta.flood.count} events (${meta.flood.payload}) are kept in flight for ${meta.seconds} s (over polling many ` +
      `packets arrive in one HTTP response). acks/s: \`echo\` (${meta.echo.payload}) with ${meta.echo.in_flight} emits ` +
      `in flight for ${meta.seconds} s. Rates and µs per event are the median of the repetitions (min–max).`,
    "",
    "Main-thread µs per event: the page's `TaskDuration` (all main-thread work: receiving messages, the client, " +
      "the listener, GC) and, in brackets, `ScriptDuration` (JS and wasm alone) from CDP `Performance.getMetrics`, " +
      "read before and after a flood window (a connection already open and warmed up, the floods in flight at the end " +
      "included), divided by the events received in it. These are wall-clock durations of the main thread's tasks, " +
      "not its CPU time: on a busy machine they include time the thread waited for a core. The browser's network " +
      "process and the forwarder are not in them.",
    "",
    `JS heap: on each client's freshly loaded page, CDP \`HeapProfiler.collectGarbage\` then \`Runtime.getHeapUsage\` ` +
      `(\`usedSize\`), on load and after ${meta.heap_events} \`flood\` events received in one ${meta.heap_transport} ` +
      "connection (still open). It is the page's V8 heap, client code included. Sockeye's wasm linear memory is not " +
      "in it, nor in Chromium's `backingStorageSize` (in the JSON as `*_backing_kb`; tens of KB for both clients), " +
      "and the glue does not expose it: the wasm client's own memory is not measured here.",
    "",
    `The raw WebSocket column: the WebSocket measurements on a bare WebSocket with hand-written Engine.IO/Socket.IO ` +
      `frames and no parsing, once per server (repetition ${meta.raw_rep}): the most any client could get from this browser.`,
    "",
    meta.other_cpu_pct_max === null
      ? "Other processes' CPU use during the runs: not measured (no /proc)."
      : `Other processes (not this run's browser, servers or Node) used at most ${meta.other_cpu_pct_max}% of the ` +
          `machine's CPU during a run${meta.other_cpu_pct_max >= 10 ? ": a busy machine, figures disturbed" : ""} ` +
          "(per run in the JSON, `other_cpu_pct`).",
    "",
  );
  if (profiles.length) {
    lines.push(
      `## CPU profile of the ${profiles[0].transport} flood`,
      "",
      `CDP \`Profiler\` (100 µs sampling) over one ${meta.seconds} s ${profiles[0].transport} flood window per client (after the ` +
        "repetitions): how much of it the main thread was idle, and the functions with the most self time, in % of " +
        "the busy samples (`(program)`: the browser's own work outside JS).",
      "",
    );
    for (const p of profiles) {
      const r = results.find((x) => x.client === p.client && x.server === p.server);
      lines.push(
        `**${r.client_label} → ${r.server_label}** (idle ${p.idle_pct}%, busy ${p.busy_ms} ms): ` +
          p.top.slice(0, 10).map((t) => `\`${t.function}\` ${t.pct_of_busy}%`).join(", "),
        "",
      );
    }
  }
  if (consoleMessages.length) {
    lines.push(
      "## Console errors and warnings in the pages",
      "",
      "Not fatal; \"during\": what was being measured at the time, on any page.",
      "",
    );
    const seen = new Map();
    for (const m of consoleMessages) {
      const key = `${m.client}|${m.type}|${m.text}`;
      const entry = seen.get(key) ?? { ...m, phases: new Set(), n: 0 };
      entry.n++;
      entry.phases.add(m.phase.replace(/, rep \d+\)$/, ")"));
      seen.set(key, entry);
    }
    for (const e of seen.values()) {
      const label = results.find((r) => r.client === e.client)?.client_label ?? e.client;
      lines.push(`- ${label}, ${e.n}x console.${e.type} \`${e.text}\`, during: ${[...e.phases].slice(0, 6).join("; ")}`);
    }
    lines.push("");
  }
  lines.push("Raw figures: `bench/results/browser.json`.", "");
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
    // Results of earlier runs (bench/results) do not make the sources dirty.
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results"], {
      cwd: ROOT,
      encoding: "utf8",
    }).trim();
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
