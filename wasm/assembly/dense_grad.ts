// Backward of Dense (and of any layer that is a GEMM on its last axis):
//   dX[m×k]  = dY[m×n] · Wᵀ           gemmNT  (W is k×n, Keras kernel layout)
//   dW[k×n]  = Xᵀ[k×m] · dY[m×n]      gemmTN  (X is m×k)
//   db[n]    = Σ_rows dY              columnSums
// All row-major float32; `accumulate` = 1 adds into C instead of overwriting it.
import { madd } from "./gemm";

/**
 * Rows of A and B (the k of gemmTN: a layer's batch × timesteps, 6,400 for a batch of 64
 * sequences of 100) one block of gemmTN sums before adding its sums into C. A block of both stays
 * in L2 while every register tile reads it; whole columns of 6,400 rows instead streamed from
 * memory once per tile (8 GFLOP/s for 128 → 512 units).
 */
const TN_KC: i32 = 256;

/**
 * C[m×n] (+)= Aᵀ · B where A is k×m (`lda` floats per row) and B is k×n (`ldb` per row), summed
 * over k in blocks of {@link TN_KC} rows.
 */
export function gemmTN(
  a: usize,
  lda: i32,
  b: usize,
  ldb: i32,
  c: usize,
  ldc: i32,
  m: i32,
  n: i32,
  k: i32,
  accumulate: i32,
): void {
  const sa = <usize> lda << 2;
  const sb = <usize> ldb << 2;
  for (let k0 = 0; k0 == 0 || k0 < k; k0 += TN_KC) {
    const kb = min(TN_KC, k - k0);
    gemmTNBlock(a + <usize> k0 * sa, sa, b + <usize> k0 * sb, sb, c, ldc, m, n, kb, k0 > 0 ? 1 : accumulate);
  }
}

/**
 * One k block of gemmTN. Register tiles: 6 rows of C × 8 columns in relaxed builds (12
 * accumulators, as gemm's 6×8), else 4 × 8; the A values of one row of A are contiguous. Every
 * cell sums its k block in order, so the tile a cell falls in does not change its bits.
 */
function gemmTNBlock(
  a: usize,
  sa: usize,
  b: usize,
  sb: usize,
  c: usize,
  ldc: i32,
  m: i32,
  n: i32,
  k: i32,
  accumulate: i32,
): void {
  const sc = <usize> ldc << 2;
  let i = 0;
  if (ASC_FEATURE_RELAXED_SIMD) {
    for (; i + 6 <= m; i += 6) {
      const ai = a + (<usize> i << 2);
      const c0 = c + <usize> i * sc;
      let j = 0;
      for (; j + 8 <= n; j += 8) {
        let x00 = f32x4.splat(0), x01 = f32x4.splat(0);
        let x10 = f32x4.splat(0), x11 = f32x4.splat(0);
        let x20 = f32x4.splat(0), x21 = f32x4.splat(0);
        let x30 = f32x4.splat(0), x31 = f32x4.splat(0);
        let x40 = f32x4.splat(0), x41 = f32x4.splat(0);
        let x50 = f32x4.splat(0), x51 = f32x4.splat(0);
        let bp = b + (<usize> j << 2);
        let ap = ai;
        for (let p = 0; p < k; p++) {
          const b0 = v128.load(bp);
          const b1 = v128.load(bp, 16);
          bp += sb;
          let v = v128.load32_splat(ap);
          x00 = madd(x00, v, b0);
          x01 = madd(x01, v, b1);
          v = v128.load32_splat(ap, 4);
          x10 = madd(x10, v, b0);
          x11 = madd(x11, v, b1);
          v = v128.load32_splat(ap, 8);
          x20 = madd(x20, v, b0);
          x21 = madd(x21, v, b1);
          v = v128.load32_splat(ap, 12);
          x30 = madd(x30, v, b0);
          x31 = madd(x31, v, b1);
          v = v128.load32_splat(ap, 16);
          x40 = madd(x40, v, b0);
          x41 = madd(x41, v, b1);
          v = v128.load32_splat(ap, 20);
          x50 = madd(x50, v, b0);
          x51 = madd(x51, v, b1);
          ap += sa;
        }
        let cp = c0 + (<usize> j << 2);
        store4(cp, x00, accumulate);
        store4(cp + 16, x01, accumulate);
        cp += sc;
        store4(cp, x10, accumulate);
        store4(cp + 16, x11, accumulate);
        cp += sc;
        store4(cp, x20, accumulate);
        store4(cp + 16, x21, accumulate);
        cp += sc;
        store4(cp, x30, accumulate);
        store4(cp + 16, x31, accumulate);
        cp += sc;
        store4(cp, x40, accumulate);
        store4(cp + 16, x41, accumulate);
        cp += sc;
        store4(cp, x50, accumulate);
        store4(cp + 16, x51, accumulate);
      }
      // Columns past the last 8: row by row (tnRow's 4-column tiles, then cells).
      for (let r = 0; r < 6; r++) tnRow(a, sa, b, sb, c, sc, i + r, j, n, k, accumulate);
    }
  }
  for (; i + 4 <= m; i += 4) {
    const ai = a + (<usize> i << 2);
    const c0 = c + <usize> i * sc;
    let j = 0;
    for (; j + 8 <= n; j += 8) {
      let x00 = f32x4.splat(0), x01 = f32x4.splat(0);
      let x10 = f32x4.splat(0), x11 = f32x4.splat(0);
      let x20 = f32x4.splat(0), x21 = f32x4.splat(0);
      let x30 = f32x4.splat(0), x31 = f32x4.splat(0);
      let bp = b + (<usize> j << 2);
      let ap = ai;
      for (let p = 0; p < k; p++) {
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        const v0 = v128.load32_splat(ap);
        const v1 = v128.load32_splat(ap, 4);
        const v2 = v128.load32_splat(ap, 8);
        const v3 = v128.load32_splat(ap, 12);
        bp += sb;
        ap += sa;
        x00 = madd(x00, v0, b0);
        x01 = madd(x01, v0, b1);
        x10 = madd(x10, v1, b0);
        x11 = madd(x11, v1, b1);
        x20 = madd(x20, v2, b0);
        x21 = madd(x21, v2, b1);
        x30 = madd(x30, v3, b0);
        x31 = madd(x31, v3, b1);
      }
      const cp = c0 + (<usize> j << 2);
      store4(cp, x00, accumulate);
      store4(cp + 16, x01, accumulate);
      store4(cp + sc, x10, accumulate);
      store4(cp + sc + 16, x11, accumulate);
      store4(cp + 2 * sc, x20, accumulate);
      store4(cp + 2 * sc + 16, x21, accumulate);
      store4(cp + 3 * sc, x30, accumulate);
      store4(cp + 3 * sc + 16, x31, accumulate);
    }
    // Columns past the last 8: row by row, as after the 6-row tiles.
    for (let r = 0; r < 4; r++) tnRow(a, sa, b, sb, c, sc, i + r, j, n, k, accumulate);
  }
  for (; i < m; i++) tnRow(a, sa, b, sb, c, sc, i, 0, n, k, accumulate);
}

/** Row i of C from column j0 on (8, then 4 columns a vector tile, then cells). */
// @ts-ignore: decorator
@inline function tnRow(
  a: usize,
  sa: usize,
  b: usize,
  sb: usize,
  c: usize,
  sc: usize,
  i: i32,
  j0: i32,
  n: i32,
  k: i32,
  accumulate: i32,
): void {
  const cr = c + <usize> i * sc;
  let j = j0;
  for (; j + 8 <= n; j += 8) {
    let x0 = f32x4.splat(0), x1 = f32x4.splat(0);
    let bp = b + (<usize> j << 2);
    let ap = a + (<usize> i << 2);
    for (let p = 0; p < k; p++) {
      const v = v128.load32_splat(ap);
      x0 = madd(x0, v, v128.load(bp));
      x1 = madd(x1, v, v128.load(bp, 16));
      bp += sb;
      ap += sa;
    }
    const cp = cr + (<usize> j << 2);
    store4(cp, x0, accumulate);
    store4(cp + 16, x1, accumulate);
  }
  for (; j + 4 <= n; j += 4) {
    let x0 = f32x4.splat(0);
    let bp = b + (<usize> j << 2);
    let ap = a + (<usize> i << 2);
    for (let p = 0; p < k; p++) {
      x0 = madd(x0, v128.load32_splat(ap), v128.load(bp));
      bp += sb;
      ap += sa;
    }
    store4(cr + (<usize> j << 2), x0, accumulate);
  }
  for (; j < n; j++) tnScalarCell(a, sa, b, sb, c, sc, i, j, k, accumulate);
}

// @ts-ignore: decorator
@inline function store4(p: usize, v: v128, accumulate: i32): void {
  v128.store(p, accumulate ? f32x4.add(v, v128.load(p)) : v);
}

// @ts-ignore: decorator
@inline function tnScalarCell(
  a: usize,
  sa: usize,
  b: usize,
  sb: usize,
  c: usize,
  sc: usize,
  i: i32,
  j: i32,
  k: i32,
  accumulate: i32,
): void {
  let s: f32 = 0;
  let ap = a + (<usize> i << 2);
  let bp = b + (<usize> j << 2);
  for (let p = 0; p < k; p++) {
    s += load<f32>(ap) * load<f32>(bp);
    ap += sa;
    bp += sb;
  }
  const cp = c + <usize> i * sc + (<usize> j << 2);
  store<f32>(cp, accumulate ? s + load<f32>(cp) : s);
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) +
    f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/**
 * C[m×n] (+)= A[m×k] · Bᵀ where B is n×k: each cell is a dot product of two contiguous rows, SIMD
 * along k. Tile: 2 rows of A × 4 rows of B (8 accumulators).
 */
export function gemmNT(
  a: usize,
  lda: i32,
  b: usize,
  ldb: i32,
  c: usize,
  ldc: i32,
  m: i32,
  n: i32,
  k: i32,
  accumulate: i32,
): void {
  const sa = <usize> lda << 2;
  const sb = <usize> ldb << 2;
  const sc = <usize> ldc << 2;
  const k4 = k & ~3;
  let i = 0;
  for (; i + 2 <= m; i += 2) {
    const a0 = a + <usize> i * sa;
    const a1 = a0 + sa;
    const c0 = c + <usize> i * sc;
    const c1 = c0 + sc;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const b0 = b + <usize> j * sb;
      const b1 = b0 + sb;
      const b2 = b1 + sb;
      const b3 = b2 + sb;
      let x00 = f32x4.splat(0), x01 = f32x4.splat(0), x02 = f32x4.splat(0), x03 = f32x4.splat(0);
      let x10 = f32x4.splat(0), x11 = f32x4.splat(0), x12 = f32x4.splat(0), x13 = f32x4.splat(0);
      for (let p = 0; p < k4; p += 4) {
        const off = <usize> p << 2;
        const va0 = v128.load(a0 + off);
        const va1 = v128.load(a1 + off);
        const vb0 = v128.load(b0 + off);
        const vb1 = v128.load(b1 + off);
        const vb2 = v128.load(b2 + off);
        const vb3 = v128.load(b3 + off);
        x00 = madd(x00, va0, vb0);
        x01 = madd(x01, va0, vb1);
        x02 = madd(x02, va0, vb2);
        x03 = madd(x03, va0, vb3);
        x10 = madd(x10, va1, vb0);
        x11 = madd(x11, va1, vb1);
        x12 = madd(x12, va1, vb2);
        x13 = madd(x13, va1, vb3);
      }
      let s00 = hsum(x00), s01 = hsum(x01), s02 = hsum(x02), s03 = hsum(x03);
      let s10 = hsum(x10), s11 = hsum(x11), s12 = hsum(x12), s13 = hsum(x13);
      for (let p = k4; p < k; p++) {
        const off = <usize> p << 2;
        const u0 = load<f32>(a0 + off), u1 = load<f32>(a1 + off);
        const w0 = load<f32>(b0 + off), w1 = load<f32>(b1 + off);
        const w2 = load<f32>(b2 + off), w3 = load<f32>(b3 + off);
        s00 += u0 * w0;
        s01 += u0 * w1;
        s02 += u0 * w2;
        s03 += u0 * w3;
        s10 += u1 * w0;
        s11 += u1 * w1;
        s12 += u1 * w2;
        s13 += u1 * w3;
      }
      const o = <usize> j << 2;
      storeCell(c0 + o, s00, accumulate);
      storeCell(c0 + o + 4, s01, accumulate);
      storeCell(c0 + o + 8, s02, accumulate);
      storeCell(c0 + o + 12, s03, accumulate);
      storeCell(c1 + o, s10, accumulate);
      storeCell(c1 + o + 4, s11, accumulate);
      storeCell(c1 + o + 8, s12, accumulate);
      storeCell(c1 + o + 12, s13, accumulate);
    }
    for (; j < n; j++) {
      const bj = b + <usize> j * sb;
      storeCell(c0 + (<usize> j << 2), dot(a0, bj, k), accumulate);
      storeCell(c1 + (<usize> j << 2), dot(a1, bj, k), accumulate);
    }
  }
  for (; i < m; i++) {
    const ai = a + <usize> i * sa;
    const ci = c + <usize> i * sc;
    for (let j = 0; j < n; j++) {
      storeCell(ci + (<usize> j << 2), dot(ai, b + <usize> j * sb, k), accumulate);
    }
  }
}

// @ts-ignore: decorator
@inline function storeCell(p: usize, s: f32, accumulate: i32): void {
  store<f32>(p, accumulate ? s + load<f32>(p) : s);
}

/** Dot product of two contiguous float rows of length k (SIMD, scalar tail). */
function dot(x: usize, y: usize, k: i32): f32 {
  let acc = f32x4.splat(0);
  let p = 0;
  for (; p + 4 <= k; p += 4) {
    const off = <usize> p << 2;
    acc = madd(acc, v128.load(x + off), v128.load(y + off));
  }
  let s = hsum(acc);
  for (; p < k; p++) {
    const off = <usize> p << 2;
    s += load<f32>(x + off) * load<f32>(y + off);
  }
  return s;
}

/** dst[j] (+)= Σ_r src[r, j] for a rows × cols matrix (the bias gradient). */
export function columnSums(src: usize, dst: usize, rows: i32, cols: i32, accumulate: i32): void {
  const rowBytes = <usize> cols << 2;
  let j = 0;
  for (; j + 8 <= cols; j += 8) {
    const o = <usize> j << 2;
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
    let p = src + o;
    for (let r = 0; r < rows; r++) {
      s0 = f32x4.add(s0, v128.load(p));
      s1 = f32x4.add(s1, v128.load(p, 16));
      p += rowBytes;
    }
    store4(dst + o, s0, accumulate);
    store4(dst + o + 16, s1, accumulate);
  }
  for (; j + 4 <= cols; j += 4) {
    const o = <usize> j << 2;
    let s0 = f32x4.splat(0);
    let p = src + o;
    for (let r = 0; r < rows; r++) {
      s0 = f32x4.add(s0, v128.load(p));
      p += rowBytes;
    }
    store4(dst + o, s0, accumulate);
  }
  for (; j < cols; j++) {
    const o = <usize> j << 2;
    let s: f32 = 0;
    let p = src + o;
    for (let r = 0; r < rows; r++) {
      s += load<f32>(p);
      p += rowBytes;
    }
    storeCell(dst + o, s, accumulate);
  }
}
