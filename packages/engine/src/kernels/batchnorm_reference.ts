/** Plain TypeScript BatchNormalization at inference — the test oracle of `scaleShift`. */

/** Inference statistics of one BatchNormalization layer (`gamma`/`beta` null when disabled). */
export interface BatchNormParams {
  gamma: Float32Array | null;
  beta: Float32Array | null;
  movingMean: Float32Array;
  movingVariance: Float32Array;
  epsilon: number;
}

/** `gamma * (x - mean) / sqrt(var + eps) + beta` on the last axis, in float64. */
export function batchNormReference(x: Float32Array, p: BatchNormParams): Float32Array {
  const c = p.movingMean.length;
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const j = i % c;
    const g = p.gamma ? p.gamma[j] : 1;
    const b = p.beta ? p.beta[j] : 0;
    y[i] = (g * (x[i] - p.movingMean[j])) / Math.sqrt(p.movingVariance[j] + p.epsilon) + b;
  }
  return y;
}
