/**
 * Keras Functional graphs built in TF.js's layers API (cpu backend) with seeded random weights —
 * the references the engine's graph executor is checked against: a residual CNN, an
 * Inception-style block, a two-input / two-output model, a shared layer, nested models and a
 * masked text model with merges. Plus the bridge to the engine: {@link specFromTfjs} (config in the
 * Keras 2 / TF.js form, weights keyed by layer, nested layers as `"outer/inner"`),
 * {@link keras3Config} (the same topology in the Keras 3 `{args, kwargs}` form) and
 * {@link tfjsGraphGradients} (∂loss/∂w of every trainable weight with training propagated into
 * nested models, which TF.js's own `execute` does not do).
 *
 * Every layer gets an explicit name, so spec keys and engine layer names are predictable.
 */
import type { KerasObject, ModelSpec, WeightTensor } from "../mod.ts";
import { Rng } from "./random.ts";
import { tf } from "./tfjs_reference.ts";
import { tfjsLoss, type TfLoss } from "./tfjs_training.ts";

// deno-lint-ignore no-explicit-any
type Any = any;
type Sym = tf.SymbolicTensor;

/** One host array with its shape (batch first). */
export interface HostTensor {
  data: Float32Array | Int32Array;
  shape: number[];
}

/** A reference graph: how to build it and what to feed it. */
export interface GraphCase {
  /** Short id used in test names. */
  name: string;
  /** The TF.js model with weights drawn from `seed` (same seed, same weights). */
  build(seed?: number): tf.LayersModel;
  /** Random inputs for `batch` samples, one per model input (model input order). */
  inputs(rng: Rng, batch: number): HostTensor[];
  /** Classes of the (first) softmax output: sparse targets for single-loss training. */
  classes: number;
  /** Whether the model has one output (a single loss can train it). */
  singleOutput: boolean;
  /** Whether the model has one input (`fit(x: Tensor)` can train it). */
  singleInput: boolean;
}

// ---- weights ------------------------------------------------------------------------------

/** The short Keras name of a TF.js weight variable (`"outer/bn/moving_mean_1"` → `moving_mean`). */
export function shortWeightName(variable: tf.LayerVariable, layerName: string): string {
  const full = (variable as Any).originalName as string ?? variable.name;
  const parts = full.split("/");
  const at = parts.lastIndexOf(layerName);
  const tail = at >= 0 ? parts.slice(at + 1) : parts.slice(-1);
  return tail.join("/").replace(/_\d+$/, "");
}

/** A leaf layer (not a model) of a TF.js model with its spec key (`"base/conv1"` when nested). */
export interface KeyedLayer {
  key: string;
  layer: tf.layers.Layer;
  /** Whether the layer and every model around it are trainable. */
  trainable: boolean;
}

function isContainer(layer: tf.layers.Layer): layer is tf.LayersModel {
  return layer instanceof tf.LayersModel;
}

/**
 * Every leaf layer of `model` in layer order, recursing into nested models; a nested model used
 * twice is listed once (its weights are shared), as Keras's weight list does.
 */
export function keyedLayers(model: tf.LayersModel, prefix = "", trainable = true): KeyedLayer[] {
  const out: KeyedLayer[] = [];
  for (const layer of model.layers) {
    const key = `${prefix}${layer.name}`;
    const on = trainable && layer.trainable;
    if (isContainer(layer)) out.push(...keyedLayers(layer, `${key}/`, on));
    else out.push({ key, layer, trainable: on });
  }
  return out;
}

/** Glorot-uniform limit of a kernel shape (conv: receptive field × channels). */
function glorotLimit(shape: number[]): number {
  if (shape.length < 2) return 0.1;
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const fanIn = shape[shape.length - 2] * receptive;
  const fanOut = shape[shape.length - 1] * receptive;
  return Math.sqrt(6 / (fanIn + fanOut));
}

/** The range a fresh weight of this short name is drawn from. */
function weightRange(name: string, shape: number[]): [number, number] {
  const base = name.split("/").pop() ?? name;
  if (/kernel$/.test(base)) {
    const l = glorotLimit(shape);
    return [-l, l];
  }
  switch (base) {
    case "gamma":
      return [0.8, 1.2];
    case "moving_mean":
      return [-0.2, 0.2];
    case "moving_variance":
      return [0.5, 1.5];
    case "embeddings":
      return [-0.5, 0.5];
    default:
      return [-0.1, 0.1];
  }
}

/**
 * Overwrites every weight of `model` (nested models included, BatchNormalization moving
 * statistics too) with uniform draws from `rng`: glorot-uniform kernels, gamma in [0.8, 1.2],
 * moving variance in [0.5, 1.5], embeddings in [-0.5, 0.5], everything else in [-0.1, 0.1].
 */
export function randomizeWeights(model: tf.LayersModel, rng: Rng): void {
  for (const { layer } of keyedLayers(model)) {
    if (!layer.weights.length) continue;
    const values = layer.weights.map((v) => {
      const [lo, hi] = weightRange(shortWeightName(v, layer.name), v.shape as number[]);
      const n = v.shape.reduce((a: number, b) => a * (b ?? 1), 1);
      return tf.tensor(rng.floats(n, lo, hi), v.shape as number[], "float32");
    });
    layer.setWeights(values);
    values.forEach((t) => t.dispose());
  }
}

// ---- TF.js → engine spec ------------------------------------------------------------------

/** One weight of a spec: its layer key, index in that layer's list, and the TF.js variable. */
export interface KeyedWeight {
  key: string;
  index: number;
  name: string;
  variable: tf.LayerVariable;
  /** Trainable in Keras's sense (the variable, its layer and every enclosing model). */
  trainable: boolean;
}

/** Every weight of `model` with its spec key, in Keras `get_weights()` order. */
export function keyedWeights(model: tf.LayersModel): KeyedWeight[] {
  return keyedLayers(model).flatMap(({ key, layer, trainable }) =>
    layer.weights.map((variable, index) => ({
      key,
      index,
      name: shortWeightName(variable, layer.name),
      variable,
      trainable: trainable && variable.trainable,
    }))
  );
}

/**
 * The engine spec of a TF.js model: `config` is `model.toJSON(null, false)` (the Keras 2 / TF.js
 * topology `{class_name: "Model" | "Sequential", config, keras_version, backend}`), `kerasVersion`
 * its `keras_version` (`"tfjs-layers 4.22.0"`, Keras 2 semantics), and `weights` maps each leaf
 * layer's key (`"name"`, or `"nested/inner"` inside nested models) to its weights in Keras order
 * with short names (`kernel`, `bias`, `gamma`, `moving_mean`, …). Data are copies. A frozen
 * nested model is written frozen as Keras writes it (see `markFrozenModels`).
 */
export function specFromTfjs(model: tf.LayersModel): ModelSpec {
  const config = model.toJSON(null, false) as unknown as KerasObject;
  markFrozenModels(config, model);
  const weights: Record<string, WeightTensor[]> = {};
  for (const w of keyedWeights(model)) {
    (weights[w.key] ??= []).push({
      name: w.name,
      shape: [...w.variable.shape] as number[],
      data: (w.variable.read().dataSync() as Float32Array).slice(),
    });
  }
  const kerasVersion = typeof config.keras_version === "string" ? config.keras_version : undefined;
  return { config, weights, kerasVersion };
}

/** The TF.js layer of each entry of a model config's `layers` (Sequential: by position). */
function entryLayers(json: KerasObject, model: tf.LayersModel): tf.layers.Layer[] {
  const entries = (json.config as { layers: Any[] }).layers;
  if (json.class_name === "Sequential") {
    return entries.map((_, i) => model.layers[model.layers.length - entries.length + i]);
  }
  return entries.map((e) => model.getLayer(String(e.name ?? e.config?.name)));
}

function freezeAll(entry: Any): void {
  entry.config.trainable = false;
  for (const inner of entry.config.layers ?? []) freezeAll(inner);
}

/**
 * TF.js's JSON drops a nested model's `trainable: false` (`LayersModel.getConfig` has no such
 * field, and its layers keep `trainable: true`); Keras writes it on the model (Keras 3) and on
 * every layer inside (Keras 2 and 3). Writes both into `json`, so the spec is the Keras file.
 */
function markFrozenModels(json: KerasObject, model: tf.LayersModel): void {
  const entries = (json.config as { layers: Any[] }).layers;
  const layers = entryLayers(json, model);
  entries.forEach((entry, i) => {
    const layer = layers[i];
    if (!layer || !isContainer(layer)) return;
    if (!layer.trainable) freezeAll(entry);
    else markFrozenModels(entry, layer);
  });
}

/** Nodes of `layer` that belong to `model` (the ones its config numbers 0, 1, …). */
function modelNodes(model: tf.LayersModel, layer: tf.layers.Layer): Any[] {
  const kept = (model as Any).containerNodes as Set<string> | undefined;
  const nodes = (layer as Any).inboundNodes as Any[];
  return kept ? nodes.filter((_, i) => kept.has(`${layer.name}_ib-${i}`)) : nodes;
}

type Keras2Ref = [string, number, number, Record<string, unknown>?];

/**
 * A Keras 2 / TF.js tensor reference in the Keras 3 `__keras_tensor__` form. Keras 2 (tf.keras
 * `get_network_config`, and TF.js `buildNodeConversionMap` for every container) numbers a nested
 * model's calls from 1 (its node 0 is its own creation); Keras 3 `serialize_node` writes the call
 * index from 0 in `args`, so a reference to a nested model drops by one here.
 */
function keras3Tensor(model: tf.LayersModel, ref: Keras2Ref): KerasObject {
  const [name, node, index] = ref;
  const layer = model.getLayer(name);
  const call = isContainer(layer) ? node - 1 : node;
  const sym = modelNodes(model, layer)[call]?.outputTensors?.[index] as Sym | undefined;
  return {
    class_name: "__keras_tensor__",
    config: {
      shape: sym ? [...sym.shape] : null,
      dtype: sym?.dtype ?? "float32",
      keras_history: [name, call, index],
    },
  };
}

function keras3LayerConfig(className: string, config: Record<string, unknown>) {
  const c = { ...config };
  if (className === "InputLayer" && "batch_input_shape" in c) {
    c.batch_shape = c.batch_input_shape;
    delete c.batch_input_shape;
  }
  if (className === "GRU" && c.reset_after === undefined) c.reset_after = false;
  return c;
}

/**
 * The topology of a TF.js model (`model.toJSON` form) rewritten in the Keras 3 form: Functional
 * layers carry `module` / `registered_name` and `inbound_nodes: [{args, kwargs}]` whose tensors are
 * `__keras_tensor__` objects (with their shapes, read from the TF.js graph), a merge layer's first
 * argument is the list of its inputs, InputLayer says `batch_shape`, `"Model"` becomes
 * `"Functional"`, nested models are converted recursively. Layer configs are otherwise kept (Keras
 * 3 reads the Keras 2 field names of these layers), so both dialects describe the same model.
 */
export function keras3Config(model: tf.LayersModel, json?: KerasObject): KerasObject {
  const obj = json ?? (model.toJSON(null, false) as unknown as KerasObject);
  const sequential = obj.class_name === "Sequential";
  const cfg = obj.config as { name: string; layers: Any[]; [k: string]: unknown };
  const innerLayers = entryLayers(obj, model);
  const layers = cfg.layers.map((entry: Any, i: number) => {
    const layerName = String(entry.name ?? entry.config?.name);
    const inner = innerLayers[i];
    const nested = ["Sequential", "Model", "Functional"].includes(entry.class_name);
    const converted: KerasObject = nested ? keras3Config(inner as tf.LayersModel, entry) : {
      module: "keras.layers",
      class_name: entry.class_name,
      config: keras3LayerConfig(entry.class_name, entry.config),
      registered_name: null,
    };
    if (!sequential) {
      converted.name = layerName;
      converted.inbound_nodes = (entry.inbound_nodes as Keras2Ref[][]).map((call) => {
        const tensors = call.map((ref) => keras3Tensor(model, ref));
        return {
          args: tensors.length === 1 ? tensors : [tensors],
          kwargs: { ...(call[0]?.[3] ?? {}) },
        };
      });
    }
    return converted;
  });
  // Keras 3 Sequential configs start with an InputLayer where Keras 2 set batch_input_shape on
  // the first layer.
  const first = layers[0]?.config as Record<string, unknown> | undefined;
  if (sequential && first && Array.isArray(first.batch_input_shape)) {
    layers.unshift({
      module: "keras.layers",
      class_name: "InputLayer",
      config: {
        batch_shape: first.batch_input_shape,
        dtype: first.dtype ?? "float32",
        sparse: false,
        name: `${cfg.name}_input`,
      },
      registered_name: null,
    });
    delete first.batch_input_shape;
  }
  const config: Record<string, unknown> = { ...cfg, layers };
  if (!sequential) {
    // Keras 3 `get_config` numbers the endpoints' nodes with its reindexing map: from 1 for a
    // nested Functional (as Keras 2 does), from 0 for a nested Sequential (not a Functional there).
    const triples = (v: unknown) =>
      (v as [string, number, number][]).map(([name, node, index]) => {
        const layer = model.getLayer(name);
        const sequentialCall = isContainer(layer) && layer instanceof tf.Sequential;
        return [name, sequentialCall ? node - 1 : node, index];
      });
    config.input_layers = triples(cfg.input_layers);
    config.output_layers = triples(cfg.output_layers);
  }
  return {
    module: sequential ? "keras" : "keras.src.models.functional",
    class_name: sequential ? "Sequential" : "Functional",
    config,
    registered_name: null,
  };
}

/** {@link specFromTfjs} with the config in the Keras 3 form ({@link keras3Config}). */
export function keras3SpecFromTfjs(model: tf.LayersModel, kerasVersion = "3.10.0"): ModelSpec {
  const { config, weights } = specFromTfjs(model);
  return { config: keras3Config(model, config), weights, kerasVersion };
}

// ---- running TF.js graphs -----------------------------------------------------------------

/** Host arrays as TF.js tensors (int32 stays int32). */
export function toTfInputs(xs: HostTensor[]): tf.Tensor[] {
  return xs.map((x) =>
    tf.tensor(x.data, x.shape, x.data instanceof Int32Array ? "int32" : "float32")
  );
}

/** TF.js `model.predict` on host inputs: one flat float32 array per model output. */
export function tfjsPredictMany(model: tf.LayersModel, xs: HostTensor[]): Float32Array[] {
  return tf.tidy(() => {
    const inputs = toTfInputs(xs);
    const y = model.predict(inputs.length === 1 ? inputs[0] : inputs);
    return (Array.isArray(y) ? y : [y]).map((t) => t.dataSync() as Float32Array);
  });
}

/**
 * Runs a TF.js model on tensors node by node, as Keras does: `training` reaches every layer,
 * inside nested models too (TF.js's `Container.call` drops it), a layer whose `trainable` is false
 * (or inside a frozen model) and a call recorded with `training: false` run in inference mode
 * (Keras ≥ 2.1 BatchNormalization), and masks
 * flow along the edges (a merge receives every input's mask). Returns outputs and their masks.
 */
export function applyGraph(
  model: tf.LayersModel,
  inputs: tf.Tensor[],
  { training = false, inputMasks = [] as (tf.Tensor | null)[] } = {},
): { outputs: tf.Tensor[]; masks: (tf.Tensor | null)[] } {
  const memo = new Map<number, [tf.Tensor, tf.Tensor | null]>();
  model.inputs.forEach((s, i) => memo.set(s.id, [inputs[i], inputMasks[i] ?? null]));
  const evaluate = (s: Sym): [tf.Tensor, tf.Tensor | null] => {
    const hit = memo.get(s.id);
    if (hit) return hit;
    const layer = s.sourceLayer as tf.layers.Layer;
    const node = (layer as Any).inboundNodes[s.nodeIndex];
    const ins = (node.inputTensors as Sym[]).map(evaluate);
    const values = ins.map((v) => v[0]);
    const masks = ins.map((v) => v[1]);
    let outs: tf.Tensor[];
    let outMasks: (tf.Tensor | null)[];
    // Keras: a frozen layer (or model) runs in inference mode, and so does a call with
    // `training: false` (`base(x, training=False)`, recorded in the node's kwargs).
    const train = training && layer.trainable && node.callArgs?.training !== false;
    if (isContainer(layer)) {
      const r = applyGraph(layer, values, { training: train, inputMasks: masks });
      outs = r.outputs;
      outMasks = r.masks;
    } else {
      const kwargs: Any = { ...(node.callArgs ?? {}), training: train };
      // An RNN called with `initialState`: the states are the node's further input tensors.
      const withStates = kwargs.initialState !== undefined;
      if (withStates) kwargs.initialState = values.slice(1);
      const one = values.length === 1 || withStates;
      if (masks.some((m) => m)) kwargs.mask = one ? masks[0] : masks;
      const x = one ? values[0] : values;
      const y = layer.apply(x, kwargs) as tf.Tensor | tf.Tensor[];
      outs = Array.isArray(y) ? y : [y];
      const m = layer.supportsMasking
        ? layer.computeMask(x, one ? masks[0] ?? undefined : (masks as tf.Tensor[]))
        : null;
      outMasks = Array.isArray(m) ? m : outs.map(() => m as tf.Tensor | null);
    }
    (node.outputTensors as Sym[]).forEach((o, i) => memo.set(o.id, [outs[i], outMasks[i] ?? null]));
    return memo.get(s.id)!;
  };
  const res = model.outputs.map(evaluate);
  return { outputs: res.map((r) => r[0]), masks: res.map((r) => r[1]) };
}

/**
 * Loss (Keras reduction, see `tfjsLoss`) and ∂loss/∂w of every trainable weight of a
 * single-output TF.js model in training mode ({@link applyGraph}), keyed `"<layer key>#<index>"`
 * as in {@link keyedWeights}. BatchNormalization layers also update their moving statistics (as
 * one training step does).
 */
export function tfjsGraphGradients(
  model: tf.LayersModel,
  xs: HostTensor[],
  y: Float32Array | Int32Array,
  loss: TfLoss,
): { loss: number; grads: Map<string, Float32Array> } {
  const trainable = keyedWeights(model).filter((w) => w.trainable);
  const vars = trainable.map((w) => w.variable.read() as tf.Variable);
  const inputs = toTfInputs(xs);
  const target = tf.tensor(y);
  try {
    const { value, grads } = tf.variableGrads(() => {
      const { outputs } = applyGraph(model, inputs, { training: true });
      return tfjsLoss(loss, target, outputs[0]);
    }, vars);
    const out = new Map<string, Float32Array>();
    trainable.forEach((w, i) => {
      out.set(`${w.key}#${w.index}`, grads[vars[i].name].dataSync() as Float32Array);
    });
    const result = { loss: value.dataSync()[0], grads: out };
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
    return result;
  } finally {
    inputs.forEach((t) => t.dispose());
    target.dispose();
  }
}

/**
 * Keras-style parameter counts of a TF.js model: total (`countParams()`), trainable
 * (`trainableWeights`) and non-trainable (`nonTrainableWeights`) scalars.
 */
export function tfjsParamCounts(
  model: tf.LayersModel,
): { total: number; trainable: number; nonTrainable: number } {
  const size = (ws: tf.LayerVariable[]) =>
    ws.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
  return {
    total: model.countParams(),
    trainable: size(model.trainableWeights),
    nonTrainable: size(model.nonTrainableWeights),
  };
}

// ---- inputs ---------------------------------------------------------------------------------

function floats(rng: Rng, shape: number[], lo = -1, hi = 1): HostTensor {
  return { data: rng.floats(shape.reduce((a, b) => a * b, 1), lo, hi), shape };
}

/**
 * Post-padded token ids: each row has a random length in [1, time] of ids in [1, vocab), then
 * zeros (the padding `mask_zero` masks).
 */
export function paddedIds(rng: Rng, batch: number, time: number, vocab: number): HostTensor {
  const data = new Int32Array(batch * time);
  for (let b = 0; b < batch; b++) {
    const len = rng.int(1, time + 1);
    for (let t = 0; t < len; t++) data[b * time + t] = rng.int(1, vocab);
  }
  return { data, shape: [batch, time] };
}

/**
 * Post-padded token ids with at most 2 padding steps per row (lengths in [time − 2, time]): no two
 * kernel-3 windows of a text CNN are all padding, so no GlobalMaxPooling1D ties arise where TF.js's
 * `max` gradient (the whole gradient to every tied step) departs from TensorFlow's (split evenly).
 */
export function shortPaddedIds(rng: Rng, batch: number, time: number, vocab: number): HostTensor {
  const data = new Int32Array(batch * time);
  for (let b = 0; b < batch; b++) {
    const len = rng.int(Math.max(1, time - 2), time + 1);
    for (let t = 0; t < len; t++) data[b * time + t] = rng.int(1, vocab);
  }
  return { data, shape: [batch, time] };
}

/** Images with per-sample structure (a brightness per channel plus noise). */
function images(rng: Rng, batch: number, size: number, channels: number): HostTensor {
  const shape = [batch, size, size, channels];
  const data = new Float32Array(batch * size * size * channels);
  for (let b = 0; b < batch; b++) {
    const level = Array.from({ length: channels }, () => rng.uniform(-1, 1));
    for (let i = 0; i < size * size; i++) {
      for (let c = 0; c < channels; c++) {
        data[(b * size * size + i) * channels + c] = level[c] + rng.uniform(-0.5, 0.5);
      }
    }
  }
  return { data, shape };
}

// ---- the graphs -----------------------------------------------------------------------------

const conv = (name: string, filters: number, k: number, activation = "linear", useBias = true) =>
  tf.layers.conv2d({
    name,
    filters,
    kernelSize: k,
    padding: "same",
    activation: activation as Any,
    useBias,
  });
/** A convolution feeding BatchNormalization: no bias (under batch statistics its gradient is 0). */
const convBn = (name: string, filters: number, k: number) =>
  conv(name, filters, k, "linear", false);
const dense = (name: string, units: number, activation = "linear") =>
  tf.layers.dense({ name, units, activation: activation as Any });
const bn = (name: string) => tf.layers.batchNormalization({ name, momentum: 0.9 });
const relu = (name: string) => tf.layers.activation({ name, activation: "relu" });
const apply = (layer: tf.layers.Layer, x: Sym | Sym[]) => layer.apply(x) as Sym;

/** Options of {@link residualCnn}. */
export interface ResidualCnnOptions {
  size?: number;
  channels?: number;
  filters?: number;
  blocks?: number;
  classes?: number;
}

/**
 * A residual CNN: stem Conv2D, then `blocks` × [Conv2D (no bias) → BatchNormalization → ReLU →
 * Conv2D →
 * Add(skip) → ReLU] (each block's input feeds its first conv and its Add), then
 * GlobalAveragePooling2D → Dense softmax. Layers `stem`, `res{i}_conv_a|bn|relu|conv_b|add|out`,
 * `gap`, `out`.
 */
export function residualCnn(
  seed = 1,
  { size = 8, channels = 3, filters = 4, blocks = 2, classes = 5 }: ResidualCnnOptions = {},
): tf.LayersModel {
  const input = tf.input({ name: "image", shape: [size, size, channels] });
  let h = apply(conv("stem", filters, 3, "relu"), input);
  for (let i = 1; i <= blocks; i++) {
    let r = apply(convBn(`res${i}_conv_a`, filters, 3), h);
    r = apply(bn(`res${i}_bn`), r);
    r = apply(relu(`res${i}_relu`), r);
    r = apply(conv(`res${i}_conv_b`, filters, 3), r);
    h = apply(tf.layers.add({ name: `res${i}_add` }), [r, h]);
    h = apply(relu(`res${i}_out`), h);
  }
  h = apply(tf.layers.globalAveragePooling2d({ name: "gap" }), h);
  const out = apply(dense("out", classes, "softmax"), h);
  const model = tf.model({ name: "residual_cnn", inputs: input, outputs: out });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/**
 * An Inception-style block on 8×8×3 images: parallel 1×1, 1×1→3×3, 1×1→5×5 convolutions and a
 * 3×3/1 max-pool → 1×1 branch, concatenated on channels, BatchNormalization, then
 * GlobalAveragePooling2D → Dense softmax (4 classes). The input feeds four branches.
 */
export function inceptionBlock(seed = 1, size = 8): tf.LayersModel {
  const input = tf.input({ name: "image", shape: [size, size, 3] });
  const b1 = apply(conv("b1_1x1", 3, 1, "relu"), input);
  const b3 = apply(conv("b3_3x3", 4, 3, "relu"), apply(conv("b3_reduce", 2, 1, "relu"), input));
  const b5 = apply(conv("b5_5x5", 2, 5, "relu"), apply(conv("b5_reduce", 2, 1, "relu"), input));
  const pool = tf.layers.maxPooling2d({
    name: "bp_pool",
    poolSize: 3,
    strides: 1,
    padding: "same",
  });
  const bp = apply(conv("bp_1x1", 2, 1, "relu"), apply(pool, input));
  let h = apply(tf.layers.concatenate({ name: "mixed", axis: -1 }), [b1, b3, b5, bp]);
  h = apply(bn("mixed_bn"), h);
  h = apply(tf.layers.globalAveragePooling2d({ name: "gap" }), h);
  const out = apply(dense("out", 4, "softmax"), h);
  const model = tf.model({ name: "inception_block", inputs: input, outputs: out });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/**
 * Two inputs (`features` [6], `extra` [4]) and two outputs: each input through its own Dense,
 * `Concatenate` → Dense tanh → `class_out` (softmax 3), and `Multiply` of the two branches →
 * `reg_out` (linear 2). Outputs in that order.
 */
export function twoInTwoOut(seed = 1): tf.LayersModel {
  const a = tf.input({ name: "features", shape: [6] });
  const b = tf.input({ name: "extra", shape: [4] });
  const ha = apply(dense("branch_a", 5, "relu"), a);
  const hb = apply(dense("branch_b", 5, "tanh"), b);
  const joined = apply(tf.layers.concatenate({ name: "joined" }), [ha, hb]);
  const hidden = apply(dense("hidden", 6, "tanh"), joined);
  const classOut = apply(dense("class_out", 3, "softmax"), hidden);
  const prod = apply(tf.layers.multiply({ name: "product" }), [ha, hb]);
  const regOut = apply(dense("reg_out", 2), prod);
  const model = tf.model({
    name: "two_in_two_out",
    inputs: [a, b],
    outputs: [classOut, regOut],
  });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/**
 * A shared Dense (`shared`, tanh) called on two inputs (`left`, `right`, [6] each; node 0 and 1),
 * whose outputs meet in `Concatenate` and `Maximum`, then `Average` of a Dense on each → Dense
 * softmax `out` (3 classes). The shared kernel's gradient sums both calls.
 */
export function sharedDense(seed = 1): tf.LayersModel {
  const left = tf.input({ name: "left", shape: [6] });
  const right = tf.input({ name: "right", shape: [6] });
  const shared = dense("shared", 5, "tanh");
  const l = apply(shared, left);
  const r = apply(shared, right);
  const cat = apply(
    dense("cat_dense", 4, "relu"),
    apply(tf.layers.concatenate({ name: "cat" }), [
      l,
      r,
    ]),
  );
  const max = apply(
    dense("max_dense", 4, "relu"),
    apply(tf.layers.maximum({ name: "max" }), [l, r]),
  );
  const avg = apply(tf.layers.average({ name: "avg" }), [cat, max]);
  const out = apply(dense("out", 3, "softmax"), avg);
  const model = tf.model({ name: "shared_dense", inputs: [left, right], outputs: out });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/**
 * A shared Conv2D (`shared_conv`, 3×3 relu) called twice in a row on one 6×6×2 input (two nodes of
 * one layer, the second reading the first's output), `Add` of both calls → GAP → Dense softmax.
 */
export function sharedConvChain(seed = 1): tf.LayersModel {
  const input = tf.input({ name: "image", shape: [6, 6, 2] });
  const shared = conv("shared_conv", 2, 3, "relu");
  const c1 = apply(shared, input);
  const c2 = apply(shared, c1);
  let h = apply(tf.layers.add({ name: "sum" }), [c1, c2]);
  h = apply(tf.layers.globalAveragePooling2d({ name: "gap" }), h);
  const out = apply(dense("out", 3, "softmax"), h);
  const model = tf.model({ name: "shared_conv_chain", inputs: input, outputs: out });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/**
 * The transfer-learning base: a Functional `base` on 8×8×3 with (bias-free convolutions)
 * `conv1` → `bn1` → `relu1` →
 * `conv2` → `bn2` → `relu2` and a top block `top_conv` → `top_bn` → `top_relu`.
 */
export function transferBase(size = 8): tf.LayersModel {
  const input = tf.input({ name: "base_input", shape: [size, size, 3] });
  let h = apply(relu("relu1"), apply(bn("bn1"), apply(convBn("conv1", 4, 3), input)));
  h = apply(relu("relu2"), apply(bn("bn2"), apply(convBn("conv2", 4, 3), h)));
  h = apply(relu("top_relu"), apply(bn("top_bn"), apply(convBn("top_conv", 6, 3), h)));
  return tf.model({ name: "base", inputs: input, outputs: h });
}

/** Layers of {@link transferBase}'s top block (what phase 2 of fine-tuning unfreezes). */
export const TRANSFER_TOP_BLOCK = ["top_conv", "top_bn"] as const;

/**
 * The transfer-learning shape: `Sequential([base, GlobalAveragePooling2D, Dense softmax])` with
 * the Functional {@link transferBase} as its first layer (no InputLayer of its own). `frozen`
 * lists base layers to mark `trainable: false` (`"base"` freezes the whole base).
 */
export function transferModel(seed = 1, frozen: string[] = [], classes = 4): tf.LayersModel {
  const base = transferBase();
  const model = tf.sequential({
    name: "transfer",
    layers: [
      base,
      tf.layers.globalAveragePooling2d({ name: "gap" }),
      dense("head", classes, "softmax"),
    ],
  });
  randomizeWeights(model, new Rng(seed));
  for (const name of frozen) {
    if (name === "base") base.trainable = false;
    else base.getLayer(name).trainable = false;
  }
  return model;
}

/**
 * The other transfer-learning shape: a Functional `transfer_functional` calling the
 * {@link transferBase} with `training: false` (`base(inputs, training=False)`: its
 * BatchNormalization layers stay in inference mode even in `fit`, though the base is trainable),
 * then GlobalAveragePooling2D → Dense softmax `head`.
 */
export function transferInferenceCall(seed = 1, classes = 4): tf.LayersModel {
  const base = transferBase();
  const input = tf.input({ name: "image", shape: [8, 8, 3] });
  const features = base.apply(input, { training: false }) as Sym;
  const pooled = apply(tf.layers.globalAveragePooling2d({ name: "gap" }), features);
  const out = apply(dense("head", classes, "softmax"), pooled);
  const model = tf.model({ name: "transfer_functional", inputs: input, outputs: out });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/**
 * A nested Functional `encoder` ([4] → Dense 6 tanh → Dense 4 tanh) called twice (`x`, then a
 * Dense `mix` of the first call), whose second call is itself the first model output; the second
 * output is Dense softmax `out` (3) of `Add` of both calls. Exercises how each config dialect
 * numbers a nested Functional's calls (Keras 2 / TF.js from 1 everywhere; Keras 3 from 0 in
 * `args` and from 1 in `output_layers`).
 */
export function nestedFunctionalOutputs(seed = 1): tf.LayersModel {
  const encIn = tf.input({ name: "enc_in", shape: [4] });
  const encOut = apply(
    dense("enc_dense2", 4, "tanh"),
    apply(dense("enc_dense1", 6, "tanh"), encIn),
  );
  const encoder = tf.model({ name: "encoder", inputs: encIn, outputs: encOut });
  const x = tf.input({ name: "x", shape: [4] });
  const e1 = apply(encoder, x);
  const e2 = apply(encoder, apply(dense("mix", 4), e1));
  const out = apply(dense("out", 3, "softmax"), apply(tf.layers.add({ name: "sum" }), [e1, e2]));
  const model = tf.model({ name: "nested_functional_outputs", inputs: x, outputs: [e2, out] });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/**
 * A Functional that calls a nested Sequential `tower` ([4] → Dense 6 relu → Dense 4 tanh) twice in
 * a row (`tower(tower(x))`), adds both calls and classifies with Dense softmax `out` (3).
 */
export function nestedTwice(seed = 1): tf.LayersModel {
  const tower = tf.sequential({
    name: "tower",
    layers: [
      tf.layers.dense({ name: "t_dense1", units: 6, activation: "relu", inputShape: [4] }),
      dense("t_dense2", 4, "tanh"),
    ],
  });
  const input = tf.input({ name: "x", shape: [4] });
  const t1 = apply(tower, input);
  const t2 = apply(tower, t1);
  const sum = apply(tf.layers.add({ name: "sum" }), [t1, t2]);
  const out = apply(dense("out", 3, "softmax"), sum);
  const model = tf.model({ name: "nested_twice", inputs: input, outputs: out });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/**
 * A small U-Net classifier on 8×8×3 images: enc1 Conv2D(4, relu) → pool1 → enc2 Conv2D(6, relu)
 * → up1 Conv2DTranspose(4, 3×3, stride 2, same, relu) → skip1 Concatenate(up1, enc1) → crop1
 * Cropping2D((1, 0), (0, 1)) → mix Conv2D(3, tanh) → gap → out Dense softmax (3 classes). The
 * decoder layers in the graph cases: every dialect, file format and the training graph.
 */
export function unetClassifier(seed = 1): tf.LayersModel {
  const input = tf.input({ name: "image", shape: [8, 8, 3] });
  const e1 = apply(conv("enc1", 4, 3, "relu"), input);
  const p1 = apply(tf.layers.maxPooling2d({ name: "pool1", poolSize: 2 }), e1);
  const e2 = apply(conv("enc2", 6, 3, "relu"), p1);
  const up = apply(
    tf.layers.conv2dTranspose({
      name: "up1",
      filters: 4,
      kernelSize: 3,
      strides: 2,
      padding: "same",
      activation: "relu",
    }),
    e2,
  );
  let h = apply(tf.layers.concatenate({ name: "skip1" }), [up, e1]);
  h = apply(tf.layers.cropping2D({ name: "crop1", cropping: [[1, 0], [0, 1]] }), h);
  h = apply(conv("mix", 3, 3, "tanh"), h);
  h = apply(tf.layers.globalAveragePooling2d({ name: "gap" }), h);
  const out = apply(dense("out", 3, "softmax"), h);
  const model = tf.model({ name: "unet_classifier", inputs: input, outputs: out });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/** Options of the text graphs. */
export interface TextGraphOptions {
  /** Sequence length (null: any length). */
  time?: number | null;
  vocab?: number;
  /** Embedding `mask_zero` (default true). */
  maskZero?: boolean;
}

/**
 * Masked text with a merge of sequences: `tokens` → Embedding(`mask_zero`) → LSTM and GRU
 * (`return_sequences`) on the same embedded sequence → `Concatenate` (their masks merge) → LSTM
 * `lstm_c` (reads the merged mask) → Dense softmax `out` (3).
 */
export function textSequenceMerge(
  seed = 1,
  { time = 8, vocab = 20, maskZero = true }: TextGraphOptions = {},
): tf.LayersModel {
  const tokens = tf.input({ name: "tokens", shape: [time], dtype: "int32" });
  const emb = apply(
    tf.layers.embedding({ name: "emb", inputDim: vocab, outputDim: 6, maskZero }),
    tokens,
  );
  const a = apply(
    tf.layers.lstm({
      name: "lstm_a",
      units: 5,
      returnSequences: true,
      recurrentActivation: "sigmoid",
    }),
    emb,
  );
  const b = apply(
    tf.layers.gru({
      name: "gru_b",
      units: 4,
      returnSequences: true,
      recurrentActivation: "sigmoid",
    }),
    emb,
  );
  const cat = apply(tf.layers.concatenate({ name: "concat", axis: -1 }), [a, b]);
  const c = apply(
    tf.layers.lstm({ name: "lstm_c", units: 5, recurrentActivation: "sigmoid" }),
    cat,
  );
  const out = apply(dense("out", 3, "softmax"), c);
  const model = tf.model({ name: "text_sequence_merge", inputs: tokens, outputs: out });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/**
 * Masked text with a merge of final states: `tokens` → Embedding(`mask_zero`) → LSTM `lstm_a` and
 * GRU `gru_b` (last output each, 5 units) → `Add` → Dense softmax `out` (3).
 */
export function textStateAdd(
  seed = 1,
  { time = 8, vocab = 20, maskZero = true }: TextGraphOptions = {},
): tf.LayersModel {
  const tokens = tf.input({ name: "tokens", shape: [time], dtype: "int32" });
  const emb = apply(
    tf.layers.embedding({ name: "emb", inputDim: vocab, outputDim: 6, maskZero }),
    tokens,
  );
  const a = apply(
    tf.layers.lstm({ name: "lstm_a", units: 5, recurrentActivation: "sigmoid" }),
    emb,
  );
  const b = apply(tf.layers.gru({ name: "gru_b", units: 5, recurrentActivation: "sigmoid" }), emb);
  const sum = apply(tf.layers.add({ name: "sum" }), [a, b]);
  const out = apply(dense("out", 3, "softmax"), sum);
  const model = tf.model({ name: "text_state_add", inputs: tokens, outputs: out });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/**
 * A Keras-style text CNN: `tokens` → Embedding(`mask_zero`) → Conv1D `conv` (relu, kernel 3) →
 * GlobalMaxPooling1D → Dense softmax `out` (3). Keras's Conv1D ends the Embedding's mask.
 */
export function textCnn(
  seed = 1,
  { time = 12, vocab = 20, maskZero = true }: TextGraphOptions = {},
): tf.LayersModel {
  const tokens = tf.input({ name: "tokens", shape: [time], dtype: "int32" });
  const emb = apply(
    tf.layers.embedding({ name: "emb", inputDim: vocab, outputDim: 6, maskZero }),
    tokens,
  );
  const c = apply(
    tf.layers.conv1d({ name: "conv", filters: 8, kernelSize: 3, activation: "relu" }),
    emb,
  );
  const pooled = apply(tf.layers.globalMaxPooling1d({ name: "pool" }), c);
  const out = apply(dense("out", 3, "softmax"), pooled);
  const model = tf.model({ name: "text_cnn", inputs: tokens, outputs: out });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/**
 * A two-branch text CNN (Kim 2014 style): `tokens` → Embedding(`mask_zero`) → Conv1D kernel 3
 * (`conv3`, relu) and kernel 5 (`conv5`, relu, `same` padding) → GlobalMaxPooling1D each →
 * `Concatenate` → Dense softmax `out` (3).
 */
export function textCnnTwoBranch(
  seed = 1,
  { time = 12, vocab = 20, maskZero = true }: TextGraphOptions = {},
): tf.LayersModel {
  const tokens = tf.input({ name: "tokens", shape: [time], dtype: "int32" });
  const emb = apply(
    tf.layers.embedding({ name: "emb", inputDim: vocab, outputDim: 6, maskZero }),
    tokens,
  );
  const branch = (k: number, padding: "valid" | "same") =>
    apply(
      tf.layers.globalMaxPooling1d({ name: `pool${k}` }),
      apply(
        tf.layers.conv1d({
          name: `conv${k}`,
          filters: 5,
          kernelSize: k,
          padding,
          activation: "relu",
        }),
        emb,
      ),
    );
  const cat = apply(tf.layers.concatenate({ name: "concat" }), [
    branch(3, "valid"),
    branch(5, "same"),
  ]);
  const out = apply(dense("out", 3, "softmax"), cat);
  const model = tf.model({ name: "text_cnn_two_branch", inputs: tokens, outputs: out });
  randomizeWeights(model, new Rng(seed));
  return model;
}

// ---- sequence-to-sequence (return_state / initial_state) -------------------------------------
// TF.js's default recurrent activation is Keras 2's hard_sigmoid, which Keras 3 redefined: these
// use sigmoid so the Keras 3 configs mean the same.

const SEQ_VOCAB = 17, SEQ_T_ENC = 7, SEQ_T_DEC = 5, SEQ_CLASSES = 3;

/** TF.js's RNN `apply` with `initialState` (the states become further inputs of the call). */
function applyWithState(layer: tf.layers.Layer, x: Sym, states: Sym[]): Sym {
  return (layer as Any).apply(x, { initialState: states }) as Sym;
}

function seqTokens(): [Sym, Sym, (name: string, x: Sym) => Sym, (x: Sym) => Sym] {
  const embed = (name: string, x: Sym) =>
    apply(tf.layers.embedding({ name, inputDim: SEQ_VOCAB, outputDim: 4, maskZero: true }), x);
  return [
    tf.input({ name: "enc_tokens", shape: [SEQ_T_ENC], dtype: "int32" }),
    tf.input({ name: "dec_tokens", shape: [SEQ_T_DEC], dtype: "int32" }),
    embed,
    (x) => apply(dense("out", SEQ_CLASSES, "softmax"), x),
  ];
}

/**
 * The classic Keras seq2seq: `enc_tokens` → Embedding(`mask_zero`) → LSTM `encoder`
 * (`return_state`; its output unused) → h, c start LSTM `decoder` over `dec_tokens` →
 * Dense softmax `out`.
 */
export function seq2seqLstm(seed = 1): tf.LayersModel {
  const [enc, dec, embed, head] = seqTokens();
  const [, h, c] = tf.layers.lstm({
    name: "encoder",
    units: 6,
    returnState: true,
    recurrentActivation: "sigmoid",
  }).apply(embed("enc_emb", enc)) as Sym[];
  const y = applyWithState(
    tf.layers.lstm({ name: "decoder", units: 6, recurrentActivation: "sigmoid" }),
    embed("dec_emb", dec),
    [h, c],
  );
  const model = tf.model({ name: "seq2seq_lstm", inputs: [enc, dec], outputs: head(y) });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/**
 * GRU `encoder` with `return_sequences` and `return_state` (both read: the sequence flattened,
 * the state into a backwards GRU `decoder` and into the merge) → Concatenate → Dense softmax.
 */
export function seq2seqGru(seed = 1): tf.LayersModel {
  const [enc, dec, embed, head] = seqTokens();
  const [seq, h] = tf.layers.gru({
    name: "encoder",
    units: 5,
    returnSequences: true,
    returnState: true,
    recurrentActivation: "sigmoid",
  }).apply(embed("enc_emb", enc)) as Sym[];
  // (Flatten: TF.js's global pooling ignores masks where Keras's does not.)
  const flat = apply(tf.layers.flatten({ name: "flat" }), seq);
  const y = applyWithState(
    tf.layers.gru({ name: "decoder", units: 5, goBackwards: true, recurrentActivation: "sigmoid" }),
    embed("dec_emb", dec),
    [h],
  );
  const merged = apply(tf.layers.concatenate({ name: "merge" }), [y, flat, h]);
  const model = tf.model({ name: "seq2seq_gru", inputs: [enc, dec], outputs: head(merged) });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/** SimpleRNN `encoder` (`return_state`) → SimpleRNN `decoder` (`initial_state`) → Dense. */
export function seq2seqSimpleRnn(seed = 1): tf.LayersModel {
  const [enc, dec, embed, head] = seqTokens();
  const [, h] = tf.layers.simpleRNN({ name: "encoder", units: 4, returnState: true })
    .apply(embed("enc_emb", enc)) as Sym[];
  const y = applyWithState(
    tf.layers.simpleRNN({ name: "decoder", units: 4 }),
    embed("dec_emb", dec),
    [h],
  );
  const model = tf.model({ name: "seq2seq_rnn", inputs: [enc, dec], outputs: head(y) });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/**
 * Bidirectional LSTM `encoder` (`return_state`: output, forward h, c, backward h, c) → the two
 * directions' h and c concatenated → LSTM `decoder` (`initial_state`) → Dense softmax.
 */
export function seq2seqBidirectional(seed = 1): tf.LayersModel {
  const [enc, dec, embed, head] = seqTokens();
  const [, fh, fc, bh, bc] = tf.layers.bidirectional({
    name: "encoder",
    layer: tf.layers.lstm({
      name: "enc_lstm",
      units: 3,
      returnState: true,
      recurrentActivation: "sigmoid",
    }) as Any,
    mergeMode: "concat",
  }).apply(embed("enc_emb", enc)) as Sym[];
  const h = apply(tf.layers.concatenate({ name: "state_h" }), [fh, bh]);
  const c = apply(tf.layers.concatenate({ name: "state_c" }), [fc, bc]);
  const y = applyWithState(
    tf.layers.lstm({ name: "decoder", units: 6, recurrentActivation: "sigmoid" }),
    embed("dec_emb", dec),
    [h, c],
  );
  const model = tf.model({ name: "seq2seq_bi", inputs: [enc, dec], outputs: head(y) });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/**
 * Bidirectional GRU with `merge_mode` None and `return_state` over masked `enc_tokens` (one
 * input): outputs [forward, backward, forward h, backward h], all four concatenated → Dense.
 */
export function bidirectionalSplit(seed = 1): tf.LayersModel {
  const [enc, , embed, head] = seqTokens();
  const outs = tf.layers.bidirectional({
    name: "encoder",
    layer: tf.layers.gru({
      name: "enc_gru",
      units: 4,
      returnState: true,
      recurrentActivation: "sigmoid",
    }) as Any,
    mergeMode: null as Any,
  }).apply(embed("enc_emb", enc)) as Sym[];
  const merged = apply(tf.layers.concatenate({ name: "merge" }), outs);
  const model = tf.model({ name: "bidirectional_split", inputs: enc, outputs: head(merged) });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/** Encoder and decoder token ids for the seq2seq graphs. */
function seqInputs(rng: Rng, batch: number): HostTensor[] {
  return [paddedIds(rng, batch, SEQ_T_ENC, SEQ_VOCAB), paddedIds(rng, batch, SEQ_T_DEC, SEQ_VOCAB)];
}

const SEQ2SEQ_CASES: GraphCase[] = [
  ["seq2seq_lstm", seq2seqLstm],
  ["seq2seq_gru", seq2seqGru],
  ["seq2seq_simple_rnn", seq2seqSimpleRnn],
  ["seq2seq_bidirectional", seq2seqBidirectional],
].map(([name, build]) => ({
  name: name as string,
  build: build as (seed?: number) => tf.LayersModel,
  inputs: seqInputs,
  classes: SEQ_CLASSES,
  singleOutput: true,
  singleInput: false,
}));

const BIDIRECTIONAL_SPLIT_CASE: GraphCase = {
  name: "bidirectional_split",
  build: (seed) => bidirectionalSplit(seed),
  inputs: (rng, batch) => [paddedIds(rng, batch, SEQ_T_ENC, SEQ_VOCAB)],
  classes: SEQ_CLASSES,
  singleOutput: true,
  singleInput: true,
};

/** Every reference graph with its inputs. */
export const GRAPH_CASES: readonly GraphCase[] = [
  {
    name: "residual_cnn",
    build: (seed) => residualCnn(seed),
    inputs: (rng, batch) => [images(rng, batch, 8, 3)],
    classes: 5,
    singleOutput: true,
    singleInput: true,
  },
  {
    name: "inception_block",
    build: (seed) => inceptionBlock(seed),
    inputs: (rng, batch) => [images(rng, batch, 8, 3)],
    classes: 4,
    singleOutput: true,
    singleInput: true,
  },
  {
    name: "two_in_two_out",
    build: (seed) => twoInTwoOut(seed),
    inputs: (rng, batch) => [floats(rng, [batch, 6]), floats(rng, [batch, 4])],
    classes: 3,
    singleOutput: false,
    singleInput: false,
  },
  {
    name: "shared_dense",
    build: (seed) => sharedDense(seed),
    inputs: (rng, batch) => [floats(rng, [batch, 6]), floats(rng, [batch, 6])],
    classes: 3,
    singleOutput: true,
    singleInput: false,
  },
  {
    name: "shared_conv_chain",
    build: (seed) => sharedConvChain(seed),
    inputs: (rng, batch) => [images(rng, batch, 6, 2)],
    classes: 3,
    singleOutput: true,
    singleInput: true,
  },
  {
    name: "transfer",
    build: (seed) => transferModel(seed),
    inputs: (rng, batch) => [images(rng, batch, 8, 3)],
    classes: 4,
    singleOutput: true,
    singleInput: true,
  },
  {
    name: "transfer_functional",
    build: (seed) => transferInferenceCall(seed),
    inputs: (rng, batch) => [images(rng, batch, 8, 3)],
    classes: 4,
    singleOutput: true,
    singleInput: true,
  },
  {
    name: "nested_functional_outputs",
    build: (seed) => nestedFunctionalOutputs(seed),
    inputs: (rng, batch) => [floats(rng, [batch, 4])],
    classes: 3,
    singleOutput: false,
    singleInput: true,
  },
  {
    name: "nested_twice",
    build: (seed) => nestedTwice(seed),
    inputs: (rng, batch) => [floats(rng, [batch, 4])],
    classes: 3,
    singleOutput: true,
    singleInput: true,
  },
  {
    name: "text_sequence_merge",
    build: (seed) => textSequenceMerge(seed),
    inputs: (rng, batch) => [paddedIds(rng, batch, 8, 20)],
    classes: 3,
    singleOutput: true,
    singleInput: true,
  },
  {
    name: "text_state_add",
    build: (seed) => textStateAdd(seed),
    inputs: (rng, batch) => [paddedIds(rng, batch, 8, 20)],
    classes: 3,
    singleOutput: true,
    singleInput: true,
  },
  {
    name: "text_cnn",
    build: (seed) => textCnn(seed),
    inputs: (rng, batch) => [shortPaddedIds(rng, batch, 12, 20)],
    classes: 3,
    singleOutput: true,
    singleInput: true,
  },
  {
    name: "text_cnn_two_branch",
    build: (seed) => textCnnTwoBranch(seed),
    inputs: (rng, batch) => [shortPaddedIds(rng, batch, 12, 20)],
    classes: 3,
    singleOutput: true,
    singleInput: true,
  },
  {
    name: "unet_classifier",
    build: (seed) => unetClassifier(seed),
    inputs: (rng, batch) => [images(rng, batch, 8, 3)],
    classes: 3,
    singleOutput: true,
    singleInput: true,
  },
  ...SEQ2SEQ_CASES,
  BIDIRECTIONAL_SPLIT_CASE,
];

/** The case named `name` (throws for an unknown name). */
export function graphCase(name: string): GraphCase {
  const c = GRAPH_CASES.find((g) => g.name === name);
  if (!c) throw new Error(`no graph case "${name}"`);
  return c;
}
