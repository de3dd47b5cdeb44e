// Socket.IO v5 (over Engine.IO v4) conformance, against the `/socket.io/` endpoint.
//
// One test per test case of the official Socket.IO v5 protocol test suite ([S01]..[S32],
// see README.md for the mapping), re-expressed in our own words, plus a few extra checks
// ([SX1]..) of behaviour the official suite does not pin down.
//
//   CONFORMANCE_URL=http://127.0.0.1:3000 node --test conformance/socket.io.test.mjs

import { describe, it, afterEach } from "node:test";
import assert from "node:assert/strict";
import {
  BASE_URL,
  PING_INTERVAL,
  PING_TIMEOUT,
  MAX_PAYLOAD,
  CONNECT_TIMEOUT,
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

const SIO = "/socket.io/";
const opts = { timeout: TEST_TIMEOUT_MS };

afterEach(() => closeAllConnections());

/** Checks a CONNECT reply ("40<nsp>,{"sid":"..."}") and returns its sid. */
function assertConnectReply(frame, prefix) {
  assert.ok(frame.startsWith(prefix), `expected a CONNECT reply starting with ${prefix}, got ${JSON.stringify(frame)}`);
  const body = JSON.parse(frame.slice(prefix.length));
  assert.deepEqual(Object.keys(body), ["sid"], `the CONNECT reply must hold only the sid: ${frame}`);
  assert.equal(typeof body.sid, "string");
  assert.ok(body.sid.length > 0);
  return body.sid;
}

/** A WebSocket connected to the main namespace, after the CONNECT reply and the `auth`
 * event. Pings are answered automatically unless `autoPong` is false. */
async function connectedSocket({ autoPong = true } = {}) {
  const ws = new WsClient(websocketPath(SIO), { autoPong });
  await ws.nextOpenPacket();
  ws.send("40");
  assertConnectReply(await ws.nextText("the CONNECT reply"), "40");
  assert.equal(await ws.nextText("the auth event"), '42["auth",{}]');
  return ws;
}

/** Upgrades a fresh polling session to WebSocket; returns { sid, ws } once the server has
 * certainly processed the UPGRADE packet (proved by the answer to a CONNECT sent after it). */
async function upgradedSession() {
  const { sid } = await openPollingSession(SIO);
  const ws = new WsClient(websocketPath(SIO, sid), { autoPong: true });
  await ws.waitOpen();
  ws.send("2probe");
  assert.equal(await ws.nextText("the probe answer"), "3probe");
  ws.send("5");
  ws.send("40");
  assertConnectReply(await ws.nextText("the CONNECT reply over the upgraded transport"), "40");
  assert.equal(await ws.nextText("the auth event"), '42["auth",{}]');
  return { sid, ws };
}

describe(`Socket.IO v5 conformance (${BASE_URL}${SIO})`, () => {
  describe("Engine.IO layer", () => {
    describe("handshake over HTTP long-polling", () => {
      it("[S01] a polling handshake opens a session with the configured parameters", opts, async () => {
        const res = await get(pollingPath(SIO));
        assert.equal(res.status, 200);
        const open = parseOpenPacket(res.text);
        assert.deepEqual(Object.keys(open).sort(), OPEN_KEYS);
        assert.equal(typeof open.sid, "string");
        assert.deepEqual(open.upgrades, ["websocket"]);
        assert.equal(open.pingInterval, PING_INTERVAL);
        assert.equal(open.pingTimeout, PING_TIMEOUT);
        assert.equal(open.maxPayload, MAX_PAYLOAD);
      });

      it("[S02] a polling handshake without EIO or with a non-numeric EIO is refused with HTTP 400", opts, async () => {
        assert.equal((await get(eioPath(SIO, "transport=polling"))).status, 400);
        assert.equal((await get(eioPath(SIO, "EIO=abc&transport=polling"))).status, 400);
      });

      it("[S03] a polling handshake without transport or with an unknown transport is refused with HTTP 400", opts, async () => {
        assert.equal((await get(eioPath(SIO, "EIO=4"))).status, 400);
        assert.equal((await get(eioPath(SIO, "EIO=4&transport=abc"))).status, 400);
      });

      it("[S04] a handshake made with POST or PUT instead of GET is refused with HTTP 400", opts, async () => {
        assert.equal((await request("POST", pollingPath(SIO))).status, 400);
        assert.equal((await request("PUT", pollingPath(SIO))).status, 400);
      });
    });

    describe("handshake over WebSocket", () => {
      it("[S05] a WebSocket handshake opens a session with the configured parameters and no upgrades", opts, async () => {
        const ws = new WsClient(websocketPath(SIO));
        const open = await ws.nextOpenPacket();
        assert.deepEqual(Object.keys(open).sort(), OPEN_KEYS);
        assert.equal(typeof open.sid, "string");
        assert.deepEqual(open.upgrades, []);
        assert.equal(open.pingInterval, PING_INTERVAL);
        assert.equal(open.pingTimeout, PING_TIMEOUT);
        assert.equal(open.maxPayload, MAX_PAYLOAD);
      });

      it("[S06] a WebSocket without EIO or with a non-numeric EIO gets no session and is closed", opts, async () => {
        await expectWebSocketRejected(eioPath(SIO, "transport=websocket"));
        await expectWebSocketRejected(eioPath(SIO, "EIO=abc&transport=websocket"));
      });

      it("[S07] a WebSocket without transport or with an unknown transport gets no session and is closed", opts, async () => {
        await expectWebSocketRejected(eioPath(SIO, "EIO=4"));
        await expectWebSocketRejected(eioPath(SIO, "EIO=4&transport=abc"));
      });
    });

    describe("heartbeat", () => {
      it("[S08] the server pings a polling client every pingInterval and accepts its pongs", opts, async () => {
        const { sid } = await openPollingSession(SIO);
        // Connected to "/" first: three pings take about connectTimeout (1 s), so on a slow
        // machine a session without CONNECT would be closed before the third.
        assert.equal((await post(pollingPath(SIO, sid), "40")).status, 200);
        const connected = [];
        while (!connected.includes('42["auth",{}]')) {
          const polled = await pollPastPings(pollingPath(SIO, sid));
          assert.equal(polled.status, 200, `the CONNECT reply: ${polled.status} ${polled.text}`);
          connected.push(...polled.packets);
        }
        assertConnectReply(connected[0], "40");
        for (let i = 0; i < 3; i++) {
          const polled = await get(pollingPath(SIO, sid));
          assert.equal(polled.status, 200);
          assert.equal(polled.text, "2", `poll #${i + 1} must carry a PING`);
          assert.equal((await post(pollingPath(SIO, sid), "3")).status, 200);
        }
      });

      it("[S09] a polling session whose client never answers is gone after pingInterval + pingTimeout", opts, async () => {
        const { sid } = await openPollingSession(SIO);
        // The scenario is a silent client: no poll at all, so the PING stays queued.
        await idle(PING_INTERVAL + PING_TIMEOUT + 2_000);
        assert.equal((await get(pollingPath(SIO, sid))).status, 400);
      });

      it("[S10] the server pings a WebSocket client every pingInterval and accepts its pongs", opts, async () => {
        const ws = new WsClient(websocketPath(SIO));
        await ws.nextOpenPacket();
        for (let i = 0; i < 3; i++) {
          assert.equal(await ws.nextText(`PING #${i + 1}`), "2");
          ws.send("3");
        }
      });

      it("[S11] a WebSocket client that never answers PING is disconnected after about pingInterval + pingTimeout", opts, async () => {
        const ws = new WsClient(websocketPath(SIO));
        await ws.nextOpenPacket();
        const info = await ws.waitClosed("the ping timeout", PING_INTERVAL + PING_TIMEOUT + TIMING_SLACK_MS);
        assert.ok(ws.log.some((frame) => frame.data === "2"), "the server must have sent a PING before giving up");
        assert.ok(info.at - ws.openedAt >= PING_INTERVAL / 2, "closed before any ping could have been missed");
      });
    });

    describe("close", () => {
      it("[S12] a CLOSE packet posted by the client ends the session; a pending poll is released with NOOP", opts, async () => {
        let sawPendingPoll = false;
        for (let attempt = 1; attempt <= 20 && !sawPendingPoll; attempt++) {
          const { sid } = await openPollingSession(SIO);
          const poll = rawRequest("GET", pollingPath(SIO, sid));
          await poll.flushed;
          await post(pollingPath(SIO, sid), "1");
          const polled = await poll.response;
          if (polled.status === 200 && polled.text === "2") {
            // A slow machine let the first PING answer the poll before the CLOSE came.
          } else if (polled.status === 200) {
            assert.equal(polled.text, "6", "the pending poll must be released with a NOOP packet");
            sawPendingPoll = true;
          } else {
            assert.equal(polled.status, 400, `unexpected answer to the poll: ${JSON.stringify(polled)}`);
          }
          assert.equal((await get(pollingPath(SIO, sid))).status, 400);
        }
        assert.ok(sawPendingPoll, "never managed to have a poll pending when the CLOSE arrived");
      });

      it("[S13] a CLOSE packet sent over WebSocket ends the connection", opts, async () => {
        const ws = new WsClient(websocketPath(SIO));
        await ws.nextOpenPacket();
        ws.send("1");
        await ws.waitClosed("the server to end the connection", PING_INTERVAL + PING_TIMEOUT + TIMING_SLACK_MS);
      });
    });

    describe("upgrade", () => {
      it("[S14] a polling session upgrades to WebSocket (probe answered, UPGRADE accepted)", opts, async () => {
        const { sid } = await openPollingSession(SIO);
        const ws = new WsClient(websocketPath(SIO, sid), { autoPong: true });
        await ws.waitOpen();
        ws.send("2probe");
        assert.equal(await ws.nextText("the probe answer"), "3probe");
        ws.send("5");
        // The upgraded transport carries Socket.IO traffic.
        ws.send("40");
        assertConnectReply(await ws.nextText("the CONNECT reply over WebSocket"), "40");
      });

      it("[S15] after the upgrade, HTTP requests carrying the same sid are refused with HTTP 400", opts, async () => {
        const { sid } = await upgradedSession();
        assert.equal((await get(pollingPath(SIO, sid))).status, 400);
      });

      it("[S16] after the upgrade, a second WebSocket with the same sid is closed right after its handshake", opts, async () => {
        const { sid, ws } = await upgradedSession();
        await expectWebSocketAcceptedThenClosed(websocketPath(SIO, sid));
        ws.send('42["message","still here"]');
        assert.equal(await ws.nextText("the answer on the first WebSocket"), '42["message-back","still here"]');
      });
    });
  });

  describe("Socket.IO layer", () => {
    describe("connect", () => {
      it("[S17] CONNECT to the main namespace is answered with {sid} and the auth event carries {}", opts, async () => {
        const ws = new WsClient(websocketPath(SIO), { autoPong: true });
        await ws.nextOpenPacket();
        ws.send("40");
        assertConnectReply(await ws.nextText("the CONNECT reply"), "40");
        assert.equal(await ws.nextText("the auth event"), '42["auth",{}]');
      });

      it("[S18] CONNECT to the main namespace with an auth payload: the auth event echoes it", opts, async () => {
        const ws = new WsClient(websocketPath(SIO), { autoPong: true });
        await ws.nextOpenPacket();
        ws.send('40{"token":"123"}');
        assertConnectReply(await ws.nextText("the CONNECT reply"), "40");
        assert.equal(await ws.nextText("the auth event"), '42["auth",{"token":"123"}]');
      });

      it("[S19] CONNECT to the /custom namespace is answered in that namespace", opts, async () => {
        const ws = new WsClient(websocketPath(SIO), { autoPong: true });
        await ws.nextOpenPacket();
        ws.send("40/custom,");
        assertConnectReply(await ws.nextText("the CONNECT reply"), "40/custom,");
        assert.equal(await ws.nextText("the auth event"), '42/custom,["auth",{}]');
      });

      it("[S20] CONNECT to /custom with an auth payload: the auth event echoes it in /custom", opts, async () => {
        const ws = new WsClient(websocketPath(SIO), { autoPong: true });
        await ws.nextOpenPacket();
        ws.send('40/custom,{"token":"abc"}');
        assertConnectReply(await ws.nextText("the CONNECT reply"), "40/custom,");
        assert.equal(await ws.nextText("the auth event"), '42/custom,["auth",{"token":"abc"}]');
      });

      it("[S21] CONNECT to an unknown namespace is answered with CONNECT_ERROR \"Invalid namespace\"", opts, async () => {
        const ws = new WsClient(websocketPath(SIO), { autoPong: true });
        await ws.nextOpenPacket();
        ws.send("40/random");
        assert.equal(await ws.nextText("the CONNECT_ERROR"), '44/random,{"message":"Invalid namespace"}');
      });

      it("[S22] a malformed first packet (\"4abc\") makes the server close the connection", opts, async () => {
        const ws = new WsClient(websocketPath(SIO), { autoPong: true });
        await ws.nextOpenPacket();
        ws.send("4abc");
        await ws.waitClosed("the server to close after a malformed packet");
      });

      it("[S23] a client that never sends CONNECT is disconnected after connectTimeout", opts, async () => {
        // Pings are answered, so only the connect timeout can end this connection.
        const ws = new WsClient(websocketPath(SIO), { autoPong: true });
        await ws.nextOpenPacket();
        const info = await ws.waitClosed("the connect timeout", CONNECT_TIMEOUT + TIMING_SLACK_MS);
        const elapsed = info.at - ws.openedAt;
        assert.ok(elapsed >= CONNECT_TIMEOUT * 0.75, `closed after only ${elapsed.toFixed(0)} ms`);
      });
    });

    describe("disconnect", () => {
      it("[S24] DISCONNECT from the main namespace leaves the Engine.IO connection open (next frame is a PING)", opts, async () => {
        const ws = await connectedSocket({ autoPong: false });
        ws.send("41");
        assert.equal(await ws.nextText("the next frame after DISCONNECT"), "2");
        ws.send("3");
      });

      it("[S25] connecting to then disconnecting from /custom does not affect the main namespace", opts, async () => {
        const ws = await connectedSocket();
        ws.send("40/custom");
        assertConnectReply(await ws.nextText("the /custom CONNECT reply"), "40/custom,");
        assert.equal(await ws.nextText("the /custom auth event"), '42/custom,["auth",{}]');
        ws.send("41/custom");
        ws.send('42["message","message to main namespace"]');
        assert.equal(await ws.nextText("the main-namespace answer"), '42["message-back","message to main namespace"]');
      });
    });

    describe("message", () => {
      it("[S26] a plain-text EVENT is answered with message-back and the same arguments", opts, async () => {
        const ws = await connectedSocket();
        ws.send('42["message",1,"2",{"3":[true]}]');
        assert.equal(await ws.nextText("message-back"), '42["message-back",1,"2",{"3":[true]}]');
      });

      it("[S27] a BINARY_EVENT with two attachments is answered with message-back and the same attachments", opts, async () => {
        const ws = await connectedSocket();
        ws.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
        ws.send(Uint8Array.from([1, 2, 3]));
        ws.send(Uint8Array.from([4, 5, 6]));
        assert.equal(
          await ws.nextText("the BINARY_EVENT header"),
          '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
        );
        assert.deepEqual([...(await ws.nextBinary("attachment 0"))], [1, 2, 3]);
        assert.deepEqual([...(await ws.nextBinary("attachment 1"))], [4, 5, 6]);
      });

      it("[S28] a plain-text EVENT with an ack id is acknowledged with the same arguments", opts, async () => {
        const ws = await connectedSocket();
        ws.send('42456["message-with-ack",1,"2",{"3":[false]}]');
        assert.equal(await ws.nextText("the ACK"), '43456[1,"2",{"3":[false]}]');
      });

      it("[S29] a BINARY_EVENT with an ack id is acknowledged with a BINARY_ACK carrying the same attachments", opts, async () => {
        const ws = await connectedSocket();
        ws.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
        ws.send(Uint8Array.from([1, 2, 3]));
        ws.send(Uint8Array.from([4, 5, 6]));
        assert.equal(
          await ws.nextText("the BINARY_ACK header"),
          '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
        );
        assert.deepEqual([...(await ws.nextBinary("attachment 0"))], [1, 2, 3]);
        assert.deepEqual([...(await ws.nextBinary("attachment 1"))], [4, 5, 6]);
      });

      it("[S30] an unknown Socket.IO packet type (\"4abc\") closes the connection", opts, async () => {
        const ws = await connectedSocket();
        ws.send("4abc");
        await ws.waitClosed("the server to close after an unknown packet type");
      });

      it("[S31] an EVENT whose payload is not an array (\"42{}\") closes the connection", opts, async () => {
        const ws = await connectedSocket();
        ws.send("42{}");
        await ws.waitClosed("the server to close after an invalid payload");
      });

      it("[S32] an EVENT with a non-numeric ack id closes the connection", opts, async () => {
        const ws = await connectedSocket();
        ws.send('42abc["message-with-ack",1,"2",{"3":[false]}]');
        await ws.waitClosed("the server to close after an invalid ack id");
      });
    });
  });

  describe("extra checks (not in the official suite)", () => {
    it("[SX1] over HTTP long-polling, the CONNECT reply and the auth event come in one \\x1e-separated payload", opts, async () => {
      const { sid } = await openPollingSession(SIO);
      assert.equal((await post(pollingPath(SIO, sid), '40{"token":"p"}')).status, 200);
      const polled = await pollPastPings(pollingPath(SIO, sid));
      assert.equal(polled.status, 200);
      const { packets } = polled;
      assert.equal(packets.length, 2, `payload: ${JSON.stringify(polled.text)}`);
      assertConnectReply(packets[0], "40");
      assert.equal(packets[1], '42["auth",{"token":"p"}]');
      // A binary attachment travels base64-encoded ("b" prefix) over polling.
      const body = `451-["message",{"_placeholder":true,"num":0}]${SEPARATOR}bAQID`;
      assert.equal((await post(pollingPath(SIO, sid), body)).status, 200);
      const echoed = await pollPastPings(pollingPath(SIO, sid));
      assert.equal(echoed.text, `451-["message-back",{"_placeholder":true,"num":0}]${SEPARATOR}bAQID`);
    });

    it("[SX2] over HTTP long-polling, a session without CONNECT is closed after connectTimeout", opts, async () => {
      const { sid } = await openPollingSession(SIO);
      const started = now();
      for (;;) {
        const polled = await get(pollingPath(SIO, sid));
        if (polled.status === 400 || polled.text.split(SEPARATOR).includes("1")) break;
        assert.equal(polled.status, 200);
        assert.equal(polled.text, "2", `unexpected payload ${JSON.stringify(polled.text)}`);
        await post(pollingPath(SIO, sid), "3");
        assert.ok(now() - started < CONNECT_TIMEOUT + TIMING_SLACK_MS, "the session outlived connectTimeout");
      }
      const elapsed = now() - started;
      assert.ok(elapsed >= CONNECT_TIMEOUT * 0.75, `closed after only ${elapsed.toFixed(0)} ms`);
      assert.equal((await get(pollingPath(SIO, sid))).status, 400);
    });

    it("[SX3] acks work in /custom, and an ack without arguments is an empty array", opts, async () => {
      const ws = await connectedSocket();
      ws.send("40/custom,");
      assertConnectReply(await ws.nextText("the /custom CONNECT reply"), "40/custom,");
      assert.equal(await ws.nextText("the /custom auth event"), '42/custom,["auth",{}]');
      ws.send('42/custom,7["message-with-ack","x"]');
      assert.equal(await ws.nextText("the /custom ACK"), '43/custom,7["x"]');
      ws.send('4212["message-with-ack"]');
      assert.equal(await ws.nextText("the empty ACK"), "4312[]");
    });

    it("[SX4] after a CONNECT_ERROR for an unknown namespace the connection stays usable", opts, async () => {
      const ws = new WsClient(websocketPath(SIO), { autoPong: true });
      await ws.nextOpenPacket();
      ws.send("40/random,");
      assert.equal(await ws.nextText("the CONNECT_ERROR"), '44/random,{"message":"Invalid namespace"}');
      ws.send("40");
      assertConnectReply(await ws.nextText("the CONNECT reply"), "40");
      assert.equal(await ws.nextText("the auth event"), '42["auth",{}]');
    });
  });
});
