// The parser on the wire: every Socket.IO packet both ways (CONNECT, EVENT, ACK,
// CONNECT_ERROR, DISCONNECT) is in the format of the parser the run uses (SOCKEYE_PARSER):
// text under the built-in parser, one msgpack-encoded binary frame under
// socket.io-msgpack-parser. This is what makes a run honest about its parser: a server
// that ignored `--parser msgpack` fails every test, and a run labelled msgpack whose
// clients spoke JSON fails this one.

import assert from "node:assert/strict";
import msgpackParser from "socket.io-msgpack-parser";
import { PARSER, awaitConnect, describeModes, emitAck, scenario, useServer, usePool, waitForEvent } from "./harness.mjs";

const srv = useServer();

const TYPES = ["CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR"];

/** The bytes of an Engine.IO message's binary data (Buffer, ArrayBuffer or a view). */
function bytesOf(data) {
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

/**
 * One Engine.IO `message` payload read as the run's parser writes it: `{ type, nsp, id,
 * data }` (type as its name). Fails when the payload is not in that parser's format.
 */
function decodeWire(data, where) {
  if (PARSER.name === "msgpack") {
    const bytes = bytesOf(data);
    assert.ok(bytes, `${where}: a binary frame under the msgpack parser, got ${typeof data} ${JSON.stringify(data)}`);
    const decoder = new msgpackParser.Decoder();
    let packet;
    decoder.on("decoded", (p) => (packet = p));
    decoder.add(bytes); // throws on anything socket.io-msgpack-parser would refuse
    assert.ok(packet, `${where}: decoded to a packet`);
    return { ...packet, type: TYPES[packet.type] };
  }
  assert.equal(typeof data, "string", `${where}: text under the built-in parser`);
  // <type>[<attachments>-][<nsp>,][<id>][<json>]
  const m = /^([0-6])(?:\d+-)?(\/[^,]*,)?(\d*)(.*)$/s.exec(data);
  assert.ok(m, `${where}: a Socket.IO packet: ${data}`);
  return {
    type: TYPES[Number(m[1])],
    nsp: m[2] ? m[2].slice(0, -1) : "/",
    id: m[3] === "" ? undefined : Number(m[3]),
    data: m[4] === "" ? undefined : JSON.parse(m[4]),
  };
}

/** Records the Socket.IO packets an engine receives and sends, decoded, in order. */
function recordWire(manager) {
  const wire = { in: [], out: [] };
  const engine = manager.engine;
  engine.on("packet", (p) => {
    if (p.type === "message") wire.in.push(decodeWire(p.data, `received ${wire.in.length + 1}`));
  });
  engine.on("packetCreate", (p) => {
    if (p.type === "message") wire.out.push(decodeWire(p.data, `sent ${wire.out.length + 1}`));
  });
  return wire;
}

describeModes(`wire format (${PARSER.name} parser)`, (mode) => {
  const h = usePool(srv, mode);

  scenario(`CONNECT, EVENT, ACK and DISCONNECT, both ways, are ${PARSER.name}-encoded`, async () => {
    const manager = h.pool.manager();
    const wire = recordWire(manager);
    const s = h.pool.socket({ manager, auth: { wire: PARSER.name } });
    s.on("question", (payload, cb) => cb({ got: payload }));
    await awaitConnect(s);
    await s.log.waitFor("welcome");
    await h.pool.assertTransport(manager);
    const id = s.id;

    s.emit("echo", "wire", 1);
    await s.log.waitFor("echo");
    assert.deepEqual(await emitAck(s, "echo-ack", "acked"), ["acked"]);
    assert.deepEqual(await s.timeout(10_000).emitWithAck("ask-client", "q"), { answer: { got: "q" } });

    // A second namespace on the same connection, left by the client.
    const custom = h.pool.socket({ manager, nsp: "/custom" });
    await awaitConnect(custom);
    await custom.log.waitFor("welcome");
    custom.disconnect(); // DISCONNECT, client to server

    const gone = waitForEvent(s, "disconnect");
    s.emit("server-disconnect"); // DISCONNECT, server to client
    assert.equal((await gone)[0], "io server disconnect");

    const brief = (packets) => packets.map((p) => `${p.type} ${p.nsp}`);
    assert.deepEqual(brief(wire.out), [
      "CONNECT /",
      "EVENT /", // echo
      "EVENT /", // echo-ack
      "EVENT /", // ask-client
      "ACK /", // the answer to the server's question
      "CONNECT /custom",
      "DISCONNECT /custom",
      "EVENT /", // server-disconnect
    ]);
    // The server's packets; the server->client question sits between the ask-client event
    // and its ack.
    assert.deepEqual(brief(wire.in), [
      "CONNECT /",
      "EVENT /", // welcome
      "EVENT /", // echo
      "ACK /", // echo-ack
      "EVENT /", // question
      "ACK /", // ask-client
      "CONNECT /custom",
      "EVENT /custom", // welcome
      "DISCONNECT /",
    ]);
    // The decoded packets carry what the client saw.
    const [connect, welcome, echo, echoAck] = wire.in;
    assert.equal(connect.data?.sid, id, "CONNECT carries the socket id as `sid`");
    assert.deepEqual(welcome.data, ["welcome", { id, auth: { wire: PARSER.name }, namespace: "/" }]);
    assert.deepEqual(echo.data, ["echo", "wire", 1]);
    assert.equal(echo.id, undefined);
    assert.deepEqual(echoAck.data, ["acked"]);
    assert.equal(echoAck.id, wire.out[2].id, "the ack carries the event's id");
    const question = wire.in[4];
    assert.deepEqual(question.data, ["question", "q"]);
    assert.equal(typeof question.id, "number", "the server's question asks for an ack");
    assert.equal(wire.out[4].id, question.id, "the client's answer carries the question's id");
    assert.deepEqual(wire.out[4].data, [{ got: "q" }]);
  });

  scenario(`a refused connection's CONNECT_ERROR is ${PARSER.name}-encoded with its message and data`, async () => {
    const manager = h.pool.manager();
    const wire = recordWire(manager);
    const err = await h.pool.connectError({ manager, auth: { token: "reject" } });
    assert.equal(err.message, "not authorized");
    assert.deepEqual(wire.in.map((p) => `${p.type} ${p.nsp}`), ["CONNECT_ERROR /"]);
    assert.deepEqual(wire.in[0].data, { message: "not authorized", data: { code: 42, reason: "bad token" } });
  });
});
