// DepthwiseConv2D (NHWC) with a depth multiplier dm: output channel o = ci·dm + m reads input
// channel ci only, kernel in Keras layout (kh, kw, in, dm), i.e. per tap one row of in·dm floats
// in output-channel order. A dedicated direct kernel (no im2col / GEMM): SIMD across channels.
//
// - dm = 1: the kernel row of a tap lines up with the input pixel's channels, so an output
//   channel block is Σ over taps of x[cell, block] · w[tap, block]. The forward tiles 4
//   consecutive output pixels × 8 channels (8 accumulators, one kernel load shared by 4 pixels),
//   then 4 channels, then a scalar tail for channel counts not a multiple of 4. Rows of 3-wide
//   windows at stride 1 or 2 (MobileNet's) load each input cell once for the 4 pixels that share
//   it (sliding-window tiles).
// - dm > 1: each image is first expanded into scratch with every input channel repeated dm
//   times (h·w·in·dm floats), which makes it a dm = 1 problem over in·dm channels; the input
//   gradient goes to an expanded scratch image and is reduced over m.
// - Input gradient: at stride 1 the forward kernel on dz with the kernel rotated 180° (a gather,
//   same tiles); at larger strides dz is scattered back through the taps. Filter gradient: per
//   tap, dz against the input cells it read, over runs of output pixels; 3-wide rows at stride 1
//   load each input vector once for its 3 taps.
// - Padding: no padded copy. Each output row uses only the kernel rows that land inside the
//   image; the columns whose window crosses the left or right edge run one pixel at a time with
//   the kernel columns that land inside; the interior runs the 4-pixel tiles.
// - Everything works image by image, so a caller may split the batch into ranges of images (one
//   per kernel thread, each with its own scratch) by offsetting x / y / dz / dx.
// Geometry arguments of every export, in order: batch, h, wd, c, dm, outH, outW, kh, kw, sh, sw,
// dh, dw, padTop, padLeft (Keras's split of `same` padding resolved by the caller).
import { activateScalar, activateV, LINEAR, RELU, RELU6 } from "./activations";
import { addFloats, zeroFloats } from "./floats";
import { madd } from "./gemm";

// @ts-ignore: decorator
@inline function ceilDiv(a: i32, b: i32): i32 {
  return a >= 0 ? (a + b - 1) / b : -(-a / b);
}

// @ts-ignore: decorator
@inline function floorDiv(a: i32, b: i32): i32 {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/** First tap k ≥ 0 whose cell base + k·d is ≥ 0. */
// @ts-ignore: decorator
@inline function tapLo(base: i32, d: i32): i32 {
  return base >= 0 ? 0 : ceilDiv(-base, d);
}

/** One past the last tap k < n whose cell base + k·d is < len (may be ≤ tapLo: no tap). */
// @ts-ignore: decorator
@inline function tapHi(base: i32, d: i32, n: i32, len: i32): i32 {
  const last = len - 1 - base;
  return last < 0 ? 0 : min(n, last / d + 1);
}

// @ts-ignore: decorator
@inline function finishV(v: v128, act: i32, alpha: f32): v128 {
  if (act == LINEAR) return v;
  // pmax / pmin: one instruction each, activateScalar's comparisons (see activateV).
  if (act == RELU) return f32x4.pmax(f32x4.splat(0), v);
  if (act == RELU6) return f32x4.pmin(f32x4.splat(6), f32x4.pmax(f32x4.splat(0), v));
  return activateOutOfLine(v, act, alpha);
}

/** The other activations of the store, out of line so the tiles stay small. */
function activateOutOfLine(v: v128, act: i32, alpha: f32): v128 {
  return activateV(v, act, alpha);
}

// @ts-ignore: decorator
@inline function biasV(bias: usize, o: usize): v128 {
  return bias ? v128.load(bias + o) : f32x4.splat(0);
}

// @ts-ignore: decorator
@inline function biasS(bias: usize, o: usize): f32 {
  return bias ? load<f32>(bias + o) : 0;
}

/** dst[p, ci·dm + m] = src[p, ci] for `pixels` pixels of c channels. */
function expandChannels(src: usize, dst: usize, pixels: i32, c: i32, dm: i32): void {
  const n = pixels * c;
  let d = dst;
  if (dm == 2) {
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(src + (<usize> i << 2));
      v128.store(d, v128.shuffle<f32>(v, v, 0, 0, 1, 1));
      v128.store(d, v128.shuffle<f32>(v, v, 2, 2, 3, 3), 16);
      d += 32;
    }
    for (; i < n; i++) {
      const s = load<f32>(src + (<usize> i << 2));
      store<f32>(d, s);
      store<f32>(d, s, 4);
      d += 8;
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const s = load<f32>(src + (<usize> i << 2));
    for (let m = 0; m < dm; m++) {
      store<f32>(d, s);
      d += 4;
    }
  }
}

/** dst[p, ci] = Σ_m src[p, ci·dm + m] for `pixels` pixels of c channels. */
function reduceChannels(src: usize, dst: usize, pixels: i32, c: i32, dm: i32): void {
  const n = pixels * c;
  let s = src;
  for (let i = 0; i < n; i++) {
    let acc: f32 = 0;
    for (let m = 0; m < dm; m++) {
      acc += load<f32>(s);
      s += 4;
    }
    store<f32>(dst + (<usize> i << 2), acc);
  }
}

/**
 * 4 consecutive output pixels (inputs `xPix` bytes apart, outputs c floats apart from `y`),
 * channels [ci0, c), nky × nkx taps starting at x / w (window rows `xRow` bytes apart, columns `xCol`;
 * kernel rows `wRow` bytes apart, columns one channel row apart).
 */
function dwPixels4(
  x: usize,
  xPix: usize,
  w: usize,
  nky: i32,
  nkx: i32,
  xRow: usize,
  xCol: usize,
  wRow: usize,
  c: i32,
  ci0: i32,
  bias: usize,
  y: usize,
  act: i32,
  alpha: f32,
): void {
  const cBytes = <usize> c << 2;
  const x1 = x + xPix;
  const x2 = x1 + xPix;
  const x3 = x2 + xPix;
  let ci = ci0;
  for (; ci + 8 <= c; ci += 8) {
    const o = <usize> ci << 2;
    const b0 = biasV(bias, o);
    const b1 = biasV(bias, o + 16);
    let a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
    let xr = o;
    let wr = w + o;
    for (let ky = 0; ky < nky; ky++) {
      let xp = xr;
      let wp = wr;
      for (let kx = 0; kx < nkx; kx++) {
        const w0 = v128.load(wp);
        const w1 = v128.load(wp, 16);
        a00 = madd(a00, v128.load(x + xp), w0);
        a01 = madd(a01, v128.load(x + xp, 16), w1);
        a10 = madd(a10, v128.load(x1 + xp), w0);
        a11 = madd(a11, v128.load(x1 + xp, 16), w1);
        a20 = madd(a20, v128.load(x2 + xp), w0);
        a21 = madd(a21, v128.load(x2 + xp, 16), w1);
        a30 = madd(a30, v128.load(x3 + xp), w0);
        a31 = madd(a31, v128.load(x3 + xp, 16), w1);
        xp += xCol;
        wp += cBytes;
      }
      xr += xRow;
      wr += wRow;
    }
    const yp = y + o;
    v128.store(yp, finishV(a00, act, alpha));
    v128.store(yp, finishV(a01, act, alpha), 16);
    v128.store(yp + cBytes, finishV(a10, act, alpha));
    v128.store(yp + cBytes, finishV(a11, act, alpha), 16);
    v128.store(yp + 2 * cBytes, finishV(a20, act, alpha));
    v128.store(yp + 2 * cBytes, finishV(a21, act, alpha), 16);
    v128.store(yp + 3 * cBytes, finishV(a30, act, alpha));
    v128.store(yp + 3 * cBytes, finishV(a31, act, alpha), 16);
  }
  for (; ci + 4 <= c; ci += 4) {
    const o = <usize> ci << 2;
    const b0 = biasV(bias, o);
    let a0 = b0, a1 = b0, a2 = b0, a3 = b0;
    let xr = o;
    let wr = w + o;
    for (let ky = 0; ky < nky; ky++) {
      let xp = xr;
      let wp = wr;
      for (let kx = 0; kx < nkx; kx++) {
        const w0 = v128.load(wp);
        a0 = madd(a0, v128.load(x + xp), w0);
        a1 = madd(a1, v128.load(x1 + xp), w0);
        a2 = madd(a2, v128.load(x2 + xp), w0);
        a3 = madd(a3, v128.load(x3 + xp), w0);
        xp += xCol;
        wp += cBytes;
      }
      xr += xRow;
      wr += wRow;
    }
    const yp = y + o;
    v128.store(yp, finishV(a0, act, alpha));
    v128.store(yp + cBytes, finishV(a1, act, alpha));
    v128.store(yp + 2 * cBytes, finishV(a2, act, alpha));
    v128.store(yp + 3 * cBytes, finishV(a3, act, alpha));
  }
  for (; ci < c; ci++) {
    const o = <usize> ci << 2;
    const b0 = biasS(bias, o);
    let a0 = b0, a1 = b0, a2 = b0, a3 = b0;
    let xr = o;
    let wr = w + o;
    for (let ky = 0; ky < nky; ky++) {
      let xp = xr;
      let wp = wr;
      for (let kx = 0; kx < nkx; kx++) {
        const w0 = load<f32>(wp);
        a0 += load<f32>(x + xp) * w0;
        a1 += load<f32>(x1 + xp) * w0;
        a2 += load<f32>(x2 + xp) * w0;
        a3 += load<f32>(x3 + xp) * w0;
        xp += xCol;
        wp += cBytes;
      }
      xr += xRow;
      wr += wRow;
    }
    const yp = y + o;
    store<f32>(yp, activateScalar(a0, act, alpha));
    store<f32>(yp + cBytes, activateScalar(a1, act, alpha));
    store<f32>(yp + 2 * cBytes, activateScalar(a2, act, alpha));
    store<f32>(yp + 3 * cBytes, activateScalar(a3, act, alpha));
  }
}

/**
 * dwPixels4 for a 3-wide window row at stride 1 and column dilation 1 (MobileNet's stride-1
 * depthwise layers): the 4 pixels' 3 taps read 6 consecutive input cells, so each row of the
 * window loads 6 input vectors and 3 kernel vectors per channel block for 12 multiply-adds.
 */
function dwPixels4K3S1(
  x: usize,
  w: usize,
  nky: i32,
  xRow: usize,
  wRow: usize,
  c: i32,
  bias: usize,
  y: usize,
  act: i32,
  alpha: f32,
): void {
  const cBytes = <usize> c << 2;
  let ci = 0;
  for (; ci + 8 <= c; ci += 8) {
    const o = <usize> ci << 2;
    const b0 = biasV(bias, o);
    const b1 = biasV(bias, o + 16);
    let a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
    let xr = x + o;
    let wr = w + o;
    for (let ky = 0; ky < nky; ky++) {
      // Lower 4 channels.
      let w0 = v128.load(wr);
      let w1 = v128.load(wr + cBytes);
      let w2 = v128.load(wr + 2 * cBytes);
      let p = xr;
      let v = v128.load(p);
      a00 = madd(a00, v, w0);
      p += cBytes;
      v = v128.load(p);
      a00 = madd(a00, v, w1);
      a10 = madd(a10, v, w0);
      p += cBytes;
      v = v128.load(p);
      a00 = madd(a00, v, w2);
      a10 = madd(a10, v, w1);
      a20 = madd(a20, v, w0);
      p += cBytes;
      v = v128.load(p);
      a10 = madd(a10, v, w2);
      a20 = madd(a20, v, w1);
      a30 = madd(a30, v, w0);
      p += cBytes;
      v = v128.load(p);
      a20 = madd(a20, v, w2);
      a30 = madd(a30, v, w1);
      p += cBytes;
      a30 = madd(a30, v128.load(p), w2);
      // Upper 4 channels.
      w0 = v128.load(wr, 16);
      w1 = v128.load(wr + cBytes, 16);
      w2 = v128.load(wr + 2 * cBytes, 16);
      p = xr;
      v = v128.load(p, 16);
      a01 = madd(a01, v, w0);
      p += cBytes;
      v = v128.load(p, 16);
      a01 = madd(a01, v, w1);
      a11 = madd(a11, v, w0);
      p += cBytes;
      v = v128.load(p, 16);
      a01 = madd(a01, v, w2);
      a11 = madd(a11, v, w1);
      a21 = madd(a21, v, w0);
      p += cBytes;
      v = v128.load(p, 16);
      a11 = madd(a11, v, w2);
      a21 = madd(a21, v, w1);
      a31 = madd(a31, v, w0);
      p += cBytes;
      v = v128.load(p, 16);
      a21 = madd(a21, v, w2);
      a31 = madd(a31, v, w1);
      p += cBytes;
      a31 = madd(a31, v128.load(p, 16), w2);
      xr += xRow;
      wr += wRow;
    }
    const yp = y + o;
    v128.store(yp, finishV(a00, act, alpha));
    v128.store(yp, finishV(a01, act, alpha), 16);
    v128.store(yp + cBytes, finishV(a10, act, alpha));
    v128.store(yp + cBytes, finishV(a11, act, alpha), 16);
    v128.store(yp + 2 * cBytes, finishV(a20, act, alpha));
    v128.store(yp + 2 * cBytes, finishV(a21, act, alpha), 16);
    v128.store(yp + 3 * cBytes, finishV(a30, act, alpha));
    v128.store(yp + 3 * cBytes, finishV(a31, act, alpha), 16);
  }
  // The channel tail (fewer than 8) through the general tile.
  if (ci < c) dwPixels4(x, cBytes, w, nky, 3, xRow, cBytes, wRow, c, ci, bias, y, act, alpha);
}

/**
 * dwPixels4 for a 3-wide window row at stride 2 and column dilation 1 (MobileNet's downsampling
 * depthwise layers): the 4 pixels' 3 taps read 9 consecutive input cells (neighbours share one),
 * so each window row loads 9 input and 3 kernel vectors per channel block for 12 multiply-adds.
 */
function dwPixels4K3S2(
  x: usize,
  w: usize,
  nky: i32,
  xRow: usize,
  wRow: usize,
  c: i32,
  bias: usize,
  y: usize,
  act: i32,
  alpha: f32,
): void {
  const cBytes = <usize> c << 2;
  let ci = 0;
  for (; ci + 8 <= c; ci += 8) {
    const o = <usize> ci << 2;
    const b0 = biasV(bias, o);
    const b1 = biasV(bias, o + 16);
    let a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
    let xr = x + o;
    let wr = w + o;
    for (let ky = 0; ky < nky; ky++) {
      // Lower 4 channels.
      let w0: v128, w1: v128, w2: v128, v: v128, p: usize;
      w0 = v128.load(wr);
      w1 = v128.load(wr + cBytes);
      w2 = v128.load(wr + 2 * cBytes);
      p = xr;
      a00 = madd(a00, v128.load(p), w0);
      p += cBytes;
      a00 = madd(a00, v128.load(p), w1);
      p += cBytes;
      v = v128.load(p);
      a00 = madd(a00, v, w2);
      a10 = madd(a10, v, w0);
      p += cBytes;
      a10 = madd(a10, v128.load(p), w1);
      p += cBytes;
      v = v128.load(p);
      a10 = madd(a10, v, w2);
      a20 = madd(a20, v, w0);
      p += cBytes;
      a20 = madd(a20, v128.load(p), w1);
      p += cBytes;
      v = v128.load(p);
      a20 = madd(a20, v, w2);
      a30 = madd(a30, v, w0);
      p += cBytes;
      a30 = madd(a30, v128.load(p), w1);
      p += cBytes;
      a30 = madd(a30, v128.load(p), w2);
      // Upper 4 channels.
      w0 = v128.load(wr, 16);
      w1 = v128.load(wr + cBytes, 16);
      w2 = v128.load(wr + 2 * cBytes, 16);
      p = xr;
      a01 = madd(a01, v128.load(p, 16), w0);
      p += cBytes;
      a01 = madd(a01, v128.load(p, 16), w1);
      p += cBytes;
      v = v128.load(p, 16);
      a01 = madd(a01, v, w2);
      a11 = madd(a11, v, w0);
      p += cBytes;
      a11 = madd(a11, v128.load(p, 16), w1);
      p += cBytes;
      v = v128.load(p, 16);
      a11 = madd(a11, v, w2);
      a21 = madd(a21, v, w0);
      p += cBytes;
      a21 = madd(a21, v128.load(p, 16), w1);
      p += cBytes;
      v = v128.load(p, 16);
      a21 = madd(a21, v, w2);
      a31 = madd(a31, v, w0);
      p += cBytes;
      a31 = madd(a31, v128.load(p, 16), w1);
      p += cBytes;
      a31 = madd(a31, v128.load(p, 16), w2);
      xr += xRow;
      wr += wRow;
    }
    const yp = y + o;
    v128.store(yp, finishV(a00, act, alpha));
    v128.store(yp, finishV(a01, act, alpha), 16);
    v128.store(yp + cBytes, finishV(a10, act, alpha));
    v128.store(yp + cBytes, finishV(a11, act, alpha), 16);
    v128.store(yp + 2 * cBytes, finishV(a20, act, alpha));
    v128.store(yp + 2 * cBytes, finishV(a21, act, alpha), 16);
    v128.store(yp + 3 * cBytes, finishV(a30, act, alpha));
    v128.store(yp + 3 * cBytes, finishV(a31, act, alpha), 16);
  }
  // The channel tail (fewer than 8) through the general tile.
  if (ci < c) dwPixels4(x, cBytes << 1, w, nky, 3, xRow, cBytes, wRow, c, ci, bias, y, act, alpha);
}

/** One output pixel, all channels, nky × nkx taps from x / w (strides as in dwPixels4). */
function dwPixel1(
  x: usize,
  w: usize,
  nky: i32,
  nkx: i32,
  xRow: usize,
  xCol: usize,
  wRow: usize,
  c: i32,
  bias: usize,
  y: usize,
  act: i32,
  alpha: f32,
): void {
  const cBytes = <usize> c << 2;
  let ci = 0;
  for (; ci + 8 <= c; ci += 8) {
    const o = <usize> ci << 2;
    let a0 = biasV(bias, o);
    let a1 = biasV(bias, o + 16);
    // Two more chains (alternate taps) so the multiply-adds overlap.
    let a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let xr = x + o;
    let wr = w + o;
    for (let ky = 0; ky < nky; ky++) {
      let xp = xr;
      let wp = wr;
      let kx = 0;
      for (; kx + 2 <= nkx; kx += 2) {
        a0 = madd(a0, v128.load(xp), v128.load(wp));
        a1 = madd(a1, v128.load(xp, 16), v128.load(wp, 16));
        a2 = madd(a2, v128.load(xp + xCol), v128.load(wp + cBytes));
        a3 = madd(a3, v128.load(xp + xCol, 16), v128.load(wp + cBytes, 16));
        xp += xCol << 1;
        wp += cBytes << 1;
      }
      if (kx < nkx) {
        a0 = madd(a0, v128.load(xp), v128.load(wp));
        a1 = madd(a1, v128.load(xp, 16), v128.load(wp, 16));
      }
      xr += xRow;
      wr += wRow;
    }
    v128.store(y + o, finishV(f32x4.add(a0, a2), act, alpha));
    v128.store(y + o, finishV(f32x4.add(a1, a3), act, alpha), 16);
  }
  for (; ci + 4 <= c; ci += 4) {
    const o = <usize> ci << 2;
    let a0 = biasV(bias, o);
    let xr = x + o;
    let wr = w + o;
    for (let ky = 0; ky < nky; ky++) {
      let xp = xr;
      let wp = wr;
      for (let kx = 0; kx < nkx; kx++) {
        a0 = madd(a0, v128.load(xp), v128.load(wp));
        xp += xCol;
        wp += cBytes;
      }
      xr += xRow;
      wr += wRow;
    }
    v128.store(y + o, finishV(a0, act, alpha));
  }
  for (; ci < c; ci++) {
    const o = <usize> ci << 2;
    let a0 = biasS(bias, o);
    let xr = x + o;
    let wr = w + o;
    for (let ky = 0; ky < nky; ky++) {
      let xp = xr;
      let wp = wr;
      for (let kx = 0; kx < nkx; kx++) {
        a0 += load<f32>(xp) * load<f32>(wp);
        xp += xCol;
        wp += cBytes;
      }
      xr += xRow;
      wr += wRow;
    }
    store<f32>(y + o, activateScalar(a0, act, alpha));
  }
}

/** Forward of one image, dm = 1 over c channels (x already expanded when dm > 1). */
function dwForwardImage(
  x: usize,
  w: usize,
  bias: usize,
  y: usize,
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
  act: i32,
  alpha: f32,
): void {
  const cBytes = <usize> c << 2;
  const rowBytes = <usize> wd * cBytes;
  const xRow = <usize> dh * rowBytes;
  const xCol = <usize> dw * cBytes;
  const wRow = <usize> kw * cBytes;
  const xPix = <usize> sw * cBytes;
  // Interior columns: the whole window row lies inside the image.
  const owA = min(tapLo(-padLeft, sw), outW);
  const owB = max(owA, min(floorDiv(wd - 1 - (kw - 1) * dw + padLeft, sw) + 1, outW));
  const k3s1 = kw == 3 && sw == 1 && dw == 1;
  const k3s2 = kw == 3 && sw == 2 && dw == 1;
  for (let oh = 0; oh < outH; oh++) {
    const iyBase = oh * sh - padTop;
    const ky0 = tapLo(iyBase, dh);
    const nky = max(0, tapHi(iyBase, dh, kh, h) - ky0);
    const xRowBase = nky > 0 ? x + <usize> (iyBase + ky0 * dh) * rowBytes : x;
    const wBase = w + <usize> ky0 * wRow;
    const yRow = y + <usize> oh * <usize> outW * cBytes;
    for (let ow = 0; ow < owA; ow++) {
      dwEdgePixel(xRowBase, wBase, nky, ow, wd, kw, sw, dw, padLeft, xRow, xCol, wRow, c, bias, yRow, act, alpha);
    }
    const xInterior = xRowBase + <usize> (owA * sw - padLeft) * cBytes;
    let ow = owA;
    if (k3s1) {
      for (; ow + 4 <= owB; ow += 4) {
        dwPixels4K3S1(
          xInterior + <usize> (ow - owA) * xPix, wBase, nky, xRow, wRow, c, bias,
          yRow + <usize> ow * cBytes, act, alpha,
        );
      }
    } else if (k3s2) {
      for (; ow + 4 <= owB; ow += 4) {
        dwPixels4K3S2(
          xInterior + <usize> (ow - owA) * xPix, wBase, nky, xRow, wRow, c, bias,
          yRow + <usize> ow * cBytes, act, alpha,
        );
      }
    } else {
      for (; ow + 4 <= owB; ow += 4) {
        dwPixels4(
          xInterior + <usize> (ow - owA) * xPix, xPix, wBase, nky, kw, xRow, xCol, wRow, c, 0,
          bias, yRow + <usize> ow * cBytes, act, alpha,
        );
      }
    }
    for (; ow < owB; ow++) {
      dwPixel1(
        xInterior + <usize> (ow - owA) * xPix, wBase, nky, kw, xRow, xCol, wRow, c, bias,
        yRow + <usize> ow * cBytes, act, alpha,
      );
    }
    for (ow = owB; ow < outW; ow++) {
      dwEdgePixel(xRowBase, wBase, nky, ow, wd, kw, sw, dw, padLeft, xRow, xCol, wRow, c, bias, yRow, act, alpha);
    }
  }
}

/** An output pixel whose window crosses the left or right edge: only its inside columns. */
function dwEdgePixel(
  xRowBase: usize,
  wBase: usize,
  nky: i32,
  ow: i32,
  wd: i32,
  kw: i32,
  sw: i32,
  dw: i32,
  padLeft: i32,
  xRow: usize,
  xCol: usize,
  wRow: usize,
  c: i32,
  bias: usize,
  yRow: usize,
  act: i32,
  alpha: f32,
): void {
  const cBytes = <usize> c << 2;
  const ixBase = ow * sw - padLeft;
  const kx0 = tapLo(ixBase, dw);
  const nkx = max(0, tapHi(ixBase, dw, kw, wd) - kx0);
  const xp = nkx > 0 ? xRowBase + <usize> (ixBase + kx0 * dw) * cBytes : xRowBase;
  dwPixel1(
    xp, wBase + <usize> kx0 * cBytes, nky, nkx, xRow, xCol, wRow, c, bias, yRow + <usize> ow * cBytes,
    act, alpha,
  );
}

/**
 * Floats of scratch the depthwise kernels need per call (one image expanded to in·dm channels):
 * 0 when dm = 1.
 */
export function depthwiseConv2dScratchFloats(h: i32, wd: i32, c: i32, dm: i32): i32 {
  return dm == 1 ? 0 : h * wd * c * dm;
}

/**
 * y[b, oh, ow, ci·dm + m] = act(bias[ci·dm + m] + Σ_{ky,kx} x[b, oh·sh − padTop + ky·dh,
 * ow·sw − padLeft + kx·dw, ci] · w[ky, kx, ci, m]); padding cells are zeros. `bias` may be 0
 * (none); `scratch` holds depthwiseConv2dScratchFloats floats (unused when dm = 1).
 */
export function depthwiseConv2d(
  x: usize,
  w: usize,
  bias: usize,
  y: usize,
  scratch: usize,
  batch: i32,
  h: i32,
  wd: i32,
  c: i32,
  dm: i32,
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
  act: i32,
  alpha: f32,
): void {
  const ce = c * dm;
  const inImage = <usize> h * <usize> wd * <usize> c << 2;
  const outImage = <usize> outH * <usize> outW * <usize> ce << 2;
  for (let b = 0; b < batch; b++) {
    let img = x + <usize> b * inImage;
    if (dm != 1) {
      expandChannels(img, scratch, h * wd, c, dm);
      img = scratch;
    }
    dwForwardImage(
      img, w, bias, y + <usize> b * outImage, h, wd, ce, outH, outW, kh, kw, sh, sw, dh, dw,
      padTop, padLeft, act, alpha,
    );
  }
}

/** Input gradient of one image, dm = 1 over c channels: dx (zeroed) += dz spread through w. */
function dwScatterImage(
  dz: usize,
  w: usize,
  dx: usize,
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
  const cBytes = <usize> c << 2;
  const rowBytes = <usize> wd * cBytes;
  const xRow = <usize> dh * rowBytes;
  const xCol = <usize> dw * cBytes;
  const wRow = <usize> kw * cBytes;
  for (let oh = 0; oh < outH; oh++) {
    const iyBase = oh * sh - padTop;
    const ky0 = tapLo(iyBase, dh);
    const nky = tapHi(iyBase, dh, kh, h) - ky0;
    if (nky <= 0) continue;
    const xRowBase = dx + <usize> (iyBase + ky0 * dh) * rowBytes;
    const wBase = w + <usize> ky0 * wRow;
    for (let ow = 0; ow < outW; ow++) {
      const ixBase = ow * sw - padLeft;
      const kx0 = tapLo(ixBase, dw);
      const nkx = tapHi(ixBase, dw, kw, wd) - kx0;
      if (nkx <= 0) continue;
      const cell0 = xRowBase + <usize> (ixBase + kx0 * dw) * cBytes;
      const w0 = wBase + <usize> kx0 * cBytes;
      const g = dz + (<usize> (oh * outW + ow) * cBytes);
      let ci = 0;
      for (; ci + 8 <= c; ci += 8) {
        const o = <usize> ci << 2;
        const g0 = v128.load(g + o);
        const g1 = v128.load(g + o, 16);
        let xr = cell0 + o;
        let wr = w0 + o;
        for (let ky = 0; ky < nky; ky++) {
          let xp = xr;
          let wp = wr;
          for (let kx = 0; kx < nkx; kx++) {
            v128.store(xp, madd(v128.load(xp), g0, v128.load(wp)));
            v128.store(xp, madd(v128.load(xp, 16), g1, v128.load(wp, 16)), 16);
            xp += xCol;
            wp += cBytes;
          }
          xr += xRow;
          wr += wRow;
        }
      }
      for (; ci + 4 <= c; ci += 4) {
        const o = <usize> ci << 2;
        const g0 = v128.load(g + o);
        let xr = cell0 + o;
        let wr = w0 + o;
        for (let ky = 0; ky < nky; ky++) {
          let xp = xr;
          let wp = wr;
          for (let kx = 0; kx < nkx; kx++) {
            v128.store(xp, madd(v128.load(xp), g0, v128.load(wp)));
            xp += xCol;
            wp += cBytes;
          }
          xr += xRow;
          wr += wRow;
        }
      }
      for (; ci < c; ci++) {
        const o = <usize> ci << 2;
        const g0 = load<f32>(g + o);
        let xr = cell0 + o;
        let wr = w0 + o;
        for (let ky = 0; ky < nky; ky++) {
          let xp = xr;
          let wp = wr;
          for (let kx = 0; kx < nkx; kx++) {
            store<f32>(xp, load<f32>(xp) + g0 * load<f32>(wp));
            xp += xCol;
            wp += cBytes;
          }
          xr += xRow;
          wr += wRow;
        }
      }
    }
  }
}

/** dst = the kernel rotated 180° in space: dst[kh−1−ky, kw−1−kx, :] = w[ky, kx, :] (c floats). */
function flipKernel(w: usize, dst: usize, kh: i32, kw: i32, c: i32): void {
  const taps = kh * kw;
  const cBytes = <usize> c << 2;
  for (let t = 0; t < taps; t++) {
    memory.copy(dst + <usize> (taps - 1 - t) * cBytes, w + <usize> t * cBytes, cBytes);
  }
}

/**
 * Floats of scratch depthwiseConv2dBackwardInput needs: the rotated kernel (kh·kw·c·dm) at
 * stride 1, plus an expanded input-gradient image (h·w·c·dm) when dm > 1.
 */
export function depthwiseConv2dBackwardInputScratchFloats(
  h: i32,
  wd: i32,
  c: i32,
  dm: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
): i32 {
  const flip = sh == 1 && sw == 1 ? kh * kw * c * dm : 0;
  return flip + (dm == 1 ? 0 : h * wd * c * dm);
}

/**
 * Input gradient of depthwiseConv2d: dx[b, iy, ix, ci] = Σ over the output pixels and taps that
 * read cell (iy, ix) of Σ_m dz[b, oh, ow, ci·dm + m] · w[ky, kx, ci, m]. dz is the gradient at the
 * pre-activation; dx is overwritten. At stride 1 it is the forward kernel on dz with the kernel
 * rotated 180° and the padding mirrored ((k−1)·d − pad before); at other strides dz is scattered
 * back through the taps. `scratch` holds depthwiseConv2dBackwardInputScratchFloats floats.
 */
export function depthwiseConv2dBackwardInput(
  dz: usize,
  w: usize,
  dx: usize,
  scratch: usize,
  batch: i32,
  h: i32,
  wd: i32,
  c: i32,
  dm: i32,
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
  const ce = c * dm;
  const inImage = <usize> h * <usize> wd * <usize> c << 2;
  const outImage = <usize> outH * <usize> outW * <usize> ce << 2;
  const gather = sh == 1 && sw == 1;
  let expanded = scratch;
  if (gather) {
    flipKernel(w, scratch, kh, kw, ce);
    expanded += <usize> (kh * kw * ce) << 2;
  }
  for (let b = 0; b < batch; b++) {
    const dxImg = dx + <usize> b * inImage;
    const target = dm == 1 ? dxImg : expanded;
    const dzImg = dz + <usize> b * outImage;
    if (gather) {
      dwForwardImage(
        dzImg, scratch, 0, target, outH, outW, ce, h, wd, kh, kw, 1, 1, dh, dw,
        (kh - 1) * dh - padTop, (kw - 1) * dw - padLeft, LINEAR, 0,
      );
    } else {
      zeroFloats(target, h * wd * ce);
      dwScatterImage(
        dzImg, w, target, h, wd, ce, outH, outW, kh, kw, sh, sw, dh, dw, padTop, padLeft,
      );
    }
    if (dm != 1) reduceChannels(expanded, dxImg, h * wd, c, dm);
  }
}

/**
 * dW[tap, :] (c floats at dWp) += Σ_{j<n} x[x0 + j·xStep] · dz[z0 + j·c] over all channels: one
 * kernel tap over a run of output pixels.
 */
function dwFilterTapRun(x0: usize, z0: usize, n: i32, xStep: usize, c: i32, dWp: usize): void {
  const cBytes = <usize> c << 2;
  let ci = 0;
  for (; ci + 8 <= c; ci += 8) {
    const o = <usize> ci << 2;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
    let xp = x0 + o;
    let zp = z0 + o;
    let j = 0;
    for (; j + 2 <= n; j += 2) {
      a0 = madd(a0, v128.load(xp), v128.load(zp));
      a1 = madd(a1, v128.load(xp, 16), v128.load(zp, 16));
      b0 = madd(b0, v128.load(xp + xStep), v128.load(zp + cBytes));
      b1 = madd(b1, v128.load(xp + xStep, 16), v128.load(zp + cBytes, 16));
      xp += xStep << 1;
      zp += cBytes << 1;
    }
    if (j < n) {
      a0 = madd(a0, v128.load(xp), v128.load(zp));
      a1 = madd(a1, v128.load(xp, 16), v128.load(zp, 16));
    }
    const d = dWp + o;
    v128.store(d, f32x4.add(v128.load(d), f32x4.add(a0, b0)));
    v128.store(d, f32x4.add(v128.load(d, 16), f32x4.add(a1, b1)), 16);
  }
  for (; ci + 4 <= c; ci += 4) {
    const o = <usize> ci << 2;
    let a0 = f32x4.splat(0), b0 = f32x4.splat(0);
    let xp = x0 + o;
    let zp = z0 + o;
    let j = 0;
    for (; j + 2 <= n; j += 2) {
      a0 = madd(a0, v128.load(xp), v128.load(zp));
      b0 = madd(b0, v128.load(xp + xStep), v128.load(zp + cBytes));
      xp += xStep << 1;
      zp += cBytes << 1;
    }
    if (j < n) a0 = madd(a0, v128.load(xp), v128.load(zp));
    const d = dWp + o;
    v128.store(d, f32x4.add(v128.load(d), f32x4.add(a0, b0)));
  }
  for (; ci < c; ci++) {
    const o = <usize> ci << 2;
    let a0: f32 = 0;
    let xp = x0 + o;
    let zp = z0 + o;
    for (let j = 0; j < n; j++) {
      a0 += load<f32>(xp) * load<f32>(zp);
      xp += xStep;
      zp += cBytes;
    }
    store<f32>(dWp + o, load<f32>(dWp + o) + a0);
  }
}

/**
 * The three taps of a 3-wide kernel row at stride 1 and column dilation 1 over n output pixels
 * whose windows lie inside the row (x0: the first pixel's leftmost cell): each input vector is
 * loaded once for the 3 taps that read it (dW[tap k] at dWp + k·c floats).
 */
function dwFilterRowK3S1(x0: usize, z0: usize, n: i32, c: i32, dWp: usize): void {
  const cBytes = <usize> c << 2;
  let ci = 0;
  for (; ci + 8 <= c; ci += 8) {
    const o = <usize> ci << 2;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0);
    let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0);
    let xp = x0 + o;
    let zp = z0 + o;
    let xa0 = v128.load(xp), xa1 = v128.load(xp + cBytes);
    let xb0 = v128.load(xp, 16), xb1 = v128.load(xp + cBytes, 16);
    xp += cBytes << 1;
    for (let j = 0; j < n; j++) {
      const za = v128.load(zp);
      const xa2 = v128.load(xp);
      a0 = madd(a0, xa0, za);
      a1 = madd(a1, xa1, za);
      a2 = madd(a2, xa2, za);
      xa0 = xa1;
      xa1 = xa2;
      const zb = v128.load(zp, 16);
      const xb2 = v128.load(xp, 16);
      b0 = madd(b0, xb0, zb);
      b1 = madd(b1, xb1, zb);
      b2 = madd(b2, xb2, zb);
      xb0 = xb1;
      xb1 = xb2;
      xp += cBytes;
      zp += cBytes;
    }
    const d = dWp + o;
    v128.store(d, f32x4.add(v128.load(d), a0));
    v128.store(d, f32x4.add(v128.load(d, 16), b0), 16);
    v128.store(d + cBytes, f32x4.add(v128.load(d + cBytes), a1));
    v128.store(d + cBytes, f32x4.add(v128.load(d + cBytes, 16), b1), 16);
    v128.store(d + 2 * cBytes, f32x4.add(v128.load(d + 2 * cBytes), a2));
    v128.store(d + 2 * cBytes, f32x4.add(v128.load(d + 2 * cBytes, 16), b2), 16);
  }
  for (; ci + 4 <= c; ci += 4) {
    const o = <usize> ci << 2;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0);
    let xp = x0 + o;
    let zp = z0 + o;
    let xa0 = v128.load(xp), xa1 = v128.load(xp + cBytes);
    xp += cBytes << 1;
    for (let j = 0; j < n; j++) {
      const za = v128.load(zp);
      const xa2 = v128.load(xp);
      a0 = madd(a0, xa0, za);
      a1 = madd(a1, xa1, za);
      a2 = madd(a2, xa2, za);
      xa0 = xa1;
      xa1 = xa2;
      xp += cBytes;
      zp += cBytes;
    }
    const d = dWp + o;
    v128.store(d, f32x4.add(v128.load(d), a0));
    v128.store(d + cBytes, f32x4.add(v128.load(d + cBytes), a1));
    v128.store(d + 2 * cBytes, f32x4.add(v128.load(d + 2 * cBytes), a2));
  }
  for (; ci < c; ci++) {
    const o = <usize> ci << 2;
    let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0;
    let xp = x0 + o;
    let zp = z0 + o;
    for (let j = 0; j < n; j++) {
      const z = load<f32>(zp);
      a0 += load<f32>(xp) * z;
      a1 += load<f32>(xp + cBytes) * z;
      a2 += load<f32>(xp + 2 * cBytes) * z;
      xp += cBytes;
      zp += cBytes;
    }
    const d = dWp + o;
    store<f32>(d, load<f32>(d) + a0);
    store<f32>(d + cBytes, load<f32>(d + cBytes) + a1);
    store<f32>(d + 2 * cBytes, load<f32>(d + 2 * cBytes) + a2);
  }
}

/** Filter gradient of one image, dm = 1 over c channels: dW[ky, kx, :] += Σ_pixels x · dz. */
function dwFilterImage(
  x: usize,
  dz: usize,
  dW: usize,
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
  const cBytes = <usize> c << 2;
  const rowBytes = <usize> wd * cBytes;
  const xStep = <usize> sw * cBytes;
  // 3-wide rows at stride 1: the interior columns (whole window row inside) run the
  // sliding-window form, the edge columns tap by tap.
  const k3s1 = kw == 3 && sw == 1 && dw == 1;
  const owA = k3s1 ? min(padLeft, outW) : 0;
  const owB = k3s1 ? max(owA, min(wd - 2 + padLeft, outW)) : 0;
  for (let oh = 0; oh < outH; oh++) {
    const iyBase = oh * sh - padTop;
    const ky0 = tapLo(iyBase, dh);
    const ky1 = tapHi(iyBase, dh, kh, h);
    const zRow = dz + <usize> oh * <usize> outW * cBytes;
    for (let ky = ky0; ky < ky1; ky++) {
      const xRowPtr = x + <usize> (iyBase + ky * dh) * rowBytes;
      const dWRow = dW + <usize> (ky * kw) * cBytes;
      if (owB > owA) {
        dwFilterRowK3S1(
          xRowPtr + <usize> (owA - padLeft) * cBytes, zRow + <usize> owA * cBytes, owB - owA, c,
          dWRow,
        );
      }
      for (let kx = 0; kx < kw; kx++) {
        // Output columns whose tap kx lands inside the row: 0 ≤ ow·sw + off < wd.
        const off = kx * dw - padLeft;
        const lo = max(0, ceilDiv(-off, sw));
        const hi = min(outW, floorDiv(wd - 1 - off, sw) + 1);
        const dWp = dWRow + <usize> kx * cBytes;
        if (owB > owA) {
          // Only the edge columns are left: [lo, owA) and [owB, hi).
          const leftEnd = min(hi, owA);
          if (leftEnd > lo) {
            dwFilterTapRun(
              xRowPtr + <usize> (lo * sw + off) * cBytes, zRow + <usize> lo * cBytes, leftEnd - lo,
              xStep, c, dWp,
            );
          }
          const rightStart = max(lo, owB);
          if (hi > rightStart) {
            dwFilterTapRun(
              xRowPtr + <usize> (rightStart * sw + off) * cBytes,
              zRow + <usize> rightStart * cBytes, hi - rightStart, xStep, c, dWp,
            );
          }
          continue;
        }
        if (hi > lo) {
          dwFilterTapRun(
            xRowPtr + <usize> (lo * sw + off) * cBytes, zRow + <usize> lo * cBytes, hi - lo, xStep,
            c, dWp,
          );
        }
      }
    }
  }
}

/**
 * Filter and bias gradients of depthwiseConv2d from dz (the gradient at the pre-activation):
 * dW[ky, kx, ci, m] = Σ_{b,oh,ow} x[b, cell(oh, ky), cell(ow, kx), ci] · dz[b, oh, ow, ci·dm + m]
 * and db[o] = Σ dz[.., o] (skipped when db is 0). Overwrites dW / db, or adds to them when
 * `accumulate` is 1 (partial sums over ranges of images). `scratch` holds
 * depthwiseConv2dScratchFloats floats.
 */
export function depthwiseConv2dBackwardFilter(
  x: usize,
  dz: usize,
  dW: usize,
  db: usize,
  scratch: usize,
  accumulate: i32,
  batch: i32,
  h: i32,
  wd: i32,
  c: i32,
  dm: i32,
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
  const ce = c * dm;
  if (!accumulate) {
    zeroFloats(dW, kh * kw * ce);
    if (db) zeroFloats(db, ce);
  }
  const inImage = <usize> h * <usize> wd * <usize> c << 2;
  const pixels = outH * outW;
  const outImage = <usize> pixels * <usize> ce << 2;
  for (let b = 0; b < batch; b++) {
    let img = x + <usize> b * inImage;
    if (dm != 1) {
      expandChannels(img, scratch, h * wd, c, dm);
      img = scratch;
    }
    const dzImg = dz + <usize> b * outImage;
    dwFilterImage(img, dzImg, dW, h, wd, ce, outH, outW, kh, kw, sh, sw, dh, dw, padTop, padLeft);
    if (db) {
      const rowBytes = <usize> ce << 2;
      for (let p = 0; p < pixels; p++) addFloats(db, dzImg + <usize> p * rowBytes, ce);
    }
  }
}
