import { UntrainableLayerError } from "../training/errors.ts";
import type { LayerTraining } from "../layer_training.ts";
import { InputShapeError, LayerConfigError, UnsupportedLayerError } from "../errors.ts";
import {
  type BatchStatistics,
  type CallContext,
  Layer,
  type LayerBuildOptions,
  type LayerConfig,
  type WeightSpec,
} from "../layer.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** Inference statistics of one BatchNormalization layer (`gamma`/`beta` null when disabled). */
export interface BatchNormStatistics {
  gamma: Float32Array | null;
  beta: Float32Array | null;
  movingMean: Float32Array;
  movingVariance: Float32Array;
  epsilon: number;
}

/**
 * Per-channel `scale = gamma / sqrt(var + eps)` and `shift = beta - mean * scale`, computed in
 * float64 and rounded once; the layer then applies `y = x * scale + shift`.
 */
export function batchNormScaleShift(
  p: BatchNormStatistics,
): { scale: Float32Array; shift: Float32Array } {
  const c = p.movingMean.length;
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    const s = (p.gamma ? p.gamma[j] : 1) / Math.sqrt(p.movingVariance[j] + p.epsilon);
    scale[j] = s;
    shift[j] = (p.beta ? p.beta[j] : 0) - p.movingMean[j] * s;
  }
  return { scale, shift };
}

/**
 * Keras `BatchNormalization` at inference, on the last axis of any rank:
 * `gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta`. Weights
 * `[gamma?, beta?, moving_mean, moving_variance]` as `scale` / `center` say. Other axes and
 * `renorm` are refused by name. (Training-mode batch statistics belong to the trainer.)
 */
export class BatchNormalization extends Layer {
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  /** Device buffer: `scale[c]` then `shift[c]`. */
  #scaleShiftPtr = 0;
  #channels = 0;
  #heap?: WasmHeap;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("BatchNormalization", config, options);
    this.epsilon = this.num("epsilon", 1e-3);
    this.center = this.bool("center", true);
    this.scale = this.bool("scale", true);
    if (config.renorm === true) {
      throw new UnsupportedLayerError("BatchNormalization", this.name, "renorm=true");
    }
  }

  computeOutputShape(inputShape: Shape): Shape {
    const rank = inputShape.length + 1;
    const axis = this.config.axis ?? -1;
    const single = Array.isArray(axis) && axis.length === 1 ? axis[0] : axis;
    if (single !== -1 && single !== rank - 1) {
      throw new LayerConfigError(
        this.name,
        "axis",
        `only the last axis (-1 or ${rank - 1} for rank-${rank} input) is supported, got ${
          JSON.stringify(axis)
        }`,
      );
    }
    if (inputShape.length < 1 || inputShape[inputShape.length - 1] === null) {
      throw new InputShapeError(this.name, "a known last dimension", formatShape(inputShape));
    }
    return [...inputShape];
  }

  override weightNames(): string[] {
    return [
      ...(this.scale ? ["gamma"] : []),
      ...(this.center ? ["beta"] : []),
      "moving_mean",
      "moving_variance",
    ];
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    const c = [inputShape[inputShape.length - 1] as number];
    return this.weightNames().map((name) => ({ name, shape: c }));
  }

  /**
   * A trainable layer normalises with the batch's statistics, which couple its samples; split
   * over threads, each normalises its own slice unless the config asks for `synchronized`.
   */
  override couplesSamples(statistics: BatchStatistics = "whole-batch"): boolean {
    return this.trainable && (statistics === "whole-batch" || this.config.synchronized === true);
  }

  /** Training updates the moving mean and variance from the batch statistics. */
  override updatesStateInTraining(): boolean {
    return this.trainable;
  }

  /** γ and β train; the moving mean and variance are updated by `fit`, not by gradients. */
  override weightTrainable(): boolean[] {
    return [...(this.scale ? [true] : []), ...(this.center ? [true] : []), false, false];
  }

  protected override afterBuild(heap: WasmHeap): void {
    const w = this.hostWeights;
    let i = 0;
    const gamma = this.scale ? w[i++].data : null;
    const beta = this.center ? w[i++].data : null;
    const movingMean = w[i++].data;
    const movingVariance = w[i].data;
    for (let j = 0; j < movingVariance.length; j++) {
      if (!(movingVariance[j] + this.epsilon > 0)) {
        this.releaseWeights();
        throw new LayerConfigError(
          this.name,
          "moving_variance",
          `moving_variance + epsilon must be > 0, got ${
            movingVariance[j]
          } + ${this.epsilon} at ${j}`,
        );
      }
    }
    const { scale, shift } = batchNormScaleShift({
      gamma,
      beta,
      movingMean,
      movingVariance,
      epsilon: this.epsilon,
    });
    const packed = new Float32Array(scale.length * 2);
    packed.set(scale);
    packed.set(shift, scale.length);
    this.#heap = heap;
    this.#channels = scale.length;
    this.#scaleShiftPtr = heap.upload(packed);
  }

  protected override releaseWeights(): void {
    if (this.#scaleShiftPtr) this.#heap?.free(this.#scaleShiftPtr);
    this.#scaleShiftPtr = 0;
    super.releaseWeights();
  }

  /**
   * The device weights changed in place (an optimizer step, or training updating the moving
   * statistics): recomputes the packed inference scale/shift from them.
   */
  override weightsUpdated(): void {
    super.weightsUpdated();
    const heap = this.#heap;
    if (!heap || !this.#scaleShiftPtr) return;
    const c = this.#channels;
    const ptrs = this.deviceWeights();
    let i = 0;
    const read = (p: number) => heap.f32(p, c).slice();
    const { scale, shift } = batchNormScaleShift({
      gamma: this.scale ? read(ptrs[i++]) : null,
      beta: this.center ? read(ptrs[i++]) : null,
      movingMean: read(ptrs[i++]),
      movingVariance: read(ptrs[i]),
      epsilon: this.epsilon,
    });
    heap.f32(this.#scaleShiftPtr, c).set(scale);
    heap.f32(this.#scaleShiftPtr + c * 4, c).set(shift);
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const c = this.#channels;
    const y = this.allocOutput(ctx, [...x.shape]);
    const p = this.#scaleShiftPtr;
    ctx.kernels.scaleShift(x.ptr, y.ptr, sizeOf(x.shape) / c, c, p, p + c * 4);
    return y;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }
}

// ---- training ----------------------------------------------------------------------------

/** What the forward leaves for the backward. */
interface BatchTape {
  /** `mean[c]`, `invStd[c]` (batch), then `scale[c]`, `shift[c]` (the forward's affine map). */
  stats: number;
  frozen: boolean;
}

/** Indices of gamma, beta, moving_mean, moving_variance in the weight list (-1: absent). */
function weightIndex(layer: BatchNormalization) {
  let i = 0;
  const gamma = layer.scale ? i++ : -1;
  const beta = layer.center ? i++ : -1;
  return { gamma, beta, mean: i, variance: i + 1 };
}

function momentumOf(layer: BatchNormalization): number {
  const m = layer.config.momentum ?? 0.99;
  if (typeof m !== "number" || !(m >= 0 && m <= 1)) {
    throw new LayerConfigError(layer.name, "momentum", `expected a number in [0, 1], got ${m}`);
  }
  return m;
}

/**
 * BatchNormalization in training (Keras 3 semantics, last axis):
 * - trainable layer: normalise with the batch's mean and biased variance over every axis but the
 *   last, then update `moving = moving·momentum + batch·(1 − momentum)` (momentum default 0.99);
 *   backward gives dγ = Σ dy·x̂, dβ = Σ dy and dx through the batch statistics.
 * - `trainable: false`: Keras runs the layer in inference mode (moving statistics, no update);
 *   backward is dx = dy·γ/√(moving_var + ε).
 * The moving statistics are never trainable weights.
 */
const BATCH_NORMALIZATION_TRAINING: LayerTraining<BatchNormalization> = {
  forward(layer, x, mask, ctx) {
    const { kernels, heap } = ctx;
    const c = x.shape[x.shape.length - 1];
    const rows = sizeOf(x.shape) / c;
    const stats = ctx.keep(heap.alloc(c * 4 * 4));
    // Keras ≥ 2.1: a frozen BatchNormalization, or a call with training=False, uses the moving
    // statistics and leaves them alone.
    const frozen = !ctx.trainable || !ctx.training;
    ctx.tape.set(layer, { stats, frozen } satisfies BatchTape);
    const w = layer.deviceWeights();
    const idx = weightIndex(layer);
    const channel = (i: number) => (i < 0 ? null : heap.f32(w[i], c).slice());
    if (frozen) {
      // Inference mode; keep the inference scale for the backward.
      const { scale } = batchNormScaleShift({
        gamma: channel(idx.gamma),
        beta: null,
        movingMean: channel(idx.mean)!,
        movingVariance: channel(idx.variance)!,
        epsilon: layer.epsilon,
      });
      heap.f32(stats + c * 8, c).set(scale);
      return layer.call(x, mask, ctx);
    }
    if (mask) {
      throw new UntrainableLayerError(
        "BatchNormalization",
        layer.name,
        "training with an input mask (masked batch statistics) is not supported",
      );
    }
    const momentum = momentumOf(layer);
    const work = heap.alloc(c * 12);
    try {
      kernels.batchNormMoments(x.ptr, rows, c, stats, stats + c * 4, work);
    } finally {
      heap.free(work);
    }
    const mean = heap.f32(stats, c).slice();
    const variance = heap.f32(stats + c * 4, c).slice();
    const { scale, shift } = batchNormScaleShift({
      gamma: channel(idx.gamma),
      beta: channel(idx.beta),
      movingMean: mean,
      movingVariance: variance,
      epsilon: layer.epsilon,
    });
    const invStd = Float32Array.from(variance, (v) => 1 / Math.sqrt(v + layer.epsilon));
    const view = heap.f32(stats, 4 * c);
    view.set(invStd, c);
    view.set(scale, 2 * c);
    view.set(shift, 3 * c);
    const y: DeviceTensor = {
      ptr: heap.alloc(rows * c * 4),
      shape: [...x.shape],
      dtype: "float32",
    };
    kernels.scaleShift(x.ptr, y.ptr, rows, c, stats + c * 8, stats + c * 12);
    // Moving statistics (float32, as Keras assigns them).
    const keep = Math.fround(momentum);
    const keepRate = Math.fround(1 - momentum);
    const movingMean = heap.f32(w[idx.mean], c);
    const movingVariance = heap.f32(w[idx.variance], c);
    for (let j = 0; j < c; j++) {
      movingMean[j] = Math.fround(movingMean[j] * keep) + Math.fround(mean[j] * keepRate);
      movingVariance[j] = Math.fround(movingVariance[j] * keep) +
        Math.fround(variance[j] * keepRate);
    }
    // Host copies and the inference scale/shift follow the new moving statistics.
    layer.weightsUpdated();
    return y;
  },

  backward(layer, a) {
    const { ctx, x } = a;
    const { kernels, heap } = ctx;
    const tape = ctx.tape.get(layer) as BatchTape;
    const c = x.shape[x.shape.length - 1];
    const rows = sizeOf(x.shape) / c;
    if (tape.frozen) {
      const idx = weightIndex(layer);
      const dgamma = idx.gamma >= 0 ? a.grads[idx.gamma] : 0;
      const dbeta = idx.beta >= 0 ? a.grads[idx.beta] : 0;
      if (dgamma || dbeta) {
        // A trainable layer called with training=False: γ and β still learn, through the
        // moving statistics (x̂ = (x − moving_mean)/√(moving_var + ε)). A rare path: on the host.
        const mean = heap.f32(a.weights[idx.mean], c);
        const variance = heap.f32(a.weights[idx.variance], c);
        const xs = heap.f32(x.ptr, rows * c), dys = heap.f32(a.dy.ptr, rows * c);
        const g = new Float64Array(c), b = new Float64Array(c);
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < c; j++) {
            const d = dys[r * c + j];
            g[j] += d * (xs[r * c + j] - mean[j]) / Math.sqrt(variance[j] + layer.epsilon);
            b[j] += d;
          }
        }
        if (dgamma) heap.f32(dgamma, c).set(g);
        if (dbeta) heap.f32(dbeta, c).set(b);
      }
      if (!a.needInputGrad) return null;
      const zeros = ctx.keep(heap.alloc(c * 4));
      heap.f32(zeros, c).fill(0);
      kernels.scaleShift(a.dy.ptr, a.dy.ptr, rows, c, tape.stats + c * 8, zeros);
      return a.dy;
    }
    const idx = weightIndex(layer);
    const dgamma = idx.gamma >= 0 ? a.grads[idx.gamma] : 0;
    const dbeta = idx.beta >= 0 ? a.grads[idx.beta] : 0;
    // dγ and dβ are always written: unused ones go to scratch.
    const work = heap.alloc(c * 24 + (dgamma ? 0 : c * 4) + (dbeta ? 0 : c * 4));
    try {
      kernels.batchNormBackward(
        x.ptr,
        a.dy.ptr,
        a.needInputGrad ? a.dy.ptr : 0,
        rows,
        c,
        tape.stats,
        tape.stats + c * 4,
        idx.gamma >= 0 ? a.weights[idx.gamma] : 0,
        dgamma || work + c * 24,
        dbeta || work + c * 24 + (dgamma ? 0 : c * 4),
        work,
      );
    } finally {
      heap.free(work);
    }
    return a.needInputGrad ? a.dy : null;
  },

  trainable(layer) {
    return [...(layer.scale ? [true] : []), ...(layer.center ? [true] : []), false, false];
  },
};

/**
 * BatchNormalization in ONNX (inference): `x·scale + shift` on the last axis, with scale and shift
 * folded from the moving statistics as the engine folds them ({@link batchNormScaleShift}).
 */
function batchNormalizationOnnx(layer: BatchNormalization, ctx: OnnxLayerContext): void {
  const w = new Map(layer.getWeights().map((t, i) => [layer.weightNames()[i], t.data]));
  const { scale, shift } = batchNormScaleShift({
    gamma: w.get("gamma") ?? null,
    beta: w.get("beta") ?? null,
    movingMean: w.get("moving_mean")!,
    movingVariance: w.get("moving_variance")!,
    epsilon: layer.epsilon,
  });
  const scaled = ctx.fresh("scaled");
  const c = [scale.length];
  ctx.node("Mul", [ctx.inputs[0], ctx.initializer("scale", { float32: scale }, c)], [scaled]);
  ctx.node("Add", [scaled, ctx.initializer("shift", { float32: shift }, c)], [ctx.output]);
}

/** The `BatchNormalization` layer class (see `layer_class.ts`). */
export const BATCH_NORMALIZATION: LayerClass<BatchNormalization> = defineLayer({
  className: "BatchNormalization",
  create: (config, options) => new BatchNormalization(config, options),
  training: BATCH_NORMALIZATION_TRAINING,
  onnx: batchNormalizationOnnx,
});
