/**
 * BatchNormalization in training (Keras 3 semantics, last axis):
 * - trainable layer: normalise with the batch's mean and biased variance over every axis but the
 *   last, then update `moving = moving·momentum + batch·(1 − momentum)` (momentum default 0.99);
 *   backward gives dγ = Σ dy·x̂, dβ = Σ dy and dx through the batch statistics.
 * - `trainable: false`: Keras runs the layer in inference mode (moving statistics, no update);
 *   backward is dx = dy·γ/√(moving_var + ε).
 * The moving statistics are never trainable weights.
 */
import { LayerConfigError } from "../../errors.ts";
import { type BatchNormalization, batchNormScaleShift } from "../../layers/batch_normalization.ts";
import { type DeviceTensor, sizeOf } from "../../tensor.ts";
import { UntrainableLayerError } from "../errors.ts";
import { registerTraining } from "./registry.ts";

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

registerTraining<BatchNormalization>("BatchNormalization", {
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
});
