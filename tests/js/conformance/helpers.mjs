// Shared helpers of Sockeye's protocol-conformance suite (see README.md).
//
// Everything here waits for *events* (a frame, a close, an HTTP response) with a
// generous deadline; nothing sleeps to synchronise with the server. The only deliberate
// waiting is `idle()`, used where the scenario under test *is* a period of client silence
// (for instance "the server drops a session nobody polls").

import net from "node:net";
import http from "node:http";
import { performance } from "node:perf_hooks";
import { after } from "node:test";
import { WebSocket } from "ws";
import { sockeyeCommand } from "../lib/bins.mjs";
import { startServer } from "../lib/process.mjs";
import { withTimeout } from "../lib/wait.mjs";

// The server under test (README.md): the one at CONFORMANCE_URL if set; otherwise each
// test file starts its own with PORT=0, from SERVER_CMD (a shell command, e.g.
// "node conformance/reference-server.mjs") or Sockeye's conformance fixture in
// SOCKEYE_TARGET_DIR, and stops it after its tests.
const server = process.env.CONFORMANCE_URL
  ? null
  : await startServer({
      command: process.env.SERVER_CMD || sockeyeCommand("conformance"),
      shell: true,
      label: "conformance server",
    });
if (server) after(() => server.stop());

export const BASE_URL = (process.env.CONFORMANCE_URL ?? server.url).replace(/\/+$/, "");
export const WS_BASE_URL = BASE_URL.replace(/^http/, "ws");

// The configuration the conformance server must use.
export const PING_INTERVAL = 300;
export const PING_TIMEOUT = 200;
export const MAX_PAYLOAD = 1_000_000;
export const CONNECT_TIMEOUT = 1_000;

// How long to wait for something that should happen "now" (a reply, a close...).
export const WAIT_MS = 5_000;
// Slack added to timing upper bounds so that a loaded 2-core machine does not fail them.
export const TIMING_SLACK_MS = 3_000;
// Per-test timeout for node:test.
export const TEST_TIMEOUT_MS = 30_000;

export const SEPARATOR = "\x1e";

export const now = () => performance.now();

/** Deliberate client silence (the scenario under test), never a synchronisation. */
export function idle(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- HTTP ---------------------------------------------------------------------------

/** `/engine.io/?EIO=4&transport=polling[&sid=..]` style URL path. */
export function eioPath(endpoint, query) {
  return `${endpoint}?${query}`;
}

export function pollingPath(endpoint, sid) {
  const base = `${endpoint}?EIO=4&transport=polling`;
  return sid === undefined ? base : `${base}&sid=${encodeURIComponent(sid)}`;
}

export function websocketPath(endpoint, sid) {
  const base = `${endpoint}?EIO=4&transport=websocket`;
  return sid === undefined ? base : `${base}&sid=${encodeURIComponent(sid)}`;
}

/**
 * One HTTP request through `fetch`; resolves with { status, headers, text }.
 * Rejects (rather than hanging) after `timeoutMs`.
 */
export async function request(method, path, { body, headers, timeoutMs = WAIT_MS } = {}) {
  const response = await fetch(BASE_URL + path, {
    method,
    body,
    headers,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text };
}

export const get = (path, options) => request("GET", path, options);
export const post = (path, body, options) => request("POST", path, { ...options, body });

/**
 * A poll that sees through the heartbeat. Once pingInterval has passed, a PING ("2") may
 * come in any payload, and on a loaded machine that can be before the packets a test
 * waits for. Answers each PING with a PONG, polls again while a payload held only PINGs,
 * and resolves with the first other answer: a non-200 response as it is, or the payload
 * with its PINGs left out ({ status, headers, text, packets }).
 */
export async function pollPastPings(path) {
  const deadline = now() + WAIT_MS;
  for (;;) {
    const res = await get(path);
    if (res.status !== 200) return res;
    const packets = res.text.split(SEPARATOR);
    const others = packets.filter((packet) => packet !== "2");
    if (others.length < packets.length) {
      const pong = await post(path, "3");
      if (pong.status !== 200) throw new Error(`the PONG was refused: HTTP ${pong.status} ${pong.text}`);
    }
    if (others.length) return { ...res, packets: others, text: others.join(SEPARATOR) };
    if (now() > deadline) throw new Error(`only PINGs for ${WAIT_MS} ms on ${path}`);
  }
}

/**
 * An HTTP request on its own, fresh TCP connection (no pooling), so that two requests
 * are really concurrent. `flushed` resolves once the request bytes were handed to the
 * kernel; `response` resolves with { status, text } or { error }.
 */
export function rawRequest(method, path, body) {
  const url = new URL(BASE_URL + path);
  let markFlushed;
  const flushed = new Promise((resolve) => (markFlushed = resolve));
  const response = new Promise((resolve) => {
    const req = http.request(
      url,
      {
        method,
        agent: false,
        headers: body === undefined ? {} : { "content-type": "text/plain;charset=UTF-8" },
        timeout: WAIT_MS,
      },
      (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", (error) => resolve({ error: error.message }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (error) => {
      markFlushed();
      resolve({ error: error.code ?? error.message });
    });
    req.on("finish", () => markFlushed());
    req.end(body);
  });
  return { flushed, response };
}

/**
 * Sends a GET on a raw TCP connection and closes that connection as soon as the request
 * bytes are written, like a browser aborting a pending long-polling request. TCP delivers
 * the request before the connection's FIN, so the server always sees the request first.
 */
export function abortedGet(path) {
  const url = new URL(BASE_URL + path);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port || 80), url.hostname, () => {
      const head =
        `GET ${url.pathname}${url.search} HTTP/1.1\r\n` +
        `Host: ${url.host}\r\n` +
        "Accept: */*\r\n" +
        "Connection: keep-alive\r\n\r\n";
      socket.write(head, () => {
        socket.destroy();
        resolve();
      });
    });
    socket.on("error", reject);
  });
}

/** Opens an Engine.IO session over HTTP long-polling; returns { sid, open }. */
export async function openPollingSession(endpoint) {
  const res = await get(pollingPath(endpoint));
  if (res.status !== 200) {
    throw new Error(`handshake failed: HTTP ${res.status} ${res.text}`);
  }
  const open = parseOpenPacket(res.text);
  return { sid: open.sid, open };
}

/** Parses an Engine.IO OPEN packet ("0{...}"), checking its exact shape. */
export function parseOpenPacket(text) {
  if (typeof text !== "string" || !text.startsWith("0")) {
    throw new Error(`expected an OPEN packet ("0{...}"), got ${JSON.stringify(text)}`);
  }
  return JSON.parse(text.slice(1));
}

export const OPEN_KEYS = ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"];

// ---- WebSocket ----------------------------------------------------------------------

const liveConnections = new Set();

/**
 * A WebSocket client whose frames are queued, so a frame can never be missed between
 * two waits (several frames often arrive in one TCP segment).
 *
 * Frames are { binary: false, data: string } or { binary: true, data: Buffer }.
 * With `autoPong`, Engine.IO pings ("2") are answered with "3" and not queued, which
 * keeps the session alive however slow the machine is.
 */
export class WsClient {
  constructor(path, { autoPong = false } = {}) {
    this.autoPong = autoPong;
    this.frames = [];
    this.waiters = [];
    this.log = [];
    this.closeInfo = null;
    this.createdAt = now();
    this.openedAt = null;
    this.ws = new WebSocket(WS_BASE_URL + path);
    liveConnections.add(this);

    this.opened = new Promise((resolve, reject) => {
      this._resolveOpen = resolve;
      this._rejectOpen = reject;
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => (this._resolveClosed = resolve));

    this.ws.on("open", () => {
      this.openedAt = now();
      this._resolveOpen();
    });
    this.ws.on("message", (data, isBinary) => {
      const frame = isBinary
        ? { binary: true, data: Buffer.from(data), at: now() }
        : { binary: false, data: data.toString("utf8"), at: now() };
      this.log.push(frame);
      if (this.autoPong && !frame.binary && frame.data === "2") {
        this.send("3");
        return;
      }
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(frame);
      else this.frames.push(frame);
    });
    this.ws.on("error", (error) => {
      this.error = error;
      const match = /Unexpected server response: (\d+)/.exec(error.message);
      if (match) this.refusedStatus = Number(match[1]);
    });
    this.ws.on("close", (code, reason) => {
      this.closeInfo = { code, reason: reason.toString(), at: now(), refusedStatus: this.refusedStatus };
      liveConnections.delete(this);
      this._rejectOpen(new Error(`closed before opening (${this.describeClose()})`));
      for (const waiter of this.waiters.splice(0)) {
        waiter.reject(new Error(`connection closed (${this.describeClose()}) while waiting for ${waiter.what}`));
      }
      this._resolveClosed(this.closeInfo);
    });
  }

  describeClose() {
    if (!this.closeInfo) return "open";
    const { code, refusedStatus } = this.closeInfo;
    return refusedStatus ? `refused with HTTP ${refusedStatus}` : `close code ${code}`;
  }

  waitOpen(what = "the WebSocket to open") {
    return withTimeout(this.opened, what, WAIT_MS);
  }

  /** The next queued frame (text or binary). */
  next(what = "a frame", timeoutMs = WAIT_MS) {
    if (this.frames.length) return Promise.resolve(this.frames.shift());
    if (this.closeInfo) {
      return Promise.reject(new Error(`connection already closed (${this.describeClose()}); wanted ${what}`));
    }
    return new Promise((resolve, reject) => {
      const waiter = { what, resolve: null, reject: null };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      waiter.resolve = (frame) => {
        clearTimeout(timer);
        resolve(frame);
      };
      waiter.reject = (error) => {
        clearTimeout(timer);
        reject(error);
      };
      this.waiters.push(waiter);
    });
  }

  /** The next frame, which must be a text frame; returns its string. */
  async nextText(what = "a text frame", timeoutMs) {
    const frame = await this.next(what, timeoutMs);
    if (frame.binary) {
      throw new Error(`expected ${what} (text), got a binary frame <${frame.data.toString("hex")}>`);
    }
    return frame.data;
  }

  /** The next frame, which must be a binary frame; returns its Buffer. */
  async nextBinary(what = "a binary frame", timeoutMs) {
    const frame = await this.next(what, timeoutMs);
    if (!frame.binary) {
      throw new Error(`expected ${what} (binary), got the text frame ${JSON.stringify(frame.data)}`);
    }
    return frame.data;
  }

  /** Waits for the Engine.IO OPEN packet and returns its parsed JSON. */
  async nextOpenPacket() {
    return parseOpenPacket(await this.nextText("the Engine.IO OPEN packet"));
  }

  waitClosed(what = "the connection to close", timeoutMs = WAIT_MS) {
    return withTimeout(this.closed, what, timeoutMs);
  }

  send(data) {
    this.ws.send(data);
  }

  terminate() {
    try {
      this.ws.terminate();
    } catch {
      // already gone
    }
  }
}

/** Terminates every WebSocket a test left open (use in afterEach). */
export function closeAllConnections() {
  for (const connection of liveConnections) connection.terminate();
  liveConnections.clear();
}

/**
 * Opens a WebSocket to `path`, expecting the server to refuse it or to close it without
 * ever starting an Engine.IO session. Returns the close information.
 */
export async function expectWebSocketRejected(path) {
  const client = new WsClient(path);
  const info = await client.waitClosed(`the server to refuse or close ${path}`);
  const openPackets = client.log.filter((frame) => !frame.binary && frame.data.startsWith("0{"));
  if (openPackets.length) {
    throw new Error(`the server opened an Engine.IO session on ${path}: ${openPackets[0].data}`);
  }
  return info;
}

/**
 * Opens a WebSocket to `path`, expecting the server to complete the WebSocket handshake
 * and then close the connection without starting an Engine.IO session, and without
 * anything the `ws` client reports as an error. (The official suite opens such sockets
 * with no "error" listener, so an HTTP refusal or a broken frame crashes it.)
 */
export async function expectWebSocketAcceptedThenClosed(path) {
  const client = new WsClient(path);
  const info = await client.waitClosed(`the server to close ${path}`);
  if (info.refusedStatus) {
    throw new Error(`the server refused the WebSocket handshake with HTTP ${info.refusedStatus}; it must accept it (101) and then close`);
  }
  if (client.openedAt === null) {
    throw new Error(`the WebSocket handshake never completed (${client.error?.message ?? "no error"})`);
  }
  if (client.error) {
    throw new Error(`the ws client reported an error: ${client.error.message}`);
  }
  const openPackets = client.log.filter((frame) => !frame.binary && frame.data.startsWith("0{"));
  if (openPackets.length) {
    throw new Error(`the server opened an Engine.IO session on ${path}: ${openPackets[0].data}`);
  }
  return info;
}
