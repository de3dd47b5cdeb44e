// Rooms and broadcasts, with three clients. Non-receipt is asserted deterministically:
// after the message under test, the same sender emits a marker broadcast that every
// client receives; since the server handles one client's events in order and writes to
// each connection in order, a wrongly delivered message would arrive before the marker.

import assert from "node:assert/strict";
import { describeModes, emitAck, scenario, uniq, useServer, usePool } from "./harness.mjs";

const srv = useServer();

async function join(socket, room) {
  assert.deepEqual(await emitAck(socket, "join", room), ["joined", room]);
}

async function leave(socket, room) {
  assert.deepEqual(await emitAck(socket, "leave", room), ["left", room]);
}

/** `sender` broadcasts a marker to the whole namespace; waits until all `clients` got it. */
async function marker(sender, clients) {
  const m = uniq("marker");
  sender.emit("broadcast", m);
  await Promise.all(clients.map((c) => c.log.waitFor("bcast", (x) => x === m, `marker ${m}`)));
}

describeModes("rooms", (mode) => {
  const h = usePool(srv, mode);

  async function three() {
    const a = await h.pool.connect({ auth: { name: "A" } });
    const b = await h.pool.connect({ auth: { name: "B" } });
    const c = await h.pool.connect({ auth: { name: "C" } });
    return [a, b, c];
  }

  scenario("to-room reaches every member, the sender included; non-members get nothing", async () => {
    const [a, b, c] = await three();
    const room = uniq("room");
    await join(a, room);
    await join(b, room);

    const msg1 = { text: "from A, a member", n: 1 };
    a.emit("to-room", room, msg1);
    await a.log.waitFor("room-msg", (r, m) => r === room && m?.n === 1);
    await b.log.waitFor("room-msg", (r, m) => r === room && m?.n === 1);

    // A sender outside the room reaches the members but not itself.
    const msg2 = { text: "from C, not a member", n: 2 };
    c.emit("to-room", room, msg2);
    await a.log.waitFor("room-msg", (r, m) => r === room && m?.n === 2);
    await b.log.waitFor("room-msg", (r, m) => r === room && m?.n === 2);

    await marker(c, [a, b, c]);
    assert.deepEqual(a.log.all("room-msg"), [[room, msg1], [room, msg2]], "A got each once, in order");
    assert.deepEqual(b.log.all("room-msg"), [[room, msg1], [room, msg2]], "B got each once, in order");
    assert.deepEqual(c.log.all("room-msg"), [], "C (not in the room) got nothing");
  });

  scenario("to-room-others reaches the other members only (sender excluded)", async () => {
    const [a, b, c] = await three();
    const room = uniq("room");
    await join(a, room);
    await join(b, room);

    a.emit("to-room-others", room, "others only");
    await b.log.waitFor("room-msg", (r, m) => r === room && m === "others only");

    await marker(a, [a, b, c]);
    assert.deepEqual(b.log.all("room-msg"), [[room, "others only"]]);
    assert.deepEqual(a.log.all("room-msg"), [], "the sender is excluded");
    assert.deepEqual(c.log.all("room-msg"), [], "a non-member gets nothing");
  });

  scenario("to-rooms-except: union of rooms, once per socket, minus the except room", async () => {
    const [a, b, c] = await three();
    const [r1, r2, r3] = [uniq("r1"), uniq("r2"), uniq("r3")];
    await join(a, r1); // A: r1                -> receives
    await join(b, r1); // B: r1 and r3 (except) -> excluded
    await join(b, r3);
    await join(c, r1); // C: r1 and r2          -> receives once
    await join(c, r2);

    a.emit("to-rooms-except", [r1, r2], r3, { multi: true });
    await a.log.waitFor("room-msg", (r) => r === "multi");
    await c.log.waitFor("room-msg", (r) => r === "multi");

    await marker(a, [a, b, c]);
    assert.deepEqual(a.log.all("room-msg"), [["multi", { multi: true }]], "sender in r1 receives once");
    assert.deepEqual(c.log.all("room-msg"), [["multi", { multi: true }]], "member of r1 and r2 receives once");
    assert.deepEqual(b.log.all("room-msg"), [], "member of the except room receives nothing");
  });

  scenario("broadcast reaches the whole namespace, sender included, exactly once each", async () => {
    const [a, b, c] = await three();
    a.emit("broadcast", { hello: "everyone" });
    for (const s of [a, b, c]) await s.log.waitFor("bcast", (m) => m?.hello === "everyone");
    await marker(a, [a, b, c]);
    for (const s of [a, b, c]) assert.equal(s.log.count("bcast", (m) => m?.hello === "everyone"), 1);
  });

  scenario("broadcast-others reaches everyone but the sender", async () => {
    const [a, b, c] = await three();
    a.emit("broadcast-others", "not for A");
    await b.log.waitFor("bcast", (m) => m === "not for A");
    await c.log.waitFor("bcast", (m) => m === "not for A");
    await marker(a, [a, b, c]);
    assert.equal(a.log.count("bcast", (m) => m === "not for A"), 0, "the sender is excluded");
    assert.equal(b.log.count("bcast", (m) => m === "not for A"), 1);
    assert.equal(c.log.count("bcast", (m) => m === "not for A"), 1);
  });

  scenario("rooms lists the socket's own id plus joined rooms; leave removes a room", async () => {
    const [a, b] = await three();
    // Joined in the opposite order of sorting; "!" sorts before and "~" after any socket id.
    const [x, y] = [uniq("~late"), uniq("!early")];
    assert.deepEqual(await emitAck(a, "rooms"), [[a.id]], "a new socket is in its own room only");

    await join(a, x);
    await join(a, y);
    await join(a, x); // joining twice changes nothing
    assert.deepEqual(await emitAck(a, "rooms"), [[a.id, x, y].sort()]);

    await leave(a, x);
    assert.deepEqual(await emitAck(a, "rooms"), [[a.id, y].sort()]);
    await leave(a, x); // leaving a room one is not in is harmless
    assert.deepEqual(await emitAck(a, "rooms"), [[a.id, y].sort()]);

    // After leaving, messages to that room no longer reach A; y still does.
    b.emit("to-room", x, "to x after leave");
    b.emit("to-room", y, "to y");
    await a.log.waitFor("room-msg", (r, m) => r === y && m === "to y");
    await marker(b, [a, b]);
    assert.deepEqual(a.log.all("room-msg"), [[y, "to y"]]);
  });

  scenario("a socket's own id works as a room (private message)", async () => {
    const [a, b, c] = await three();
    a.emit("to-room", b.id, "just for B");
    await b.log.waitFor("room-msg", (r, m) => r === b.id && m === "just for B");
    await marker(a, [a, b, c]);
    assert.deepEqual(a.log.all("room-msg"), []);
    assert.deepEqual(c.log.all("room-msg"), []);
    assert.deepEqual(b.log.all("room-msg"), [[b.id, "just for B"]]);
  });
});
