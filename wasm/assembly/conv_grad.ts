// Backward of Conv2D (NHWC, kernel in Keras layout (kh, kw, in, out)), from dZ = ∂loss/∂z, the
// gradient at the pre-activation (the caller applies the activation derivative):
// - dW, tile by tile over the output pixels: col = im2col(x) for the tile, transposed to
//   [K × rows] (K = kh·kw·c), then dW += colᵀ · dZ (GEMM, summed over tiles). A rows are
//   contiguous along the reduction and outC is the register tile's width.
// - dx with stride 1 (and ≥ 8 input channels): a forward convolution (conv.ts, implicit GEMM)
//   of dZ with the kernel flipped in space and transposed (in ↔ out), padded by span − 1 − pad.
// - dx otherwise: dcol = dZ · Wᵀ per tile, scatter-added into dx (col2im, SIMD across
//   channels).
import { conv2d, im2colTile } from "./conv";
import { addFloats } from "./floats";
import { gemmStrided } from "./gemm";


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
 * needs 2·K floats per pixel (its im2col rows and their transpose).
 */
export function conv2dBackwardTile(scratchFloats: i32, k: i32, total: i32): i32 {
  let tile = scratchFloats / (2 * k);
  if (tile > 8) tile &= ~3;
  if (tile < 1) tile = 1;
  return min(tile, total);
}

/**
 * dst = the kernel w (kh, kw, c, outC) flipped in both spatial axes with in/out swapped:
 * dst[kh-1-ky, kw-1-kx, o, ci] = w[ky, kx, ci, o] — the kernel of dx as a convolution of dZ.
 */
export function conv2dFlipKernel(w: usize, dst: usize, kh: i32, kw: i32, c: i32, outC: i32): void {
  const tapBytes = <usize> c * <usize> outC << 2;
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const src = w + <usize> (ky * kw + kx) * tapBytes;
      const to = dst + <usize> ((kh - 1 - ky) * kw + (kw - 1 - kx)) * tapBytes;
      transposeMatrix(src, outC, to, c, outC);
    }
  }
}

/**
 * Floats of scratch `conv2dBackward` needs at least: 2·K for one pixel's im2col row and its
 * transpose (more scratch, larger tiles); with dx also K·outC for the rearranged kernel and
 * kh·kw·outC for the forward convolution's im2col row.
 */
export function conv2dBackwardMinScratch(kh: i32, kw: i32, c: i32, outC: i32, wantDx: i32): i32 {
  const k = kh * kw * c;
  return wantDx ? k * outC + max(2 * k, kh * kw * outC) : 2 * k;
}

/**
 * Conv2D backward for dZ [batch, outH, outW, outC]:
 * - `dw` (0: skip) receives the filter gradient (kh, kw, c, outC), OVERWRITTEN;
 * - `dx` (0: skip) receives ∂loss/∂x [batch, h, wd, c], OVERWRITTEN; `w` is the kernel.
 * `scratch` holds `scratchFloats` ≥ `conv2dBackwardMinScratch` floats.
 */
export function conv2dBackward(
  x: usize,
  dz: usize,
  w: usize,
  dx: usize,
  dw: usize,
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
  dilH: i32,
  dilW: i32,
  padTop: i32,
  padLeft: i32,
): void {
  const total = batch * outH * outW;
  const k = kh * kw * c;
  const direct = kh == 1 && kw == 1 && sh == 1 && sw == 1 && padTop == 0 && padLeft == 0 &&
    outH == h && outW == wd;
  // The rearranged kernel for dx lives at the start of the scratch; tiles use the rest.
  const prepFloats = dx ? k * outC : 0;
  const prep = scratch;
  const work = scratch + (<usize> prepFloats << 2);
  const workFloats = scratchFloats - prepFloats;
  const tile = conv2dBackwardTile(workFloats, k, total);
  const col = work;
  const colT = work + (<usize> tile * <usize> k << 2);
  if (dw) {
    if (total == 0) memory.fill(dw, 0, <usize> outC * <usize> k << 2);
    for (let p0 = 0; p0 < total; p0 += tile) {
      const rows = min(tile, total - p0);
      let a = col;
      if (direct) a = x + (<usize> p0 * <usize> c << 2);
      else im2colTile(x, col, p0, rows, h, wd, c, outH, outW, kh, kw, sh, sw, dilH, dilW, padTop, padLeft);
      transposeMatrix(a, k, colT, rows, k);
      gemmStrided(
        colT, rows, dz + (<usize> p0 * <usize> outC << 2), outC, 0, dw, outC, k, outC, rows, 0, 0,
        p0 > 0 ? 1 : 0,
      );
    }
  }
  if (!dx) return;
  // The flipped forward convolution's GEMM is c columns wide: worth it from 8 input channels.
  if (sh == 1 && sw == 1 && c >= 8) {
    conv2dFlipKernel(w, prep, kh, kw, c, outC);
    conv2d(
      dz, prep, 0, dx, work, workFloats, batch, outH, outW, outC, h, wd, c, kh, kw, 1, 1, dilH, dilW,
      dilH * (kh - 1) - padTop, dilW * (kw - 1) - padLeft, 0, 0,
    );
    return;
  }
  transposeMatrix(w, outC, prep, k, outC);
  memory.fill(dx, 0, <usize> batch * <usize> h * <usize> wd * <usize> c << 2);
  for (let p0 = 0; p0 < total; p0 += tile) {
    const rows = min(tile, total - p0);
    gemmStrided(dz + (<usize> p0 * <usize> outC << 2), outC, prep, k, 0, col, k, rows, k, outC, 0, 0, 0);
    col2imTile(col, dx, p0, rows, h, wd, c, outH, outW, kh, kw, sh, sw, dilH, dilW, padTop, padLeft);
  }
}
