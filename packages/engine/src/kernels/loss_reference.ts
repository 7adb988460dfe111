/**
 * Plain TypeScript oracles of the loss kernels (`wasm/assembly/loss.ts`), float64 throughout.
 * Each returns the weighted loss sum Σ w_r·L_r and the gradient of Σ w_r·L_r·gradScale.
 */

/** How the predictions relate to the loss (see loss.ts). */
export enum LossMode {
  /** Predictions are probabilities; gradient with respect to them. */
  Probabilities = 0,
  /** Probabilities from a softmax/sigmoid; gradient with respect to the logits behind them. */
  FusedWithOutputActivation = 1,
  /** Predictions are logits. */
  Logits = 2,
}

/** Result of a reference loss. */
export interface LossReference {
  total: number;
  grad: Float64Array;
}

const clip = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

function softmaxRow(z: ArrayLike<number>): { p: number[]; lse: number } {
  const mx = Math.max(...Array.from(z));
  let s = 0;
  for (let j = 0; j < z.length; j++) s += Math.exp(z[j] - mx);
  return { p: Array.from(z, (v) => Math.exp(v - mx) / s), lse: mx + Math.log(s) };
}

/** Categorical cross-entropy with one target distribution per row (sparse: a one-hot). */
export function categoricalCEReference(
  pred: Float32Array,
  target: Float32Array,
  weights: Float32Array | null,
  cols: number,
  mode: LossMode,
  gradScale: number,
  eps = 1e-7,
): LossReference {
  const rows = pred.length / cols;
  const grad = new Float64Array(pred.length);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const w = weights ? weights[r] : 1;
    const z = pred.subarray(r * cols, (r + 1) * cols);
    const t = target.subarray(r * cols, (r + 1) * cols);
    const tSum = t.reduce((a, b) => a + b, 0);
    if (mode === LossMode.Logits) {
      const { p, lse } = softmaxRow(z);
      for (let j = 0; j < cols; j++) {
        total += w * t[j] * (lse - z[j]);
        grad[r * cols + j] = w * gradScale * (p[j] * tSum - t[j]);
      }
      continue;
    }
    const s = z.reduce((a, b) => a + b, 0);
    let tIn = 0;
    for (let j = 0; j < cols; j++) {
      const q = z[j] / s;
      total -= w * t[j] * Math.log(clip(q, eps, 1 - eps));
      if (q >= eps && q <= 1 - eps) tIn += t[j];
    }
    for (let j = 0; j < cols; j++) {
      const q = z[j] / s;
      const d = mode === LossMode.FusedWithOutputActivation
        ? z[j] * tSum - t[j]
        : tIn / s - (q >= eps && q <= 1 - eps ? t[j] / z[j] : 0);
      grad[r * cols + j] = w * gradScale * d;
    }
  }
  return { total, grad };
}

/** One-hot rows for integer labels. */
export function oneHot(labels: ArrayLike<number>, cols: number): Float32Array {
  const out = new Float32Array(labels.length * cols);
  for (let r = 0; r < labels.length; r++) out[r * cols + labels[r]] = 1;
  return out;
}

/** Binary cross-entropy averaged over the last axis. */
export function binaryCEReference(
  pred: Float32Array,
  target: Float32Array,
  weights: Float32Array | null,
  cols: number,
  mode: LossMode,
  gradScale: number,
  eps = 1e-7,
): LossReference {
  const rows = pred.length / cols;
  const grad = new Float64Array(pred.length);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const w = weights ? weights[r] : 1;
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      const v = pred[i], t = target[i];
      let l: number, d: number;
      if (mode === LossMode.Logits) {
        l = Math.max(v, 0) - v * t + Math.log1p(Math.exp(-Math.abs(v)));
        d = 1 / (1 + Math.exp(-v)) - t;
      } else {
        const p = clip(v, eps, 1 - eps);
        l = -(t * Math.log(p) + (1 - t) * Math.log(1 - p));
        d = mode === LossMode.FusedWithOutputActivation
          ? v - t
          : v >= eps && v <= 1 - eps
          ? (1 - t) / (1 - v) - t / v
          : 0;
      }
      total += (w * l) / cols;
      grad[i] = (w * gradScale * d) / cols;
    }
  }
  return { total, grad };
}

/** Mean squared (`absolute` false) or absolute error over the last axis, as loss.ts. */
function regressionLossReference(
  pred: Float32Array,
  target: Float32Array,
  weights: Float32Array | null,
  cols: number,
  gradScale: number,
  absolute: boolean,
): LossReference {
  const rows = pred.length / cols;
  const grad = new Float64Array(pred.length);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const w = weights ? weights[r] : 1;
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      const d = pred[i] - target[i];
      total += (w * (absolute ? Math.abs(d) : d * d)) / cols;
      grad[i] = (w * gradScale * (absolute ? Math.sign(d) : 2 * d)) / cols;
    }
  }
  return { total, grad };
}

/** Mean squared error over the last axis. */
export function meanSquaredErrorReference(
  pred: Float32Array,
  target: Float32Array,
  weights: Float32Array | null,
  cols: number,
  gradScale: number,
): LossReference {
  return regressionLossReference(pred, target, weights, cols, gradScale, false);
}

/** Mean absolute error over the last axis (gradient sign(p − y) / cols, 0 where p = y). */
export function meanAbsoluteErrorReference(
  pred: Float32Array,
  target: Float32Array,
  weights: Float32Array | null,
  cols: number,
  gradScale: number,
): LossReference {
  return regressionLossReference(pred, target, weights, cols, gradScale, true);
}
