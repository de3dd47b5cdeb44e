// The demo pages in real Chromium (Playwright) against the `sockeye` binary: what a
// person sees. Every check reads the page's text; every wait is bounded; nothing sleeps.
// A screenshot of each page goes to $SOCKEYE_TEST_LOGS/screenshots/ (not committed).
//
// Environment: SOCKEYE_TARGET_DIR (default ../../target/debug), where `sockeye` is, and
// www/pkg must hold the client package (scripts/build-client.sh web www/pkg; the test
// command does it). SOCKEYE_TEST_LOGS: where screenshots/ goes.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT, sockeyeBinary } from "../lib/bins.mjs";
import { launchBrowser } from "../lib/browser.mjs";
import { startServer } from "../lib/process.mjs";

const WWW = join(ROOT, "www");
const SHOTS = join(process.env.SOCKEYE_TEST_LOGS || join(ROOT, "target", "test-logs"), "screenshots");
const WAIT = 15_000;
const TEST = { timeout: 120_000 };

let server, browser;

before(async () => {
  const bin = sockeyeBinary("sockeye"); // says how to build it when it is missing
  assert.ok(existsSync(join(WWW, "pkg", "sockeye.js")), "missing www/pkg: scripts/build-client.sh web www/pkg");
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer({
    command: bin,
    args: ["--port", "0", "--static-dir", WWW, "--log-level", "warn"],
    label: "sockeye",
  });
  browser = await launchBrowser();
}, { timeout: 90_000 });

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A page in its own context (its own cookies and storage: another person). */
async function person(path, viewport) {
  const context = await browser.newContext(viewport ? { viewport } : {});
  // Every Playwright action and navigation is bounded like the explicit waits.
  context.setDefaultTimeout(WAIT);
  context.setDefaultNavigationTimeout(WAIT);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${server.url}${path}`);
  page.errors = errors;
  return page;
}

const text = (page, selector) => page.locator(selector).innerText();

/** Waits until `selector`'s text contains `expected`. */
async function sees(page, selector, expected) {
  await page.waitForFunction(
    ([sel, exp]) => document.querySelector(sel)?.innerText.includes(exp),
    [selector, expected],
    { timeout: WAIT },
  ).catch(async () => {
    assert.fail(`${selector} never showed ${JSON.stringify(expected)}; it shows:\n${await text(page, selector)}`);
  });
}

/** Waits until `selector`'s text no longer contains `gone`. */
async function noLonger(page, selector, gone) {
  await page.waitForFunction(
    ([sel, g]) => !document.querySelector(sel)?.innerText.includes(g),
    [selector, gone],
    { timeout: WAIT },
  ).catch(async () => {
    assert.fail(`${selector} still shows ${JSON.stringify(gone)}:\n${await text(page, selector)}`);
  });
}

async function say(page, message) {
  await page.fill("#message", message);
  await page.click("#send button");
}

async function login(page, name) {
  await page.fill("#name", name);
  await page.click("#enter");
  await sees(page, "#status", `online as ${name}`);
}

describe("demo: chat", () => {
  test("two people chat in rooms, see the online list, typing, private and offline notices", TEST, async () => {
    const alice = await person("/chat");
    const bob = await person("/chat");
    await login(alice, "alice");
    await login(bob, "bob");
    for (const p of [alice, bob]) {
      await sees(p, "#online", "alice");
      await sees(p, "#online", "bob");
    }

    // The lobby: everyone, the sender included.
    await alice.fill("#message", "hello from alice");
    await alice.click("#send button");
    for (const p of [alice, bob]) await sees(p, "#messages", "[lobby] alice: hello from alice");

    // A room of their own.
    for (const p of [alice, bob]) {
      await p.fill("#new-room", "rustaceans");
      await p.click("#join");
      await p.waitForFunction(() => document.querySelector("#room").value === "rustaceans", null, { timeout: WAIT });
    }
    await bob.fill("#message", "ownership!");
    await bob.click("#send button");
    for (const p of [alice, bob]) await sees(p, "#messages", "[rustaceans] bob: ownership!");

    // "is typing", and it clears once bob stops.
    await bob.type("#message", "typ");
    await sees(alice, "#typing", "bob (rustaceans) is typing");
    await noLonger(alice, "#typing", "bob");
    await bob.fill("#message", "");

    // Private, and to someone who is not here.
    await alice.fill("#message", "/msg bob just between us");
    await alice.click("#send button");
    await sees(bob, "#messages", "(private) alice → bob: just between us");
    await sees(alice, "#messages", "(private) alice → bob: just between us");
    await alice.fill("#message", "/msg carol are you there?");
    await alice.click("#send button");
    await sees(alice, "#messages", "carol is offline");
    assert.ok(!(await text(bob, "#messages")).includes("are you there"), "an undelivered message leaks nowhere");

    // Bob leaves the room: he is told so, and what is said there no longer reaches him.
    await bob.selectOption("#room", "rustaceans");
    await bob.click("#leave");
    await sees(alice, "#messages", "bob left rustaceans");
    await bob.waitForFunction(() => ![...document.querySelector("#room").options].some((o) => o.value === "rustaceans"), null, { timeout: WAIT });
    await alice.selectOption("#room", "rustaceans");
    await say(alice, "bob cannot read this");
    await sees(alice, "#messages", "[rustaceans] alice: bob cannot read this");
    // The lobby message is sent after the room message, so once bob has it he would have
    // had the room message too: a bounded check of an absence, with no sleep.
    await alice.selectOption("#room", "lobby");
    await say(alice, "but he reads the lobby");
    await sees(bob, "#messages", "[lobby] alice: but he reads the lobby");
    assert.ok(!(await text(bob, "#messages")).includes("bob cannot read this"), "a room message reached someone who left");

    // A taken name is refused.
    const impostor = await person("/chat");
    await impostor.fill("#name", "alice");
    await impostor.click("#enter");
    await sees(impostor, "#login-error", "that name is taken");

    await alice.screenshot({ path: join(SHOTS, "chat.png"), fullPage: true });

    // Bob leaves: alice's online list and messages say so.
    await bob.context().close();
    await sees(alice, "#messages", "bob left");
    await alice.waitForFunction(() => !document.querySelector("#online").innerText.includes("bob"), null, { timeout: WAIT });
    assert.deepEqual(alice.errors, []);
    await alice.context().close();
    await impostor.context().close();
  });

  test("the chat is usable on a phone-sized screen (375×667)", TEST, async () => {
    const W = 375;
    const H = 667;
    const phone = await person("/chat", { width: W, height: H });
    await login(phone, "phone");
    const onScreen = async (selector) => {
      assert.ok(await phone.locator(selector).isVisible(), `${selector} is visible`);
      const box = await phone.locator(selector).boundingBox();
      assert.ok(
        box && box.x >= 0 && box.y >= 0 && box.x + box.width <= W && box.y + box.height <= H,
        `${selector} inside the ${W}×${H} viewport: ${JSON.stringify(box)}`,
      );
    };
    for (const sel of ["#message", "#send button", "#messages", "#online"]) await onScreen(sel);
    // The previous test's people may still be leaving this server (it notices a closed page
    // a moment later). Once "phone" is alone online, their "left" notices (each sent before
    // the online list that follows it) are behind us: what follows is this test's own.
    // Closed pages were on WebSocket, so the server sees them go at once; the bound allows
    // for one found only by the demo's heartbeat (25 s + 20 s).
    await phone.waitForFunction(
      () => [...document.querySelectorAll("#online li")].map((li) => li.dataset.name).join() === "phone",
      null,
      { timeout: 60_000 },
    ).catch(async () => assert.fail(`"phone" is not alone online: ${await text(phone, "#online")}`));

    // A long history scrolls inside its box: the message box stays where the thumb is,
    // the newest message is in view, and the page never scrolls sideways.
    for (let i = 1; i <= 25; i++) await say(phone, `from my phone ${i}`);
    await sees(phone, "#messages", "[lobby] phone: from my phone 25");
    await onScreen("#message");
    const history = await phone.evaluate(() => {
      const m = document.querySelector("#messages");
      const last = m.lastElementChild.getBoundingClientRect();
      const box = m.getBoundingClientRect();
      return {
        scrolls: m.scrollHeight > m.clientHeight,
        lastInView: last.bottom <= box.bottom + 1 && last.top >= box.top - 1,
        pageWidth: document.documentElement.scrollWidth,
      };
    });
    assert.deepEqual(history, { scrolls: true, lastInView: true, pageWidth: W });
    await phone.screenshot({ path: join(SHOTS, "chat-phone.png") });
    assert.deepEqual(phone.errors, []);
    await phone.context().close();
  });
});

describe("demo: streaming text", () => {
  test("the page shows the whole text, one character at a time", TEST, async () => {
    const page = await person("/stream");
    await sees(page, "#status", "online");
    await page.click("#start");
    await sees(page, "#done", "done:");
    const shown = await text(page, "#text");
    const [, length] = /done: (\d+) characters/.exec(await text(page, "#done"));
    assert.equal(shown.length, Number(length));
    assert.ok(shown.startsWith("Sockeye streams this sentence"), shown);
    assert.ok(shown.endsWith("never blocks the server."), shown);
    await page.screenshot({ path: join(SHOTS, "stream.png"), fullPage: true });
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test("20 concurrent streams all complete while another client's echo is answered", TEST, async () => {
    const page = await person("/stream");
    const r = await page.evaluate(async () => {
      const { io } = await import("/pkg/sockeye.js");
      const streams = io("/stream", { forceNew: true });
      const echo = io("/", { forceNew: true });
      const texts = new Map();
      const ended = new Map();
      streams.on("new_char", (id, c) => texts.set(id, (texts.get(id) ?? "") + c));
      const allEnded = new Promise((resolve) =>
        streams.on("stream_end", ({ id, length }) => {
          ended.set(id, length);
          if (ended.size === 20) resolve();
        }),
      );
      const ids = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          streams.timeout(10_000).emitWithAck("start_stream", { text: `stream number ${i} `.repeat(3), delay_ms: 5 }),
        ),
      );
      const echoed = await echo.timeout(10_000).emitWithAck("echo", "still answered");
      await allEnded;
      return {
        echoed,
        complete: ids.every(({ id }) => texts.get(id)?.length === ended.get(id)),
        count: ended.size,
      };
    });
    assert.deepEqual(r, { echoed: "still answered", complete: true, count: 20 });
    await page.context().close();
  });
});

describe("demo: server push", () => {
  test("a push over HTTP (POST JSON and GET query) appears on the page", TEST, async () => {
    const page = await person("/push.html");
    await sees(page, "#status", "online");
    const posted = await fetch(`${server.url}/push`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: "from the test", n: 1 }),
    });
    assert.equal(posted.status, 200);
    assert.equal((await posted.json()).ok, true);
    await sees(page, "#pushes", '{"message":"from the test","n":1}');
    const got = await fetch(`${server.url}/push?message=via%20get`);
    assert.equal(got.status, 200);
    await sees(page, "#pushes", '{"message":"via get"}');
    // A body that is not JSON is refused, and nothing reaches the page.
    const bad = await fetch(`${server.url}/push`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    assert.ok(bad.status >= 400 && bad.status < 500, `status ${bad.status}`);
    // Pushes arrive in order, so once this one shows, a wrongly accepted one would have.
    await fetch(`${server.url}/push?message=after%20the%20bad%20one`);
    await sees(page, "#pushes", '{"message":"after the bad one"}');
    assert.equal((await page.locator("#pushes li").count()), 3);
    await page.screenshot({ path: join(SHOTS, "push.png"), fullPage: true });
    await page.context().close();
  });
});

describe("demo: plain WebSocket", () => {
  test("/ws echoes to the sender and relays to the others", TEST, async () => {
    const one = await person("/ws.html");
    const two = await person("/ws.html");
    await sees(one, "#status", "online");
    await sees(two, "#status", "online");
    const me = /you are client (\d+)/.exec(await text(one, "#log"))?.[1];
    assert.ok(me, "the server greets each client with its number");
    await one.fill("#message", "plain websocket works");
    await one.click("#form button");
    for (const p of [one, two]) await sees(p, "#log", `client ${me}: plain websocket works`);
    await two.fill("#message", "and back");
    await two.click("#form button");
    for (const p of [one, two]) await sees(p, "#log", ": and back");
    await one.screenshot({ path: join(SHOTS, "ws.png"), fullPage: true });

    // A message over the size limit closes only its sender's connection, saying why.
    await two.fill("#message", "x".repeat(5000));
    await two.click("#form button");
    await sees(two, "#status", "offline (message too big)");
    await one.fill("#message", "still here");
    await one.click("#form button");
    await sees(one, "#log", `client ${me}: still here`);
    assert.equal(await text(one, "#status"), "online");
    assert.deepEqual([...one.errors, ...two.errors], []);
    await one.context().close();
    await two.context().close();
  });

  test("the index page links every demo", TEST, async () => {
    const page = await person("/");
    const links = await page.locator("a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    for (const href of ["/chat", "/stream", "/push.html", "/ws.html"]) {
      assert.ok(links.includes(href), href);
      // Every page the index and the guides name answers, at the path they name.
      const res = await page.request.get(new URL(href, page.url()).href);
      assert.equal(res.status(), 200, href);
      assert.match(res.headers()["content-type"] ?? "", /^text\/html/, href);
    }
    await page.screenshot({ path: join(SHOTS, "index.png"), fullPage: true });
    await page.context().close();
  });
});
