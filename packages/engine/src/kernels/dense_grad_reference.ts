/** Plain TypeScript oracles of the Dense backward kernels (`wasm/assembly/dense_grad.ts`). */

/** C[m×n] = Aᵀ·B with A k×m and B k×n, float64 accumulation (dW = Xᵀ·dY). */
export function gemmTNReference(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[p * m + i] * b[p * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}

/** C[m×n] = A·Bᵀ with A m×k and B n×k, float64 accumulation (dX = dY·Wᵀ). */
export function gemmNTReference(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[j * k + p];
      c[i * n + j] = s;
    }
  }
  return c;
}

/** Column sums of a rows × cols matrix (the bias gradient). */
export function columnSumsReference(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(cols);
  for (let j = 0; j < cols; j++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += src[r * cols + j];
    out[j] = s;
  }
  return out;
}
