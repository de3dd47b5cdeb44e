// The package's TypeScript declarations (client-wasm/js/sockeye.d.ts), checked by the
// TypeScript compiler against browser/types-usage.ts: the socket.io-client API as a
// TypeScript user writes it. Its @ts-expect-error lines make misuse a compile error,
// so declarations that were too loose (any) fail here too.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const HERE = dirname(fileURLToPath(import.meta.url));
const JS = join(HERE, "..");
const TSC = join(JS, "node_modules", "typescript", "bin", "tsc");
const FLAGS = ["--noEmit", "--strict", "--target", "es2022", "--module", "esnext",
  "--moduleResolution", "bundler", "--lib", "es2022,dom"];

async function tsc(file) {
  try {
    await promisify(execFile)(process.execPath, [TSC, ...FLAGS, file], { cwd: JS });
    return "";
  } catch (err) {
    return String(err.stdout || err.message);
  }
}

test("package: sockeye.d.ts types socket.io-client's API as TypeScript users write it", { timeout: 120_000 }, async () => {
  assert.equal(await tsc(join("browser", "types-usage.ts")), "");
});

test("package: sockeye.d.ts rejects a wrongly typed listener", { timeout: 120_000 }, async () => {
  // Without @ts-expect-error, the same misuse must be reported.
  const { writeFile, rm } = await import("node:fs/promises");
  const file = join(HERE, "misuse.tmp.ts");
  await writeFile(
    file,
    'import { io } from "../../../client-wasm/js/sockeye.js";\n' +
      'io("http://x").io.on("reconnect_attempt", (n: string) => n);\n',
  );
  try {
    assert.match(await tsc(file), /TS2345|TS2769/);
  } finally {
    await rm(file, { force: true });
  }
});
