// Flask-SocketIO and Sockeye in one cluster through python-socketio's message queue, over
// a real Redis and a real RabbitMQ: the Flask-SocketIO chat (tests/mq/flask_chat.py) and
// a Sockeye node (mq_node) on one channel, official socket.io-client clients on each.
// Every operation is sent from each side and checked on the other; then Python's
// write-only worker and Sockeye's emitter; then garbage on the channel, and the queue
// restarted mid-run. Each test has a channel (so a cluster) of its own.
import { describe, test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import {
  Redis, RabbitMQ, startCluster, startSockeyeCli, pythonWorker, sockeyeEmitter, publishRaw, Clients,
  call, next, collect, barrier, untilDelivered, TIMEOUT, TEST_TIMEOUT,
} from "./harness.mjs";

const T = { timeout: TEST_TIMEOUT };
let channels = 0;

for (const [name, Queue] of [["Redis", Redis], ["RabbitMQ", RabbitMQ]]) {
  describe(`over ${name}`, () => {
    let queue;
    const clients = new Clients();
    const clusters = [];

    before(async () => {
      queue = await Queue.start();
    });
    afterEach(async () => {
      clients.closeAll();
      await Promise.all(clusters.splice(0).flatMap((c) => [c.flask.stop({ grace: TIMEOUT }), c.sockeye.stop({ grace: TIMEOUT })]));
    });
    after(async () => {
      await queue?.close();
    });

    /** A new cluster on a channel of its own. */
    async function cluster() {
      const c = await startCluster(queue, `mq-test-${process.pid}-${++channels}`);
      clusters.push(c);
      return c;
    }

    // Each operation, sent from one side (`from`) and checked on the other (`to`).
    for (const [from, to] of [["flask", "sockeye"], ["sockeye", "flask"]]) {
      test(`a room broadcast and a broadcast from ${from} reach ${to}'s clients`, T, async () => {
        const c = await cluster();
        const [sender, inHere, inThere, outHere, outThere] = await Promise.all([
          clients.on(c[from], "lobby"), clients.on(c[from], "lobby"), clients.on(c[to], "lobby"),
          clients.on(c[from]), clients.on(c[to]),
        ]);
        const wrong = [collect(outHere, "news"), collect(outThere, "news")];
        const got = [next(inHere, "news"), next(inThere, "news")];
        assert.equal(await call(sender, "to", "lobby", "news", { text: `hi from ${from}` }), true);
        assert.deepEqual(await Promise.all(got), [{ text: `hi from ${from}` }, { text: `hi from ${from}` }]);
        await barrier(sender, [outHere, outThere]);
        assert.deepEqual(wrong, [[], []], "clients outside the room got the room's message");

        const everyone = [inHere, inThere, outHere, outThere].map((s) => next(s, "all"));
        await call(sender, "to", null, "all", [1, "two", null]);
        for (const payload of await Promise.all(everyone)) assert.deepEqual(payload, [1, "two", null]);
      });

      test(`binary arguments from ${from} reach ${to}'s clients as binary`, T, async () => {
        const c = await cluster();
        const [sender, there] = await Promise.all([clients.on(c[from]), clients.on(c[to], "files")]);
        const got = next(there, "file");
        await call(sender, "to", "files", "file", { name: "a.bin", body: Buffer.from([0, 1, 2, 255]) });
        const file = await got;
        assert.equal(file.name, "a.bin");
        assert.deepEqual([...new Uint8Array(file.body)], [0, 1, 2, 255]);
      });

      test(`skip_sid from ${from} leaves out a client of ${to}`, T, async () => {
        const c = await cluster();
        const [sender, kept, skipped] = await Promise.all([
          clients.on(c[from]), clients.on(c[to], "team"), clients.on(c[to], "team"),
        ]);
        const wrong = collect(skipped, "news");
        const got = next(kept, "news");
        await call(sender, "to-skip", "team", skipped.id, "news", "not for you");
        assert.equal(await got, "not for you");
        // And with no room: the whole namespace but that sid.
        const got2 = next(kept, "news");
        await call(sender, "to-skip", null, skipped.id, "news", "still not for you");
        assert.equal(await got2, "still not for you");
        await barrier(sender, [skipped]);
        assert.deepEqual(wrong, []);
      });

      test(`${from} makes a client of ${to} enter and leave a room`, T, async () => {
        const c = await cluster();
        const [sender, target] = await Promise.all([clients.on(c[from]), clients.on(c[to])]);
        await call(sender, "sockets-join", target.id, "club");
        const got = next(target, "news");
        await call(sender, "to", "club", "news", "welcome");
        assert.equal(await got, "welcome");
        await call(sender, "sockets-leave", target.id, "club");
        const wrong = collect(target, "news");
        await call(sender, "to", "club", "news", "you left");
        await barrier(sender, [target]);
        assert.deepEqual(wrong, []);
      });

      test(`${from} closes a room that clients of ${to} are in`, T, async () => {
        const c = await cluster();
        const [sender, a, b, other] = await Promise.all([
          clients.on(c[from]), clients.on(c[to], "doomed"), clients.on(c[to], "doomed"), clients.on(c[to], "kept"),
        ]);
        await call(sender, "close-room", "doomed");
        const wrong = [collect(a, "news"), collect(b, "news")];
        const got = next(other, "news");
        await call(sender, "to", "doomed", "news", "anyone?");
        await call(sender, "to", "kept", "news", "still here");
        assert.equal(await got, "still here");
        await barrier(sender, [a, b]);
        assert.deepEqual(wrong, [[], []]);
      });

      test(`${from} disconnects a client of ${to} by its sid`, T, async () => {
        const c = await cluster();
        const [sender, target, bystander] = await Promise.all([clients.on(c[from]), clients.on(c[to]), clients.on(c[to])]);
        const gone = next(target, "disconnect");
        await call(sender, "disconnect-sid", target.id);
        assert.equal(await gone, "io server disconnect");
        assert.equal(bystander.connected, true);
        assert.equal(sender.connected, true);
      });

      test(`an emit from ${from} to a sid of ${to} gets the client's ack`, T, async () => {
        const c = await cluster();
        const [sender, target] = await Promise.all([clients.on(c[from]), clients.on(c[to])]);
        target.on("question", (payload, ack) => ack({ answer: payload.n * 2, by: target.id }));
        const result = await call(sender, "ask", target.id, "question", { n: 21 });
        assert.deepEqual(result, { err: null, responses: [{ answer: 42, by: target.id }] });
      });
    }

    test("a write-only Flask-SocketIO process reaches a room on both nodes", T, async () => {
      const c = await cluster();
      const [s, f, out] = await Promise.all([clients.on(c.sockeye, "alerts"), clients.on(c.flask, "alerts"), clients.on(c.sockeye)]);
      const wrong = collect(out, "alert");
      const got = [next(s, "alert"), next(f, "alert")];
      await pythonWorker(c, "alerts", "alert", { level: "high" });
      assert.deepEqual(await Promise.all(got), [{ level: "high" }, { level: "high" }]);
      const from = await clients.on(c.sockeye);
      await barrier(from, [out]);
      assert.deepEqual(wrong, []);
    });

    test("Sockeye's emitter reaches a room on both nodes", T, async () => {
      const c = await cluster();
      const [f, s, out] = await Promise.all([clients.on(c.flask, "alerts"), clients.on(c.sockeye, "alerts"), clients.on(c.flask)]);
      const wrong = collect(out, "alert");
      const got = [next(f, "alert"), next(s, "alert")];
      await sockeyeEmitter(c, "alerts", "alert", { level: "low" });
      assert.deepEqual(await Promise.all(got), [{ level: "low" }, { level: "low" }]);
      const from = await clients.on(c.flask);
      await barrier(from, [out]);
      assert.deepEqual(wrong, []);
    });

    test("`sockeye --message-queue` joins the Flask-SocketIO cluster", T, async () => {
      const c = await cluster();
      const demo = await startSockeyeCli(c);
      try {
        const [d, f] = await Promise.all([clients.on(demo), clients.on(c.flask)]);
        await untilDelivered(f, d, "flask to sockeye --message-queue");
        const got = next(d, "alert");
        await pythonWorker(c, "", "alert", "to everyone");
        assert.equal(await got, "to everyone");
      } finally {
        await demo.stop({ grace: TIMEOUT });
      }
    });

    test("garbage on the channel is logged and skipped; the cluster goes on", T, async () => {
      const c = await cluster();
      const [s, f] = await Promise.all([clients.on(c.sockeye, "r"), clients.on(c.flask, "r")]);
      const skipped = c.sockeye.waitForLine(/bad message skipped/, "the log of a skipped message", TIMEOUT);
      await publishRaw(c, [
        "not json at all",
        "[1, 2, 3]",
        '"a JSON string"',
        "{}",
        '{"method": "fetch_sockets", "host_id": "x"}',
        '{"method": "emit", "host_id": "x"}',
        '{"method": "emit", "event": "news", "data": [[], "!!not base64"], "binary": true, "host_id": "x"}',
        '{"method": "emit", "event": "news", "data": ["x"], "room": 5, "host_id": "x"}',
        '{"method": "callback", "host_id": "x", "id": "one"}',
        `${"[".repeat(5000)}${"]".repeat(5000)}`,
      ]);
      await skipped;
      const got = [next(s, "news"), next(f, "news")];
      await pythonWorker(c, "r", "news", "after the garbage");
      assert.deepEqual(await Promise.all(got), ["after the garbage", "after the garbage"]);
      assert.equal(c.sockeye.running, true);
      assert.equal(c.flask.running, true);
    });

    test("the queue restarted mid-run: local delivery goes on, cross-node delivery resumes", T, async () => {
      const c = await cluster();
      const [sSender, sRoom, fSender, fRoom] = await Promise.all([
        clients.on(c.sockeye), clients.on(c.sockeye, "r"), clients.on(c.flask), clients.on(c.flask, "r"),
      ]);
      const before = next(fRoom, "news");
      await call(sSender, "to", "r", "news", "before");
      assert.equal(await before, "before");

      await queue.stop();
      const local = next(sRoom, "news");
      await call(sSender, "to", "r", "news", "while down");
      assert.equal(await local, "while down");
      await queue.start();

      // Each side sends again until the other has one: both reconnect with backoff.
      await untilDelivered(sSender, fRoom, "sockeye to flask");
      await untilDelivered(fSender, sRoom, "flask to sockeye");
    });
  });
}
