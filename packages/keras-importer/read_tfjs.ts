/**
 * Reader for the TF.js layers format: `model.json` (`modelTopology` + `weightsManifest`) and
 * its binary weight shards. Quantised weights (uint8/uint16 affine, float16) are dequantised.
 *
 * @module
 */
import { isRecord, type WeightTensor } from "../engine/mod.ts";
import {
  asModelConfig,
  checkLayerClasses,
  extractPreprocessing,
  type LayerEntry,
  type LeafLayer,
  leafLayers,
  modelLayers,
} from "./config.ts";
import {
  CorruptFileError,
  FormatError,
  MissingWeightError,
  WeightMismatchError,
} from "./errors.ts";
import { layerWeightNames } from "./keras_layout.ts";
import { checkLimit, DEFAULT_IMPORT_LIMITS, type ImportLimits } from "./limits.ts";
import { parseJson, vocabularyFor } from "./read_keras.ts";
import type { ImportedModelSpec } from "./types.ts";

/** One entry of a `weightsManifest` group. */
export interface TfjsWeightEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: {
    dtype: "uint8" | "uint16" | "float16";
    scale?: number;
    min?: number;
    original_dtype?: string;
  };
}

/** One `weightsManifest` group: shard file names and the weights stored in them, in order. */
export interface TfjsManifestGroup {
  paths: string[];
  weights: TfjsWeightEntry[];
}

/** The parts of `model.json` this reader uses. */
export interface TfjsModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: unknown;
  weightsManifest?: TfjsManifestGroup[];
}

/**
 * Whether a manifest shard path is a plain relative file name (optionally in subfolders) that
 * cannot resolve outside the model's folder: no scheme, no absolute path, no `..` segment, no
 * backslash, NUL or percent-encoding (which URL resolution would decode).
 */
export function isSafeShardPath(path: unknown): path is string {
  return typeof path === "string" && path !== "" && !path.startsWith("/") &&
    !/[\\\0%?#]/.test(path) && !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(path) &&
    path.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}

/** Bytes one manifest entry occupies in its group's shards. */
export function entryBytes(entry: TfjsWeightEntry, source: string): number {
  return entry.shape.reduce((a, b) => a * b, 1) * bytesPerValue(entry, source);
}

/**
 * Checks a parsed `model.json` and returns its manifest groups: shard paths (count and form),
 * weight shapes (non-negative safe integers within `limits.maxTensorBytes`), dtypes and
 * quantization parameters are validated here, before any shard is read.
 */
export function tfjsManifest(
  json: unknown,
  source: string,
  limits: ImportLimits = DEFAULT_IMPORT_LIMITS,
): {
  json: TfjsModelJson;
  groups: TfjsManifestGroup[];
} {
  if (!isRecord(json) || !("modelTopology" in json)) {
    throw new FormatError(`JSON has no "modelTopology" (not a TF.js layers model.json)`, source);
  }
  if (json.format !== undefined && json.format !== "layers-model") {
    throw new FormatError(
      `TF.js format "${json.format}" is not supported (only "layers-model")`,
      source,
    );
  }
  const manifest = json.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw new FormatError(`"weightsManifest" is not a list`, source);
  let shards = 0;
  manifest.forEach((group, g) => {
    if (!isRecord(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new FormatError(`weightsManifest[${g}] needs "paths" and "weights" lists`, source);
    }
    shards += group.paths.length;
    checkLimit(limits, "maxShards", "number of shard files in weightsManifest", shards, source);
    group.paths.forEach((path: unknown, i: number) => {
      if (!isSafeShardPath(path)) {
        throw new FormatError(
          `weightsManifest[${g}].paths[${i}] ${
            JSON.stringify(path)?.slice(0, 120)
          } is not a relative file name inside the model's folder`,
          source,
        );
      }
    });
    group.weights.forEach((w: unknown, i: number) => {
      const where = `weightsManifest[${g}].weights[${i}]`;
      if (
        !isRecord(w) || typeof w.name !== "string" || !Array.isArray(w.shape) ||
        !w.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || typeof w.dtype !== "string"
      ) {
        throw new FormatError(
          `${where} is malformed (expected { name: string, shape: non-negative integers, ` +
            `dtype: string })`,
          source,
        );
      }
      const elements = (w.shape as number[]).reduce((a, b) => a * b, 1);
      checkLimit(limits, "maxTensorBytes", `${where} "${w.name}" as float32`, elements * 4, source);
      const q = w.quantization;
      if (q !== undefined) {
        if (!isRecord(q)) throw new FormatError(`${where}.quantization is not an object`, source);
        for (const key of ["scale", "min"]) {
          if (q[key] !== undefined && !(typeof q[key] === "number" && Number.isFinite(q[key]))) {
            throw new FormatError(
              `${where}.quantization.${key} must be a finite number, got ${
                JSON.stringify(q[key])?.slice(0, 40)
              }`,
              source,
            );
          }
        }
      }
      bytesPerValue(w as unknown as TfjsWeightEntry, source);
    });
  });
  return { json: json as unknown as TfjsModelJson, groups: manifest as TfjsManifestGroup[] };
}

/** IEEE 754 half → float. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function bytesPerValue(entry: TfjsWeightEntry, source: string): number {
  const q = entry.quantization;
  if (q) {
    if (q.dtype === "uint8") return 1;
    if (q.dtype === "uint16" || q.dtype === "float16") return 2;
    throw new FormatError(
      `weight "${entry.name}": unknown quantization dtype "${q.dtype}"`,
      source,
    );
  }
  if (entry.dtype === "float32" || entry.dtype === "int32") return 4;
  throw new FormatError(`weight "${entry.name}": unsupported dtype "${entry.dtype}"`, source);
}

/** Decodes the weights of one manifest group from its concatenated shard bytes. */
export function decodeTfjsGroup(
  group: TfjsManifestGroup,
  buffer: Uint8Array,
  source: string,
): WeightTensor[] {
  const expected = group.weights.reduce((n, entry) => n + entryBytes(entry, source), 0);
  if (buffer.length !== expected) {
    throw new CorruptFileError(
      `the shards [${group.paths}] hold ${buffer.length} bytes, the manifest's weights need ` +
        `${expected}`,
      source,
    );
  }
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let offset = 0;
  return group.weights.map((entry) => {
    const count = entry.shape.reduce((a, b) => a * b, 1);
    const size = bytesPerValue(entry, source);
    if (offset + count * size > buffer.length) {
      throw new CorruptFileError(
        `weight "${entry.name}" needs bytes ${offset}..${offset + count * size} but the shards ` +
          `of [${group.paths}] hold ${buffer.length}`,
        source,
      );
    }
    const data = new Float32Array(count);
    const q = entry.quantization;
    if (!q) {
      for (let i = 0; i < count; i++) {
        const at = offset + 4 * i;
        data[i] = entry.dtype === "int32" ? view.getInt32(at, true) : view.getFloat32(at, true);
      }
    } else if (q.dtype === "float16") {
      for (let i = 0; i < count; i++) data[i] = halfToFloat(view.getUint16(offset + 2 * i, true));
    } else {
      if (typeof q.scale !== "number" || typeof q.min !== "number") {
        throw new FormatError(`weight "${entry.name}": quantization lacks scale/min`, source);
      }
      for (let i = 0; i < count; i++) {
        const v = q.dtype === "uint8"
          ? view.getUint8(offset + i)
          : view.getUint16(offset + 2 * i, true);
        data[i] = v * q.scale + q.min;
      }
    }
    offset += count * size;
    return { name: entry.name, shape: [...entry.shape], data };
  });
}

/**
 * Assigns manifest weights to layers: a weight belongs to the first path segment naming a
 * layer. Layers of nested models are named by their own name in the manifest (TF.js and the
 * converter write `inner_dense/kernel`, not the model path) and keyed by path
 * (`"base/inner_dense"`); a name shared by two layers of different nested models is refused.
 * TF.js lists a model's trainable weights before its non-trainable ones; the order of one
 * layer's weights is kept.
 */
function assignToLayers(
  tensors: WeightTensor[],
  entries: readonly LayerEntry[],
  source: string,
): Record<string, WeightTensor[]> {
  const leaves = leafLayers(entries, source);
  const byName = new Map<string, LeafLayer[]>();
  for (const leaf of leaves) {
    const list = byName.get(leaf.entry.name) ?? [];
    list.push(leaf);
    byName.set(leaf.entry.name, list);
  }
  const weights: Record<string, WeightTensor[]> = {};
  for (const t of tensors) {
    const segments = t.name.replace(/:\d+$/, "").split("/");
    const at = segments.findIndex((s) => byName.has(s));
    if (at < 0) {
      throw new WeightMismatchError(
        segments[0],
        `manifest weight "${t.name}" names no layer of the model`,
        source,
      );
    }
    const owners = byName.get(segments[at])!;
    if (owners.length > 1) {
      throw new WeightMismatchError(
        segments[at],
        `manifest weight "${t.name}" is ambiguous: layers [${
          owners.map((o) => o.key)
        }] share the name "${segments[at]}"`,
        source,
      );
    }
    const key = owners[0].key;
    (weights[key] ??= []).push({ ...t, name: segments.slice(at + 1).join("/") || t.name });
  }
  for (const { key, entry } of leaves) {
    const expected = layerWeightNames(entry.className, entry.config);
    const got = weights[key]?.length ?? 0;
    if (expected.length > 0 && got < expected.length) {
      throw new MissingWeightError(
        key,
        `weightsManifest "${entry.name}/…"`,
        source,
        `expected ${expected.length} weights (${expected.join(", ")}), found ${got}`,
      );
    }
    if (expected.length > 0 && got > expected.length) {
      throw new WeightMismatchError(
        key,
        `expected ${expected.length} weights, found ${got}`,
        source,
      );
    }
  }
  return weights;
}

/** Builds a spec from a parsed `model.json` and one concatenated buffer per manifest group. */
export function readTfjs(
  json: unknown,
  groupBuffers: (group: TfjsManifestGroup, index: number) => Uint8Array,
  source: string,
  supported?: ReadonlySet<string>,
  limits: ImportLimits = DEFAULT_IMPORT_LIMITS,
): ImportedModelSpec {
  const { json: modelJson, groups } = tfjsManifest(json, source, limits);
  const topology = modelJson.modelTopology;
  const wrapped = isRecord(topology) && isRecord(topology.model_config);
  const model = asModelConfig(
    wrapped ? (topology as Record<string, unknown>).model_config : topology,
    source,
    wrapped ? "modelTopology.model_config" : "modelTopology",
  );
  const entries = modelLayers(model, source);
  checkLayerClasses(entries, source, supported);
  const tensors = groups.flatMap((group, g) =>
    decodeTfjsGroup(group, groupBuffers(group, g), source)
  );
  const weights = assignToLayers(tensors, entries, source);
  const { config, preprocessing } = extractPreprocessing(
    model,
    entries,
    (entry) => vocabularyFor(entry, source, undefined, `config.layers["${entry.name}"].vocabulary`),
    source,
  );
  const topo = isRecord(topology) ? topology : {};
  return {
    config,
    weights,
    preprocessing,
    meta: {
      format: "tfjs",
      kerasVersion: typeof topo.keras_version === "string" ? topo.keras_version : undefined,
      backend: typeof topo.backend === "string" ? topo.backend : undefined,
      sourceName: source,
    },
  };
}

/** Parses `model.json` bytes or text. */
export function parseModelJson(
  value: Uint8Array | string,
  source: string,
  limits: ImportLimits = DEFAULT_IMPORT_LIMITS,
): unknown {
  const text = typeof value === "string" ? value : new TextDecoder().decode(value);
  return parseJson(text, source, "model.json", limits);
}
