/**
 * Reader for legacy HDF5 models (`model.save("x.h5")` in Keras 2 and Keras 3) and for
 * weights-only `.h5` files combined with a separate config.
 *
 * Layout: root attributes `model_config`, `keras_version`, `backend`; group `model_weights`
 * with attribute `layer_names`, one group per layer with attribute `weight_names` giving the
 * order of its datasets (Keras 2 `dense/kernel:0`; Keras 3 `sequential/dense/kernel`).
 * Keras 2 weights-only files put `layer_names` and the layer groups at the root.
 *
 * A nested model is one entry of `layer_names`: its group lists the weights of all its layers
 * (at any depth) in Keras `trainable_weights + non_trainable_weights` order, named by the inner
 * layer (`inner_dense/kernel:0` in Keras 2, the variable path in Keras 3); they are split per
 * inner layer and keyed `"<model>/<inner layer>"` (keras/src/legacy/saving/legacy_h5_format.py
 * `save_weights_to_hdf5_group`, `_legacy_weights`).
 *
 * @module
 */
import { layerWeightTrainable, type WeightTensor } from "../engine/mod.ts";
import {
  asModelConfig,
  checkLayerClasses,
  extractPreprocessing,
  isModelClass,
  type LayerEntry,
  type LeafLayer,
  leafLayers,
  modelLayers,
} from "./config.ts";
import { convertCudnnConfig, convertCudnnWeights } from "./cudnn.ts";
import { FormatError, MissingWeightError, WeightMismatchError } from "./errors.ts";
import type { H5Group } from "./hdf5_read.ts";
import { type KerasObject, layerWeightNames } from "./keras_layout.ts";
import { DEFAULT_IMPORT_LIMITS, type ImportLimits } from "./limits.ts";
import { parseJson, specFromKerasV3, vocabularyFor } from "./read_keras.ts";
import type { ImportedModelSpec } from "./types.ts";

/** A string-list attribute; h5py splits long ones into `name0`, `name1`, … chunks. */
export function stringListAttr(group: H5Group, name: string, source: string): string[] | undefined {
  const collect = (value: unknown, attrName: string): string[] => {
    if (value === undefined || value === null) return [];
    const list = typeof value === "string" ? [value] : Array.from(value as ArrayLike<unknown>);
    if (!list.every((v) => typeof v === "string")) {
      throw new FormatError(
        `attribute "${attrName}" of "${group.path}" is not a string list`,
        source,
      );
    }
    return list as string[];
  };
  const names = group.attrNames();
  if (names.includes(name)) return collect(group.attr(name), name);
  if (!names.includes(`${name}0`)) return undefined;
  const out: string[] = [];
  for (let i = 0; names.includes(`${name}${i}`); i++) {
    out.push(...collect(group.attr(`${name}${i}`), `${name}${i}`));
  }
  return out;
}

function stringAttr(group: H5Group, name: string): string | undefined {
  const value = group.attr(name);
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === "string") return value[0];
  return undefined;
}

/** Drops the `:0` suffix and everything up to the owning layer's name. */
function shortWeightName(path: string, layerName: string): string {
  const parts = path.replace(/:\d+$/, "").split("/");
  const at = parts.indexOf(layerName);
  return (at >= 0 && at < parts.length - 1 ? parts.slice(at + 1) : parts.slice(-1)).join("/");
}

/** One layer group of a legacy file: its weights with their names as stored. */
interface FileLayer {
  name: string;
  tensors: { stored: string; shape: number[]; data: Float32Array }[];
}

/** How many weights a config layer (or nested model, all its layers) holds. */
function weightCount(entry: LayerEntry, source: string): number {
  if (!isModelClass(entry.className)) return layerWeightNames(entry.className, entry.config).length;
  return leafLayers([entry], source).reduce(
    (n, leaf) => n + layerWeightNames(leaf.entry.className, leaf.entry.config).length,
    0,
  );
}

/**
 * Splits the weights of a nested model's group among its inner layers: by the inner layer
 * named in each weight's path when every name resolves to exactly one inner layer with the
 * right count, else by position in Keras's order (all trainable weights of the inner layers in
 * layer order, then all non-trainable ones), which is how Keras itself loads the group.
 */
export function splitNestedWeights(
  model: LayerEntry,
  tensors: FileLayer["tensors"],
  source: string,
  prefix = "",
): Record<string, WeightTensor[]> {
  const leaves = leafLayers([model], source, prefix).filter((l) =>
    layerWeightNames(l.entry.className, l.entry.config).length > 0
  );
  const byName = new Map<string, LeafLayer | null>();
  for (const leaf of leaves) {
    byName.set(leaf.entry.name, byName.has(leaf.entry.name) ? null : leaf);
  }
  const out: Record<string, WeightTensor[]> = {};
  let resolved = true;
  for (const t of tensors) {
    const segments = t.stored.replace(/:\d+$/, "").split("/");
    const at = segments.findIndex((s) => byName.get(s));
    if (at < 0 || at === segments.length - 1) {
      resolved = false;
      break;
    }
    const leaf = byName.get(segments[at])!;
    (out[leaf.key] ??= []).push({
      name: segments.slice(at + 1).join("/"),
      shape: t.shape,
      data: t.data,
    });
  }
  if (
    resolved &&
    leaves.every((l) =>
      (out[l.key]?.length ?? 0) === layerWeightNames(l.entry.className, l.entry.config).length
    )
  ) {
    return out;
  }
  const slots: { leaf: LeafLayer; index: number; trainable: boolean }[] = [];
  for (const leaf of leaves) {
    // Keras keeps some weights out of `trainable_weights` even in a trainable layer
    // (BatchNormalization's moving statistics): the engine layer says which.
    const trains = layerWeightTrainable(leaf.entry.className, leaf.entry.config);
    layerWeightNames(leaf.entry.className, leaf.entry.config).forEach((_name, index) =>
      slots.push({ leaf, index, trainable: leaf.trainable && trains[index] !== false })
    );
  }
  const ordered = [...slots.filter((s) => s.trainable), ...slots.filter((s) => !s.trainable)];
  const modelKey = prefix + model.name;
  if (ordered.length !== tensors.length) {
    throw new WeightMismatchError(
      modelKey,
      `nested ${model.className} model: expected ${ordered.length} weights for its layers ` +
        `[${leaves.map((l) => l.key)}], found ${tensors.length}`,
      source,
    );
  }
  const placed: Record<string, WeightTensor[]> = {};
  ordered.forEach((slot, i) => {
    const t = tensors[i];
    (placed[slot.leaf.key] ??= [])[slot.index] = {
      name: shortWeightName(t.stored, slot.leaf.entry.name),
      shape: t.shape,
      data: t.data,
    };
  });
  return placed;
}

/**
 * Reads `layer_names` / `weight_names` groups into weights keyed by config layer name (layers
 * of nested models by path).
 */
function readLegacyWeights(
  weightsRoot: H5Group,
  entries: readonly LayerEntry[],
  source: string,
): Record<string, WeightTensor[]> {
  const layerNames = stringListAttr(weightsRoot, "layer_names", source);
  if (!layerNames) {
    throw new FormatError(`"${weightsRoot.path}" has no "layer_names" attribute`, source);
  }
  const fileLayers: FileLayer[] = [];
  for (const layerName of layerNames) {
    const group = weightsRoot.get(layerName);
    if (group === undefined || group.kind !== "group") {
      throw new MissingWeightError(layerName, `${weightsRoot.path}/${layerName}`, source);
    }
    const weightNames = stringListAttr(group, "weight_names", source) ?? [];
    const tensors = weightNames.map((weightName) => {
      const item = group.get(weightName);
      if (item === undefined || item.kind !== "dataset") {
        throw new MissingWeightError(layerName, `${group.path}/${weightName}`, source);
      }
      return { stored: weightName, shape: item.shape, data: item.readFloat32() };
    });
    fileLayers.push({ name: layerName, tensors });
  }
  const withWeights = fileLayers.filter((l) => l.tensors.length > 0);
  const byConfigName = new Map(entries.map((e) => [e.name, e]));
  const pairs: [LayerEntry, FileLayer][] = [];
  if (withWeights.every((l) => byConfigName.has(l.name))) {
    for (const l of withWeights) pairs.push([byConfigName.get(l.name)!, l]);
  } else {
    // Keras itself matches layers with weights by position when names differ (e.g. a config
    // regenerated with other auto-numbered names).
    const expecting = entries.filter((e) => weightCount(e, source) > 0);
    if (expecting.length !== withWeights.length) {
      throw new WeightMismatchError(
        expecting.map((e) => e.name).join(","),
        `file layers [${withWeights.map((l) => l.name)}] do not match the config's ` +
          `layers with weights [${expecting.map((e) => e.name)}]`,
        source,
      );
    }
    expecting.forEach((entry, i) => pairs.push([entry, withWeights[i]]));
  }
  const weights: Record<string, WeightTensor[]> = {};
  for (const [entry, file] of pairs) {
    if (isModelClass(entry.className)) {
      Object.assign(weights, splitNestedWeights(entry, file.tensors, source));
    } else {
      weights[entry.name] = file.tensors.map((t) => ({
        name: shortWeightName(t.stored, file.name),
        shape: t.shape,
        data: t.data,
      }));
    }
  }
  for (const leaf of leafLayers(entries, source)) {
    const entry = leaf.entry;
    const expected = layerWeightNames(entry.className, entry.config);
    const got = weights[leaf.key]?.length ?? 0;
    if (expected.length > 0 && got !== expected.length) {
      const top = leaf.key.split("/")[0];
      if (got < expected.length) {
        throw new MissingWeightError(
          leaf.key,
          `${weightsRoot.path === "/" ? "" : weightsRoot.path}/${top}`,
          source,
          `expected ${expected.length} weights (${expected.join(", ")}), found ${got}`,
        );
      }
      throw new WeightMismatchError(
        leaf.key,
        `expected ${expected.length} weights, found ${got}`,
        source,
      );
    }
  }
  return weights;
}

function legacySpec(
  saved: KerasObject,
  weightsRoot: H5Group,
  source: string,
  supported?: ReadonlySet<string>,
): Omit<ImportedModelSpec, "meta"> {
  // Keras 2 CuDNNLSTM / CuDNNGRU load as LSTM / GRU with their weights converted (cudnn.ts).
  const { model, conversions } = convertCudnnConfig(saved, source);
  const entries = modelLayers(model, source);
  checkLayerClasses(entries, source, supported);
  const weights = readLegacyWeights(weightsRoot, entries, source);
  convertCudnnWeights(weights, conversions, source);
  const { config, preprocessing } = extractPreprocessing(
    model,
    entries,
    (entry) => vocabularyFor(entry, source, undefined, `config.layers["${entry.name}"].vocabulary`),
    source,
  );
  return { config, weights, preprocessing };
}

/** Reads a legacy full-model `.h5` (root attribute `model_config` + group `model_weights`). */
export function readLegacyH5(
  root: H5Group,
  source: string,
  supported?: ReadonlySet<string>,
  limits: ImportLimits = DEFAULT_IMPORT_LIMITS,
): ImportedModelSpec {
  const configText = stringAttr(root, "model_config");
  if (configText === undefined) {
    throw new FormatError(
      `HDF5 file has no "model_config" attribute; for weights-only files pass { config }`,
      source,
    );
  }
  const model = asModelConfig(
    parseJson(configText, source, "model_config", limits),
    source,
    "model_config",
  );
  const weightsRoot = root.get("model_weights");
  if (weightsRoot === undefined || weightsRoot.kind !== "group") {
    throw new FormatError(`HDF5 file has no "model_weights" group`, source);
  }
  const spec = legacySpec(model, weightsRoot, source, supported);
  return {
    ...spec,
    meta: {
      format: "h5",
      kerasVersion: stringAttr(root, "keras_version") ?? stringAttr(weightsRoot, "keras_version"),
      backend: stringAttr(root, "backend") ?? stringAttr(weightsRoot, "backend"),
      sourceName: source,
    },
  };
}

/**
 * Reads a weights-only HDF5 file with a separately supplied model config: either Keras 3
 * `.weights.h5` (`layers/…/vars` layout) or Keras 2 `save_weights("x.h5")` (root `layer_names`).
 */
export function readWeightsOnlyH5(
  root: H5Group,
  configValue: unknown,
  source: string,
  supported?: ReadonlySet<string>,
): ImportedModelSpec {
  const model = asModelConfig(configValue, source, "config");
  if (root.get("layers") !== undefined || root.get("vars") !== undefined) {
    const spec = specFromKerasV3(model, root, source, () => undefined, supported);
    return { ...spec, meta: { format: "weights-h5", sourceName: source } };
  }
  const weightsRoot = root.attrNames().includes("layer_names") ||
      root.attrNames().includes("layer_names0")
    ? root
    : root.get("model_weights");
  if (weightsRoot === undefined || weightsRoot.kind !== "group") {
    throw new FormatError(
      `HDF5 file is neither a Keras 3 weights file ("layers" group) nor a Keras 2 one ` +
        `("layer_names" attribute)`,
      source,
    );
  }
  const spec = legacySpec(model, weightsRoot, source, supported);
  return {
    ...spec,
    meta: {
      format: "weights-h5",
      kerasVersion: stringAttr(weightsRoot, "keras_version"),
      backend: stringAttr(weightsRoot, "backend"),
      sourceName: source,
    },
  };
}
