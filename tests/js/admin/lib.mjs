// What both admin suites share: the `sockeye` binary with `--admin-ui`, its CORS
// allow-list naming the origin the admin UI is served from, and a chat client in a room.

import { join } from "node:path";
import { io } from "socket.io-client";
import { ROOT, sockeyeBinary } from "../lib/bins.mjs";
import { startServer } from "../lib/process.mjs";
import { waitForEvent, withTimeout } from "../lib/wait.mjs";

export const USER = "admin";
export const PASSWORD = "s3cret-pw";

/** `sockeye --admin-ui admin:s3cret-pw`, allowing the browser origin `uiOrigin`. */
export async function startAdminServer(uiOrigin) {
  return startServer({
    command: sockeyeBinary("sockeye"),
    args: [
      "--port", "0",
      "--static-dir", join(ROOT, "www"),
      "--log-level", "warn",
      "--admin-ui", `${USER}:${PASSWORD}`,
      // The UI is a page of another origin and connects withCredentials: the server
      // must name that origin (a named origin gets Allow-Credentials).
      "--cors-origins", uiOrigin,
    ],
    label: "sockeye --admin-ui",
  });
}

/** A /chat client named `name` that joined `room`; resolves once it is in it. */
export async function chatClient(url, name, room) {
  const socket = io(`${url}/chat`, { auth: { name }, forceNew: true, reconnection: false });
  await waitForEvent(socket, "connect", { what: `${name} connected to /chat` });
  const rooms = await withTimeout(socket.emitWithAck("join", room), `${name} joining ${room}`);
  if (!rooms.includes(room)) throw new Error(`${name} is not in ${room}: ${JSON.stringify(rooms)}`);
  return socket;
}

/** An admin socket (official client) with these credentials, not yet connected. */
export function adminSocket(url, auth) {
  return io(`${url}/admin`, { auth, forceNew: true, reconnection: false, withCredentials: true });
}
