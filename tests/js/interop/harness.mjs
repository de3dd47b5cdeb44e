// Shared machinery of the interop suite: starts/stops the server under test, connects
// official `socket.io-client` clients in each transport configuration, and waits on
// events and promises with timeouts. There are no sleeps: every wait ends on an event.
//
// Environment:
//   SERVER_CMD              shell command that starts the fixture server (see FIXTURE.md);
//                           default: node reference-server.mjs (the official socket.io server)
//   INTEROP_START_TIMEOUT_MS  how long to wait for "listening on" (default 60000)
//   INTEROP_TIMEOUT_MS      how long any single wait may take (default 10000)
//   INTEROP_VERBOSE=1       copy the server's stdout/stderr to this process's stderr

import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Manager } from "socket.io-client";

const HERE = dirname(fileURLToPath(import.meta.url));

export const SERVER_CMD =
  process.env.SERVER_CMD ||
  `${shellQuote(process.execPath)} ${shellQuote(join(HERE, "reference-server.mjs"))}`;
export const START_TIMEOUT_MS = Number(process.env.INTEROP_START_TIMEOUT_MS || 60_000);
export const TIMEOUT_MS = Number(process.env.INTEROP_TIMEOUT_MS || 10_000);
/** Upper bound for one whole test (several waits in a row). */
export const TEST_TIMEOUT_MS = Math.max(60_000, 4 * TIMEOUT_MS);
const VERBOSE = process.env.INTEROP_VERBOSE === "1";

function shellQuote(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

// ---- transport configurations ------------------------------------------------------------

/**
 * The three transport configurations every scenario runs in.
 * `expect` is the transport the engine must end up on; `upgrade` says whether an
 * Engine.IO upgrade (polling -> websocket) must happen.
 */
export const MODES = [
  { name: "websocket", opts: { transports: ["websocket"] }, expect: "websocket", upgrade: false },
  { name: "polling", opts: { transports: ["polling"], upgrade: false }, expect: "polling", upgrade: false },
  {
    name: "polling+upgrade",
    opts: { transports: ["polling", "websocket"], upgrade: true },
    expect: "websocket",
    upgrade: true,
  },
];

/**
 * `it` with a timeout, so that a stuck scenario fails instead of hanging the run:
 * scenario(name, fn) or scenario(name, { timeout }, fn).
 */
export function scenario(name, opts, fn) {
  if (typeof opts === "function") [opts, fn] = [{}, opts];
  return it(name, { timeout: TEST_TIMEOUT_MS, ...opts }, fn);
}

/** `describe(title [mode])` once per transport configuration. */
export function describeModes(title, fn) {
  for (const mode of MODES) {
    describe(`${title} [${mode.name}]`, { timeout: 20 * TEST_TIMEOUT_MS }, () => fn(mode));
  }
}

// ---- waiting -----------------------------------------------------------------------------

/** Resolves/rejects like `promise`, or rejects after `ms` with a message naming `what`. */
export function withTimeout(promise, what, ms = TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Waits for `event` on any emitter with on/off (Node EventEmitter, socket.io-client Socket
 * and Manager, engine.io-client Socket). Resolves with the array of the event's arguments.
 * `filter(...args)` may restrict which occurrence counts.
 */
export function waitForEvent(emitter, event, { what, filter, timeout = TIMEOUT_MS } = {}) {
  let listener;
  const p = new Promise((resolve) => {
    listener = (...args) => {
      if (filter && !filter(...args)) return;
      emitter.off(event, listener);
      resolve(args);
    };
    emitter.on(event, listener);
  });
  return withTimeout(p, what ?? `event "${event}"`, timeout).finally(() => emitter.off(event, listener));
}

/**
 * Records every event a socket.io-client Socket receives (via onAny), in order, from the
 * moment it is created. Lets a test wait for an event that may already have arrived, and
 * check afterwards that some event did NOT arrive.
 */
export class EventLog {
  constructor(socket, label) {
    this.label = label;
    this.entries = []; // { event, args }
    this.waiters = new Set();
    socket.onAny((event, ...args) => {
      const entry = { event, args };
      this.entries.push(entry);
      for (const w of [...this.waiters]) w(entry);
    });
  }

  /** Entries with this event name (and matching `filter(...args)`, if given). */
  all(event, filter) {
    return this.entries.filter((e) => e.event === event && (!filter || filter(...e.args))).map((e) => e.args);
  }

  count(event, filter) {
    return this.all(event, filter).length;
  }

  /** Args of the first `event` matching `filter`, already received or still to come. */
  waitFor(event, filter, what) {
    const found = this.entries.find((e) => e.event === event && (!filter || filter(...e.args)));
    if (found) return Promise.resolve(found.args);
    let waiter;
    const p = new Promise((resolve) => {
      waiter = (e) => {
        if (e.event === event && (!filter || filter(...e.args))) resolve(e.args);
      };
      this.waiters.add(waiter);
    });
    return withTimeout(p, `${this.label}: ${what ?? `event "${event}"`}`).finally(() => this.waiters.delete(waiter));
  }
}

/**
 * Emits `event` with `args` and an ack callback; resolves with the array of ack
 * arguments (all of them, unlike emitWithAck which keeps only the first).
 */
export function emitAck(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(TIMEOUT_MS).emit(event, ...args, (err, ...res) => {
      if (err) reject(new Error(`no ack for "${event}" within ${TIMEOUT_MS} ms: ${err.message}`));
      else resolve(res);
    });
  });
}

// ---- server under test -------------------------------------------------------------------

const liveGroups = new Set();
process.on("exit", () => {
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** A running server started from SERVER_CMD. */
export class ServerUnderTest {
  constructor(cmd = SERVER_CMD) {
    this.cmd = cmd;
    this.child = null;
    this.port = 0;
    this.url = null;
    this.output = []; // last lines of stdout/stderr, for error messages
  }

  _remember(line) {
    this.output.push(line);
    if (this.output.length > 200) this.output.shift();
    if (VERBOSE) process.stderr.write(`[server] ${line}\n`);
  }

  /** Starts the server with PORT=port (0 = any) and waits for "listening on". */
  async start(port = 0) {
    assert.equal(this.child, null, "server already running");
    const child = spawn("sh", ["-c", this.cmd], {
      env: { ...process.env, PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // own process group: stop() signals the shell and everything under it
    });
    this.child = child;
    liveGroups.add(child.pid);
    child.closed = new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
    child.closed.then(() => liveGroups.delete(child.pid));

    const listening = new Promise((resolve, reject) => {
      const onLine = (stream) => {
        let buf = "";
        stream.setEncoding("utf8");
        stream.on("data", (chunk) => {
          buf += chunk;
          let i;
          while ((i = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, i).replace(/\r$/, "");
            buf = buf.slice(i + 1);
            this._remember(line);
            const m = /listening on 127\.0\.0\.1:(\d+)/.exec(line);
            if (m) resolve(Number(m[1]));
          }
        });
      };
      onLine(child.stdout);
      onLine(child.stderr);
      child.once("error", reject);
      child.closed.then(({ code, signal }) =>
        reject(new Error(`server exited before listening (code ${code}, signal ${signal})`)),
      );
    });

    try {
      this.port = await withTimeout(listening, `"listening on" from: ${this.cmd}`, START_TIMEOUT_MS);
    } catch (err) {
      await this.stop().catch(() => {});
      err.message += `\n--- server output ---\n${this.output.join("\n")}`;
      throw err;
    }
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  /** SIGTERM to the whole process group; waits until every process holding its stdout is gone. */
  async stop() {
    const child = this.child;
    if (!child) return;
    this.child = null;
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
    try {
      await withTimeout(child.closed, "the server to exit after SIGTERM");
    } catch {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
      await child.closed;
    }
  }

  /** Stops the server and starts it again on the same port. */
  async restart() {
    const port = this.port;
    await this.stop();
    await this.start(port);
    assert.equal(this.port, port, "restarted server must listen on the same port");
  }
}

export async function startServer(cmd = SERVER_CMD) {
  return new ServerUnderTest(cmd).start(0);
}

/** Starts one server for the whole test file (before) and stops it (after). */
export function useServer() {
  const handle = { server: null };
  before(async () => {
    handle.server = await startServer();
  });
  after(async () => {
    await handle.server?.stop();
  });
  return handle;
}

// ---- clients -----------------------------------------------------------------------------

/**
 * One test's clients. Every Manager and Socket created through the pool is closed by
 * close(), which every test file calls in afterEach.
 */
export class ClientPool {
  constructor(url, mode) {
    this.url = url;
    this.mode = mode;
    this.managers = [];
    this.sockets = [];
    this.counter = 0;
  }

  /**
   * A new Manager (= one Engine.IO connection) in this pool's transport configuration.
   * Reconnection is off unless `opts` turns it on.
   */
  manager(opts = {}) {
    const manager = new Manager(this.url, {
      path: "/socket.io/",
      reconnection: false,
      ...this.mode.opts,
      ...opts,
    });
    // Manager opens its engine in the constructor (autoConnect); record upgrades from the start.
    // A reconnecting Manager creates a new engine per attempt; watch each one once.
    manager.upgrades = [];
    manager.opens = 0;
    const watched = new WeakSet();
    const watch = () => {
      const engine = manager.engine;
      if (!engine || watched.has(engine)) return;
      watched.add(engine);
      engine.on("upgrade", (transport) => {
        engine.upgradedTo = transport.name;
        manager.upgrades.push(transport.name);
      });
    };
    watch();
    manager.on("open", () => {
      manager.opens += 1;
      watch();
    });
    this.managers.push(manager);
    return manager;
  }

  /** A Socket for `nsp` on `manager` (a new one if not given), with an EventLog as `.log`. */
  socket({ nsp = "/", auth, manager, managerOpts } = {}) {
    manager ??= this.manager(managerOpts);
    const socket = manager.socket(nsp, auth === undefined ? {} : { auth });
    socket.log = new EventLog(socket, `client ${++this.counter} (${nsp})`);
    this.sockets.push(socket);
    return socket;
  }

  /**
   * Connects a socket and waits for `connect` and the fixture's `welcome` (kept as
   * `.welcome`). In the upgrade configuration it also waits until the engine upgraded,
   * unless `awaitUpgrade` is false. Rejects on `connect_error`.
   */
  async connect({ awaitUpgrade = true, ...opts } = {}) {
    const socket = this.socket(opts);
    await awaitConnect(socket);
    [socket.welcome] = await socket.log.waitFor("welcome", undefined, "the welcome event");
    if (awaitUpgrade) await this.assertTransport(socket.io);
    return socket;
  }

  /** Connects a socket that the server must refuse; resolves with the connect_error. */
  async connectError(opts = {}) {
    const socket = this.socket(opts);
    const outcome = await withTimeout(
      new Promise((resolve) => {
        socket.once("connect", () => resolve({ connected: true }));
        socket.once("connect_error", (err) => resolve({ err }));
      }),
      "connect_error",
    );
    assert.ok(!outcome.connected, "the server accepted a connection it must refuse");
    return outcome.err;
  }

  /**
   * Checks the engine is on the configuration's transport. In the upgrade configuration,
   * waits for the engine's `upgrade` event first (unless it already happened).
   */
  async assertTransport(manager) {
    if (this.mode.upgrade) {
      const engine = manager.engine;
      if (!engine.upgradedTo) {
        await waitForEvent(engine, "upgrade", { what: "the Engine.IO upgrade to websocket" });
      }
      assert.equal(engine.upgradedTo, "websocket", "upgraded to websocket");
    } else {
      assert.deepEqual(manager.upgrades, [], "no transport upgrade");
    }
    assert.equal(manager.engine.transport.name, this.mode.expect, "engine transport");
  }

  /** Disconnects every socket and closes every manager. */
  async close() {
    const closing = [];
    for (const socket of this.sockets) socket.disconnect();
    for (const manager of this.managers) {
      const engine = manager.engine;
      if (engine && engine.readyState !== "closed") {
        closing.push(waitForEvent(engine, "close", { what: "the engine to close" }).catch(() => {}));
      }
      manager._close(); // no reconnection; closes the engine if a socket did not already
    }
    await Promise.all(closing);
    this.sockets = [];
    this.managers = [];
  }
}

/** Waits for `connect`; rejects with the server's message on `connect_error`. */
export async function awaitConnect(socket) {
  if (socket.connected) return;
  const outcome = await withTimeout(
    new Promise((resolve) => {
      socket.once("connect", () => resolve({}));
      socket.once("connect_error", (err) => resolve({ err }));
    }),
    "connect",
  );
  if (outcome.err) throw new Error(`connect_error: ${outcome.err.message}`);
}

/**
 * Per-test client pool for `describeModes` bodies: a fresh ClientPool before each test,
 * everything closed after it.
 */
export function usePool(serverHandle, mode) {
  const handle = { pool: null };
  beforeEach(() => {
    handle.pool = new ClientPool(serverHandle.server.url, mode);
  });
  afterEach(async () => {
    await handle.pool?.close();
    handle.pool = null;
  });
  return handle;
}

// ---- HTTP --------------------------------------------------------------------------------

/** POST /push with a JSON body; asserts the fixture's `200 {"ok":true}`. */
export async function push(url, body) {
  const res = await withTimeout(
    fetch(`${url}/push`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
    "the POST /push response",
  );
  const text = await res.text();
  assert.equal(res.status, 200, `POST /push status (body: ${text})`);
  assert.deepEqual(JSON.parse(text), { ok: true }, "POST /push body");
}

/** A name no other test uses (rooms, markers). */
let unique = 0;
export function uniq(prefix) {
  return `${prefix}-${process.pid}-${++unique}`;
}
