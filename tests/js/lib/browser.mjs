// Headless Chromium for the suites that drive pages: Debian's /usr/bin/chromium through
// playwright-core (no browser download), with the flags from /work/shared/SETUP.md.
//
// Environment: CHROMIUM_PATH, the browser executable (default /usr/bin/chromium).

import { existsSync } from "node:fs";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { START_TIMEOUT_MS } from "./process.mjs";

export const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  // Timers of a headless page must not be throttled (pingInterval is 300 ms).
  "--disable-background-timer-throttling",
  "--disable-renderer-backgrounding",
  "--disable-backgrounding-occluded-windows",
];

/** Launches one headless Chromium. */
export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
  assert.ok(existsSync(executablePath), `no browser at ${executablePath} (apt-get install chromium)`);
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: START_TIMEOUT_MS });
}
