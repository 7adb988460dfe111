import {
  type CallContext,
  Layer,
  type LayerBuildOptions,
  type LayerConfig,
  type WeightSpec,
  type WeightTensor,
} from "../layer.ts";
import { InputShapeError, LayerConfigError } from "../errors.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf, type Tensor } from "../tensor.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import { configArray } from "./rescaling.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** Keras `backend.epsilon()`: the floor of the standard deviation Normalization divides by. */
export const NORMALIZATION_EPSILON = 1e-7;

/** Mean and (population) variance over every axis of `shape` but `keepAxes` (full-rank axes). */
export interface NormalizationStats {
  mean: Float32Array;
  variance: Float32Array;
  /** Shape of the kept axes (Keras `mean_and_var_shape`). */
  shape: number[];
}

/** One adapt-state weight before `adapt()`: variance 1, mean and count 0 (Keras's values). */
function unadaptedState(name: string, shape: readonly number[]): Float32Array {
  return new Float32Array(sizeOf(shape)).fill(name === "variance" ? 1 : 0);
}

/**
 * What Keras's `Normalization.adapt` computes for one array: mean and variance (ddof 0) over
 * every axis except `keepAxes` (non-negative, sorted, of the full shape including batch), in
 * float64.
 */
export function normalizationStats(
  data: ArrayLike<number>,
  shape: readonly number[],
  keepAxes: readonly number[],
): NormalizationStats {
  const kept = keepAxes.map((a) => shape[a]);
  const size = sizeOf(kept);
  const sum = new Float64Array(size), sq = new Float64Array(size);
  const index = keptIndexMap(shape, keepAxes);
  const count = data.length / size;
  for (let i = 0; i < data.length; i++) sum[index(i)] += data[i];
  const mean = sum.map((s) => s / count);
  for (let i = 0; i < data.length; i++) {
    const d = data[i] - mean[index(i)];
    sq[index(i)] += d * d;
  }
  return {
    mean: Float32Array.from(mean),
    variance: Float32Array.from(sq, (s) => s / count),
    shape: kept,
  };
}

/** Element index (row-major over `shape`) → index over the kept axes. */
function keptIndexMap(
  shape: readonly number[],
  keepAxes: readonly number[],
): (i: number) => number {
  const rank = shape.length;
  const suffix = keepAxes.every((a, j) => a === rank - keepAxes.length + j);
  if (suffix) {
    const size = sizeOf(keepAxes.map((a) => shape[a]));
    return (i) => i % size;
  }
  const strides = shape.map((_, a) => sizeOf(shape.slice(a + 1)));
  const keptStrides = keepAxes.map((_, j) => sizeOf(keepAxes.slice(j + 1).map((a) => shape[a])));
  return (i) => {
    let k = 0;
    keepAxes.forEach((a, j) => {
      k += (Math.floor(i / strides[a]) % shape[a]) * keptStrides[j];
    });
    return k;
  };
}

/**
 * Keras `Normalization`: `y = (x − mean) / max(√variance, ε)` (ε = 1e-7), or with `invert`
 * `y = mean + x·max(√variance, ε)`, with one mean and variance per index of the `axis` axes
 * (default −1; null: one scalar). `mean` / `variance` come from the config (broadcast to the kept
 * axes right-aligned, as Keras), or — config `mean: null` — from the layer's adapt state: the
 * non-trainable variables `mean`, `variance` (shape of the kept axes) and `count` (scalar) Keras 3
 * saves in that order, which {@link adapt} computes from data.
 */
export class Normalization extends Layer {
  /** The kept axes as written in the config (may be negative; empty for axis null). */
  readonly axis: number[];
  readonly invert: boolean;
  /** Config mean / variance (flattened, with their shape), or null when adapted. */
  readonly configMean: { values: number[]; shape: number[] } | null;
  readonly configVariance: { values: number[]; shape: number[] } | null;
  #mean: Float32Array = new Float32Array(1);
  #scale: Float32Array = new Float32Array(1);
  #index: (i: number) => number = () => 0;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Normalization", config, options);
    const axis = config.axis === undefined ? -1 : config.axis;
    const list = axis === null ? [] : Array.isArray(axis) ? axis : [axis];
    if (!list.every((a) => Number.isInteger(a))) {
      throw new LayerConfigError(
        this.name,
        "axis",
        `expected an integer, a list of integers or null, got ${JSON.stringify(axis)}`,
      );
    }
    this.axis = list as number[];
    this.invert = this.bool("invert", false);
    const given = (f: string) => config[f] !== undefined && config[f] !== null;
    if (given("mean") !== given("variance")) {
      throw new LayerConfigError(
        this.name,
        "mean",
        "mean and variance must be given together (or both null for an adapted layer)",
      );
    }
    this.configMean = given("mean") ? this.#array("mean") : null;
    this.configVariance = given("variance") ? this.#array("variance") : null;
    if (
      this.configMean && this.configVariance &&
      this.configMean.shape.join() !== this.configVariance.shape.join()
    ) {
      throw new LayerConfigError(
        this.name,
        "variance",
        `expected the shape of mean ${formatShape(this.configMean.shape)}, got ${
          formatShape(this.configVariance.shape)
        }`,
      );
    }
    if (this.configMean && this.configMean.shape.length > this.axis.length) {
      throw new LayerConfigError(
        this.name,
        "mean",
        `rank ${this.configMean.shape.length} is more than the ${this.axis.length} kept axes`,
      );
    }
  }

  #array(field: string): { values: number[]; shape: number[] } {
    const a = configArray(this.config[field]);
    if (!a) {
      throw new LayerConfigError(
        this.name,
        field,
        `expected a number or nested lists of numbers, got ${JSON.stringify(this.config[field])}`,
      );
    }
    return a;
  }

  /** Whether the statistics are the layer's variables (config mean null) rather than config. */
  get adapted(): boolean {
    return this.configMean === null;
  }

  /** The kept axes of the full input (batch included) for input shape `inputShape`, sorted. */
  keepAxes(inputShape: Shape): number[] {
    const rank = inputShape.length + 1;
    const axes = this.axis.map((a) => (a < 0 ? a + rank : a));
    for (const a of axes) {
      if (a < 1 || a >= rank || inputShape[a - 1] === null) {
        throw new InputShapeError(
          this.name,
          `a known dimension at axis ${a} (axis ${JSON.stringify(this.axis)})`,
          formatShape(inputShape),
        );
      }
    }
    return [...new Set(axes)].sort((p, q) => p - q);
  }

  /** Shape of mean and variance: the input's dims at the kept axes. */
  statsShape(inputShape: Shape): number[] {
    return this.keepAxes(inputShape).map((a) => inputShape[a - 1] as number);
  }

  computeOutputShape(inputShape: Shape): Shape {
    const kept = this.statsShape(inputShape);
    if (this.configMean) {
      const shape = this.configMean.shape;
      shape.forEach((d, i) => {
        const target = kept[kept.length - shape.length + i];
        if (d !== 1 && d !== target) {
          throw new InputShapeError(
            this.name,
            `kept dims that mean ${formatShape(shape)} broadcasts to`,
            formatShape(inputShape),
          );
        }
      });
    }
    return [...inputShape];
  }

  override weightNames(): string[] {
    return this.adapted ? ["mean", "variance", "count"] : [];
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    if (!this.adapted) return [];
    const shape = this.statsShape(inputShape);
    return [{ name: "mean", shape }, { name: "variance", shape }, { name: "count", shape: [] }];
  }

  /**
   * The adapt state before `adapt()`, as Keras creates it (fixed initializers, no config field):
   * mean 0, variance 1, count 0.
   */
  override initialWeight(
    name: string,
    shape: readonly number[],
    _init?: (shape: number[], initializer?: unknown) => Float32Array,
  ): Float32Array | undefined {
    if (name !== "mean" && name !== "variance" && name !== "count") return undefined;
    return unadaptedState(name, shape);
  }

  /** All three adapt variables are non-trainable (Keras `trainable=False`). */
  override weightTrainable(): boolean[] {
    return this.weightSpecs(this.inputShape).map(() => false);
  }

  /** Builds; an adapted layer given no weights starts as Keras's: mean 0, variance 1, count 0. */
  override buildInputs(
    inputShapes: Shape[],
    weights: WeightTensor[] | undefined,
    heap: WasmHeap,
  ): void {
    let given = weights;
    if (given === undefined && this.adapted && inputShapes[0]) {
      given = this.weightSpecs(inputShapes[0]).map((s) => ({
        name: s.name,
        shape: [...s.shape],
        data: unadaptedState(s.name, s.shape),
      }));
    }
    super.buildInputs(inputShapes, given, heap);
  }

  protected override afterBuild(): void {
    const kept = this.statsShape(this.inputShape);
    const size = sizeOf(kept);
    let mean: Float32Array, variance: Float32Array;
    if (this.adapted) {
      const w = this.getWeights();
      mean = Float32Array.from(w[0].data);
      variance = Float32Array.from(w[1].data);
    } else {
      mean = broadcastTo(this.configMean!, kept);
      variance = broadcastTo(this.configVariance!, kept);
    }
    this.#mean = mean.length === size ? mean : new Float32Array(size).fill(mean[0]);
    this.#scale = Float32Array.from(
      { length: size },
      (_, i) =>
        Math.max(
          Math.sqrt(variance.length === size ? variance[i] : variance[0]),
          NORMALIZATION_EPSILON,
        ),
    );
    const sample = this.inputShape;
    const axes = this.keepAxes(sample).map((a) => a - 1);
    if (sample.some((d) => d === null)) {
      // Unknown dims: only trailing kept axes index by a modulo (keepAxes checked them known).
      const rank = sample.length;
      if (!axes.every((a, j) => a === rank - axes.length + j)) {
        throw new InputShapeError(
          this.name,
          "known dimensions (the kept axes are not the last ones)",
          formatShape(sample),
        );
      }
      this.#index = (i) => i % size;
    } else {
      const per = sizeOf(sample as number[]);
      const map = keptIndexMap(sample as number[], axes);
      const table = Int32Array.from({ length: per }, (_, p) => map(p));
      this.#index = (i) => table[i % per];
    }
  }

  /** The mean and the divisor `max(√variance, ε)` per kept index (what `call` applies). */
  statistics(): { mean: Float32Array; scale: Float32Array } {
    return { mean: this.#mean.slice(), scale: this.#scale.slice() };
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const n = sizeOf(x.shape);
    const y = this.allocOutput(ctx, [...x.shape]);
    const xs = ctx.heap.f32(x.ptr, n), ys = ctx.heap.f32(y.ptr, n);
    const m = this.#mean, s = this.#scale, index = this.#index;
    if (this.invert) { for (let i = 0; i < n; i++) ys[i] = m[index(i)] + xs[i] * s[index(i)]; }
    else for (let i = 0; i < n; i++) ys[i] = (xs[i] - m[index(i)]) / s[index(i)];
    return y;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }

  /** dx = dy / max(√variance, ε) (dy·max(√variance, ε) with invert), in place allowed. */
  inputGrad(dy: Float32Array, dx: Float32Array): void {
    const s = this.#scale, index = this.#index;
    if (this.invert) { for (let i = 0; i < dy.length; i++) dx[i] = dy[i] * s[index(i)]; }
    else for (let i = 0; i < dy.length; i++) dx[i] = dy[i] / s[index(i)];
  }

  /**
   * Keras `adapt(data)`: sets `mean` and `variance` to the statistics of `data` (any batch of
   * inputs, batch axis first) over every axis except the kept ones; `count` is left as it is, as
   * Keras 3 does. The layer must be built (part of a model) and adapted (config mean null).
   */
  adapt(data: Tensor): void {
    if (!this.adapted) {
      throw new LayerConfigError(
        this.name,
        "mean",
        "adapt() needs mean and variance null in the config (they are given)",
      );
    }
    const sample = this.inputShape;
    const shape = [...data.shape];
    const keep = this.keepAxes(sample);
    const matches = shape.length === sample.length + 1 &&
      keep.every((a) => shape[a] === sample[a - 1]);
    if (!matches) {
      throw new InputShapeError(
        this.name,
        `adapt data of shape [batch, ${sample.map((d) => d ?? "any").join(", ")}]`,
        `[${shape.join(", ")}]`,
      );
    }
    const stats = normalizationStats(data.data, shape, keep);
    const w = this.getWeights();
    this.setWeights([
      { name: "mean", shape: [...w[0].shape], data: stats.mean },
      { name: "variance", shape: [...w[1].shape], data: stats.variance },
      { name: "count", shape: [], data: Float32Array.from(w[2].data) },
    ]);
  }
}

/** A config array broadcast to `kept` by aligning its dims right (Keras's Case 2). */
function broadcastTo(a: { values: number[]; shape: number[] }, kept: number[]): Float32Array {
  const size = sizeOf(kept);
  if (a.values.length === 1) return new Float32Array(size).fill(a.values[0]);
  const lead = kept.length - a.shape.length;
  const out = new Float32Array(size);
  const strides = a.shape.map((_, i) => sizeOf(a.shape.slice(i + 1)));
  for (let p = 0; p < size; p++) {
    let rest = p, src = 0;
    for (let axis = kept.length - 1; axis >= 0; axis--) {
      const coord = rest % kept[axis];
      rest = (rest - coord) / kept[axis];
      const i = axis - lead;
      if (i >= 0 && a.shape[i] !== 1) src += coord * strides[i];
    }
    out[p] = a.values[src];
  }
  return out;
}

/** Normalization in training: the inference forward; backward scales dy by the divisor. */
const NORMALIZATION_TRAINING: LayerTraining<Normalization> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    const dy = a.ctx.heap.f32(a.dy.ptr, sizeOf(a.dy.shape));
    layer.inputGrad(dy, dy);
    return a.dy;
  },
  trainable: (layer) => layer.weightTrainable(),
};

/**
 * Normalization in ONNX: `(x − mean) / max(√variance, ε)` (`invert`: `x·scale + mean`) with the
 * statistics shaped to broadcast over the axes they are not kept on.
 */
function normalizationOnnx(layer: Normalization, ctx: OnnxLayerContext): void {
  const { mean, scale } = layer.statistics();
  const shape = ctx.inputShapes[0];
  const kept = layer.keepAxes(shape);
  const dims = shape.map((d, i) => (kept.includes(i + 1) ? d as number : 1));
  const m = ctx.initializer("mean", { float32: mean }, dims);
  const s = ctx.initializer("scale", { float32: scale }, dims);
  const t = ctx.fresh(layer.invert ? "scaled" : "centred");
  if (layer.invert) {
    ctx.node("Mul", [ctx.inputs[0], s], [t]);
    ctx.node("Add", [t, m], [ctx.output]);
  } else {
    ctx.node("Sub", [ctx.inputs[0], m], [t]);
    ctx.node("Div", [t, s], [ctx.output]);
  }
}

/** The `Normalization` layer class (see `layer_class.ts`). */
export const NORMALIZATION: LayerClass<Normalization> = defineLayer({
  className: "Normalization",
  create: (config, options) => new Normalization(config, options),
  training: NORMALIZATION_TRAINING,
  onnx: normalizationOnnx,
});
