/**
 * Plain TypeScript BatchNormalization in training mode on the last axis (float64) — the test
 * oracle of `batchNormMoments` / `batchNormBackward` and of the layer's moving-statistics update.
 */

/** Per-channel batch mean and biased variance of a `rows × c` matrix. */
export function batchMomentsReference(
  x: Float32Array,
  c: number,
): { mean: Float32Array; variance: Float32Array } {
  const rows = x.length / c;
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let i = 0; i < x.length; i++) mean[i % c] += x[i];
  for (let j = 0; j < c; j++) mean[j] /= rows;
  for (let i = 0; i < x.length; i++) variance[i % c] += (x[i] - mean[i % c]) ** 2;
  for (let j = 0; j < c; j++) variance[j] /= rows;
  return { mean: Float32Array.from(mean), variance: Float32Array.from(variance) };
}

/** Training-mode output `γ·(x − mean)/√(var + ε) + β` with the batch's own statistics. */
export function batchNormTrainReference(
  x: Float32Array,
  c: number,
  gamma: Float32Array | null,
  beta: Float32Array | null,
  epsilon: number,
): Float32Array {
  const { mean, variance } = batchMomentsReference(x, c);
  return Float32Array.from(x, (v, i) => {
    const j = i % c;
    const xhat = (v - mean[j]) / Math.sqrt(variance[j] + epsilon);
    return (gamma ? gamma[j] : 1) * xhat + (beta ? beta[j] : 0);
  });
}

/** dγ = Σ dy·x̂, dβ = Σ dy, dx = γ/(N·σ)·(N·dy − dβ − x̂·dγ) with batch statistics. */
export function batchNormGradReference(
  x: Float32Array,
  dy: Float32Array,
  c: number,
  gamma: Float32Array | null,
  epsilon: number,
): { dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array } {
  const rows = x.length / c;
  const { mean, variance } = batchMomentsReference(x, c);
  const invStd = Array.from(variance, (v) => 1 / Math.sqrt(v + epsilon));
  const xhat = Float64Array.from(x, (v, i) => (v - mean[i % c]) * invStd[i % c]);
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  for (let i = 0; i < x.length; i++) {
    dgamma[i % c] += dy[i] * xhat[i];
    dbeta[i % c] += dy[i];
  }
  const dx = Float32Array.from(x, (_, i) => {
    const j = i % c;
    const g = gamma ? gamma[j] : 1;
    return (g * invStd[j] / rows) * (rows * dy[i] - dbeta[j] - xhat[i] * dgamma[j]);
  });
  return { dx, dgamma: Float32Array.from(dgamma), dbeta: Float32Array.from(dbeta) };
}

/** Keras's update: `moving = moving·momentum + batch·(1 − momentum)`. */
export function movingAverageReference(
  moving: Float32Array,
  batch: Float32Array,
  momentum: number,
): Float32Array {
  return Float32Array.from(moving, (m, j) => m * momentum + batch[j] * (1 - momentum));
}
