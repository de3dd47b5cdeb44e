// Engine.IO v4 conformance, against the bare Engine.IO echo endpoint `/engine.io/`.
//
// One test per test case of the official Engine.IO v4 protocol test suite ([E01]..[E25],
// see README.md for the mapping), re-expressed in our own words, plus a few extra checks
// ([EX1]..) of behaviour the official suite does not pin down.
//
//   CONFORMANCE_URL=http://127.0.0.1:3000 node --test conformance/engine.io.test.mjs

import { describe, it, afterEach } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import {
  BASE_URL,
  PING_INTERVAL,
  PING_TIMEOUT,
  MAX_PAYLOAD,
  WAIT_MS,
  TIMING_SLACK_MS,
  TEST_TIMEOUT_MS,
  SEPARATOR,
  OPEN_KEYS,
  now,
  idle,
  eioPath,
  pollingPath,
  websocketPath,
  request,
  get,
  post,
  pollPastPings,
  rawRequest,
  openPollingSession,
  parseOpenPacket,
  WsClient,
  closeAllConnections,
  expectWebSocketRejected,
  expectWebSocketAcceptedThenClosed,
} from "./helpers.mjs";

const EIO = "/engine.io/";
const opts = { timeout: TEST_TIMEOUT_MS };

afterEach(() => closeAllConnections());

const CANCELLED_POLL_ATTEMPTS = 5;
const E13_OPTS = { timeout: CANCELLED_POLL_ATTEMPTS * 3 * WAIT_MS };

/** Raw connections of [E13], destroyed after each test. */
const rawSockets = new Set();
afterEach(() => {
  for (const socket of rawSockets) socket.destroy();
  rawSockets.clear();
});

/**
 * A keep-alive HTTP/1.1 connection of its own, spoken by hand, for [E13].
 * `get(path)` sends a GET and resolves with its { status, text } (the body sized by
 * Content-Length). `leavePending(path)` sends a GET and does not wait for it. `cancel()`
 * ends the connection's sending side, as a browser closes the connection of an aborted
 * request, and resolves with true once the server has closed the connection in turn
 * (false if it did not within WAIT_MS): the server has then seen the cancellation. Until
 * then the connection still reads, so `answered()` (a byte arrived after the pending GET
 * was sent) tells whether the server answered that GET instead, before it saw it cancelled.
 */
function rawConnection() {
  const url = new URL(BASE_URL);
  const socket = net.connect(Number(url.port || 80), url.hostname);
  rawSockets.add(socket);
  let buffer = Buffer.alloc(0);
  let onData = null;
  let pending = false;
  let answered = false;
  socket.on("data", (chunk) => {
    if (pending) answered = true;
    buffer = Buffer.concat([buffer, chunk]);
    onData?.();
  });
  socket.on("error", () => {});
  const closed = new Promise((resolve) => socket.once("close", () => resolve(true)));
  const connected = new Promise((resolve) => socket.once("connect", resolve));
  const write = (path) =>
    new Promise((resolve) => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: */*\r\n\r\n`, resolve));
  const within = (promise, what) => {
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`)), WAIT_MS);
    });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  };
  return {
    async get(path) {
      await within(connected, "the connection");
      const response = new Promise((resolve, reject) => {
        onData = () => {
          const end = buffer.indexOf("\r\n\r\n");
          if (end < 0) return;
          const head = buffer.subarray(0, end).toString("latin1");
          const length = /\r\ncontent-length: *(\d+)/i.exec(head);
          if (!length) return reject(new Error(`a response without Content-Length: ${head}`));
          const total = end + 4 + Number(length[1]);
          if (buffer.length < total) return;
          const text = buffer.subarray(end + 4, total).toString("utf8");
          buffer = buffer.subarray(total);
          onData = null;
          resolve({ status: Number(head.split(" ")[1]), text });
        };
      });
      await write(path);
      return within(response, `the answer to GET ${path}`);
    },
    async leavePending(path) {
      pending = true;
      await write(path);
    },
    answered: () => answered,
    async cancel() {
      socket.end();
      const seen = await within(closed, "").catch(() => false);
      socket.destroy();
      return seen;
    },
  };
}

/**
 * One try of [E13]: a polling session whose pending GET is cancelled, then POSTed pongs
 * until the session is gone (HTTP 400) or WAIT_MS passed. Resolves with
 * { verdict: "closed" | "survived" | "inconclusive", sid, detail }.
 *
 * "closed" needs proof that the heartbeat did not do it: the server pings at most
 * pingInterval after its last ping or pong was handled and closes pingTimeout after an
 * unanswered ping, so while consecutive pongs (and the handshake before the first) are
 * less than pingTimeout apart, every ping is answered in time. The gaps are measured from
 * a request's sending to the next one's answer: no server-side gap can be longer.
 */
async function cancelledPollAttempt() {
  const gaps = [];
  let lastSent = now();
  // The handshake goes over the connection that will carry the cancelled GET: the server
  // has then accepted it and reads its next request as soon as it comes. (On a fresh
  // connection it may read the request and the connection's end together, and never hand
  // the request to Engine.IO: Sockeye did so in about one attempt in eight.)
  const connection = rawConnection();
  const opened = await connection.get(pollingPath(EIO));
  assert.equal(opened.status, 200, `the handshake: ${opened.status} ${opened.text}`);
  const { sid } = parseOpenPacket(opened.text);
  const path = pollingPath(EIO, sid);
  const pong = async () => {
    const sent = now();
    const { status, text } = await post(path, "3");
    gaps.push(now() - lastSent);
    lastSent = sent;
    return { status, text };
  };
  const maxGap = () => Math.round(Math.max(...gaps));

  // An unsolicited pong is harmless: the session still echoes a message posted after it.
  assert.deepEqual(await pong(), { status: 200, text: "ok" }, "a pong before any ping");
  assert.equal((await post(path, "4alive")).status, 200);
  const echoed = await pollPastPings(path);
  assert.equal(echoed.text, "4alive", `the session survived a pong: ${echoed.status} ${echoed.text}`);

  await connection.leavePending(path);
  // A round trip after the GET's bytes went out, so that the server has most likely read
  // them before the connection ends.
  assert.equal((await pong()).status, 200, "the session is open while its GET is pending");
  const seen = await connection.cancel();
  const abortedAt = now();
  if (connection.answered()) {
    return { verdict: "inconclusive", sid, detail: "the server answered the GET before it saw it cancelled" };
  }
  const how = seen ? "closed the cancelled GET's connection" : `kept the cancelled GET's connection ${WAIT_MS} ms`;

  for (;;) {
    const { status, text } = await pong();
    if (status === 400) {
      if (maxGap() < PING_TIMEOUT) {
        return { verdict: "closed", sid, detail: `${how}; the session closed ${Math.round(now() - abortedAt)} ms later` };
      }
      return {
        verdict: "inconclusive",
        sid,
        detail: `${how}; the session closed, but pongs were up to ${maxGap()} ms apart, so maybe by the heartbeat`,
      };
    }
    assert.equal(status, 200, `a pong on the session: ${status} ${text}`);
    if (now() - abortedAt > WAIT_MS) {
      // The session outlived the cancellation (the heartbeat can only end one, never keep
      // it). Tried again all the same: the server may, rarely, have read the GET together
      // with its connection's end and never handed it to Engine.IO.
      return { verdict: "survived", sid, detail: `${how}; the session still took pongs ${WAIT_MS} ms later` };
    }
    await idle(10); // pacing of the check, not a synchronisation
  }
}

/** Upgrades a fresh polling session to WebSocket; returns { sid, ws } once the server has
 * certainly processed the UPGRADE packet (proved by an echo sent after it). */
async function upgradedSession() {
  const { sid } = await openPollingSession(EIO);
  const ws = new WsClient(websocketPath(EIO, sid), { autoPong: true });
  await ws.waitOpen();
  ws.send("2probe");
  assert.equal(await ws.nextText("the probe answer"), "3probe");
  ws.send("5");
  ws.send("4sync-after-upgrade");
  assert.equal(await ws.nextText("the echo proving the upgrade was processed"), "4sync-after-upgrade");
  return { sid, ws };
}

describe(`Engine.IO v4 conformance (${BASE_URL}${EIO})`, () => {
  describe("handshake", () => {
    describe("HTTP long-polling", () => {
      it("[E01] a polling handshake opens a session with the configured parameters", opts, async () => {
        const res = await get(pollingPath(EIO));
        assert.equal(res.status, 200);
        const open = parseOpenPacket(res.text);
        assert.deepEqual(Object.keys(open).sort(), OPEN_KEYS);
        assert.equal(typeof open.sid, "string");
        assert.ok(open.sid.length > 0, "sid must not be empty");
        assert.deepEqual(open.upgrades, ["websocket"]);
        assert.equal(open.pingInterval, PING_INTERVAL);
        assert.equal(open.pingTimeout, PING_TIMEOUT);
        assert.equal(open.maxPayload, MAX_PAYLOAD);
      });

      it("[E02] a polling handshake without EIO or with a non-numeric EIO is refused with HTTP 400", opts, async () => {
        assert.equal((await get(eioPath(EIO, "transport=polling"))).status, 400);
        assert.equal((await get(eioPath(EIO, "EIO=abc&transport=polling"))).status, 400);
      });

      it("[E03] a polling handshake without transport or with an unknown transport is refused with HTTP 400", opts, async () => {
        assert.equal((await get(eioPath(EIO, "EIO=4"))).status, 400);
        assert.equal((await get(eioPath(EIO, "EIO=4&transport=abc"))).status, 400);
      });

      it("[E04] a handshake made with POST or PUT instead of GET is refused with HTTP 400", opts, async () => {
        assert.equal((await request("POST", pollingPath(EIO))).status, 400);
        assert.equal((await request("PUT", pollingPath(EIO))).status, 400);
      });
    });

    describe("WebSocket", () => {
      it("[E05] a WebSocket handshake opens a session with the configured parameters and no upgrades", opts, async () => {
        const ws = new WsClient(websocketPath(EIO));
        const open = await ws.nextOpenPacket();
        assert.deepEqual(Object.keys(open).sort(), OPEN_KEYS);
        assert.equal(typeof open.sid, "string");
        assert.ok(open.sid.length > 0, "sid must not be empty");
        assert.deepEqual(open.upgrades, []);
        assert.equal(open.pingInterval, PING_INTERVAL);
        assert.equal(open.pingTimeout, PING_TIMEOUT);
        assert.equal(open.maxPayload, MAX_PAYLOAD);
      });

      it("[E06] a WebSocket without EIO or with a non-numeric EIO gets no session and is closed", opts, async () => {
        await expectWebSocketRejected(eioPath(EIO, "transport=websocket"));
        await expectWebSocketRejected(eioPath(EIO, "EIO=abc&transport=websocket"));
      });

      it("[E07] a WebSocket without transport or with an unknown transport gets no session and is closed", opts, async () => {
        await expectWebSocketRejected(eioPath(EIO, "EIO=4"));
        await expectWebSocketRejected(eioPath(EIO, "EIO=4&transport=abc"));
      });
    });
  });


  describe("message", () => {
    describe("HTTP long-polling", () => {
      it("[E08] a payload holding one text packet is accepted with \"ok\" and echoed on the next poll", opts, async () => {
        const { sid } = await openPollingSession(EIO);
        const pushed = await post(pollingPath(EIO, sid), "4hello");
        assert.equal(pushed.status, 200);
        assert.equal(pushed.text, "ok");
        const polled = await pollPastPings(pollingPath(EIO, sid));
        assert.equal(polled.status, 200);
        assert.equal(polled.text, "4hello");
      });

      it("[E09] a payload holding several text packets (\\x1e-separated) is echoed in order in one poll", opts, async () => {
        const { sid } = await openPollingSession(EIO);
        const payload = ["4test1", "4test2", "4test3"].join(SEPARATOR);
        const pushed = await post(pollingPath(EIO, sid), payload);
        assert.equal(pushed.status, 200);
        assert.equal(pushed.text, "ok");
        const polled = await pollPastPings(pollingPath(EIO, sid));
        assert.equal(polled.status, 200);
        assert.equal(polled.text, payload);
      });

      it("[E10] a payload mixing a text packet and a base64 binary packet (\"b...\") is echoed unchanged", opts, async () => {
        const { sid } = await openPollingSession(EIO);
        const payload = `4hello${SEPARATOR}b${Buffer.from([1, 2, 3, 4]).toString("base64")}`;
        const pushed = await post(pollingPath(EIO, sid), payload);
        assert.equal(pushed.status, 200);
        assert.equal(pushed.text, "ok");
        const polled = await pollPastPings(pollingPath(EIO, sid));
        assert.equal(polled.status, 200);
        assert.equal(polled.text, "4hello\x1ebAQIDBA==");
      });

      it("[E11] a POST with a malformed packet ends the session: the next poll gets HTTP 400", opts, async () => {
        const { sid } = await openPollingSession(EIO);
        // The official suite tolerates any answer (even a dropped connection) to the bad POST.
        await post(pollingPath(EIO, sid), "abc").catch(() => undefined);
        const polled = await get(pollingPath(EIO, sid));
        assert.equal(polled.status, 400);
      });

      it("[E12] two concurrent polls on one session: one gets the CLOSE packet, the other an error, the session ends", opts, async () => {
        // Order-independent: whichever poll the server sees second is the duplicate.
        for (let attempt = 1; ; attempt++) {
          const { sid } = await openPollingSession(EIO);
          const first = rawRequest("GET", pollingPath(EIO, sid));
          const second = rawRequest("GET", `${pollingPath(EIO, sid)}&t=burst`);
          const responses = await Promise.all([first.response, second.response]);
          if (responses.some((r) => r.status === 200 && r.text === "2") && attempt < 5) {
            continue; // a ping answered one poll before the other arrived: not concurrent, retry
          }
          const ok = responses.filter((r) => r.status === 200);
          const failed = responses.filter((r) => r.status !== 200);
          assert.equal(ok.length, 1, `exactly one poll must succeed: ${JSON.stringify(responses)}`);
          assert.equal(ok[0].text, "1", "the surviving poll carries the CLOSE packet");
          assert.ok([400, 500].includes(failed[0].status), `the duplicate poll must get 400 or 500: ${JSON.stringify(failed[0])}`);
          assert.equal((await get(pollingPath(EIO, sid))).status, 400);
          return;
        }
      });

      it("[E13] a pending poll cancelled by the client ends the session", E13_OPTS, async (t) => {
        // The official case aborts a pending GET and expects the next GET to get HTTP 400.
        // Two things besides the cancellation could end the session and make any server
        // pass: a GET sent while the server still holds the cancelled one is a duplicate
        // poll (which ends the session, [E12]), and the heartbeat. So the check is a POSTed
        // pong, repeated until the session is gone: it cannot be a poll, and it answers every
        // ping the server may send, so only the cancellation can end the session. An
        // attempt proves nothing when the pongs were too far apart for that, or when the
        // server answered the GET before it was cancelled; then it is tried again.
        const outcomes = [];
        for (let attempt = 1; attempt <= CANCELLED_POLL_ATTEMPTS; attempt++) {
          const outcome = await cancelledPollAttempt();
          outcomes.push(outcome);
          t.diagnostic(`attempt ${attempt}: ${outcome.verdict}: ${outcome.detail}`);
          if (outcome.verdict === "closed") {
            // The official check, now that the session is known to be gone.
            const polled = await get(pollingPath(EIO, outcome.sid));
            assert.equal(polled.status, 400, `a GET after the session closed: ${polled.status} ${polled.text}`);
            return;
          }
        }
        assert.fail(
          `no attempt showed the cancelled poll ending the session:\n${outcomes.map((o) => `  ${o.detail}`).join("\n")}`,
        );
      });
    });

    describe("WebSocket", () => {
      it("[E14] a text packet sent over WebSocket is echoed as text", opts, async () => {
        const ws = new WsClient(websocketPath(EIO), { autoPong: true });
        await ws.waitOpen();
        await ws.nextOpenPacket();
        ws.send("4hello");
        assert.equal(await ws.nextText("the echo"), "4hello");
      });

      it("[E15] a binary frame sent over WebSocket is echoed as the same binary frame", opts, async () => {
        const ws = new WsClient(websocketPath(EIO), { autoPong: true });
        await ws.nextOpenPacket();
        ws.send(Uint8Array.from([1, 2, 3, 4]));
        const echoed = await ws.nextBinary("the binary echo");
        assert.deepEqual([...echoed], [1, 2, 3, 4]);
      });

      it("[E16] a malformed packet over WebSocket makes the server close the connection", opts, async () => {
        const ws = new WsClient(websocketPath(EIO), { autoPong: true });
        await ws.nextOpenPacket();
        ws.send("abc");
        await ws.waitClosed("the server to close after a malformed packet");
      });
    });
  });

  describe("heartbeat", () => {
    describe("HTTP long-polling", () => {
      it("[E17] the server pings a polling client every pingInterval and accepts its pongs", opts, async () => {
        const { sid } = await openPollingSession(EIO);
        let since = now();
        for (let i = 0; i < 3; i++) {
          const polled = await get(pollingPath(EIO, sid));
          const elapsed = now() - since;
          assert.equal(polled.status, 200);
          assert.equal(polled.text, "2", `poll #${i + 1} must carry a PING`);
          assert.ok(elapsed >= PING_INTERVAL / 3, `PING after ${elapsed.toFixed(0)} ms: earlier than pingInterval`);
          assert.ok(elapsed <= PING_INTERVAL + TIMING_SLACK_MS, `PING after ${elapsed.toFixed(0)} ms`);
          const pong = await post(pollingPath(EIO, sid), "3");
          assert.equal(pong.status, 200);
          since = now();
        }
      });

      it("[E18] a polling session whose client never answers is gone after pingInterval + pingTimeout", opts, async () => {
        const { sid } = await openPollingSession(EIO);
        // The scenario is a silent client: no poll at all, so the PING stays queued.
        await idle(PING_INTERVAL + PING_TIMEOUT + 2_000);
        const polled = await get(pollingPath(EIO, sid));
        assert.equal(polled.status, 400);
      });
    });

    describe("WebSocket", () => {
      it("[E19] the server pings a WebSocket client every pingInterval and accepts its pongs", opts, async () => {
        const ws = new WsClient(websocketPath(EIO));
        await ws.nextOpenPacket();
        let since = now();
        for (let i = 0; i < 3; i++) {
          const frame = await ws.nextText(`PING #${i + 1}`);
          const elapsed = now() - since;
          assert.equal(frame, "2");
          assert.ok(elapsed >= PING_INTERVAL / 3, `PING after ${elapsed.toFixed(0)} ms: earlier than pingInterval`);
          assert.ok(elapsed <= PING_INTERVAL + TIMING_SLACK_MS, `PING after ${elapsed.toFixed(0)} ms`);
          ws.send("3");
          since = now();
        }
      });

      it("[E20] a WebSocket client that never answers PING is disconnected after about pingInterval + pingTimeout", opts, async () => {
        const ws = new WsClient(websocketPath(EIO));
        await ws.nextOpenPacket();
        const info = await ws.waitClosed("the ping timeout", PING_INTERVAL + PING_TIMEOUT + TIMING_SLACK_MS);
        const elapsed = info.at - ws.openedAt;
        assert.ok(
          ws.log.some((frame) => frame.data === "2"),
          "the server must have sent a PING before giving up",
        );
        assert.ok(elapsed >= PING_INTERVAL / 2, `closed after only ${elapsed.toFixed(0)} ms`);
      });
    });
  });

  describe("close", () => {
    describe("HTTP long-polling", () => {
      it("[E21] a CLOSE packet posted by the client ends the session; a pending poll is released with NOOP", opts, async () => {
        // The pending-poll path needs the GET to reach the server before the POST; the two
        // travel on separate connections, so an attempt where the POST wins is also checked
        // (the poll must then be refused) and retried.
        let sawPendingPoll = false;
        for (let attempt = 1; attempt <= 20 && !sawPendingPoll; attempt++) {
          const { sid } = await openPollingSession(EIO);
          const poll = rawRequest("GET", pollingPath(EIO, sid));
          await poll.flushed;
          await post(pollingPath(EIO, sid), "1");
          const polled = await poll.response;
          if (polled.status === 200 && polled.text === "2") {
            // A slow machine let the first PING answer the poll before the CLOSE came.
          } else if (polled.status === 200) {
            assert.equal(polled.text, "6", "the pending poll must be released with a NOOP packet");
            sawPendingPoll = true;
          } else {
            assert.equal(polled.status, 400, `unexpected answer to the poll: ${JSON.stringify(polled)}`);
          }
          assert.equal((await get(pollingPath(EIO, sid))).status, 400);
        }
        assert.ok(sawPendingPoll, "never managed to have a poll pending when the CLOSE arrived");
      });
    });

    describe("WebSocket", () => {
      it("[E22] a CLOSE packet sent over WebSocket ends the connection", opts, async () => {
        // Without pongs, as in the official suite: the reference server ignores a CLOSE
        // packet on WebSocket and ends the session by ping timeout instead.
        const ws = new WsClient(websocketPath(EIO));
        await ws.nextOpenPacket();
        ws.send("1");
        await ws.waitClosed("the server to end the connection", PING_INTERVAL + PING_TIMEOUT + TIMING_SLACK_MS);
      });
    });
  });

  describe("upgrade", () => {
    it("[E23] a polling session upgrades to WebSocket (probe, NOOP for the pending poll, UPGRADE)", opts, async () => {
      const { sid } = await openPollingSession(EIO);
      const ws = new WsClient(websocketPath(EIO, sid), { autoPong: true });
      await ws.waitOpen();
      ws.send("2probe");
      assert.equal(await ws.nextText("the probe answer"), "3probe");
      // The server flushes the polling transport with a NOOP so the client can switch.
      for (const deadline = now() + WAIT_MS; ; ) {
        const polled = await pollPastPings(pollingPath(EIO, sid));
        assert.equal(polled.status, 200);
        if (polled.packets.includes("6")) break;
        assert.ok(now() < deadline, `no NOOP during the upgrade (last poll: ${JSON.stringify(polled.text)})`);
      }
      ws.send("5");
      ws.send("4hello");
      assert.equal(await ws.nextText("the echo over the upgraded transport"), "4hello");
    });

    it("[E24] after the upgrade, HTTP requests carrying the same sid are refused with HTTP 400", opts, async () => {
      const { sid, ws } = await upgradedSession();
      assert.equal((await get(pollingPath(EIO, sid))).status, 400);
      ws.send("4hello");
      assert.equal(await ws.nextText("the echo over WebSocket"), "4hello");
    });

    it("[E25] after the upgrade, a second WebSocket with the same sid is closed right after its handshake; the first keeps working", opts, async () => {
      const { sid, ws } = await upgradedSession();
      await expectWebSocketAcceptedThenClosed(websocketPath(EIO, sid));
      ws.send("4hello");
      assert.equal(await ws.nextText("the echo over the first WebSocket"), "4hello");
    });
  });

  describe("extra checks (not in the official suite)", () => {
    it("[EX1] handshake errors carry the JSON {code, message} bodies of the reference server", opts, async () => {
      const cases = [
        [eioPath(EIO, "transport=polling"), 5, "Unsupported protocol version"],
        [eioPath(EIO, "EIO=3&transport=polling"), 5, "Unsupported protocol version"],
        [eioPath(EIO, "EIO=4&transport=abc"), 0, "Transport unknown"],
        [pollingPath(EIO, "no-such-session"), 1, "Session ID unknown"],
      ];
      for (const [path, code, message] of cases) {
        const res = await get(path);
        assert.equal(res.status, 400, path);
        assert.match(res.headers.get("content-type") ?? "", /^application\/json/, path);
        assert.deepEqual(JSON.parse(res.text), { code, message }, path);
      }
      const postHandshake = await request("POST", pollingPath(EIO));
      assert.deepEqual(JSON.parse(postHandshake.text), { code: 2, message: "Bad handshake method" });
      const { sid } = await upgradedSession();
      const afterUpgrade = await get(pollingPath(EIO, sid));
      assert.equal(afterUpgrade.status, 400);
      assert.deepEqual(JSON.parse(afterUpgrade.text), { code: 3, message: "Bad request" });
    });

    it("[EX2] CORS: any origin may call the polling endpoint (simple requests and preflight)", opts, async () => {
      const origin = "http://example.test:8080";
      const res = await get(pollingPath(EIO), { headers: { origin } });
      assert.equal(res.status, 200);
      const allowed = res.headers.get("access-control-allow-origin");
      assert.ok(allowed === "*" || allowed === origin, `access-control-allow-origin: ${allowed}`);
      const preflight = await request("OPTIONS", pollingPath(EIO), {
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type",
        },
      });
      assert.ok(preflight.status >= 200 && preflight.status < 300, `preflight answered ${preflight.status}`);
      const preflightOrigin = preflight.headers.get("access-control-allow-origin");
      assert.ok(preflightOrigin === "*" || preflightOrigin === origin, `preflight allow-origin: ${preflightOrigin}`);
      assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);
    });

    it("[EX3] polling payload limit: a POST of exactly maxPayload bytes is accepted, one byte more gets HTTP 413", opts, async () => {
      const largest = "4" + "a".repeat(MAX_PAYLOAD - 1);
      const { sid } = await openPollingSession(EIO);
      const accepted = await post(pollingPath(EIO, sid), largest);
      assert.equal(accepted.status, 200);
      const polled = await pollPastPings(pollingPath(EIO, sid));
      assert.equal(polled.text, largest);
      // On a session of its own: a megabyte each way takes a while on a slow machine, and
      // the heartbeat (a pong due within pingTimeout of each ping) does not wait.
      const other = await openPollingSession(EIO);
      const refused = await post(pollingPath(EIO, other.sid), largest + "a");
      assert.equal(refused.status, 413);
    });

    it("[EX4] WebSocket payload limit: a frame of maxPayload bytes is echoed, a larger one closes the connection (1009)", opts, async () => {
      const ws = new WsClient(websocketPath(EIO), { autoPong: true });
      await ws.nextOpenPacket();
      const largest = "4" + "b".repeat(MAX_PAYLOAD - 1);
      ws.send(largest);
      assert.equal(await ws.nextText("the echo of the largest frame"), largest);
      ws.send(largest + "b");
      const info = await ws.waitClosed("the server to close after an oversized frame");
      assert.equal(info.code, 1009);
    });

    it("[EX5] a polling GET answers text/plain and echoes an empty message and non-ASCII text unchanged", opts, async () => {
      const { sid } = await openPollingSession(EIO);
      const payload = `4${SEPARATOR}4héllo ✓`;
      assert.equal((await post(pollingPath(EIO, sid), payload)).status, 200);
      const polled = await pollPastPings(pollingPath(EIO, sid));
      assert.match(polled.headers.get("content-type") ?? "", /^text\/plain/);
      assert.equal(polled.text, payload);
    });
  });
});
