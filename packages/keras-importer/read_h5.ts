/**
 * Reader for legacy HDF5 models (`model.save("x.h5")` in Keras 2 and Keras 3) and for
 * weights-only `.h5` files combined with a separate config.
 *
 * Layout: root attributes `model_config`, `keras_version`, `backend`; group `model_weights`
 * with attribute `layer_names`, one group per layer with attribute `weight_names` giving the
 * order of its datasets (Keras 2 `dense/kernel:0`; Keras 3 `sequential/dense/kernel`).
 * Keras 2 weights-only files put `layer_names` and the layer groups at the root.
 *
 * @module
 */
import type { WeightTensor } from "../engine/mod.ts";
import {
  asModelConfig,
  checkLayerClasses,
  extractPreprocessing,
  type LayerEntry,
  modelLayers,
} from "./config.ts";
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

/** Reads `layer_names` / `weight_names` groups into weights keyed by config layer name. */
function readLegacyWeights(
  weightsRoot: H5Group,
  entries: readonly LayerEntry[],
  source: string,
): Record<string, WeightTensor[]> {
  const layerNames = stringListAttr(weightsRoot, "layer_names", source);
  if (!layerNames) {
    throw new FormatError(`"${weightsRoot.path}" has no "layer_names" attribute`, source);
  }
  const fileLayers: { name: string; tensors: WeightTensor[] }[] = [];
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
      return {
        name: shortWeightName(weightName, layerName),
        shape: item.shape,
        data: item.readFloat32(),
      };
    });
    fileLayers.push({ name: layerName, tensors });
  }
  const withWeights = fileLayers.filter((l) => l.tensors.length > 0);
  const configNames = new Set(entries.map((e) => e.name));
  const weights: Record<string, WeightTensor[]> = {};
  if (withWeights.every((l) => configNames.has(l.name))) {
    for (const l of withWeights) weights[l.name] = l.tensors;
  } else {
    // Keras itself matches layers with weights by position when names differ (e.g. a config
    // regenerated with other auto-numbered names).
    const expecting = entries.filter((e) => layerWeightNames(e.className, e.config).length > 0);
    if (expecting.length !== withWeights.length) {
      throw new WeightMismatchError(
        expecting.map((e) => e.name).join(","),
        `file layers [${withWeights.map((l) => l.name)}] do not match the config's ` +
          `layers with weights [${expecting.map((e) => e.name)}]`,
        source,
      );
    }
    expecting.forEach((entry, i) => weights[entry.name] = withWeights[i].tensors);
  }
  for (const entry of entries) {
    const expected = layerWeightNames(entry.className, entry.config);
    const got = weights[entry.name]?.length ?? 0;
    if (expected.length > 0 && got !== expected.length) {
      if (got < expected.length) {
        throw new MissingWeightError(
          entry.name,
          `${weightsRoot.path === "/" ? "" : weightsRoot.path}/${entry.name}`,
          source,
          `expected ${expected.length} weights (${expected.join(", ")}), found ${got}`,
        );
      }
      throw new WeightMismatchError(
        entry.name,
        `expected ${expected.length} weights, found ${got}`,
        source,
      );
    }
  }
  return weights;
}

function legacySpec(
  model: KerasObject,
  weightsRoot: H5Group,
  source: string,
  supported?: ReadonlySet<string>,
): Omit<ImportedModelSpec, "meta"> {
  const entries = modelLayers(model, source);
  checkLayerClasses(entries, source, supported);
  const weights = readLegacyWeights(weightsRoot, entries, source);
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
