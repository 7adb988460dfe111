// Dropout in training mode (inverted scaling, as Keras): each element is kept with probability
// 1 - rate and then scaled by 1 / (1 - rate). The keep decision for element `offset + i` is a
// counter-based hash of (seed, offset + i), so a batch split across workers draws the same mask.
// The backward pass multiplies dy by the saved scale (activation_grad.ts multiplyElementwise).

// @ts-ignore: decorator
@inline export function dropoutHash(seed: u32, index: u32): u32 {
  let h: u32 = (index * 0x9e3779b9) ^ seed;
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  h ^= h >>> 16;
  return h;
}

/**
 * y = x · scale where scale[i] = 1/(1-rate) when uniform(seed, offset+i) ≥ rate, else 0.
 * `scale` receives the mask (kept for the backward pass); `y` may be `x`.
 */
export function dropoutForward(
  x: usize,
  y: usize,
  scale: usize,
  n: i32,
  rate: f32,
  seed: u32,
  offset: u32,
): void {
  const keep: f32 = <f32> (1.0 / (1.0 - <f64> rate));
  for (let i = 0; i < n; i++) {
    const o = <usize> i << 2;
    const u: f32 = <f32> (dropoutHash(seed, offset + <u32> i) >>> 8) * <f32> 5.9604644775390625e-8;
    const s: f32 = u >= rate ? keep : 0;
    store<f32>(scale + o, s);
    store<f32>(y + o, load<f32>(x + o) * s);
  }
}
