// The guides' JavaScript, checked so it cannot rot: every ```js block, and every
// <script type="module"> of an ```html block, in README.md and docs/browser-client.md is
// compiled by the TypeScript compiler against the package's declarations
// (client-wasm/js/sockeye.d.ts), with its import of the package pointed at them. A name
// the package does not export, a method it does not have, or arguments of the wrong
// shape fail here. (The guides' Rust blocks are doc tests of tests/guides.)

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const HERE = dirname(fileURLToPath(import.meta.url));
const JS = join(HERE, "..");
const ROOT = join(JS, "..", "..");
const TSC = join(JS, "node_modules", "typescript", "bin", "tsc");
// As types.test.mjs, except that untyped parameters are allowed: the guides are JavaScript.
const FLAGS = ["--noEmit", "--strict", "--noImplicitAny", "false", "--target", "es2022", "--module", "esnext",
  "--moduleResolution", "bundler", "--lib", "es2022,dom"];
const GUIDES = ["README.md", "docs/browser-client.md"];
/** How the guides import the package (the built `pkg/` served at /pkg/, or by name). */
const PACKAGE = /(["'])(?:\/pkg\/sockeye\.js|\.\/pkg\/sockeye\.js|sockeye-client)\1/g;
/** The declarations, as seen from a file in this folder. */
const DECLARATIONS = '"../../../client-wasm/js/sockeye.js"';

/** The guide's JavaScript: [{ line, code }], one per ```js block or module script. */
export function scripts(markdown) {
  const out = [];
  const fence = /^```(\w*)[^\n]*\n([\s\S]*?)^```$/gm;
  for (const m of markdown.matchAll(fence)) {
    const [, lang, body] = m;
    const line = markdown.slice(0, m.index).split("\n").length;
    if (["js", "javascript", "mjs"].includes(lang)) out.push({ line, code: body });
    if (lang === "html") {
      for (const s of body.matchAll(/<script type="module">([\s\S]*?)<\/script>/g)) out.push({ line, code: s[1] });
    }
  }
  return out;
}

/** Compiles `files` ({ name, code }) in one run; returns the compiler's complaints. */
async function tsc(files) {
  const paths = files.map(({ name }) => join(HERE, name));
  await Promise.all(files.map(({ code }, i) => writeFile(paths[i], `${code.replace(PACKAGE, DECLARATIONS)}\nexport {};\n`)));
  try {
    await promisify(execFile)(process.execPath, [TSC, ...FLAGS, ...paths], { cwd: JS });
    return "";
  } catch (err) {
    return String(err.stdout || err.message);
  } finally {
    await Promise.all(paths.map((p) => rm(p, { force: true })));
  }
}

test("guides: their JavaScript compiles against the package's declarations", { timeout: 120_000 }, async () => {
  const files = [];
  for (const guide of GUIDES) {
    const found = scripts(await readFile(join(ROOT, guide), "utf8"));
    assert.ok(found.length > 0, `${guide} has no JavaScript block: the extraction is broken`);
    for (const { line, code } of found) {
      assert.match(code, PACKAGE, `${guide}:${line}: the block does not import the package`);
      PACKAGE.lastIndex = 0;
      files.push({ name: `guide-${guide.replace(/\W/g, "_")}-${line}.tmp.ts`, code });
    }
  }
  assert.equal(await tsc(files), "", "a guide's block (file names say guide and line) does not compile");
});

test("guides: a broken block is caught (a method the package does not have)", { timeout: 120_000 }, async () => {
  const [{ code }] = scripts(await readFile(join(ROOT, "docs/browser-client.md"), "utf8"));
  const broken = code.replace("emitWithAck", "emitWithAnAck");
  assert.notEqual(broken, code, "the block to break has an emitWithAck");
  assert.match(await tsc([{ name: "guide-broken.tmp.ts", code: broken }]), /emitWithAnAck/);
});
