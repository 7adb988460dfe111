// Pooling over NHWC tensors in training, SIMD across channels (as pool.ts):
// - max: the training forward `maxPool2dTrain` also records, per output element, the flat index
//   (iy·w + ix) of the window cell holding the maximum — on ties the first maximal cell in window
//   order (row by row, left to right), as TF's MaxPoolGrad routes them. The backward sends each
//   output's gradient to that cell.
// - average: each window's gradient is split evenly over its real (unpadded) cells.
// Windows overlap when strides < pool size, so dx is accumulated. Loops run over window cells
// with the channels innermost (contiguous), like the forward kernel.

// @ts-ignore: decorator
@inline function addInto4(p: usize, v: v128): void {
  v128.store(p, f32x4.add(v128.load(p), v));
}

/**
 * Max pooling forward with the argmax: y [batch, outH, outW, c] as `pool2d` (pool.ts) computes
 * it, and arg (int32, same shape) = flat index iy·w + ix of the first maximal real cell.
 */
export function maxPool2dTrain(
  x: usize,
  y: usize,
  arg: usize,
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
): void {
  const rowBytes = <usize> c << 2;
  const imageBytes = <usize> h * <usize> w * rowBytes;
  let dst = y;
  let idx = arg;
  for (let b = 0; b < batch; b++) {
    const image = x + <usize> b * imageBytes;
    for (let oh = 0; oh < outH; oh++) {
      const y0 = max(oh * sh - padTop, 0);
      const y1 = min(oh * sh - padTop + ph, h);
      for (let ow = 0; ow < outW; ow++) {
        const x0 = max(ow * sw - padLeft, 0);
        const x1 = min(ow * sw - padLeft + pw, w);
        let first = true;
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) {
            const cell = iy * w + ix;
            const src = image + <usize> cell * rowBytes;
            const cellV = i32x4.splat(cell);
            let j = 0;
            if (first) {
              for (; j + 4 <= c; j += 4) {
                const o = <usize> j << 2;
                v128.store(dst + o, v128.load(src + o));
                v128.store(idx + o, cellV);
              }
              for (; j < c; j++) {
                const o = <usize> j << 2;
                store<f32>(dst + o, load<f32>(src + o));
                store<i32>(idx + o, cell);
              }
              first = false;
              continue;
            }
            for (; j + 4 <= c; j += 4) {
              const o = <usize> j << 2;
              const v = v128.load(src + o);
              const best = v128.load(dst + o);
              const gt = f32x4.gt(v, best);
              v128.store(dst + o, v128.bitselect(v, best, gt));
              v128.store(idx + o, v128.bitselect(cellV, v128.load(idx + o), gt));
            }
            for (; j < c; j++) {
              const o = <usize> j << 2;
              const v = load<f32>(src + o);
              if (v > load<f32>(dst + o)) {
                store<f32>(dst + o, v);
                store<i32>(idx + o, cell);
              }
            }
          }
        }
        dst += rowBytes;
        idx += rowBytes;
      }
    }
  }
}

/**
 * dx (OVERWRITTEN, [batch, h, w, c]) = ∂loss/∂x of max (isAvg = 0) or average (isAvg = 1)
 * pooling for dy [batch, outH, outW, c], with the geometry of `pool2d` (pool.ts). Max pooling
 * reads the argmax `arg` from `maxPool2dTrain` (unused for average).
 */
export function pool2dBackward(
  arg: usize,
  dy: usize,
  dx: usize,
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
  const imageBytes = <usize> h * <usize> w * rowBytes;
  memory.fill(dx, 0, <usize> batch * imageBytes);
  let g = dy;
  let idx = arg;
  for (let b = 0; b < batch; b++) {
    const dxImage = dx + <usize> b * imageBytes;
    for (let oh = 0; oh < outH; oh++) {
      const y0 = max(oh * sh - padTop, 0);
      const y1 = min(oh * sh - padTop + ph, h);
      for (let ow = 0; ow < outW; ow++) {
        const x0 = max(ow * sw - padLeft, 0);
        const x1 = min(ow * sw - padLeft + pw, w);
        const inv: f32 = 1 / <f32> ((y1 - y0) * (x1 - x0));
        const invV = f32x4.splat(inv);
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) {
            const cell = iy * w + ix;
            const dst = dxImage + <usize> cell * rowBytes;
            let j = 0;
            if (isAvg) {
              for (; j + 4 <= c; j += 4) {
                const o = <usize> j << 2;
                addInto4(dst + o, f32x4.mul(v128.load(g + o), invV));
              }
              for (; j < c; j++) {
                const o = <usize> j << 2;
                store<f32>(dst + o, load<f32>(dst + o) + load<f32>(g + o) * inv);
              }
            } else {
              const cellV = i32x4.splat(cell);
              for (; j + 4 <= c; j += 4) {
                const o = <usize> j << 2;
                const hit = i32x4.eq(v128.load(idx + o), cellV);
                addInto4(dst + o, v128.and(v128.load(g + o), hit));
              }
              for (; j < c; j++) {
                const o = <usize> j << 2;
                if (load<i32>(idx + o) == cell) {
                  store<f32>(dst + o, load<f32>(dst + o) + load<f32>(g + o));
                }
              }
            }
          }
        }
        g += rowBytes;
        idx += rowBytes;
      }
    }
  }
}

/**
 * dx (OVERWRITTEN, [batch, hw, c]) for global max (isAvg = 0: the first maximal position per
 * channel gets dy) or average (isAvg = 1: dy / hw everywhere) pooling; dy is [batch, c].
 */
export function globalPool2dBackward(
  x: usize,
  dy: usize,
  dx: usize,
  batch: i32,
  hw: i32,
  c: i32,
  isAvg: i32,
): void {
  const rowBytes = <usize> c << 2;
  for (let b = 0; b < batch; b++) {
    const xs = x + <usize> b * <usize> hw * rowBytes;
    const dxs = dx + <usize> b * <usize> hw * rowBytes;
    const g = dy + <usize> b * rowBytes;
    if (isAvg) {
      const inv: f32 = 1 / <f32> hw;
      const invV = f32x4.splat(inv);
      for (let i = 0; i < hw; i++) {
        const dst = dxs + <usize> i * rowBytes;
        let j = 0;
        for (; j + 4 <= c; j += 4) {
          const o = <usize> j << 2;
          v128.store(dst + o, f32x4.mul(v128.load(g + o), invV));
        }
        for (; j < c; j++) {
          const o = <usize> j << 2;
          store<f32>(dst + o, load<f32>(g + o) * inv);
        }
      }
      continue;
    }
    memory.fill(dxs, 0, <usize> hw * rowBytes);
    let j = 0;
    for (; j + 4 <= c; j += 4) {
      const o = <usize> j << 2;
      let best = v128.load(xs + o);
      let arg = i32x4.splat(0);
      for (let i = 1; i < hw; i++) {
        const v = v128.load(xs + <usize> i * rowBytes + o);
        const gt = f32x4.gt(v, best);
        best = v128.bitselect(v, best, gt);
        arg = v128.bitselect(i32x4.splat(i), arg, gt);
      }
      const gv = v128.load(g + o);
      store<f32>(dxs + <usize> i32x4.extract_lane(arg, 0) * rowBytes + o, f32x4.extract_lane(gv, 0));
      store<f32>(dxs + <usize> i32x4.extract_lane(arg, 1) * rowBytes + o + 4, f32x4.extract_lane(gv, 1));
      store<f32>(dxs + <usize> i32x4.extract_lane(arg, 2) * rowBytes + o + 8, f32x4.extract_lane(gv, 2));
      store<f32>(dxs + <usize> i32x4.extract_lane(arg, 3) * rowBytes + o + 12, f32x4.extract_lane(gv, 3));
    }
    for (; j < c; j++) {
      const o = <usize> j << 2;
      let best = load<f32>(xs + o);
      let arg = 0;
      for (let i = 1; i < hw; i++) {
        const v = load<f32>(xs + <usize> i * rowBytes + o);
        if (v > best) {
          best = v;
          arg = i;
        }
      }
      store<f32>(dxs + <usize> arg * rowBytes + o, load<f32>(g + o));
    }
  }
}
