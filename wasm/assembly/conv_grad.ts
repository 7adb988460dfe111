// Backward of Conv2D (NHWC, kernel in Keras layout (kh, kw, in, out)), tile by tile over the
// output pixels, with caller-provided scratch:
//   col   = im2col(x) for the tile                     [rows × K], K = kh·kw·c
//   dWᵀ  += dZᵀ · col                                   [outC × K]  (gemm, summed over tiles)
//   dcol  = dZ · Wᵀ                                     [rows × K]  (gemm on the transposed kernel)
//   dx   += col2im(dcol)                                scatter-add, SIMD across channels
// dZ is the gradient at the pre-activation (the caller applies the activation derivative). The
// filter gradient comes out transposed (outC × K) so both products are plain row-major GEMMs with
// the forward kernel's register tiles; `transposeMatrix` turns it into Keras layout.
import { gemmStrided } from "./gemm";

// @ts-ignore: decorator
@inline function copyFloats(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize> i << 2;
    v128.store(dst + o, v128.load(src + o));
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    store<f32>(dst + o, load<f32>(src + o));
  }
}

// @ts-ignore: decorator
@inline function addFloats(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize> i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/** dst[cols × rows] = srcᵀ for a row-major rows × cols matrix whose rows are `lds` floats apart. */
export function transposeMatrix(src: usize, lds: i32, dst: usize, rows: i32, cols: i32): void {
  const sBytes = <usize> lds << 2;
  const dBytes = <usize> rows << 2;
  // 4×4 blocks through SIMD shuffles, scalar edges.
  let i = 0;
  for (; i + 4 <= rows; i += 4) {
    const s0 = src + <usize> i * sBytes;
    const s1 = s0 + sBytes;
    const s2 = s1 + sBytes;
    const s3 = s2 + sBytes;
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const o = <usize> j << 2;
      const r0 = v128.load(s0 + o);
      const r1 = v128.load(s1 + o);
      const r2 = v128.load(s2 + o);
      const r3 = v128.load(s3 + o);
      const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
      const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
      const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
      const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      const d = dst + <usize> j * dBytes + (<usize> i << 2);
      v128.store(d, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
      v128.store(d + dBytes, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
      v128.store(d + 2 * dBytes, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
      v128.store(d + 3 * dBytes, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
    }
    for (; j < cols; j++) {
      const o = <usize> j << 2;
      const d = dst + <usize> j * dBytes + (<usize> i << 2);
      store<f32>(d, load<f32>(s0 + o));
      store<f32>(d + 4, load<f32>(s1 + o));
      store<f32>(d + 8, load<f32>(s2 + o));
      store<f32>(d + 12, load<f32>(s3 + o));
    }
  }
  for (; i < rows; i++) {
    const s = src + <usize> i * sBytes;
    for (let j = 0; j < cols; j++) {
      store<f32>(dst + <usize> j * dBytes + (<usize> i << 2), load<f32>(s + (<usize> j << 2)));
    }
  }
}

/** Writes the im2col rows of output pixels [p0, p0 + rows) into `col` (K floats per row). */
function im2colTile(
  x: usize,
  col: usize,
  p0: i32,
  rows: i32,
  h: i32,
  wd: i32,
  c: i32,
  outH: i32,
  outW: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  dh: i32,
  dw: i32,
  padTop: i32,
  padLeft: i32,
): void {
  const k = kh * kw * c;
  const pixelsPerImage = outH * outW;
  const cBytes = <usize> c << 2;
  for (let r = 0; r < rows; r++) {
    const p = p0 + r;
    const b = p / pixelsPerImage;
    const q = p - b * pixelsPerImage;
    const oh = q / outW;
    const ow = q - oh * outW;
    const image = x + <usize> b * <usize> h * <usize> wd * cBytes;
    let dst = col + (<usize> r * <usize> k << 2);
    const iy0 = oh * sh - padTop;
    const ix0 = ow * sw - padLeft;
    for (let ky = 0; ky < kh; ky++) {
      const iy = iy0 + ky * dh;
      if (iy < 0 || iy >= h) {
        memory.fill(dst, 0, <usize> (kw * c) << 2);
        dst += <usize> (kw * c) << 2;
        continue;
      }
      const rowBase = image + <usize> iy * <usize> wd * cBytes;
      for (let kx = 0; kx < kw; kx++) {
        const ix = ix0 + kx * dw;
        if (ix < 0 || ix >= wd) memory.fill(dst, 0, cBytes);
        else copyFloats(dst, rowBase + <usize> ix * cBytes, c);
        dst += cBytes;
      }
    }
  }
}

/** Adds the rows of `dcol` (pixels [p0, p0 + rows)) into the input cells they were read from. */
function col2imTile(
  dcol: usize,
  dx: usize,
  p0: i32,
  rows: i32,
  h: i32,
  wd: i32,
  c: i32,
  outH: i32,
  outW: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  dh: i32,
  dw: i32,
  padTop: i32,
  padLeft: i32,
): void {
  const k = kh * kw * c;
  const pixelsPerImage = outH * outW;
  const cBytes = <usize> c << 2;
  for (let r = 0; r < rows; r++) {
    const p = p0 + r;
    const b = p / pixelsPerImage;
    const q = p - b * pixelsPerImage;
    const oh = q / outW;
    const ow = q - oh * outW;
    const image = dx + <usize> b * <usize> h * <usize> wd * cBytes;
    let src = dcol + (<usize> r * <usize> k << 2);
    const iy0 = oh * sh - padTop;
    const ix0 = ow * sw - padLeft;
    for (let ky = 0; ky < kh; ky++) {
      const iy = iy0 + ky * dh;
      if (iy < 0 || iy >= h) {
        src += <usize> (kw * c) << 2;
        continue;
      }
      const rowBase = image + <usize> iy * <usize> wd * cBytes;
      for (let kx = 0; kx < kw; kx++) {
        const ix = ix0 + kx * dw;
        if (ix >= 0 && ix < wd) addFloats(rowBase + <usize> ix * cBytes, src, c);
        src += cBytes;
      }
    }
  }
}

/**
 * Output pixels per tile `conv2dBackward` uses with `scratchFloats` floats of scratch: each tile
 * needs K + outC floats per pixel (its im2col rows and its transposed dZ).
 */
export function conv2dBackwardTile(scratchFloats: i32, k: i32, outC: i32, total: i32): i32 {
  let tile = scratchFloats / (k + outC);
  if (tile > 8) tile &= ~3;
  if (tile < 1) tile = 1;
  return min(tile, total);
}

/**
 * Conv2D backward for dZ = ∂loss/∂(pre-activation), [batch, outH, outW, outC]:
 * - `dwT` (0: skip) receives the filter gradient transposed, outC × (kh·kw·c), OVERWRITTEN;
 * - `dx` (0: skip) receives ∂loss/∂x [batch, h, wd, c], OVERWRITTEN; it needs `wT`, the kernel
 *   transposed to outC × (kh·kw·c).
 * `scratch` holds `scratchFloats` ≥ kh·kw·c + outC floats. A 1×1 stride-1 unpadded convolution
 * reads x and writes dx directly (no im2col).
 */
export function conv2dBackward(
  x: usize,
  dz: usize,
  wT: usize,
  dx: usize,
  dwT: usize,
  scratch: usize,
  scratchFloats: i32,
  batch: i32,
  h: i32,
  wd: i32,
  c: i32,
  outH: i32,
  outW: i32,
  outC: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  dh: i32,
  dw: i32,
  padTop: i32,
  padLeft: i32,
): void {
  const total = batch * outH * outW;
  const k = kh * kw * c;
  const direct = kh == 1 && kw == 1 && sh == 1 && sw == 1 && padTop == 0 && padLeft == 0 &&
    outH == h && outW == wd;
  if (dx && !direct) memory.fill(dx, 0, <usize> batch * <usize> h * <usize> wd * <usize> c << 2);
  if (dwT && total == 0) memory.fill(dwT, 0, <usize> outC * <usize> k << 2);
  const tile = conv2dBackwardTile(scratchFloats, k, outC, total);
  const col = scratch;
  const dzT = scratch + (<usize> tile * <usize> k << 2);
  for (let p0 = 0; p0 < total; p0 += tile) {
    const rows = min(tile, total - p0);
    const dzTile = dz + (<usize> p0 * <usize> outC << 2);
    if (dwT) {
      let a = col;
      if (direct) a = x + (<usize> p0 * <usize> c << 2);
      else im2colTile(x, col, p0, rows, h, wd, c, outH, outW, kh, kw, sh, sw, dh, dw, padTop, padLeft);
      transposeMatrix(dzTile, outC, dzT, rows, outC);
      gemmStrided(dzT, rows, a, k, 0, dwT, k, outC, k, rows, 0, 0, p0 > 0 ? 1 : 0);
    }
    if (dx) {
      if (direct) {
        gemmStrided(dzTile, outC, wT, k, 0, dx + (<usize> p0 * <usize> c << 2), k, rows, k, outC, 0, 0, 0);
      } else {
        gemmStrided(dzTile, outC, wT, k, 0, col, k, rows, k, outC, 0, 0, 0);
        col2imTile(col, dx, p0, rows, h, wd, c, outH, outW, kh, kw, sh, sw, dh, dw, padTop, padLeft);
      }
    }
  }
}
