// The /admin namespace of `sockeye --admin-ui` as @socket.io/admin-ui 0.5.1's UI uses
// it, driven by the official socket.io-client: its login, what it is told (config,
// session, all_sockets, server_stats, socket/room/event notifications) and its actions
// (emit, join, leave, _disconnect). The shapes are those of the package's own
// server side (node_modules/@socket.io/admin-ui/dist/index.js).
//
// Environment: SOCKEYE_TARGET_DIR (default ../../target/debug), where `sockeye` is.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { waitForEvent, withTimeout } from "../lib/wait.mjs";
import { io } from "socket.io-client";
import { PASSWORD, USER, adminSocket, chatClient, startAdminServer } from "./lib.mjs";

let server;
const opened = [];

before(async () => {
  // Node clients send no Origin: any allow-list does.
  server = await startAdminServer("http://127.0.0.1:9");
}, { timeout: 90_000 });

after(async () => {
  for (const s of opened) s.disconnect();
  await server?.stop();
});

/** An admin socket that records every event from its start, so none is missed. */
function recordingAdmin(auth) {
  const socket = adminSocket(server.url, auth);
  opened.push(socket);
  socket.seen = [];
  socket.onAny((event, ...args) => socket.seen.push([event, ...args]));
  /** The first recorded `event` whose arguments pass `filter`, waiting for it if needed. */
  socket.next = (event, filter = () => true, what = event) => {
    const found = socket.seen.find(([e, ...args]) => e === event && filter(...args));
    if (found) return Promise.resolve(found.slice(1));
    return waitForEvent(socket, event, { filter, what });
  };
  return socket;
}

async function refused(auth) {
  const socket = recordingAdmin(auth);
  const [error] = await waitForEvent(socket, "connect_error", { what: "connect_error" });
  assert.equal(socket.connected, false);
  return error;
}

describe("login", () => {
  test("a wrong password is refused with 'invalid credentials'", async () => {
    const error = await refused({ username: USER, password: "wrong" });
    assert.equal(error.message, "invalid credentials");
  });

  test("a wrong username is refused", async () => {
    const error = await refused({ username: "root", password: PASSWORD });
    assert.equal(error.message, "invalid credentials");
  });

  test("no credentials are refused", async () => {
    const error = await refused(undefined);
    assert.equal(error.message, "invalid credentials");
  });

  test("the right ones get a session id, which logs in again without the password", async () => {
    const admin = recordingAdmin({ username: USER, password: PASSWORD });
    await waitForEvent(admin, "connect", { what: "admin connected" });
    const [sessionId] = await admin.next("session");
    assert.match(sessionId, /^\S{8,}$/);
    const again = recordingAdmin({ sessionId });
    await waitForEvent(again, "connect", { what: "admin connected with its session id" });
    const bogus = await refused({ sessionId: "not-a-session" });
    assert.equal(bogus.message, "invalid credentials");
  });
});

describe("what the admin is told", () => {
  let admin, ada;

  before(async () => {
    ada = await chatClient(server.url, "ada", "kitchen");
    opened.push(ada);
    admin = recordingAdmin({ username: USER, password: PASSWORD });
    await waitForEvent(admin, "connect", { what: "admin connected" });
  });

  test("config: the features the UI turns its buttons on by", async () => {
    const [config] = await admin.next("config");
    for (const f of ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"]) {
      assert.ok(config.supportedFeatures.includes(f), `${f} in ${JSON.stringify(config)}`);
    }
  });

  test("all_sockets: the connected client with its id, namespace and rooms", async () => {
    const [sockets] = await admin.next("all_sockets");
    const found = sockets.find((s) => s.id === ada.id);
    assert.ok(found, `${ada.id} in ${JSON.stringify(sockets.map((s) => s.id))}`);
    assert.equal(found.nsp, "/chat");
    assert.deepEqual([...found.rooms].sort(), [ada.id, "kitchen", "lobby"].sort());
    assert.deepEqual(found.data, { name: "ada" });
    assert.ok(["polling", "websocket"].includes(found.transport), found.transport);
    assert.equal(found.clientId.length, 12);
    assert.equal(typeof found.handshake.headers, "object");
    assert.equal(found.handshake.auth, undefined, "credentials are not shown");
    // The admin's own socket is listed too, as the official server does.
    assert.ok(sockets.some((s) => s.nsp === "/admin" && s.id === admin.id));
  });

  test("server_stats: this node, its connections and namespaces", async () => {
    const [stats] = await admin.next("server_stats");
    assert.equal(typeof stats.serverId, "string");
    assert.equal(stats.pid > 0, true);
    assert.equal(typeof stats.uptime, "number");
    assert.ok(stats.clientsCount >= 2, JSON.stringify(stats));
    const chat = stats.namespaces.find((n) => n.name === "/chat");
    assert.ok(chat && chat.socketsCount >= 1, JSON.stringify(stats.namespaces));
    assert.ok(Array.isArray(stats.aggregatedEvents));
  });

  test("socket_connected and room_joined when a client arrives", async () => {
    const bob = await chatClient(server.url, "bob", "garden");
    opened.push(bob);
    const [socket, at] = await admin.next("socket_connected", (s) => s.id === bob.id, "socket_connected of bob");
    assert.equal(socket.nsp, "/chat");
    assert.ok(!Number.isNaN(Date.parse(at)), `a date: ${at}`);
    const [nsp, room, id] = await admin.next("room_joined", (n, r, i) => i === bob.id && r === "garden", "room_joined garden");
    assert.deepEqual([nsp, room, id], ["/chat", "garden", bob.id]);
  });

  test("event_received when a client emits, with the event's name and arguments", async () => {
    ada.emit("anything", 42, { a: "b" });
    const [nsp, id, args, at] = await admin.next("event_received", (n, i, a) => a[0] === "anything", "event_received");
    assert.deepEqual([nsp, id, args], ["/chat", ada.id, ["anything", 42, { a: "b" }]]);
    assert.ok(!Number.isNaN(Date.parse(at)));
  });

  test("the emit action reaches the room's clients, and event_sent tells of it", async () => {
    const got = waitForEvent(ada, "from-admin", { what: "ada receiving from-admin" });
    admin.emit("emit", "/chat", "kitchen", "from-admin", "hello", 1);
    assert.deepEqual(await got, ["hello", 1]);
    const [nsp, id, args] = await admin.next("event_sent", (n, i, a) => a[0] === "from-admin", "event_sent");
    assert.deepEqual([nsp, id, args], ["/chat", ada.id, ["from-admin", "hello", 1]]);
  });

  test("the join and leave actions move a socket, and room_joined/room_left tell of it", async () => {
    admin.emit("join", "/chat", "attic", ada.id);
    await admin.next("room_joined", (n, r, i) => r === "attic" && i === ada.id, "room_joined attic");
    admin.emit("leave", "/chat", "attic", ada.id);
    await admin.next("room_left", (n, r, i) => r === "attic" && i === ada.id, "room_left attic");
  });

  test("an action on a namespace that does not exist does nothing (and creates nothing)", async () => {
    admin.emit("_disconnect", "/nowhere", false, ada.id);
    const [stats] = await admin.next("server_stats", (s) => Date.now() > 0, "server_stats");
    // The next stats, sent after the action: still no /nowhere, and ada still here.
    const [later] = await waitForEvent(admin, "server_stats", { what: "the next server_stats" });
    assert.ok(!later.namespaces.some((n) => n.name === "/nowhere"), JSON.stringify(later.namespaces));
    assert.ok(stats && ada.connected);
  });

  test("the _disconnect action disconnects the client; socket_disconnected tells of it", async () => {
    const id = ada.id;
    const gone = waitForEvent(ada, "disconnect", { what: "ada disconnected" });
    admin.emit("_disconnect", "/chat", false, id);
    const [reason] = await gone;
    assert.equal(reason, "io server disconnect");
    const [nsp, sid, why] = await admin.next("socket_disconnected", (n, i) => i === id, "socket_disconnected");
    assert.deepEqual([nsp, sid, why], ["/chat", id, "server namespace disconnect"]);
  });
});

describe("the dashboard: sessions, transports and traffic", () => {
  let admin;

  before(async () => {
    admin = recordingAdmin({ username: USER, password: PASSWORD });
    await waitForEvent(admin, "connect", { what: "admin connected" });
  });

  /** The next `server_stats` (sent from now on) that passes `filter`. */
  const nextStats = (filter, what) =>
    waitForEvent(admin, "server_stats", { filter, what, timeout: 15_000 }).then(([s]) => s);

  test("socket_updated when a client's transport upgrades to WebSocket", async () => {
    const cy = io(`${server.url}/chat`, { auth: { name: "cy" }, forceNew: true, reconnection: false });
    opened.push(cy);
    await waitForEvent(cy, "connect", { what: "cy connected" });
    const [update] = await admin.next("socket_updated", (u) => u.id === cy.id, "socket_updated of cy");
    assert.deepEqual(update, { id: cy.id, nsp: "/chat", transport: "websocket" });
  });

  test("clientsCount and pollingClientsCount follow a polling-only client", async () => {
    // Wait until the admin itself is on WebSocket, so that only the poller moves the
    // counts.
    const upgraded = () => admin.io.engine.transport.name === "websocket";
    for (let i = 0; i < 100 && !upgraded(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(upgraded(), "the admin upgraded");
    const base = await nextStats(() => true, "server_stats before the poller");
    const poller = io(`${server.url}/chat`, {
      auth: { name: "poller" }, forceNew: true, reconnection: false, transports: ["polling"],
    });
    opened.push(poller);
    await waitForEvent(poller, "connect", { what: "poller connected" });
    const during = await nextStats(
      (s) => s.pollingClientsCount === base.pollingClientsCount + 1,
      `pollingClientsCount ${base.pollingClientsCount + 1}`,
    );
    assert.ok(during.clientsCount >= 1 && during.clientsCount === base.clientsCount + 1, JSON.stringify([base, during]));
    poller.disconnect();
    await nextStats(
      (s) => s.pollingClientsCount === base.pollingClientsCount && s.clientsCount === base.clientsCount,
      "the counts back where they were",
    );
  });

  test("aggregatedEvents: sessions opened and closed, packets and bytes, by second", async () => {
    const events = [];
    const collect = (s) => events.push(...s.aggregatedEvents);
    // Everything since the last stats, which the admin has already seen.
    await nextStats(() => true, "a server_stats to start from");
    admin.on("server_stats", collect);
    const dot = io(`${server.url}/chat`, {
      auth: { name: "dot" }, forceNew: true, reconnection: false, transports: ["polling"],
    });
    opened.push(dot);
    await waitForEvent(dot, "connect", { what: "dot connected" });
    const payload = "x".repeat(1000);
    dot.emit("anything", payload);
    await admin.next("event_received", (n, i, a) => a[1] === payload, "dot's event");
    dot.disconnect();
    const total = (type) => events.filter((e) => e.type === type).reduce((n, e) => n + e.count, 0);
    for (let i = 0; i < 100 && total("rawDisconnection") === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    admin.off("server_stats", collect);
    const seen = JSON.stringify(events);
    assert.ok(total("rawConnection") >= 1, seen);
    assert.ok(total("rawDisconnection") >= 1, seen);
    assert.ok(events.some((e) => e.type === "rawDisconnection" && typeof e.subType === "string"), seen);
    // dot's CONNECT and event at least, and the event's 1000 bytes.
    assert.ok(total("packetsIn") >= 2, seen);
    assert.ok(total("bytesIn") >= 1000, seen);
    assert.ok(total("packetsOut") >= 1, seen);
    assert.ok(total("bytesOut") >= total("packetsOut"), seen);
    for (const e of events) {
      assert.ok(["rawConnection", "rawDisconnection", "packetsIn", "packetsOut", "bytesIn", "bytesOut"].includes(e.type), seen);
      assert.equal(e.timestamp % 1000, 0, "buckets of a second");
      assert.ok(Math.abs(Date.now() - e.timestamp) < 60_000, seen);
      assert.ok(e.count > 0, seen);
    }
  });
});
