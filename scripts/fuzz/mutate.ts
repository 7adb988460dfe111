/**
 * Mutations of valid files: bit flips, byte edits, truncation, chunk deletion/insertion,
 * length-field edits (generic or at known header fields), and structural JSON mutations (type
 * swaps, huge numbers, deep nesting, deleted keys, repeated list items, hostile strings).
 *
 * Every function is pure given its {@link Rng}, so a case can be regenerated from its seed.
 *
 * @module
 */
import type { Rng } from "./rng.ts";

/** A header field worth mutating: where it is and how it is encoded. */
export interface Field {
  offset: number;
  size: 1 | 2 | 4 | 8;
  littleEndian: boolean;
  /** What the field is, for the case description (e.g. `"zip cd originalSize"`). */
  label: string;
}

/** Integers that tend to break length and count checks. */
const INTERESTING = [
  0,
  1,
  2,
  3,
  7,
  8,
  0x7f,
  0x80,
  0xff,
  0x100,
  0x7fff,
  0x8000,
  0xffff,
  0x10000,
  0x7fffffff,
  0x80000000,
  0xfffffffe,
  0xffffffff,
  2 ** 32,
  2 ** 40,
  2 ** 53 - 1,
];

function maxFor(size: number): number {
  return size >= 8 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * size) - 1;
}

/** Reads an unsigned integer field (8-byte fields are read as a double-precision number). */
export function readField(bytes: Uint8Array, f: Field): number {
  let v = 0;
  for (let i = 0; i < f.size; i++) {
    const b = bytes[f.offset + (f.littleEndian ? i : f.size - 1 - i)] ?? 0;
    v += b * 2 ** (8 * i);
  }
  return v;
}

/** Writes an unsigned integer field in place (values are clamped to the field's range). */
export function writeField(bytes: Uint8Array, f: Field, value: number): void {
  let v = Math.max(0, Math.min(Math.floor(value), maxFor(f.size)));
  for (let i = 0; i < f.size; i++) {
    const at = f.offset + (f.littleEndian ? i : f.size - 1 - i);
    if (at < bytes.length) bytes[at] = v % 256;
    v = Math.floor(v / 256);
  }
}

/** A new value for a length/count field: an interesting constant, a small delta or a scale. */
export function fieldValue(rng: Rng, old: number, size: number): number {
  const max = maxFor(size);
  switch (rng.int(4)) {
    case 0:
      return Math.min(max, rng.pick(INTERESTING));
    case 1:
      return Math.max(0, Math.min(max, old + rng.range(-16, 16)));
    case 2:
      return Math.min(max, old * rng.pick([2, 4, 16, 256, 65536]));
    default:
      return Math.min(max, rng.int(2 ** Math.min(32, 8 * size)));
  }
}

/** Flips 1–8 random bits. */
export function bitFlips(bytes: Uint8Array, rng: Rng): Uint8Array {
  const out = bytes.slice();
  if (out.length === 0) return out;
  const n = rng.range(1, 8);
  for (let i = 0; i < n; i++) out[rng.int(out.length)] ^= 1 << rng.int(8);
  return out;
}

/** Sets 1–4 random bytes to boundary values. */
export function byteEdits(bytes: Uint8Array, rng: Rng): Uint8Array {
  const out = bytes.slice();
  if (out.length === 0) return out;
  const n = rng.range(1, 4);
  for (let i = 0; i < n; i++) out[rng.int(out.length)] = rng.pick([0, 1, 0x7f, 0x80, 0xfe, 0xff]);
  return out;
}

/** Cuts the file: anywhere, near the start, or near the end. */
export function truncate(bytes: Uint8Array, rng: Rng): Uint8Array {
  if (bytes.length === 0) return bytes.slice();
  const mode = rng.int(3);
  const at = mode === 0
    ? rng.int(bytes.length)
    : mode === 1
    ? rng.int(Math.min(bytes.length, 64))
    : Math.max(0, bytes.length - 1 - rng.int(Math.min(bytes.length, 64)));
  return bytes.slice(0, at);
}

/** Deletes, duplicates or inserts random bytes in a chunk. */
export function chunkEdit(bytes: Uint8Array, rng: Rng): Uint8Array {
  if (bytes.length < 2) return bytes.slice();
  const start = rng.int(bytes.length);
  const length = Math.min(bytes.length - start, rng.range(1, rng.chance(0.8) ? 16 : 4096));
  switch (rng.int(3)) {
    case 0: {
      const out = new Uint8Array(bytes.length - length);
      out.set(bytes.subarray(0, start));
      out.set(bytes.subarray(start + length), start);
      return out;
    }
    case 1: {
      const out = new Uint8Array(bytes.length + length);
      out.set(bytes.subarray(0, start + length));
      out.set(bytes.subarray(start, start + length), start + length);
      out.set(bytes.subarray(start + length), start + 2 * length);
      return out;
    }
    default: {
      const insert = new Uint8Array(length);
      for (let i = 0; i < length; i++) insert[i] = rng.int(256);
      const out = new Uint8Array(bytes.length + length);
      out.set(bytes.subarray(0, start));
      out.set(insert, start);
      out.set(bytes.subarray(start), start + length);
      return out;
    }
  }
}

/** Overwrites a 2-, 4- or 8-byte integer at a random (or hot-spot) offset. */
export function randomLengthField(
  bytes: Uint8Array,
  rng: Rng,
  hotSpots: readonly number[] = [],
): { bytes: Uint8Array; label: string } {
  const out = bytes.slice();
  const size = rng.pick([2, 4, 4, 8] as const);
  if (out.length < size) return { bytes: out, label: "field (too short)" };
  const base = hotSpots.length > 0 && rng.chance(0.7)
    ? rng.pick(hotSpots) + rng.int(64)
    : rng.int(out.length);
  const offset = Math.min(out.length - size, base) & ~(rng.chance(0.5) ? size - 1 : 0);
  const f: Field = { offset, size, littleEndian: rng.chance(0.75), label: "" };
  const value = fieldValue(rng, readField(out, f), size);
  writeField(out, f, value);
  return { bytes: out, label: `${size}-byte field @${offset} := ${value}` };
}

/** Edits one known header field (see {@link Field}). */
export function knownField(
  bytes: Uint8Array,
  rng: Rng,
  fields: readonly Field[],
): { bytes: Uint8Array; label: string } {
  const out = bytes.slice();
  const f = rng.pick(fields);
  const value = fieldValue(rng, readField(out, f), f.size);
  writeField(out, f, value);
  return { bytes: out, label: `${f.label} @${f.offset} := ${value}` };
}

/**
 * One generic byte-level mutation. `fields` are known header fields, `hotSpots` offsets near
 * structures (e.g. HDF5 object headers) where edits are more likely to reach parsing code.
 */
export function mutateBytes(
  bytes: Uint8Array,
  rng: Rng,
  fields: readonly Field[] = [],
  hotSpots: readonly number[] = [],
): { bytes: Uint8Array; label: string } {
  const kinds = ["bitflip", "bytes", "truncate", "chunk", "length", "field"] as const;
  const kind = kinds[rng.weighted([30, 10, 15, 10, 20, fields.length > 0 ? 25 : 0])];
  switch (kind) {
    case "bitflip":
      return { bytes: bitFlips(bytes, rng), label: "bit flips" };
    case "bytes":
      return { bytes: byteEdits(bytes, rng), label: "byte edits" };
    case "truncate": {
      const out = truncate(bytes, rng);
      return { bytes: out, label: `truncated to ${out.length}` };
    }
    case "chunk":
      return { bytes: chunkEdit(bytes, rng), label: "chunk edit" };
    case "length":
      return randomLengthField(bytes, rng, hotSpots);
    case "field":
      return knownField(bytes, rng, fields);
  }
}

/** Offsets of every occurrence of an ASCII signature (e.g. `"OHDR"`), at most `limit`. */
export function findSignatures(bytes: Uint8Array, signature: string, limit = 4096): number[] {
  const sig = [...signature].map((c) => c.charCodeAt(0));
  const out: number[] = [];
  outer: for (let i = 0; i + sig.length <= bytes.length && out.length < limit; i++) {
    for (let j = 0; j < sig.length; j++) if (bytes[i + j] !== sig[j]) continue outer;
    out.push(i);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSON

/** A JSON fragment written verbatim by {@link toJsonText} (e.g. `1e999`, deep nesting). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** JSON.stringify that also writes {@link RawJson} fragments and does not recurse natively. */
export function toJsonText(value: unknown): string {
  const parts: string[] = [];
  // An explicit stack: mutated values may be nested deeper than the native call stack allows.
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v instanceof RawJson) parts.push(v.text);
    else if (typeof v === "string" && v.startsWith("\u0000tok:")) parts.push(v.slice(5));
    else if (Array.isArray(v)) {
      const items: unknown[] = ["\u0000tok:["];
      v.forEach((x, i) => {
        if (i > 0) items.push("\u0000tok:,");
        items.push(x === undefined ? null : x);
      });
      items.push("\u0000tok:]");
      for (let i = items.length - 1; i >= 0; i--) stack.push(items[i]);
    } else if (v !== null && typeof v === "object") {
      const items: unknown[] = ["\u0000tok:{"];
      Object.entries(v).forEach(([k, x], i) => {
        if (x === undefined) return;
        items.push(`\u0000tok:${i > 0 ? "," : ""}${JSON.stringify(k)}:`);
        items.push(x);
      });
      items.push("\u0000tok:}");
      for (let i = items.length - 1; i >= 0; i--) stack.push(items[i]);
    } else parts.push(JSON.stringify(v) ?? "null");
  }
  return parts.join("");
}

interface Slot {
  parent: Record<string, unknown> | unknown[] | null;
  key: string | number;
  value: unknown;
  depth: number;
}

function slots(root: unknown, limit = 20000): Slot[] {
  const out: Slot[] = [{ parent: null, key: "", value: root, depth: 0 }];
  for (let i = 0; i < out.length && out.length < limit; i++) {
    const { value, depth } = out[i];
    if (Array.isArray(value)) {
      value.forEach((v, k) => out.push({ parent: value, key: k, value: v, depth: depth + 1 }));
    } else if (value !== null && typeof value === "object" && !(value instanceof RawJson)) {
      for (const [k, v] of Object.entries(value)) {
        out.push({ parent: value as Record<string, unknown>, key: k, value: v, depth: depth + 1 });
      }
    }
  }
  return out;
}

const HUGE_NUMBERS = [
  -1,
  0,
  0.5,
  -0.5,
  1e9,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  1e15,
  1e308,
  -1e308,
  Number.MIN_VALUE,
];
const RAW_NUMBERS = ["1e999", "-1e999", "1e-999", "123456789012345678901234567890"];
const HOSTILE_STRINGS = [
  "",
  "../../etc/passwd",
  "/etc/passwd",
  "C:\\Windows\\win.ini",
  "http://127.0.0.1:9/x",
  "%2e%2e/%2e%2e/x",
  "a\u0000b",
  "Lambda",
  "__proto__",
  "constructor",
  "\ud800",
  "float64",
  "int64",
  "string",
  "uint8",
  "keras.src.custom",
  "Custom>Thing",
];

function deepValue(rng: Rng): RawJson {
  const depth = rng.pick([50, 200, 1000, 10000, 100000]);
  if (rng.chance(0.5)) return new RawJson("[".repeat(depth) + "]".repeat(depth));
  return new RawJson('{"a":'.repeat(depth) + "1" + "}".repeat(depth));
}

function swapValue(rng: Rng, old: unknown): unknown {
  const choices: (() => unknown)[] = [
    () => null,
    () => true,
    () => false,
    () => rng.pick(HUGE_NUMBERS),
    () => new RawJson(rng.pick(RAW_NUMBERS)),
    () => rng.pick(HOSTILE_STRINGS),
    () => "x".repeat(rng.pick([1, 1000, 100000])),
    () => [],
    () => ({}),
    () => [old, old],
    () => ({ class_name: old, config: old }),
    () => (typeof old === "number" ? String(old) : Number(String(old).length)),
  ];
  return rng.pick(choices)();
}

/**
 * One structural mutation of a parsed JSON document, applied in place on a copy; returns the
 * new text and what was done.
 */
export function mutateJson(root: unknown, rng: Rng): { text: string; label: string } {
  const doc = structuredClone(root);
  const all = slots(doc);
  const slot = all[rng.int(all.length)];
  const set = (v: unknown) => {
    if (slot.parent === null) return v;
    (slot.parent as Record<string | number, unknown>)[slot.key] = v;
    return doc;
  };
  const where = slot.parent === null ? "<root>" : `${JSON.stringify(slot.key)}@${slot.depth}`;
  const v = slot.value;
  const kind = rng.int(9);
  let out: unknown = doc;
  let label: string;
  if (kind === 0) {
    out = set(swapValue(rng, v));
    label = `type swap ${where}`;
  } else if (kind === 1 && typeof v === "number") {
    out = set(rng.chance(0.3) ? new RawJson(rng.pick(RAW_NUMBERS)) : rng.pick(HUGE_NUMBERS));
    label = `number ${where}`;
  } else if (kind === 2) {
    out = set(deepValue(rng));
    label = `deep nesting ${where}`;
  } else if (kind === 3 && slot.parent !== null) {
    if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
    else delete (slot.parent as Record<string, unknown>)[slot.key as string];
    label = `delete ${where}`;
  } else if (kind === 4 && Array.isArray(v) && v.length > 0) {
    const times = rng.pick([2, 3, 10, 100]);
    const item = v[rng.int(v.length)];
    for (let i = 0; i < times; i++) v.splice(rng.int(v.length + 1), 0, structuredClone(item));
    label = `repeat item x${times} ${where}`;
  } else if (kind === 5 && Array.isArray(v) && v.every((x) => typeof x === "number")) {
    // Shapes: make a dimension huge, negative, zero or fractional.
    if (v.length > 0) {
      v[rng.int(v.length)] = rng.pick([0, -1, 1.5, 2 ** 31, 2 ** 53, 1e12, 65536]);
    } else v.push(2 ** 31);
    label = `shape dim ${where}`;
  } else if (kind === 6 && typeof v === "string") {
    out = set(rng.pick(HOSTILE_STRINGS));
    label = `string ${where}`;
  } else if (kind === 7 && slot.parent !== null && !Array.isArray(slot.parent)) {
    const parent = slot.parent as Record<string, unknown>;
    delete parent[slot.key as string];
    // An own property, as JSON.parse makes for a "__proto__" key (assignment would not).
    Object.defineProperty(
      parent,
      rng.pick(["__proto__", "constructor", `${slot.key}_`, "", "class_name"]),
      { value: v, enumerable: true, writable: true, configurable: true },
    );
    label = `rename key ${where}`;
  } else {
    out = set(swapValue(rng, v));
    label = `type swap ${where}`;
  }
  return { text: toJsonText(out), label };
}

/** Mutates JSON text: mostly structurally, sometimes as bytes (breaking the syntax). */
export function mutateJsonText(
  text: string,
  rng: Rng,
): { text: string; label: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || rng.chance(0.15)) {
    const bytes = new TextEncoder().encode(text);
    const m = mutateBytes(bytes, rng);
    return { text: new TextDecoder().decode(m.bytes), label: `json text ${m.label}` };
  }
  const first = mutateJson(parsed, rng);
  if (!rng.chance(0.25)) return first;
  // A second mutation on top of the first, when the first still parses.
  try {
    const second = mutateJson(JSON.parse(first.text), rng);
    return { text: second.text, label: `${first.label}; ${second.label}` };
  } catch {
    return first;
  }
}

/** An archive entry or shard path that tries to leave its directory. */
export function hostileTarName(rng: Rng, name: string): string {
  return rng.pick([
    `../${name}`,
    `/${name}`,
    `a/../../${name}`,
    `..\\${name}`,
    `C:\\${name}`,
    `./../${name}`,
    `%2e%2e/${name}`,
    `http://127.0.0.1:9/${name}`,
    `file:///etc/${name}`,
    `${name}\u0000.txt`,
  ]);
}
