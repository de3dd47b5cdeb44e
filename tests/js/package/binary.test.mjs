// The glue's JSON (client-wasm/js/binary.js): arguments to JSON text with binary parts
// as attachments, and back, by socket.io-parser's placeholder rule. Runs every vector of
// shared/tests/vectors/placeholders.json (the Rust side runs the same file), checks the
// vectors themselves against the real socket.io-parser, and drives sockeye.js over a
// stand-in RawSocket to check what it hands the wasm and what it makes of the answers.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decoder, Encoder, PacketType } from "socket.io-parser";
import { ROOT } from "../lib/bins.mjs";

const GLUE = join(ROOT, "client-wasm", "js");
const { encodeArgs, decodeArgs, MAX_DEPTH } = await import(join(GLUE, "binary.js"));
const VECTORS = JSON.parse(await readFile(join(ROOT, "shared", "tests", "vectors", "placeholders.json"), "utf8"));

/** Attachment i of a packet: distinct bytes, so a wrong index shows. */
function attachment(i) {
  return new Uint8Array([i, 100 + i, 200]).buffer;
}

/** A vector's `expected` with each {"$attachment": i} replaced by `attachments[i]`. */
function materialize(value, attachments) {
  if (Array.isArray(value)) return value.map((v) => materialize(v, attachments));
  if (value === null || typeof value !== "object") return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === "$attachment") return attachments[value.$attachment];
  const out = {};
  // defineProperty: a "__proto__" key stays a plain key, as JSON.parse makes it.
  for (const k of keys) {
    Object.defineProperty(out, k, { value: materialize(value[k], attachments), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Deep equality where every ArrayBuffer must be the very attachment expected. */
function assertReconstructed(actual, expected, where) {
  assert.deepStrictEqual(actual, expected, where);
  const buffers = (v, out = []) => {
    if (v instanceof ArrayBuffer) out.push(v);
    else if (v !== null && typeof v === "object") for (const k of Object.keys(v)) buffers(v[k], out);
    return out;
  };
  const a = buffers(actual);
  const e = buffers(expected);
  assert.equal(a.length, e.length, where);
  a.forEach((b, i) => assert.ok(b === e[i], `${where}: attachment ${i} is not the buffer given`));
}

/** socket.io-parser's Decoder on the packet: its data, or the Error it throws. */
function officialDecode(json, attachments) {
  const decoder = new Decoder();
  let packet;
  decoder.on("decoded", (p) => (packet = p));
  try {
    if (attachments.length === 0) {
      decoder.add(`${PacketType.EVENT}${json}`);
    } else {
      decoder.add(`${PacketType.BINARY_EVENT}${attachments.length}-${json}`);
      for (const a of attachments) decoder.add(a);
    }
  } catch (error) {
    return { error };
  }
  assert.ok(packet, "socket.io-parser decoded nothing");
  return { data: packet.data };
}

/** A vector's `value` with each {"$bytes": [...]} made binary by `make`. */
function withBinary(value, make) {
  if (Array.isArray(value)) return value.map((v) => withBinary(v, make));
  if (value === null || typeof value !== "object") return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === "$bytes") return make(value.$bytes);
  return Object.fromEntries(keys.map((k) => [k, withBinary(value[k], make)]));
}

/** The bytes of an ArrayBuffer or a view. */
function bytes(b) {
  return [...(b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength))];
}

// Every way a browser app hands over bytes; the views sit inside larger buffers, so
// taking the whole buffer instead of the view's bytes shows.
const BINARY_KINDS = {
  Uint8Array: (b) => new Uint8Array(b),
  ArrayBuffer: (b) => new Uint8Array(b).buffer,
  "Uint8Array view at an offset": (b) => new Uint8Array([9, 9, ...b, 9]).subarray(2, 2 + b.length),
  "DataView at an offset": (b) => new DataView(new Uint8Array([9, ...b, 9, 9]).buffer, 1, b.length),
  "Node Buffer (has a toJSON)": (b) => Buffer.from(b),
};

describe("placeholders.json: reconstruct", () => {
  for (const v of VECTORS.reconstruct) {
    const attachments = Array.from({ length: v.attachments }, (_, i) => attachment(i));
    test(`${v.name}: ${v.valid ? "accepted" : "refused"}`, () => {
      const official = officialDecode(v.json, attachments);
      // socket.io-parser agrees with the vector, or differs where the vector says so.
      const officialAccepts = !official.error;
      if (v.socket_io_parser) {
        assert.equal(officialAccepts, !v.valid, `the vector says socket.io-parser differs: ${v.socket_io_parser}`);
      } else {
        assert.equal(officialAccepts, v.valid, `socket.io-parser ${officialAccepts ? "accepts" : `refuses (${official.error?.message})`}`);
      }
      if (!v.valid) {
        if (!v.socket_io_parser) assert.match(official.error.message, /illegal attachments/i);
        return;
      }
      const expected = materialize(v.expected, attachments);
      assertReconstructed(official.data, expected, "socket.io-parser");
      // The glue: a packet without attachments comes with `undefined` for them.
      assertReconstructed(decodeArgs(v.json, v.attachments ? attachments : undefined), expected, "decodeArgs");
    });
  }
});

describe("placeholders.json: deconstruct", () => {
  for (const v of VECTORS.deconstruct) {
    for (const [kind, make] of Object.entries(BINARY_KINDS)) {
      test(`${v.name} (${kind})`, () => {
        const { json, attachments } = encodeArgs(withBinary(v.value, make));
        assert.equal(json, v.json);
        assert.ok(attachments.every((a) => a instanceof Uint8Array), "attachments are Uint8Arrays");
        assert.deepStrictEqual(attachments.map(bytes), v.attachments);
        // socket.io-parser's encoder sends the same text after the event name.
        const official = new Encoder().encode({ type: PacketType.EVENT, nsp: "/", data: ["ev", ...withBinary(v.value, make)] });
        const data = v.json === "[]" ? `["ev"]` : `["ev",${v.json.slice(1)}`;
        const head = v.attachments.length ? `${PacketType.BINARY_EVENT}${v.attachments.length}-` : `${PacketType.EVENT}`;
        assert.equal(official[0], head + data, "socket.io-parser's packet");
        assert.deepStrictEqual(official.slice(1).map(bytes), v.attachments, "socket.io-parser's attachments");
      });
    }
  }
});

describe("encodeArgs: what JSON.stringify does, binary aside", () => {
  const sameAsOfficial = (args) => {
    const official = new Encoder().encode({ type: PacketType.EVENT, nsp: "/", data: ["ev", ...args] });
    const ours = encodeArgs(args);
    const head = ours.attachments.length ? `${PacketType.BINARY_EVENT}${ours.attachments.length}-` : `${PacketType.EVENT}`;
    assert.equal(head + (ours.json === "[]" ? `["ev"]` : `["ev",${ours.json.slice(1)}`), official[0]);
    assert.deepStrictEqual(ours.attachments.map(bytes), official.slice(1).map(bytes));
    return ours;
  };

  test("undefined, functions and NaN: null in arrays, left out of objects", () => {
    for (const bin of [[], [new Uint8Array([1])]]) {
      const { json } = sameAsOfficial([undefined, () => 1, NaN, { u: undefined, f() {}, n: Infinity, k: 1 }, ...bin]);
      assert.ok(json.startsWith(`[null,null,null,{"n":null,"k":1}`), json);
    }
  });

  test("toJSON: Dates, and objects whose toJSON gives or holds binary", () => {
    const date = new Date(Date.UTC(2026, 11, 2, 13, 45));
    const ours = sameAsOfficial([date, { toJSON: () => new Uint8Array([5, 6]) }, { toJSON: () => ({ at: date, b: new Uint8Array([7]).buffer }) }]);
    assert.equal(ours.json, `["2026-12-02T13:45:00.000Z",{"_placeholder":true,"num":0},{"at":"2026-12-02T13:45:00.000Z","b":{"_placeholder":true,"num":1}}]`);
    assert.deepStrictEqual(ours.attachments.map(bytes), [[5, 6], [7]]);
    // The only binary is what a toJSON gives.
    const alone = sameAsOfficial([{ toJSON: () => new Uint8Array([8]).buffer }]);
    assert.deepStrictEqual([alone.json, alone.attachments.map(bytes)], [`[{"_placeholder":true,"num":0}]`, [[8]]]);
  });

  test("typed arrays of wider elements are sent as their bytes", () => {
    const wide = new Uint16Array([0x0102, 0x0304, 0x0506]).subarray(1, 2);
    const ours = sameAsOfficial([{ wide, f: new Float64Array([1.5]) }]);
    assert.deepStrictEqual(ours.attachments.map(bytes), [bytes(wide), bytes(new Float64Array([1.5]))]);
    assert.equal(ours.attachments[0].length, 2);
  });

  test(`nesting: ${MAX_DEPTH} levels (the argument array being the first) pass, one more throws`, () => {
    const nest = (levels, leaf) => {
      let v = leaf;
      for (let i = 0; i < levels; i++) v = [v];
      return v;
    };
    for (const leaf of [0, new Uint8Array([1])]) {
      // A binary leaf becomes an object, one level more.
      const deepest = MAX_DEPTH - 1 - (typeof leaf === "object" ? 1 : 0);
      const ok = encodeArgs([nest(deepest, leaf)]);
      assert.equal(ok.json.match(/^\[+/)[0].length, deepest + 1);
      assert.throws(() => encodeArgs([nest(deepest + 1, leaf)]), /nest deeper than 128 levels/);
    }
    // Far too deep must not overflow the stack first.
    assert.throws(() => encodeArgs([nest(1e5, 0)]), /nest deeper than 128 levels/);
  });

  test("a cycle throws a clear Error (and does not hang)", () => {
    const a = { name: "a" };
    a.self = a;
    assert.throws(() => encodeArgs([a]), /nest deeper than 128 levels \(or hold a cycle\)/);
    const b = [new Uint8Array(1)];
    b.push(b);
    assert.throws(() => encodeArgs([b]), /cycle|circular/);
  });

  test("a Blob throws: its bytes cannot be read at once", () => {
    assert.throws(() => encodeArgs([{ file: new Blob(["x"]) }]), /Blob/);
    assert.throws(() => encodeArgs([new Uint8Array(1), new Blob(["x"])]), /Blob/);
  });

  test("no binary: exactly JSON.stringify", () => {
    const args = ["é\u2028", { a: [1, { b: null }], "": 0, 1: "one" }, 1e21, -0, 0.1];
    assert.deepStrictEqual(encodeArgs(args), { json: JSON.stringify(args), attachments: [] });
  });
});

describe("decodeArgs", () => {
  test("no attachments: JSON.parse, placeholders stay plain data", () => {
    const json = `["ev",{"_placeholder":true,"num":0}]`;
    assert.deepStrictEqual(decodeArgs(json, undefined), JSON.parse(json));
    assert.deepStrictEqual(decodeArgs(json, []), JSON.parse(json));
  });

  test("an object that is not a valid placeholder stays plain data (the wasm has refused such packets already)", () => {
    const buf = attachment(0);
    for (const num of [0.5, -1, 1, "0", null]) {
      const json = JSON.stringify(["ev", { _placeholder: true, num }, { _placeholder: true, num: 0 }]);
      assert.deepStrictEqual(decodeArgs(json, [buf]), ["ev", { _placeholder: true, num }, buf], `num ${JSON.stringify(num)}`);
    }
  });

  test("round trip with every binary kind", () => {
    for (const make of Object.values(BINARY_KINDS)) {
      const args = ["x", { a: [make([1, 2]), { b: make([]) }] }, make([3])];
      const { json, attachments } = encodeArgs(args);
      const back = decodeArgs(json, attachments.map((a) => a.slice().buffer));
      assert.deepStrictEqual(back.map((v) => JSON.stringify(v, (k, x) => (x instanceof ArrayBuffer ? bytes(x) : x))),
        ["\"x\"", `{"a":[[1,2],{"b":[]}]}`, "[3]"]);
    }
  });
});

// sockeye.js itself, with the wasm replaced by a stand-in that records what it is given.
describe("sockeye.js over a stand-in RawSocket", () => {
  let dir, client, raws;

  const STANDIN = `
export const sockets = [];
class RawSocket {
  constructor(nsp) { this.nsp = nsp; this.emits = []; this.sent = 0; this.connected = false; this.active = false; sockets.push(this); }
  setListener(fn) { this.listener = fn; }
  setAuth(provider) { this.auth = provider; }
  connect() { this.active = true; }
  disconnect() { this.active = false; this.connected = false; }
  emit(...call) { this.emits.push(call); return this.sent; }
  get id() { return this.connected ? "sid" : undefined; }
  get recovered() { return false; }
}
export class RawManager {
  constructor(origin, opts) { this.origin = origin; }
  setListener(fn) {}
  open() {}
  close() {}
  configure() {}
  socket(nsp) { return new RawSocket(nsp); }
  get transport() { return undefined; }
  get engineId() { return undefined; }
  get reconnecting() { return false; }
}
`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "sockeye-glue-"));
    for (const f of ["sockeye.js", "binary.js"]) await copyFile(join(GLUE, f), join(dir, f));
    await copyFile(join(GLUE, "init-bundler.js"), join(dir, "sockeye_init.js"));
    await writeFile(join(dir, "sockeye_client.js"), STANDIN);
    client = await import(join(dir, "sockeye.js"));
    raws = (await import(join(dir, "sockeye_client.js"))).sockets;
  });

  after(() => rm(dir, { recursive: true, force: true }));

  const open = (opts) => {
    const socket = client.io("http://glue.test", { forceNew: true, ...opts });
    return { socket, raw: raws[raws.length - 1] };
  };

  test("emit hands over JSON text and attachments; the ack comes back decoded", () => {
    const { socket, raw } = open();
    let answer;
    socket.emit("up", "a", { bin: new Uint8Array([1, 2]) }, (...res) => (answer = res));
    const [name, json, attachments, callback, timeout, volatile] = raw.emits[0];
    assert.equal(name, "up");
    assert.equal(json, `["a",{"bin":{"_placeholder":true,"num":0}}]`);
    assert.deepStrictEqual(attachments.map(bytes), [[1, 2]]);
    assert.equal(timeout, undefined);
    assert.equal(volatile, false);
    const buf = new Uint8Array([7]).buffer;
    callback(null, `[1,{"_placeholder":true,"num":0}]`, [buf]);
    assert.deepStrictEqual(answer, [1, buf]);
    assert.equal(answer[1], buf);
  });

  test("with a timeout the ack gets (err, ...args); without one, a lost ack is forgotten", () => {
    const { socket, raw } = open();
    const got = [];
    socket.timeout(50).emit("t", (err, ...res) => got.push([err, res]));
    socket.emit("n", (...res) => got.push(["plain", res]));
    raw.emits[0][3](null, `["ok"]`, undefined);
    const lost = new Error("operation has timed out");
    raw.emits[0][3](lost);
    raw.emits[1][3](lost);
    assert.deepStrictEqual(got, [[null, ["ok"]], [lost, []]]);
    assert.equal(raw.emits[0][4], 50);
  });

  test("onAnyOutgoing hears an emit when it is sent: at once, on connecting, or never", () => {
    const { socket, raw } = open();
    const log = [];
    socket.onAnyOutgoing((...packet) => log.push(["out", ...packet]));
    socket.on("connect", () => log.push(["connect"]));
    raw.sent = 1; // buffered until connected
    socket.emit("first", 1, () => {});
    socket.emit("second", new Uint8Array([2]));
    raw.sent = 2; // volatile while not connected: dropped
    socket.volatile.emit("dropped");
    assert.equal(raw.emits[2][5], true, "volatile flag handed over");
    assert.deepStrictEqual(log, []);
    raw.connected = true;
    raw.listener("connect");
    assert.deepStrictEqual(log, [["out", "first", 1], ["out", "second", new Uint8Array([2])], ["connect"]]);
    raw.sent = 0;
    socket.emit("now", "x");
    assert.deepStrictEqual(log.at(-1), ["out", "now", "x"]);
    // Reconnecting does not hear them again.
    raw.listener("connect");
    assert.equal(log.filter((e) => e[0] === "out").length, 3);
  });

  test("on connecting, the retries queue sends before the connect listeners run (socket.io-client's order)", () => {
    const { socket, raw } = open({ retries: 1 });
    const log = [];
    socket.onAnyOutgoing((ev) => log.push(`out ${ev}`));
    socket.on("connect", () => log.push(`connect, ${raw.emits.length} handed over`));
    socket.emit("queued", 1);
    assert.equal(raw.emits.length, 0, "queued while not connected");
    raw.connected = true;
    raw.listener("connect");
    assert.deepStrictEqual(log, ["out queued", "connect, 1 handed over"]);
    assert.equal(raw.emits[0][1], "[1]");
    assert.equal(typeof raw.emits[0][3], "function", "a queued emit waits for its ack");
  });

  test("disconnect() drops the emits buffered for the outgoing listeners", () => {
    const { socket, raw } = open();
    const log = [];
    socket.onAnyOutgoing((ev) => log.push(ev));
    raw.sent = 1;
    socket.emit("gone");
    socket.disconnect();
    socket.connect();
    raw.connected = true;
    raw.listener("connect");
    assert.deepStrictEqual(log, []);
  });

  test("an event reaches onAny and its listeners decoded, with the ack encoding the answer", () => {
    const { socket, raw } = open();
    const log = [];
    socket.onAny((...packet) => log.push(["any", ...packet]));
    socket.on("down", (...args) => {
      log.push(["on", ...args]);
      args.at(-1)("ok", { b: new Uint8Array([3, 4]) });
    });
    socket.on(7, (...args) => log.push(["seven", ...args]));
    socket.on("7", (...args) => log.push(["seven as text", ...args]));
    const answers = [];
    const buf = new Uint8Array([9]).buffer;
    raw.listener("event", `["down",{"_placeholder":true,"num":0},"x"]`, [buf], (json, attachments) => answers.push([json, attachments.map(bytes)]));
    raw.listener("event", `[7,null]`, undefined, undefined);
    assert.equal(log[0][2], buf);
    assert.deepStrictEqual(log.map((e) => e.slice(0, 4).map((x) => (typeof x === "function" ? "fn" : x))),
      [["any", "down", buf, "x"], ["on", buf, "x", "fn"], ["any", 7, null], ["seven", null], ["seven as text", null]]);
    assert.deepStrictEqual(answers, [[`["ok",{"b":{"_placeholder":true,"num":0}}]`, [[3, 4]]]]);
  });

  test("connect_error: data is parsed from its JSON text", () => {
    const { socket, raw } = open();
    const errors = [];
    socket.on("connect_error", (err) => errors.push(err));
    raw.listener("connect_error", "not authorized", `{"code":4,"list":[1]}`);
    raw.listener("connect_error", "timeout", undefined);
    assert.deepStrictEqual(errors.map((e) => [e.message, e.data]), [["not authorized", { code: 4, list: [1] }], ["timeout", undefined]]);
    assert.ok(!("data" in errors[1]));
  });

  test("auth is read at every join: an object, a function, or none", () => {
    const { socket, raw } = open();
    const join = () => {
      let out = "not called";
      raw.auth((json) => (out = json));
      return out;
    };
    assert.equal(join(), null);
    socket.auth = { token: "abc", n: 1 };
    assert.equal(join(), `{"token":"abc","n":1}`);
    socket.auth = (cb) => cb({ from: "fn" });
    assert.equal(join(), `{"from":"fn"}`);
    socket.auth = (cb) => cb(null);
    assert.equal(join(), null);
    socket.auth = (cb) => cb();
    assert.equal(join(), null);
    socket.auth = undefined;
    assert.equal(join(), null);
  });

  test("auth given as an option", () => {
    const { raw } = open({ auth: { via: "option" } });
    let out;
    raw.auth((json) => (out = json));
    assert.equal(out, `{"via":"option"}`);
  });
});
