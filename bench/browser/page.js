// The in-page half of the browser benchmark, written only against socket.io-client's
// public API so the same code drives Sockeye's client and the official one (page.html
// loads one of them per page). Every wait is bounded by `timeoutMs`; a failure rejects
// with a message saying what did not happen. run.mjs calls these through page.evaluate,
// reads the browser's CPU and heap figures over CDP between the calls, and does the
// statistics.
//
// `url`: the server under test, reached directly (WebSocket is not subject to CORS);
// null: the page's own origin, whose static server forwards /socket.io/ to that server
// (long-polling needs same-origin requests: the benchmark servers send no CORS headers).

/** The `flood` payload: a JSON string of 64 bytes (62 characters and the quotes). */
const FLOOD_PAYLOAD = "x".repeat(62);
/** The `echo` argument: 64 bytes of JSON, the load generator's own (bench/src/echo.rs). */
const ECHO_PAYLOAD = { data: "x".repeat(52) };

function options(transport, timeoutMs) {
  return { forceNew: true, transports: [transport], reconnection: false, timeout: timeoutMs };
}

function within(ms, what, promise) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

function connected(socket, timeoutMs) {
  return within(
    timeoutMs,
    "connect",
    new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", (err) => reject(new Error(`connect_error: ${err?.message ?? err}`)));
    }),
  );
}

function ack(socket, timeoutMs, event, ...args) {
  return within(timeoutMs, `the ack of ${event}`, new Promise((resolve) => socket.emit(event, ...args, (...res) => resolve(res))));
}

async function open(io, url, transport, timeoutMs) {
  const socket = io(url ?? location.origin, options(transport, timeoutMs));
  try {
    await connected(socket, timeoutMs);
  } catch (err) {
    socket.disconnect();
    throw new Error(`${transport}: ${err.message}`);
  }
  const name = socket.io.engine.transport.name;
  if (name !== transport) {
    socket.disconnect();
    throw new Error(`expected the ${transport} transport, got ${name}`);
  }
  return socket;
}

/**
 * Keeps `inFlight` calls of `start(done)` going, each starting the next when it calls
 * `done`, until `seconds` have passed (or, with `calls`, that many calls were started);
 * `count()` is read at the end of the window. Resolves once the calls in flight at the
 * end have finished too, with what `count()` said at the end and the window's length.
 */
function windowed({ seconds = Infinity, calls = Infinity, inFlight, timeoutMs, start, count, what }) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    let open = 0;
    let started = 0;
    let snapshot = null;
    let guard = null;
    const finish = () => {
      snapshot = { counted: count(), elapsed_ms: performance.now() - t0 };
      clearTimeout(timer);
      guard = setTimeout(() => {
        reject(new Error(`${what}: ${open} of ${inFlight} calls still unanswered ${timeoutMs} ms after the window`));
      }, timeoutMs);
    };
    const check = () => {
      if (snapshot === null && (performance.now() >= end || started >= calls)) finish();
    };
    const launch = () => {
      open++;
      started++;
      start(() => {
        open--;
        check();
        if (snapshot === null) launch();
        else if (open === 0) {
          clearTimeout(guard);
          resolve(snapshot);
        }
      });
    };
    // The window also ends on a timer, in case the answers come slower than the window.
    const timer = Number.isFinite(seconds) ? setTimeout(check, seconds * 1000) : null;
    for (let i = 0; i < Math.min(inFlight, calls); i++) launch();
    check();
  });
}

export function bench(clients) {
  const pick = (name) => {
    const io = clients[name];
    if (typeof io !== "function") throw new Error(`no client ${name} on this page`);
    return io;
  };
  /** The flood connection between floodOpen and close: run.mjs reads CDP figures between calls. */
  let flooding = null;
  return {
    /**
     * `n` sequential io() -> `connect` -> disconnect() cycles after `warmup` unmeasured
     * ones, `gapMs` apart; ms each. The gap matters: Chromium lets a WebSocket to a
     * host:port start only 10 ms after the previous one's handshake (RFC 6455 4.1
     * throttling, WebSocketEndpointLockManager's kUnlockDelayInMs), which back-to-back
     * cycles would measure instead of the client.
     */
    async connect({ client, url, transport = "websocket", n, warmup, gapMs, timeoutMs }) {
      const samples = [];
      for (let i = 0; i < warmup + n; i++) {
        await new Promise((ok) => setTimeout(ok, gapMs));
        const t0 = performance.now();
        if (client === "raw") {
          const ws = await rawOpen(url, timeoutMs);
          samples.push(performance.now() - t0);
          ws.close();
        } else {
          const socket = pick(client)(url ?? location.origin, options(transport, timeoutMs));
          try {
            await connected(socket, timeoutMs);
            samples.push(performance.now() - t0);
          } finally {
            socket.disconnect();
          }
        }
      }
      return { samples: samples.slice(warmup) };
    },

    /**
     * Connects for `flood`, counts the events in a listener (checking each payload), and
     * runs one warm-up flood. floodRun / floodTotal then measure; close disconnects.
     */
    async floodOpen({ client, url, transport, count, timeoutMs }) {
      if (flooding) throw new Error("floodOpen: the previous flood connection is still open");
      const socket = await open(pick(client), url, transport, timeoutMs);
      const state = { socket, received: 0, wrong: 0, floods: 0 };
      flooding = state;
      socket.on("flood", (payload) => {
        state.received++;
        if (payload !== FLOOD_PAYLOAD) state.wrong++;
      });
      await ack(socket, timeoutMs, "flood", count, FLOOD_PAYLOAD);
      if (state.received !== count) throw new Error(`warm-up flood: ${state.received} of ${count} events before the ack`);
      state.received = 0;
      return { transport: socket.io.engine.transport.name };
    },

    /**
     * `flood` events received per second, `inFlight` floods of `count` kept going for
     * `seconds`; or, with `total`, until exactly `total` events (total / count floods)
     * arrived. `received` is every event of the call, the window's tail included.
     */
    async floodRun({ seconds, total, inFlight, count, timeoutMs }) {
      const state = flooding;
      if (!state) throw new Error("floodRun without floodOpen");
      const before = state.received;
      const floodsBefore = state.floods;
      const r = await windowed({
        seconds: total === undefined ? seconds : Infinity,
        calls: total === undefined ? Infinity : Math.ceil(total / count),
        inFlight,
        timeoutMs,
        what: "flood",
        count: () => state.received - before,
        start: (done) =>
          state.socket.emit("flood", count, FLOOD_PAYLOAD, () => {
            state.floods++;
            done();
          }),
      });
      // The server acks a flood after its events, so every acked event has arrived.
      const floods = state.floods - floodsBefore;
      const received = state.received - before;
      if (received !== floods * count || state.wrong !== 0) {
        throw new Error(`flood: ${floods} floods acked, ${received} events received, ${state.wrong} with a wrong payload`);
      }
      return { ...r, events_per_sec: (r.counted / r.elapsed_ms) * 1000, floods, received };
    },

    /** Disconnects the flood connection (if any). */
    close() {
      flooding?.socket.disconnect();
      flooding = null;
    },

    /** `flood` events per second in one call: floodOpen, floodRun, close (the raw WebSocket's). */
    async flood(a) {
      if (a.client === "raw") return rawFlood(a);
      try {
        await this.floodOpen(a);
        return await this.floodRun(a);
      } finally {
        this.close();
      }
    },

    /** `echo` acks per second with `inFlight` emits kept going. */
    async echo({ client, url, transport, seconds, inFlight, timeoutMs }) {
      if (client === "raw") return rawEcho({ url, seconds, inFlight, timeoutMs });
      const socket = await open(pick(client), url, transport, timeoutMs);
      try {
        const [first] = await ack(socket, timeoutMs, "echo", ECHO_PAYLOAD);
        if (JSON.stringify(first) !== JSON.stringify(ECHO_PAYLOAD)) {
          throw new Error(`echo acked ${JSON.stringify(first)}`);
        }
        // Warm-up: 200 sequential acks, or half a second (polling's round trips are slow).
        const warm = performance.now() + 500;
        for (let i = 0; i < 200 && performance.now() < warm; i++) await ack(socket, timeoutMs, "echo", ECHO_PAYLOAD);
        let acks = 0;
        const r = await windowed({
          seconds,
          inFlight,
          timeoutMs,
          what: "echo",
          count: () => acks,
          start: (done) =>
            socket.emit("echo", ECHO_PAYLOAD, () => {
              acks++;
              done();
            }),
        });
        return { ...r, acks_per_sec: (r.counted / r.elapsed_ms) * 1000 };
      } finally {
        socket.disconnect();
      }
    },
  };
}

// ---- the browser's own limit: the same measurements on a bare WebSocket ------------------
// Hand-written Engine.IO 4 / Socket.IO 5 text frames and no parsing beyond the packet
// type: what any client in this browser could at best reach.

const FLOOD_FRAME = (id, count) => `42${id}["flood",${count},${JSON.stringify(FLOOD_PAYLOAD)}]`;
const ECHO_FRAME = (id) => `42${id}["echo",${JSON.stringify(ECHO_PAYLOAD)}]`;

/** A WebSocket joined to `/`: resolves once the server's CONNECT answer arrived. */
function rawOpen(url, timeoutMs) {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`);
  return within(
    timeoutMs,
    "raw connect",
    new Promise((resolve, reject) => {
      ws.onerror = () => reject(new Error("raw connect: WebSocket error"));
      ws.onmessage = (e) => {
        if (e.data[0] === "0") ws.send("40");
        else if (e.data.startsWith("40")) {
          ws.onmessage = null;
          resolve(ws);
        } else if (e.data.startsWith("44")) reject(new Error(`raw connect refused: ${e.data}`));
      };
    }),
  ).catch((err) => {
    ws.close();
    throw err;
  });
}

/** Routes frames: events to `onEvent`, acks (by id) to their callbacks, pings answered. */
function rawRouter(ws, onEvent) {
  const acks = new Map();
  let next = 0;
  ws.onmessage = (e) => {
    const d = e.data;
    if (d[0] === "4" && d[1] === "2") onEvent(d);
    else if (d[0] === "4" && d[1] === "3") {
      const id = parseInt(d.slice(2), 10);
      const fn = acks.get(id);
      acks.delete(id);
      fn?.(d);
    } else if (d === "2") ws.send("3");
  };
  return (frame, fn) => {
    const id = next++;
    acks.set(id, fn);
    ws.send(frame(id));
  };
}

async function rawFlood({ url, seconds, inFlight, count, timeoutMs }) {
  const ws = await rawOpen(url, timeoutMs);
  try {
    let received = 0;
    const emit = rawRouter(ws, () => received++);
    await within(timeoutMs, "raw warm-up flood", new Promise((ok) => emit((id) => FLOOD_FRAME(id, count), ok)));
    received = 0;
    let floods = 0;
    const r = await windowed({
      seconds,
      inFlight,
      timeoutMs,
      what: "raw flood",
      count: () => received,
      start: (done) =>
        emit(
          (id) => FLOOD_FRAME(id, count),
          () => {
            floods++;
            done();
          },
        ),
    });
    if (floods * count !== received) throw new Error(`raw flood: ${floods} floods acked, ${received} events received`);
    return { ...r, events_per_sec: (r.counted / r.elapsed_ms) * 1000, floods };
  } finally {
    ws.close();
  }
}

async function rawEcho({ url, seconds, inFlight, timeoutMs }) {
  const ws = await rawOpen(url, timeoutMs);
  try {
    const emit = rawRouter(ws, () => {});
    for (let i = 0; i < 200; i++) await within(timeoutMs, "raw warm-up echo", new Promise((ok) => emit(ECHO_FRAME, ok)));
    let acks = 0;
    const r = await windowed({
      seconds,
      inFlight,
      timeoutMs,
      what: "raw echo",
      count: () => acks,
      start: (done) =>
        emit(ECHO_FRAME, () => {
          acks++;
          done();
        }),
    });
    return { ...r, acks_per_sec: (r.counted / r.elapsed_ms) * 1000 };
  } finally {
    ws.close();
  }
}
