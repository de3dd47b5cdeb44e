// Sockeye's browser client: socket.io-client's API over the wasm build of Sockeye's
// protocol crate. This glue keeps only what JavaScript does best (listener lists,
// variadic arguments, Promises, the manager cache, and JSON: arguments cross to the
// wasm as JSON text plus binary attachments, see binary.js); every packet, timer rule
// and reconnection decision is made in Rust (`RawManager`, `RawSocket`).

// The wasm is ready once sockeye_init.js has run: the build script copies in the one
// for the target (`web` instantiates it with top-level await; a bundler does it itself).
import "./sockeye_init.js";
import { RawManager } from "./sockeye_client.js";
import { decodeArgs, encodeArgs } from "./binary.js";

/** The Socket.IO protocol revision spoken. */
export const protocol = 5;

const RESERVED_EVENTS = new Set([
  "connect",
  "connect_error",
  "disconnect",
  "disconnecting",
  "newListener",
  "removeListener",
]);

// As in socket.io-client's Emitter, event 7 and event "7" are one event (a server may
// name an event with a number).
const keyOf = (event) => (typeof event === "number" ? String(event) : event);

/** A small event emitter with the method names socket.io-client's Emitter has. */
class Emitter {
  #listeners = new Map();

  on(event, fn) {
    event = keyOf(event);
    const list = this.#listeners.get(event);
    if (list) list.push(fn);
    else this.#listeners.set(event, [fn]);
    return this;
  }

  addEventListener(event, fn) {
    return this.on(event, fn);
  }

  once(event, fn) {
    const wrapper = (...args) => {
      this.off(event, wrapper);
      fn.apply(this, args);
    };
    wrapper.fn = fn;
    return this.on(event, wrapper);
  }

  off(event, fn) {
    event = keyOf(event);
    if (event === undefined) {
      this.#listeners.clear();
    } else if (fn === undefined) {
      this.#listeners.delete(event);
    } else {
      const list = this.#listeners.get(event) || [];
      const i = list.findIndex((l) => l === fn || l.fn === fn);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.#listeners.delete(event);
    }
    return this;
  }

  removeListener(event, fn) {
    return this.off(event, fn);
  }

  removeAllListeners(event) {
    return this.off(event);
  }

  removeEventListener(event, fn) {
    return this.off(event, fn);
  }

  /** Calls the listeners of `event` locally. */
  emitReserved(event, ...args) {
    for (const fn of this.listeners(event)) fn.apply(this, args);
    return this;
  }

  // emitReserved for a received packet's array `[event, ...args]`, without copying the
  // listener list unless there are several (a listener may remove itself).
  _emitPacket(packet) {
    const list = this.#listeners.get(keyOf(packet[0]));
    if (!list) return;
    const args = packet.slice(1);
    if (list.length === 1) list[0].apply(this, args);
    else for (const fn of list.slice()) fn.apply(this, args);
  }

  listeners(event) {
    return [...(this.#listeners.get(keyOf(event)) || [])];
  }

  hasListeners(event) {
    return this.listeners(event).length > 0;
  }
}

/** One connection to a server, shared by the sockets of its namespaces. */
export class Manager extends Emitter {
  constructor(uri, opts) {
    super();
    if (uri && typeof uri === "object") {
      opts = uri;
      uri = undefined;
    }
    this.opts = opts || {};
    this.uri = uri;
    this.nsps = {};
    this._autoConnect = this.opts.autoConnect !== false;
    // As in socket.io-client, a query string in the URL is the handshake's query, over
    // `opts.query`.
    const { origin, query } = parseUri(uri);
    this._raw = new RawManager(origin, query ? { ...this.opts, query } : this.opts);
    this.engine = new Engine(this._raw, this.opts.transports);
    this._raw.setListener((name, arg) => {
      if (name === "upgrade") this.engine.emitReserved("upgrade", this.engine.transport);
      else this.emitReserved(name, arg);
    });
    if (this._autoConnect) this.open();
  }

  /** Opens the connection (done on its own unless `autoConnect: false`). */
  open(fn) {
    if (fn) this.once("open", () => fn()).once("error", (err) => fn(err));
    this._raw.open();
    return this;
  }

  connect(fn) {
    return this.open(fn);
  }

  /** Closes the connection and stops reconnecting. */
  close() {
    this._raw.close();
    return this;
  }

  disconnect() {
    return this.close();
  }

  /** The socket of namespace `nsp` on this connection. */
  socket(nsp, opts) {
    let socket = this.nsps[nsp];
    if (!socket) {
      socket = new Socket(this, nsp, opts);
      this.nsps[nsp] = socket;
    } else if (this._autoConnect && !socket.active) {
      socket.connect();
    }
    return socket;
  }

  get _reconnecting() {
    return this._raw.reconnecting;
  }

  // socket.io-client's option accessors: no argument reads, one argument writes.
  _option(key, value, fallback) {
    if (value === undefined) return this.opts[key] ?? fallback;
    this.opts = { ...this.opts, [key]: value };
    this._raw.configure(this.opts);
    return this;
  }

  reconnection(v) {
    return this._option("reconnection", v, true);
  }

  reconnectionAttempts(v) {
    return this._option("reconnectionAttempts", v, Infinity);
  }

  reconnectionDelay(v) {
    return this._option("reconnectionDelay", v, 1000);
  }

  reconnectionDelayMax(v) {
    return this._option("reconnectionDelayMax", v, 5000);
  }

  randomizationFactor(v) {
    return this._option("randomizationFactor", v, 0.5);
  }

  timeout(v) {
    return this._option("timeout", v, 20000);
  }
}

/**
 * A view of the Engine.IO connection (`socket.io.engine`): its id, its transport, and
 * the `upgrade` event when it moves from polling to WebSocket.
 */
class Engine extends Emitter {
  constructor(raw, transports) {
    super();
    this._raw = raw;
    // Before the first connection, the transport that will open it.
    this._last = (transports || ["polling"])[0];
  }

  get id() {
    return this._raw.engineId;
  }

  /** The transport in use, or the last one used while disconnected. */
  get transport() {
    this._last = this._raw.transport ?? this._last;
    return { name: this._last };
  }

  /** Drops the connection as a network cut would ("forced close"); the manager reconnects. */
  close() {
    this._raw.closeEngine();
  }
}

/** One namespace on a Manager's connection: socket.io-client's `Socket`. */
export class Socket extends Emitter {
  constructor(io, nsp, opts) {
    super();
    opts = opts || {};
    this.io = io;
    this.nsp = nsp;
    this.auth = opts.auth;
    this.flags = {};
    this._opts = { ...io.opts, ...opts };
    this._anyListeners = [];
    this._left = false; // see _onRaw
    this._anyOutgoingListeners = [];
    // Emits buffered until connected, as [event, ...args], for the outgoing listeners.
    this._sendBuffer = [];
    this._queue = [];
    this._raw = io._raw.socket(nsp);
    this._raw.setListener((kind, a, b, c) => this._onRaw(kind, a, b, c));
    this._raw.setAuth((done) => this._provideAuth(done));
    if (io._autoConnect) this.connect();
  }

  get id() {
    return this._raw.id;
  }

  get connected() {
    return this._raw.connected;
  }

  /** Whether the last connect got back the session that was cut (connection state recovery). */
  get recovered() {
    return this._raw.recovered;
  }

  get disconnected() {
    return !this._raw.connected;
  }

  get active() {
    return this._raw.active;
  }

  /** Joins the namespace (done on its own unless `autoConnect: false`). */
  connect() {
    if (this.connected) return this;
    this._raw.connect();
    return this;
  }

  open() {
    return this.connect();
  }

  /** Leaves the namespace ("io client disconnect"). */
  disconnect() {
    this._sendBuffer = []; // the buffered emits are dropped with it
    this._raw.disconnect();
    return this;
  }

  close() {
    return this.disconnect();
  }

  /** Emits the `message` event. */
  send(...args) {
    return this.emit("message", ...args);
  }

  /**
   * Emits `event` with any arguments; a function as the last argument gets the
   * server's ack, as `(...args)`, or `(err, ...args)` with a timeout.
   */
  emit(event, ...args) {
    if (RESERVED_EVENTS.has(event)) {
      throw new Error(`"${String(event)}" is a reserved event name`);
    }
    const flags = this.flags;
    this.flags = {};
    if (this._opts.retries && !flags.fromQueue && !flags.volatile) {
      this._enqueue(event, args, flags);
      return this;
    }
    let ack;
    if (typeof args[args.length - 1] === "function") ack = args.pop();
    const timeout = flags.timeout ?? this._opts.ackTimeout;
    const withError = timeout !== undefined || flags.fromQueue;
    let callback;
    if (ack) {
      callback = (err, json, attachments) => {
        const res = err ? [] : decodeArgs(json, attachments);
        if (withError) ack.call(this, err, ...res);
        // Without a timeout socket.io-client forgets an ack lost to a disconnection.
        else if (!err) ack.apply(this, res);
      };
    }
    const { json, attachments } = encodeArgs(args);
    const sent = this._raw.emit(event, json, attachments, callback, timeout, !!flags.volatile);
    // Outgoing listeners hear an emit when it is sent: now (0), or on connecting when
    // buffered (1); never when dropped (2, volatile while not connected).
    if (sent === 0) this._notifyOutgoing([event, ...args]);
    else if (sent === 1) this._sendBuffer.push([event, ...args]);
    return this;
  }

  /** Emits and resolves with the ack (rejects on timeout when one is set). */
  emitWithAck(event, ...args) {
    const withError = this.flags.timeout !== undefined || this._opts.ackTimeout !== undefined;
    return new Promise((resolve, reject) => {
      args.push((first, second) => {
        if (!withError) resolve(first);
        else if (first) reject(first);
        else resolve(second);
      });
      this.emit(event, ...args);
    });
  }

  /** The next emit's ack waits at most `ms`, then gets an Error. */
  timeout(ms) {
    this.flags.timeout = ms;
    return this;
  }

  /** The next emit is dropped instead of buffered when not connected. */
  get volatile() {
    this.flags.volatile = true;
    return this;
  }

  /** Accepted for compatibility; compression is the transport's business. */
  compress() {
    return this;
  }

  /** Calls `fn(event, ...args)` for every incoming event. */
  onAny(fn) {
    this._anyListeners.push(fn);
    return this;
  }

  prependAny(fn) {
    this._anyListeners.unshift(fn);
    return this;
  }

  offAny(fn) {
    if (fn === undefined) this._anyListeners = [];
    else this._anyListeners = this._anyListeners.filter((l) => l !== fn);
    return this;
  }

  listenersAny() {
    return [...this._anyListeners];
  }

  /** Calls `fn(event, ...args)` for every outgoing event. */
  onAnyOutgoing(fn) {
    this._anyOutgoingListeners.push(fn);
    return this;
  }

  prependAnyOutgoing(fn) {
    this._anyOutgoingListeners.unshift(fn);
    return this;
  }

  offAnyOutgoing(fn) {
    if (fn === undefined) this._anyOutgoingListeners = [];
    else this._anyOutgoingListeners = this._anyOutgoingListeners.filter((l) => l !== fn);
    return this;
  }

  listenersAnyOutgoing() {
    return [...this._anyOutgoingListeners];
  }

  _notifyOutgoing(packet) {
    if (this._anyOutgoingListeners.length === 0) return;
    for (const fn of [...this._anyOutgoingListeners]) fn.apply(this, packet);
  }

  // The join's auth, read at every join: `done(json)`, or `done(null)` for none.
  _provideAuth(done) {
    const auth = this.auth;
    if (typeof auth === "function") {
      auth((data) => done(data == null ? null : JSON.stringify(data)));
    } else if (auth !== null && typeof auth === "object") {
      done(JSON.stringify(auth));
    } else {
      done(null);
    }
  }

  // Returns whether the socket left the namespace while this ran (a listener called
  // disconnect()): the wasm then holds back the events that came with these, as
  // socket.io-client delivers nothing after "disconnect".
  _onRaw(kind, a, b, c) {
    this._left = false;
    switch (kind) {
      case "connect": {
        // As socket.io-client's onconnect: the buffered emits (sent by now) reach the
        // outgoing listeners, the retries queue goes on, then "connect".
        const sent = this._sendBuffer;
        this._sendBuffer = [];
        for (const packet of sent) this._notifyOutgoing(packet);
        this._drainQueue(true);
        this.emitReserved("connect");
        break;
      }
      case "connect_error": {
        const err = new Error(a);
        if (b != null) err.data = JSON.parse(b);
        this.emitReserved("connect_error", err);
        break;
      }
      case "disconnect":
        this._left = true;
        this.emitReserved("disconnect", a);
        break;
      case "event": {
        // [event, ...args], the event name as it came (a string, or a number).
        const packet = decodeArgs(a, b);
        if (c) {
          packet.push((...res) => {
            const answer = encodeArgs(res);
            c(answer.json, answer.attachments);
          });
        }
        this._onEvent(packet);
        break;
      }
      case "events": {
        // Events that came together (one polling response), with neither binary parts
        // nor an ack: one JSON.parse for all.
        for (const packet of JSON.parse(a)) {
          if (this._left) break;
          this._onEvent(packet);
        }
        break;
      }
    }
    return this._left;
  }

  _onEvent(packet) {
    if (this._anyListeners.length > 0) {
      for (const fn of this._anyListeners.slice()) fn.apply(this, packet);
    }
    this._emitPacket(packet);
  }

  // `retries`: emits go one at a time, each retried until acked or out of tries.
  _enqueue(event, args, flags) {
    let ack;
    if (typeof args[args.length - 1] === "function") ack = args.pop();
    const entry = { tries: 0, pending: false, flags: { ...flags, fromQueue: true } };
    entry.args = [
      event,
      ...args,
      (err, ...res) => {
        if (entry !== this._queue[0]) return; // answered already
        if (!err) {
          this._queue.shift();
          if (ack) ack(null, ...res);
        } else if (entry.tries > this._opts.retries) {
          this._queue.shift();
          if (ack) ack(err);
        }
        entry.pending = false;
        this._drainQueue();
      },
    ];
    this._queue.push(entry);
    this._drainQueue();
  }

  _drainQueue(force = false) {
    const entry = this._queue[0];
    if (!this.connected || !entry || (entry.pending && !force)) return;
    entry.pending = true;
    entry.tries++;
    this.flags = { ...entry.flags };
    this.emit(...entry.args);
  }
}

const DEFAULT_PORTS = { "http:": "80", "ws:": "80", "https:": "443", "wss:": "443" };

/** The page's location, which a URL without a host (or without a protocol) is taken from. */
function pageLocation(uri) {
  const loc = globalThis.location;
  if (!loc) throw new Error(`io(): ${uri == null ? "no URL given" : `"${uri}" is relative`} and there is no page location`);
  return loc;
}

/**
 * Resolves `uri` as socket.io-client's url() does. No URL is the page's protocol and host
 * (namespace "/", whatever the page's path); "/nsp" is the page's host; "//host/nsp" takes
 * the page's protocol; any other text without an http(s):// or ws(s):// scheme
 * ("host:port/nsp") gets the page's protocol (https: without a page). Returns the absolute
 * URL (`source`), the server's `origin`, the manager cache's `id` (with the default port),
 * the namespace `nsp` (the URL's path as written, "/" when empty) and `query` (the query
 * string's parameters, decoded; undefined when none).
 */
function parseUri(uri) {
  let text;
  if (uri == null) {
    const loc = pageLocation(uri);
    text = `${loc.protocol}//${loc.host}`;
  } else {
    text = String(uri);
    if (text.startsWith("//")) text = pageLocation(uri).protocol + text;
    else if (text.startsWith("/")) text = pageLocation(uri).host + text;
    if (!/^(https?|wss?):\/\//i.test(text)) {
      text = (globalThis.location ? globalThis.location.protocol : "https:") + "//" + text;
    }
  }
  // scheme://authority, then the path and the query string as written (the namespace is
  // the path untouched, as socket.io-client has it: no dot segments resolved, nothing
  // percent-encoded); the URL parser only checks and normalises the authority.
  const [, authority, path, search] = /^([a-z]+:\/\/[^/?#]*)([^?#]*)(?:\?([^#]*))?/i.exec(text);
  const url = new URL(authority);
  const port = url.port || DEFAULT_PORTS[url.protocol] || "";
  return {
    source: text,
    origin: `${url.protocol}//${url.host}`,
    id: `${url.protocol}//${url.hostname}:${port}`,
    nsp: path || "/",
    query: search ? decodeQuery(search) : undefined,
  };
}

/** "a=1&b=x%20y" -> { a: "1", b: "x y" } (no "+" for space, as in engine.io-client). */
function decodeQuery(search) {
  const query = {};
  for (const pair of search.split("&")) {
    const eq = pair.indexOf("=");
    const key = decodeComponent(eq < 0 ? pair : pair.slice(0, eq));
    if (key) query[key] = eq < 0 ? "" : decodeComponent(pair.slice(eq + 1));
  }
  return query;
}

function decodeComponent(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const cache = {};

/**
 * `io(url?, opts?)`: a socket for the URL's namespace. Namespaces of one server share
 * a connection unless `forceNew: true` or `multiplex: false`.
 */
export function io(uri, opts) {
  if (uri && typeof uri === "object") {
    opts = uri;
    uri = undefined;
  }
  opts = opts || {};
  const parsed = parseUri(uri);
  const id = parsed.id + (opts.path || "/socket.io");
  const cached = cache[id];
  const reuse = !opts.forceNew && opts["force new connection"] !== true && opts.multiplex !== false;
  if (parsed.query && !opts.query) opts = { ...opts, query: parsed.query };
  let manager;
  if (reuse && cached && !(parsed.nsp in cached.nsps)) {
    manager = cached;
  } else {
    manager = new Manager(parsed.source, opts);
    if (reuse && !cached) cache[id] = manager;
  }
  return manager.socket(parsed.nsp, opts);
}

Object.assign(io, { Manager, Socket, io, connect: io, protocol });

export { io as connect, io as default };
