// A TCP relay that holds one address for a server that is stopped and started again.
//
// Tests that restart a server need the clients' URL to stay valid. Asking the new server
// process to bind the port its predecessor released would let any other process take
// that port in between. Instead the relay binds 127.0.0.1:0 once and keeps it for the
// whole run; each server process binds a port of its own (PORT=0) and the relay
// forwards every new connection to the current one. While no server is running, a new
// connection is reset at once: the client sees the server gone, as it would without the
// relay. Closes travel both ways (a FIN as a FIN, a reset as a reset), and Nagle is off
// on both legs, so the relay adds no delay that a heartbeat test could notice.

import net from "node:net";

/**
 * Ends `socket` with a reset, as its peer's connection ended. A socket that already
 * began a graceful close (end()), or is still connecting, is destroyed instead: a reset
 * on top of a pending shutdown leaves libuv a handle that never closes, and the process
 * then spins forever at exit (seen with Node 20).
 */
function abort(socket) {
  if (socket.destroyed) return;
  if (socket.writableEnded || socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}

export class Relay {
  constructor() {
    /** The current server's port, or null while none runs. */
    this.target = null;
    this.port = 0;
    this.pairs = new Set();
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => this._accept(client));
  }

  /** Binds 127.0.0.1:0; resolves with the relay once it listens. */
  async listen() {
    await new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.port = this.server.address().port;
    // The relay alone must not keep a test file's process alive: a file that only stops
    // its server (and never closes the relay) still exits.
    this.server.unref();
    return this;
  }

  _accept(client) {
    if (this.target === null) {
      client.on("error", () => {});
      abort(client);
      return;
    }
    const upstream = net.connect({ port: this.target, host: "127.0.0.1", allowHalfOpen: true, noDelay: true });
    const pair = { client, upstream };
    this.pairs.add(pair);
    // A reset on one leg resets the other; a FIN is passed on by pipe() (end()).
    const onError = (other) => () => abort(other);
    client.on("error", onError(upstream));
    upstream.on("error", onError(client));
    let closed = 0;
    const onClose = () => {
      if (++closed === 2) this.pairs.delete(pair);
    };
    // Once one leg is fully closed (both directions), nothing more can cross: close the other.
    client.on("close", () => {
      if (!upstream.destroyed) upstream.destroy();
      onClose();
    });
    upstream.on("close", () => {
      if (!client.destroyed) client.destroy();
      onClose();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Stops listening and cuts every relayed connection. */
  async close() {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }
}
