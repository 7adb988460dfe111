// Conv2D, NHWC, kernel in Keras layout (kh, kw, in, out), with a fused bias + activation.
// Method: im2col of a tile of output pixels into caller-provided scratch, then `gemm` (the
// kernel, read row-major, is already the (kh*kw*in) × out matrix). A 1×1 stride-1 unpadded
// convolution is a plain gemm over the input. Padding cells are zeros (cross-correlation).
import { gemm } from "./gemm";

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
@inline function zeroFloats(dst: usize, n: i32): void {
  memory.fill(dst, 0, <usize> n << 2);
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
  const total = batch * outH * outW;
  if (
    kh == 1 && kw == 1 && sh == 1 && sw == 1 && padTop == 0 && padLeft == 0 && outH == h &&
    outW == wd
  ) {
    gemm(x, w, bias, y, total, outC, c, act, alpha);
    return;
  }
  const k = kh * kw * c;
  let tile = scratchFloats / k;
  if (tile > 4) tile &= ~3; // whole 4-row blocks for the gemm register tile
  if (tile < 1) tile = 1;
  const rowBytes = <usize> k << 2;
  const pixelsPerImage = outH * outW;
  for (let p0 = 0; p0 < total; p0 += tile) {
    const rows = min(tile, total - p0);
    for (let r = 0; r < rows; r++) {
      const p = p0 + r;
      const b = p / pixelsPerImage;
      const q = p - b * pixelsPerImage;
      const oh = q / outW;
      const ow = q - oh * outW;
      const image = x + (<usize> b * <usize> h * <usize> wd * <usize> c << 2);
      let dst = scratch + <usize> r * rowBytes;
      const iy0 = oh * sh - padTop;
      const ix0 = ow * sw - padLeft;
      for (let ky = 0; ky < kh; ky++) {
        const iy = iy0 + ky * dh;
        if (iy < 0 || iy >= h) {
          zeroFloats(dst, kw * c);
          dst += <usize> (kw * c) << 2;
          continue;
        }
        const rowBase = image + (<usize> iy * <usize> wd * <usize> c << 2);
        for (let kx = 0; kx < kw; kx++) {
          const ix = ix0 + kx * dw;
          if (ix < 0 || ix >= wd) zeroFloats(dst, c);
          else copyFloats(dst, rowBase + (<usize> ix * <usize> c << 2), c);
          dst += <usize> c << 2;
        }
      }
    }
    gemm(scratch, w, bias, y + (<usize> p0 * <usize> outC << 2), rows, outC, k, act, alpha);
  }
}
