/**
 * The base class every engine layer extends (one layer class per file under `layers/`).
 *
 * A layer is built from its Keras `config` and the declared input shape, receives its weights in
 * Keras order, keeps them resident in the kernel module's memory, and runs `call` on device
 * tensors. Room for training: `call` receives `ctx.training`, and a layer may keep what its
 * backward step needs in `ctx.tape` (added by the trainer).
 */
import type { ConvAlgorithm } from "./winograd.ts";
import type { Activation } from "./activations.ts";
import { InputShapeError, LayerConfigError, WeightShapeError } from "./errors.ts";
import type { KernelExports } from "./wasm/kernels.ts";
import type { WasmHeap } from "./wasm/heap.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "./tensor.ts";

/** One weight array as Keras stores it. */
export interface WeightTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** The name and shape a layer expects for one of its weights. */
export interface WeightSpec {
  name: string;
  shape: number[];
}

/** Everything a layer's `call` may use. */
export interface CallContext {
  kernels: KernelExports;
  heap: WasmHeap;
  /** Training mode (Dropout active, BatchNormalization batch statistics); false for predict. */
  training: boolean;
  /** Per-call storage for a backward step, keyed by layer; absent at inference. */
  tape?: Map<Layer, unknown>;
}

/** Options every layer constructor receives besides its config. */
export interface LayerBuildOptions {
  /** keras_version of the source file; selects version-dependent semantics. */
  kerasVersion?: string;
  /** Conv2D's inference method (default "auto"; see `ConvAlgorithm` in winograd.ts). */
  convAlgorithm?: ConvAlgorithm;
  /**
   * Builds a layer from a nested Keras object (`{class_name, config}`), for wrappers such as
   * Bidirectional; set by the graph builder from the layer registry. Throws
   * `UnsupportedLayerError` for an unknown class.
   */
  createLayer?: (
    object: { class_name: string; config: LayerConfig },
    options: LayerBuildOptions,
  ) => Layer;
}

/**
 * One group of a layer's variables in a Keras 3 `.keras` weights file (`model.weights.h5`).
 * Keras writes each tracked object's variables as `<object>/vars/0..n-1` and names the `vars`
 * group after the object (its `name` attribute).
 */
export interface KerasVarGroup {
  /** Path below the layer's own group `layers/<key>`: `"vars"`, `"cell/vars"`, … */
  path: string;
  /** Index of the group's first weight in {@link Layer.weightNames} order. */
  start: number;
  /** How many weights the group holds (0 for an object that only owns sub-objects). */
  count: number;
  /** The group's `name` attribute; default the layer's name. */
  objectName?: string;
  /**
   * Other paths (same base) where some Keras versions keep this group; readers try them in order
   * when `path` is absent (MultiHeadAttention's `_query_dense/vars` before its public aliases).
   */
  alternatePaths?: readonly string[];
}

/** A Keras config object: `config` of `{class_name, config}`. */
export type LayerConfig = Record<string, unknown>;

/**
 * What a batch-statistics layer normalises a training batch split over threads with: the whole
 * batch's statistics (as one thread would; such a model trains on one thread), or each thread's
 * slice's own, as Keras's `BatchNormalization(synchronized=False)` does on each replica of a
 * distribution strategy.
 */
export type BatchStatistics = "whole-batch" | "per-thread";

/** Largest window size, stride or dilation rate a layer config may ask for. */
const MAX_WINDOW = 65535;

/** Base of all layers. Subclasses implement the shape rules, weight specs and `call`. */
export abstract class Layer {
  readonly name: string;
  readonly className: string;
  readonly config: LayerConfig;
  readonly kerasVersion?: string;
  /** Input shape without batch (set by `build`; the first input's for a multi-input layer). */
  inputShape: Shape = [];
  /** Every input's shape without batch (set by `build`; one entry for single-input layers). */
  inputShapes: Shape[] = [];
  /** Output shape without batch (set by `build`). */
  outputShape: Shape = [];
  /** Host copies of the weights, Keras order. */
  protected hostWeights: WeightTensor[] = [];
  /** Device pointers of the weights, same order. */
  protected weightPtrs: number[] = [];
  #heap?: WasmHeap;
  /** Set when the trainer changed the device weights: host copies are refreshed on demand. */
  #hostStale = false;
  #weightsVersion = 0;

  constructor(className: string, config: LayerConfig, options: LayerBuildOptions = {}) {
    this.className = className;
    this.config = config;
    this.name = typeof config.name === "string" ? config.name : className.toLowerCase();
    this.kerasVersion = options.kerasVersion;
  }

  /** Output shape for an input shape (no batch dim); validates the input rank. */
  abstract computeOutputShape(inputShape: Shape): Shape;

  /**
   * Whether one call takes a list of tensors (merge layers: Add, Concatenate, …). Such layers
   * override {@link computeOutputShapes}, {@link callInputs} and {@link computeMasks}; single-input
   * layers implement {@link computeOutputShape}, {@link call} and {@link computeMask}.
   */
  get multiInput(): boolean {
    return false;
  }

  /**
   * Tells the layer how a call of it in a Keras 3 config passes its input tensors (set by the
   * graph builder, once per call, before the model is built). `names` is aligned with the call's
   * inputs: `"0"`, `"1"`, … for positional arguments, the keyword for keyword arguments; null for
   * Keras 2 / TF.js nodes, which do not say. `kwargs` are the call's keyword arguments as written
   * (`use_causal_mask`, …). Default: ignored; layers whose inputs play different roles
   * (MultiHeadAttention's query / value / key / attention_mask) override it.
   */
  bindCallArguments(
    _names: readonly string[] | null,
    _kwargs: Readonly<Record<string, unknown>>,
  ): void {}

  /** Output shape for the shapes of every input of one call (no batch dims). */
  computeOutputShapes(inputShapes: Shape[]): Shape {
    if (inputShapes.length !== 1) {
      throw new InputShapeError(this.name, "one input tensor", `${inputShapes.length} tensors`);
    }
    return this.computeOutputShape(inputShapes[0]);
  }

  /**
   * How many tensors one call of the layer returns (Keras `return_state`, MultiHeadAttention's
   * `return_attention_scores`): 1 for most layers. A layer returning more implements
   * {@link computeOutputShapeList} and {@link callOutputs}; the graph gives each further output a
   * node of its own (`GraphNode.outputIndex`).
   */
  get outputCount(): number {
    return 1;
  }

  /**
   * The shapes of every output of one call (no batch dims), for the shapes of its inputs; the
   * first is {@link computeOutputShapes}'s. Multi-output layers override it.
   */
  computeOutputShapeList(inputShapes: Shape[]): Shape[] {
    return [this.computeOutputShapes(inputShapes)];
  }

  /**
   * Runs one call returning every output ({@link outputCount} tensors, the first the one
   * {@link callInputs} returns). Default: `[callInputs(…)]`. Outputs after the first carry no
   * mask. Two outputs may share one buffer (a GRU's last output and its state).
   */
  callOutputs(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
  ): DeviceTensor[] {
    return [this.callInputs(xs, masks, ctx)];
  }

  /** Runs one call on every input tensor of the call (default: the single-input {@link call}). */
  callInputs(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
  ): DeviceTensor {
    return this.call(xs[0], masks[0] ?? null, ctx);
  }

  /** The output mask of one call from every input and input mask (default {@link computeMask}). */
  computeMasks(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
  ): DeviceTensor | null {
    return this.computeMask(xs[0], masks[0] ?? null);
  }

  /**
   * Weights this layer expects for `inputShape`, in Keras order, named as {@link weightNames}
   * names them.
   */
  weightSpecs(_inputShape: Shape): WeightSpec[] {
    return [];
  }

  /**
   * Keras weight names from the config alone, in `layer.get_weights()` order (trainable, then
   * non-trainable; wrappers prefix their sublayers' names, `forward/kernel`). Default: none.
   */
  weightNames(): string[] {
    return [];
  }

  /**
   * Where Keras 3 keeps this layer's weights in a `.keras` file, relative to `layers/<key>`, in
   * the order Keras writes the groups. Default: all weights in `vars`.
   */
  kerasVarGroups(): KerasVarGroup[] {
    return [{ path: "vars", start: 0, count: this.weightNames().length }];
  }

  /**
   * This layer's own initial value for one weight, or undefined for the initializer Keras layers
   * share for that weight name (`kernel` ← `kernel_initializer`, glorot_uniform; `bias` ←
   * `bias_initializer`, zeros; … in `training/initializers.ts`). A layer overrides it for weights
   * of its class alone (PReLU's `alpha`, Normalization's adapt state) and for Keras initializer
   * quirks (LSTM's `unit_forget_bias`). `init(shape, initializer?)` draws seeded values from
   * `initializer` — a Keras config value (`"zeros"`, `{class_name, config}`) — or, when it is
   * omitted, from the weight's shared initializer.
   */
  initialWeight(
    _name: string,
    _shape: readonly number[],
    _init: (shape: number[], initializer?: unknown) => Float32Array,
  ): Float32Array | undefined {
    return undefined;
  }

  /**
   * Whether `predict` should run the whole batch in one call rather than cache-sized chunks
   * (recurrent layers: their per-step products have the batch as rows).
   */
  get prefersWholeBatch(): boolean {
    return false;
  }

  /** Whether the layer reads int32 ids as they are (Embedding); other layers get floats. */
  get readsIds(): boolean {
    return false;
  }

  /**
   * Whether the training forward couples the samples of a batch (a trainable
   * BatchNormalization's batch statistics), so a batch cannot be split across workers.
   * `statistics: "per-thread"` asks whether it still does when each thread may normalise its own
   * slice, as Keras's `BatchNormalization(synchronized=False)` does under a distribution
   * strategy: only a layer that insists on whole-batch statistics answers true then.
   */
  couplesSamples(_statistics: BatchStatistics = "whole-batch"): boolean {
    return false;
  }

  /**
   * Whether the training forward writes the layer's non-trainable weights from the batch it sees
   * (BatchNormalization's moving statistics): threads that each saw a slice merge them.
   */
  updatesStateInTraining(): boolean {
    return false;
  }

  /** Runs the layer on a device tensor; returns a new tensor (or `x` itself for identity). */
  abstract call(x: DeviceTensor, mask: DeviceTensor | null, ctx: CallContext): DeviceTensor;

  /** The mask for the next layer; default: layers end the mask. */
  computeMask(_x: DeviceTensor, _mask: DeviceTensor | null): DeviceTensor | null {
    return null;
  }

  /** Validates `weights` against the specs for `inputShape` and uploads them. */
  build(inputShape: Shape, weights: WeightTensor[] | undefined, heap: WasmHeap): void {
    this.buildInputs([inputShape], weights, heap);
  }

  /**
   * {@link build} for the shapes of every input of a call (merge layers take several). Weight
   * specs follow the first input's shape.
   */
  buildInputs(inputShapes: Shape[], weights: WeightTensor[] | undefined, heap: WasmHeap): void {
    const inputShape = inputShapes[0] ?? [];
    this.inputShapes = inputShapes.map((s) => [...s]);
    this.inputShape = [...inputShape];
    this.outputShape = this.computeOutputShapes(inputShapes);
    const specs = this.weightSpecs(inputShape);
    const given = weights ?? [];
    if (given.length !== specs.length) {
      throw new WeightShapeError(
        this.name,
        "(count)",
        `${specs.length} arrays (${
          specs.map((s) => `${s.name}[${s.shape}]`).join(", ") || "none"
        })`,
        `${given.length} arrays`,
      );
    }
    specs.forEach((spec, i) => {
      const w = given[i];
      const same = w.shape.length === spec.shape.length &&
        w.shape.every((d, j) => d === spec.shape[j]);
      if (!same) throw new WeightShapeError(this.name, spec.name, spec.shape, w.shape);
      if (w.data.length !== sizeOf(spec.shape)) {
        throw new WeightShapeError(
          this.name,
          spec.name,
          `${sizeOf(spec.shape)} values`,
          `${w.data.length} values`,
        );
      }
    });
    this.releaseWeights();
    this.#heap = heap;
    this.hostWeights = given.map((w, i) => ({
      name: w.name || specs[i].name,
      shape: [...w.shape],
      data: w.data,
    }));
    this.weightPtrs = given.map((w) => heap.upload(w.data));
    this.#hostStale = false;
    this.#weightsVersion++;
    this.afterBuild(heap);
  }

  /**
   * Counts the changes of the weights' values (each build or `setWeights`, each
   * {@link weightsUpdated}): copies derived from them elsewhere (the folded weights of
   * inference-time fusion, `fusion.ts`) compare it to know when to rebuild.
   */
  get weightsVersion(): number {
    return this.#weightsVersion;
  }

  /** Hook for layers that pack or derive device data from their weights (e.g. BN scale/shift). */
  protected afterBuild(_heap: WasmHeap): void {}

  /** The weights (Keras order): as given, or their current values after training changed them. */
  getWeights(): WeightTensor[] {
    if (this.#hostStale && this.#heap) {
      const heap = this.#heap;
      this.hostWeights = this.hostWeights.map((w, i) => ({
        name: w.name,
        shape: [...w.shape],
        data: heap.f32(this.weightPtrs[i], w.data.length).slice(),
      }));
      this.#hostStale = false;
    }
    return this.hostWeights;
  }

  // ---- training support (used by src/training; forward code does not depend on it) ----------

  /** Device pointers of the weights in Keras order (valid until the next `build`/`dispose`). */
  deviceWeights(): readonly number[] {
    return this.weightPtrs;
  }

  /**
   * Replaces the weights' values with arrays of the same shapes (Keras `set_weights`), rebuilding
   * derived device data. Throws {@link WeightShapeError} naming the layer and weight otherwise.
   */
  setWeights(weights: WeightTensor[]): void {
    if (!this.#heap) {
      throw new LayerConfigError(this.name, "weights", "the layer is not built yet");
    }
    this.buildInputs(
      this.inputShapes.length ? this.inputShapes : [this.inputShape],
      weights.map((w) => ({ ...w, data: Float32Array.from(w.data) })),
      this.#heap,
    );
  }

  /**
   * Tells the layer that its device weights were changed in place (an optimizer step): host
   * copies are refreshed lazily by `getWeights`.
   */
  weightsUpdated(): void {
    this.#hostStale = true;
    this.#weightsVersion++;
  }

  /**
   * Keras `layer.trainable`: whether `fit` updates this layer's weights (and, for
   * BatchNormalization, whether it uses batch statistics). Kept in the config, so a saved model
   * keeps it. A model also freezes the layers of a nested model that is not trainable.
   */
  get trainable(): boolean {
    return this.config.trainable !== false;
  }

  set trainable(value: boolean) {
    this.config.trainable = value;
  }

  /**
   * Per weight (Keras order): whether it is a trainable variable. Default all; layers with
   * statistics updated by other means (BatchNormalization's moving mean and variance) override.
   */
  weightTrainable(): boolean[] {
    return this.weightSpecs(this.inputShape).map(() => true);
  }

  /** Number of scalars in the weights. */
  countParams(): number {
    return this.weightSpecs(this.inputShape).reduce((n, s) => n + sizeOf(s.shape), 0);
  }

  /** Frees device memory held by the weights. */
  dispose(): void {
    this.releaseWeights();
  }

  protected releaseWeights(): void {
    for (const p of this.weightPtrs) this.#heap?.free(p);
    this.weightPtrs = [];
  }

  // ---- helpers for subclasses -------------------------------------------------------------

  /** A config field that must be a number (integer when `integer`). */
  protected num(field: string, fallback?: number, integer = false): number {
    const v = this.config[field] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
      throw new LayerConfigError(
        this.name,
        field,
        `expected ${integer ? "an integer" : "a number"}, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  }

  /** A config field that must be a boolean. */
  protected bool(field: string, fallback: boolean): boolean {
    const v = this.config[field] ?? fallback;
    if (typeof v !== "boolean") {
      throw new LayerConfigError(
        this.name,
        field,
        `expected true or false, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  }

  /** A config field that must be one of `allowed` strings. */
  protected oneOf<T extends string>(field: string, allowed: readonly T[], fallback: T): T {
    const v = this.config[field] ?? fallback;
    if (typeof v !== "string" || !allowed.includes(v as T)) {
      throw new LayerConfigError(
        this.name,
        field,
        `expected one of ${allowed.join(" | ")}, got ${JSON.stringify(v)}`,
      );
    }
    return v as T;
  }

  /** An integer or an n-tuple of integers (Keras accepts both for kernel_size, strides, …). */
  protected intTuple(field: string, n: number, fallback?: number | number[]): number[] {
    const v = this.config[field] ?? fallback;
    const arr = typeof v === "number" ? new Array(n).fill(v) : v;
    // Window sizes, strides and dilations reach the kernels as 32-bit integers and multiply
    // each other there: a corrupted file's 1e15 would overflow them (and take seconds per call).
    const ok = (d: unknown) =>
      Number.isInteger(d) && (d as number) > 0 && (d as number) <= MAX_WINDOW;
    if (!Array.isArray(arr) || arr.length !== n || !arr.every(ok)) {
      throw new LayerConfigError(
        this.name,
        field,
        `expected ${n} positive integers up to ${MAX_WINDOW}, got ${JSON.stringify(v)}`,
      );
    }
    return arr as number[];
  }

  /** Throws unless `shape` has exactly `rank` dims (no batch). */
  protected expectRank(shape: Shape, rank: number, what = ""): void {
    if (shape.length !== rank) {
      throw new InputShapeError(
        this.name,
        `rank ${rank + 1} ${what}(batch + ${rank} dims)`.trim(),
        formatShape(shape),
      );
    }
  }

  /** Allocates an output tensor. */
  protected allocOutput(ctx: CallContext, shape: number[]): DeviceTensor {
    return { ptr: ctx.heap.alloc(sizeOf(shape) * 4), shape, dtype: "float32" };
  }
}

/**
 * Base of layers whose one run can return several tensors (`return_state`,
 * `return_attention_scores`): `call`, `callInputs` and `callOutputs` all go through
 * {@link MultiOutputLayer.runOutputs}.
 */
export abstract class MultiOutputLayer extends Layer {
  /** One run on every input of a call: the first output, then (with `all`) the others. */
  abstract runOutputs(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
    all: boolean,
  ): DeviceTensor[];

  call(x: DeviceTensor, mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    return this.runOutputs([x], [mask], ctx, false)[0];
  }

  override callInputs(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
  ): DeviceTensor {
    return this.runOutputs(xs, masks, ctx, false)[0];
  }

  override callOutputs(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
  ): DeviceTensor[] {
    return this.runOutputs(xs, masks, ctx, this.outputCount > 1);
  }
}

/** Applies a resolved activation in place to a device tensor (last axis for softmax). */
export function applyActivation(ctx: CallContext, t: DeviceTensor, act: Activation): void {
  const n = sizeOf(t.shape);
  if (act.kind === "elementwise") ctx.kernels.activate(t.ptr, n, act.code, act.alpha);
  else {
    const cols = t.shape[t.shape.length - 1];
    ctx.kernels.softmaxRows(t.ptr, n / cols, cols, act.kind === "log_softmax" ? 1 : 0);
  }
}
