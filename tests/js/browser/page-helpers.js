// In-page helpers for the browser suite, loaded by page.html as window.T. They use only
// the public socket.io-client API (io, on/onAny, emit, timeout), so they work the same
// with the official client and with Sockeye's. No sleeps: every wait ends on an event or
// fails after a timeout that names what it waited for.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const TIMEOUT_MS = Number(params.get("timeout") || 10000);

  function withTimeout(promise, what, ms = TIMEOUT_MS) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  /** Waits for one occurrence of `event` on an emitter; resolves with its arguments. */
  function once(emitter, event, { filter, what, timeout } = {}) {
    let listener;
    const p = new Promise((resolve) => {
      listener = (...args) => {
        if (filter && !filter(...args)) return;
        resolve(args);
      };
      emitter.on(event, listener);
    });
    return withTimeout(p, what ?? `event "${event}"`, timeout).finally(() => emitter.off(event, listener));
  }

  /**
   * An ordered record of events: `{ event, args }`. Lets a test wait for an event that may
   * already have arrived, and check afterwards that some event did not arrive.
   */
  class Log {
    constructor(label) {
      this.label = label;
      this.entries = [];
      this.waiters = new Set();
    }

    add(event, args) {
      const entry = { event, args };
      this.entries.push(entry);
      for (const w of [...this.waiters]) w(entry);
    }

    /** Records the given events of an emitter under `prefix + event`. */
    attach(emitter, events, prefix = "") {
      for (const event of events) emitter.on(event, (...args) => this.add(prefix + event, args));
      return this;
    }

    all(event, filter) {
      return this.entries.filter((e) => e.event === event && (!filter || filter(...e.args))).map((e) => e.args);
    }

    count(event, filter) {
      return this.all(event, filter).length;
    }

    /** Event names in order (optionally only those matching `keep(name)`). */
    names(keep) {
      return this.entries.map((e) => e.event).filter((n) => !keep || keep(n));
    }

    /** Resolves with the arguments of the n-th (1-based) matching entry, past or future. */
    waitFor(event, filter, what, n = 1) {
      const found = this.all(event, filter);
      if (found.length >= n) return Promise.resolve(found[n - 1]);
      let waiter;
      let seen = found.length;
      const p = new Promise((resolve) => {
        waiter = (e) => {
          if (e.event === event && (!filter || filter(...e.args)) && ++seen === n) resolve(e.args);
        };
        this.waiters.add(waiter);
      });
      return withTimeout(p, `${this.label}: ${what ?? `event "${event}"${n > 1 ? ` #${n}` : ""}`}`).finally(() =>
        this.waiters.delete(waiter),
      );
    }
  }

  const SOCKET_EVENTS = ["connect", "disconnect", "connect_error"];
  const MANAGER_EVENTS = ["open", "close", "error", "reconnect_attempt", "reconnect", "reconnect_error", "reconnect_failed"];
  let counter = 0;

  /**
   * `client.io(url, opts)` with a Log as `socket.log`: every received event (via onAny),
   * the socket's own events as "$connect", "$disconnect", "$connect_error", and its
   * Manager's events as "io:reconnect_attempt", "io:reconnect", ...
   */
  function io(url, opts) {
    const socket = window.client.io(url, opts);
    const log = new Log(`socket ${++counter} (${url})`);
    socket.onAny((event, ...args) => log.add(event, args));
    log.attach(socket, SOCKET_EVENTS, "$");
    log.attach(socket.io, MANAGER_EVENTS, "io:");
    socket.log = log;
    return socket;
  }

  /** Resolves when the socket is connected; rejects with the server's message on connect_error. */
  async function connected(socket) {
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

  /** io() + wait for connect and the fixture's welcome (kept as socket.welcome). */
  async function connect(url, opts) {
    const socket = io(url, opts);
    await connected(socket);
    [socket.welcome] = await socket.log.waitFor("welcome", undefined, "the welcome event");
    return socket;
  }

  /**
   * The engine's transport once settled: in the upgrade configuration waits for the
   * Engine.IO upgrade (socket.io.engine emits "upgrade") unless it already happened.
   */
  async function transport(socket, expectUpgrade) {
    const engine = socket.io.engine;
    if (expectUpgrade && engine.transport.name !== "websocket") {
      await once(engine, "upgrade", { what: "the Engine.IO upgrade to websocket" });
    }
    return engine.transport.name;
  }

  /** emit with an ack callback (bounded by socket.timeout); resolves with all ack arguments. */
  function ack(socket, event, ...args) {
    return new Promise((resolve, reject) => {
      socket.timeout(TIMEOUT_MS).emit(event, ...args, (err, ...res) => {
        if (err) reject(new Error(`no ack for "${event}" within ${TIMEOUT_MS} ms: ${err.message}`));
        else resolve(res);
      });
    });
  }

  /**
   * A structured-clone-free rendering of a value for the test process: ArrayBuffers and
   * typed arrays become { $type, bytes }, functions { $type: "function" }, Errors
   * { $type: "Error", message, data }.
   */
  function describe(v) {
    if (v instanceof ArrayBuffer) return { $type: "ArrayBuffer", bytes: [...new Uint8Array(v)] };
    if (ArrayBuffer.isView(v)) {
      return { $type: v.constructor.name, bytes: [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)] };
    }
    if (typeof Blob !== "undefined" && v instanceof Blob) return { $type: "Blob", size: v.size };
    if (typeof v === "function") return { $type: "function" };
    if (v instanceof Error) return { $type: "Error", message: v.message, data: describe(v.data) };
    if (Array.isArray(v)) return v.map(describe);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, describe(x)]));
    return v;
  }

  window.T = { TIMEOUT_MS, withTimeout, once, Log, io, connected, connect, transport, ack, describe };
})();
