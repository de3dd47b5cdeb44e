// Core scenarios: run in every transport configuration against every server.
// Each test runs in a fresh page; the functions passed to page.evaluate run IN THE PAGE,
// where `client` is the module under test and `T` the helpers of page-helpers.js.

import assert from "node:assert/strict";
import { FAST_RECONNECT, START_TIMEOUT_MS, TEST_TIMEOUT_MS, bin, browserTest, push } from "./harness.mjs";

let unique = 0;
const uniq = (prefix) => `${prefix}-${process.pid}-${++unique}`;

/** Disconnect reason after the server process died (see ../interop/README.md). */
function assertTransportLossReason(mode, reason) {
  if (mode.expect === "websocket") {
    assert.equal(reason, "transport close", "disconnect reason after the server stopped");
  } else {
    // The official server exiting mid long-poll gives "transport error" (xhr poll error);
    // a server that answers the pending poll with a close packet first gives "transport close".
    assert.ok(["transport close", "transport error"].includes(reason), `unexpected disconnect reason: ${reason}`);
  }
}

/** `$connect`, `$disconnect`, `reconnect_attempt`... , `reconnect`, `$connect`: the official order. */
function assertReconnectSequence(names, disconnects) {
  const text = names.join(" ");
  assert.match(
    text,
    /^\$connect \$disconnect (io:reconnect_attempt )+io:reconnect \$connect$/,
    `lifecycle events in order: ${text}\n(disconnect events: ${JSON.stringify(disconnects)})`,
  );
}

export function coreScenarios({ server: serverInfo, mode }) {
  const title = (name) => `browser [${serverInfo.name}, ${mode.name}] ${name}`;
  const opts = { ...mode.opts, ...FAST_RECONNECT };
  const upgrade = mode.upgrade;

  browserTest(title("connect: welcome payload, socket.id, connected/disconnected/active"), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url, opts, upgrade }) => {
        const s = T.io(url, opts);
        const state = () => ({ connected: s.connected, disconnected: s.disconnected, active: s.active, id: s.id });
        const before = state();
        await T.connected(s);
        const atConnect = state();
        const [welcome] = await s.log.waitFor("welcome");
        const transport = await T.transport(s, upgrade);
        return { before, atConnect, welcome, transport, connects: s.log.count("$connect") };
      },
      { url: server.url, opts, upgrade },
    );
    assert.deepEqual(
      r.before,
      { connected: false, disconnected: true, active: true, id: undefined },
      "state right after io(): connecting, no id yet",
    );
    assert.equal(typeof r.atConnect.id, "string");
    assert.ok(r.atConnect.id.length > 0, "socket.id is non-empty");
    assert.deepEqual(r.atConnect, { connected: true, disconnected: false, active: true, id: r.atConnect.id });
    assert.deepEqual(r.welcome, { id: r.atConnect.id, auth: {}, namespace: "/" }, "welcome = { id: socket.id, auth: {}, namespace }");
    assert.equal(r.transport, mode.expect, "engine transport (socket.io.engine.transport.name)");
    assert.equal(r.connects, 1);
  });

  browserTest(title("auth: object and function (cb) => cb({...}) reach the server"), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url, opts }) => {
        const a = await T.connect(url, { ...opts, forceNew: true, auth: { token: "abc", n: 1, nested: { ok: true } } });
        let calls = 0;
        const b = await T.connect(url, {
          ...opts,
          forceNew: true,
          auth: (cb) => {
            calls += 1;
            cb({ token: "from-function", list: [1, "two"] });
          },
        });
        return { a: a.welcome, aId: a.id, b: b.welcome, bId: b.id, calls };
      },
      { url: server.url, opts },
    );
    assert.deepEqual(r.a, { id: r.aId, auth: { token: "abc", n: 1, nested: { ok: true } }, namespace: "/" });
    assert.deepEqual(r.b, { id: r.bId, auth: { token: "from-function", list: [1, "two"] }, namespace: "/" });
    assert.notEqual(r.aId, r.bId);
    assert.equal(r.calls, 1, "the auth function is called once per connection");
  });

  browserTest(title('rejected auth: connect_error "not authorized" with data, no retry'), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url, opts }) => {
        const s = T.io(url, { ...opts, auth: { token: "reject" } });
        const [err] = await T.once(s, "connect_error", { what: "connect_error" });
        const refused = {
          isError: err instanceof Error,
          message: err.message,
          data: err.data,
          connected: s.connected,
          active: s.active,
          connects: s.log.count("$connect"),
        };
        // The server is fine: the next client (its own connection) gets in.
        const ok = await T.connect(url, { ...opts, forceNew: true, auth: { token: "fine" } });
        return { refused, okWelcome: ok.welcome, okId: ok.id, connectsAfter: s.log.count("$connect") };
      },
      { url: server.url, opts },
    );
    assert.deepEqual(r.refused, {
      isError: true,
      message: "not authorized",
      data: { code: 42, reason: "bad token" },
      connected: false,
      active: false, // refused by middleware: the client does not retry
      connects: 0,
    });
    assert.deepEqual(r.okWelcome, { id: r.okId, auth: { token: "fine" }, namespace: "/" });
    assert.equal(r.connectsAfter, 0);
  });

  browserTest(title("emit: variadic arguments echoed intact and in order"), async ({ page, server }) => {
    const ARGS = [
      "plain",
      "",
      "ünïcødé — 日本語 — 👋🏽👨‍👩‍👧 — \u2028\u2029",
      'quotes " \\ / and 42["not","a","packet"]',
      0,
      -1.5,
      2 ** 53 - 1,
      true,
      false,
      null,
      [],
      {},
      [1, "two", [3, [4, null]], { five: 5 }],
      { nested: { deeper: { list: [true, null], text: "ü" } }, "key with spaces": 1, "": "empty key" },
    ];
    const r = await page.evaluate(
      async ({ url, opts, ARGS }) => {
        const s = await T.connect(url, opts);
        s.emit("echo", "a", 1, { b: [true, null] });
        const [three] = await Promise.all([s.log.waitFor("echo")]);
        s.emit("echo", ...ARGS);
        const many = await s.log.waitFor("echo", undefined, "the second echo", 2);
        s.emit("echo");
        const none = await s.log.waitFor("echo", undefined, "the echo without arguments", 3);
        for (let i = 0; i < 20; i++) s.emit("echo", "seq", i);
        await s.log.waitFor("echo", (tag, i) => tag === "seq" && i === 19, "the 20th sequenced echo");
        const seq = s.log.all("echo", (tag) => tag === "seq").map((args) => args[1]);
        return { three, many, none, seq };
      },
      { url: server.url, opts, ARGS },
    );
    assert.deepEqual(r.three, ["a", 1, { b: [true, null] }]);
    assert.deepEqual(r.many, ARGS);
    assert.deepEqual(r.none, []);
    assert.deepEqual(r.seq, [...Array(20).keys()], "20 consecutive events keep their order");
  });

  browserTest(title("acks: callback, emitWithAck, timeout().emit answered and timed out"), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url, opts }) => {
        const s = await T.connect(url, opts);
        const callback = await T.withTimeout(
          new Promise((resolve) => s.emit("echo-ack", 1, "two", { three: 3 }, (...res) => resolve(res))),
          "the echo-ack callback",
        );
        const noArgs = await T.withTimeout(
          new Promise((resolve) => s.emit("echo-ack", (...res) => resolve(res))),
          "the echo-ack callback without arguments",
        );
        const withAck = await T.withTimeout(s.emitWithAck("echo-ack", "first", "second"), "emitWithAck");
        const answered = await T.withTimeout(
          new Promise((resolve) =>
            s.timeout(5000).emit("echo-ack", "x", 2, (err, ...res) => resolve({ err: err === null ? null : String(err), res })),
          ),
          "timeout(5000).emit answered",
        );
        const timedOut = await T.withTimeout(
          new Promise((resolve) =>
            // The fixture's "echo" never acknowledges.
            s.timeout(200).emit("echo", "never acked", (err, ...res) => resolve({ err: T.describe(err), res })),
          ),
          "timeout(200).emit to time out",
        );
        const withAckTimeout = await T.withTimeout(s.timeout(5000).emitWithAck("echo-ack", { k: "v" }), "timeout().emitWithAck");
        const rejected = await T.withTimeout(
          s.timeout(200).emitWithAck("echo", "never acked either").then(
            (v) => ({ resolved: v }),
            (err) => ({ rejected: T.describe(err) }),
          ),
          "timeout(200).emitWithAck to reject",
        );
        // 15 concurrent acks, each resolved to its own callback.
        const concurrent = await Promise.all([...Array(15).keys()].map((i) => T.ack(s, "echo-ack", i, `n${i}`)));
        return { callback, noArgs, withAck, answered, timedOut, withAckTimeout, rejected, concurrent };
      },
      { url: server.url, opts },
    );
    assert.deepEqual(r.callback, [1, "two", { three: 3 }], "ack callback gets every argument");
    assert.deepEqual(r.noArgs, []);
    assert.equal(r.withAck, "first", "emitWithAck resolves with the first ack argument");
    assert.deepEqual(r.answered, { err: null, res: ["x", 2] }, "timeout().emit: err is null when answered");
    assert.deepEqual(r.timedOut, {
      err: { $type: "Error", message: "operation has timed out", data: undefined },
      res: [],
    });
    assert.deepEqual(r.withAckTimeout, { k: "v" });
    assert.deepEqual(r.rejected, { rejected: { $type: "Error", message: "operation has timed out", data: undefined } });
    assert.deepEqual(
      r.concurrent,
      [...Array(15).keys()].map((i) => [i, `n${i}`]),
    );
  });

  browserTest(title("server→client ack: a listener's last argument answers ask-client; ask-client-timeout"), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url, opts }) => {
        const s = await T.connect(url, opts);
        const questions = [];
        const answering = (payload, cb) => {
          questions.push({ payload, cb: typeof cb });
          cb({ doubled: payload.n * 2, echo: payload });
        };
        s.on("question", answering);
        const answered = await T.ack(s, "ask-client", { n: 21, s: "q1" });
        s.off("question", answering);
        s.on("question", (payload, cb) => questions.push({ payload, cb: typeof cb, unanswered: true }));
        const unanswered = await T.withTimeout(
          new Promise((resolve) =>
            s.timeout(5000).emit("ask-client-timeout", "no answer", (err, ...res) => resolve({ err, res })),
          ),
          "the ask-client-timeout ack",
        );
        return { answered, unanswered, questions };
      },
      { url: server.url, opts },
    );
    assert.deepEqual(r.answered, [{ answer: { doubled: 42, echo: { n: 21, s: "q1" } } }]);
    assert.deepEqual(r.unanswered, { err: null, res: [{ error: "timeout" }] });
    assert.deepEqual(r.questions, [
      { payload: { n: 21, s: "q1" }, cb: "function" },
      { payload: "no answer", cb: "function", unanswered: true },
    ]);
  });

  browserTest(title("send() arrives as the message event"), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url, opts }) => {
        const s = await T.connect(url, opts);
        const received = [];
        s.on("message", (...args) => received.push(args));
        s.send("hello", { x: [1, 2] });
        s.send();
        await s.log.waitFor("message", undefined, "the second message", 2);
        return { received, viaAny: s.log.all("message") };
      },
      { url: server.url, opts },
    );
    assert.deepEqual(r.received, [["hello", { x: [1, 2] }], []]);
    assert.deepEqual(r.viaAny, r.received, "onAny sees message too");
  });

  browserTest(title("binary both ways: ArrayBuffer, Uint8Array, nested, in acks; received as ArrayBuffer"), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url, opts }) => {
        const s = await T.connect(url, opts);
        const ab = new Uint8Array([0, 1, 2, 253, 254, 255]).buffer;
        const u8 = new Uint8Array([9, 8, 7]);
        const view = new Uint8Array(new Uint8Array([100, 101, 102, 103, 104]).buffer, 1, 3); // offset view
        const big = new Uint8Array(70000).map((_, i) => (i * 31) & 0xff);
        const nested = { a: [new Uint8Array([1, 2, 3])], b: { c: new Uint8Array([4, 5]).buffer }, text: "t" };
        s.emit("echo", ab, u8, nested, "between", view, big);
        const [echoed] = [await s.log.waitFor("echo")];
        const acked = await T.ack(s, "echo-ack", new Uint8Array([42, 43]), { deep: [new Uint8Array(0)] }, "x");
        const questions = [];
        s.on("question", (payload, cb) => {
          questions.push(T.describe(payload));
          cb(new Uint8Array([7, 7, 7]));
        });
        const asked = await T.ack(s, "ask-client", { bytes: new Uint8Array([1]).buffer });
        const bigOk =
          echoed[5] instanceof ArrayBuffer &&
          echoed[5].byteLength === big.length &&
          new Uint8Array(echoed[5]).every((b, i) => b === big[i]);
        return {
          echoed: T.describe(echoed.slice(0, 5)),
          bigOk,
          acked: T.describe(acked),
          questions,
          asked: T.describe(asked),
        };
      },
      { url: server.url, opts },
    );
    assert.deepEqual(r.echoed, [
      bin([0, 1, 2, 253, 254, 255]),
      bin([9, 8, 7]),
      { a: [bin([1, 2, 3])], b: { c: bin([4, 5]) }, text: "t" },
      "between",
      bin([101, 102, 103]),
    ]);
    assert.ok(r.bigOk, "a 70000-byte buffer comes back byte for byte as an ArrayBuffer");
    assert.deepEqual(r.acked, [bin([42, 43]), { deep: [bin([])] }, "x"], "binary in a client→server ack");
    assert.deepEqual(r.questions, [{ bytes: bin([1]) }], "binary in a server→client event");
    assert.deepEqual(r.asked, [{ answer: bin([7, 7, 7]) }], "binary answer to a server→client ack");
  });

  browserTest(title("rooms: two clients, to-room, to-room-others excludes the sender, broadcast-others"), async ({ page, server }) => {
    const room = uniq("room");
    const r = await page.evaluate(
      async ({ url, opts, room }) => {
        const a = await T.connect(url, { ...opts, forceNew: true });
        const b = await T.connect(url, { ...opts, forceNew: true });
        const joins = [await T.ack(a, "join", room), await T.ack(b, "join", room)];
        const roomsA = await T.ack(a, "rooms");

        a.emit("to-room", room, "m1");
        await a.log.waitFor("room-msg", (_, m) => m === "m1", "m1 at A");
        await b.log.waitFor("room-msg", (_, m) => m === "m1", "m1 at B");

        a.emit("to-room-others", room, "m2");
        await b.log.waitFor("room-msg", (_, m) => m === "m2", "m2 at B");
        // Marker from the same sender on the same connection: m2 would have reached A first.
        a.emit("to-room", room, "m3");
        await a.log.waitFor("room-msg", (_, m) => m === "m3", "m3 at A");
        await b.log.waitFor("room-msg", (_, m) => m === "m3", "m3 at B");

        a.emit("broadcast-others", "b1");
        await b.log.waitFor("bcast", (m) => m === "b1", "b1 at B");
        a.emit("broadcast", "b2");
        await a.log.waitFor("bcast", (m) => m === "b2", "b2 at A");
        await b.log.waitFor("bcast", (m) => m === "b2", "b2 at B");

        const leave = await T.ack(b, "leave", room);
        a.emit("to-room", room, "m4");
        await a.log.waitFor("room-msg", (_, m) => m === "m4", "m4 at A");
        b.emit("broadcast", "b3"); // marker for B, after m4 on the server
        await b.log.waitFor("bcast", (m) => m === "b3", "b3 at B");
        await a.log.waitFor("bcast", (m) => m === "b3", "b3 at A");

        const mine = (log, event) => log.all(event).filter((args) => event !== "room-msg" || args[0] === room);
        return {
          ids: [a.id, b.id],
          joins,
          roomsA,
          leave,
          aRoom: mine(a.log, "room-msg"),
          bRoom: mine(b.log, "room-msg"),
          aBcast: a.log.all("bcast").filter(([m]) => ["b1", "b2", "b3"].includes(m)),
          bBcast: b.log.all("bcast").filter(([m]) => ["b1", "b2", "b3"].includes(m)),
          sameManager: a.io === b.io,
        };
      },
      { url: server.url, opts, room },
    );
    assert.equal(r.sameManager, false, "forceNew: two managers");
    assert.deepEqual(r.joins, [["joined", room], ["joined", room]]);
    assert.deepEqual(r.roomsA, [[r.ids[0], room].sort()]);
    assert.deepEqual(r.leave, ["left", room]);
    assert.deepEqual(r.aRoom, [[room, "m1"], [room, "m3"], [room, "m4"]], "sender A: no m2 (to-room-others)");
    assert.deepEqual(r.bRoom, [[room, "m1"], [room, "m2"], [room, "m3"]], "B: no m4 after leaving");
    assert.deepEqual(r.aBcast, [["b2"], ["b3"]], "sender A: no b1 (broadcast-others)");
    assert.deepEqual(r.bBcast, [["b1"], ["b2"], ["b3"]]);
  });

  browserTest(title("namespaces: / and /custom share one Manager, forceNew gets another"), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url, opts }) => {
        const root = await T.connect(url, opts);
        const custom = await T.connect(`${url}/custom`, { ...opts, auth: { ns: "custom" } });
        const other = await T.connect(url, { ...opts, forceNew: true });
        return {
          shared: root.io === custom.io,
          separate: other.io !== root.io,
          root: { welcome: root.welcome, id: root.id, ack: await T.ack(root, "echo-ack", 1, "x") },
          custom: { welcome: custom.welcome, id: custom.id, ack: await T.ack(custom, "echo-ack", 1, "x") },
          other: { welcome: other.welcome, id: other.id },
        };
      },
      { url: server.url, opts },
    );
    assert.equal(r.shared, true, "io(url) and io(url + '/custom') share socket.io (one Manager)");
    assert.equal(r.separate, true, "forceNew: true creates another Manager");
    assert.deepEqual(r.root.welcome, { id: r.root.id, auth: {}, namespace: "/" });
    assert.deepEqual(r.custom.welcome, { id: r.custom.id, auth: { ns: "custom" }, namespace: "/custom" });
    assert.deepEqual(r.other.welcome, { id: r.other.id, auth: {}, namespace: "/" });
    assert.equal(new Set([r.root.id, r.custom.id, r.other.id]).size, 3, "distinct socket ids");
    assert.deepEqual(r.root.ack, [1, "x"]);
    assert.deepEqual(r.custom.ack, ["custom", 1, "x"], "/custom's echo-ack prefixes \"custom\"");
  });

  browserTest(title("offline buffering: emits before socket.connect() (autoConnect: false) arrive in order"), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url, opts }) => {
        const s = T.io(url, { ...opts, autoConnect: false });
        const before = { connected: s.connected, active: s.active };
        s.emit("echo", "early-1");
        const acked = T.ack(s, "echo-ack", "early-ack", 2);
        const withAck = s.emitWithAck("echo-ack", "early-emitWithAck");
        s.emit("echo", "early-2", { n: 2 });
        const returned = s.connect() === s;
        const activeAfterConnectCall = s.active;
        await T.connected(s);
        await s.log.waitFor("echo", undefined, "the second early echo", 2);
        return {
          before,
          returned,
          activeAfterConnectCall,
          echoes: s.log.all("echo"),
          acked: await acked,
          withAck: await T.withTimeout(withAck, "the buffered emitWithAck"),
        };
      },
      { url: server.url, opts },
    );
    assert.deepEqual(r.before, { connected: false, active: false }, "autoConnect: false does not connect");
    assert.equal(r.returned, true, "socket.connect() returns the socket");
    assert.equal(r.activeAfterConnectCall, true);
    assert.deepEqual(r.echoes, [["early-1"], ["early-2", { n: 2 }]]);
    assert.deepEqual(r.acked, ["early-ack", 2]);
    assert.equal(r.withAck, "early-emitWithAck");
  });

  browserTest(
    title('reconnection after a server restart: reconnect_attempt, reconnect, "transport close", new welcome'),
    { timeout: 2 * START_TIMEOUT_MS + TEST_TIMEOUT_MS },
    async ({ page, server }) => {
      const auth = { token: "comeback" };
      const s = await page.evaluateHandle(
        async ({ url, opts, auth, upgrade }) => {
          const s = await T.connect(url, { ...opts, auth });
          await T.transport(s, upgrade); // settled on the configuration's transport first
          return s;
        },
        { url: server.url, opts, auth, upgrade },
      );
      const firstId = await page.evaluate((s) => s.id, s);
      await server.restart();
      const r = await page.evaluate(
        async ({ s, firstId, upgrade }) => {
          const [reason] = await s.log.waitFor("$disconnect");
          const [attempt] = await s.log.waitFor("io:reconnect", undefined, "the Manager's reconnect event");
          await s.log.waitFor("$connect", undefined, "the second connect", 2);
          const [welcome] = await s.log.waitFor("welcome", (w) => w.id !== firstId, "a new welcome");
          const transport = await T.transport(s, upgrade);
          const echoed = await T.ack(s, "echo-ack", "after restart");
          return {
            reason,
            attempt,
            attempts: s.log.all("io:reconnect_attempt").map((a) => a[0]),
            names: s.log.names((n) => ["$connect", "$disconnect", "io:reconnect_attempt", "io:reconnect"].includes(n)),
            disconnects: s.log.all("$disconnect").map(([reason, details]) => [reason, T.describe(details?.description ?? details ?? null)]),
            welcome,
            state: { id: s.id, connected: s.connected, active: s.active },
            transport,
            echoed,
          };
        },
        { s, firstId, upgrade },
      );
      assertTransportLossReason(mode, r.reason);
      assertReconnectSequence(r.names, r.disconnects);
      assert.deepEqual(
        r.attempts,
        [...Array(r.attempts.length).keys()].map((i) => i + 1),
        "reconnect_attempt counts 1, 2, ...",
      );
      assert.equal(r.attempt, r.attempts.at(-1), "reconnect reports the number of the successful attempt");
      assert.notEqual(r.state.id, firstId, "a new session, new socket id");
      assert.deepEqual(r.state, { id: r.state.id, connected: true, active: true });
      assert.deepEqual(r.welcome, { id: r.state.id, auth, namespace: "/" }, "a new welcome with the same auth");
      assert.equal(r.transport, mode.expect);
      assert.deepEqual(r.echoed, ["after restart"]);
    },
  );

  browserTest(
    title("server down: emit is buffered and delivered after the restart, volatile.emit is dropped"),
    { timeout: 2 * START_TIMEOUT_MS + TEST_TIMEOUT_MS },
    async ({ page, server }) => {
      const s = await page.evaluateHandle(
        async ({ url, opts, upgrade }) => {
          const s = await T.connect(url, opts);
          await T.transport(s, upgrade); // settled on the configuration's transport first
          return s;
        },
        { url: server.url, opts, upgrade },
      );
      const port = server.port;
      await server.stop();
      const down = await page.evaluate(async (s) => {
        const [reason] = await s.log.waitFor("$disconnect", undefined, "disconnect after the server stopped");
        // Wait until a reconnection attempt has failed: the client is really offline.
        await s.log.waitFor("io:reconnect_error", undefined, "a failed reconnection attempt");
        const state = { connected: s.connected, active: s.active };
        s.emit("echo", "buffered-1");
        s.volatile.emit("echo", "volatile-dropped");
        s.emit("echo", "buffered-2", { n: 2 });
        s.pendingAck = T.ack(s, "echo-ack", "buffered-ack");
        return { reason, state };
      }, s);
      assertTransportLossReason(mode, down.reason);
      assert.deepEqual(down.state, { connected: false, active: true }, "offline, still trying to reconnect");

      await server.start(port);
      const r = await page.evaluate(async (s) => {
        await s.log.waitFor("$connect", undefined, "the reconnection", 2);
        const acked = await s.pendingAck;
        s.emit("echo", "marker"); // after the buffered packets, on the same connection
        await s.log.waitFor("echo", (m) => m === "marker", "the marker echo");
        return { acked, echoes: s.log.all("echo"), connected: s.connected };
      }, s);
      assert.deepEqual(r.acked, ["buffered-ack"]);
      assert.deepEqual(
        r.echoes,
        [["buffered-1"], ["buffered-2", { n: 2 }], ["marker"]],
        "buffered emits delivered in order; the volatile one dropped",
      );
    },
  );

  browserTest(title('server-disconnect: "io server disconnect", no automatic reconnection'), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url, opts }) => {
        const s = await T.connect(url, opts);
        const firstId = s.id;
        const reasonP = T.once(s, "disconnect", { what: "disconnect" });
        s.emit("server-disconnect");
        const [reason] = await reasonP;
        const after = { connected: s.connected, disconnected: s.disconnected, active: s.active, id: s.id };
        // A manual connect() is allowed and gets a new session.
        s.connect();
        await T.connected(s);
        const [welcome] = await s.log.waitFor("welcome", (w) => w.id !== firstId, "a new welcome");
        return {
          reason,
          after,
          firstId,
          id: s.id,
          welcome,
          attempts: s.log.count("io:reconnect_attempt"),
          reconnects: s.log.count("io:reconnect"),
        };
      },
      { url: server.url, opts },
    );
    assert.equal(r.reason, "io server disconnect");
    assert.deepEqual(r.after, { connected: false, disconnected: true, active: false, id: undefined }, "not reconnecting");
    assert.notEqual(r.id, r.firstId);
    assert.deepEqual(r.welcome, { id: r.id, auth: {}, namespace: "/" });
    assert.equal(r.attempts, 0, "no reconnect_attempt");
    assert.equal(r.reconnects, 0, "no reconnect");
  });

  browserTest(title('client disconnect(): "io client disconnect", peers see "client namespace disconnect"'), async ({ page, server }) => {
    // peer-left goes to the leaving socket's group only (FIXTURE.md): a group of this test's own.
    const auth = { group: uniq("group") };
    const r = await page.evaluate(
      async ({ url, opts, auth }) => {
        const s = await T.connect(url, { ...opts, forceNew: true, auth });
        const peer = await T.connect(url, { ...opts, forceNew: true, auth });
        const id = s.id;
        const reasonP = T.once(s, "disconnect", { what: "disconnect" });
        const returned = s.disconnect() === s;
        const [reason] = await reasonP;
        const after = { connected: s.connected, disconnected: s.disconnected, active: s.active, id: s.id };
        const [left] = await peer.log.waitFor("peer-left", (p) => p.id === id, "peer-left at the peer");
        return { id, returned, reason, after, left, attempts: s.log.count("io:reconnect_attempt") };
      },
      { url: server.url, opts, auth },
    );
    assert.equal(r.reason, "io client disconnect");
    assert.equal(r.returned, true, "disconnect() returns the socket");
    assert.deepEqual(r.after, { connected: false, disconnected: true, active: false, id: undefined });
    assert.deepEqual(r.left, { id: r.id, reason: "client namespace disconnect" });
    assert.equal(r.attempts, 0);
  });

  // Over polling several events come in one response, and Sockeye's client hands them to
  // the page together: one that a listener leaves the namespace at must still be the last
  // one heard, as in socket.io-client.
  browserTest(title("a listener that calls disconnect() hears no later event, even one that came with it"), async ({ page, server }) => {
    const room = uniq("room");
    const r = await page.evaluate(
      async ({ url, opts, room }) => {
        const sender = await T.connect(url, { ...opts, forceNew: true });
        const leaver = await T.connect(url, { ...opts, forceNew: true });
        const witness = await T.connect(url, { ...opts, forceNew: true });
        await T.ack(leaver, "join", room);
        await T.ack(witness, "join", room);
        const heard = [];
        leaver.on("room-msg", (to, m) => {
          if (to !== room) return;
          heard.push(m);
          if (m === 3) leaver.disconnect();
        });
        const left = T.once(leaver, "disconnect", { what: "the leaver's disconnect" });
        // One POST with six emits: the server sends the first at once on the pending
        // GET and the others together on the next one.
        for (let m = 1; m <= 6; m++) sender.emit("to-room", room, m);
        // Events delivered with the third one are in `heard` by the time this resumes.
        await left;
        await witness.log.waitFor("room-msg", (to, m) => to === room && m === 6, "the last message at the witness");
        return { heard, connected: leaver.connected };
      },
      { url: server.url, opts, room },
    );
    assert.deepEqual(r.heard, [1, 2, 3], "nothing after the listener's disconnect()");
    assert.equal(r.connected, false);
  });

  // With polling, the emit's POST is still on its way when disconnect() writes the
  // DISCONNECT: the close packet must follow in a POST of its own, or the Node server
  // acts on it first and its peers see "transport close".
  browserTest(title('disconnect() right after an emit: peers still see "client namespace disconnect"'), async ({ page, server }) => {
    const auth = { group: uniq("group") };
    const r = await page.evaluate(
      async ({ url, opts, auth }) => {
        const s = await T.connect(url, { ...opts, forceNew: true, auth });
        const peer = await T.connect(url, { ...opts, forceNew: true, auth });
        const id = s.id;
        s.emit("no-such-event", "last words");
        s.disconnect();
        const [left] = await peer.log.waitFor("peer-left", (p) => p.id === id, "peer-left at the peer");
        return { id, left };
      },
      { url: server.url, opts, auth },
    );
    assert.deepEqual(r.left, { id: r.id, reason: "client namespace disconnect" });
  });

  browserTest(title("POST /push reaches the page (namespace and room)"), async ({ page, server }) => {
    const room = uniq("push-room");
    const s = await page.evaluateHandle(
      async ({ url, opts, room }) => {
        const s = await T.connect(url, opts);
        await T.ack(s, "join", room);
        return s;
      },
      { url: server.url, opts, room },
    );
    await push(server.url, { event: "news", data: { headline: "hello", list: [1, "ü", null] } });
    await push(server.url, { event: "room-news", data: "only the room", room });
    await push(server.url, { event: "room-news", data: "another room", room: `${room}-other` });
    await push(server.url, { event: "marker", data: 1 });
    const r = await page.evaluate(async (s) => {
      await s.log.waitFor("marker");
      return { news: s.log.all("news"), roomNews: s.log.all("room-news"), order: s.log.names((n) => n !== "welcome") };
    }, s);
    assert.deepEqual(r.news, [[{ headline: "hello", list: [1, "ü", null] }]]);
    assert.deepEqual(r.roomNews, [["only the room"]], "only the joined room's push");
    assert.deepEqual(
      r.order.filter((n) => ["news", "room-news", "marker"].includes(n)),
      ["news", "room-news", "marker"],
    );
  });
}
