// Spatial resampling of NHWC images, forward and backward, SIMD across channels:
// - nearest upsampling by integer factors (Keras UpSampling2D `nearest`: rows and columns repeated);
// - bilinear resize to any size (Keras UpSampling2D `bilinear` = ops.image.resize, half-pixel
//   centres, no antialias; `halfPixel` 0 gives TF.js resizeBilinear's default, source = dst·in/out);
// - cropping (Keras Cropping2D) and its backward, the crop placed into a zeroed image.
import { addFloats, copyFloats, zeroFloats } from "./floats";

/** y[b, i·fh + u, j·fw + v, :] = x[b, i, j, :] for u < fh, v < fw; y is [batch, h·fh, wd·fw, c]. */
export function upsampleNearest(x: usize, y: usize, batch: i32, h: i32, wd: i32, c: i32, fh: i32, fw: i32): void {
  const cBytes = <usize> c << 2;
  const outRowBytes = <usize> wd * <usize> fw * cBytes;
  let src = x;
  let dst = y;
  for (let r = 0; r < batch * h; r++) {
    const row = dst;
    for (let j = 0; j < wd; j++) {
      for (let v = 0; v < fw; v++) {
        copyFloats(dst, src, c);
        dst += cBytes;
      }
      src += cBytes;
    }
    for (let u = 1; u < fh; u++) {
      memory.copy(dst, row, outRowBytes);
      dst += outRowBytes;
    }
  }
}

/** dx[b, i, j, :] = Σ_{u < fh, v < fw} dy[b, i·fh + u, j·fw + v, :] (dx OVERWRITTEN). */
export function upsampleNearestGrad(dy: usize, dx: usize, batch: i32, h: i32, wd: i32, c: i32, fh: i32, fw: i32): void {
  const cBytes = <usize> c << 2;
  const outRowBytes = <usize> wd * <usize> fw * cBytes;
  const rowBytes = <usize> wd * cBytes;
  let src = dy;
  let dst = dx;
  for (let r = 0; r < batch * h; r++) {
    zeroFloats(dst, wd * c);
    for (let u = 0; u < fh; u++) {
      let d = dst;
      let s = src;
      for (let j = 0; j < wd; j++) {
        for (let v = 0; v < fw; v++) {
          addFloats(d, s, c);
          s += cBytes;
        }
        d += cBytes;
      }
      src += outRowBytes;
    }
    dst += rowBytes;
  }
}

/**
 * The two source cells and the weight of the upper one for output cell `o` of an axis resized
 * from `inLen` to `outLen` cells, as TensorFlow's ResizeBilinear computes them (float32 scale):
 * source s = (o + ½)·in/out − ½ (halfPixel) or o·in/out; lower = max(⌊s⌋, 0),
 * upper = min(⌈s⌉, in − 1), lerp = s − ⌊s⌋. Packed as lower | upper << 16 in the low word and
 * the lerp's bits in the high word.
 */
// @ts-ignore: decorator
@inline function axisTap(o: i32, inLen: i32, outLen: i32, halfPixel: i32): u64 {
  const scale = <f32> inLen / <f32> outLen;
  const s: f32 = halfPixel ? (<f32> o + 0.5) * scale - 0.5 : <f32> o * scale;
  const fl = Mathf.floor(s);
  const lower = max(<i32> fl, 0);
  const upper = min(<i32> Mathf.ceil(s), inLen - 1);
  const lerp = s - fl;
  return (<u64> lower) | ((<u64> upper) << 16) | ((<u64> reinterpret<u32>(lerp)) << 32);
}

/**
 * y [batch, outH, outW, c] = bilinear resize of x [batch, h, wd, c] (`axisTap` per axis):
 * top = tl + (tr − tl)·xl, bottom = bl + (br − bl)·xl, y = top + (bottom − top)·yl.
 */
export function resizeBilinear(
  x: usize,
  y: usize,
  batch: i32,
  h: i32,
  wd: i32,
  c: i32,
  outH: i32,
  outW: i32,
  halfPixel: i32,
): void {
  const cBytes = <usize> c << 2;
  const rowBytes = <usize> wd * cBytes;
  let dst = y;
  for (let b = 0; b < batch; b++) {
    const image = x + <usize> b * <usize> h * rowBytes;
    for (let oy = 0; oy < outH; oy++) {
      const ty = axisTap(oy, h, outH, halfPixel);
      const top = image + <usize> (<i32> (ty & 0xffff)) * rowBytes;
      const bottom = image + <usize> (<i32> ((ty >> 16) & 0xffff)) * rowBytes;
      const yl = reinterpret<f32>(<u32> (ty >> 32));
      const ylv = f32x4.splat(yl);
      for (let ox = 0; ox < outW; ox++) {
        const tx = axisTap(ox, wd, outW, halfPixel);
        const lo = <usize> (<i32> (tx & 0xffff)) * cBytes;
        const hi = <usize> (<i32> ((tx >> 16) & 0xffff)) * cBytes;
        const xl = reinterpret<f32>(<u32> (tx >> 32));
        const xlv = f32x4.splat(xl);
        let k = 0;
        for (; k + 4 <= c; k += 4) {
          const o = <usize> k << 2;
          const tl = v128.load(top + lo + o);
          const tr = v128.load(top + hi + o);
          const bl = v128.load(bottom + lo + o);
          const br = v128.load(bottom + hi + o);
          const t = f32x4.add(tl, f32x4.mul(f32x4.sub(tr, tl), xlv));
          const bt = f32x4.add(bl, f32x4.mul(f32x4.sub(br, bl), xlv));
          v128.store(dst + o, f32x4.add(t, f32x4.mul(f32x4.sub(bt, t), ylv)));
        }
        for (; k < c; k++) {
          const o = <usize> k << 2;
          const tl = load<f32>(top + lo + o);
          const tr = load<f32>(top + hi + o);
          const bl = load<f32>(bottom + lo + o);
          const br = load<f32>(bottom + hi + o);
          const t = tl + (tr - tl) * xl;
          const bt = bl + (br - bl) * xl;
          store<f32>(dst + o, t + (bt - t) * yl);
        }
        dst += cBytes;
      }
    }
  }
}

/** d[0..n) += s[0..n) · a. */
// @ts-ignore: decorator
@inline function addScaled(d: usize, s: usize, a: f32, n: i32): void {
  const av = f32x4.splat(a);
  let k = 0;
  for (; k + 4 <= n; k += 4) {
    const o = <usize> k << 2;
    v128.store(d + o, f32x4.add(v128.load(d + o), f32x4.mul(v128.load(s + o), av)));
  }
  for (; k < n; k++) {
    const o = <usize> k << 2;
    store<f32>(d + o, load<f32>(d + o) + load<f32>(s + o) * a);
  }
}

/**
 * Backward of `resizeBilinear`: dx [batch, h, wd, c] (OVERWRITTEN) receives each dy cell spread
 * over its four source cells with weights (1−yl)(1−xl), (1−yl)xl, yl(1−xl), yl·xl.
 */
export function resizeBilinearGrad(
  dy: usize,
  dx: usize,
  batch: i32,
  h: i32,
  wd: i32,
  c: i32,
  outH: i32,
  outW: i32,
  halfPixel: i32,
): void {
  const cBytes = <usize> c << 2;
  const rowBytes = <usize> wd * cBytes;
  memory.fill(dx, 0, <usize> batch * <usize> h * rowBytes);
  let src = dy;
  for (let b = 0; b < batch; b++) {
    const image = dx + <usize> b * <usize> h * rowBytes;
    for (let oy = 0; oy < outH; oy++) {
      const ty = axisTap(oy, h, outH, halfPixel);
      const top = image + <usize> (<i32> (ty & 0xffff)) * rowBytes;
      const bottom = image + <usize> (<i32> ((ty >> 16) & 0xffff)) * rowBytes;
      const yl = reinterpret<f32>(<u32> (ty >> 32));
      for (let ox = 0; ox < outW; ox++) {
        const tx = axisTap(ox, wd, outW, halfPixel);
        const lo = <usize> (<i32> (tx & 0xffff)) * cBytes;
        const hi = <usize> (<i32> ((tx >> 16) & 0xffff)) * cBytes;
        const xl = reinterpret<f32>(<u32> (tx >> 32));
        const iyl: f32 = 1 - yl;
        const ixl: f32 = 1 - xl;
        addScaled(top + lo, src, iyl * ixl, c);
        addScaled(top + hi, src, iyl * xl, c);
        addScaled(bottom + lo, src, yl * ixl, c);
        addScaled(bottom + hi, src, yl * xl, c);
        src += cBytes;
      }
    }
  }
}

/**
 * y [batch, outH, outW, c] = x [batch, h, wd, c] cropped: y[b, i, j] = x[b, top + i, left + j]
 * (Keras Cropping2D, outH = h − top − bottom, outW = wd − left − right).
 */
export function crop2d(x: usize, y: usize, batch: i32, h: i32, wd: i32, c: i32, top: i32, left: i32, outH: i32, outW: i32): void {
  const cBytes = <usize> c << 2;
  const rowBytes = <usize> wd * cBytes;
  const outRowBytes = <usize> outW * cBytes;
  let dst = y;
  for (let b = 0; b < batch; b++) {
    let src = x + (<usize> b * <usize> h + <usize> top) * rowBytes + <usize> left * cBytes;
    for (let i = 0; i < outH; i++) {
      memory.copy(dst, src, outRowBytes);
      dst += outRowBytes;
      src += rowBytes;
    }
  }
}

/**
 * Backward of `crop2d`: dx [batch, h, wd, c] (OVERWRITTEN) is zero except the cropped window,
 * which receives dy [batch, outH, outW, c].
 */
export function crop2dGrad(dy: usize, dx: usize, batch: i32, h: i32, wd: i32, c: i32, top: i32, left: i32, outH: i32, outW: i32): void {
  const cBytes = <usize> c << 2;
  const rowBytes = <usize> wd * cBytes;
  const outRowBytes = <usize> outW * cBytes;
  const right = wd - left - outW;
  let src = dy;
  let dst = dx;
  for (let b = 0; b < batch; b++) {
    const bottomRows = h - top - outH;
    memory.fill(dst, 0, <usize> top * rowBytes);
    dst += <usize> top * rowBytes;
    for (let i = 0; i < outH; i++) {
      zeroFloats(dst, left * c);
      memory.copy(dst + <usize> left * cBytes, src, outRowBytes);
      zeroFloats(dst + <usize> (left + outW) * cBytes, right * c);
      src += outRowBytes;
      dst += rowBytes;
    }
    memory.fill(dst, 0, <usize> bottomRows * rowBytes);
    dst += <usize> bottomRows * rowBytes;
  }
}
