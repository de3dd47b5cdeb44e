// The official admin UI (@socket.io/admin-ui 0.5.1's built pages, served from
// node_modules on a port of their own, never from the internet) in Chromium against
// `sockeye --admin-ui`: log in through its connection form, find a connected client's
// socket and its room, and disconnect it with the UI's button.
//
// Environment: SOCKEYE_TARGET_DIR (default ../../target/debug), where `sockeye` is;
// SOCKEYE_TEST_LOGS: where screenshots/ goes (not committed).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { JS_DIR, ROOT } from "../lib/bins.mjs";
import { launchBrowser } from "../lib/browser.mjs";
import { startStaticServer } from "../lib/http.mjs";
import { waitForEvent } from "../lib/wait.mjs";
import { PASSWORD, USER, chatClient, startAdminServer } from "./lib.mjs";

const UI_DIST = join(JS_DIR, "node_modules", "@socket.io", "admin-ui", "ui", "dist");
const SHOTS = join(process.env.SOCKEYE_TEST_LOGS || join(ROOT, "target", "test-logs"), "screenshots");
const WAIT = 15_000;

let ui, server, browser, page, ada;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ui = await startStaticServer({ roots: [["/", UI_DIST]] });
  // The UI's origin is the only one allowed: the server refuses other origins.
  server = await startAdminServer(ui.url);
  ada = await chatClient(server.url, "ada", "kitchen");
  browser = await launchBrowser();
  const context = await browser.newContext();
  context.setDefaultTimeout(WAIT);
  context.setDefaultNavigationTimeout(WAIT);
  // index.html links fonts and icons from CDNs; this machine (and a test) has no
  // internet: refuse them at once instead of waiting for a timeout.
  await context.route((url) => !url.href.startsWith(ui.url) && !url.href.startsWith(server.url), (route) => route.abort());
  page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
}, { timeout: 90_000 });

after(async () => {
  ada?.disconnect();
  await browser?.close();
  await server?.stop();
  await ui?.close();
});

const shot = (name) => page.screenshot({ path: join(SHOTS, `admin-${name}.png`), fullPage: true }).catch(() => {});

/** Waits until the page's text contains `expected`. */
async function sees(expected, what = JSON.stringify(expected)) {
  await page
    .waitForFunction((exp) => document.body.innerText.includes(exp), expected, { timeout: WAIT })
    .catch(async () => {
      await shot("failed");
      assert.fail(`the UI never showed ${what}; it shows:\n${await page.locator("body").innerText()}`);
    });
}

test("log in, see the client's socket and room, disconnect it from the UI", { timeout: 120_000 }, async () => {
  await page.goto(`${ui.url}/`);
  // The connection form opens by itself on a first visit.
  await page.getByLabel("Server URL").fill(server.url);
  await page.getByLabel("Username").fill(USER);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Connect" }).click();
  await page.getByLabel("Server URL").waitFor({ state: "hidden" }).catch(async () => {
    await shot("login");
    assert.fail(`the connection form stayed open:\n${await page.locator("body").innerText()}`);
  });
  await shot("dashboard");

  // The sockets of /chat.
  await page.goto(`${ui.url}/#/sockets/`);
  await page.getByLabel("Namespace").click({ force: true });
  await page.getByRole("option", { name: "/chat" }).click();
  await sees(ada.id, `ada's socket id ${ada.id}`);
  await shot("sockets");

  // Its details: the room it joined.
  await page.getByRole("row").filter({ hasText: ada.id }).getByRole("cell").first().click();
  await sees("kitchen", "ada's room kitchen");
  await shot("socket");

  // Back to the list, and the row's disconnect button.
  const gone = waitForEvent(ada, "disconnect", { what: "ada disconnected by the UI", timeout: WAIT });
  await page.goto(`${ui.url}/#/sockets/`);
  await page.getByRole("row").filter({ hasText: ada.id }).getByRole("button").click();
  const [reason] = await gone;
  assert.equal(reason, "io server disconnect");
  await page
    .waitForFunction((id) => !document.body.innerText.includes(id), ada.id, { timeout: WAIT })
    .catch(() => assert.fail("the UI still lists the disconnected socket"));
  await shot("after-disconnect");
  assert.deepEqual(page.errors, []);
});
