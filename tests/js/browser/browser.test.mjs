// The browser suite: the socket.io-client JS API, driven in real headless Chromium,
// against the official Node socket.io reference server and (with SOCKEYE_SERVER_CMD)
// Sockeye's interop fixture. The client module is selected with CLIENT=sockeye|official.
// One browser for the whole run; a fresh browser context per test. See README.md.

import { after, before, describe } from "node:test";
import { apiScenarios } from "./api.scenarios.mjs";
import { coreScenarios } from "./core.scenarios.mjs";
import {
  CLIENT,
  MODES,
  SERVERS,
  START_TIMEOUT_MS,
  ServerUnderTest,
  assertClientPresent,
  env,
  launchBrowser,
  startStaticServer,
} from "./harness.mjs";
import { readmeScenario } from "./readme.scenarios.mjs";
import { recoveryScenarios } from "./recovery.scenarios.mjs";
import { urlScenarios } from "./url.scenarios.mjs";
import { RECOVERY_SERVERS } from "./harness.mjs";

before(async () => {
  assertClientPresent();
  env.web = await startStaticServer();
  env.browser = await launchBrowser();
}, { timeout: START_TIMEOUT_MS });

after(async () => {
  await env.browser?.close();
  await env.web?.close();
});

for (const server of SERVERS) {
  describe(`browser client=${CLIENT} server=${server.name}`, () => {
    before(async () => {
      env.server = await new ServerUnderTest(server.cmd).start(0);
    }, { timeout: START_TIMEOUT_MS + 10_000 });
    after(async () => {
      await env.server?.stop();
      env.server = null;
    });

    for (const mode of MODES) coreScenarios({ server, mode });
    apiScenarios({ server, mode: MODES.find((m) => m.name === "polling+upgrade") });
    readmeScenario({ server });
    urlScenarios({ server });
  });
}

// Connection state recovery needs servers with it turned on (it changes every event's
// arguments), so it has servers of its own.
for (const server of RECOVERY_SERVERS) {
  describe(`browser client=${CLIENT} server=${server.name}`, () => {
    before(async () => {
      env.server = await new ServerUnderTest(server.cmd).start(0);
    }, { timeout: START_TIMEOUT_MS + 10_000 });
    after(async () => {
      await env.server?.stop();
      env.server = null;
    });
    recoveryScenarios({ server });
  });
}
