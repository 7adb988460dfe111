/**
 * Plain TypeScript spatial resampling of NHWC images and its backward — the test oracles of
 * `upsampleNearest`, `resizeBilinear` and `crop2d` (wasm/assembly/resize.ts).
 *
 * Bilinear follows TensorFlow's ResizeBilinear (what Keras 3's `ops.image.resize` runs for
 * UpSampling2D, antialias off): per axis the source coordinate is `(o + ½)·in/out − ½` with
 * half-pixel centres (Keras 2.x ≥ 2.3 / Keras 3) or `o·in/out` without (TF.js's
 * `resizeBilinear` default, which its `upSampling2d` layer uses); the two source cells are
 * `max(⌊s⌋, 0)` and `min(⌈s⌉, in − 1)`, the weight of the second `s − ⌊s⌋`.
 */

/** NHWC image geometry of a resampling: input `[batch, h, w, c]`, output `[batch, outH, outW, c]`. */
export interface ResampleParams {
  batch: number;
  h: number;
  w: number;
  c: number;
  outH: number;
  outW: number;
}

/** The two source cells and the second one's weight for output cell `o` of one axis. */
export function bilinearTap(
  o: number,
  inLen: number,
  outLen: number,
  halfPixel: boolean,
): [number, number, number] {
  const scale = Math.fround(inLen / outLen);
  const s = Math.fround(halfPixel ? Math.fround((o + 0.5) * scale) - 0.5 : o * scale);
  const fl = Math.floor(s);
  return [Math.max(fl, 0), Math.min(Math.ceil(s), inLen - 1), s - fl];
}

/** Nearest upsampling by integer factors `(fh, fw)`: every cell repeated fh × fw times. */
export function upsampleNearestReference(
  x: Float32Array,
  p: ResampleParams,
  fh: number,
  fw: number,
): Float32Array {
  const { batch, h, w, c } = p;
  const outH = h * fh, outW = w * fw;
  const y = new Float32Array(batch * outH * outW * c);
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const src = ((b * h + Math.floor(oy / fh)) * w + Math.floor(ox / fw)) * c;
        const dst = ((b * outH + oy) * outW + ox) * c;
        for (let k = 0; k < c; k++) y[dst + k] = x[src + k];
      }
    }
  }
  return y;
}

/** Backward of nearest upsampling: each input cell sums its fh × fw block of dy. */
export function upsampleNearestGradReference(
  dy: Float32Array,
  p: ResampleParams,
  fh: number,
  fw: number,
): Float32Array {
  const { batch, h, w, c } = p;
  const outH = h * fh, outW = w * fw;
  const acc = new Float64Array(batch * h * w * c);
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const dst = ((b * h + Math.floor(oy / fh)) * w + Math.floor(ox / fw)) * c;
        const src = ((b * outH + oy) * outW + ox) * c;
        for (let k = 0; k < c; k++) acc[dst + k] += dy[src + k];
      }
    }
  }
  return Float32Array.from(acc);
}

/** Calls `visit(srcCell, dstCell, weight)` for the four (source, output) pairs of every output cell. */
function forEachBilinearTap(
  p: ResampleParams,
  halfPixel: boolean,
  visit: (src: number, dst: number, weight: number) => void,
): void {
  const { batch, h, w, c, outH, outW } = p;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      const [y0, y1, yl] = bilinearTap(oy, h, outH, halfPixel);
      for (let ox = 0; ox < outW; ox++) {
        const [x0, x1, xl] = bilinearTap(ox, w, outW, halfPixel);
        const dst = ((b * outH + oy) * outW + ox) * c;
        const cell = (y: number, x: number) => ((b * h + y) * w + x) * c;
        visit(cell(y0, x0), dst, (1 - yl) * (1 - xl));
        visit(cell(y0, x1), dst, (1 - yl) * xl);
        visit(cell(y1, x0), dst, yl * (1 - xl));
        visit(cell(y1, x1), dst, yl * xl);
      }
    }
  }
}

/** Bilinear resize to `(outH, outW)` as the sum of the four weighted source cells (float64). */
export function resizeBilinearReference(
  x: Float32Array,
  p: ResampleParams,
  halfPixel: boolean,
): Float32Array {
  const { c } = p;
  const acc = new Float64Array(p.batch * p.outH * p.outW * c);
  forEachBilinearTap(p, halfPixel, (src, dst, weight) => {
    for (let k = 0; k < c; k++) acc[dst + k] += weight * x[src + k];
  });
  return Float32Array.from(acc);
}

/** Backward of the bilinear resize: each dy cell spread back over its four source cells. */
export function resizeBilinearGradReference(
  dy: Float32Array,
  p: ResampleParams,
  halfPixel: boolean,
): Float32Array {
  const { c } = p;
  const acc = new Float64Array(p.batch * p.h * p.w * c);
  forEachBilinearTap(p, halfPixel, (src, dst, weight) => {
    for (let k = 0; k < c; k++) acc[src + k] += weight * dy[dst + k];
  });
  return Float32Array.from(acc);
}

/** Cropping2D: `y[b, i, j] = x[b, top + i, left + j]` for the `(outH, outW)` window. */
export function crop2dReference(
  x: Float32Array,
  p: ResampleParams,
  top: number,
  left: number,
): Float32Array {
  const { batch, h, w, c, outH, outW } = p;
  const y = new Float32Array(batch * outH * outW * c);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < outH; i++) {
      for (let j = 0; j < outW; j++) {
        const src = ((b * h + top + i) * w + left + j) * c;
        y.set(x.subarray(src, src + c), ((b * outH + i) * outW + j) * c);
      }
    }
  }
  return y;
}

/** Backward of Cropping2D: zeros with dy placed in the cropped window. */
export function crop2dGradReference(
  dy: Float32Array,
  p: ResampleParams,
  top: number,
  left: number,
): Float32Array {
  const { batch, h, w, c, outH, outW } = p;
  const dx = new Float32Array(batch * h * w * c);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < outH; i++) {
      for (let j = 0; j < outW; j++) {
        const src = ((b * outH + i) * outW + j) * c;
        dx.set(dy.subarray(src, src + c), ((b * h + top + i) * w + left + j) * c);
      }
    }
  }
  return dx;
}
