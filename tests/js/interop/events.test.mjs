// Events, acknowledgements (both directions), binary payloads, send/message.

import assert from "node:assert/strict";
import { PARSER, awaitConnect, describeModes, emitAck, scenario, useServer, usePool } from "./harness.mjs";

const srv = useServer();

/**
 * Arguments of every JSON type, in an order that matters. Under the msgpack parser
 * (SOCKEYE_PARSER=msgpack) the integers also take msgpack's uint 32/64 and int 32/64
 * forms; 1e21 is left out there: notepack.io (socket.io-msgpack-parser's codec) writes
 * an integer of 2^64 or more as a truncated uint 64, so no server could echo it intact.
 */
const MIXED_ARGS = [
  "plain",
  "",
  "ünïcødé — 日本語 — Ελληνικά — עברית — 👋🏽👨‍👩‍👧 — \u2028\u2029",
  'control \u0000\u0001\u001e\u001f chars, quotes " \\ / and 42["not","a","packet"]',
  0,
  1,
  -1,
  42.5,
  -0.125,
  2 ** 53 - 1,
  -(2 ** 53 - 1),
  2 ** 32,
  -(2 ** 31) - 1,
  ...(PARSER.name === "msgpack" ? [] : [1e21]),
  1e-7,
  true,
  false,
  null,
  [],
  {},
  [1, "two", [3, [4, null]], { five: 5 }, true],
  {
    nested: { deeper: { deepest: { list: [true, false, null], text: "ü" } } },
    "key with spaces": 1,
    ключ: "значение",
    "": "empty key",
    emptyList: [],
    emptyObject: {},
  },
];

function bytes(n, seed = 1) {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >> 16;
  }
  return b;
}

/** Binary top-level, nested in objects and arrays, several in one packet. */
function binaryArgs() {
  return [
    Buffer.from([0, 1, 2, 253, 254, 255]),
    "text between buffers",
    {
      file: Buffer.from("héllo wörld", "utf8"),
      meta: { parts: [Buffer.from([7]), Buffer.from([8, 9]), "not binary"], size: 3 },
    },
    [Buffer.from([10]), { inner: Buffer.from([11, 12]) }],
    bytes(4096),
    42,
  ];
}

function assertBuffersAreBuffers(value, path = "args") {
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
    assert.ok(Buffer.isBuffer(value), `${path} arrives as a Node Buffer`);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => assertBuffersAreBuffers(v, `${path}[${i}]`));
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) assertBuffersAreBuffers(v, `${path}.${k}`);
  }
}

describeModes("events", (mode) => {
  const h = usePool(srv, mode);

  scenario("echo: several arguments of every JSON type arrive intact and in order", async () => {
    const s = await h.pool.connect();
    s.emit("echo", ...MIXED_ARGS);
    const got = await s.log.waitFor("echo");
    assert.deepEqual(got, MIXED_ARGS);
  });

  scenario("echo: an event without arguments", async () => {
    const s = await h.pool.connect();
    s.emit("echo");
    assert.deepEqual(await s.log.waitFor("echo"), []);
  });

  scenario("echo: consecutive events keep their order", async () => {
    const s = await h.pool.connect();
    for (let i = 0; i < 30; i++) s.emit("echo", i, `#${i}`);
    await s.log.waitFor("echo", (i) => i === 29);
    assert.deepEqual(
      s.log.all("echo"),
      Array.from({ length: 30 }, (_, i) => [i, `#${i}`]),
    );
  });

  scenario("client->server ack: emitWithAck resolves with the echoed first argument", async () => {
    const s = await h.pool.connect();
    const value = { answer: 42, list: ["ü", null, true] };
    assert.deepEqual(await s.timeout(10_000).emitWithAck("echo-ack", value), value);
  });

  scenario("client->server ack: a callback receives every argument, in order", async () => {
    const s = await h.pool.connect();
    assert.deepEqual(await emitAck(s, "echo-ack", ...MIXED_ARGS), MIXED_ARGS);
    assert.deepEqual(await emitAck(s, "echo-ack"), [], "ack without arguments");
  });

  scenario("client->server ack: many concurrent acks reach the right callbacks", async () => {
    const s = await h.pool.connect();
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => emitAck(s, "echo-ack", i, { i })));
    assert.deepEqual(results, Array.from({ length: 25 }, (_, i) => [i, { i }]));
  });

  scenario("server->client ack: ask-client gets the client's answer", async () => {
    const s = await h.pool.connect();
    const questions = [];
    s.on("question", (payload, cb) => {
      questions.push(payload);
      cb({ echoed: payload, from: "client", ok: true });
    });
    const payload = { q: "what is six times seven?", n: [6, 7], unicode: "✓" };
    const res = await s.timeout(10_000).emitWithAck("ask-client", payload);
    assert.deepEqual(res, { answer: { echoed: payload, from: "client", ok: true } });
    assert.deepEqual(questions, [payload]);
  });

  scenario('server->client ack: ask-client-timeout with no answer gives { error: "timeout" }', async () => {
    const s = await h.pool.connect();
    const questions = [];
    s.on("question", (payload, cb) => {
      assert.equal(typeof cb, "function", "the server's question requests an ack");
      questions.push(payload); // never answered
    });
    const res = await s.timeout(10_000).emitWithAck("ask-client-timeout", { q: "silence?" });
    assert.deepEqual(res, { error: "timeout" });
    assert.deepEqual(questions, [{ q: "silence?" }]);
    // The connection is still fine afterwards.
    assert.deepEqual(await emitAck(s, "echo-ack", "still here"), ["still here"]);
  });

  scenario("binary: buffers top-level, nested and several per event are echoed as Buffers", async () => {
    const s = await h.pool.connect();
    const args = binaryArgs();
    s.emit("echo", ...args);
    const got = await s.log.waitFor("echo");
    assertBuffersAreBuffers(got);
    assert.deepEqual(got, args);
  });

  scenario("binary: Uint8Array and empty buffers", async () => {
    const s = await h.pool.connect();
    s.emit("echo", new Uint8Array([1, 2, 3]), { empty: Buffer.alloc(0) }, "end");
    const got = await s.log.waitFor("echo");
    if (PARSER.name === "msgpack") {
      // notepack.io writes a Uint8Array that is not a Buffer as ext type 0 and reads that
      // type back as an ArrayBuffer (a Buffer is msgpack's bin, read back as a Buffer):
      // the echo keeps the ext type, so the bytes come back as an ArrayBuffer.
      assert.ok(got[0] instanceof ArrayBuffer, `the Uint8Array comes back as an ArrayBuffer, got ${got[0]?.constructor?.name}`);
      assertBuffersAreBuffers(got.slice(1));
      assert.deepEqual(got, [new Uint8Array([1, 2, 3]).buffer, { empty: Buffer.alloc(0) }, "end"]);
    } else {
      assertBuffersAreBuffers(got);
      assert.deepEqual(got, [Buffer.from([1, 2, 3]), { empty: Buffer.alloc(0) }, "end"]);
    }
  });

  scenario("binary: client->server ack carries buffers back", async () => {
    const s = await h.pool.connect();
    const args = binaryArgs();
    const got = await emitAck(s, "echo-ack", ...args);
    assertBuffersAreBuffers(got);
    assert.deepEqual(got, args);
  });

  scenario("binary: server->client question and the client's binary answer", async () => {
    const s = await h.pool.connect();
    const questions = [];
    s.on("question", (payload, cb) => {
      questions.push(payload);
      cb({ reversed: Buffer.from([...payload.data].reverse()), parts: [Buffer.from([1]), Buffer.from([2])] });
    });
    const payload = { data: Buffer.from([1, 2, 3, 4]), label: "bytes" };
    const res = await s.timeout(10_000).emitWithAck("ask-client", payload);
    assertBuffersAreBuffers(questions);
    assert.deepEqual(questions, [payload]);
    assertBuffersAreBuffers(res);
    assert.deepEqual(res, { answer: { reversed: Buffer.from([4, 3, 2, 1]), parts: [Buffer.from([1]), Buffer.from([2])] } });
  });

  scenario("large payloads: a 220 KiB unicode string and a 128 KiB buffer", async () => {
    const s = await h.pool.connect();
    const text = "ü€𝄞ab".repeat(20 * 1024); // 11 UTF-8 bytes per repetition
    const buf = bytes(128 * 1024, 7);
    s.emit("echo", text, buf);
    const got = await s.log.waitFor("echo");
    assert.equal(got[0], text);
    assert.ok(Buffer.isBuffer(got[1]));
    assert.ok(buf.equals(got[1]), "buffer bytes preserved");
  });

  scenario("send/message: socket.send arguments come back as a message event", async () => {
    const s = await h.pool.connect();
    const args = ["hello", 1, { nested: [true, null, "ü"] }, Buffer.from([9, 8, 7])];
    s.send(...args);
    const got = await s.log.waitFor("message");
    assertBuffersAreBuffers(got);
    assert.deepEqual(got, args);
  });

  scenario("events emitted before the connection is established (and during the upgrade) all arrive in order", async () => {
    const s = h.pool.socket({ auth: { burst: true } });
    // Emitted right away: buffered by the client until connected, then flushed while
    // the polling+upgrade configuration is still probing the websocket.
    for (let i = 0; i < 40; i++) {
      if (i % 10 === 5) s.emit("echo", i, Buffer.from([i]));
      else s.emit("echo", i);
    }
    await awaitConnect(s);
    const ack = emitAck(s, "echo-ack", "after burst");
    await s.log.waitFor("echo", (i) => i === 39, "the last echo of the burst");
    assert.deepEqual(await ack, ["after burst"]);
    assert.deepEqual(
      s.log.all("echo"),
      Array.from({ length: 40 }, (_, i) => (i % 10 === 5 ? [i, Buffer.from([i])] : [i])),
    );
    const [welcome] = await s.log.waitFor("welcome");
    assert.deepEqual(welcome, { id: s.id, auth: { burst: true }, namespace: "/" });
    await h.pool.assertTransport(s.io);
  });
});
