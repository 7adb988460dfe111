/** Plain TypeScript oracles of the optimizer kernels (`wasm/assembly/optim.ts`), float64 math. */

/** One Keras 3 Adam step in place (`t` is the 1-based step). */
export function adamReference(
  w: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  t: number,
  lr = 1e-3,
  beta1 = 0.9,
  beta2 = 0.999,
  epsilon = 1e-7,
): void {
  const alpha = (lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
  for (let i = 0; i < w.length; i++) {
    m[i] += (g[i] - m[i]) * (1 - beta1);
    v[i] += (g[i] * g[i] - v[i]) * (1 - beta2);
    w[i] -= (alpha * m[i]) / (Math.sqrt(v[i]) + epsilon);
  }
}

/** One Keras 3 SGD step in place (`m` ignored when momentum is 0). */
export function sgdReference(
  w: Float32Array,
  g: Float32Array,
  m: Float32Array,
  lr: number,
  momentum: number,
  nesterov: boolean,
): void {
  for (let i = 0; i < w.length; i++) {
    if (momentum === 0) {
      w[i] -= lr * g[i];
      continue;
    }
    m[i] = momentum * m[i] - lr * g[i];
    w[i] += nesterov ? momentum * m[i] - lr * g[i] : m[i];
  }
}

/** One Keras 3 RMSprop step in place. */
export function rmspropReference(
  w: Float32Array,
  g: Float32Array,
  v: Float32Array,
  mom: Float32Array,
  avg: Float32Array,
  lr: number,
  rho: number,
  momentum: number,
  epsilon: number,
  centered: boolean,
): void {
  for (let i = 0; i < w.length; i++) {
    v[i] = rho * v[i] + (1 - rho) * g[i] * g[i];
    let denom = v[i] + epsilon;
    if (centered) {
      avg[i] = rho * avg[i] + (1 - rho) * g[i];
      denom = v[i] - avg[i] * avg[i] + epsilon;
    }
    const inc = (lr * g[i]) / Math.sqrt(denom);
    if (momentum > 0) {
      mom[i] = momentum * mom[i] + inc;
      w[i] -= mom[i];
    } else {
      w[i] -= inc;
    }
  }
}

/** Keras `clip_by_norm`: g · c / max(‖g‖, c). */
export function clipByNormReference(g: Float32Array, clipNorm: number): Float32Array {
  let s = 0;
  for (const v of g) s += v * v;
  const norm = Math.sqrt(s);
  return Float32Array.from(g, (v) => (v * clipNorm) / Math.max(norm, clipNorm));
}
