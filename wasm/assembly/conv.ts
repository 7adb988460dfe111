// Conv2D, NHWC, kernel in Keras layout (kh, kw, in, out), with a fused bias + activation.
// The kernel, read row-major, is already the (kh*kw*in) × out GEMM matrix B. Methods, chosen by
// shape and the scratch the caller gives (conv2dScratchFloats says how much each wants):
// - 1×1 stride-1 unpadded: a plain gemm over the input.
// - implicit GEMM (horizontal dilation 1): the window of an output pixel in input row iy is kw·c
//   contiguous floats, so the GEMM tiles read A straight from the image — kh segments of kw·c
//   floats, one image row apart — with no im2col copy. `same` padding first copies each image
//   into a zero-bordered scratch image so every window is in bounds.
// - im2col: a tile of output pixels' windows copied into scratch, then `gemm` (dilated columns,
//   or when the scratch is too small for a padded image).
// Padding cells are zeros (cross-correlation).
import { copyFloats, zeroFloats } from "./floats";
import { gemm, gemmPanelColumns, gemmRowBlock, nextRowBlock } from "./gemm";

/**
 * y[b, oh, ow, o] = act(bias[o] + Σ x[b, oh*sh - padTop + ky*dh, ow*sw - padLeft + kx*dw, c]
 *                                   · w[ky, kx, c, o]).
 * `scratch` holds `scratchFloats` floats (at least kh*kw*c); bias may be 0 (none).
 */
function conv2dIm2col(
  x: usize,
  w: usize,
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
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  dh: i32,
  dw: i32,
  padTop: i32,
  padLeft: i32,
  act: i32,
  alpha: f32,
): void {
  const total = batch * outH * outW;
  const k = kh * kw * c;
  let tile = scratchFloats / k;
  if (tile > 4) tile &= ~3; // whole 4-row blocks for the gemm register tile
  if (tile < 1) tile = 1;
  for (let p0 = 0; p0 < total; p0 += tile) {
    const rows = min(tile, total - p0);
    im2colTile(x, scratch, p0, rows, h, wd, c, outH, outW, kh, kw, sh, sw, dh, dw, padTop, padLeft);
    gemm(scratch, w, bias, y + (<usize> p0 * <usize> outC << 2), rows, outC, k, act, alpha);
  }
}

/** Writes the im2col rows of output pixels [p0, p0 + rows) into `col` (K floats per row). */
export function im2colTile(
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
        zeroFloats(dst, kw * c);
        dst += <usize> (kw * c) << 2;
        continue;
      }
      const rowBase = image + <usize> iy * <usize> wd * cBytes;
      for (let kx = 0; kx < kw; kx++) {
        const ix = ix0 + kx * dw;
        if (ix < 0 || ix >= wd) zeroFloats(dst, c);
        else copyFloats(dst, rowBase + <usize> ix * cBytes, c);
        dst += cBytes;
      }
    }
  }
}

// @ts-ignore: decorator
@inline function padAfter(inLen: i32, outLen: i32, stride: i32, k: i32, dilation: i32, before: i32): i32 {
  return max(0, (outLen - 1) * stride + (k - 1) * dilation + 1 - inLen - before);
}

/**
 * Whether the implicit GEMM applies: windows are contiguous across kx (no column dilation, or
 * one column). 1×1 convs with stride 2 (ResNet's downsampling) take it too: each pixel's A row
 * is its c input floats, read in place, where im2col would copy them tile by tile and stream
 * the whole kernel once per tile.
 */
// @ts-ignore: decorator
@inline function implicitApplies(kw: i32, dw: i32): bool {
  return dw == 1 || kw == 1;
}

/**
 * Floats of scratch `conv2d` uses for its preferred method on this shape (0 for the 1×1 gemm
 * and for unpadded implicit GEMM). Any scratch ≥ kh*kw*c floats works (im2col, smaller tiles).
 */
export function conv2dScratchFloats(
  batch: i32,
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
  im2colFloats: i32,
): i32 {
  if (kh == 1 && kw == 1 && sh == 1 && sw == 1 && padTop == 0 && padLeft == 0 && outH == h && outW == wd) {
    return 0;
  }
  if (implicitApplies(kw, dw)) {
    const padBottom = padAfter(h, outH, sh, kh, dh, padTop);
    const padRight = padAfter(wd, outW, sw, kw, dw, padLeft);
    if (padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0) return 0;
    return (h + padTop + padBottom) * (wd + padLeft + padRight) * c;
  }
  return im2colFloats;
}

/**
 * y[b, oh, ow, o] = act(bias[o] + Σ x[b, oh*sh - padTop + ky*dh, ow*sw - padLeft + kx*dw, c]
 *                                   · w[ky, kx, c, o]).
 * `scratch` holds `scratchFloats` floats (at least kh*kw*c); bias may be 0 (none).
 */
export function conv2d(
  x: usize,
  w: usize,
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
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  dh: i32,
  dw: i32,
  padTop: i32,
  padLeft: i32,
  act: i32,
  alpha: f32,
): void {
  if (
    kh == 1 && kw == 1 && sh == 1 && sw == 1 && padTop == 0 && padLeft == 0 && outH == h &&
    outW == wd
  ) {
    gemm(x, w, bias, y, batch * outH * outW, outC, c, act, alpha);
    return;
  }
  if (implicitApplies(kw, dw)) {
    const padBottom = padAfter(h, outH, sh, kh, dh, padTop);
    const padRight = padAfter(wd, outW, sw, kw, dw, padLeft);
    const padded = padTop != 0 || padLeft != 0 || padBottom != 0 || padRight != 0;
    const hp = h + padTop + padBottom;
    const wp = wd + padLeft + padRight;
    if (!padded || scratchFloats >= hp * wp * c) {
      conv2dImplicit(
        x, w, 0, bias, y, padded ? scratch : 0, batch, h, wd, c, hp, wp, outH, outW, outC, outC,
        kh, kw, sh, sw, dh, padTop, padLeft, act, alpha,
      );
      return;
    }
  }
  conv2dIm2col(
    x, w, bias, y, scratch, scratchFloats, batch, h, wd, c, outH, outW, outC, kh, kw, sh, sw, dh,
    dw, padTop, padLeft, act, alpha,
  );
}

/** Copies one h×wd×c image into the middle of a zeroed hp×wp×c image. */
function padImage(src: usize, dst: usize, h: i32, wd: i32, c: i32, wp: i32, hp: i32, padTop: i32, padLeft: i32): void {
  const rowBytes = <usize> wd * <usize> c << 2;
  const pRowBytes = <usize> wp * <usize> c << 2;
  memory.fill(dst, 0, <usize> hp * pRowBytes);
  let d = dst + <usize> padTop * pRowBytes + (<usize> padLeft * <usize> c << 2);
  let s = src;
  for (let iy = 0; iy < h; iy++) {
    memory.copy(d, s, rowBytes);
    d += pRowBytes;
    s += rowBytes;
  }
}

/**
 * Floats of a kernel of `k` rows × `outC` columns packed by conv2dPackKernel: strips of 8
 * columns, the last padded with zeros.
 */
export function conv2dPackedFloats(k: i32, outC: i32): i32 {
  return k * ((outC + 7) & ~7);
}

/**
 * Packs the row-major k × outC kernel `w` (Keras layout read as the GEMM's B) into `dst`
 * (conv2dPackedFloats floats) as column strips: strip s holds columns [8s, 8s + 8) of every row,
 * 8 floats a row, zeros past outC. A register tile then reads its B columns as one contiguous
 * stream: in row-major B they are 8 floats out of every outC, and with outC a power of two
 * (ResNet's 256…2048) those rows fall into a few cache sets and evict each other from L1 and
 * L2.
 */
export function conv2dPackKernel(w: usize, dst: usize, k: i32, outC: i32): void {
  const strips = (outC + 7) >> 3;
  const rowBytes = <usize> outC << 2;
  for (let s = 0; s < strips; s++) {
    const j0 = s << 3;
    const cols = min(8, outC - j0);
    let d = dst + (<usize> s * <usize> k << 5);
    let src = w + (<usize> j0 << 2);
    for (let r = 0; r < k; r++) {
      if (cols == 8) {
        v128.store(d, v128.load(src));
        v128.store(d, v128.load(src, 16), 16);
      } else {
        for (let j = 0; j < 8; j++) store<f32>(d + (<usize> j << 2), j < cols ? load<f32>(src + (<usize> j << 2)) : 0);
      }
      d += 32;
      src += rowBytes;
    }
  }
}

/**
 * conv2d with the kernel packed by conv2dPackKernel (`wp`), for windows the implicit GEMM
 * applies to (no column dilation or one column; others trap): the implicit GEMM for every such
 * shape, 1×1 included. Arguments as conv2d's, and `cols`: the output channels this call computes
 * (outC for all), from the channel `wp`, `bias` and `y` point at, which starts a strip (a
 * multiple of 8; y's rows stay outC apart), so kernel threads can split one image's channels.
 * `scratch` must hold the zero-padded image when the shape is padded (conv2dScratchFloats; less
 * traps).
 */
export function conv2dPacked(
  x: usize,
  wp: usize,
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
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  dh: i32,
  dw: i32,
  padTop: i32,
  padLeft: i32,
  cols: i32,
  act: i32,
  alpha: f32,
): void {
  if (!implicitApplies(kw, dw)) unreachable();
  const padBottom = padAfter(h, outH, sh, kh, dh, padTop);
  const padRight = padAfter(wd, outW, sw, kw, dw, padLeft);
  const padded = padTop != 0 || padLeft != 0 || padBottom != 0 || padRight != 0;
  const hp = h + padTop + padBottom;
  const wp2 = wd + padLeft + padRight;
  if (padded && scratchFloats < hp * wp2 * c) unreachable();
  conv2dImplicit(
    x, wp, 1, bias, y, padded ? scratch : 0, batch, h, wd, c, hp, wp2, outH, outW, outC, min(cols, outC),
    kh, kw, sh, sw, dh, padTop, padLeft, act, alpha,
  );
}

/**
 * Implicit GEMM: per image (zero-padded into `padBuf` when it is not 0), per column panel of the
 * kernel (gemmPanelColumns: a deep kernel, 3×3×512 → 512 is 9 MiB, would otherwise be read from
 * memory once per pixel block), blocks of up to 6 output pixels × the panel's channels; pixel
 * p's A row starts at its window's top-left input cell and runs kh segments of kw·c floats, dh
 * image rows apart. `packed` = 1: `w` is packed by conv2dPackKernel and each 8-column strip is
 * its own GEMM (B rows 32 bytes apart). Computes `cols` channels from those `w`, `bias` and `y`
 * point at; y's rows are outC apart.
 */
function conv2dImplicit(
  x: usize,
  w: usize,
  packed: i32,
  bias: usize,
  y: usize,
  padBuf: usize,
  batch: i32,
  h: i32,
  wd: i32,
  c: i32,
  hp: i32,
  wp: i32,
  outH: i32,
  outW: i32,
  outC: i32,
  cols: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  dh: i32,
  padTop: i32,
  padLeft: i32,
  act: i32,
  alpha: f32,
): void {
  const pixelBytes = <usize> c << 2;
  const rowBytes = <usize> wp * pixelBytes;
  const segStride = <usize> dh * rowBytes;
  const segLen = kw * c;
  const k = kh * segLen;
  const sc = <usize> outC << 2;
  const sb = packed ? <usize> 32 : sc;
  const stripBytes = <usize> k << 5;
  const pixels = outH * outW;
  const imageBytes = <usize> h * <usize> wd * pixelBytes;
  const panel = gemmPanelColumns(cols, k);
  for (let b = 0; b < batch; b++) {
    let img = x + <usize> b * imageBytes;
    if (padBuf) {
      padImage(img, padBuf, h, wd, c, wp, hp, padTop, padLeft);
      img = padBuf;
    }
    const yImg = y + <usize> b * <usize> pixels * sc;
    for (let j0 = 0; j0 < cols; j0 += panel) {
      const nj = min(panel, cols - j0);
      let p = 0;
      while (p < pixels) {
        const rows = nextRowBlock(pixels - p);
        // Window origins of the block's pixels (consecutive in row-major output order).
        let oh = p / outW;
        let ow = p - oh * outW;
        const a0 = img + <usize> (oh * sh) * rowBytes + <usize> (ow * sw) * pixelBytes;
        if (++ow == outW) { ow = 0; oh++; }
        const a1 = img + <usize> (oh * sh) * rowBytes + <usize> (ow * sw) * pixelBytes;
        if (++ow == outW) { ow = 0; oh++; }
        const a2 = img + <usize> (oh * sh) * rowBytes + <usize> (ow * sw) * pixelBytes;
        if (++ow == outW) { ow = 0; oh++; }
        const a3 = img + <usize> (oh * sh) * rowBytes + <usize> (ow * sw) * pixelBytes;
        if (++ow == outW) { ow = 0; oh++; }
        const a4 = img + <usize> (oh * sh) * rowBytes + <usize> (ow * sw) * pixelBytes;
        if (++ow == outW) { ow = 0; oh++; }
        const a5 = img + <usize> (oh * sh) * rowBytes + <usize> (ow * sw) * pixelBytes;
        const yRow = yImg + <usize> p * sc;
        if (packed) {
          for (let j = j0; j < j0 + nj; j += 8) {
            const o = <usize> j << 2;
            gemmRowBlock(
              rows, a0, a1, a2, a3, a4, a5, segLen, kh, segStride, w + <usize> (j >> 3) * stripBytes,
              sb, yRow + o, sc, min(8, cols - j), bias ? bias + o : 0, act, alpha, 0,
            );
          }
        } else {
          const o = <usize> j0 << 2;
          gemmRowBlock(
            rows, a0, a1, a2, a3, a4, a5, segLen, kh, segStride, w + o, sb, yRow + o, sc, nj,
            bias ? bias + o : 0, act, alpha, 0,
          );
        }
        p += rows;
      }
    }
  }
}
