// Event arguments to and from JSON text, binary parts included: socket.io-parser's
// placeholder rule. JSON is the browser's job (JSON.stringify and JSON.parse are native
// and fast); the wasm only frames and checks the text. No import of the wasm here, so
// Node can test this file on its own (tests/js/package/binary.test.mjs, against
// shared/tests/vectors/placeholders.json and the real socket.io-parser).
//
// On the wire a binary part of an argument, at any depth, is replaced by
// {"_placeholder":true,"num":n} and travels as attachment n (depth-first order).

/** The deepest nesting sent, the argument array itself being level 1 (the Rust side's MAX_DEPTH). */
export const MAX_DEPTH = 128;

const isView = ArrayBuffer.isView;
const hasOwn = Object.prototype.hasOwnProperty;
const Blob = globalThis.Blob;

function isBinary(value) {
  return value instanceof ArrayBuffer || isView(value);
}

/** Exactly the bytes of an ArrayBuffer or of a view (typed array, DataView, Buffer). */
function bytesOf(value) {
  return value instanceof ArrayBuffer
    ? new Uint8Array(value)
    : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * `args` (an array) as JSON text with binary parts replaced by placeholders, and those
 * parts as Uint8Arrays in placeholder order. Throws an Error when the arguments nest
 * deeper than MAX_DEPTH or hold a cycle, or hold a Blob (which cannot be read at once).
 */
export function encodeArgs(args) {
  if (!hasBinary(args, 1)) return { json: JSON.stringify(args), attachments: [] };
  const attachments = [];
  const json = JSON.stringify(args, function (key, value) {
    if (typeof value !== "object" || value === null) return value;
    // JSON.stringify has applied toJSON already: a Buffer is binary before its toJSON.
    let binary = isBinary(value) ? value : null;
    if (!binary) {
      const raw = this[key];
      if (raw !== value && typeof raw === "object" && raw !== null && isBinary(raw)) binary = raw;
    }
    if (!binary) {
      if (Blob && value instanceof Blob) throw blobError();
      return value;
    }
    attachments.push(bytesOf(binary));
    return { _placeholder: true, num: attachments.length - 1 };
  });
  return { json, attachments };
}

// Whether `value` (an object, at nesting level `depth`) holds binary anywhere, seen as
// JSON.stringify sees it (own enumerable keys, toJSON). Bounded by MAX_DEPTH, which
// also ends a cycle.
function hasBinary(value, depth) {
  if (depth > MAX_DEPTH) {
    throw new Error(`sockeye: the arguments nest deeper than ${MAX_DEPTH} levels (or hold a cycle)`);
  }
  if (isBinary(value)) return true;
  if (typeof value.toJSON === "function") {
    if (value instanceof Date) return false;
    value = value.toJSON();
    if (typeof value !== "object" || value === null) return false;
    if (isBinary(value)) return true;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item === "object" && item !== null && hasBinary(item, depth + 1)) return true;
    }
    return false;
  }
  if (Blob && value instanceof Blob) throw blobError();
  for (const key in value) {
    if (!hasOwn.call(value, key)) continue;
    const item = value[key];
    if (typeof item === "object" && item !== null && hasBinary(item, depth + 1)) return true;
  }
  return false;
}

function blobError() {
  return new Error("sockeye: a Blob or File cannot be sent as it is; send its bytes (await blob.arrayBuffer())");
}

/**
 * JSON array text back to an array, with each placeholder replaced by its attachment
 * (`attachments`: ArrayBuffers, or undefined when the packet had none). The text has
 * been checked already (syntax, and every placeholder names an attachment).
 */
export function decodeArgs(json, attachments) {
  const data = JSON.parse(json);
  return attachments && attachments.length > 0 ? reconstruct(data, attachments) : data;
}

// Replaces, in place, every object whose `_placeholder` is true and whose `num` is an
// attachment's index, as socket.io-parser's reconstructPacket does (top down: what
// sits beside a placeholder goes with it).
function reconstruct(value, attachments) {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item === "object" && item !== null) value[i] = reconstruct(item, attachments);
    }
    return value;
  }
  if (value._placeholder === true) {
    const num = value.num;
    if (Number.isInteger(num) && num >= 0 && num < attachments.length) return attachments[num];
  }
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (typeof item === "object" && item !== null) value[key] = reconstruct(item, attachments);
  }
  return value;
}
