// GEMM with a fused bias + activation epilogue:
//   C[m×n] = act(A[m×k] · B[k×n] + bias[n])   (all row-major float32; bias may be 0 = none)
// B is in Keras kernel layout (in, out), so Dense and the all-timesteps input projection of a
// recurrent layer call this directly. Register tile: 4 rows × 8 columns (8 v128 accumulators).
import { activateScalar, LINEAR, RELU } from "./activations";

// @ts-ignore: decorator
@inline function epilogue4(p: usize, acc: v128, biasV: v128, act: i32, alpha: f32): void {
  let v = f32x4.add(acc, biasV);
  if (act == RELU) v = f32x4.max(v, f32x4.splat(0));
  v128.store(p, v);
  if (act != LINEAR && act != RELU) {
    store<f32>(p, activateScalar(load<f32>(p), act, alpha));
    store<f32>(p + 4, activateScalar(load<f32>(p + 4), act, alpha));
    store<f32>(p + 8, activateScalar(load<f32>(p + 8), act, alpha));
    store<f32>(p + 12, activateScalar(load<f32>(p + 12), act, alpha));
  }
}

// @ts-ignore: decorator
@inline function loadBias4(bias: usize, j: i32): v128 {
  return bias ? v128.load(bias + (<usize> j << 2)) : f32x4.splat(0);
}

/** C = act(A·B + bias). `ldc` lets C rows be wider than n (writing into a column slice). */
export function gemm(
  a: usize,
  b: usize,
  bias: usize,
  c: usize,
  m: i32,
  n: i32,
  k: i32,
  act: i32,
  alpha: f32,
): void {
  gemmStrided(a, k, b, n, bias, c, n, m, n, k, act, alpha, 0);
}

/**
 * Strided GEMM: A rows are `lda` floats apart, B rows `ldb`, C rows `ldc`.
 * `accumulate` = 1 adds into the existing C instead of overwriting it (bias then must be 0).
 */
export function gemmStrided(
  a: usize,
  lda: i32,
  b: usize,
  ldb: i32,
  bias: usize,
  c: usize,
  ldc: i32,
  m: i32,
  n: i32,
  k: i32,
  act: i32,
  alpha: f32,
  accumulate: i32,
): void {
  const sa = <usize> lda << 2;
  const sb = <usize> ldb << 2;
  const sc = <usize> ldc << 2;
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const a0 = a + <usize> i * sa;
    const a1 = a0 + sa;
    const a2 = a1 + sa;
    const a3 = a2 + sa;
    const c0 = c + <usize> i * sc;
    let j = 0;
    for (; j + 8 <= n; j += 8) {
      let x00 = f32x4.splat(0), x01 = f32x4.splat(0);
      let x10 = f32x4.splat(0), x11 = f32x4.splat(0);
      let x20 = f32x4.splat(0), x21 = f32x4.splat(0);
      let x30 = f32x4.splat(0), x31 = f32x4.splat(0);
      let bp = b + (<usize> j << 2);
      for (let p = 0; p < k; p++) {
        const off = <usize> p << 2;
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        bp += sb;
        const v0 = v128.load32_splat(a0 + off);
        const v1 = v128.load32_splat(a1 + off);
        const v2 = v128.load32_splat(a2 + off);
        const v3 = v128.load32_splat(a3 + off);
        x00 = f32x4.add(x00, f32x4.mul(v0, b0));
        x01 = f32x4.add(x01, f32x4.mul(v0, b1));
        x10 = f32x4.add(x10, f32x4.mul(v1, b0));
        x11 = f32x4.add(x11, f32x4.mul(v1, b1));
        x20 = f32x4.add(x20, f32x4.mul(v2, b0));
        x21 = f32x4.add(x21, f32x4.mul(v2, b1));
        x30 = f32x4.add(x30, f32x4.mul(v3, b0));
        x31 = f32x4.add(x31, f32x4.mul(v3, b1));
      }
      const cp = c0 + (<usize> j << 2);
      if (accumulate) {
        x00 = f32x4.add(x00, v128.load(cp));
        x01 = f32x4.add(x01, v128.load(cp, 16));
        x10 = f32x4.add(x10, v128.load(cp + sc));
        x11 = f32x4.add(x11, v128.load(cp + sc, 16));
        x20 = f32x4.add(x20, v128.load(cp + 2 * sc));
        x21 = f32x4.add(x21, v128.load(cp + 2 * sc, 16));
        x30 = f32x4.add(x30, v128.load(cp + 3 * sc));
        x31 = f32x4.add(x31, v128.load(cp + 3 * sc, 16));
      }
      const bv0 = loadBias4(bias, j);
      const bv1 = loadBias4(bias, j + 4);
      epilogue4(cp, x00, bv0, act, alpha);
      epilogue4(cp + 16, x01, bv1, act, alpha);
      epilogue4(cp + sc, x10, bv0, act, alpha);
      epilogue4(cp + sc + 16, x11, bv1, act, alpha);
      epilogue4(cp + 2 * sc, x20, bv0, act, alpha);
      epilogue4(cp + 2 * sc + 16, x21, bv1, act, alpha);
      epilogue4(cp + 3 * sc, x30, bv0, act, alpha);
      epilogue4(cp + 3 * sc + 16, x31, bv1, act, alpha);
    }
    for (; j + 4 <= n; j += 4) {
      let x0 = f32x4.splat(0), x1 = f32x4.splat(0), x2 = f32x4.splat(0), x3 = f32x4.splat(0);
      let bp = b + (<usize> j << 2);
      for (let p = 0; p < k; p++) {
        const off = <usize> p << 2;
        const b0 = v128.load(bp);
        bp += sb;
        x0 = f32x4.add(x0, f32x4.mul(v128.load32_splat(a0 + off), b0));
        x1 = f32x4.add(x1, f32x4.mul(v128.load32_splat(a1 + off), b0));
        x2 = f32x4.add(x2, f32x4.mul(v128.load32_splat(a2 + off), b0));
        x3 = f32x4.add(x3, f32x4.mul(v128.load32_splat(a3 + off), b0));
      }
      const cp = c0 + (<usize> j << 2);
      if (accumulate) {
        x0 = f32x4.add(x0, v128.load(cp));
        x1 = f32x4.add(x1, v128.load(cp + sc));
        x2 = f32x4.add(x2, v128.load(cp + 2 * sc));
        x3 = f32x4.add(x3, v128.load(cp + 3 * sc));
      }
      const bv = loadBias4(bias, j);
      epilogue4(cp, x0, bv, act, alpha);
      epilogue4(cp + sc, x1, bv, act, alpha);
      epilogue4(cp + 2 * sc, x2, bv, act, alpha);
      epilogue4(cp + 3 * sc, x3, bv, act, alpha);
    }
    for (; j < n; j++) {
      for (let r = 0; r < 4; r++) {
        gemmScalarCell(
          a + <usize> (i + r) * sa,
          b,
          sb,
          bias,
          c + <usize> (i + r) * sc,
          j,
          k,
          act,
          alpha,
          accumulate,
        );
      }
    }
  }
  // Remaining rows one at a time, still SIMD across columns.
  for (; i < m; i++) {
    const ar = a + <usize> i * sa;
    const cr = c + <usize> i * sc;
    let j = 0;
    for (; j + 8 <= n; j += 8) {
      let x0 = f32x4.splat(0), x1 = f32x4.splat(0);
      let bp = b + (<usize> j << 2);
      for (let p = 0; p < k; p++) {
        const v = v128.load32_splat(ar + (<usize> p << 2));
        x0 = f32x4.add(x0, f32x4.mul(v, v128.load(bp)));
        x1 = f32x4.add(x1, f32x4.mul(v, v128.load(bp, 16)));
        bp += sb;
      }
      const cp = cr + (<usize> j << 2);
      if (accumulate) {
        x0 = f32x4.add(x0, v128.load(cp));
        x1 = f32x4.add(x1, v128.load(cp, 16));
      }
      epilogue4(cp, x0, loadBias4(bias, j), act, alpha);
      epilogue4(cp + 16, x1, loadBias4(bias, j + 4), act, alpha);
    }
    for (; j + 4 <= n; j += 4) {
      let x0 = f32x4.splat(0);
      let bp = b + (<usize> j << 2);
      for (let p = 0; p < k; p++) {
        x0 = f32x4.add(x0, f32x4.mul(v128.load32_splat(ar + (<usize> p << 2)), v128.load(bp)));
        bp += sb;
      }
      const cp = cr + (<usize> j << 2);
      if (accumulate) x0 = f32x4.add(x0, v128.load(cp));
      epilogue4(cp, x0, loadBias4(bias, j), act, alpha);
    }
    for (; j < n; j++) gemmScalarCell(ar, b, sb, bias, cr, j, k, act, alpha, accumulate);
  }
}

// @ts-ignore: decorator
@inline function gemmScalarCell(
  ar: usize,
  b: usize,
  sb: usize,
  bias: usize,
  cr: usize,
  j: i32,
  k: i32,
  act: i32,
  alpha: f32,
  accumulate: i32,
): void {
  let s: f32 = 0;
  let bp = b + (<usize> j << 2);
  for (let p = 0; p < k; p++) {
    s += load<f32>(ar + (<usize> p << 2)) * load<f32>(bp);
    bp += sb;
  }
  const cp = cr + (<usize> j << 2);
  if (accumulate) s += load<f32>(cp);
  if (bias) s += load<f32>(bias + (<usize> j << 2));
  store<f32>(cp, activateScalar(s, act, alpha));
}
