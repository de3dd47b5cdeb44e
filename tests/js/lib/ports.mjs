// A TCP port on 127.0.0.1 that refuses connections, for "unreachable server" tests.
//
// Binding a port and releasing it gives a port that any other process may bind in the
// meantime. This port is instead the local end of a connection this process keeps open
// (to a listener of its own): nothing listens there, so a connection to it is refused,
// and no other socket can bind it while the connection lives, which is until this
// process exits. Neither end keeps the process alive.

import net from "node:net";

let anchor = null;

async function anchorPort() {
  if (!anchor) {
    anchor = new Promise((resolve, reject) => {
      const server = net.createServer((socket) => {
        socket.on("error", () => {});
        socket.unref();
      });
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.unref();
        resolve(server.address().port);
      });
    });
  }
  return anchor;
}

/** A port on 127.0.0.1 where a connection is refused, held until this process exits. */
export async function refusedPort() {
  const port = await anchorPort();
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.unref();
      resolve(socket.localPort);
    });
    socket.once("error", reject);
  });
}
