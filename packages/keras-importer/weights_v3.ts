/**
 * Reading and writing weights in the Keras 3 variable layout (`model.weights.h5` inside
 * `.keras`, and `.weights.h5`): `layers/<key>/vars/<i>`, recurrent weights under
 * `layers/<key>/cell/vars`, Bidirectional under `layers/<key>/{forward,backward}_layer/cell/vars`.
 * A nested model is one tracked layer (key `functional`, `sequential`, … with the same `_N`
 * numbering) whose own layers live below it: `layers/<model key>/layers/<inner key>/vars`, at
 * any depth (keras/src/saving/saving_lib.py `_save_state` walks `Sequential`/`Functional.layers`
 * first, then `_save_container_state` names each by its snake_case class).
 *
 * @module
 */
import {
  type KerasObject,
  type KerasVarGroup,
  layerVarGroups,
  type WeightTensor,
} from "../engine/mod.ts";
import { isModelClass, type LayerEntry, nestedModelLayers } from "./config.ts";
import { FormatError, MissingWeightError, WeightMismatchError } from "./errors.ts";
import type { H5Dataset, H5Group } from "./hdf5_read.ts";
import { ensureGroup, h5Group, type H5WriteGroup, putDataset } from "./hdf5_write.ts";
import { kerasV3LayerKeys, layerWeightNames } from "./keras_layout.ts";

/**
 * The layers Keras walks when saving, in order: `Sequential.layers` leaves out its leading
 * InputLayer; `Functional.layers` keeps every layer, inputs included, but not the operation
 * nodes of tensor expressions (`module: "keras.src.ops.…"`: keras/src/models/functional.py
 * `layers` keeps only `Layer` instances of its operations), which own no variables and take no
 * `.keras` key.
 */
export function trackedLayers<T extends { className: string; raw?: Record<string, unknown> }>(
  modelClass: string,
  entries: readonly T[],
): T[] {
  const layers = entries.filter((e) =>
    !(typeof e.raw?.module === "string" && /^keras(\.src)?\.ops(\.|$)/.test(e.raw.module))
  );
  if (modelClass === "Sequential" && layers[0]?.className === "InputLayer") {
    return layers.slice(1);
  }
  return layers;
}

/**
 * The Python class Keras 3 instantiates for a config class (its snake_case name is the `.keras`
 * key): a `Model` config with inputs and outputs becomes a `Functional`.
 */
function savedClassName(className: string): string {
  return className === "Model" ? "Functional" : className;
}

/** Keras 3 `.keras` keys of tracked layers (see {@link kerasV3LayerKeys}). */
export function trackedLayerKeys(tracked: readonly { className: string }[]): string[] {
  return kerasV3LayerKeys(tracked.map((e) => savedClassName(e.className)));
}

/**
 * The groups holding a layer's variables, in `get_weights()` order, from the engine layer's
 * {@link KerasVarGroup}s (each class states its layout once, in its definition); all of `vars` for
 * classes without weights or unknown to the engine.
 */
function readGroups(className: string, config: Record<string, unknown>): KerasVarGroup[] {
  const groups = layerVarGroups(className, config);
  const holding = groups.filter((g) => g.count > 0);
  const read = holding.length > 0 ? holding : groups.filter((g) => g.path === "vars");
  return read.sort((x, y) => x.start - y.start);
}

/**
 * Where a layer's variables live, in `get_weights()` order of the groups; `base` is the
 * layer's group (`layers/<key>`, or `layers/<model key>/layers/<key>` inside a nested model).
 */
export function varGroupPaths(
  base: string,
  className: string,
  config: Record<string, unknown>,
): string[] {
  return readGroups(className, config).map((g) => `${base}/${g.path}`);
}

/**
 * {@link varGroupPaths} resolved against a file: each group's path, or the first of its
 * alternates (paths other Keras versions write) that the file holds.
 */
function presentGroupPaths(
  root: H5Group,
  base: string,
  className: string,
  config: Record<string, unknown>,
): string[] {
  return readGroups(className, config).map((g) => {
    const paths = [g.path, ...(g.alternatePaths ?? [])].map((p) => `${base}/${p}`);
    return paths.find((p) => root.get(p) !== undefined) ?? paths[0];
  });
}

function readVarGroup(root: H5Group, path: string, source: string): H5Dataset[] {
  const group = root.get(path);
  if (group === undefined) return [];
  if (group.kind !== "group") throw new FormatError(`"${path}" is a dataset, not a group`, source);
  const keys = group.keys();
  const indices = keys.map(Number);
  if (indices.some((i) => !Number.isInteger(i) || i < 0)) {
    throw new FormatError(`"${path}" holds non-numeric variable names [${keys}]`, source);
  }
  const sorted = [...indices].sort((a, b) => a - b);
  sorted.forEach((value, i) => {
    if (value !== i) throw new FormatError(`"${path}" variables are not 0..n-1: [${keys}]`, source);
  });
  return sorted.map((i) => {
    const item = group.get(String(i));
    if (item?.kind !== "dataset") {
      throw new FormatError(`"${path}/${i}" is not a dataset`, source);
    }
    return item;
  });
}

/**
 * Reads every layer's weights from a Keras 3 layout, keyed by layer config name (layers of
 * nested models by path, `"base/conv1"`).
 */
export function readKerasV3Weights(
  root: H5Group,
  model: KerasObject,
  entries: readonly LayerEntry[],
  source: string,
): Record<string, WeightTensor[]> {
  const layersGroup = root.get("layers");
  if (layersGroup === undefined || layersGroup.kind !== "group") {
    if (root.get("_layer_checkpoint_dependencies") !== undefined) {
      throw new FormatError(
        "weights use the Keras 2.13 `_layer_checkpoint_dependencies` layout, not supported",
        source,
      );
    }
    throw new FormatError(`weights file has no "layers" group (Keras 3 layout expected)`, source);
  }
  const weights: Record<string, WeightTensor[]> = {};
  readTracked(root, "layers", model.class_name, entries, "", weights, source);
  return weights;
}

function readTracked(
  root: H5Group,
  base: string,
  modelClass: string,
  entries: readonly LayerEntry[],
  prefix: string,
  weights: Record<string, WeightTensor[]>,
  source: string,
): void {
  const tracked = trackedLayers(modelClass, entries);
  const keys = trackedLayerKeys(tracked);
  tracked.forEach((entry, i) => {
    const group = `${base}/${keys[i]}`;
    const key = prefix + entry.name;
    if (isModelClass(entry.className)) {
      const inner = nestedModelLayers(entry, source, prefix);
      if (root.get(group) === undefined && inner.length > 0) {
        throw new MissingWeightError(
          key,
          group,
          source,
          `nested ${entry.className} model has no group in the weights file`,
        );
      }
      readTracked(root, `${group}/layers`, entry.className, inner, `${key}/`, weights, source);
      return;
    }
    const expected = layerWeightNames(entry.className, entry.config);
    const paths = presentGroupPaths(root, group, entry.className, entry.config);
    const datasets = paths.flatMap((p) => readVarGroup(root, p, source));
    if (datasets.length === 0 && expected.length === 0) return;
    if (datasets.length < expected.length) {
      throw new MissingWeightError(
        key,
        paths.join(" + "),
        source,
        `expected ${expected.length} variables (${expected.join(", ")}), found ${datasets.length}`,
      );
    }
    if (expected.length > 0 && datasets.length > expected.length) {
      throw new WeightMismatchError(
        key,
        `expected ${expected.length} variables at ${paths.join(" + ")}, found ${datasets.length}`,
        source,
      );
    }
    weights[key] = datasets.map((d, j) => ({
      name: expected[j] ?? d.path.replace(/^\//, ""),
      shape: d.shape,
      data: d.readFloat32(),
    }));
  });
}

/**
 * Builds the Keras 3 weights tree for a model: root `vars`, and for every tracked layer its
 * `vars` group (plus `cell` / `forward_layer` / `backward_layer` groups), each `vars` group
 * carrying the owning object's `name` attribute as Keras 3.10 writes it. A nested model gets
 * its own (empty) `vars` group and its layers below `layers/<model key>/layers/`.
 */
export function buildKerasV3WeightsTree(
  model: KerasObject,
  entries: readonly LayerEntry[],
  weights: Record<string, WeightTensor[]>,
): H5WriteGroup {
  const root = h5Group();
  ensureGroup(root, "layers");
  writeTracked(root, "layers", model.class_name, entries, "", weights);
  ensureGroup(root, "vars").attrs = { name: String(model.config.name ?? "model") };
  return root;
}

function writeTracked(
  root: H5WriteGroup,
  layersPath: string,
  modelClass: string,
  entries: readonly LayerEntry[],
  prefix: string,
  weights: Record<string, WeightTensor[]>,
): void {
  const tracked = trackedLayers(modelClass, entries);
  const keys = trackedLayerKeys(tracked);
  const named = (path: string, name: string) => {
    const group = ensureGroup(root, path);
    group.attrs = { name };
  };
  tracked.forEach((entry, i) => {
    const base = `${layersPath}/${keys[i]}`;
    const key = prefix + entry.name;
    if (isModelClass(entry.className)) {
      named(`${base}/vars`, entry.name);
      ensureGroup(root, `${base}/layers`);
      const inner = nestedModelLayers(entry, "saveKeras", prefix);
      writeTracked(root, `${base}/layers`, entry.className, inner, `${key}/`, weights);
      return;
    }
    const list = weights[key] ?? [];
    const expected = layerWeightNames(entry.className, entry.config);
    if (expected.length > 0 && list.length !== expected.length) {
      throw new WeightMismatchError(
        key,
        `${list.length} weights given, ${expected.length} expected (${expected.join(", ")})`,
        "saveKeras",
      );
    }
    // Every group the layer's class names (empty ones carry only their object's name), in the
    // order Keras writes them; a class without known weights keeps what it is given in `vars`.
    const groups = layerVarGroups(entry.className, entry.config);
    const known = groups.some((g) => g.count > 0);
    for (const g of groups) {
      named(`${base}/${g.path}`, g.objectName ?? entry.name);
      const count = !known && g.path === "vars" ? list.length : g.count;
      list.slice(g.start, g.start + count).forEach((w, j) =>
        putDataset(root, `${base}/${g.path}/${j}`, w.shape, w.data)
      );
    }
  });
}
