// Pooling over NHWC tensors, SIMD across channels.
// pool2d: Max/AveragePooling2D. Only real (unpadded) cells of a window take part: max ignores
// the padding and average divides by the number of real cells (Keras / TF semantics).
// globalPool2d: GlobalMax/GlobalAveragePooling2D over all H·W positions.
// Max takes a later value only when it is greater (`best < v ? v : best`: f32x4.pmax, one
// instruction where f32x4.max takes about seven for wasm's NaN and ±0 rules), in vector and tail
// lanes alike, as the training forward maxPool2dTrain (pool_grad.ts) does.

/** The larger of two values, `a` on ties and NaN (f32x4.pmax's rule on one lane). */
// @ts-ignore: decorator
@inline function maxOf(a: f32, b: f32): f32 {
  return a < b ? b : a;
}

// @ts-ignore: decorator
@inline function reduceInto(dst: usize, src: usize, c: i32, isAvg: i32): void {
  let i = 0;
  if (isAvg) {
    for (; i + 4 <= c; i += 4) {
      const o = <usize> i << 2;
      v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    }
    for (; i < c; i++) {
      const o = <usize> i << 2;
      store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
    }
  } else {
    for (; i + 4 <= c; i += 4) {
      const o = <usize> i << 2;
      v128.store(dst + o, f32x4.pmax(v128.load(dst + o), v128.load(src + o)));
    }
    for (; i < c; i++) {
      const o = <usize> i << 2;
      store<f32>(dst + o, maxOf(load<f32>(dst + o), load<f32>(src + o)));
    }
  }
}

// @ts-ignore: decorator
@inline function copyRow(dst: usize, src: usize, c: i32): void {
  memory.copy(dst, src, <usize> c << 2);
}

// @ts-ignore: decorator
@inline function divideRow(dst: usize, c: i32, count: f32): void {
  const d = f32x4.splat(count);
  let i = 0;
  for (; i + 4 <= c; i += 4) {
    const o = <usize> i << 2;
    v128.store(dst + o, f32x4.div(v128.load(dst + o), d));
  }
  for (; i < c; i++) {
    const o = <usize> i << 2;
    store<f32>(dst + o, load<f32>(dst + o) / count);
  }
}

/**
 * y[b, oh, ow, ch] = max (isAvg = 0) or mean (isAvg = 1) of x[b, iy, ix, ch] over the real cells
 * iy ∈ [oh*sh - padTop, +ph), ix ∈ [ow*sw - padLeft, +pw). Every window must hold a real cell
 * (true for Keras `valid` and `same` geometry).
 */
export function pool2d(
  x: usize,
  y: usize,
  batch: i32,
  h: i32,
  w: i32,
  c: i32,
  outH: i32,
  outW: i32,
  ph: i32,
  pw: i32,
  sh: i32,
  sw: i32,
  padTop: i32,
  padLeft: i32,
  isAvg: i32,
): void {
  const rowBytes = <usize> c << 2;
  const imgRowBytes = <usize> w * rowBytes;
  const c4 = c & ~3;
  if (
    ph == 2 && pw == 2 && sh == 2 && sw == 2 && padTop == 0 && padLeft == 0 &&
    outH * 2 <= h && outW * 2 <= w
  ) {
    pool2x2(x, y, batch, h, w, c, outH, outW, isAvg);
    return;
  }
  let dst = y;
  for (let b = 0; b < batch; b++) {
    const image = x + <usize> b * <usize> h * imgRowBytes;
    for (let oh = 0; oh < outH; oh++) {
      const y0 = max(oh * sh - padTop, 0);
      const y1 = min(oh * sh - padTop + ph, h);
      for (let ow = 0; ow < outW; ow++) {
        const x0 = max(ow * sw - padLeft, 0);
        const x1 = min(ow * sw - padLeft + pw, w);
        const first = image + <usize> y0 * imgRowBytes + <usize> x0 * rowBytes;
        // One 4-channel accumulator in a register across the whole window, then one store.
        for (let j = 0; j < c4; j += 4) {
          const o = <usize> j << 2;
          let acc = v128.load(first + o);
          for (let iy = y0; iy < y1; iy++) {
            const row = image + <usize> iy * imgRowBytes + o;
            for (let ix = iy == y0 ? x0 + 1 : x0; ix < x1; ix++) {
              const v = v128.load(row + <usize> ix * rowBytes);
              acc = isAvg ? f32x4.add(acc, v) : f32x4.pmax(acc, v);
            }
          }
          if (isAvg) acc = f32x4.div(acc, f32x4.splat(<f32> ((y1 - y0) * (x1 - x0))));
          v128.store(dst + o, acc);
        }
        for (let j = c4; j < c; j++) {
          const o = <usize> j << 2;
          let acc = load<f32>(first + o);
          for (let iy = y0; iy < y1; iy++) {
            const row = image + <usize> iy * imgRowBytes + o;
            for (let ix = iy == y0 ? x0 + 1 : x0; ix < x1; ix++) {
              const v = load<f32>(row + <usize> ix * rowBytes);
              acc = isAvg ? acc + v : maxOf(acc, v);
            }
          }
          if (isAvg) acc /= <f32> ((y1 - y0) * (x1 - x0));
          store<f32>(dst + o, acc);
        }
        dst += rowBytes;
      }
    }
  }
}

/** The common 2×2 stride-2 unpadded window, every window whole: 4 loads and 3 ops a vector. */
function pool2x2(
  x: usize,
  y: usize,
  batch: i32,
  h: i32,
  w: i32,
  c: i32,
  outH: i32,
  outW: i32,
  isAvg: i32,
): void {
  const rowBytes = <usize> c << 2;
  const imgRowBytes = <usize> w * rowBytes;
  const c4 = c & ~3;
  const quarter = f32x4.splat(0.25);
  let dst = y;
  for (let b = 0; b < batch; b++) {
    const image = x + <usize> b * <usize> h * imgRowBytes;
    for (let oh = 0; oh < outH; oh++) {
      let p0 = image + <usize> (oh * 2) * imgRowBytes;
      for (let ow = 0; ow < outW; ow++) {
        const p1 = p0 + rowBytes;
        const p2 = p0 + imgRowBytes;
        const p3 = p2 + rowBytes;
        let j = 0;
        if (isAvg) {
          for (; j < c4; j += 4) {
            const o = <usize> j << 2;
            // ((a + b) + c) + d: the generic path's order, so both give the same bits.
            const s = f32x4.add(
              f32x4.add(f32x4.add(v128.load(p0 + o), v128.load(p1 + o)), v128.load(p2 + o)),
              v128.load(p3 + o),
            );
            v128.store(dst + o, f32x4.mul(s, quarter));
          }
          for (; j < c; j++) {
            const o = <usize> j << 2;
            const s = ((load<f32>(p0 + o) + load<f32>(p1 + o)) + load<f32>(p2 + o)) + load<f32>(p3 + o);
            store<f32>(dst + o, s * 0.25);
          }
        } else {
          for (; j < c4; j += 4) {
            const o = <usize> j << 2;
            const m = f32x4.pmax(
              f32x4.pmax(v128.load(p0 + o), v128.load(p1 + o)),
              f32x4.pmax(v128.load(p2 + o), v128.load(p3 + o)),
            );
            v128.store(dst + o, m);
          }
          for (; j < c; j++) {
            const o = <usize> j << 2;
            const m = maxOf(maxOf(load<f32>(p0 + o), load<f32>(p1 + o)), maxOf(load<f32>(p2 + o), load<f32>(p3 + o)));
            store<f32>(dst + o, m);
          }
        }
        dst += rowBytes;
        p0 += rowBytes << 1;
      }
    }
  }
}

/** y[b, ch] = max (isAvg = 0) or mean (isAvg = 1) of x[b, i, ch] over i < hw. */
export function globalPool2d(x: usize, y: usize, batch: i32, hw: i32, c: i32, isAvg: i32): void {
  const rowBytes = <usize> c << 2;
  for (let b = 0; b < batch; b++) {
    const src = x + <usize> b * <usize> hw * rowBytes;
    const dst = y + <usize> b * rowBytes;
    copyRow(dst, src, c);
    for (let i = 1; i < hw; i++) reduceInto(dst, src + <usize> i * rowBytes, c, isAvg);
    if (isAvg) divideRow(dst, c, <f32> hw);
  }
}
