// API-surface scenarios (module exports, classes, listener management): one transport
// configuration is enough. Functions passed to page.evaluate run IN THE PAGE.

import assert from "node:assert/strict";
import { FAST_RECONNECT, browserTest, refusedPort } from "./harness.mjs";

export function apiScenarios({ server: serverInfo, mode }) {
  const title = (name) => `browser [${serverInfo.name}, ${mode.name}] ${name}`;
  const opts = { ...mode.opts, ...FAST_RECONNECT };

  browserTest(title("module exports: io (also default), connect, Manager, Socket; io.connect === io"), async ({ page }) => {
    const r = await page.evaluate(() => ({
      io: typeof client.io,
      defaultIsIo: client.default === client.io,
      connectIsIo: client.connect === client.io,
      ioConnectIsIo: client.io.connect === client.io,
      manager: typeof client.Manager,
      socket: typeof client.Socket,
    }));
    assert.deepEqual(r, {
      io: "function",
      defaultIsIo: true,
      connectIsIo: true,
      ioConnectIsIo: true,
      manager: "function",
      socket: "function",
    });
  });

  browserTest(title("new Manager(url, opts).socket(nsp): instances of Manager and Socket, both namespaces"), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url, opts }) => {
        const manager = new client.Manager(url, opts);
        const root = manager.socket("/");
        const custom = manager.socket("/custom", { auth: { via: "manager" } });
        const welcomes = await Promise.all(
          [root, custom].map((s) => T.once(s, "welcome", { what: "welcome" }).then(([w]) => w)),
        );
        const result = {
          managerIsManager: manager instanceof client.Manager,
          socketIsSocket: root instanceof client.Socket && custom instanceof client.Socket,
          ioIsManager: root.io === manager && custom.io === manager,
          fromIo: client.io(url, { ...opts, forceNew: true }) instanceof client.Socket,
          ids: [root.id, custom.id],
          welcomes,
          acks: [await T.ack(root, "echo-ack", "r"), await T.ack(custom, "echo-ack", "c")],
        };
        return result;
      },
      { url: server.url, opts },
    );
    assert.deepEqual(r.welcomes, [
      { id: r.ids[0], auth: {}, namespace: "/" },
      { id: r.ids[1], auth: { via: "manager" }, namespace: "/custom" },
    ]);
    assert.equal(r.managerIsManager, true, "new Manager() instanceof Manager");
    assert.equal(r.socketIsSocket, true, "manager.socket() instanceof Socket");
    assert.equal(r.ioIsManager, true, "socket.io is the Manager");
    assert.equal(r.fromIo, true, "io() returns a Socket");
    assert.deepEqual(r.acks, [["r"], ["custom", "c"]]);
  });

  browserTest(title("on/once/off: listeners, chaining, once fires once, off removes"), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url, opts }) => {
        const s = await T.connect(url, opts);
        const got = { on: [], once: [], removed: [], all: [] };
        const onL = (n) => got.on.push(n);
        const onceL = (n) => got.once.push(n);
        const removedL = (n) => got.removed.push(n);
        const chained =
          s.on("echo", onL) === s &&
          s.once("echo", onceL) === s &&
          s.on("echo", removedL) === s &&
          s.on("echo", (n) => got.all.push(n)) === s;
        const offReturns = s.off("echo", removedL) === s;
        const emitReturns = s.emit("echo", 1) === s;
        await s.log.waitFor("echo", (n) => n === 1);
        s.off("echo", onL);
        s.emit("echo", 2);
        await s.log.waitFor("echo", (n) => n === 2);
        s.on("echo", onL);
        s.off("echo"); // every listener of the event
        s.on("other", () => {});
        s.emit("echo", 3);
        await s.log.waitFor("echo", (n) => n === 3);
        // sanity: a listener added now still works
        s.once("echo", (n) => got.all.push(`late ${n}`));
        s.emit("echo", 4);
        await s.log.waitFor("echo", (n) => n === 4);
        return { chained, offReturns, emitReturns, got };
      },
      { url: server.url, opts },
    );
    assert.equal(r.chained, true, "on/once return the socket");
    assert.equal(r.offReturns, true, "off returns the socket");
    assert.equal(r.emitReturns, true, "emit returns the socket");
    assert.deepEqual(r.got, { on: [1], once: [1], removed: [], all: [1, 2, "late 4"] });
  });

  browserTest(title("onAny/prependAny/offAny: ordering before regular listeners, removal"), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url, opts }) => {
        const s = await T.connect(url, opts);
        const calls = [];
        const any1 = (event, ...args) => calls.push(["any1", event, ...args]);
        const any2 = (event, ...args) => calls.push(["any2", event, ...args]);
        const first = (event, ...args) => calls.push(["prepended", event, ...args]);
        s.on("echo", (...args) => calls.push(["on", "echo", ...args]));
        const returns = [s.onAny(any1) === s, s.onAny(any2) === s, s.prependAny(first) === s];
        s.emit("echo", "x", 1);
        await s.log.waitFor("echo", (m) => m === "x");
        const mark1 = calls.length;
        returns.push(s.offAny(any1) === s);
        s.emit("echo", "y");
        await s.log.waitFor("echo", (m) => m === "y");
        const mark2 = calls.length;
        s.offAny(); // all catch-all listeners, including the page helper's log
        s.emit("echo", "z");
        await T.once(s, "echo", { filter: (m) => m === "z", what: 'echo "z"' });
        return { returns, calls: calls.filter((c) => c[0] !== "log"), marks: [mark1, mark2] };
      },
      { url: server.url, opts },
    );
    assert.deepEqual(r.returns, [true, true, true, true], "onAny/prependAny/offAny return the socket");
    assert.deepEqual(r.calls, [
      ["prepended", "echo", "x", 1],
      ["any1", "echo", "x", 1],
      ["any2", "echo", "x", 1],
      ["on", "echo", "x", 1],
      ["prepended", "echo", "y"],
      ["any2", "echo", "y"],
      ["on", "echo", "y"],
      ["on", "echo", "z"],
    ]);
    assert.deepEqual(r.marks, [4, 7]);
  });

  browserTest(title("onAnyOutgoing/prependAnyOutgoing/offAnyOutgoing: fire when a packet is sent (a buffered emit on connecting, before connect; a dropped volatile emit never)"), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url, opts }) => {
        const s = client.io(url, { ...opts, forceNew: true, autoConnect: false });
        const calls = [];
        const out = (event, ...args) => calls.push(["out", event, ...args]);
        const first = (event) => calls.push(["first", event]);
        const returns = [s.onAnyOutgoing(out) === s, s.prependAnyOutgoing(first) === s];
        s.on("connect", () => calls.push(["connect"]));
        s.emit("echo", "buffered", 1);
        s.volatile.emit("echo", "dropped");
        calls.push(["emitted while disconnected"]);
        const connected = new Promise((resolve) => s.once("connect", resolve));
        s.connect();
        await connected;
        const echoed = new Promise((resolve) => s.on("echo", (m) => m === "live" && resolve()));
        s.emit("echo", "live");
        calls.push(["emitted while connected"]);
        returns.push(s.listenersAnyOutgoing().length === 2);
        returns.push(s.offAnyOutgoing(out) === s);
        s.emit("echo", "after off");
        s.offAnyOutgoing();
        s.emit("echo", "none");
        returns.push(s.listenersAnyOutgoing().length === 0);
        await echoed;
        s.disconnect();
        return { returns, calls };
      },
      { url: server.url, opts },
    );
    assert.deepEqual(r.returns, [true, true, true, true, true], "return values and listener lists");
    assert.deepEqual(r.calls, [
      ["emitted while disconnected"],
      ["first", "echo"],
      ["out", "echo", "buffered", 1],
      ["connect"],
      ["first", "echo"],
      ["out", "echo", "live"],
      ["emitted while connected"],
      ["first", "echo"],
    ]);
  });

  browserTest(
    title("unreachable server: error, connect_error, reconnect_attempt/reconnect_error per attempt, reconnect_failed"),
    async ({ page }) => {
      const port = await refusedPort(); // refuses connections; nobody else can bind it
      const r = await page.evaluate(
        async ({ url, opts }) => {
          const socket = T.io(url, { ...opts, reconnectionAttempts: 2, reconnectionDelay: 50, reconnectionDelayMax: 100 });
          await socket.log.waitFor("io:reconnect_failed", undefined, "reconnect_failed");
          const names = socket.log.names((n) => n.startsWith("io:") || n.startsWith("$"));
          const [err] = socket.log.all("$connect_error")[0];
          return { names, message: err.message, active: socket.active, connected: socket.connected };
        },
        { url: `http://127.0.0.1:${port}`, opts },
      );
      // socket.io-client's sequence (the socket hears the manager's error before the
      // page's own listener on the manager; the last attempt gives up before it reports).
      assert.deepEqual(r.names, [
        "$connect_error",
        "io:error",
        "io:reconnect_attempt",
        "$connect_error",
        "io:error",
        "io:reconnect_error",
        "io:reconnect_attempt",
        "$connect_error",
        "io:error",
        "io:reconnect_failed",
        "io:reconnect_error",
      ]);
      assert.match(r.message, /^(xhr poll error|websocket error)$/);
      assert.equal(r.connected, false);
    },
  );

  browserTest(title("retries: an unanswered emit is sent 1 + retries times, then its callback gets the error"), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url, opts }) => {
        const socket = await T.connect(url, { ...opts, forceNew: true, retries: 2, ackTimeout: 150 });
        // `echo` is never acked: each try times out, and the server echoes each try back.
        const unanswered = await new Promise((resolve) =>
          socket.emit("echo", "try", (err) => resolve(err ? err.message : "no error")),
        );
        // `echo-ack` answers: the callback gets (null, ...args), queued emits keep their order.
        const answered = await Promise.all([
          new Promise((resolve) => socket.emit("echo-ack", "a", (err, v) => resolve([err, v]))),
          new Promise((resolve) => socket.emit("echo-ack", "b", (err, v) => resolve([err, v]))),
        ]);
        await socket.log.waitFor("echo", undefined, "the third try's echo", 3);
        return { unanswered, answered, tries: socket.log.count("echo") };
      },
      { url: server.url, opts },
    );
    assert.equal(r.unanswered, "operation has timed out");
    assert.equal(r.tries, 3);
    assert.deepEqual(r.answered, [[null, "a"], [null, "b"]]);
  });
}
