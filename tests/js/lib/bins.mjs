// Where the suites find what they test: Sockeye's binaries in one directory, cargo's
// output folder, named by SOCKEYE_TARGET_DIR (default <repo>/target/debug). Each suite
// names the binaries it runs: `sockeye`, `interop_fixture` (a test fixture, tests/fixtures/),
// `examples/acks` (a feature example, server/examples/), ...
//
// Variables of the earlier scheme (one per binary) are retired. So that nothing set
// for them is silently ignored, a retired variable that is still set must name the file
// this scheme finds; anything else is an error that says what to set instead.

import { existsSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { shellQuote } from "./process.mjs";

/** tests/js */
export const JS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The repository's root. */
export const ROOT = resolve(JS_DIR, "..", "..");
/** Cargo's output folder holding `sockeye`, the fixtures and `examples/`. */
export const TARGET_DIR = resolve(process.env.SOCKEYE_TARGET_DIR || join(ROOT, "target", "debug"));
/** The feature examples' folder. */
export const EXAMPLES_DIR = join(TARGET_DIR, "examples");

/** Retired variable -> the binary it named under this scheme. */
const RETIRED = {
  SOCKEYE_BIN: "sockeye",
  CLUSTER_NODE_CMD: "cluster_node",
  SOCKEYE_SERVER_CMD: "interop_fixture",
  RECOVERY_SERVER_CMD: "examples/connection_state_recovery",
  EXAMPLES_DIR: "examples",
};

const same = (a, b) => {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return resolve(a) === resolve(b);
  }
};

for (const [name, relative] of Object.entries(RETIRED)) {
  const value = process.env[name];
  if (value && !same(value, join(TARGET_DIR, relative))) {
    throw new Error(
      `${name} is retired: the suites run Sockeye's binaries from SOCKEYE_TARGET_DIR ` +
        `(now ${TARGET_DIR}). ${name}=${value} is not ${join(TARGET_DIR, relative)}; ` +
        `set SOCKEYE_TARGET_DIR to the folder holding sockeye and examples/ instead.`,
    );
  }
}

/** Build commands, for the error when a binary is missing: the test fixtures (tests/fixtures/). */
const BUILD = {
  sockeye: "cargo build -p sockeye",
  conformance: "cargo build -p sockeye-fixtures --bin conformance",
  interop_fixture: "cargo build -p sockeye-fixtures --bin interop_fixture",
  cluster_node: "cargo build -p sockeye-fixtures --bin cluster_node",
};

/**
 * The path of Sockeye's binary `name` (`sockeye`, `cluster_node`, `examples/acks`, ...) in
 * TARGET_DIR. Throws, with the command that builds it, when it is not there.
 */
export function sockeyeBinary(name) {
  const path = join(TARGET_DIR, name);
  if (!existsSync(path)) {
    const build = BUILD[name] ?? `cargo build -p sockeye-server --example ${name.replace(/^examples\//, "")}`;
    throw new Error(`missing ${path}: build it (${build}) or point SOCKEYE_TARGET_DIR at the folder holding it`);
  }
  return path;
}

/**
 * A shell command running Sockeye's binary `name` with `args`. When the binary is
 * missing, the command fails at once and says how to build it (so a suite that may not
 * need this binary can still name it up front).
 */
export function sockeyeCommand(name, ...args) {
  try {
    return [sockeyeBinary(name), ...args].map(shellQuote).join(" ");
  } catch (err) {
    return `echo ${shellQuote(err.message)} >&2; exit 1`;
  }
}

/** A shell command running the Node script `path` (absolute, or relative to tests/js). */
export function nodeCommand(path, ...args) {
  return [process.execPath, resolve(JS_DIR, path), ...args].map(shellQuote).join(" ");
}
