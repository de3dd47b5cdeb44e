// A server under test that keeps one address across restarts.
//
// The server runs from a shell command (it gets PORT=0 and prints `listening on
// 127.0.0.1:<port>`, see ../interop/FIXTURE.md) behind a Relay (./relay.mjs) that holds
// the address the tests use. `stop()` and `start(port)` (or `restart()`) replace the
// process; the relay forwards to whichever one is running. No port is ever released and
// bound again.

import { Relay } from "./relay.mjs";
import { START_TIMEOUT_MS, startServer } from "./process.mjs";

export class ServerUnderTest {
  /** `cmd`: a shell command starting the server. */
  constructor(cmd) {
    if (!cmd) throw new Error("ServerUnderTest needs the command that starts the server");
    this.cmd = cmd;
    /** The running process (a Proc, see ./process.mjs), or null while stopped. */
    this.proc = null;
    this.relay = null;
    /** The address the tests use (the relay's): the same for every process. */
    this.port = 0;
    this.url = null;
  }

  /** The running ChildProcess (its pid is its process group's id), or null. */
  get child() {
    return this.proc?.child ?? null;
  }

  /** The last lines the current (or last) process printed. */
  get output() {
    return this.lastProc?.lines ?? [];
  }

  /**
   * Starts the server and waits for "listening on". `port` is 0 or this server's own
   * port (`start(server.port)` after a `stop()`, as `restart()` does): the address is
   * the same either way.
   */
  async start(port = 0) {
    if (this.proc) throw new Error("server already running");
    if (port !== 0 && port !== this.port) {
      throw new Error(`a server starts again only at its own address (${this.port}), not ${port}`);
    }
    if (!this.relay) {
      this.relay = await new Relay().listen();
      this.port = this.relay.port;
      this.url = `http://127.0.0.1:${this.port}`;
    }
    const proc = await startServer({ command: this.cmd, shell: true, label: this.cmd, startTimeout: START_TIMEOUT_MS });
    this.proc = this.lastProc = proc;
    this.relay.target = proc.port;
    // A server that dies by itself is gone for the relay too (its port is free for others).
    proc.exited.then(() => {
      if (this.relay?.target === proc.port && this.proc === proc) this.relay.target = null;
    });
    return this;
  }

  /**
   * SIGTERM to the server's process group (SIGKILL after a grace period); resolves once
   * every process holding its output is gone. The address stays reserved for a restart.
   */
  async stop() {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    this.relay.target = null;
    await proc.stop();
  }

  /** Stops the server and starts it again at the same address. */
  async restart() {
    await this.stop();
    await this.start(this.port);
  }

  /** Stops the server and gives up its address (the end of a test file). */
  async close() {
    await this.stop();
    await this.relay?.close();
    this.relay = null;
  }
}
