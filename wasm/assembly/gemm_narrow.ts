// Narrow, deep GEMM for inference: C[m×n] = act(A[m×k] · B[k×n] + bias[n]) with n ≤ 16 and a
// long k — the classifier after Flatten (n = 10, k = 8192). gemm's narrowRow8 reads B in its
// Keras layout, where a k step touches one short row of B: one broadcast of A per multiply-add,
// so it is bound by loads at about a third of the FMA rate. Here B is packed once (per weight
// change) into column groups of 4 or 8 columns, k-major in steps of 4:
//   packed[group][kb][jj][l] = B[4·kb + l][j0 + jj]   (zeros past k and past n)
// so a k step of 4 is one A vector and one B vector per column, read in streaming order, and
// each column keeps a 4-lane dot product that is reduced across lanes at the end.
// Accumulators restart every GEMM_KC k (their sums added to an outer total), as gemm's own
// blocking: the float32 error stays near a blocked sum's instead of growing with k.
// A row's result does not depend on m (rows are independent), so batch 1 equals batch 64.
import { activateScalar } from "./activations";
import { GEMM_KC, isNarrow, loadLanes, madd } from "./gemm";

/** Columns of a wide group (8 accumulators) and of a narrow one (4, for the last < 8 columns). */
const WIDE: i32 = 8;
const NARROW: i32 = 4;

/** Column groups of n: the widths (8, then 4s for what is left). */
// @ts-ignore: decorator
@inline function groupWidth(n: i32, j0: i32): i32 {
  return n - j0 >= WIDE ? WIDE : NARROW;
}

/** k rounded up to whole steps of 4. */
// @ts-ignore: decorator
@inline function paddedK(k: i32): i32 {
  return (k + 3) & ~3;
}

/** Whether gemmNarrowPacked serves a product with n columns over k: gemm's narrow, deep B. */
export function gemmNarrowApplies(n: i32, k: i32): i32 {
  return n >= 1 && isNarrow(n, k) ? 1 : 0;
}

/** Floats of the packed B of an n-column, k-row matrix. */
export function gemmNarrowPackedFloats(n: i32, k: i32): i32 {
  let floats = 0;
  for (let j0 = 0; j0 < n; j0 += groupWidth(n, j0)) floats += groupWidth(n, j0) * paddedK(k);
  return floats;
}

/** Packs B (k × n, row-major, Keras kernel layout) into `dst` (gemmNarrowPackedFloats floats). */
export function gemmNarrowPack(b: usize, dst: usize, n: i32, k: i32): void {
  const kp = paddedK(k);
  let out = dst;
  for (let j0 = 0; j0 < n; j0 += groupWidth(n, j0)) {
    const width = groupWidth(n, j0);
    for (let kb = 0; kb < kp; kb += 4) {
      for (let jj = 0; jj < width; jj++) {
        const j = j0 + jj;
        for (let l = 0; l < 4; l++) {
          const kk = kb + l;
          store<f32>(out, kk < k && j < n ? load<f32>(b + ((<usize> kk * <usize> n + <usize> j) << 2)) : 0);
          out += 4;
        }
      }
    }
  }
}

/** The sum of v's four lanes ((l0 + l1) + (l2 + l3)). */
// @ts-ignore: decorator
@inline function lanesSum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Writes act(total + bias[j]) to c[j] for one column. */
// @ts-ignore: decorator
@inline function storeColumn(c: usize, j: i32, total: v128, bias: usize, act: i32, alpha: f32): void {
  let s = lanesSum(total);
  if (bias) s += load<f32>(bias + (<usize> j << 2));
  store<f32>(c + (<usize> j << 2), activateScalar(s, act, alpha));
}

/**
 * One A row against a group of 8 packed columns: 8 dot products over k. The last k step reads A
 * only for its real floats (the packed B has zeros past k), so A is never read past its row.
 */
function wideGroup(a: usize, k: i32, p: usize, c: usize, j0: i32, cols: i32, bias: usize, act: i32, alpha: f32): void {
  let t0 = f32x4.splat(0), t1 = f32x4.splat(0), t2 = f32x4.splat(0), t3 = f32x4.splat(0);
  let t4 = f32x4.splat(0), t5 = f32x4.splat(0), t6 = f32x4.splat(0), t7 = f32x4.splat(0);
  const whole = k & ~3;
  let kk = 0;
  let bp = p;
  while (kk < whole) {
    let x0 = f32x4.splat(0), x1 = f32x4.splat(0), x2 = f32x4.splat(0), x3 = f32x4.splat(0);
    let x4 = f32x4.splat(0), x5 = f32x4.splat(0), x6 = f32x4.splat(0), x7 = f32x4.splat(0);
    const end = min(whole, kk + GEMM_KC);
    for (; kk < end; kk += 4) {
      const v = v128.load(a + (<usize> kk << 2));
      x0 = madd(x0, v, v128.load(bp));
      x1 = madd(x1, v, v128.load(bp, 16));
      x2 = madd(x2, v, v128.load(bp, 32));
      x3 = madd(x3, v, v128.load(bp, 48));
      x4 = madd(x4, v, v128.load(bp, 64));
      x5 = madd(x5, v, v128.load(bp, 80));
      x6 = madd(x6, v, v128.load(bp, 96));
      x7 = madd(x7, v, v128.load(bp, 112));
      bp += 128;
    }
    t0 = f32x4.add(t0, x0);
    t1 = f32x4.add(t1, x1);
    t2 = f32x4.add(t2, x2);
    t3 = f32x4.add(t3, x3);
    t4 = f32x4.add(t4, x4);
    t5 = f32x4.add(t5, x5);
    t6 = f32x4.add(t6, x6);
    t7 = f32x4.add(t7, x7);
  }
  if (whole < k) {
    const v = loadLanes(a + (<usize> whole << 2), k - whole);
    t0 = madd(t0, v, v128.load(bp));
    t1 = madd(t1, v, v128.load(bp, 16));
    t2 = madd(t2, v, v128.load(bp, 32));
    t3 = madd(t3, v, v128.load(bp, 48));
    t4 = madd(t4, v, v128.load(bp, 64));
    t5 = madd(t5, v, v128.load(bp, 80));
    t6 = madd(t6, v, v128.load(bp, 96));
    t7 = madd(t7, v, v128.load(bp, 112));
  }
  storeColumn(c, j0, t0, bias, act, alpha);
  if (cols > 1) storeColumn(c, j0 + 1, t1, bias, act, alpha);
  if (cols > 2) storeColumn(c, j0 + 2, t2, bias, act, alpha);
  if (cols > 3) storeColumn(c, j0 + 3, t3, bias, act, alpha);
  if (cols > 4) storeColumn(c, j0 + 4, t4, bias, act, alpha);
  if (cols > 5) storeColumn(c, j0 + 5, t5, bias, act, alpha);
  if (cols > 6) storeColumn(c, j0 + 6, t6, bias, act, alpha);
  if (cols > 7) storeColumn(c, j0 + 7, t7, bias, act, alpha);
}

/** As wideGroup for a group of 4 packed columns (`cols` ≤ 4 of them real). */
function narrowGroup(a: usize, k: i32, p: usize, c: usize, j0: i32, cols: i32, bias: usize, act: i32, alpha: f32): void {
  let t0 = f32x4.splat(0), t1 = f32x4.splat(0), t2 = f32x4.splat(0), t3 = f32x4.splat(0);
  const whole = k & ~3;
  let kk = 0;
  let bp = p;
  while (kk < whole) {
    let x0 = f32x4.splat(0), x1 = f32x4.splat(0), x2 = f32x4.splat(0), x3 = f32x4.splat(0);
    const end = min(whole, kk + GEMM_KC);
    for (; kk < end; kk += 4) {
      const v = v128.load(a + (<usize> kk << 2));
      x0 = madd(x0, v, v128.load(bp));
      x1 = madd(x1, v, v128.load(bp, 16));
      x2 = madd(x2, v, v128.load(bp, 32));
      x3 = madd(x3, v, v128.load(bp, 48));
      bp += 64;
    }
    t0 = f32x4.add(t0, x0);
    t1 = f32x4.add(t1, x1);
    t2 = f32x4.add(t2, x2);
    t3 = f32x4.add(t3, x3);
  }
  if (whole < k) {
    const v = loadLanes(a + (<usize> whole << 2), k - whole);
    t0 = madd(t0, v, v128.load(bp));
    t1 = madd(t1, v, v128.load(bp, 16));
    t2 = madd(t2, v, v128.load(bp, 32));
    t3 = madd(t3, v, v128.load(bp, 48));
  }
  storeColumn(c, j0, t0, bias, act, alpha);
  if (cols > 1) storeColumn(c, j0 + 1, t1, bias, act, alpha);
  if (cols > 2) storeColumn(c, j0 + 2, t2, bias, act, alpha);
  if (cols > 3) storeColumn(c, j0 + 3, t3, bias, act, alpha);
}

/**
 * Two A rows against 4 packed columns whose k steps are `stride` bytes apart (64 in a narrow
 * group, 128 in either half of a wide one): each B vector, streamed from L2 for a deep B (8192 ×
 * 10 is 384 KiB packed), serves both rows, and a k step reads 2 A + 4 B vectors for 8
 * multiply-adds instead of 1 + 8 for 8. Each row's sums are wideGroup's / narrowGroup's, in the
 * same order (a row's result does not depend on its neighbour).
 */
function pairQuad(
  a0: usize,
  a1: usize,
  k: i32,
  p: usize,
  stride: usize,
  c0: usize,
  c1: usize,
  j0: i32,
  cols: i32,
  bias: usize,
  act: i32,
  alpha: f32,
): void {
  let t00 = f32x4.splat(0), t01 = f32x4.splat(0), t02 = f32x4.splat(0), t03 = f32x4.splat(0);
  let t10 = f32x4.splat(0), t11 = f32x4.splat(0), t12 = f32x4.splat(0), t13 = f32x4.splat(0);
  const whole = k & ~3;
  let kk = 0;
  let bp = p;
  while (kk < whole) {
    let x00 = f32x4.splat(0), x01 = f32x4.splat(0), x02 = f32x4.splat(0), x03 = f32x4.splat(0);
    let x10 = f32x4.splat(0), x11 = f32x4.splat(0), x12 = f32x4.splat(0), x13 = f32x4.splat(0);
    const end = min(whole, kk + GEMM_KC);
    for (; kk < end; kk += 4) {
      const o = <usize> kk << 2;
      const v0 = v128.load(a0 + o), v1 = v128.load(a1 + o);
      let b = v128.load(bp);
      x00 = madd(x00, v0, b);
      x10 = madd(x10, v1, b);
      b = v128.load(bp, 16);
      x01 = madd(x01, v0, b);
      x11 = madd(x11, v1, b);
      b = v128.load(bp, 32);
      x02 = madd(x02, v0, b);
      x12 = madd(x12, v1, b);
      b = v128.load(bp, 48);
      x03 = madd(x03, v0, b);
      x13 = madd(x13, v1, b);
      bp += stride;
    }
    t00 = f32x4.add(t00, x00);
    t01 = f32x4.add(t01, x01);
    t02 = f32x4.add(t02, x02);
    t03 = f32x4.add(t03, x03);
    t10 = f32x4.add(t10, x10);
    t11 = f32x4.add(t11, x11);
    t12 = f32x4.add(t12, x12);
    t13 = f32x4.add(t13, x13);
  }
  if (whole < k) {
    const o = <usize> whole << 2;
    const v0 = loadLanes(a0 + o, k - whole), v1 = loadLanes(a1 + o, k - whole);
    let b = v128.load(bp);
    t00 = madd(t00, v0, b);
    t10 = madd(t10, v1, b);
    b = v128.load(bp, 16);
    t01 = madd(t01, v0, b);
    t11 = madd(t11, v1, b);
    b = v128.load(bp, 32);
    t02 = madd(t02, v0, b);
    t12 = madd(t12, v1, b);
    b = v128.load(bp, 48);
    t03 = madd(t03, v0, b);
    t13 = madd(t13, v1, b);
  }
  storeColumn(c0, j0, t00, bias, act, alpha);
  storeColumn(c1, j0, t10, bias, act, alpha);
  if (cols > 1) {
    storeColumn(c0, j0 + 1, t01, bias, act, alpha);
    storeColumn(c1, j0 + 1, t11, bias, act, alpha);
  }
  if (cols > 2) {
    storeColumn(c0, j0 + 2, t02, bias, act, alpha);
    storeColumn(c1, j0 + 2, t12, bias, act, alpha);
  }
  if (cols > 3) {
    storeColumn(c0, j0 + 3, t03, bias, act, alpha);
    storeColumn(c1, j0 + 3, t13, bias, act, alpha);
  }
}

/**
 * C[m×n] = act(A[m×k] · B + bias) with B packed by gemmNarrowPack (bias may be 0 = none; `act`
 * an elementwise activation code, `alpha` its parameter). Rows are `k` floats (A) and `n` (C).
 */
export function gemmNarrowPacked(
  a: usize,
  packed: usize,
  bias: usize,
  c: usize,
  m: i32,
  n: i32,
  k: i32,
  act: i32,
  alpha: f32,
): void {
  const kp = paddedK(k);
  let i = 0;
  // Rows in pairs (see pairQuad), 4 columns at a time; an odd last row alone.
  for (; i + 2 <= m; i += 2) {
    const ar = a + (<usize> i * <usize> k << 2);
    const cr = c + (<usize> i * <usize> n << 2);
    const ar1 = ar + (<usize> k << 2), cr1 = cr + (<usize> n << 2);
    let p = packed;
    for (let j0 = 0; j0 < n; j0 += groupWidth(n, j0)) {
      const width = groupWidth(n, j0);
      const cols = min(width, n - j0);
      const stride = <usize> width << 4;
      pairQuad(ar, ar1, k, p, stride, cr, cr1, j0, min(cols, 4), bias, act, alpha);
      if (cols > 4) pairQuad(ar, ar1, k, p + 64, stride, cr, cr1, j0 + 4, cols - 4, bias, act, alpha);
      p += <usize> (width * kp) << 2;
    }
  }
  for (; i < m; i++) {
    const ar = a + (<usize> i * <usize> k << 2);
    const cr = c + (<usize> i * <usize> n << 2);
    let p = packed;
    for (let j0 = 0; j0 < n; j0 += groupWidth(n, j0)) {
      const width = groupWidth(n, j0);
      const cols = min(width, n - j0);
      if (width == WIDE) wideGroup(ar, k, p, cr, j0, cols, bias, act, alpha);
      else narrowGroup(ar, k, p, cr, j0, cols, bias, act, alpha);
      p += <usize> (width * kp) << 2;
    }
  }
}
