// Shared machinery of the interop suite: starts/stops the server under test, connects
// official `socket.io-client` clients in each transport configuration, and waits on
// events and promises with timeouts. There are no sleeps: every wait ends on an event.
// Processes, waits and HTTP helpers come from ../lib/ (see ../README.md).
//
// Environment:
//   SOCKEYE_TARGET_DIR      where Sockeye's binaries are (default <repo>/target/debug); the
//                           server under test is its interop_fixture
//   SERVER_CMD              instead, a shell command that starts another fixture server
//                           (see FIXTURE.md), e.g. "node interop/reference-server.mjs"
//   SOCKEYE_PARSER          the Socket.IO parser on both ends: "json" (default, the
//                           built-in one) or "msgpack" (socket.io-msgpack-parser). With
//                           "msgpack" every client gets `parser` from socket.io-msgpack-parser,
//                           Sockeye's fixture is started with `--parser msgpack`, and a
//                           SERVER_CMD server must use that parser itself (the reference
//                           server reads this variable, which its environment inherits)
//   INTEROP_START_TIMEOUT_MS  how long to wait for "listening on" (default 60000)
//   INTEROP_TIMEOUT_MS      how long any single wait may take (default 10000)
//   TEST_VERBOSE=1          copy the server's stdout/stderr to this process's stderr

import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Manager } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import { sockeyeCommand } from "../lib/bins.mjs";
import { push } from "../lib/http.mjs";
import { START_TIMEOUT_MS, shellQuote } from "../lib/process.mjs";
import { ServerUnderTest as Server } from "../lib/server.mjs";
import { TIMEOUT_MS, waitForEvent, withTimeout } from "../lib/wait.mjs";

export { START_TIMEOUT_MS, TIMEOUT_MS, push, shellQuote, waitForEvent, withTimeout };

// ---- the parser ---------------------------------------------------------------------------

/**
 * The Socket.IO parser both ends use (SOCKEYE_PARSER). `name`: "json" or "msgpack";
 * `clientOpts`: what every Manager gets; `fixtureArgs`: appended to Sockeye's fixture.
 */
export const PARSER = (() => {
  const name = process.env.SOCKEYE_PARSER || "json";
  switch (name) {
    case "json":
      return { name, clientOpts: {}, fixtureArgs: [] };
    case "msgpack":
      return { name, clientOpts: { parser: msgpackParser }, fixtureArgs: ["--parser", "msgpack"] };
    default:
      throw new Error(`SOCKEYE_PARSER=${name}: expected "json" or "msgpack"`);
  }
})();

/**
 * The shell command starting the fixture: SERVER_CMD, or Sockeye's interop_fixture (with
 * `--parser msgpack` under the msgpack parser).
 */
export const SERVER_CMD = process.env.SERVER_CMD || sockeyeCommand("interop_fixture", ...PARSER.fixtureArgs);
/** Upper bound for one whole test (several waits in a row). */
export const TEST_TIMEOUT_MS = Math.max(60_000, 4 * TIMEOUT_MS);

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

// ---- waiting (withTimeout and waitForEvent: ../lib/wait.mjs) -----------------------------

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

/**
 * A running server started from a shell command (default SERVER_CMD), behind an address
 * that survives restarts (../lib/server.mjs): `stop()` then `start(server.port)`, or
 * `restart()`, bring it back at the same URL.
 */
export class ServerUnderTest extends Server {
  constructor(cmd = SERVER_CMD) {
    super(cmd);
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
    await handle.server?.close();
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
      ...PARSER.clientOpts,
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

// ---- HTTP (push: ../lib/http.mjs) -------------------------------------------------------

/** A name no other test uses (rooms, markers). */
let unique = 0;
export function uniq(prefix) {
  return `${prefix}-${process.pid}-${++unique}`;
}
