// Child processes of the JS suites: servers under test, reference servers, Redis.
//
// Each runs in a process group of its own, so a stop reaches the shell and everything
// under it. Start-up waits for a line of the child's output (for a server, the
// `listening on HOST:PORT` it prints after binding PORT=0: the port is reported, never
// guessed). The last lines of output are kept for error messages. A stop is SIGTERM to
// the group, then SIGKILL after a grace period. Whatever is still running when this
// process exits (or is interrupted) is SIGKILLed, so a crashed run leaves nothing behind.
//
// Environment: INTEROP_START_TIMEOUT_MS (default 60000), how long a start-up may take;
// TEST_VERBOSE=1 (or the older INTEROP_VERBOSE=1 / CLUSTER_DEBUG=1) copies every child's
// output, prefixed with its label, to stderr.

import { spawn } from "node:child_process";
import { TIMEOUT_MS, withTimeout } from "./wait.mjs";

/** How long a child may take to print the line that says it is ready. */
export const START_TIMEOUT_MS = Number(process.env.INTEROP_START_TIMEOUT_MS || 60_000);
const VERBOSE = ["TEST_VERBOSE", "INTEROP_VERBOSE", "CLUSTER_DEBUG"].some((v) => process.env[v] && process.env[v] !== "0");
const KEPT_LINES = 200;

/** `s` as one word for `sh -c`. */
export function shellQuote(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

// ---- leftovers -----------------------------------------------------------------------------

/** Process groups started here and not yet seen to exit. */
const liveGroups = new Set();

function killLeftovers() {
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  liveGroups.clear();
}
process.on("exit", killLeftovers);
// A signal ends this process without running "exit" handlers, unless someone handles it.
// When nobody else does (the supervisor does, and stops its fixture itself), kill the
// leftovers and die of the same signal.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  const onSignal = () => {
    if (process.listenerCount(signal) > 1) return;
    killLeftovers();
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  };
  process.on(signal, onSignal);
}

// ---- one child process -----------------------------------------------------------------------

/**
 * A child process in its own process group. Create it with `startProcess`.
 * - `child`: the ChildProcess (`child.pid` is also the group's id)
 * - `exited`: resolves with `{ code, signal }` once the child exited and its output closed
 * - `lines`: the last lines of its stdout and stderr; `output()` joins them
 */
export class Proc {
  constructor({ command, args = [], shell = false, env = {}, cwd, label }) {
    this.label = label ?? (shell ? command : [command, ...args].join(" "));
    this.lines = [];
    // detached: a process group of its own, so a stop reaches everything under a shell.
    const options = { cwd, env: { ...process.env, PORT: "0", ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true };
    this.child = shell ? spawn("sh", ["-c", command], options) : spawn(command, args, options);
    const { pid } = this.child;
    if (pid !== undefined) liveGroups.add(pid);
    this.exited = new Promise((resolve) => {
      this.child.once("close", (code, signal) => {
        liveGroups.delete(pid);
        resolve({ code, signal });
      });
      // A command that cannot be spawned at all (no such file) never closes.
      if (pid === undefined) this.child.once("error", (error) => resolve({ code: null, signal: null, error }));
    });
    this.lineListeners = new Set();
    for (const stream of ["stdout", "stderr"]) {
      let buf = "";
      this.child[stream].setEncoding("utf8");
      this.child[stream].on("data", (chunk) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i); // as printed: a test may check a line exactly
          buf = buf.slice(i + 1);
          this._line(line, stream);
        }
      });
    }
  }

  _line(line, stream) {
    this.lines.push(line);
    if (this.lines.length > KEPT_LINES) this.lines.shift();
    if (VERBOSE) process.stderr.write(`[${this.label}] ${line}\n`);
    for (const listener of [...this.lineListeners]) listener(line, stream);
  }

  /** The last lines of output, for an error message. */
  output() {
    return this.lines.join("\n");
  }

  /** True until the child has exited. */
  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Resolves with the first match of `ready` on a line of output (a RegExp, or a
   * function `(line, stream)` returning a truthy match); rejects when the child exits
   * first or after `ms`.
   */
  waitForLine(ready, what, ms = START_TIMEOUT_MS) {
    const test = typeof ready === "function" ? ready : (line) => ready.exec(line);
    let listener;
    const found = new Promise((resolve, reject) => {
      listener = (line, stream) => {
        const match = test(line, stream);
        if (match) resolve(match);
      };
      this.lineListeners.add(listener);
      this.child.once("error", reject);
      this.exited.then(({ code, signal }) =>
        reject(new Error(`${this.label} exited (code ${code}, signal ${signal}) before ${what}`)),
      );
    });
    return withTimeout(found, `${what} from ${this.label}`, ms).finally(() => this.lineListeners.delete(listener));
  }

  /** Sends `signal` to the whole process group. */
  signal(signal) {
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM (or `signal`) to the group; SIGKILL after `grace` ms; resolves once it is gone. */
  async stop({ signal = "SIGTERM", grace = TIMEOUT_MS } = {}) {
    if (this.child.pid === undefined) return this.exited;
    this.signal(signal);
    try {
      return await withTimeout(this.exited, `${this.label} to exit after ${signal}`, grace);
    } catch {
      this.signal("SIGKILL");
      return this.exited;
    }
  }
}

/**
 * Starts a child and waits until a line of its output matches `ready`. On failure the
 * child is killed and the error carries its last output lines. Resolves with the Proc,
 * whose `match` is the ready match.
 * `{ command, args, shell, env, cwd, label, ready, what, startTimeout }`: with `shell`,
 * `command` is a shell command for `sh -c`; otherwise an executable run with `args`
 * (no shell, so its own exit code is seen). PORT=0 is in its environment unless `env`
 * says otherwise.
 */
export async function startProcess({ ready, what = "the ready line", startTimeout = START_TIMEOUT_MS, ...spec }) {
  const proc = new Proc(spec);
  try {
    proc.match = await proc.waitForLine(ready, what, startTimeout);
  } catch (err) {
    proc.signal("SIGKILL");
    await proc.exited;
    err.message += `\n--- output of ${proc.label} ---\n${proc.output()}`;
    throw err;
  }
  return proc;
}

/** The line a server prints once it is bound: `listening on HOST:PORT`. */
export const LISTENING = /listening on (\S+):(\d+)/;

/**
 * Starts a server (given as for `startProcess`) with PORT=0 and waits for its
 * `listening on HOST:PORT` line. The Proc gets `host`, `port` and `url`.
 */
export async function startServer(spec) {
  const proc = await startProcess({ ready: LISTENING, what: `"listening on"`, ...spec });
  const [, host, port] = proc.match;
  proc.host = host;
  proc.port = Number(port);
  proc.url = `http://${host}:${port}`;
  return proc;
}
