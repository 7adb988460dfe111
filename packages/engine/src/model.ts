/**
 * Models: a chain of layers built from a Keras model config (Sequential, or a Functional model
 * whose graph is a chain), with weights per layer name in Keras order.
 */
import {
  InputShapeError,
  ModelConfigError,
  UnsupportedLayerError,
  WeightShapeError,
} from "./errors.ts";
import type { CallContext, Layer, LayerConfig, WeightTensor } from "./layer.ts";
import { InputLayer } from "./layers/input_layer.ts";
import { RecurrentLayer } from "./layers/recurrent.ts";
import { Bidirectional } from "./layers/bidirectional.ts";
import { kernelThreads } from "./wasm/threads.ts";
import { layerFactory } from "./registry.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf, Tensor } from "./tensor.ts";
import { getRuntime } from "./wasm/kernels.ts";
import { CONV_ALGORITHMS, type ConvAlgorithm } from "./winograd.ts";
import type { WeightTensor as LayerWeight } from "./layer.ts";
import { initialWeights } from "./training/initializers.ts";
import { SeededRandom } from "./training/random.ts";
import { TrainingConfigError } from "./training/errors.ts";
import type { History, Logs } from "./training/callbacks.ts";
import type { Optimizer } from "./training/optimizers.ts";
import {
  type CompileOptions,
  type EvaluateOptions,
  type FitOptions,
  Trainer,
} from "./training/trainer.ts";

/** A serialized Keras object: `{ class_name, config }` (plus Keras 3 `module`, `registered_name`, …). */
export interface KerasObject {
  class_name: string;
  config: Record<string, unknown>;
  [key: string]: unknown;
}

/** What the engine builds a model from. */
export interface ModelSpec {
  /** The Keras model JSON (`config.json`, `model_config`, or TF.js `modelTopology.model_config`). */
  config: KerasObject;
  /** Weights per layer config name, Keras order (Bidirectional: forward, then backward). */
  weights: Record<string, WeightTensor[]>;
  /** keras_version of the source file; selects version-dependent semantics. */
  kerasVersion?: string;
}

/** Options of {@link buildModel} / the {@link Model} constructor. */
export interface ModelBuildOptions {
  /**
   * Initialize every layer whose weights are missing from the spec with its config's Keras
   * initializers (defaults: glorot_uniform kernels, orthogonal recurrent kernels, zero biases,
   * uniform embeddings, …), drawn from a stream seeded by `seed`.
   */
  initialize?: { seed: number };
  /**
   * Conv2D's inference method: "auto" (default) runs Winograd F(m×m, r×r) for 3×3…7×7 stride-1
   * convolutions and the direct sum otherwise; "direct" always sums directly; "winograd" forces
   * Winograd wherever it can run. See `ConvAlgorithm`.
   */
  convAlgorithm?: ConvAlgorithm;
}

/** Options of {@link Model.predict}. */
export interface PredictOptions {
  /**
   * Most samples per kernel call (default 32; feed-forward models with large activations use
   * smaller, cache-sized chunks). The result does not depend on it.
   */
  batchSize?: number;
}

/** Bytes of the largest activation a predict chunk aims to keep per thread (half of L2). */
const CACHE_CHUNK_BYTES = 512 * 1024;

/** Keras model classes the engine builds. */
const MODEL_CLASSES = new Set(["Sequential", "Functional", "Model"]);

/** A runnable chain of layers. */
export class Model {
  readonly name: string;
  readonly className: string;
  /** The layers in order; the first is the model's InputLayer (synthesised when absent). */
  readonly layers: Layer[];
  readonly kerasVersion?: string;
  readonly #config: KerasObject;
  #built = false;
  #disposed = false;
  #initRng?: SeededRandom;
  #trainer?: Trainer;
  /** Set by a callback (e.g. EarlyStopping) to end `fit` after the current epoch. */
  stopTraining = false;

  constructor(spec: ModelSpec, options: ModelBuildOptions = {}) {
    if (typeof spec !== "object" || spec === null) {
      throw new ModelConfigError("model spec: expected an object { config, weights }");
    }
    const { config, weights, kerasVersion } = spec;
    const conv = options.convAlgorithm;
    if (conv !== undefined && !CONV_ALGORITHMS.includes(conv)) {
      throw new ModelConfigError(
        `convAlgorithm: expected one of ${CONV_ALGORITHMS.join(", ")}, got ${JSON.stringify(conv)}`,
      );
    }
    if (!config || typeof config !== "object" || typeof config.class_name !== "string") {
      throw new ModelConfigError("model config: expected an object with class_name and config");
    }
    if (!MODEL_CLASSES.has(config.class_name)) {
      throw new UnsupportedLayerError(
        config.class_name,
        String(config.config?.name ?? "(model)"),
        "not a Sequential or Functional model",
      );
    }
    this.className = config.class_name;
    this.#config = config;
    this.kerasVersion = kerasVersion;
    const inner = config.config ?? {};
    this.name = typeof inner.name === "string" ? inner.name : "model";
    const layerObjs = orderedLayerObjects(config);
    this.layers = [];
    for (const obj of layerObjs) {
      const cfg = (obj.config ?? {}) as LayerConfig;
      const layerName = String(cfg.name ?? obj.name ?? obj.class_name);
      const factory = layerFactory(obj.class_name);
      if (!factory) throw new UnsupportedLayerError(obj.class_name, layerName);
      this.layers.push(factory({ ...cfg, name: layerName }, {
        kerasVersion,
        convAlgorithm: options.convAlgorithm,
      }));
    }
    // Keras 2 Sequential (and Keras 3 with build_input_shape) put the input shape elsewhere.
    if (!(this.layers[0] instanceof InputLayer)) {
      const first = layerObjs[0]?.config as LayerConfig | undefined;
      const batchShape = first?.batch_input_shape ?? first?.batch_shape ?? inner.build_input_shape;
      if (Array.isArray(batchShape)) {
        this.layers.unshift(
          new InputLayer({
            name: `${this.name}_input`,
            batch_shape: batchShape,
            dtype: first?.dtype,
          }, { kerasVersion }),
        );
      }
    }
    this.#weights = weights ?? {};
    if (options.initialize !== undefined) {
      const seed = options.initialize?.seed;
      if (typeof seed !== "number" || !Number.isFinite(seed)) {
        throw new ModelConfigError(
          `initialize.seed: expected a number, got ${JSON.stringify(seed)}`,
        );
      }
      this.#initRng = new SeededRandom(seed);
    }
    const input = this.layers[0];
    if (input instanceof InputLayer) this.#build(input.declaredShape);
  }

  #weights: Record<string, WeightTensor[]>;

  /** Builds every layer for `inputShape` (no batch), validating and uploading weights. */
  #build(inputShape: Shape): void {
    const { heap } = getRuntime();
    let shape = inputShape;
    try {
      for (const layer of this.layers) {
        let weights = this.#weights[layer.name];
        if (weights === undefined && this.#initRng && layer.weightSpecs(shape).length) {
          weights = initialWeights(layer, shape, this.#initRng);
        }
        if (weights !== undefined) checkWeightList(layer.name, weights);
        layer.build(shape, weights, heap);
        shape = layer.outputShape;
      }
    } catch (e) {
      // A layer refused its config or weights: free what the layers before it uploaded, so a
      // failed build (e.g. of a corrupted file) leaks no device memory.
      for (const layer of this.layers) layer.dispose();
      throw e;
    }
    this.#built = true;
  }

  /** The declared input shape without batch (may contain null). */
  get inputShape(): Shape {
    return this.layers[0]?.outputShape ?? [];
  }

  /** The output shape without batch. */
  get outputShape(): Shape {
    return this.layers[this.layers.length - 1]?.outputShape ?? [];
  }

  /**
   * Runs the model. Chunks of at most `batchSize` samples run in one kernel call each; the result
   * is the same as one sample at a time.
   */
  predict(x: Tensor, options: PredictOptions = {}): Tensor {
    if (this.#disposed) throw new ModelConfigError(`model "${this.name}" was disposed`);
    if (!(x instanceof Tensor)) {
      throw new InputShapeError(this.name, "a Tensor", x === null ? "null" : typeof x);
    }
    if (typeof options !== "object" || options === null) {
      throw new InputShapeError(this.name, "options an object", String(options));
    }
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new InputShapeError(this.name, "batchSize a positive integer", String(batchSize));
    }
    this.#ensureBuilt(x);
    this.#checkInput(x);
    // Keras casts inputs to the model's dtype: int32 data for a model that does not start with
    // an Embedding is converted, never reinterpreted as float bits by the kernels.
    if (x.dtype === "int32" && !this.#takesIds()) {
      x = new Tensor(Float32Array.from(x.data), x.shape);
    }
    const n = x.shape[0];
    const step = Math.min(batchSize, this.#cacheChunk());
    let out: Float32Array | undefined;
    let outShape: number[] = [];
    for (let start = 0; start < n; start += step) {
      const end = Math.min(n, start + step);
      const y = this.#runBatch(x.sliceBatch(start, end));
      if (!out) {
        outShape = [n, ...y.shape.slice(1)];
        out = new Float32Array(sizeOf(outShape));
      }
      out.set(y.data as Float32Array, start * sizeOf(outShape.slice(1)));
    }
    if (!out) {
      // Empty batch: output shape from the static shapes (unknown dims → 0 values).
      outShape = [0, ...this.outputShape.map((d) => d ?? 0)];
      out = new Float32Array(0);
    }
    return new Tensor(out, outShape);
  }

  /**
   * Samples per kernel call that keep a feed-forward model's largest activation within
   * {@link CACHE_CHUNK_BYTES} per kernel thread (measured: the 1-conv seeds CNN at batch 64 ran
   * 10–15 % faster in chunks of 4–8 than in one call, and the others no slower). Recurrent
   * models take the whole batch: their per-step GEMMs have the batch as rows and lose more.
   * The result does not depend on it (every kernel's result is independent of the batch size).
   */
  #cacheChunk(): number {
    let largest = 0;
    for (const layer of this.layers) {
      if (layer instanceof RecurrentLayer || layer instanceof Bidirectional) return Infinity;
      const dims = layer.outputShape;
      if (dims.some((d) => d === null)) return Infinity;
      largest = Math.max(largest, sizeOf(dims as number[]) * 4);
    }
    if (largest === 0) return Infinity;
    return Math.max(1, Math.floor(CACHE_CHUNK_BYTES / largest)) * Math.max(1, kernelThreads());
  }

  /** Whether the first computing layer reads int32 token ids (an Embedding). */
  #takesIds(): boolean {
    return this.layers.find((l) => !(l instanceof InputLayer))?.className === "Embedding";
  }

  /** Builds a model without an InputLayer for the shape of its first input. */
  #ensureBuilt(x: Tensor): void {
    if (this.#built) return;
    if (this.layers.length === 0 || !(this.layers[0] instanceof InputLayer)) {
      this.layers.unshift(
        new InputLayer({ name: `${this.name}_input`, batch_shape: [null, ...x.shape.slice(1)] }, {
          kerasVersion: this.kerasVersion,
        }),
      );
    }
    this.#build((this.layers[0] as InputLayer).declaredShape);
  }

  #checkInput(x: Tensor): void {
    const declared = this.inputShape;
    const got = x.shape.slice(1);
    const ok = got.length === declared.length &&
      declared.every((d, i) => d === null || d === got[i]);
    if (!ok) {
      throw new InputShapeError(
        this.layers[0].name,
        formatShape(declared),
        `(${x.shape.join(", ")})`,
      );
    }
    if (x.data instanceof Float32Array) {
      for (let i = 0; i < x.data.length; i++) {
        if (!Number.isFinite(x.data[i])) {
          throw new InputShapeError(
            this.layers[0].name,
            "finite values",
            `${x.data[i]} at flat index ${i}`,
          );
        }
      }
    }
  }

  #runBatch(x: Tensor): Tensor {
    const { kernels, heap } = getRuntime();
    const ctx: CallContext = { kernels, heap, training: false };
    const owned = new Set<number>();
    let cur: DeviceTensor = { ptr: heap.upload(x.data), shape: [...x.shape], dtype: x.dtype };
    owned.add(cur.ptr);
    let mask: DeviceTensor | null = null;
    try {
      for (const layer of this.layers) {
        const next = layer.call(cur, mask, ctx);
        owned.add(next.ptr);
        const nextMask = layer.computeMask(cur, mask);
        if (nextMask) owned.add(nextMask.ptr);
        if (mask && nextMask?.ptr !== mask.ptr && next.ptr !== mask.ptr) {
          heap.free(mask.ptr);
          owned.delete(mask.ptr);
        }
        if (next.ptr !== cur.ptr && nextMask?.ptr !== cur.ptr) {
          heap.free(cur.ptr);
          owned.delete(cur.ptr);
        }
        cur = next;
        mask = nextMask;
      }
      const n = sizeOf(cur.shape);
      const data = cur.dtype === "int32"
        ? Float32Array.from(heap.i32(cur.ptr, n))
        : heap.f32(cur.ptr, n).slice();
      return new Tensor(data, cur.shape);
    } finally {
      for (const p of owned) heap.free(p);
    }
  }

  /** The config and weights as built, for saving. */
  toSpec(): ModelSpec {
    const weights: Record<string, WeightTensor[]> = {};
    for (const l of this.layers) {
      const w = l.getWeights();
      if (w.length) weights[l.name] = w;
    }
    return { config: this.#config, weights, kerasVersion: this.kerasVersion };
  }

  /** Total number of weight scalars. */
  countParams(): number {
    return this.layers.reduce((n, l) => n + l.countParams(), 0);
  }

  /** A Keras-style summary table. */
  summary(): string {
    const rows = this.layers.filter((l) =>
      !(l instanceof InputLayer) || this.className !== "Sequential"
    ).map((l) => [
      `${l.name} (${l.className})`,
      formatShape(l.outputShape),
      String(l.countParams()),
    ]);
    const head = ["Layer (type)", "Output Shape", "Param #"];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)) + 2);
    const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join("").trimEnd();
    const rule = "─".repeat(w.reduce((a, b) => a + b, 0));
    return [
      `Model: "${this.name}"`,
      rule,
      line(head),
      rule,
      ...rows.map(line),
      rule,
      `Total params: ${this.countParams()}`,
    ].join("\n");
  }

  // ---- training -------------------------------------------------------------------------

  /**
   * Configures training (Keras `compile`): optimizer (default Adam), loss, metrics. Recompiling
   * discards the previous optimizer state.
   */
  compile(options: CompileOptions): void {
    this.#alive();
    this.#trainer?.dispose();
    this.#trainer = undefined;
    this.#trainer = new Trainer(this, options, (x, field) => {
      if (!(x instanceof Tensor)) throw new InputShapeError(this.name, "a Tensor", typeof x);
      this.#ensureBuilt(x);
      try {
        this.#checkInput(x);
      } catch (e) {
        if (e instanceof InputShapeError) {
          throw new InputShapeError(e.layerName, `${e.expected} (${field})`, e.received);
        }
        throw e;
      }
    });
  }

  #compiled(what: string): Trainer {
    this.#alive();
    if (!this.#trainer) {
      throw new TrainingConfigError(what, `model "${this.name}" must be compiled first`);
    }
    return this.#trainer;
  }

  #alive(): void {
    if (this.#disposed) throw new ModelConfigError(`model "${this.name}" was disposed`);
  }

  /** The compiled optimizer (its `learningRate` can be changed between epochs). */
  get optimizer(): Optimizer {
    return this.#compiled("optimizer").optimizer;
  }

  /**
   * Trains the model (Keras `fit`): returns the per-epoch `history` (`loss`, metrics, `val_*`).
   * See {@link FitOptions}.
   */
  fit(x: Tensor, y: Tensor, options: FitOptions = {}): Promise<History> {
    return this.#compiled("fit").fit(x, y, options);
  }

  /** Loss and metrics over (x, y) in inference mode (Keras `evaluate`, as a record). */
  evaluate(x: Tensor, y: Tensor, options: EvaluateOptions = {}): Logs {
    return this.#compiled("evaluate").evaluate(x, y, options);
  }

  /** One gradient step on one batch; returns its loss and metrics (Keras `train_on_batch`). */
  trainOnBatch(x: Tensor, y: Tensor, sampleWeight?: Float32Array): Logs {
    return this.#compiled("trainOnBatch").trainOnBatch(x, y, sampleWeight);
  }

  /** Copies of every layer's current weights, in layer then Keras order (Keras `get_weights`). */
  getWeights(): LayerWeight[] {
    this.#alive();
    return this.layers.flatMap((l) =>
      l.getWeights().map((w) => ({
        name: `${l.name}/${w.name}`,
        shape: [...w.shape],
        data: w.data.slice(),
      }))
    );
  }

  /** Replaces every layer's weights from a list shaped like {@link getWeights}' (Keras `set_weights`). */
  setWeights(weights: LayerWeight[]): void {
    this.#alive();
    const counts = this.layers.map((l) => l.getWeights().length);
    const total = counts.reduce((a, b) => a + b, 0);
    if (!Array.isArray(weights) || weights.length !== total) {
      throw new ModelConfigError(
        `setWeights: model "${this.name}" has ${total} weight arrays, received ${
          Array.isArray(weights) ? weights.length : typeof weights
        }`,
      );
    }
    let k = 0;
    this.layers.forEach((l, i) => {
      const mine = weights.slice(k, k + counts[i]);
      k += counts[i];
      if (mine.length) {
        l.setWeights(mine.map((w, j) => ({ ...w, name: l.getWeights()[j].name })));
      }
    });
  }

  /** Frees the weights' device memory; the model cannot predict afterwards. */
  dispose(): void {
    this.#trainer?.dispose();
    this.#trainer = undefined;
    for (const l of this.layers) l.dispose();
    this.#disposed = true;
  }
}

/** Refuses weight lists that are not `{ name, shape, data: Float32Array }` entries. */
function checkWeightList(layerName: string, weights: unknown): void {
  if (!Array.isArray(weights)) {
    throw new WeightShapeError(layerName, "(list)", "an array of weights", typeof weights);
  }
  weights.forEach((w, i) => {
    const name = typeof w?.name === "string" ? w.name : `#${i}`;
    if (typeof w !== "object" || w === null) {
      throw new WeightShapeError(layerName, name, "{ name, shape, data }", String(w));
    }
    const shapeOk = Array.isArray(w.shape) &&
      w.shape.every((d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0);
    if (!shapeOk) {
      throw new WeightShapeError(layerName, name, "non-negative integers", String(w.shape));
    }
    if (!(w.data instanceof Float32Array)) {
      const got = w.data === null || typeof w.data !== "object"
        ? String(w.data)
        : String(w.data.constructor?.name);
      throw new WeightShapeError(layerName, name, "data as a Float32Array", got);
    }
  });
}

/**
 * Builds an engine model from a Keras config and weights. With `{ initialize: { seed } }`,
 * layers missing from `spec.weights` get freshly initialized weights (Keras initializers, seeded).
 */
export function buildModel(spec: ModelSpec, options: ModelBuildOptions = {}): Model {
  return new Model(spec, options);
}

interface LayerObject {
  class_name: string;
  config?: Record<string, unknown>;
  name?: string;
  inbound_nodes?: unknown;
}

/** The layer objects of a Sequential list, or of a Functional chain in execution order. */
function orderedLayerObjects(model: KerasObject): LayerObject[] {
  const cfg = model.config ?? {};
  const layers = (Array.isArray(cfg) ? cfg : cfg.layers) as LayerObject[] | undefined;
  if (!Array.isArray(layers)) {
    throw new ModelConfigError(`model "${cfg.name}": config.layers is not a list`);
  }
  for (const l of layers) {
    if (!l || typeof l.class_name !== "string") {
      throw new ModelConfigError(`model "${cfg.name}": a layer entry has no class_name`);
    }
  }
  if (model.class_name === "Sequential") return layers;
  // Functional: follow inbound nodes from the single input to the single output.
  const byName = new Map<string, LayerObject>();
  for (const l of layers) byName.set(layerName(l), l);
  const next = new Map<string, string>();
  for (const l of layers) {
    const inbound = inboundNames(l);
    if (inbound.length > 1) {
      throw new ModelConfigError(
        `model "${cfg.name}": layer "${
          layerName(l)
        }" has ${inbound.length} inputs; only chains of layers are supported`,
      );
    }
    if (inbound.length === 1) {
      if (next.has(inbound[0])) {
        throw new ModelConfigError(
          `model "${cfg.name}": layer "${
            inbound[0]
          }" feeds more than one layer; only chains are supported`,
        );
      }
      next.set(inbound[0], layerName(l));
    }
  }
  const roots = layers.filter((l) => inboundNames(l).length === 0);
  if (roots.length !== 1) {
    throw new ModelConfigError(
      `model "${cfg.name}": expected one input layer, found ${roots.length}`,
    );
  }
  const order: LayerObject[] = [];
  let cur: string | undefined = layerName(roots[0]);
  while (cur !== undefined) {
    const obj = byName.get(cur);
    if (!obj || order.includes(obj)) break;
    order.push(obj);
    cur = next.get(cur);
  }
  if (order.length !== layers.length) {
    throw new ModelConfigError(`model "${cfg.name}": layers are not a single chain`);
  }
  return order;
}

function layerName(l: LayerObject): string {
  return String(l.config?.name ?? l.name ?? l.class_name);
}

/** Names of the layers feeding `l`, in Keras 2 (`[[["name", 0, 0, {}]]]`) or Keras 3 form. */
function inboundNames(l: LayerObject): string[] {
  const nodes = l.inbound_nodes;
  if (!Array.isArray(nodes) || nodes.length === 0) return [];
  if (nodes.length > 1) {
    throw new ModelConfigError(
      `layer "${layerName(l)}" is called ${nodes.length} times; shared layers are not supported`,
    );
  }
  const node = nodes[0] as unknown;
  const names: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      if (typeof v[0] === "string" && typeof v[1] === "number") names.push(v[0]);
      else v.forEach(visit);
    } else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (o.class_name === "__keras_tensor__") {
        const hist = (o.config as Record<string, unknown>)?.keras_history as unknown[] | undefined;
        if (Array.isArray(hist) && typeof hist[0] === "string") names.push(hist[0]);
        return;
      }
      if (Array.isArray(o.args)) o.args.forEach(visit);
      // Keras 3 passes a `mask` kwarg tensor too; it is not a data input.
    }
  };
  visit(node);
  return [...new Set(names)];
}
