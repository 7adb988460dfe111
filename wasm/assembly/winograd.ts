// Conv2D by Winograd minimal filtering F(m×m, r×r) with 8×8 input tiles (α = m + r − 1 = 8),
// or 6×6 for F(4×4, 3×3) (small maps: a 7×7 or 8×8 map in 6×6 output tiles computes 12×12, in
// 4×4 tiles 8×8): stride 1, no dilation, square kernel, NHWC with channel counts that are
// multiples of 4. Per chunk of output tiles:
//   1. input transform  V = Bᵀ d B of every tile's zero-padded α×α input patch, 4 channels a lane
//      group, stored V[tile][ξν][c];
//   2. α² GEMMs         M[·][ξν] = V[·][ξν] (tiles × c) · U[ξν] (c × outC), the filters U = G g Gᵀ
//      transformed once at load time (packages/engine/src/kernels/winograd_reference.ts);
//   3. output transform Y = Aᵀ M A, + bias, activation, stored where the tile is inside the output.
// F(4×4, 5×5) does 64 multiplies per 16 outputs where the direct conv does 400; F(2×2, 7×7) 64 per
// 4 against 196.
//
// The interpolation points are fixed — 0, 1, −1, 2, −2, ½, −½ and ∞, the order of
// winograd_reference.ts (α = 6: the first five and ∞) — so Bᵀ is the same for every m and r of
// one α, and both transforms are written out: the rows of a point pair ±a share their even and
// odd taps (E ± O), which halves the work.
import { activateV, LINEAR, RELU } from "./activations";
import { gemmStrided, madd } from "./gemm";
import { gemmTN } from "./dense_grad";

/** Input tile side of the general kernel (F(m×m, r×r) with m + r − 1 = 8). */
const ALPHA: i32 = 8;
/** Cells of the largest input tile: the patch and first-pass buffers hold that many vectors. */
const CELLS: i32 = 64;
/** Bytes of one 8-vector row of a patch. */
const ROW: usize = 8 * 16;

/**
 * One 8-point input transform: dst[i·dstStep] = Σ_k Bᵀ[i][k] src[k·srcStep] (4 lanes).
 * Bᵀ rows: point 0, the pairs ±1, ±2, ±½ as E ± O, and ∞.
 */
// @ts-ignore: decorator
@inline function inputTransform1D(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const d0 = v128.load(src);
  const d1 = v128.load(src + srcStep);
  const d2 = v128.load(src + 2 * srcStep);
  const d3 = v128.load(src + 3 * srcStep);
  const d4 = v128.load(src + 4 * srcStep);
  const d5 = v128.load(src + 5 * srcStep);
  const d6 = v128.load(src + 6 * srcStep);
  const d7 = v128.load(src + 7 * srcStep);
  const k525 = f32x4.splat(5.25);
  const m425 = f32x4.splat(-4.25);
  // Point 0: −d0 + 5.25 d2 − 5.25 d4 + d6; ∞: −d1 + 5.25 d3 − 5.25 d5 + d7.
  v128.store(dst, madd(f32x4.sub(d6, d0), k525, f32x4.sub(d2, d4)));
  v128.store(dst + 7 * dstStep, madd(f32x4.sub(d7, d1), k525, f32x4.sub(d3, d5)));
  // ±1: E = d2 − 4.25 d4 + d6, O = d1 − 4.25 d3 + d5.
  const e1 = madd(f32x4.add(d2, d6), m425, d4);
  const o1 = madd(f32x4.add(d1, d5), m425, d3);
  v128.store(dst + dstStep, f32x4.add(e1, o1));
  v128.store(dst + 2 * dstStep, f32x4.sub(e1, o1));
  // ±2 (rows 3, 4): E = ¼ d2 − 1.25 d4 + d6, O = ½ d1 − 2.5 d3 + 2 d5.
  const e2 = madd(madd(d6, f32x4.splat(0.25), d2), f32x4.splat(-1.25), d4);
  const o2 = madd(madd(f32x4.mul(f32x4.splat(0.5), d1), f32x4.splat(-2.5), d3), f32x4.splat(2), d5);
  v128.store(dst + 3 * dstStep, f32x4.add(e2, o2));
  v128.store(dst + 4 * dstStep, f32x4.sub(e2, o2));
  // ±½ (rows 5, 6): E = 4 d2 − 5 d4 + d6, O = 2 d1 − 2.5 d3 + ½ d5.
  const e3 = madd(madd(d6, f32x4.splat(4), d2), f32x4.splat(-5), d4);
  const o3 = madd(madd(f32x4.mul(f32x4.splat(2), d1), f32x4.splat(-2.5), d3), f32x4.splat(0.5), d5);
  v128.store(dst + 5 * dstStep, f32x4.add(e3, o3));
  v128.store(dst + 6 * dstStep, f32x4.sub(e3, o3));
}

/**
 * One 8-point output transform: out[i] = Σ_ξ Aᵀ[i][ξ] src[ξ·srcStep] for i < m, where
 * Aᵀ[i] = (0ⁱ, 1, (−1)ⁱ, 2ⁱ, (−2)ⁱ, ½ⁱ, (−½)ⁱ, [i = m − 1]), stored at dst + i·dstStep.
 */
// @ts-ignore: decorator
@inline function outputTransform1D(src: usize, srcStep: usize, m: i32, dst: usize, dstStep: usize): void {
  const s0 = v128.load(src);
  const s1 = v128.load(src + srcStep);
  const s2 = v128.load(src + 2 * srcStep);
  const s3 = v128.load(src + 3 * srcStep);
  const s4 = v128.load(src + 4 * srcStep);
  const s5 = v128.load(src + 5 * srcStep);
  const s6 = v128.load(src + 6 * srcStep);
  const s7 = v128.load(src + 7 * srcStep);
  const e1 = f32x4.add(s1, s2), o1 = f32x4.sub(s1, s2);
  const e2 = f32x4.add(s3, s4), o2 = f32x4.sub(s3, s4);
  const e3 = f32x4.add(s5, s6), o3 = f32x4.sub(s5, s6);
  let two: f32 = 1, half: f32 = 1;
  for (let i = 0; i < m; i++) {
    let v = (i & 1) == 0
      ? madd(madd(e1, f32x4.splat(two), e2), f32x4.splat(half), e3)
      : madd(madd(o1, f32x4.splat(two), o2), f32x4.splat(half), o3);
    if (i == 0) v = f32x4.add(v, s0);
    if (i == m - 1) v = f32x4.add(v, s7);
    v128.store(dst + <usize> i * dstStep, v);
    two *= 2;
    half *= 0.5;
  }
}

/**
 * The 6-point input transform of F(4×4, 3×3) (points 0, ±1, ±2, ∞, as winograd_reference.ts
 * builds Bᵀ): dst[i·dstStep] = Σ_k Bᵀ[i][k] src[k·srcStep] (4 lanes), the ± rows as E ± O.
 */
// @ts-ignore: decorator
@inline function inputTransform1D6(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const d0 = v128.load(src);
  const d1 = v128.load(src + srcStep);
  const d2 = v128.load(src + 2 * srcStep);
  const d3 = v128.load(src + 3 * srcStep);
  const d4 = v128.load(src + 4 * srcStep);
  const d5 = v128.load(src + 5 * srcStep);
  const m4 = f32x4.splat(-4);
  const m5 = f32x4.splat(-5);
  // Point 0: 4 d0 − 5 d2 + d4; ∞: 4 d1 − 5 d3 + d5.
  v128.store(dst, madd(madd(d4, f32x4.splat(4), d0), m5, d2));
  v128.store(dst + 5 * dstStep, madd(madd(d5, f32x4.splat(4), d1), m5, d3));
  // ±1: E = d4 − 4 d2, O = d3 − 4 d1.
  const e1 = madd(d4, m4, d2);
  const o1 = madd(d3, m4, d1);
  v128.store(dst + dstStep, f32x4.add(e1, o1));
  v128.store(dst + 2 * dstStep, f32x4.sub(e1, o1));
  // ±2: E = d4 − d2, O = 2 (d3 − d1).
  const e2 = f32x4.sub(d4, d2);
  const o2 = f32x4.mul(f32x4.splat(2), f32x4.sub(d3, d1));
  v128.store(dst + 3 * dstStep, f32x4.add(e2, o2));
  v128.store(dst + 4 * dstStep, f32x4.sub(e2, o2));
}

/**
 * The 6-point output transform of F(4×4, 3×3): out[i] = Σ_ξ Aᵀ[i][ξ] src[ξ·srcStep], i < 4,
 * Aᵀ[i] = (0ⁱ, 1, (−1)ⁱ, 2ⁱ, (−2)ⁱ, [i = 3]), stored at dst + i·dstStep.
 */
// @ts-ignore: decorator
@inline function outputTransform1D6(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const s0 = v128.load(src);
  const s1 = v128.load(src + srcStep);
  const s2 = v128.load(src + 2 * srcStep);
  const s3 = v128.load(src + 3 * srcStep);
  const s4 = v128.load(src + 4 * srcStep);
  const s5 = v128.load(src + 5 * srcStep);
  const e1 = f32x4.add(s1, s2), o1 = f32x4.sub(s1, s2);
  const e2 = f32x4.add(s3, s4), o2 = f32x4.sub(s3, s4);
  v128.store(dst, f32x4.add(f32x4.add(e1, e2), s0));
  v128.store(dst + dstStep, madd(o1, f32x4.splat(2), o2));
  v128.store(dst + 2 * dstStep, madd(e1, f32x4.splat(4), e2));
  v128.store(dst + 3 * dstStep, f32x4.add(madd(o1, f32x4.splat(8), o2), s5));
}

/** An edge tile's zero-padded patch and the first-pass rows: 2 × 64 vectors of every pass's scratch. */
const FIXED_SCRATCH_FLOATS: i32 = 2 * CELLS * 4;

/**
 * Floats of scratch `conv2dWinograd` (and `conv2dWinogradFilterGrad`) needs for chunks of `tiles`
 * output tiles of F(m×m, r×r) (m + r − 1 = 6 or 8): the fixed buffers, then per tile α² · c
 * floats of V and α² · outC of M (of Z).
 */
export function conv2dWinogradScratchFloats(tiles: i32, c: i32, outC: i32, m: i32, r: i32): i32 {
  const alpha = m + r - 1;
  return FIXED_SCRATCH_FLOATS + tiles * alpha * alpha * (c + outC);
}

/**
 * Tiles of a chunk that `scratchFloats` floats of scratch hold (conv2dWinogradScratchFloats read
 * backwards): each takes `cells` · (c + outC) floats after the fixed part; 1 to `total`.
 */
// @ts-ignore: decorator
@inline function chunkTiles(scratchFloats: i32, total: i32, cells: i32, c: i32, outC: i32): i32 {
  return max(1, min(total, (scratchFloats - FIXED_SCRATCH_FLOATS) / (cells * (c + outC))));
}

/**
 * y = act(conv(x, w) + bias) by F(m×m, r×r), α = m + r − 1 = 8 (r 2…7) or 6 (F(4×4, 3×3) only;
 * other α trap): x (batch, h, wd, c), y (batch, outH, outW, outC); `u` holds the transformed
 * filters (α² matrices c × outC, see winograd_reference.ts). `scratch` holds `scratchFloats`
 * floats; chunks take as many tiles as fit (conv2dWinogradScratchFloats). c and outC must be
 * multiples of 4; bias may be 0. Computes the `tileCount` output tiles from `firstTile` of the
 * batch's tiles in order (image, tile row, tile column): 0 and all of them for the whole output;
 * kernel threads split one image's tiles.
 */
export function conv2dWinograd(
  x: usize,
  u: usize,
  bias: usize,
  y: usize,
  scratch: usize,
  scratchFloats: i32,
  batch: i32,
  h: i32,
  wd: i32,
  c: i32,
  outH: i32,
  outW: i32,
  outC: i32,
  m: i32,
  r: i32,
  padTop: i32,
  padLeft: i32,
  act: i32,
  alpha: f32,
  firstTile: i32,
  tileCount: i32,
): void {
  const side = m + r - 1;
  if (side != ALPHA && !(m == 4 && r == 3)) unreachable();
  const cells = side * side;
  const tilesX = (outW + m - 1) / m;
  const tilesY = (outH + m - 1) / m;
  const perImage = tilesX * tilesY;
  const total = min(tileCount, batch * perImage - firstTile);
  const chunk = chunkTiles(scratchFloats, total, cells, c, outC);
  const patch = scratch;
  const rowsBuf = patch + <usize> (CELLS * 16);
  const vBuf = rowsBuf + <usize> (CELLS * 16);
  const lda = cells * c;
  const ldc = cells * outC;
  const mBuf = vBuf + (<usize> chunk * <usize> lda << 2);
  const pixelBytes = <usize> c << 2;
  const vTile = <usize> lda << 2;
  const mTile = <usize> ldc << 2;
  for (let t0 = 0; t0 < total; t0 += chunk) {
    const tiles = min(chunk, total - t0);
    for (let t = 0; t < tiles; t++) {
      const g = firstTile + t0 + t;
      const b = g / perImage;
      const q = g - b * perImage;
      const ty = q / tilesX;
      const iy0 = ty * m - padTop;
      const ix0 = (q - ty * tilesX) * m - padLeft;
      const image = x + <usize> b * <usize> h * <usize> wd * pixelBytes;
      inputTransform(image, h, wd, c, iy0, ix0, side, patch, rowsBuf, vBuf + <usize> t * vTile);
    }
    for (let e = 0; e < cells; e++) {
      gemmStrided(
        vBuf + (<usize> (e * c) << 2),
        lda,
        u + (<usize> e * <usize> c * <usize> outC << 2),
        outC,
        0,
        mBuf + (<usize> (e * outC) << 2),
        ldc,
        tiles,
        outC,
        c,
        LINEAR,
        0,
        0,
      );
    }
    for (let t = 0; t < tiles; t++) {
      const g = firstTile + t0 + t;
      const b = g / perImage;
      const q = g - b * perImage;
      const ty = q / tilesX;
      outputTransform(
        mBuf + <usize> t * mTile, outC, m, side, rowsBuf, patch,
        y + (<usize> b * <usize> outH * <usize> outW * <usize> outC << 2), outH, outW, ty * m,
        (q - ty * tilesX) * m, bias, act, alpha,
      );
    }
  }
}

/**
 * V[ξν][c] of one tile: the side×side patch at (iy0, ix0), zero outside the image, through Bᵀ·B
 * (side 8 or 6).
 */
function inputTransform(
  image: usize,
  h: i32,
  wd: i32,
  c: i32,
  iy0: i32,
  ix0: i32,
  side: i32,
  patch: usize,
  rowsBuf: usize,
  v: usize,
): void {
  const pixelBytes = <usize> c << 2;
  const rowBytes = <usize> wd * pixelBytes;
  const inside = iy0 >= 0 && ix0 >= 0 && iy0 + side <= h && ix0 + side <= wd;
  // V[ξ][ν] lands at (ξ·side + ν)·c floats.
  const vXi = <usize> side * pixelBytes;
  for (let cg = 0; cg < c; cg += 4) {
    const off = <usize> cg << 2;
    let src: usize, srcRow: usize, srcCol: usize;
    if (inside) {
      src = image + <usize> iy0 * rowBytes + <usize> ix0 * pixelBytes + off;
      srcRow = rowBytes;
      srcCol = pixelBytes;
    } else {
      for (let i = 0; i < side; i++) {
        const iy = iy0 + i;
        const dst = patch + <usize> i * ROW;
        const rowIn = iy >= 0 && iy < h;
        for (let j = 0; j < side; j++) {
          const ix = ix0 + j;
          v128.store(
            dst + (<usize> j << 4),
            rowIn && ix >= 0 && ix < wd
              ? v128.load(image + <usize> iy * rowBytes + <usize> ix * pixelBytes + off)
              : f32x4.splat(0),
          );
        }
      }
      src = patch;
      srcRow = ROW;
      srcCol = 16;
    }
    // Columns: tmp[·][j] = Bᵀ · d[·][j]; then rows: V[ξ][·] = Bᵀ · tmp[ξ][·].
    if (side == ALPHA) {
      for (let j = 0; j < ALPHA; j++) {
        inputTransform1D(src + <usize> j * srcCol, srcRow, rowsBuf + (<usize> j << 4), ROW);
      }
      for (let i = 0; i < ALPHA; i++) {
        inputTransform1D(rowsBuf + <usize> i * ROW, 16, v + <usize> i * vXi + off, pixelBytes);
      }
    } else {
      for (let j = 0; j < 6; j++) {
        inputTransform1D6(src + <usize> j * srcCol, srcRow, rowsBuf + (<usize> j << 4), ROW);
      }
      for (let i = 0; i < 6; i++) {
        inputTransform1D6(rowsBuf + <usize> i * ROW, 16, v + <usize> i * vXi + off, pixelBytes);
      }
    }
  }
}

/**
 * Y = Aᵀ M A of one tile (M[ξν][o] at `mt`, side 8 or 6), + bias, activation, stored inside the
 * output.
 */
function outputTransform(
  mt: usize,
  outC: i32,
  m: i32,
  side: i32,
  rowsBuf: usize,
  yTile: usize,
  yImage: usize,
  outH: i32,
  outW: i32,
  oy0: i32,
  ox0: i32,
  bias: usize,
  act: i32,
  alpha: f32,
): void {
  const cellBytes = <usize> outC << 2;
  const rowBytes = <usize> outW * cellBytes;
  const rows = min(m, outH - oy0);
  const cols = min(m, outW - ox0);
  const xiStep = <usize> side * cellBytes;
  for (let og = 0; og < outC; og += 4) {
    const off = <usize> og << 2;
    // Columns: tmp[i][ν] = Σ_ξ Aᵀ[i][ξ] M[ξ][ν] (m × side); rows: Y[i][j] = Σ_ν Aᵀ[j][ν] tmp[i][ν].
    if (side == ALPHA) {
      for (let nu = 0; nu < ALPHA; nu++) {
        outputTransform1D(mt + <usize> nu * cellBytes + off, xiStep, m, rowsBuf + (<usize> nu << 4), ROW);
      }
    } else {
      for (let nu = 0; nu < 6; nu++) {
        outputTransform1D6(mt + <usize> nu * cellBytes + off, xiStep, rowsBuf + (<usize> nu << 4), ROW);
      }
    }
    const bv = bias ? v128.load(bias + off) : f32x4.splat(0);
    for (let i = 0; i < rows; i++) {
      if (side == ALPHA) outputTransform1D(rowsBuf + <usize> i * ROW, 16, m, yTile, 16);
      else outputTransform1D6(rowsBuf + <usize> i * ROW, 16, yTile, 16);
      const yRow = yImage + <usize> (oy0 + i) * rowBytes + <usize> ox0 * cellBytes + off;
      for (let j = 0; j < cols; j++) {
        let v = f32x4.add(v128.load(yTile + (<usize> j << 4)), bv);
        if (act == RELU) v = f32x4.pmax(f32x4.splat(0), v);
        else if (act != LINEAR) v = activateV(v, act, alpha);
        v128.store(yRow + <usize> j * cellBytes, v);
      }
    }
  }
}

/**
 * U = G g Gᵀ for every (input, output) channel pair of a Keras kernel `w` (r, r, c, outC) in
 * float32, laid out as conv2dWinograd reads it (α² matrices of c × outC, matrix ξ·α + ν holding
 * element (ξ, ν)); `g` is the α × r matrix G (float32, row-major), `scratch` holds α·r·4 floats.
 * What training uses, where the filters change every step: the inference path transforms once
 * at load, in float64 (winograd_reference.ts). 4 pairs a vector (c·outC is a multiple of 4);
 * r ≤ 8, α ≤ 8. The same two-sided product X w Xᵀ, with `g` = Aᵀ (r × α) and the sides' roles
 * swapped (r = α in, alpha = r out), is the output transform of the kernel gradient
 * (conv2dWinogradFilterGrad's sums to dW).
 */
export function winogradFilterTransform(
  w: usize,
  u: usize,
  g: usize,
  scratch: usize,
  pairs: i32,
  r: i32,
  alpha: i32,
): void {
  if (r > ALPHA || alpha > ALPHA || (pairs & 3) != 0) unreachable();
  const pairBytes = <usize> pairs << 2;
  // tmp[i][kx] = Σ_ky G[i][ky] · w[ky][kx] for the 4 pairs (α × r vectors).
  const tmp = scratch;
  for (let p = 0; p < pairs; p += 4) {
    const wp = w + (<usize> p << 2);
    for (let i = 0; i < alpha; i++) {
      for (let kx = 0; kx < r; kx++) {
        let s = f32x4.splat(0);
        for (let ky = 0; ky < r; ky++) {
          const gi = v128.load32_splat(g + (<usize> (i * r + ky) << 2));
          s = madd(s, gi, v128.load(wp + <usize> (ky * r + kx) * pairBytes));
        }
        v128.store(tmp + (<usize> (i * r + kx) << 4), s);
      }
    }
    const up = u + (<usize> p << 2);
    for (let i = 0; i < alpha; i++) {
      for (let j = 0; j < alpha; j++) {
        let s = f32x4.splat(0);
        for (let kx = 0; kx < r; kx++) {
          const gj = v128.load32_splat(g + (<usize> (j * r + kx) << 2));
          s = madd(s, v128.load(tmp + (<usize> (i * r + kx) << 4)), gj);
        }
        v128.store(up + <usize> (i * alpha + j) * pairBytes, s);
      }
    }
  }
}

/**
 * The kernel gradient of a stride-1 Conv2D by Winograd, summed in the transformed domain:
 * dW[ky][kx][ci][co] = Σ over the batch's output positions of x[oy + ky − padTop][ox + kx −
 * padLeft][ci] · dz[oy][ox][co] is, per m×m tile of dz, a correlation of the tile's α×α input
 * patch with the tile as an m×m filter giving r×r outputs: F(r×r, m×m), with the same α = m + r − 1
 * and so the same Bᵀ as the forward F(m×m, r×r). Per chunk of tiles:
 *   1. V = Bᵀ d B of every tile's input patch (the forward's input transform), V[tile][ξν][ci];
 *   2. Z = G′ z G′ᵀ of every dz tile (zeros past the output), Z[tile][ξν][co], G′ of F(r, m);
 *   3. α² GEMMs M[ξν] (c × outC) += V[·][ξν]ᵀ · Z[·][ξν] over the chunk's tiles.
 * `acc` receives M (α² matrices of c × outC, matrix ξ·α + ν): overwritten when `accumulate` is 0,
 * else added to. dW = A′ᵀ M A′ follows once, by winogradFilterTransform with Aᵀ of F(r, m).
 * `m` and `r` are the forward plan's: m = 4 with r = 3 (α 6) or r = 5 (α 8), whose dz transforms
 * are written out (others trap); c and outC multiples of 4;
 * `scratch` holds `scratchFloats` floats, chunks as in conv2dWinograd
 * (conv2dWinogradScratchFloats).
 */
export function conv2dWinogradFilterGrad(
  x: usize,
  dz: usize,
  acc: usize,
  scratch: usize,
  scratchFloats: i32,
  batch: i32,
  h: i32,
  wd: i32,
  c: i32,
  outH: i32,
  outW: i32,
  outC: i32,
  m: i32,
  r: i32,
  padTop: i32,
  padLeft: i32,
  accumulate: i32,
): void {
  const side = m + r - 1;
  if (m != 4 || (r != 3 && r != 5) || (c & 3) != 0 || (outC & 3) != 0) unreachable();
  const cells = side * side;
  const tilesX = (outW + m - 1) / m;
  const tilesY = (outH + m - 1) / m;
  const perImage = tilesX * tilesY;
  const total = batch * perImage;
  const chunk = chunkTiles(scratchFloats, total, cells, c, outC);
  const patch = scratch;
  const rowsBuf = patch + <usize> (CELLS * 16);
  const vBuf = rowsBuf + <usize> (CELLS * 16);
  const lda = cells * c;
  const ldz = cells * outC;
  const zBuf = vBuf + (<usize> chunk * <usize> lda << 2);
  const pixelBytes = <usize> c << 2;
  const vTile = <usize> lda << 2;
  const zTile = <usize> ldz << 2;
  for (let t0 = 0; t0 < total; t0 += chunk) {
    const tiles = min(chunk, total - t0);
    for (let t = 0; t < tiles; t++) {
      const g = t0 + t;
      const b = g / perImage;
      const q = g - b * perImage;
      const ty = q / tilesX;
      const oy0 = ty * m;
      const ox0 = (q - ty * tilesX) * m;
      const image = x + <usize> b * <usize> h * <usize> wd * pixelBytes;
      inputTransform(image, h, wd, c, oy0 - padTop, ox0 - padLeft, side, patch, rowsBuf, vBuf + <usize> t * vTile);
      const dzImage = dz + (<usize> b * <usize> outH * <usize> outW * <usize> outC << 2);
      gradTileTransform(dzImage, outH, outW, outC, oy0, ox0, side, patch, rowsBuf, zBuf + <usize> t * zTile);
    }
    const add = t0 > 0 || accumulate != 0 ? 1 : 0;
    for (let e = 0; e < cells; e++) {
      gemmTN(
        vBuf + (<usize> (e * c) << 2),
        lda,
        zBuf + (<usize> (e * outC) << 2),
        ldz,
        acc + (<usize> e * <usize> c * <usize> outC << 2),
        outC,
        c,
        outC,
        tiles,
        add,
      );
    }
  }
}

/**
 * One 6-point transform of a 4-point dz column by G′ of F(3, 4) (points 0, ±1, ±2, ∞, as
 * winograd_reference.ts builds it): dst[ξ·dstStep] = Σ_i G′[ξ][i] src[i·srcStep] (4 lanes), where
 * G′[ξ][i] = a_ξⁱ / Π_{l≠ξ}(a_ξ − a_l): ¼ at 0, −⅙ at ±1, 1⁄24 at ±2; the ± rows as
 * (E ± O) times their factor.
 */
// @ts-ignore: decorator
@inline function gradTransform1D6(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const z0 = v128.load(src);
  const z1 = v128.load(src + srcStep);
  const z2 = v128.load(src + 2 * srcStep);
  const z3 = v128.load(src + 3 * srcStep);
  v128.store(dst, f32x4.mul(z0, f32x4.splat(0.25)));
  // ±1: E = z0 + z2, O = z1 + z3, times −⅙.
  const e1 = f32x4.add(z0, z2), o1 = f32x4.add(z1, z3);
  const sixth = f32x4.splat(-1.0 / 6.0);
  v128.store(dst + dstStep, f32x4.mul(f32x4.add(e1, o1), sixth));
  v128.store(dst + 2 * dstStep, f32x4.mul(f32x4.sub(e1, o1), sixth));
  // ±2: E = z0 + 4 z2, O = 2 z1 + 8 z3, times 1⁄24.
  const e2 = madd(z0, f32x4.splat(4), z2);
  const o2 = madd(f32x4.add(z1, z1), f32x4.splat(8), z3);
  const twentyFourth = f32x4.splat(1.0 / 24.0);
  v128.store(dst + 3 * dstStep, f32x4.mul(f32x4.add(e2, o2), twentyFourth));
  v128.store(dst + 4 * dstStep, f32x4.mul(f32x4.sub(e2, o2), twentyFourth));
  v128.store(dst + 5 * dstStep, z3);
}

/**
 * The 8-point transform of a 4-point dz column by G′ of F(5, 4) (points 0, ±1, ±2, ±½, ∞):
 * G′[ξ][i] = a_ξⁱ / Π_{l≠ξ}(a_ξ − a_l), the factor −1 at 0, −2⁄9 at ±1, 1⁄90 at ±2, 32⁄45 at
 * ±½; the ± rows as (E ± O) times their factor.
 */
// @ts-ignore: decorator
@inline function gradTransform1D8(src: usize, srcStep: usize, dst: usize, dstStep: usize): void {
  const z0 = v128.load(src);
  const z1 = v128.load(src + srcStep);
  const z2 = v128.load(src + 2 * srcStep);
  const z3 = v128.load(src + 3 * srcStep);
  v128.store(dst, f32x4.neg(z0));
  const e1 = f32x4.add(z0, z2), o1 = f32x4.add(z1, z3);
  const s1 = f32x4.splat(-2.0 / 9.0);
  v128.store(dst + dstStep, f32x4.mul(f32x4.add(e1, o1), s1));
  v128.store(dst + 2 * dstStep, f32x4.mul(f32x4.sub(e1, o1), s1));
  const e2 = madd(z0, f32x4.splat(4), z2);
  const o2 = madd(f32x4.add(z1, z1), f32x4.splat(8), z3);
  const s2 = f32x4.splat(1.0 / 90.0);
  v128.store(dst + 3 * dstStep, f32x4.mul(f32x4.add(e2, o2), s2));
  v128.store(dst + 4 * dstStep, f32x4.mul(f32x4.sub(e2, o2), s2));
  const e3 = madd(z0, f32x4.splat(0.25), z2);
  const o3 = madd(f32x4.mul(z1, f32x4.splat(0.5)), f32x4.splat(0.125), z3);
  const s3 = f32x4.splat(32.0 / 45.0);
  v128.store(dst + 5 * dstStep, f32x4.mul(f32x4.add(e3, o3), s3));
  v128.store(dst + 6 * dstStep, f32x4.mul(f32x4.sub(e3, o3), s3));
  v128.store(dst + 7 * dstStep, z3);
}

/**
 * Z[ξν][co] = Σ G′[ξ][i] z[i][j] G′[ν][j] of one 4×4 tile of dz at (oy0, ox0), zero past the
 * output, G′ of F(3, 4) (side 6) or F(5, 4) (side 8).
 */
function gradTileTransform(
  dzImage: usize,
  outH: i32,
  outW: i32,
  outC: i32,
  oy0: i32,
  ox0: i32,
  side: i32,
  patch: usize,
  rowsBuf: usize,
  z: usize,
): void {
  const m = 4;
  const cellBytes = <usize> outC << 2;
  const rowBytes = <usize> outW * cellBytes;
  const inside = oy0 + m <= outH && ox0 + m <= outW;
  const zXi = <usize> side * cellBytes;
  for (let og = 0; og < outC; og += 4) {
    const off = <usize> og << 2;
    let src: usize, srcRow: usize, srcCol: usize;
    if (inside) {
      src = dzImage + <usize> oy0 * rowBytes + <usize> ox0 * cellBytes + off;
      srcRow = rowBytes;
      srcCol = cellBytes;
    } else {
      for (let i = 0; i < m; i++) {
        const dst = patch + <usize> i * ROW;
        const oy = oy0 + i;
        for (let j = 0; j < m; j++) {
          const ox = ox0 + j;
          v128.store(
            dst + (<usize> j << 4),
            oy < outH && ox < outW ? v128.load(dzImage + <usize> oy * rowBytes + <usize> ox * cellBytes + off) : f32x4.splat(0),
          );
        }
      }
      src = patch;
      srcRow = ROW;
      srcCol = 16;
    }
    // Columns: tmp[ξ][j] = Σ_i G′[ξ][i] z[i][j] (side × m); rows: Z[ξ][ν] = Σ_j tmp[ξ][j] G′[ν][j].
    if (side == 6) {
      for (let j = 0; j < 4; j++) {
        gradTransform1D6(src + <usize> j * srcCol, srcRow, rowsBuf + (<usize> j << 4), ROW);
      }
      for (let xi = 0; xi < 6; xi++) {
        gradTransform1D6(rowsBuf + <usize> xi * ROW, 16, z + <usize> xi * zXi + off, cellBytes);
      }
      continue;
    }
    for (let j = 0; j < 4; j++) {
      gradTransform1D8(src + <usize> j * srcCol, srcRow, rowsBuf + (<usize> j << 4), ROW);
    }
    for (let xi = 0; xi < 8; xi++) {
      gradTransform1D8(rowsBuf + <usize> xi * ROW, 16, z + <usize> xi * zXi + off, cellBytes);
    }
  }
}
