// GEMM with a fused bias + activation epilogue:
//   C[m×n] = act(A[m×k] · B[k×n] + bias[n])   (all row-major float32; bias may be 0 = none)
// B is in Keras kernel layout (in, out), so Dense and the all-timesteps input projection of a
// recurrent layer call this directly.
//
// Register tiles: MR rows × 8 columns held in v128 accumulators for the whole k loop. The module
// is compiled twice (scripts/build_wasm.ts): with relaxed SIMD the multiply-add is one fused
// `f32x4.relaxed_madd` and the main tile is 6×8 (12 accumulators + 2 B vectors + 1 broadcast =
// 15 of the 16 xmm registers V8 allocates on x64); without it a multiply and an add need a
// temporary register, so the tile is 4×8. Leftover rows use 4×8, 2×16 and 1×32 tiles (8
// independent accumulator chains keep the FMA pipes busy even for a matrix-vector product).
//
// The tiles take A as MR independent row pointers and walk k in `nSeg` segments of `segLen`
// contiguous floats, `segStride` bytes apart, while B advances one row per k step: plain GEMM is
// one segment; Conv2D as an implicit GEMM is kh segments of kw·c floats (see conv.ts).
import { activateScalar, activateV, LINEAR, RELU, RELU6 } from "./activations";

/** Bytes of B a column panel may span (about half of a 1 MiB L2). */
const GEMM_PANEL_BYTES: usize = 512 << 10;

/**
 * Columns of the B panels a GEMM over k rows of B and n columns walks one at a time (a multiple
 * of 8, or n when all of B fits in GEMM_PANEL_BYTES): every row block of A then streams over a
 * panel that stays in L2 instead of over all of B.
 */
export function gemmPanelColumns(n: i32, k: i32): i32 {
  const panelFloats = <i32> (GEMM_PANEL_BYTES >> 2);
  if (k * n <= panelFloats) return n;
  return max(8, panelFloats / max(k, 1) & ~7);
}

/**
 * k steps a register accumulator sums before its partial sum is added to C (or to an outer
 * accumulator): a float32 sum of K terms in one chain has an error growing with K, blocks of
 * KC keep it near KC + K/KC terms' worth, as BLAS's kc blocking does (a 7,200-wide Dense after
 * Flatten otherwise sums 1,800–7,200 terms per chain). It also bounds the B block a row block
 * streams over.
 */
export const GEMM_KC: i32 = 256;

/** Rows of the main register tile of this build. */
export const GEMM_MR: i32 = ASC_FEATURE_RELAXED_SIMD ? 6 : 4;

/** acc + a·b, fused when the module is built with relaxed SIMD. */
// @ts-ignore: decorator
@inline export function madd(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, acc);
  } else {
    return f32x4.add(acc, f32x4.mul(a, b));
  }
}

/** 1 when this build fuses multiply-add (relaxed SIMD), else 0. */
export function gemmFusedMultiplyAdd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

// @ts-ignore: decorator
@inline function epilogue4(
  p: usize,
  acc: v128,
  bias: usize,
  j: i32,
  act: i32,
  alpha: f32,
  accumulate: i32,
): void {
  epilogueBias4(p, acc, bias, bias ? v128.load(bias + (<usize> j << 2)) : acc, act, alpha, accumulate);
}

/**
 * epilogue4 with the bias vector already loaded (`bv`, added when `bias` is not 0): a tile's rows
 * share their columns' bias, loaded once for all of them.
 */
// @ts-ignore: decorator
@inline function epilogueBias4(
  p: usize,
  acc: v128,
  bias: usize,
  bv: v128,
  act: i32,
  alpha: f32,
  accumulate: i32,
): void {
  let v = acc;
  if (accumulate) v = f32x4.add(v, v128.load(p));
  if (bias) v = f32x4.add(v, bv);
  if (act == LINEAR) v128.store(p, v);
  // pmax: one instruction, activateScalar's `x > 0 ? x : 0` (see activateV).
  else if (act == RELU) v128.store(p, f32x4.pmax(f32x4.splat(0), v));
  // In line (activateV with a constant code): MobileNet's expand convs store relu6 after K =
  // 16…64 steps, where a call per vector costs as much as the tile's multiply-adds.
  else if (act == RELU6) v128.store(p, activateV(v, RELU6, 0));
  else v128.store(p, activateOutOfLine(v, act, alpha));
}

/** The other activations of an epilogue, out of line so the many tile epilogues stay small. */
function activateOutOfLine(v: v128, act: i32, alpha: f32): v128 {
  return activateV(v, act, alpha);
}

/** 6 rows × 8 columns (relaxed-SIMD builds only; spills registers without a fused madd). */
// @ts-ignore: decorator
@inline function tile6x8(
  a0: usize,
  a1: usize,
  a2: usize,
  a3: usize,
  a4: usize,
  a5: usize,
  segLen: i32,
  nSeg: i32,
  segStride: usize,
  b: usize,
  sb: usize,
  c: usize,
  sc: usize,
  bias: usize,
  j: i32,
  act: i32,
  alpha: f32,
  accumulate: i32,
): void {
  let x00 = f32x4.splat(0), x01 = f32x4.splat(0), x10 = f32x4.splat(0), x11 = f32x4.splat(0);
  let x20 = f32x4.splat(0), x21 = f32x4.splat(0), x30 = f32x4.splat(0), x31 = f32x4.splat(0);
  let x40 = f32x4.splat(0), x41 = f32x4.splat(0), x50 = f32x4.splat(0), x51 = f32x4.splat(0);
  let bp = b;
  const segBytes = <usize> segLen << 2;
  if (nSeg == 1) {
    // The plain GEMM: one k loop (V8 keeps this tighter than the segmented form below).
    let off: usize = 0;
    const end = segBytes;
    for (; off < end; off += 4) {
      const b0 = v128.load(bp);
      const b1 = v128.load(bp, 16);
      bp += sb;
      let v = v128.load32_splat(a0 + off);
      x00 = madd(x00, v, b0);
      x01 = madd(x01, v, b1);
      v = v128.load32_splat(a1 + off);
      x10 = madd(x10, v, b0);
      x11 = madd(x11, v, b1);
      v = v128.load32_splat(a2 + off);
      x20 = madd(x20, v, b0);
      x21 = madd(x21, v, b1);
      v = v128.load32_splat(a3 + off);
      x30 = madd(x30, v, b0);
      x31 = madd(x31, v, b1);
      v = v128.load32_splat(a4 + off);
      x40 = madd(x40, v, b0);
      x41 = madd(x41, v, b1);
      v = v128.load32_splat(a5 + off);
      x50 = madd(x50, v, b0);
      x51 = madd(x51, v, b1);
    }
  } else {
    for (let s = 0; s < nSeg; s++) {
      let off = <usize> s * segStride;
      const end = off + segBytes;
      for (; off < end; off += 4) {
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        bp += sb;
        let v = v128.load32_splat(a0 + off);
        x00 = madd(x00, v, b0);
        x01 = madd(x01, v, b1);
        v = v128.load32_splat(a1 + off);
        x10 = madd(x10, v, b0);
        x11 = madd(x11, v, b1);
        v = v128.load32_splat(a2 + off);
        x20 = madd(x20, v, b0);
        x21 = madd(x21, v, b1);
        v = v128.load32_splat(a3 + off);
        x30 = madd(x30, v, b0);
        x31 = madd(x31, v, b1);
        v = v128.load32_splat(a4 + off);
        x40 = madd(x40, v, b0);
        x41 = madd(x41, v, b1);
        v = v128.load32_splat(a5 + off);
        x50 = madd(x50, v, b0);
        x51 = madd(x51, v, b1);
      }
    }
  }
  const bo = bias + (<usize> j << 2);
  const bv0 = bias ? v128.load(bo) : x00, bv1 = bias ? v128.load(bo, 16) : x01;
  epilogueBias4(c, x00, bias, bv0, act, alpha, accumulate);
  epilogueBias4(c + 16, x01, bias, bv1, act, alpha, accumulate);
  c += sc;
  epilogueBias4(c, x10, bias, bv0, act, alpha, accumulate);
  epilogueBias4(c + 16, x11, bias, bv1, act, alpha, accumulate);
  c += sc;
  epilogueBias4(c, x20, bias, bv0, act, alpha, accumulate);
  epilogueBias4(c + 16, x21, bias, bv1, act, alpha, accumulate);
  c += sc;
  epilogueBias4(c, x30, bias, bv0, act, alpha, accumulate);
  epilogueBias4(c + 16, x31, bias, bv1, act, alpha, accumulate);
  c += sc;
  epilogueBias4(c, x40, bias, bv0, act, alpha, accumulate);
  epilogueBias4(c + 16, x41, bias, bv1, act, alpha, accumulate);
  c += sc;
  epilogueBias4(c, x50, bias, bv0, act, alpha, accumulate);
  epilogueBias4(c + 16, x51, bias, bv1, act, alpha, accumulate);
}

/** 4 rows × 8 columns. */
// @ts-ignore: decorator
@inline function tile4x8(
  a0: usize,
  a1: usize,
  a2: usize,
  a3: usize,
  segLen: i32,
  nSeg: i32,
  segStride: usize,
  b: usize,
  sb: usize,
  c: usize,
  sc: usize,
  bias: usize,
  j: i32,
  act: i32,
  alpha: f32,
  accumulate: i32,
): void {
  let x00 = f32x4.splat(0), x01 = f32x4.splat(0), x10 = f32x4.splat(0), x11 = f32x4.splat(0);
  let x20 = f32x4.splat(0), x21 = f32x4.splat(0), x30 = f32x4.splat(0), x31 = f32x4.splat(0);
  let bp = b;
  const segBytes = <usize> segLen << 2;
  if (nSeg == 1) {
    // The plain GEMM: one k loop (V8 keeps this tighter than the segmented form below).
    let off: usize = 0;
    const end = segBytes;
    for (; off < end; off += 4) {
      const b0 = v128.load(bp);
      const b1 = v128.load(bp, 16);
      bp += sb;
      let v = v128.load32_splat(a0 + off);
      x00 = madd(x00, v, b0);
      x01 = madd(x01, v, b1);
      v = v128.load32_splat(a1 + off);
      x10 = madd(x10, v, b0);
      x11 = madd(x11, v, b1);
      v = v128.load32_splat(a2 + off);
      x20 = madd(x20, v, b0);
      x21 = madd(x21, v, b1);
      v = v128.load32_splat(a3 + off);
      x30 = madd(x30, v, b0);
      x31 = madd(x31, v, b1);
    }
  } else {
    for (let s = 0; s < nSeg; s++) {
      let off = <usize> s * segStride;
      const end = off + segBytes;
      for (; off < end; off += 4) {
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        bp += sb;
        let v = v128.load32_splat(a0 + off);
        x00 = madd(x00, v, b0);
        x01 = madd(x01, v, b1);
        v = v128.load32_splat(a1 + off);
        x10 = madd(x10, v, b0);
        x11 = madd(x11, v, b1);
        v = v128.load32_splat(a2 + off);
        x20 = madd(x20, v, b0);
        x21 = madd(x21, v, b1);
        v = v128.load32_splat(a3 + off);
        x30 = madd(x30, v, b0);
        x31 = madd(x31, v, b1);
      }
    }
  }
  epilogue4(c, x00, bias, j, act, alpha, accumulate);
  epilogue4(c + 16, x01, bias, j + 4, act, alpha, accumulate);
  c += sc;
  epilogue4(c, x10, bias, j, act, alpha, accumulate);
  epilogue4(c + 16, x11, bias, j + 4, act, alpha, accumulate);
  c += sc;
  epilogue4(c, x20, bias, j, act, alpha, accumulate);
  epilogue4(c + 16, x21, bias, j + 4, act, alpha, accumulate);
  c += sc;
  epilogue4(c, x30, bias, j, act, alpha, accumulate);
  epilogue4(c + 16, x31, bias, j + 4, act, alpha, accumulate);
}

/** 2 rows × 16 columns. */
// @ts-ignore: decorator
@inline function tile2x16(
  a0: usize,
  a1: usize,
  segLen: i32,
  nSeg: i32,
  segStride: usize,
  b: usize,
  sb: usize,
  c: usize,
  sc: usize,
  bias: usize,
  j: i32,
  act: i32,
  alpha: f32,
  accumulate: i32,
): void {
  let x00 = f32x4.splat(0), x01 = f32x4.splat(0), x02 = f32x4.splat(0), x03 = f32x4.splat(0);
  let x10 = f32x4.splat(0), x11 = f32x4.splat(0), x12 = f32x4.splat(0), x13 = f32x4.splat(0);
  let bp = b;
  const segBytes = <usize> segLen << 2;
  for (let s = 0; s < nSeg; s++) {
    let off = <usize> s * segStride;
    const end = off + segBytes;
    for (; off < end; off += 4) {
      const b0 = v128.load(bp);
      const b1 = v128.load(bp, 16);
      const b2 = v128.load(bp, 32);
      const b3 = v128.load(bp, 48);
      bp += sb;
      let v = v128.load32_splat(a0 + off);
      x00 = madd(x00, v, b0);
      x01 = madd(x01, v, b1);
      x02 = madd(x02, v, b2);
      x03 = madd(x03, v, b3);
      v = v128.load32_splat(a1 + off);
      x10 = madd(x10, v, b0);
      x11 = madd(x11, v, b1);
      x12 = madd(x12, v, b2);
      x13 = madd(x13, v, b3);
    }
  }
  epilogue4(c, x00, bias, j, act, alpha, accumulate);
  epilogue4(c + 16, x01, bias, j + 4, act, alpha, accumulate);
  epilogue4(c + 32, x02, bias, j + 8, act, alpha, accumulate);
  epilogue4(c + 48, x03, bias, j + 12, act, alpha, accumulate);
  c += sc;
  epilogue4(c, x10, bias, j, act, alpha, accumulate);
  epilogue4(c + 16, x11, bias, j + 4, act, alpha, accumulate);
  epilogue4(c + 32, x12, bias, j + 8, act, alpha, accumulate);
  epilogue4(c + 48, x13, bias, j + 12, act, alpha, accumulate);
}

/** 1 row × 32 columns (matrix-vector products: 8 independent chains). */
function tile1x32(
  a0: usize,
  segLen: i32,
  nSeg: i32,
  segStride: usize,
  b: usize,
  sb: usize,
  c: usize,
  bias: usize,
  j: i32,
  act: i32,
  alpha: f32,
  accumulate: i32,
): void {
  let x0 = f32x4.splat(0), x1 = f32x4.splat(0), x2 = f32x4.splat(0), x3 = f32x4.splat(0);
  let x4 = f32x4.splat(0), x5 = f32x4.splat(0), x6 = f32x4.splat(0), x7 = f32x4.splat(0);
  let bp = b;
  const segBytes = <usize> segLen << 2;
  for (let s = 0; s < nSeg; s++) {
    let off = <usize> s * segStride;
    const end = off + segBytes;
    for (; off < end; off += 4) {
      const v = v128.load32_splat(a0 + off);
      x0 = madd(x0, v, v128.load(bp));
      x1 = madd(x1, v, v128.load(bp, 16));
      x2 = madd(x2, v, v128.load(bp, 32));
      x3 = madd(x3, v, v128.load(bp, 48));
      x4 = madd(x4, v, v128.load(bp, 64));
      x5 = madd(x5, v, v128.load(bp, 80));
      x6 = madd(x6, v, v128.load(bp, 96));
      x7 = madd(x7, v, v128.load(bp, 112));
      bp += sb;
    }
  }
  epilogue4(c, x0, bias, j, act, alpha, accumulate);
  epilogue4(c + 16, x1, bias, j + 4, act, alpha, accumulate);
  epilogue4(c + 32, x2, bias, j + 8, act, alpha, accumulate);
  epilogue4(c + 48, x3, bias, j + 12, act, alpha, accumulate);
  epilogue4(c + 64, x4, bias, j + 16, act, alpha, accumulate);
  epilogue4(c + 80, x5, bias, j + 20, act, alpha, accumulate);
  epilogue4(c + 96, x6, bias, j + 24, act, alpha, accumulate);
  epilogue4(c + 112, x7, bias, j + 28, act, alpha, accumulate);
}

/** 1 row × 4 columns (column remainders). */
function tile1x4(
  a0: usize,
  segLen: i32,
  nSeg: i32,
  segStride: usize,
  b: usize,
  sb: usize,
  c: usize,
  bias: usize,
  j: i32,
  act: i32,
  alpha: f32,
  accumulate: i32,
): void {
  // One chain in k order, like every other tile: a row's result must not depend on which tile
  // (and so on the batch size) computed it.
  let x0 = f32x4.splat(0);
  let bp = b;
  const segBytes = <usize> segLen << 2;
  for (let s = 0; s < nSeg; s++) {
    let off = <usize> s * segStride;
    const end = off + segBytes;
    for (; off < end; off += 4) {
      x0 = madd(x0, v128.load32_splat(a0 + off), v128.load(bp));
      bp += sb;
    }
  }
  epilogue4(c, x0, bias, j, act, alpha, accumulate);
}

/** One output cell (column remainders narrower than 4). */
function cell1x1(
  a0: usize,
  segLen: i32,
  nSeg: i32,
  segStride: usize,
  b: usize,
  sb: usize,
  c: usize,
  bias: usize,
  j: i32,
  act: i32,
  alpha: f32,
  accumulate: i32,
): void {
  let s0: f32 = 0;
  let bp = b;
  const segBytes = <usize> segLen << 2;
  for (let s = 0; s < nSeg; s++) {
    let off = <usize> s * segStride;
    const end = off + segBytes;
    for (; off < end; off += 4) {
      s0 += load<f32>(a0 + off) * load<f32>(bp);
      bp += sb;
    }
  }
  if (accumulate) s0 += load<f32>(c);
  if (bias) s0 += load<f32>(bias + (<usize> j << 2));
  store<f32>(c, activateScalar(s0, act, alpha));
}

/**
 * All columns of one row of C from one A row (the remainder path for any row count).
 * `a0` is the row's first A element; the k walk is `nSeg` × `segLen` as in the tiles.
 */
function gemmRow(
  a0: usize,
  segLen: i32,
  nSeg: i32,
  segStride: usize,
  b: usize,
  sb: usize,
  c: usize,
  n: i32,
  bias: usize,
  act: i32,
  alpha: f32,
  accumulate: i32,
): void {
  let j = 0;
  for (; j + 32 <= n; j += 32) {
    const o = <usize> j << 2;
    tile1x32(a0, segLen, nSeg, segStride, b + o, sb, c + o, bias, j, act, alpha, accumulate);
  }
  for (; j + 4 <= n; j += 4) {
    const o = <usize> j << 2;
    tile1x4(a0, segLen, nSeg, segStride, b + o, sb, c + o, bias, j, act, alpha, accumulate);
  }
  for (; j < n; j++) {
    const o = <usize> j << 2;
    cell1x1(a0, segLen, nSeg, segStride, b + o, sb, c + o, bias, j, act, alpha, accumulate);
  }
}

/**
 * C rows for `rows` (≤ 6, ≥ 1) A rows given as pointers a0..a5 (unused ones ignored), all n
 * columns, using the widest tile that fits. C rows are `sc` bytes apart starting at `c`.
 */
export function gemmRowBlock(
  rows: i32,
  a0: usize,
  a1: usize,
  a2: usize,
  a3: usize,
  a4: usize,
  a5: usize,
  segLen: i32,
  nSeg: i32,
  segStride: usize,
  b: usize,
  sb: usize,
  c: usize,
  sc: usize,
  n: i32,
  bias: usize,
  act: i32,
  alpha: f32,
  accumulate: i32,
): void {
  if (ASC_FEATURE_RELAXED_SIMD) {
    if (rows == 6) {
      let j = 0;
      for (; j + 8 <= n; j += 8) {
        const o = <usize> j << 2;
        tile6x8(
          a0, a1, a2, a3, a4, a5, segLen, nSeg, segStride, b + o, sb, c + o, sc, bias, j, act,
          alpha, accumulate,
        );
      }
      if (j < n) {
        const o = <usize> j << 2;
        const nr = n - j;
        gemmRow(a0, segLen, nSeg, segStride, b + o, sb, c + o, nr, bias + (bias ? o : 0), act, alpha, accumulate);
        gemmRow(a1, segLen, nSeg, segStride, b + o, sb, c + sc + o, nr, bias + (bias ? o : 0), act, alpha, accumulate);
        gemmRow(a2, segLen, nSeg, segStride, b + o, sb, c + 2 * sc + o, nr, bias + (bias ? o : 0), act, alpha, accumulate);
        gemmRow(a3, segLen, nSeg, segStride, b + o, sb, c + 3 * sc + o, nr, bias + (bias ? o : 0), act, alpha, accumulate);
        gemmRow(a4, segLen, nSeg, segStride, b + o, sb, c + 4 * sc + o, nr, bias + (bias ? o : 0), act, alpha, accumulate);
        gemmRow(a5, segLen, nSeg, segStride, b + o, sb, c + 5 * sc + o, nr, bias + (bias ? o : 0), act, alpha, accumulate);
      }
      return;
    }
  }
  if (rows >= 4) {
    let j = 0;
    for (; j + 8 <= n; j += 8) {
      const o = <usize> j << 2;
      tile4x8(a0, a1, a2, a3, segLen, nSeg, segStride, b + o, sb, c + o, sc, bias, j, act, alpha, accumulate);
    }
    if (j < n) {
      const o = <usize> j << 2;
      const nr = n - j;
      const bo = bias + (bias ? o : 0);
      gemmRow(a0, segLen, nSeg, segStride, b + o, sb, c + o, nr, bo, act, alpha, accumulate);
      gemmRow(a1, segLen, nSeg, segStride, b + o, sb, c + sc + o, nr, bo, act, alpha, accumulate);
      gemmRow(a2, segLen, nSeg, segStride, b + o, sb, c + 2 * sc + o, nr, bo, act, alpha, accumulate);
      gemmRow(a3, segLen, nSeg, segStride, b + o, sb, c + 3 * sc + o, nr, bo, act, alpha, accumulate);
    }
    if (rows == 5) {
      gemmRow(a4, segLen, nSeg, segStride, b, sb, c + 4 * sc, n, bias, act, alpha, accumulate);
    } else if (rows == 6) {
      gemmRowBlock(
        2, a4, a5, 0, 0, 0, 0, segLen, nSeg, segStride, b, sb, c + 4 * sc, sc, n, bias, act, alpha,
        accumulate,
      );
    }
    return;
  }
  if (rows >= 2) {
    let j = 0;
    for (; j + 16 <= n; j += 16) {
      const o = <usize> j << 2;
      tile2x16(a0, a1, segLen, nSeg, segStride, b + o, sb, c + o, sc, bias, j, act, alpha, accumulate);
    }
    if (j < n) {
      const o = <usize> j << 2;
      const nr = n - j;
      const bo = bias + (bias ? o : 0);
      gemmRow(a0, segLen, nSeg, segStride, b + o, sb, c + o, nr, bo, act, alpha, accumulate);
      gemmRow(a1, segLen, nSeg, segStride, b + o, sb, c + sc + o, nr, bo, act, alpha, accumulate);
    }
    if (rows == 3) {
      gemmRow(a2, segLen, nSeg, segStride, b, sb, c + 2 * sc, n, bias, act, alpha, accumulate);
    }
    return;
  }
  gemmRow(a0, segLen, nSeg, segStride, b, sb, c, n, bias, act, alpha, accumulate);
}

/**
 * One A row times up to 8 columns of B when B is narrow and deep (a classifier after Flatten:
 * n = 10, k = 8192): 2 column vectors × 4 interleaved partial sums over k, so the multiply-adds
 * overlap instead of waiting on one chain each. Columns past `cols` are computed from whatever
 * follows in B's rows and never stored; the final k step loads only the real columns, so B is
 * never read past its end.
 */
function narrowRow8(
  a0: usize,
  k: i32,
  b: usize,
  sb: usize,
  c: usize,
  cols: i32,
  bias: usize,
  j: i32,
  act: i32,
  alpha: f32,
  accumulate: i32,
): void {
  // r0 / r1 sum the GEMM_KC-step blocks' partial sums (see GEMM_KC).
  let r0 = f32x4.splat(0), r1 = f32x4.splat(0);
  const two = cols > 4;
  let bp = b;
  let off: usize = 0;
  const last = <usize> (k - 1) << 2; // the final step runs after the loops
  const blockBytes = <usize> GEMM_KC << 2;
  while (off + 12 < last) {
    let x00 = f32x4.splat(0), x01 = f32x4.splat(0), x02 = f32x4.splat(0), x03 = f32x4.splat(0);
    let x10 = f32x4.splat(0), x11 = f32x4.splat(0), x12 = f32x4.splat(0), x13 = f32x4.splat(0);
    const end = min(last, off + blockBytes);
    for (; off + 12 < end; off += 16) {
      let v = v128.load32_splat(a0 + off);
      x00 = madd(x00, v, v128.load(bp));
      if (two) x10 = madd(x10, v, v128.load(bp, 16));
      bp += sb;
      v = v128.load32_splat(a0 + off + 4);
      x01 = madd(x01, v, v128.load(bp));
      if (two) x11 = madd(x11, v, v128.load(bp, 16));
      bp += sb;
      v = v128.load32_splat(a0 + off + 8);
      x02 = madd(x02, v, v128.load(bp));
      if (two) x12 = madd(x12, v, v128.load(bp, 16));
      bp += sb;
      v = v128.load32_splat(a0 + off + 12);
      x03 = madd(x03, v, v128.load(bp));
      if (two) x13 = madd(x13, v, v128.load(bp, 16));
      bp += sb;
    }
    r0 = f32x4.add(r0, f32x4.add(f32x4.add(x00, x01), f32x4.add(x02, x03)));
    if (two) r1 = f32x4.add(r1, f32x4.add(f32x4.add(x10, x11), f32x4.add(x12, x13)));
  }
  let x00 = f32x4.splat(0), x10 = f32x4.splat(0);
  for (; off < last; off += 4) {
    const v = v128.load32_splat(a0 + off);
    x00 = madd(x00, v, v128.load(bp));
    if (two) x10 = madd(x10, v, v128.load(bp, 16));
    bp += sb;
  }
  // Final step: only the real columns of B's last row.
  const v = v128.load32_splat(a0 + last);
  x00 = madd(x00, v, loadLanes(bp, min(cols, 4)));
  if (two) x10 = madd(x10, v, loadLanes(bp + 16, cols - 4));
  storeLanes(c, f32x4.add(r0, x00), min(cols, 4), bias, j, act, alpha, accumulate);
  if (two) storeLanes(c + 16, f32x4.add(r1, x10), cols - 4, bias, j + 4, act, alpha, accumulate);
}

/** The first `count` (1..4) floats at p, zeros after. */
// @ts-ignore: decorator
@inline export function loadLanes(p: usize, count: i32): v128 {
  if (count >= 4) return v128.load(p);
  let v = v128.load32_zero(p);
  if (count > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (count > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** epilogue4 for the first `count` (1..4) lanes only. */
function storeLanes(
  p: usize,
  v: v128,
  count: i32,
  bias: usize,
  j: i32,
  act: i32,
  alpha: f32,
  accumulate: i32,
): void {
  if (count >= 4) {
    epilogue4(p, v, bias, j, act, alpha, accumulate);
    return;
  }
  for (let l = 0; l < count; l++) {
    let s: f32 = l == 0
      ? f32x4.extract_lane(v, 0)
      : l == 1
      ? f32x4.extract_lane(v, 1)
      : f32x4.extract_lane(v, 2);
    const o = <usize> l << 2;
    if (accumulate) s += load<f32>(p + o);
    if (bias) s += load<f32>(bias + (<usize> (j + l) << 2));
    store<f32>(p + o, activateScalar(s, act, alpha));
  }
}

/** Narrow, deep B (n ≤ 16, k ≥ 128) takes narrowRow8 for every row (so results do not depend on m). */
// @ts-ignore: decorator
@inline export function isNarrow(n: i32, k: i32): bool {
  return n <= 16 && k >= 128;
}

/** C = act(A·B + bias). */
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
 * Rows of the next row block when `left` rows remain. Relaxed builds: 6-row tiles, then 4, 2, 1
 * (8 rows as 6 + 2: the 2-row tile is 16 columns wide, as fast per flop as the 6-row one when B
 * stays in cache). Others: 4-row tiles, 8 rows as 4 + 4.
 */
// @ts-ignore: decorator
@inline export function nextRowBlock(left: i32): i32 {
  if (left >= GEMM_MR && (ASC_FEATURE_RELAXED_SIMD || left != 8)) return GEMM_MR;
  return left >= 4 ? 4 : left;
}

/**
 * Strided GEMM: A rows are `lda` floats apart, B rows `ldb`, C rows `ldc`.
 * `accumulate` = 1 adds the product to the existing C before bias and activation (the fused
 * epilogue then is act(C + A·B + bias)).
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
  if (isNarrow(n, k)) {
    for (let i = 0; i < m; i++) {
      const ar = a + <usize> i * sa;
      const cr = c + <usize> i * sc;
      for (let j = 0; j < n; j += 8) {
        const o = <usize> j << 2;
        narrowRow8(ar, k, b + o, sb, cr + o, min(8, n - j), bias, j, act, alpha, accumulate);
      }
    }
    return;
  }
  // Column panels of B small enough to stay in L2 while every row block streams over them.
  const panel = gemmPanelColumns(n, k);
  for (let j0 = 0; j0 < n; j0 += panel) {
    const nj = min(panel, n - j0);
    const o = <usize> j0 << 2;
    const cj = c + o;
    const biasj = bias ? bias + o : 0;
    // k in blocks of GEMM_KC: each block's sum is added to C, bias and activation come with the
    // last (k = 0 still runs once: C = act(bias)).
    for (let k0 = 0; k0 == 0 || k0 < k; k0 += GEMM_KC) {
      const kb = min(GEMM_KC, k - k0);
      const final = k0 + kb >= k;
      const bj = b + <usize> k0 * sb + o;
      let i = 0;
      while (i < m) {
        const rows = nextRowBlock(m - i);
        const a0 = a + <usize> i * sa + (<usize> k0 << 2);
        gemmRowBlock(
          rows, a0, a0 + sa, a0 + 2 * sa, a0 + 3 * sa, a0 + 4 * sa, a0 + 5 * sa, kb, 1, 0, bj, sb,
          cj + <usize> i * sc, sc, nj, final ? biasj : 0, final ? act : LINEAR, alpha,
          k0 > 0 ? 1 : accumulate,
        );
        i += rows;
      }
    }
  }
}
