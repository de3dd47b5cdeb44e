// Bounded waits. Every wait in the JS suites ends on an event or a promise, with a
// deadline whose error names what was awaited; nothing sleeps to synchronise.
//
// INTEROP_TIMEOUT_MS sets the default bound of one wait (10000); suites with slower
// steps pass their own.

/** How long one wait (an event, an ack, an HTTP answer) may take by default. */
export const TIMEOUT_MS = Number(process.env.INTEROP_TIMEOUT_MS || 10_000);

/** Resolves/rejects like `promise`, or rejects after `ms` with a message naming `what`. */
export function withTimeout(promise, what, ms = TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Waits for `event` on any emitter with on/off (Node EventEmitter, socket.io-client Socket
 * and Manager, engine.io-client Socket). Resolves with the array of the event's arguments.
 * `filter(...args)` may restrict which occurrence counts.
 */
export function waitForEvent(emitter, event, { what, filter, timeout = TIMEOUT_MS } = {}) {
  let listener;
  const p = new Promise((resolve) => {
    listener = (...args) => {
      if (filter && !filter(...args)) return;
      emitter.off(event, listener);
      resolve(args);
    };
    emitter.on(event, listener);
  });
  return withTimeout(p, what ?? `event "${event}"`, timeout).finally(() => emitter.off(event, listener));
}

/**
 * Calls `check` until it returns a truthy value (returned), every `every` ms, or rejects
 * once `ms` have passed. For state that no event announces (a count on the server).
 */
export async function until(check, what, ms = TIMEOUT_MS, every = 50) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`never happened within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
