/**
 * Counter-based random draws for the noise and dropout layers in training mode
 * (SpatialDropout2D, GaussianNoise, GaussianDropout). Draw `k` of a step is a pure function of
 * the layer's step seed (`ctx.seedFor(layer)`) and `k`, where `k` counts from the first sample
 * of the whole batch (`ctx.sampleOffset`): a batch split across workers draws exactly what one
 * thread draws. The hash is Dropout's (`dropoutHash` in `wasm/assembly/dropout_grad.ts`), so a
 * uniform here equals the one Dropout compares with its rate.
 *
 * @module
 */

/** The 32-bit hash of (seed, index) Dropout uses (mirrors `dropoutHash` in dropout_grad.ts). */
export function counterHash(seed: number, index: number): number {
  let h = (Math.imul(index >>> 0, 0x9e3779b9) ^ seed) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** Uniform draw `index` of stream `seed` in [0, 1), 24 bits (as Dropout's keep test). */
export function uniformAt(seed: number, index: number): number {
  return (counterHash(seed, index) >>> 8) * 5.9604644775390625e-8;
}

/** The second stream of a seed (the Box–Muller angle), independent of the first. */
function angleSeed(seed: number): number {
  return counterHash(seed ^ 0x5bd1e995, 0x27d4eb2f);
}

/**
 * Standard normal draw `index` of stream `seed` (Box–Muller on two counter-based uniforms; the
 * radius uniform lies in (0, 1], so the logarithm is finite: |z| ≤ √(2·ln 2²⁴) ≈ 5.77).
 */
export function normalAt(seed: number, index: number): number {
  const u1 = ((counterHash(seed, index) >>> 8) + 1) * 5.9604644775390625e-8;
  const u2 = uniformAt(angleSeed(seed), index);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * Fills `out[i]` with standard normal draws `offset + i` of stream `seed` (the loop of
 * {@link normalAt}, with the angle stream's seed computed once).
 */
export function fillNormal(out: Float32Array, seed: number, offset: number): void {
  const seed2 = angleSeed(seed);
  for (let i = 0; i < out.length; i++) {
    const k = offset + i;
    const u1 = ((counterHash(seed, k) >>> 8) + 1) * 5.9604644775390625e-8;
    const u2 = (counterHash(seed2, k) >>> 8) * 5.9604644775390625e-8;
    out[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/**
 * Dropout's keep scale for draw `index`: 1/(1 − rate) when the uniform is ≥ rate, else 0 (rate
 * 1 drops everything). Matches `dropoutScaleReference` for the same seed, index and rate.
 */
export function keepScaleAt(seed: number, index: number, rate: number): number {
  const r = Math.fround(rate);
  const u = Math.fround(uniformAt(seed, index));
  return u >= r && r < 1 ? Math.fround(1 / (1 - r)) : 0;
}
