// The forms of io() socket.io-client accepts, with the URL resolved against the page's
// location as socket.io-client's url() does: io(options), io(), io(url) (protocol-relative
// "//host:port/nsp", and "host:port" without a protocol), io(url, options), and a
// relative URL ("/custom"). The page is /page.html (not "/"), and the static server
// forwards /socket.io/ to the server under test (harness.mjs), so a form without a host
// reaches that server from the page's own origin; `env.web.forwarded` lists what went
// through. Functions passed to page.evaluate run IN THE PAGE.

import assert from "node:assert/strict";
import { browserTest, env } from "./harness.mjs";

/** The request URLs forwarded to the server while `fn` ran. */
async function forwardedDuring(fn) {
  const start = env.web.forwarded.length;
  const result = await fn();
  return { result, forwarded: env.web.forwarded.slice(start) };
}

export function urlScenarios({ server: serverInfo }) {
  const title = (name) => `browser [${serverInfo.name}, url forms] ${name}`;

  browserTest(title('io(options): { transports: ["websocket"] } and no URL connects to the page\'s host, namespace "/"'), async ({ page }) => {
    const { result: r, forwarded } = await forwardedDuring(() =>
      page.evaluate(async () => {
        const s = await T.connect({ transports: ["websocket"], auth: { form: "options" } });
        return { id: s.id, welcome: s.welcome, transport: s.io.engine.transport.name };
      }),
    );
    assert.deepEqual(r.welcome, { id: r.id, auth: { form: "options" }, namespace: "/" });
    assert.equal(r.transport, "websocket");
    assert.ok(
      forwarded.some((u) => u.includes("transport=websocket")),
      `the WebSocket went to the page's origin (forwarded: ${JSON.stringify(forwarded)})`,
    );
  });

  browserTest(title('io(): the page\'s host, namespace "/", polling then the upgrade'), async ({ page }) => {
    const { result: r, forwarded } = await forwardedDuring(() =>
      page.evaluate(async () => {
        const s = await T.connect();
        const transport = await T.transport(s, true);
        return { id: s.id, welcome: s.welcome, transport, ack: await T.ack(s, "echo-ack", "root") };
      }),
    );
    assert.deepEqual(r.welcome, { id: r.id, auth: {}, namespace: "/" });
    assert.equal(r.transport, "websocket");
    assert.deepEqual(r.ack, ["root"]);
    assert.ok(forwarded.some((u) => u.includes("transport=polling")), `polling at the page's origin: ${JSON.stringify(forwarded)}`);
    assert.ok(forwarded.some((u) => u.includes("transport=websocket")), `upgrade at the page's origin: ${JSON.stringify(forwarded)}`);
  });

  browserTest(title('relative URL: io("/custom") is the page\'s host, namespace "/custom"; io("/") shares its Manager'), async ({ page }) => {
    const { result: r, forwarded } = await forwardedDuring(() =>
      page.evaluate(async () => {
        const custom = await T.connect("/custom?form=relative");
        const root = await T.connect("/");
        return {
          ids: [custom.id, root.id],
          welcomes: [custom.welcome, root.welcome],
          shared: custom.io === root.io,
          acks: [await T.ack(custom, "echo-ack", "c"), await T.ack(root, "echo-ack", "r")],
        };
      }),
    );
    assert.deepEqual(r.welcomes, [
      { id: r.ids[0], auth: {}, namespace: "/custom" },
      { id: r.ids[1], auth: {}, namespace: "/" },
    ]);
    assert.equal(r.shared, true, 'io("/custom") and io("/") share one Manager');
    assert.deepEqual(r.acks, [["custom", "c"], ["r"]]);
    assert.ok(
      forwarded.some((u) => /[?&]form=relative(&|$)/.test(u)),
      `the URL's query string reached the server: ${JSON.stringify(forwarded)}`,
    );
  });

  browserTest(title('io(url): "//host:port/custom" takes the page\'s protocol; "host:port" gets it too'), async ({ page, server }) => {
    const r = await page.evaluate(
      async ({ url }) => {
        const host = new URL(url).host;
        const custom = await T.connect(`//${host}/custom`);
        const root = await T.connect(host);
        return {
          ids: [custom.id, root.id],
          welcomes: [custom.welcome, root.welcome],
          shared: custom.io === root.io,
          acks: [await T.ack(custom, "echo-ack", "c"), await T.ack(root, "echo-ack", "r")],
        };
      },
      { url: server.url },
    );
    assert.deepEqual(r.welcomes, [
      { id: r.ids[0], auth: {}, namespace: "/custom" },
      { id: r.ids[1], auth: {}, namespace: "/" },
    ]);
    assert.equal(r.shared, true, "both forms name one server: one Manager");
    assert.deepEqual(r.acks, [["custom", "c"], ["r"]]);
  });

  browserTest(title("io(url, options): the page's host without a protocol; the URL's query string is the handshake's query"), async ({ page }) => {
    const { result: r, forwarded } = await forwardedDuring(() =>
      page.evaluate(async () => {
        const s = await T.connect(`${location.host}/custom?form=url-options`, {
          transports: ["websocket"],
          auth: { form: "url+options" },
          query: { other: "options" }, // socket.io-client: the URL's query string wins
        });
        return { id: s.id, welcome: s.welcome, transport: s.io.engine.transport.name, ack: await T.ack(s, "echo-ack", 1) };
      }),
    );
    assert.deepEqual(r.welcome, { id: r.id, auth: { form: "url+options" }, namespace: "/custom" });
    assert.equal(r.transport, "websocket");
    assert.deepEqual(r.ack, ["custom", 1]);
    const handshake = forwarded.filter((u) => u.includes("transport=websocket"));
    assert.ok(handshake.length > 0, `the WebSocket went to the page's origin: ${JSON.stringify(forwarded)}`);
    for (const u of handshake) {
      assert.match(u, /[?&]form=url-options(&|$)/, "the URL's query string is sent");
      assert.doesNotMatch(u, /[?&]other=/, "options.query gives way to the URL's query string");
    }
  });
}
