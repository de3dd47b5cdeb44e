// Each feature example in server/examples/, driven by the official socket.io-client as
// its doc comment's JS snippet shows. Environment: SOCKEYE_TARGET_DIR (default
// ../../target/debug; the examples are in its examples/, see ../README.md). Every wait is bounded; nothing sleeps.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { io } from "socket.io-client";
import { ServerUnderTest, withTimeout } from "../interop/harness.mjs";
import { EXAMPLES_DIR as DIR } from "../lib/bins.mjs";
const T = { timeout: 60_000 };

/** Runs `fn(url, connect)` against the example `name`; sockets are closed afterwards. */
function example(name, fn, env = "") {
  describe(`example ${name}`, () => {
    let server;
    const sockets = [];
    before(async () => {
      server = await new ServerUnderTest(`${env} '${join(DIR, name)}'`).start(0);
    }, { timeout: 60_000 });
    after(async () => {
      sockets.forEach((s) => s.disconnect());
      await server?.stop();
    });
    const connect = async (path = "/", opts = {}) => {
      const s = io(`${server.url}${path}`, { forceNew: true, transports: ["websocket"], ...opts });
      sockets.push(s);
      await withTimeout(new Promise((ok, fail) => {
        s.once("connect", ok);
        s.once("connect_error", fail);
      }), `connect to ${name}${path}`);
      return s;
    };
    fn(() => server.url, connect, sockets);
  });
}

const once = (socket, event) => withTimeout(new Promise((ok) => socket.once(event, (...a) => ok(a))), `"${event}"`);

example("acks", (url, connect) => {
  test("acks both ways", T, async () => {
    const s = await connect();
    assert.equal(await s.timeout(10_000).emitWithAck("add", 2, 40), 42);
    s.on("confirm", (question, answer) => answer(question === "Do you confirm?"));
    assert.deepEqual(await s.timeout(10_000).emitWithAck("ask-me"), { confirmed: true });
  });
});

example("packet_middleware", (url, connect) => {
  test("a guest's admin: events are refused and told; an admin's pass", T, async () => {
    const guest = await connect("/", { auth: { role: "guest" } });
    let acked = false;
    const refused = once(guest, "refused");
    guest.emit("admin:reset", () => {
      acked = true;
    });
    assert.deepEqual(await refused, ["admin only", "admin:reset"]);
    assert.equal(await guest.timeout(10_000).emitWithAck("say", "hello"), "you said hello");
    assert.equal(acked, false, "a refused packet's ack is not answered");
    const admin = await connect("/", { auth: { role: "admin" } });
    assert.equal(await admin.timeout(10_000).emitWithAck("admin:reset"), "reset done");
  });
});

example("rate_limit", (url, connect) => {
  test("past the per-event limit the ack says rate limited", T, async () => {
    const s = await connect();
    const acks = [];
    for (let i = 1; i <= 4; i++) acks.push(await s.timeout(10_000).emitWithAck("chat message", `hi ${i}`));
    assert.deepEqual(acks, ["sent", "sent", "sent", { error: "rate limited" }]);
  });
});

example("rooms", (url, connect) => {
  test("room emits reach members only; whisper leaves out the sender", T, async () => {
    const [a, b, outsider] = [await connect(), await connect(), await connect()];
    for (const s of [a, b]) assert.deepEqual(await s.timeout(10_000).emitWithAck("join", "kitchen"), ["kitchen"]);
    const heard = [];
    outsider.on("said", () => heard.push("outsider"));
    const atB = once(b, "said");
    const atA = once(a, "said");
    a.emit("say", "kitchen", "dinner");
    assert.deepEqual(await atA, ["kitchen", "dinner"]);
    assert.deepEqual(await atB, ["kitchen", "dinner"]);
    a.on("said", () => heard.push("sender"));
    const whispered = once(b, "said");
    a.emit("whisper", "kitchen", "psst");
    assert.deepEqual(await whispered, ["kitchen", "psst"]);
    // A round trip after both emits: anything misdelivered would have arrived by now.
    assert.deepEqual(await a.timeout(10_000).emitWithAck("leave", "kitchen"), []);
    assert.deepEqual(heard, []);
  });
});

example("namespaces", (url, connect) => {
  test("each namespace answers for itself, dynamic ones included", T, async () => {
    for (const ns of ["/orders", "/admin", "/team-blue"]) {
      const s = await connect(ns);
      assert.equal(await s.timeout(10_000).emitWithAck("whoami"), ns);
    }
    const s = io(`${url()}/nowhere`, { forceNew: true, transports: ["websocket"] });
    const [err] = await once(s, "connect_error");
    assert.equal(err.message, "Invalid namespace");
    s.disconnect();
  });
});

example("auth", (url, connect) => {
  test("a good token connects; bad and missing ones get connect_error with data", T, async () => {
    const s = await connect("/", { auth: { token: "let-me-in" } });
    assert.equal(await s.timeout(10_000).emitWithAck("whoami"), "ada");
    for (const [auth, message, code] of [[{ token: "nope" }, "invalid token", 401], [{}, "token required", 400]]) {
      const bad = io(url(), { forceNew: true, transports: ["websocket"], auth });
      const [err] = await once(bad, "connect_error");
      assert.deepEqual([err.message, err.data], [message, { code }]);
      bad.disconnect();
    }
  });
});

example("broadcast", (url, connect) => {
  test("to all, to others, except a room", T, async () => {
    const [a, b] = [await connect(), await connect()];
    const news = { a: [], b: [] };
    a.on("news", (t) => news.a.push(t));
    b.on("news", (t) => news.b.push(t));
    const both = Promise.all([once(a, "news"), once(b, "news")]);
    a.emit("to-all", "everyone");
    await both;
    const other = once(b, "news");
    a.emit("to-others", "others");
    await other;
    assert.equal(await b.timeout(10_000).emitWithAck("mute"), "muted");
    const unmuted = once(a, "news");
    b.emit("to-unmuted", "psst");
    await unmuted;
    assert.deepEqual(news.a, ["everyone", "psst"]);
    assert.deepEqual(news.b, ["everyone", "others"]);
  });
});

example("background_emit", (url, connect) => {
  test("ticks from a background task and pushes from an HTTP route arrive", T, async () => {
    const s = await connect();
    const [n] = await once(s, "tick");
    const [m] = await once(s, "tick");
    assert.equal(typeof n, "number");
    assert.ok(m > n, `ticks count up: ${n} then ${m}`);
    const done = once(s, "job-done");
    const res = await fetch(`${url()}/jobs`, { method: "POST", body: "report.pdf" });
    assert.equal(res.status, 200);
    assert.deepEqual(await done, [{ job: "report.pdf" }]);
  });
}, "TICK_MS=50");

example("binary", (url, connect) => {
  test("binary both ways, nested, byte for byte", T, async () => {
    const s = io(url(), { forceNew: true, transports: ["websocket"] });
    const [meta, blob] = await once(s, "blob");
    assert.deepEqual(meta, { kind: "all bytes" });
    assert.deepEqual([...blob], Array.from({ length: 256 }, (_, i) => i));
    assert.equal(await s.timeout(10_000).emitWithAck("checksum", Buffer.from([1, 2, 3])), 6);
    const out = await s.timeout(10_000).emitWithAck("reverse", { name: "x", data: Buffer.from([1, 2, 3]) });
    assert.deepEqual([out.name, [...out.data]], ["x", [3, 2, 1]]);
    s.disconnect();
  });
});

example("layer", (url, connect) => {
  test("the endpoint through the layer, over both transports; the app's own route answers", T, async () => {
    for (const transports of [["websocket"], ["polling"]]) {
      const s = await connect("/", { transports });
      assert.equal(await s.timeout(10_000).emitWithAck("hello", "layer"), "hello, layer");
    }
    const health = await fetch(`${url()}/health`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), "ok");
  });
});
