/**
 * Test-file writers that reproduce the exact layouts Keras and TF.js write: legacy `.h5`
 * (Keras 2 and Keras 3 naming), weights-only `.h5` (Keras 2) and `.weights.h5` (Keras 3), and
 * TF.js `model.json` + `.bin` shards (optionally quantised). HDF5 is written with h5wasm.
 *
 * @module
 */
import {
  type KerasObject,
  layerVarGroups,
  layerWeightTrainable,
  type ModelSpec,
  type WeightTensor,
} from "@scratchnet/engine";
import { isModelClass, type LayerEntry, leafLayers, modelLayers } from "../config.ts";
import { ensureGroup, h5Group, type H5WriteGroup, putDataset, writeHdf5 } from "../hdf5_write.ts";
import { bidirectionalParts, layerWeightNames } from "../keras_layout.ts";
import type { TfjsManifestGroup, TfjsWeightEntry } from "../read_tfjs.ts";
import { buildKerasV3WeightsTree } from "../weights_v3.ts";

/** Legacy naming: Keras 2 (`dense/kernel:0`) or Keras 3 (`sequential/dense/kernel`). */
export type LegacyStyle = "keras2" | "keras3";

/** Layers that `model.layers` lists (Sequential drops its InputLayer) — the legacy file order. */
function legacyLayers(config: KerasObject): LayerEntry[] {
  const entries = modelLayers(config, "writer");
  return config.class_name === "Sequential"
    ? entries.filter((e) => e.className !== "InputLayer")
    : entries;
}

/** The cell object's name of a recurrent layer (`lstm_cell`), from its `.keras` layout. */
function cellName(object: { class_name: string; config: Record<string, unknown> }) {
  return layerVarGroups(object.class_name, object.config).find((g) => g.path === "cell/vars")
    ?.objectName;
}

/** Per-weight path of one layer in a legacy file (relative to the layer's group). */
export function legacyWeightPaths(
  entry: LayerEntry,
  modelName: string,
  style: LegacyStyle,
): string[] {
  const prefix = style === "keras3" ? `${modelName}/${entry.name}` : entry.name;
  const suffix = style === "keras2" ? ":0" : "";
  const names = layerWeightNames(entry.className, entry.config);
  const cell = cellName({ class_name: entry.className, config: entry.config });
  if (cell) return names.map((n) => `${prefix}/${cell}/${n}${suffix}`);
  if (entry.className === "Bidirectional") {
    const parts = bidirectionalParts(entry.config)!;
    const innerName = (inner: KerasObject, role: "forward" | "backward") => {
      const name = String(inner.config.name);
      return name.startsWith(`${role}_`) ? name : `${role}_${name}`;
    };
    return names.map((n) => {
      const [role, weight] = n.split("/") as ["forward" | "backward", string];
      const inner = role === "forward" ? parts.forward : parts.backward;
      return `${prefix}/${innerName(inner, role)}/${cellName(inner)}/${weight}${suffix}`;
    });
  }
  return names.map((n) => `${prefix}/${n}${suffix}`);
}

function weightsOf(spec: ModelSpec, entry: LayerEntry, key = entry.name): WeightTensor[] {
  const list = spec.weights[key] ?? [];
  const expected = layerWeightNames(entry.className, entry.config).length;
  if (list.length !== expected) {
    throw new Error(`writer: layer "${key}" has ${list.length} weights, ${expected} expected`);
  }
  return list;
}

/** Whether weight `index` is non-trainable (BatchNormalization's moving statistics), per the engine. */
function isNonTrainable(entry: LayerEntry, index: number): boolean {
  return layerWeightTrainable(entry.className, entry.config)[index] === false;
}

/** One weight of a model's layers with its path in a legacy file. */
interface PlacedWeight {
  path: string;
  tensor: WeightTensor;
}

/**
 * The weights of a list of layers (nested models expanded) in Keras's model order: every
 * trainable weight in layer order, then every non-trainable one (`model.trainable_weights +
 * model.non_trainable_weights`, what a nested model's legacy group and TF.js manifests hold).
 * Keras 3 paths are prefixed by the innermost model's name.
 */
export function modelOrderWeights(
  spec: ModelSpec,
  entries: readonly LayerEntry[],
  style: LegacyStyle,
  prefix = "",
): PlacedWeight[] {
  const trainable: PlacedWeight[] = [];
  const frozen: PlacedWeight[] = [];
  for (const leaf of leafLayers(entries, "writer", prefix)) {
    const parts = leaf.key.split("/");
    const owner = parts.length > 1 ? parts[parts.length - 2] : String(spec.config.config.name);
    const paths = legacyWeightPaths(leaf.entry, owner, style);
    weightsOf(spec, leaf.entry, leaf.key).forEach((tensor, i) => {
      const list = leaf.trainable && !isNonTrainable(leaf.entry, i) ? trainable : frozen;
      list.push({ path: paths[i], tensor });
    });
  }
  return [...trainable, ...frozen];
}

/** Fills `group` with `layer_names` and one group per layer holding `weight_names` + datasets. */
function fillLegacyWeights(
  group: H5WriteGroup,
  spec: ModelSpec,
  style: LegacyStyle,
  version: string,
) {
  const modelName = String(spec.config.config.name ?? "sequential");
  const layers = legacyLayers(spec.config);
  group.attrs = {
    ...(group.attrs ?? {}),
    backend: "tensorflow",
    keras_version: version,
    layer_names: { strings: layers.map((l) => l.name) },
  };
  for (const entry of layers) {
    const layerGroup = ensureGroup(group, entry.name);
    if (isModelClass(entry.className)) {
      // A nested model: one group with all its layers' weights, in Keras model order.
      const placed = modelOrderWeights(spec, [entry], style);
      layerGroup.attrs = { weight_names: { strings: placed.map((w) => w.path) } };
      for (const w of placed) putDataset(layerGroup, w.path, w.tensor.shape, w.tensor.data);
      continue;
    }
    const paths = legacyWeightPaths(entry, modelName, style);
    layerGroup.attrs = { weight_names: { strings: paths } };
    const tensors = weightsOf(spec, entry);
    paths.forEach((p, i) => putDataset(layerGroup, p, tensors[i].shape, tensors[i].data));
  }
  if (style === "keras3") {
    ensureGroup(group, "top_level_model_weights").attrs = { weight_names: { strings: [] } };
  }
}

/** A full-model legacy `.h5` (`model.save("x.h5")`). */
export async function writeLegacyH5(
  spec: ModelSpec,
  style: LegacyStyle,
  kerasVersion = style === "keras2" ? "2.15.0" : "3.10.0",
): Promise<Uint8Array> {
  const root = h5Group({
    backend: "tensorflow",
    keras_version: kerasVersion,
    model_config: JSON.stringify(spec.config),
  });
  fillLegacyWeights(ensureGroup(root, "model_weights"), spec, style, kerasVersion);
  return await writeHdf5(root);
}

/** A Keras 2 weights-only `.h5` (`model.save_weights("x.h5")`): layer groups at the root. */
export async function writeKeras2WeightsH5(spec: ModelSpec): Promise<Uint8Array> {
  const root = h5Group();
  fillLegacyWeights(root, spec, "keras2", "2.15.0");
  return await writeHdf5(root);
}

/** A Keras 3 `.weights.h5` (`model.save_weights("x.weights.h5")`). */
export async function writeKeras3WeightsH5(spec: ModelSpec): Promise<Uint8Array> {
  const entries = modelLayers(spec.config, "writer");
  return await writeHdf5(buildKerasV3WeightsTree(spec.config, entries, spec.weights));
}

/** Quantisation applied to every weight of a TF.js export. */
export type TfjsQuantization = "none" | "uint8" | "uint16" | "float16";

/** float → IEEE 754 half bits, round to nearest even. */
export function floatToHalf(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++;
  e = half >>> 10;
  return sign | half;
}

function encodeWeight(
  t: WeightTensor,
  q: TfjsQuantization,
): { entry: Omit<TfjsWeightEntry, "name">; bytes: Uint8Array } {
  const n = t.data.length;
  if (q === "none") {
    return {
      entry: { shape: t.shape, dtype: "float32" },
      bytes: new Uint8Array(t.data.slice().buffer),
    };
  }
  if (q === "float16") {
    const out = new Uint16Array(n);
    for (let i = 0; i < n; i++) out[i] = floatToHalf(t.data[i]);
    return {
      entry: {
        shape: t.shape,
        dtype: "float32",
        quantization: { dtype: "float16", original_dtype: "float32" },
      },
      bytes: new Uint8Array(out.buffer),
    };
  }
  let min = Infinity, max = -Infinity;
  for (const v of t.data) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const levels = q === "uint8" ? 255 : 65535;
  const scale = max > min ? (max - min) / levels : 1;
  const out = q === "uint8" ? new Uint8Array(n) : new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round((t.data[i] - min) / scale);
  return {
    entry: {
      shape: t.shape,
      dtype: "float32",
      quantization: { dtype: q, scale, min, original_dtype: "float32" },
    },
    bytes: new Uint8Array(out.buffer),
  };
}

/** A TF.js layers export: `model.json` content and shard files. */
export interface TfjsExport {
  modelJson: Record<string, unknown>;
  /** Shard file name → bytes, in manifest order. */
  files: Map<string, Uint8Array>;
}

/**
 * Writes a TF.js layers-format export like `tensorflowjs_converter` does: weight names
 * `<layer>/<weight>` (recurrent: `<layer>/<cell>/<weight>`; Bidirectional:
 * `<layer>/forward_<inner>/<cell>/<weight>`; layers of nested models by their own name), in
 * TF.js's model order (trainable weights first), one manifest group split into shards of at
 * most `shardBytes`.
 */
export function writeTfjs(
  spec: ModelSpec,
  quantization: TfjsQuantization = "none",
  shardBytes = 4 * 1024 * 1024,
): TfjsExport {
  const weights: TfjsWeightEntry[] = [];
  const chunks: Uint8Array[] = [];
  for (const w of modelOrderWeights(spec, modelLayers(spec.config, "writer"), "keras2")) {
    const { entry: manifestEntry, bytes } = encodeWeight(w.tensor, quantization);
    weights.push({ name: w.path.replace(/:0$/, ""), ...manifestEntry });
    chunks.push(bytes);
  }
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const all = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.length;
  }
  const shardCount = Math.max(1, Math.ceil(total / shardBytes));
  const files = new Map<string, Uint8Array>();
  for (let i = 0; i < shardCount; i++) {
    files.set(
      `group1-shard${i + 1}of${shardCount}.bin`,
      all.slice(i * shardBytes, (i + 1) * shardBytes),
    );
  }
  const group: TfjsManifestGroup = { paths: [...files.keys()], weights };
  return {
    modelJson: {
      format: "layers-model",
      generatedBy: "keras v3.10.0",
      convertedBy: "TensorFlow.js Converter v4.22.0",
      modelTopology: {
        keras_version: "3.10.0",
        backend: "tensorflow",
        model_config: spec.config,
      },
      weightsManifest: [group],
    },
    files,
  };
}

/** Writes a TF.js export into `dir` (`model.json` + shards) and returns the model.json path. */
export async function writeTfjsFiles(exported: TfjsExport, dir: string): Promise<string> {
  const path = `${dir}/model.json`;
  await Deno.writeTextFile(path, JSON.stringify(exported.modelJson));
  for (const [name, bytes] of exported.files) await Deno.writeFile(`${dir}/${name}`, bytes);
  return path;
}
