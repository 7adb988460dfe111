/**
 * Hand-written Functional graph and nested-model specs in both config forms — Keras 3
 * (`inbound_nodes: [{args, kwargs}]` with `__keras_tensor__` histories) and Keras 2 / TF.js
 * (`[[["layer", node, index, {}], …]]`) — with seeded random weights keyed the way the engine
 * expects (`"base/dense"` for a layer inside nested model `base`). For the format tests.
 *
 * @module
 */
import type { KerasObject, ModelSpec, WeightTensor } from "@scratchnet/engine";

/** Which config form a fixture is written in. */
export type ConfigForm = "keras3" | "keras2";

/** A graph fixture: its spec plus what the tests check about it. */
export interface GraphFixture {
  label: string;
  spec: ModelSpec;
  /** Weight keys in the spec, sorted. */
  keys: string[];
}

/** `[layer, node index, tensor index]` of a tensor in the graph. */
type Ref = readonly [string, number, number];

/** A layer of a graph: its object and, per call, the tensors it is called on. */
interface GraphLayer {
  obj: KerasObject;
  calls: Ref[][];
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

class Weights {
  readonly map: Record<string, WeightTensor[]> = {};
  #next: () => number;
  constructor(seed: number) {
    this.#next = rng(seed);
  }
  #tensor(name: string, shape: number[], lo = -0.5, hi = 0.5): WeightTensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = lo + (hi - lo) * this.#next();
    return { name, shape, data };
  }
  dense(key: string, inDim: number, units: number): void {
    this.map[key] = [this.#tensor("kernel", [inDim, units]), this.#tensor("bias", [units])];
  }
  batchNorm(key: string, dim: number): void {
    this.map[key] = [
      this.#tensor("gamma", [dim], 0.5, 1.5),
      this.#tensor("beta", [dim], -0.2, 0.2),
      this.#tensor("moving_mean", [dim], -0.2, 0.2),
      this.#tensor("moving_variance", [dim], 0.5, 1.5),
    ];
  }
}

const MODULES: Record<string, string> = {
  Sequential: "keras",
  Functional: "keras.src.models.functional",
};

function obj(form: ConfigForm, className: string, config: Record<string, unknown>): KerasObject {
  if (form === "keras2") return { class_name: className, config };
  return {
    module: MODULES[className] ?? "keras.layers",
    class_name: className,
    config,
    registered_name: null,
  };
}

function dense(form: ConfigForm, name: string, units: number, activation = "linear"): KerasObject {
  return obj(form, "Dense", { name, trainable: true, units, activation, use_bias: true });
}

function batchNorm(form: ConfigForm, name: string): KerasObject {
  return obj(form, "BatchNormalization", {
    name,
    trainable: true,
    axis: -1,
    momentum: 0.99,
    epsilon: 0.001,
    center: true,
    scale: true,
  });
}

function inputLayer(form: ConfigForm, name: string, shape: number[]): KerasObject {
  return obj(
    form,
    "InputLayer",
    form === "keras3"
      ? { name, batch_shape: [null, ...shape], dtype: "float32", sparse: false }
      : { name, batch_input_shape: [null, ...shape], dtype: "float32", sparse: false },
  );
}

function merge(form: ConfigForm, className: string, name: string, extra = {}): KerasObject {
  return obj(form, className, { name, trainable: true, ...extra });
}

/** A Keras 3 symbolic tensor reference. */
function kerasTensor(ref: Ref): Record<string, unknown> {
  return {
    class_name: "__keras_tensor__",
    config: { shape: null, dtype: "float32", keras_history: [...ref] },
  };
}

/** Serialises one call's inputs as Keras 3 or Keras 2 writes an inbound node. */
function inboundNode(form: ConfigForm, inputs: Ref[], merging: boolean): unknown {
  if (form === "keras2") return inputs.map((r) => [...r, {}]);
  const args = merging ? [inputs.map(kerasTensor)] : inputs.map(kerasTensor);
  return { args, kwargs: {} };
}

const MERGE_CLASSES = new Set(["Add", "Concatenate", "Multiply", "Average"]);

/**
 * A Functional config. Keras 3 writes `class_name: "Functional"` and, for a model built on a
 * single input / output tensor, a single triple instead of a list of triples; Keras 2 writes
 * `"Model"` (older) or `"Functional"` — `keras2Class` picks.
 */
function functional(
  form: ConfigForm,
  name: string,
  layers: GraphLayer[],
  inputs: Ref[],
  outputs: Ref[],
  keras2Class: "Model" | "Functional" = "Functional",
): KerasObject {
  const entries = layers.map(({ obj: o, calls }) => {
    const merging = MERGE_CLASSES.has(o.class_name);
    const nodes = calls.map((c) => inboundNode(form, c, merging));
    const name = String(o.config.name);
    return form === "keras3" ? { ...o, name, inbound_nodes: nodes } : {
      name,
      ...o,
      inbound_nodes: nodes,
    };
  });
  const single = (refs: Ref[]) =>
    form === "keras3" && refs.length === 1 ? [...refs[0]] : refs.map((r) => [...r]);
  const config = {
    name,
    trainable: true,
    layers: entries,
    input_layers: single(inputs),
    output_layers: single(outputs),
  };
  return obj(form, form === "keras3" ? "Functional" : keras2Class, config);
}

function sequential(form: ConfigForm, name: string, layers: KerasObject[]): KerasObject {
  return obj(form, "Sequential", { name, trainable: true, layers });
}

/** A nested model used as a layer: its object plus (Keras 3) `build_config`. */
function asLayer(form: ConfigForm, model: KerasObject, inputShape: number[]): KerasObject {
  if (form === "keras2") return model;
  return { ...model, build_config: { input_shape: [null, ...inputShape] } };
}

/**
 * The node index of the first call of a nested model as a consumer's node arguments name it.
 * Keras 2 / TF.js count the nested model's own build as its node 0, so calls are 1-based;
 * Keras 3 node arguments drop nodes outside the outer graph (`serialize_node`'s
 * `irrelevant_node_count`), so they are 0-based for Sequential and Functional alike — only
 * `output_layers` keeps a nested Functional 1-based (`get_config`'s `kept_nodes = 1`).
 */
function nestedNode(form: ConfigForm): number {
  return form === "keras3" ? 0 : 1;
}

function fixture(label: string, config: KerasObject, weights: Weights): GraphFixture {
  return {
    label,
    spec: { config, weights: weights.map },
    keys: Object.keys(weights.map).sort(),
  };
}

/** x → dense → batch norm → add(x, ·) → dense: a residual block. */
export function residualFixture(form: ConfigForm, seed = 11): GraphFixture {
  const w = new Weights(seed);
  w.dense("res_dense", 6, 6);
  w.batchNorm("res_bn", 6);
  w.dense("res_out", 6, 3);
  const config = functional(
    form,
    "residual",
    [
      { obj: inputLayer(form, "x", [6]), calls: [] },
      { obj: dense(form, "res_dense", 6, "relu"), calls: [[["x", 0, 0]]] },
      { obj: batchNorm(form, "res_bn"), calls: [[["res_dense", 0, 0]]] },
      { obj: merge(form, "Add", "res_add"), calls: [[["x", 0, 0], ["res_bn", 0, 0]]] },
      { obj: dense(form, "res_out", 3, "softmax"), calls: [[["res_add", 0, 0]]] },
    ],
    [["x", 0, 0]],
    [["res_out", 0, 0]],
  );
  return fixture(`residual (${form})`, config, w);
}

/** Two inputs, a Concatenate, two outputs (one of them fed by a branch only). */
export function twoInTwoOutFixture(form: ConfigForm, seed = 12): GraphFixture {
  const w = new Weights(seed);
  w.dense("da", 4, 3);
  w.dense("db", 5, 3);
  w.dense("out_main", 6, 2);
  w.dense("out_aux", 3, 1);
  const config = functional(
    form,
    "two_in_two_out",
    [
      { obj: inputLayer(form, "in_a", [4]), calls: [] },
      { obj: inputLayer(form, "in_b", [5]), calls: [] },
      { obj: dense(form, "da", 3, "tanh"), calls: [[["in_a", 0, 0]]] },
      { obj: dense(form, "db", 3, "relu"), calls: [[["in_b", 0, 0]]] },
      {
        obj: merge(form, "Concatenate", "cat", { axis: -1 }),
        calls: [[["da", 0, 0], ["db", 0, 0]]],
      },
      { obj: dense(form, "out_main", 2), calls: [[["cat", 0, 0]]] },
      { obj: dense(form, "out_aux", 1, "sigmoid"), calls: [[["db", 0, 0]]] },
    ],
    [["in_a", 0, 0], ["in_b", 0, 0]],
    [["out_main", 0, 0], ["out_aux", 0, 0]],
    "Model",
  );
  return fixture(`two inputs / two outputs (${form})`, config, w);
}

/** One Dense called on two inputs (two inbound nodes, one set of weights), then added. */
export function sharedLayerFixture(form: ConfigForm, seed = 13): GraphFixture {
  const w = new Weights(seed);
  w.dense("shared", 4, 3);
  w.dense("head", 3, 2);
  const config = functional(
    form,
    "shared_twice",
    [
      { obj: inputLayer(form, "left", [4]), calls: [] },
      { obj: inputLayer(form, "right", [4]), calls: [] },
      { obj: dense(form, "shared", 3, "tanh"), calls: [[["left", 0, 0]], [["right", 0, 0]]] },
      { obj: merge(form, "Add", "sum"), calls: [[["shared", 0, 0], ["shared", 1, 0]]] },
      { obj: dense(form, "head", 2), calls: [[["sum", 0, 0]]] },
    ],
    [["left", 0, 0], ["right", 0, 0]],
    [["head", 0, 0]],
  );
  return fixture(`shared layer (${form})`, config, w);
}

/** A Sequential base (Dense, BatchNormalization, Dense) used as a layer of a Functional model. */
export function sequentialInFunctionalFixture(form: ConfigForm, seed = 14): GraphFixture {
  const w = new Weights(seed);
  w.dense("base/d1", 4, 5);
  w.batchNorm("base/bn", 5);
  w.dense("base/d2", 5, 3);
  w.dense("head", 3, 2);
  const base = sequential(form, "base", [
    inputLayer(form, "base_input", [4]),
    dense(form, "d1", 5, "relu"),
    batchNorm(form, "bn"),
    dense(form, "d2", 3),
  ]);
  const node = nestedNode(form);
  const config = functional(
    form,
    "outer",
    [
      { obj: inputLayer(form, "x", [4]), calls: [] },
      { obj: asLayer(form, base, [4]), calls: [[["x", 0, 0]]] },
      { obj: dense(form, "head", 2, "softmax"), calls: [[["base", node, 0]]] },
    ],
    [["x", 0, 0]],
    [["head", 0, 0]],
  );
  return fixture(`Sequential in Functional (${form})`, config, w);
}

/**
 * A Functional base (holding a Sequential `core`, so two levels deep) used as the first layer of
 * a Sequential model.
 */
export function functionalInSequentialFixture(form: ConfigForm, seed = 15): GraphFixture {
  const w = new Weights(seed);
  w.dense("fbase/fd", 3, 4);
  w.dense("fbase/core/c1", 4, 4);
  w.batchNorm("fbase/core/cbn", 4);
  w.dense("dense", 4, 2);
  const core = sequential(form, "core", [
    inputLayer(form, "core_input", [4]),
    dense(form, "c1", 4, "relu"),
    batchNorm(form, "cbn"),
  ]);
  const coreNode = nestedNode(form);
  const fbase = functional(
    form,
    "fbase",
    [
      { obj: inputLayer(form, "fi", [3]), calls: [] },
      { obj: dense(form, "fd", 4), calls: [[["fi", 0, 0]]] },
      { obj: asLayer(form, core, [4]), calls: [[["fd", 0, 0]]] },
      { obj: merge(form, "Add", "fadd"), calls: [[["fd", 0, 0], ["core", coreNode, 0]]] },
    ],
    [["fi", 0, 0]],
    [["fadd", 0, 0]],
  );
  const config = sequential(form, "seq", [
    inputLayer(form, "seq_input", [3]),
    asLayer(form, fbase, [3]),
    dense(form, "dense", 2),
  ]);
  return fixture(`Functional in Sequential (${form})`, config, w);
}

/**
 * A Functional base (Dense, BatchNormalization) called twice inside a Functional model (a shared
 * nested model: its calls are nodes 0 and 1 in Keras 3 node arguments, 1 and 2 in Keras 2), the
 * two calls added, then a Dense head; the first call is also a model output (node 1 in
 * `output_layers` in both forms).
 */
export function functionalTwiceFixture(form: ConfigForm, seed = 16): GraphFixture {
  const w = new Weights(seed);
  w.dense("tower/td", 4, 3);
  w.batchNorm("tower/tbn", 3);
  w.dense("head", 3, 2);
  const tower = functional(
    form,
    "tower",
    [
      { obj: inputLayer(form, "ti", [4]), calls: [] },
      { obj: dense(form, "td", 3, "relu"), calls: [[["ti", 0, 0]]] },
      { obj: batchNorm(form, "tbn"), calls: [[["td", 0, 0]]] },
    ],
    [["ti", 0, 0]],
    [["tbn", 0, 0]],
    "Model",
  );
  const config = functional(
    form,
    "twice",
    [
      { obj: inputLayer(form, "p", [4]), calls: [] },
      { obj: inputLayer(form, "q", [4]), calls: [] },
      { obj: asLayer(form, tower, [4]), calls: [[["p", 0, 0]], [["q", 0, 0]]] },
      {
        obj: merge(form, "Add", "both"),
        calls: [[["tower", nestedNode(form), 0], ["tower", nestedNode(form) + 1, 0]]],
      },
      { obj: dense(form, "head", 2), calls: [[["both", 0, 0]]] },
    ],
    [["p", 0, 0], ["q", 0, 0]],
    [["head", 0, 0]],
  );
  return fixture(`Functional called twice (${form})`, config, w);
}

/** Every hand-written graph fixture in one config form. */
export function graphFixtures(form: ConfigForm): GraphFixture[] {
  return [
    residualFixture(form),
    twoInTwoOutFixture(form),
    sharedLayerFixture(form),
    sequentialInFunctionalFixture(form),
    functionalInSequentialFixture(form),
    functionalTwiceFixture(form),
  ];
}

/** The layer classes the graph fixtures use beyond the chain classes. */
export const GRAPH_CLASSES: readonly string[] = ["Add", "Concatenate"];
