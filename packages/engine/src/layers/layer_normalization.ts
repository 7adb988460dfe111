/**
 * Keras `LayerNormalization`: each sample is normalised over the config's `axis` (an int or a
 * list, counted with the batch axis as Keras does), then scaled by `gamma` and shifted by `beta`.
 *
 * - `center` / `scale` decide whether `beta` / `gamma` exist (weight order: gamma, beta); their
 *   shape is the input's size along each listed axis, in the listed order. As in Keras, the values
 *   broadcast in the input's axis order (Keras reshapes, it does not transpose).
 * - The variance is the biased one (divided by the group size); `epsilon` (default 1e-3) is added
 *   under the root.
 * - `rms_scaling` (Keras 3): `y = x · γ / √(var(x) + ε)` — Keras's form, with the variance about the
 *   mean but no mean subtracted from `x` and no `beta` (different from `ops.rms_normalization`).
 *
 * The reductions run in TypeScript over the kernel memory (float64 accumulators); a mask passes
 * through unchanged. {@link layerNormReference} is the plain reference the tests compare against.
 *
 * @module
 */
import { InputShapeError, LayerConfigError } from "../errors.ts";
import {
  type CallContext,
  Layer,
  type LayerBuildOptions,
  type LayerConfig,
  type WeightSpec,
} from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** Where each element of one sample goes: its normalisation group and its gamma/beta index. */
export interface LayerNormLayout {
  /** Groups per sample (product of the sizes of the axes not normalised). */
  groups: number;
  /** Elements per group (product of the normalised axes' sizes). */
  groupSize: number;
  /** Per element of one sample (row-major): its group within the sample. */
  groupOf: Int32Array;
  /** Per element of one sample: its index in gamma / beta. */
  paramOf: Int32Array;
}

/**
 * The layout of LayerNormalization over `axes` (sorted, without the batch axis: 0 is the first
 * non-batch axis) for one sample of shape `shape`.
 */
export function layerNormLayout(
  shape: readonly number[],
  axes: readonly number[],
): LayerNormLayout {
  const n = sizeOf(shape as number[]);
  const normSet = new Set(axes);
  const groupOf = new Int32Array(n);
  const paramOf = new Int32Array(n);
  let groups = 1, groupSize = 1;
  shape.forEach((d, i) => {
    if (normSet.has(i)) groupSize *= d;
    else groups *= d;
  });
  const idx = new Array(shape.length).fill(0);
  for (let e = 0; e < n; e++) {
    let g = 0, p = 0;
    for (let i = 0; i < shape.length; i++) {
      if (normSet.has(i)) p = p * shape[i] + idx[i];
      else g = g * shape[i] + idx[i];
    }
    groupOf[e] = g;
    paramOf[e] = p;
    for (let i = shape.length - 1; i >= 0; i--) {
      if (++idx[i] < shape[i]) break;
      idx[i] = 0;
    }
  }
  return { groups, groupSize, groupOf, paramOf };
}

/** Options of {@link layerNormReference} (the layer's parsed config). */
export interface LayerNormOptions {
  epsilon: number;
  rmsScaling: boolean;
  gamma: Float32Array | null;
  beta: Float32Array | null;
}

/** Per group (batch × groups) mean and 1/√(var + ε) of `x` (float64). */
function groupStats(
  x: Float32Array,
  batch: number,
  layout: LayerNormLayout,
  epsilon: number,
): { mean: Float64Array; inv: Float64Array } {
  const per = layout.groupOf.length;
  const total = batch * layout.groups;
  const mean = new Float64Array(total), sq = new Float64Array(total);
  for (let b = 0; b < batch; b++) {
    const base = b * per, gBase = b * layout.groups;
    for (let e = 0; e < per; e++) mean[gBase + layout.groupOf[e]] += x[base + e];
  }
  for (let g = 0; g < total; g++) mean[g] /= layout.groupSize;
  for (let b = 0; b < batch; b++) {
    const base = b * per, gBase = b * layout.groups;
    for (let e = 0; e < per; e++) {
      const g = gBase + layout.groupOf[e];
      const d = x[base + e] - mean[g];
      sq[g] += d * d;
    }
  }
  const inv = new Float64Array(total);
  for (let g = 0; g < total; g++) inv[g] = 1 / Math.sqrt(sq[g] / layout.groupSize + epsilon);
  return { mean, inv };
}

/**
 * LayerNormalization of `x` (`batch` samples laid out as `layout` says), written into `out`
 * (which may be `x`). The TypeScript reference of the layer's forward, also what it runs.
 */
export function layerNormReference(
  x: Float32Array,
  batch: number,
  layout: LayerNormLayout,
  o: LayerNormOptions,
  out: Float32Array = new Float32Array(x.length),
): Float32Array {
  const { mean, inv } = groupStats(x, batch, layout, o.epsilon);
  const per = layout.groupOf.length;
  for (let b = 0; b < batch; b++) {
    const base = b * per, gBase = b * layout.groups;
    for (let e = 0; e < per; e++) {
      const g = gBase + layout.groupOf[e];
      const p = layout.paramOf[e];
      const v = x[base + e];
      const scale = o.gamma ? o.gamma[p] : 1;
      if (o.rmsScaling) out[base + e] = v * inv[g] * scale;
      else out[base + e] = (v - mean[g]) * inv[g] * scale + (o.beta ? o.beta[p] : 0);
    }
  }
  return out;
}

/** Gradients of {@link layerNormReference}: dx, and dγ / dβ when the layer has them. */
export interface LayerNormGrads {
  dx: Float32Array;
  dGamma: Float32Array | null;
  dBeta: Float32Array | null;
}

/**
 * The backward of {@link layerNormReference} for output gradient `dy`. With x̂ = (x − μ)·inv:
 * dx = inv · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)) where ĝ = dy · γ; dγ = Σ dy · x̂, dβ = Σ dy.
 * RMS scaling (y = x · inv · γ): dx = inv · ĝ − inv³ · (x − μ) · mean(ĝ · x).
 */
export function layerNormBackwardReference(
  x: Float32Array,
  dy: Float32Array,
  batch: number,
  layout: LayerNormLayout,
  o: LayerNormOptions,
  paramSize: number,
): LayerNormGrads {
  const { mean, inv } = groupStats(x, batch, layout, o.epsilon);
  const per = layout.groupOf.length;
  const total = batch * layout.groups;
  const dGamma = o.gamma ? new Float64Array(paramSize) : null;
  const dBeta = o.beta ? new Float64Array(paramSize) : null;
  // Per group: Σ ĝ and Σ ĝ·x̂ (Σ ĝ·x for RMS scaling).
  const sumG = new Float64Array(total), sumGX = new Float64Array(total);
  for (let b = 0; b < batch; b++) {
    const base = b * per, gBase = b * layout.groups;
    for (let e = 0; e < per; e++) {
      const g = gBase + layout.groupOf[e];
      const p = layout.paramOf[e];
      const d = dy[base + e];
      const v = x[base + e];
      const xhat = (v - mean[g]) * inv[g];
      if (dGamma) dGamma[p] += d * (o.rmsScaling ? v * inv[g] : xhat);
      if (dBeta) dBeta[p] += d;
      const gh = d * (o.gamma ? o.gamma[p] : 1);
      sumG[g] += gh;
      sumGX[g] += gh * (o.rmsScaling ? v : xhat);
    }
  }
  const dx = new Float32Array(x.length);
  const n = layout.groupSize;
  for (let b = 0; b < batch; b++) {
    const base = b * per, gBase = b * layout.groups;
    for (let e = 0; e < per; e++) {
      const g = gBase + layout.groupOf[e];
      const p = layout.paramOf[e];
      const gh = dy[base + e] * (o.gamma ? o.gamma[p] : 1);
      const centered = x[base + e] - mean[g];
      dx[base + e] = o.rmsScaling
        ? inv[g] * gh - inv[g] ** 3 * centered * sumGX[g] / n
        : inv[g] * (gh - sumG[g] / n - centered * inv[g] * sumGX[g] / n);
    }
  }
  return {
    dx,
    dGamma: dGamma ? Float32Array.from(dGamma) : null,
    dBeta: dBeta ? Float32Array.from(dBeta) : null,
  };
}

/** Keras `LayerNormalization` (see the module doc). */
export class LayerNormalization extends Layer {
  /** The config's axes as given (with the batch axis counted; may be negative). */
  readonly axisConfig: readonly number[];
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  readonly rmsScaling: boolean;
  #layout?: { key: string; layout: LayerNormLayout };

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("LayerNormalization", config, options);
    const axis = config.axis ?? -1;
    const list = Array.isArray(axis) ? axis : [axis];
    if (list.length === 0 || !list.every((a) => Number.isInteger(a))) {
      throw new LayerConfigError(
        this.name,
        "axis",
        `expected an integer or a non-empty list of integers, got ${JSON.stringify(axis)}`,
      );
    }
    this.axisConfig = list as number[];
    this.epsilon = this.num("epsilon", 1e-3);
    if (!(this.epsilon >= 0)) {
      throw new LayerConfigError(this.name, "epsilon", `expected ≥ 0, got ${this.epsilon}`);
    }
    this.center = this.bool("center", true);
    this.scale = this.bool("scale", true);
    this.rmsScaling = this.bool("rms_scaling", false);
  }

  /** Whether the layer has gamma / beta (Keras: gamma with scale or rms_scaling; beta with center unless rms_scaling). */
  get hasGamma(): boolean {
    return this.scale || this.rmsScaling;
  }

  get hasBeta(): boolean {
    return this.center && !this.rmsScaling;
  }

  /** The normalised axes for an input of shape `inputShape` (no batch), 0-based without batch, in config order. */
  axesFor(inputShape: Shape): number[] {
    const rank = inputShape.length + 1;
    const axes = this.axisConfig.map((a) => (a < 0 ? a + rank : a));
    axes.forEach((a, i) => {
      if (a < 1 || a >= rank) {
        throw new InputShapeError(
          this.name,
          `an input whose axes include axis ${this.axisConfig[i]} (not the batch axis)`,
          formatShape(inputShape),
        );
      }
      if (inputShape[a - 1] === null) {
        throw new InputShapeError(
          this.name,
          `a known size along axis ${this.axisConfig[i]}`,
          formatShape(inputShape),
        );
      }
    });
    if (new Set(axes).size !== axes.length) {
      throw new LayerConfigError(
        this.name,
        "axis",
        `repeats an axis: ${JSON.stringify(this.axisConfig)}`,
      );
    }
    return axes.map((a) => a - 1);
  }

  computeOutputShape(inputShape: Shape): Shape {
    if (inputShape.length < 1) {
      throw new InputShapeError(this.name, "rank ≥ 2 (batch + features)", formatShape(inputShape));
    }
    this.axesFor(inputShape);
    return [...inputShape];
  }

  override weightNames(): string[] {
    const names: string[] = [];
    if (this.hasGamma) names.push("gamma");
    if (this.hasBeta) names.push("beta");
    return names;
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    const shape = this.axesFor(inputShape).map((a) => inputShape[a] as number);
    return this.weightNames().map((name) => ({ name, shape: [...shape] }));
  }

  /** The element layout for a run-time shape (with batch), cached per shape. */
  layoutFor(shape: readonly number[]): LayerNormLayout {
    const sample = shape.slice(1);
    const key = sample.join(",");
    if (this.#layout?.key !== key) {
      const axes = [...this.axesFor(sample)].sort((a, b) => a - b);
      this.#layout = { key, layout: layerNormLayout(sample, axes) };
    }
    return this.#layout.layout;
  }

  /** The parsed options with the current weights read from `ctx`'s heap. */
  optionsFrom(ctx: CallContext, weights: readonly number[] = this.weightPtrs): LayerNormOptions {
    const size = sizeOf(this.weightSpecs(this.inputShape)[0]?.shape ?? []);
    let i = 0;
    const gamma = this.hasGamma ? ctx.heap.f32(weights[i++], size).slice() : null;
    const beta = this.hasBeta ? ctx.heap.f32(weights[i++], size).slice() : null;
    return { epsilon: this.epsilon, rmsScaling: this.rmsScaling, gamma, beta };
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const n = sizeOf(x.shape);
    const layout = this.layoutFor(x.shape);
    const o = this.optionsFrom(ctx);
    const y = this.allocOutput(ctx, [...x.shape]);
    const out = layerNormReference(ctx.heap.f32(x.ptr, n), x.shape[0], layout, o);
    ctx.heap.f32(y.ptr, n).set(out);
    return y;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }
}

/** LayerNormalization in training: the forward is the inference one; backward recomputes the group statistics from x. */
const LAYER_NORMALIZATION_TRAINING: LayerTraining<LayerNormalization> = {
  backward(layer, a) {
    const { heap } = a.ctx;
    const n = sizeOf(a.x.shape);
    const layout = layer.layoutFor(a.x.shape);
    const o = layer.optionsFrom(a.ctx, a.weights);
    const paramSize = layout.groupSize;
    const g = layerNormBackwardReference(
      heap.f32(a.x.ptr, n).slice(),
      heap.f32(a.dy.ptr, n).slice(),
      a.x.shape[0],
      layout,
      o,
      paramSize,
    );
    let i = 0;
    if (layer.hasGamma) {
      if (a.grads[i]) heap.f32(a.grads[i], paramSize).set(g.dGamma!);
      i++;
    }
    if (layer.hasBeta && a.grads[i]) heap.f32(a.grads[i], paramSize).set(g.dBeta!);
    if (!a.needInputGrad) return null;
    heap.f32(a.dy.ptr, n).set(g.dx);
    return a.dy;
  },
};

/**
 * LayerNormalization in ONNX (opset ≥ 17): the LayerNormalization operator over the trailing
 * axes from the first configured one, which must be all of them (Keras allows any set).
 */
function layerNormalizationOnnx(layer: LayerNormalization, ctx: OnnxLayerContext): void {
  if (ctx.opset < 17) ctx.refuse("LayerNormalization needs opset 17 or later");
  if (layer.rmsScaling) ctx.refuse("rms_scaling has no ONNX operator");
  const rank = ctx.inputShapes[0].length + 1;
  const axes = [...new Set(layer.axisConfig.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) =>
    a - b
  );
  const trailing = axes.every((a, k) => a === rank - axes.length + k);
  if (!trailing || axes[0] < 1) {
    ctx.refuse(`axis ${JSON.stringify(layer.axisConfig)}: only trailing axes are exported`);
  }
  const dims = axes.map((a) => ctx.inputShapes[0][a - 1] as number);
  const size = dims.reduce((p, d) => p * d, 1);
  const weights = layer.getWeights();
  const gamma = layer.hasGamma ? weights[0].data : new Float32Array(size).fill(1);
  const beta = layer.hasBeta ? weights[layer.hasGamma ? 1 : 0].data : new Float32Array(size);
  ctx.node(
    "LayerNormalization",
    [
      ctx.inputs[0],
      ctx.initializer("gamma", { float32: gamma }, dims),
      ctx.initializer("beta", { float32: beta }, dims),
    ],
    [ctx.output],
    { axis: { int: axes[0] }, epsilon: { float: layer.epsilon } },
  );
}

/** The `LayerNormalization` layer class (see `layer_class.ts`). */
export const LAYER_NORMALIZATION: LayerClass<LayerNormalization> = defineLayer({
  className: "LayerNormalization",
  create: (config, options) => new LayerNormalization(config, options),
  training: LAYER_NORMALIZATION_TRAINING,
  onnx: layerNormalizationOnnx,
});
