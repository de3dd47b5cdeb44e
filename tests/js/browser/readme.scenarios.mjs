// The README usage example (readme.html) loaded as a user would load it: a static page
// whose module script imports "/pkg/sockeye.js". With CLIENT=official the same page is
// served with the official module's path substituted, which proves the page itself.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CLIENT, CLIENT_MODULE, SOCKEYE_MODULE, TIMEOUT_MS, browserTest, env } from "./harness.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));

export function readmeScenario({ server: serverInfo }) {
  const html = readFileSync(join(HERE, "readme.html"), "utf8");
  assert.ok(html.includes(`from "${SOCKEYE_MODULE}"`), `readme.html imports ${SOCKEYE_MODULE}`);

  browserTest(
    `browser [${serverInfo.name}, default transports] README usage page (readme.html, client=${CLIENT}): io.connect + emit with ack`,
    {
      path: "/readme.html", // the query string is added below, once the server's URL is known
      // Served by the static server itself (a page.route()d document would count as a
      // public-address-space page, and Chromium's local network access checks would then
      // block its requests to the loopback server).
      beforeGoto() {
        if (CLIENT_MODULE === SOCKEYE_MODULE) env.web.overrides.delete("/readme.html");
        else env.web.overrides.set("/readme.html", html.replaceAll(`"${SOCKEYE_MODULE}"`, `"${CLIENT_MODULE}"`));
      },
      query: (server) => `?server=${encodeURIComponent(server.url)}`,
    },
    async ({ page }) => {
      await page.waitForFunction(() => document.body.dataset.result !== undefined, null, { timeout: TIMEOUT_MS });
      const result = await page.evaluate(() => document.body.dataset.result);
      assert.deepEqual(JSON.parse(result), ["hello", 42], "the ack's arguments");
      assert.equal(await page.textContent("#out"), "server answered: hello 42");
    },
  );
}
