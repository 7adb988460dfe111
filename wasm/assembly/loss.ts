// Losses on rows × cols predictions: each returns Σ_r w_r · L_r (f64) and, when `grad` ≠ 0, writes
// the gradient of Σ_r w_r · L_r · gradScale with respect to the predictions (mode 0), the logits
// behind a softmax/sigmoid output (mode 1, "fused"), or the logits given as predictions (mode 2).
// `weights` (one f32 per row) may be 0 for all-ones. Probabilities are clipped to [eps, 1 - eps]
// as Keras does; the clip's gradient is zero outside that range (TF semantics).

// @ts-ignore: decorator
@inline function rowWeight(weights: usize, r: i32): f32 {
  return weights ? load<f32>(weights + (<usize> r << 2)) : 1;
}

// @ts-ignore: decorator
@inline function clip(v: f64, lo: f64, hi: f64): f64 {
  return v < lo ? lo : v > hi ? hi : v;
}

/** log Σ exp(row) computed stably; also writes exp(row - max) / Σ into `probs` when non-zero. */
function logSumExp(row: usize, cols: i32, probs: usize): f64 {
  let mx: f32 = -Infinity;
  for (let j = 0; j < cols; j++) mx = max(mx, load<f32>(row + (<usize> j << 2)));
  let s: f64 = 0;
  for (let j = 0; j < cols; j++) s += Math.exp(<f64> (load<f32>(row + (<usize> j << 2)) - mx));
  if (probs) {
    const inv = 1.0 / s;
    for (let j = 0; j < cols; j++) {
      const o = <usize> j << 2;
      store<f32>(probs + o, <f32> (Math.exp(<f64> (load<f32>(row + o) - mx)) * inv));
    }
  }
  return <f64> mx + Math.log(s);
}

/** Sparse categorical cross-entropy with one int32 label per row (validated by the host). */
export function sparseCategoricalCE(
  pred: usize,
  labels: usize,
  weights: usize,
  grad: usize,
  rows: i32,
  cols: i32,
  mode: i32,
  gradScale: f32,
  eps: f32,
): f64 {
  let total: f64 = 0;
  const e = <f64> eps;
  for (let r = 0; r < rows; r++) {
    const off = <usize> r * <usize> cols << 2;
    const row = pred + off;
    const g = grad + off;
    const y = load<i32>(labels + (<usize> r << 2));
    const w = rowWeight(weights, r);
    const ws = <f64> w * <f64> gradScale;
    if (mode == 2) {
      const lse = logSumExp(row, cols, grad ? g : 0);
      total += <f64> w * (lse - <f64> load<f32>(row + (<usize> y << 2)));
      if (grad) {
        for (let j = 0; j < cols; j++) {
          const o = <usize> j << 2;
          const p = <f64> load<f32>(g + o);
          store<f32>(g + o, <f32> (ws * (p - (j == y ? 1.0 : 0.0))));
        }
      }
      continue;
    }
    let s: f64 = 0;
    for (let j = 0; j < cols; j++) s += <f64> load<f32>(row + (<usize> j << 2));
    const py = <f64> load<f32>(row + (<usize> y << 2));
    const q = py / s;
    total += <f64> w * -Math.log(clip(q, e, 1.0 - e));
    if (!grad) continue;
    if (mode == 1) {
      for (let j = 0; j < cols; j++) {
        const o = <usize> j << 2;
        store<f32>(g + o, <f32> (ws * (<f64> load<f32>(row + o) - (j == y ? 1.0 : 0.0))));
      }
    } else {
      const inRange = q >= e && q <= 1.0 - e;
      for (let j = 0; j < cols; j++) {
        const d = inRange ? 1.0 / s - (j == y ? 1.0 / py : 0.0) : 0.0;
        store<f32>(g + (<usize> j << 2), <f32> (ws * d));
      }
    }
  }
  return total;
}

/** Categorical cross-entropy with a target distribution per row (rows × cols floats). */
export function categoricalCE(
  pred: usize,
  target: usize,
  weights: usize,
  grad: usize,
  rows: i32,
  cols: i32,
  mode: i32,
  gradScale: f32,
  eps: f32,
): f64 {
  let total: f64 = 0;
  const e = <f64> eps;
  for (let r = 0; r < rows; r++) {
    const off = <usize> r * <usize> cols << 2;
    const row = pred + off;
    const t = target + off;
    const g = grad + off;
    const w = rowWeight(weights, r);
    const ws = <f64> w * <f64> gradScale;
    let tSum: f64 = 0;
    for (let j = 0; j < cols; j++) tSum += <f64> load<f32>(t + (<usize> j << 2));
    if (mode == 2) {
      const lse = logSumExp(row, cols, grad ? g : 0);
      let l: f64 = 0;
      for (let j = 0; j < cols; j++) {
        const o = <usize> j << 2;
        l += <f64> load<f32>(t + o) * (lse - <f64> load<f32>(row + o));
      }
      total += <f64> w * l;
      if (grad) {
        for (let j = 0; j < cols; j++) {
          const o = <usize> j << 2;
          store<f32>(g + o, <f32> (ws * (<f64> load<f32>(g + o) * tSum - <f64> load<f32>(t + o))));
        }
      }
      continue;
    }
    let s: f64 = 0;
    for (let j = 0; j < cols; j++) s += <f64> load<f32>(row + (<usize> j << 2));
    let l: f64 = 0;
    let tIn: f64 = 0;
    for (let j = 0; j < cols; j++) {
      const o = <usize> j << 2;
      const tj = <f64> load<f32>(t + o);
      const q = <f64> load<f32>(row + o) / s;
      l -= tj * Math.log(clip(q, e, 1.0 - e));
      if (q >= e && q <= 1.0 - e) tIn += tj;
    }
    total += <f64> w * l;
    if (!grad) continue;
    for (let j = 0; j < cols; j++) {
      const o = <usize> j << 2;
      const tj = <f64> load<f32>(t + o);
      const p = <f64> load<f32>(row + o);
      let d: f64;
      if (mode == 1) d = p * tSum - tj;
      else {
        const q = p / s;
        d = tIn / s - (q >= e && q <= 1.0 - e ? tj / p : 0.0);
      }
      store<f32>(g + o, <f32> (ws * d));
    }
  }
  return total;
}

/** Binary cross-entropy, averaged over the last axis (Keras `binary_crossentropy`). */
export function binaryCE(
  pred: usize,
  target: usize,
  weights: usize,
  grad: usize,
  rows: i32,
  cols: i32,
  mode: i32,
  gradScale: f32,
  eps: f32,
): f64 {
  let total: f64 = 0;
  const e = <f64> eps;
  const invCols = 1.0 / <f64> cols;
  for (let r = 0; r < rows; r++) {
    const off = <usize> r * <usize> cols << 2;
    const w = rowWeight(weights, r);
    const ws = <f64> w * <f64> gradScale * invCols;
    let l: f64 = 0;
    for (let j = 0; j < cols; j++) {
      const o = off + (<usize> j << 2);
      const v = <f64> load<f32>(pred + o);
      const t = <f64> load<f32>(target + o);
      let d: f64;
      if (mode == 2) {
        l += Math.max(v, 0.0) - v * t + Math.log1p(Math.exp(-Math.abs(v)));
        d = 1.0 / (1.0 + Math.exp(-v)) - t;
      } else {
        const p = clip(v, e, 1.0 - e);
        l -= t * Math.log(p) + (1.0 - t) * Math.log(1.0 - p);
        if (mode == 1) d = v - t;
        else d = v >= e && v <= 1.0 - e ? (1.0 - t) / (1.0 - v) - t / v : 0.0;
      }
      if (grad) store<f32>(grad + o, <f32> (ws * d));
    }
    total += <f64> w * l * invCols;
  }
  return total;
}

/**
 * Mean squared (`absolute` false) or absolute error over the last axis: L = mean (p − y)² with
 * gradient 2(p − y)/cols, or L = mean |p − y| with gradient sign(p − y)/cols, 0 where p = y (the
 * subgradient TensorFlow's abs gives there; TF.js's gives -1).
 */
// @ts-ignore: decorator
@inline function regressionLoss(
  pred: usize,
  target: usize,
  weights: usize,
  grad: usize,
  rows: i32,
  cols: i32,
  gradScale: f32,
  absolute: bool,
): f64 {
  let total: f64 = 0;
  const invCols = 1.0 / <f64> cols;
  for (let r = 0; r < rows; r++) {
    const off = <usize> r * <usize> cols << 2;
    const w = rowWeight(weights, r);
    const ws = <f64> w * <f64> gradScale * (absolute ? 1.0 : 2.0) * invCols;
    let l: f64 = 0;
    for (let j = 0; j < cols; j++) {
      const o = off + (<usize> j << 2);
      const d = <f64> load<f32>(pred + o) - <f64> load<f32>(target + o);
      l += absolute ? abs(d) : d * d;
      if (grad) store<f32>(grad + o, <f32> (absolute ? (d > 0 ? ws : d < 0 ? -ws : 0) : ws * d));
    }
    total += <f64> w * l * invCols;
  }
  return total;
}

/** Mean squared error over the last axis (see regressionLoss). */
export function meanSquaredError(
  pred: usize,
  target: usize,
  weights: usize,
  grad: usize,
  rows: i32,
  cols: i32,
  gradScale: f32,
): f64 {
  return regressionLoss(pred, target, weights, grad, rows, cols, gradScale, false);
}

/** Mean absolute error over the last axis (see regressionLoss). */
export function meanAbsoluteError(
  pred: usize,
  target: usize,
  weights: usize,
  grad: usize,
  rows: i32,
  cols: i32,
  gradScale: f32,
): f64 {
  return regressionLoss(pred, target, weights, grad, rows, cols, gradScale, true);
}
