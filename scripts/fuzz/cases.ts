/**
 * Turning a seed into a fuzz case: format-aware mutation strategies on top of the generic byte
 * and JSON mutators. A case is fully determined by the campaign seed and its index.
 *
 * @module
 */
import { gzipSync, strToU8, unzipSync, zipSync } from "fflate";
import {
  type Field,
  hostileTarName,
  mutateBytes,
  mutateJsonText,
  RawJson,
  toJsonText,
} from "./mutate.ts";
import { Rng } from "./rng.ts";
import { DEFAULT_ARCHIVE_LIMITS } from "../../packages/datasets/mod.ts";
import { DEFAULT_IMPORT_LIMITS } from "../../packages/keras-importer/mod.ts";
import {
  cnnModel,
  denseModel,
  rnnModel,
  type TestModel,
} from "../../packages/keras-importer/testing/model_specs.ts";
import {
  type AnyFormat,
  gzipFields,
  hdf5HotSpots,
  makeNpy,
  type Seed,
  zipFields,
} from "./seeds.ts";

/** One input for a target. */
export interface FuzzCase {
  index: number;
  format: AnyFormat;
  seedName: string;
  /** What was done to the seed, e.g. `"config.json: type swap \"units\"@5"`. */
  mutation: string;
  files: Record<string, Uint8Array>;
  /**
   * Reference size for the allocation budget: the input size, or the decompressed size the input
   * declares within the loaders' limits (see {@link declaredAllowance}), whichever is larger.
   */
  refBytes: number;
  /** Format-specific instructions for the target (IDX rank, TF.js load mode, predict input). */
  meta: Record<string, unknown>;
}

const decoder = new TextDecoder();

function totalSize(files: Record<string, Uint8Array>): number {
  return Object.values(files).reduce((n, b) => n + b.length, 0);
}

function rezip(files: Record<string, Uint8Array>, level: 0 | 6 = 0): Uint8Array {
  return zipSync(files, { level, mtime: new Date(Date.UTC(2025, 0, 1)) });
}

/** Same-length edits inside the first JSON text found in a binary file (HDF5 attributes). */
function mutateEmbeddedJson(bytes: Uint8Array, rng: Rng): { bytes: Uint8Array; label: string } {
  const text = decoder.decode(bytes.subarray(0, Math.min(bytes.length, 4 << 20)));
  const start = Math.max(text.indexOf('{"class_name"'), text.indexOf('{"module"'));
  if (start < 0) return mutateBytes(bytes, rng);
  // Character offsets equal byte offsets only before the first non-ASCII byte; stay in ASCII.
  let end = start;
  while (end < bytes.length && end - start < 65536 && bytes[end] >= 0x20 && bytes[end] < 0x7f) {
    end++;
  }
  const out = bytes.slice();
  const edits = rng.range(1, 3);
  const labels: string[] = [];
  for (let e = 0; e < edits; e++) {
    const at = start + rng.int(Math.max(1, end - start));
    const c = out[at];
    if (c >= 0x30 && c <= 0x39) {
      let j = at;
      const digit = rng.pick([0x30, 0x39]);
      while (j < end && out[j] >= 0x30 && out[j] <= 0x39) out[j++] = digit;
      labels.push(`digits@${at}`);
    } else if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) {
      out[at] = 0x61 + rng.int(26);
      labels.push(`letter@${at}`);
    } else {
      out[at] = rng.pick([0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x22, 0x20]);
      labels.push(`punct@${at}`);
    }
  }
  return { bytes: out, label: `model_config same-length edits ${labels.join(",")}` };
}

/** Sizes up to this are exempt from the loaders' compression-ratio checks. */
const RATIO_EXEMPT = 1 << 20;

/**
 * Decompressed bytes the files may legitimately declare: gzip trailer sizes and deflated zip
 * entry sizes that pass the loaders' default limits. Loaders allocate declared sizes after
 * checking them, so these count towards a case's allocation budget; a declared size over the
 * limits does not, and allocating it is a finding.
 */
export function declaredAllowance(files: Record<string, Uint8Array>): number {
  let total = 0;
  for (const bytes of Object.values(files)) {
    const n = bytes.length;
    if (n >= 18 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
      const size = new DataView(bytes.buffer, bytes.byteOffset + n - 4, 4).getUint32(0, true);
      const { maxUncompressedBytes, maxCompressionRatio } = DEFAULT_ARCHIVE_LIMITS;
      if (
        size <= maxUncompressedBytes && (size <= RATIO_EXEMPT || size / n <= maxCompressionRatio)
      ) {
        total += size;
      }
    } else if (n >= 22 && bytes[0] === 0x50 && bytes[1] === 0x4b) {
      const view = new DataView(bytes.buffer, bytes.byteOffset, n);
      let zipTotal = 0;
      for (const f of zipFields(bytes)) {
        if (f.label !== "zip cd originalSize" || f.offset + 4 > n) continue;
        const entry = f.offset - 24;
        if (view.getUint16(entry + 10, true) !== 8) continue;
        const stored = view.getUint32(entry + 20, true);
        const size = view.getUint32(entry + 24, true);
        const { maxUncompressedBytes, maxCompressionRatio } = DEFAULT_IMPORT_LIMITS;
        if (size <= RATIO_EXEMPT || size / Math.max(1, stored) <= maxCompressionRatio) {
          if (zipTotal + size <= maxUncompressedBytes) zipTotal += size;
        }
      }
      total += zipTotal;
    }
  }
  return total;
}

const bombCache = new Map<string, Uint8Array>();

/** A `.keras` whose config.json is padded with ~48 MB of spaces: a real high-ratio entry. */
function whitespaceBomb(seed: Seed): Uint8Array {
  const cached = bombCache.get(seed.name);
  if (cached) return cached;
  const files = unzipSync(seed.files["model.keras"]);
  const config = files["config.json"];
  const padded = new Uint8Array(config.length + (48 << 20)).fill(0x20);
  padded.set(config, 0);
  const bytes = zipSync({ ...files, "config.json": [padded, { level: 9 }] }, { level: 0 });
  bombCache.set(seed.name, bytes);
  return bytes;
}

function kerasCase(seed: Seed, rng: Rng): { files: Record<string, Uint8Array>; label: string } {
  const original = seed.files["model.keras"];
  const pick = rng.weighted([35, 25, 5, 20, 15]);
  if (pick === 0) {
    const m = mutateBytes(
      original,
      rng,
      seed.fields?.["model.keras"],
      seed.hotSpots?.["model.keras"],
    );
    return { files: { "model.keras": m.bytes }, label: `zip bytes: ${m.label}` };
  }
  const entries = unzipSync(original);
  if (pick === 1 || pick === 2) {
    const name = pick === 1 ? "config.json" : "metadata.json";
    const m = mutateJsonText(decoder.decode(entries[name] ?? new Uint8Array()), rng);
    entries[name] = strToU8(m.text);
    return { files: { "model.keras": rezip(entries) }, label: `${name}: ${m.label}` };
  }
  if (pick === 3) {
    const weights = entries["model.weights.h5"];
    const m = rng.chance(0.2)
      ? mutateEmbeddedJson(weights, rng)
      : mutateBytes(weights, rng, [], hdf5HotSpots(weights));
    entries["model.weights.h5"] = m.bytes;
    return { files: { "model.keras": rezip(entries) }, label: `model.weights.h5: ${m.label}` };
  }
  // Archive-level attacks.
  switch (rng.int(5)) {
    case 0: {
      const names = Object.keys(entries);
      const victim = rng.pick(names);
      const hostile = hostileTarName(rng, victim);
      const renamed: Record<string, Uint8Array> = {};
      for (const n of names) renamed[n === victim ? hostile : n] = entries[n];
      return { files: { "model.keras": rezip(renamed) }, label: `entry renamed to "${hostile}"` };
    }
    case 1: {
      entries[hostileTarName(rng, "evil.txt")] = strToU8("not for you");
      return { files: { "model.keras": rezip(entries) }, label: "extra escaping entry" };
    }
    case 2: {
      const deflated = rezip(entries, 6);
      const fields = zipFields(deflated).filter((f) => /Size/.test(f.label));
      const m = mutateBytes(deflated, rng, fields);
      return { files: { "model.keras": m.bytes }, label: `deflated zip: ${m.label}` };
    }
    case 3: {
      const deflated = rezip(entries, 6);
      const fields = zipFields(deflated).filter((f) => /originalSize/.test(f.label));
      const bytes = deflated.slice();
      const view = new DataView(bytes.buffer);
      const value = rng.pick([0x7fffffff, 0xffffffff, 1 << 30, 64 << 20]);
      for (const f of fields) view.setUint32(f.offset, value, true);
      return { files: { "model.keras": bytes }, label: `declared originalSize ${value}` };
    }
    default:
      return { files: { "model.keras": whitespaceBomb(seed) }, label: "48 MB whitespace bomb" };
  }
}

function h5Case(seed: Seed, rng: Rng, file: string) {
  const original = seed.files[file];
  const m = rng.chance(0.25)
    ? mutateEmbeddedJson(original, rng)
    : mutateBytes(original, rng, [], seed.hotSpots?.[file]);
  return { files: { ...seed.files, [file]: m.bytes }, label: `${file}: ${m.label}` };
}

function tfjsCase(seed: Seed, rng: Rng) {
  const files = { ...seed.files };
  const shards = Object.keys(files).filter((n) => n !== "model.json");
  const pick = rng.weighted([45, 25, 10, 20]);
  if (pick === 0) {
    const m = mutateJsonText(decoder.decode(files["model.json"]), rng);
    files["model.json"] = strToU8(m.text);
    return { files, label: `model.json: ${m.label}` };
  }
  if (pick === 1 && shards.length > 0) {
    const name = rng.pick(shards);
    const m = mutateBytes(files[name], rng);
    files[name] = m.bytes;
    return { files, label: `${name}: ${m.label}` };
  }
  if (pick === 2 && shards.length > 0) {
    const name = rng.pick(shards);
    if (rng.chance(0.5)) {
      delete files[name];
      return { files, label: `${name} removed` };
    }
    files[name] = new Uint8Array([...files[name], ...files[name]]);
    return { files, label: `${name} doubled` };
  }
  // Targeted manifest edits: paths, shapes, dtypes, quantization.
  const json = JSON.parse(decoder.decode(files["model.json"]));
  const group = json.weightsManifest?.[0];
  const weight = group?.weights?.[rng.int(group.weights.length)];
  let label: string;
  switch (rng.int(5)) {
    case 0:
      group.paths[rng.int(group.paths.length)] = hostileTarName(rng, "shard.bin");
      label = `manifest path "${group.paths.join(",")}"`;
      break;
    case 1: {
      const times = rng.pick([2, 100, 5000]);
      group.paths = Array.from({ length: times }, (_, i) => group.paths[i % group.paths.length]);
      label = `manifest lists ${times} shards`;
      break;
    }
    case 2:
      weight.shape = rng.pick([[2 ** 31], [65536, 65536], [1e9, 1e9], [-1, 4], [0.5], [2 ** 53]]);
      label = `weight shape [${weight.shape}]`;
      break;
    case 3:
      weight.dtype = rng.pick(["float64", "int64", "string", "bool", "complex64", "uint8"]);
      label = `weight dtype ${weight.dtype}`;
      break;
    default:
      weight.quantization = rng.pick([
        { dtype: "uint8", scale: new RawJson("1e999"), min: 0 },
        { dtype: "uint8" },
        { dtype: "int4", scale: 1, min: 0 },
        { dtype: "float16", scale: "x" },
        { dtype: "uint16", scale: 1, min: -1e308 },
      ]);
      label = "weight quantization";
  }
  files["model.json"] = strToU8(toJsonText(json));
  return { files, label };
}

const NPY_SHAPES = [
  "(2147483648, 2147483648)",
  "(-1,)",
  "(1e9,)",
  "(99999999999999999999999999999,)",
  "(3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33)",
  "(65536, 65536, 0)",
  "(0,)",
  "(4294967296,)",
  "(,)",
  "(3 4)",
];
const NPY_DESCRS = ["<f8", "|u1", "<i8", ">i8", "<U10", "|O", "<f2", "<c8", "|b1", "<i4", "<f4"];

function npyCase(seed: Seed, rng: Rng) {
  const original = seed.files["x.npy"];
  if (rng.chance(0.6)) {
    const m = mutateBytes(original, rng, seed.fields?.["x.npy"]);
    return { files: { "x.npy": m.bytes }, label: m.label };
  }
  const major = original[6];
  const prefix = major === 1 ? 10 : 12;
  const length = major === 1
    ? original[8] | (original[9] << 8)
    : new DataView(original.buffer, original.byteOffset).getUint32(8, true);
  let header = decoder.decode(original.subarray(prefix, prefix + length)).trim();
  const data = original.subarray(prefix + length);
  const kind = rng.int(4);
  if (kind === 0) header = header.replace(/\(.*\)/, rng.pick(NPY_SHAPES));
  else if (kind === 1) {
    header = header.replace(/'descr': '[^']*'/, `'descr': '${rng.pick(NPY_DESCRS)}'`);
  } else if (kind === 2) header = header.replace("False", rng.pick(["True", "1", "None"]));
  else {header = header.replace(
      /'shape'/,
      rng.pick(["'shape ", "'Shape'", "'shape': (1,), 'shape'"]),
    );}
  return {
    files: { "x.npy": makeNpy(header, data, major) },
    label: `header ${JSON.stringify(header)}`,
  };
}

function csvCase(seed: Seed, rng: Rng) {
  const original = seed.files["data.csv"];
  const text = decoder.decode(original);
  const lines = text.split("\n");
  let out: string;
  let label: string;
  switch (rng.int(7)) {
    case 0: {
      const at = rng.int(text.length + 1);
      out = text.slice(0, at) + '"' + text.slice(at);
      label = `quote inserted at ${at}`;
      break;
    }
    case 1: {
      const i = rng.range(1, Math.max(1, lines.length - 1));
      lines[i] = lines[i]?.replace(
        /(positive|negative|neutral)\s*$/,
        rng.pick(["", "Positive", "5", "neutral,extra", '"neg']),
      );
      out = lines.join("\n");
      label = `label edited on line ${i + 1}`;
      break;
    }
    case 2:
      lines[0] = rng.pick([
        "id,text",
        "text,label",
        "id,id,text,label",
        "",
        "\ufeffid,text,label",
        "id;text;label",
      ]);
      out = lines.join("\n");
      label = `header "${lines[0]}"`;
      break;
    case 3: {
      const line = lines[rng.range(1, Math.max(1, lines.length - 2))] ?? "";
      const times = rng.pick([10, 1000]);
      out = text + ("\n" + line).repeat(times);
      label = `line repeated x${times}`;
      break;
    }
    case 4: {
      const i = rng.range(1, Math.max(1, lines.length - 1));
      lines[i] = `${i},"${"x".repeat(rng.pick([1000, 200000]))}",positive`;
      out = lines.join("\n");
      label = "long field";
      break;
    }
    case 5:
      out = text.replaceAll("\n", rng.pick(["\r\n", "\r", "\n\n", "\u2028"]));
      label = "line endings";
      break;
    default: {
      const m = mutateBytes(original, rng);
      return { files: { "data.csv": m.bytes }, label: m.label };
    }
  }
  return { files: { "data.csv": strToU8(out) }, label };
}

function gzipInnerCase(
  seed: Seed,
  rng: Rng,
  file: string,
  innerFields: Field[],
): { files: Record<string, Uint8Array>; label: string } {
  const m = mutateBytes(seed.inner!, rng, innerFields);
  const bytes = gzipSync(m.bytes, { level: 1, mtime: 0 });
  return { files: { [file]: bytes }, label: `inner: ${m.label}` };
}

function tarFields(tar: Uint8Array): Field[] {
  // Octal text fields are edited as bytes; the size field's last bytes hit the length directly.
  const out: Field[] = [];
  for (let o = 0; o + 512 <= tar.length; o += 512) {
    if (tar[o + 257] !== 0x75) continue; // "ustar"
    out.push(
      { offset: o + 124 + 7, size: 4, littleEndian: false, label: "tar size (octal text)" },
      { offset: o + 148, size: 4, littleEndian: false, label: "tar checksum" },
      { offset: o + 156, size: 1, littleEndian: false, label: "tar typeflag" },
    );
  }
  return out;
}

function tarSizeEdit(seed: Seed, rng: Rng, file: string) {
  const tar = seed.inner!.slice();
  const headers: number[] = [];
  for (let o = 0; o + 512 <= tar.length; o += 512) if (tar[o + 257] === 0x75) headers.push(o);
  const o = rng.pick(headers);
  const size = rng.pick([0, 1, 3072, 6146, 0o77777777777, 2 ** 31, 99999999]);
  const text = size.toString(8).padStart(11, "0").slice(-11);
  for (let i = 0; i < 11; i++) tar[o + 124 + i] = text.charCodeAt(i);
  // Keep the header checksum valid so the size itself is what the reader sees.
  for (let i = 0; i < 8; i++) tar[o + 148 + i] = 0x20;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += tar[o + i];
  const sumText = sum.toString(8).padStart(6, "0") + "\0 ";
  for (let i = 0; i < 8; i++) tar[o + 148 + i] = sumText.charCodeAt(i);
  return {
    files: { [file]: gzipSync(tar, { level: 1, mtime: 0 }) },
    label: `tar entry @${o} size := ${size} (checksum fixed)`,
  };
}

function tokenizerCase(seed: Seed, rng: Rng) {
  const files = { ...seed.files };
  if (!files["vocabulary.txt"] || rng.chance(0.7)) {
    const m = mutateJsonText(decoder.decode(files["config.json"]), rng);
    files["config.json"] = strToU8(m.text);
    return { files, label: `config.json: ${m.label}` };
  }
  const lines = decoder.decode(files["vocabulary.txt"]).split("\n");
  let label: string;
  switch (rng.int(5)) {
    case 0:
      lines.splice(rng.int(lines.length), 0, lines[rng.int(lines.length)]);
      label = "repeated token";
      break;
    case 1:
      lines.splice(rng.range(1, Math.max(1, lines.length - 1)), 0, "");
      label = "empty token";
      break;
    case 2:
      lines.splice(0, rng.range(1, 2));
      label = "special tokens removed";
      break;
    case 3:
      lines.push(..."x".repeat(rng.pick([10, 5000])).split("").map((_, i) => `tok${i}`));
      label = "vocabulary grown";
      break;
    default: {
      const m = mutateBytes(files["vocabulary.txt"], rng);
      files["vocabulary.txt"] = m.bytes;
      return { files, label: `vocabulary.txt: ${m.label}` };
    }
  }
  files["vocabulary.txt"] = strToU8(lines.join("\n"));
  return { files, label: `vocabulary.txt: ${label}` };
}

/** The engine models whose `predict` the `predict` format fuzzes (built again in the runner). */
export const PREDICT_MODELS: Record<string, TestModel> = {
  dense: denseModel(),
  cnn: cnnModel(),
  rnn: rnnModel(),
};

function predictCase(seed: Seed, rng: Rng) {
  const model = seed.meta!.model as string;
  const { inputShape: shape, input } = PREDICT_MODELS[model];
  const int = input.kind === "int";
  const vocab = input.kind === "int" ? input.vocab : undefined;
  let batch = rng.range(0, 5);
  let dims = [...shape];
  let dtype: "float32" | "int32" = int ? "int32" : "float32";
  let special: string | null = null;
  let batchSize: unknown = rng.chance(0.8) ? undefined : rng.pick([0, -1, 1.5, NaN, 1e9, "8", 3]);
  switch (rng.int(9)) {
    case 0:
      dims = rng.chance(0.5) ? dims.slice(1) : [...dims, rng.range(1, 3)];
      break;
    case 1:
      dims[rng.int(dims.length)] += rng.pick([-1, 1, 5]);
      break;
    case 2:
      dtype = dtype === "int32" ? "float32" : "int32";
      break;
    case 3:
      special = rng.pick(["nan", "inf", "-inf"]);
      break;
    case 4:
      special = rng.pick(["id-negative", "id-vocab", "id-huge", "id-fraction"]);
      break;
    case 5:
      special = rng.pick(["not-tensor", "null", "array", "shape-mismatch", "negative-dim"]);
      break;
    case 6:
      batch = 0;
      break;
    case 7:
      batchSize = rng.pick([0, -1, 1.5, NaN, 1e9, "8", Infinity]);
      break;
    default:
      break;
  }
  const elements = Math.max(0, batch * dims.reduce((a, b) => a * Math.max(0, b), 1));
  return {
    files: {},
    label: `${model}: batch ${batch} dims [${dims}] ${dtype}${special ? ` ${special}` : ""}${
      batchSize !== undefined ? ` batchSize ${String(batchSize)}` : ""
    }`,
    meta: {
      model,
      batch,
      dims,
      dtype,
      special,
      batchSize: typeof batchSize === "number" && !Number.isFinite(batchSize)
        ? String(batchSize)
        : batchSize,
      vocab,
      valueSeed: rng.int(2 ** 31),
    },
    refBytes: elements * 4,
  };
}

const CLI_FLAGS = ["--model", "--input", "--output", "--batch-size", "--force", "--help"];
const CLI_VALUES = [
  "@model",
  "@model",
  "@input",
  "@input",
  "@output",
  "@output",
  "@ids",
  "@bad",
  "@dir",
  "@missing",
  "0",
  "1",
  "-3",
  "1.5",
  "1e3",
  "NaN",
  "99999999999999999999",
  "",
  "--",
  "-",
  "--model",
  "ünïcödé",
  "x".repeat(5000),
  "/dev/null",
];

function cliCase(rng: Rng) {
  const command = rng.chance(0.75) ? "predict" : "inspect";
  const args: string[] = [];
  if (rng.chance(0.6)) {
    // Start from a valid command line and damage it.
    args.push("--model", "@model");
    if (command === "predict") args.push("--input", "@input", "--output", "@output");
    if (rng.chance(0.3)) args.push("--batch-size", rng.pick(["1", "2", "32"]));
    if (rng.chance(0.3)) args.push("--force");
  }
  const edits = rng.range(0, 4);
  for (let e = 0; e < edits; e++) {
    const at = rng.int(args.length + 1);
    switch (rng.int(4)) {
      case 0:
        args.splice(at, 0, rng.pick(CLI_FLAGS));
        break;
      case 1:
        args.splice(at, 0, rng.pick(CLI_VALUES));
        break;
      case 2:
        if (args.length > 0) args.splice(rng.int(args.length), 1);
        break;
      default:
        args.splice(at, 0, `${rng.pick(CLI_FLAGS)}=${rng.pick(CLI_VALUES)}`);
    }
  }
  return {
    files: {},
    label: `${command} ${
      args.map((a) => (a.length > 20 ? `${a.slice(0, 8)}…(${a.length})` : a)).join(" ")
    }`,
    meta: { command, args },
  };
}

/**
 * Builds case `index` of a campaign: picks a seed of `format` (small seeds more often than the
 * megabyte-sized real samples) and mutates it.
 */
export function makeCase(
  seeds: readonly Seed[],
  format: AnyFormat,
  campaignSeed: number,
  index: number,
): FuzzCase {
  const rng = Rng.forCase(campaignSeed, index);
  const pool = seeds.filter((s) => s.format === format);
  if (pool.length === 0) throw new Error(`no seeds for format ${format}`);
  const weights = pool.map((s) => 1 / Math.sqrt(1024 + totalSize(s.files)));
  const seed = pool[rng.weighted(weights)];
  let made: {
    files: Record<string, Uint8Array>;
    label: string;
    meta?: Record<string, unknown>;
    refBytes?: number;
  };
  switch (format) {
    case "keras":
      made = kerasCase(seed, rng);
      break;
    case "h5":
      made = h5Case(seed, rng, "model.h5");
      break;
    case "weights-h5":
      if (rng.chance(0.4)) {
        const m = mutateJsonText(decoder.decode(seed.files["config.json"]), rng);
        made = {
          files: { ...seed.files, "config.json": strToU8(m.text) },
          label: `config: ${m.label}`,
        };
      } else made = h5Case(seed, rng, "model.weights.h5");
      break;
    case "tfjs":
      made = tfjsCase(seed, rng);
      made.meta = { shards: seed.meta?.shards, mode: rng.chance(0.5) ? "memory" : "disk" };
      break;
    case "npy":
      made = npyCase(seed, rng);
      break;
    case "csv":
      made = csvCase(seed, rng);
      made.meta = { mode: rng.chance(0.25) ? "disk" : "memory" };
      break;
    case "idx": {
      const file = Object.keys(seed.files)[0];
      if (seed.inner && rng.chance(0.5)) {
        const rank = seed.meta?.rank as number;
        const fields: Field[] = [
          { offset: 3, size: 1, littleEndian: false, label: "idx rank" },
          ...Array.from({ length: rank }, (_, i) => ({
            offset: 4 + 4 * i,
            size: 4 as const,
            littleEndian: false,
            label: `idx dim ${i}`,
          })),
        ];
        made = gzipInnerCase(seed, rng, file, fields);
      } else {
        const m = mutateBytes(seed.files[file], rng, seed.fields?.[file]);
        made = { files: { [file]: m.bytes }, label: m.label };
      }
      made.meta = { rank: rng.chance(0.8) ? seed.meta?.rank : undefined };
      break;
    }
    case "cifar": {
      const m = mutateBytes(seed.files["data_batch_1.bin"], rng, seed.fields?.["data_batch_1.bin"]);
      made = { files: { "data_batch_1.bin": m.bytes }, label: m.label };
      break;
    }
    case "cifar-tgz": {
      const file = "cifar-10-binary.tar.gz";
      const pick = rng.weighted([40, 45, 15]);
      if (pick === 0) {
        const m = mutateBytes(seed.files[file], rng, gzipFields(seed.files[file]));
        made = { files: { [file]: m.bytes }, label: m.label };
      } else if (pick === 1) made = gzipInnerCase(seed, rng, file, tarFields(seed.inner!));
      else made = tarSizeEdit(seed, rng, file);
      break;
    }
    case "tokenizer":
      made = tokenizerCase(seed, rng);
      break;
    case "predict":
      made = predictCase(seed, rng);
      break;
    case "cli": {
      const cli = cliCase(rng);
      made = { ...cli, files: seed.files };
      break;
    }
    default:
      made = { files: seed.files, label: "as is" };
  }
  const size = totalSize(made.files);
  return {
    index,
    format,
    seedName: seed.name,
    mutation: made.label,
    files: made.files,
    refBytes: Math.max(size, made.refBytes ?? 0, declaredAllowance(made.files)),
    meta: { ...seed.meta, ...made.meta },
  };
}
