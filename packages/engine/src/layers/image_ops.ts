/**
 * Plain TypeScript image operations of the preprocessing and augmentation layers (Resizing,
 * CenterCrop, RandomFlip, RandomTranslation, RandomZoom, RandomRotation, RandomContrast) on NHWC
 * float32 images, each with its backward. These are cheap gathers over the kernel heap's views
 * (bilinear resizing and cropping run the SIMD kernels of `wasm/assembly/resize.ts`); they are
 * also the references the layer tests check against hand-computed images.
 *
 * Semantics follow what Keras 3 runs with the TensorFlow backend:
 * - nearest resizing is TF's `ResizeNearestNeighbor` with half-pixel centres (source index
 *   `min(⌊(o + ½)·in/out⌋, in − 1)`);
 * - the aspect-ratio crop window is `keras.utils.smart_resize`'s (also Resizing's
 *   `crop_to_aspect_ratio` and CenterCrop's path for inputs smaller than the target);
 * - affine transforms are TF's `ImageProjectiveTransformV3`: output pixel (x, y) reads the input
 *   at `((a0·x + a1·y + a2)/k, (b0·x + b1·y + b2)/k)` with `k = c0·x + c1·y + 1`, the coordinate
 *   mapped by the fill mode (reflect / wrap / nearest / constant), then sampled nearest
 *   (round half away from zero) or bilinearly, taps outside the image reading `fill_value`.
 *
 * @module
 */

/** An NHWC image batch geometry. */
export interface ImageGeometry {
  batch: number;
  h: number;
  w: number;
  c: number;
}

/** How an affine transform fills points outside the input (Keras `fill_mode`). */
export type FillMode = "reflect" | "wrap" | "nearest" | "constant";
/** How an affine transform or a resize samples the input (Keras `interpolation`). */
export type Interpolation = "bilinear" | "nearest";

/** The fill modes Keras's affine augmentation layers accept. */
export const FILL_MODES: readonly FillMode[] = ["reflect", "wrap", "nearest", "constant"];
/** The interpolations the engine's resizing and augmentation layers run. */
export const INTERPOLATIONS: readonly Interpolation[] = ["bilinear", "nearest"];

/**
 * A projective transform as Keras passes it to `affine_transform`: `[a0, a1, a2, b0, b1, b2, c0,
 * c1]`, mapping OUTPUT coordinates to INPUT coordinates.
 */
export type Transform8 = readonly number[];

// ---- resizing -------------------------------------------------------------------------------

/** The window `keras.utils.smart_resize` crops before resizing to `(outH, outW)`. */
export interface CropWindow {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * The largest centred window of an `h × w` image with the aspect ratio of `outH × outW`
 * (`smart_resize`: `crop_h = min(h, ⌊w·outH/outW⌋)` at least 1, likewise `crop_w`, each centred
 * with the start rounded down).
 */
export function aspectCropWindow(h: number, w: number, outH: number, outW: number): CropWindow {
  const height = Math.max(Math.min(h, Math.trunc((w * outH) / outW)), 1);
  const width = Math.max(Math.min(w, Math.trunc((h * outW) / outH)), 1);
  return {
    top: Math.trunc((h - height) / 2),
    left: Math.trunc((w - width) / 2),
    height,
    width,
  };
}

/** TF's half-pixel nearest source index of output cell `o` (in → out along one axis). */
export function nearestSource(o: number, inLen: number, outLen: number): number {
  const scale = Math.fround(inLen / outLen);
  return Math.max(0, Math.min(Math.floor(Math.fround((o + 0.5) * scale)), inLen - 1));
}

/** Nearest resize of `x` (geometry `g`) to `outH × outW`, TF half-pixel centres. */
export function resizeNearest(
  x: Float32Array,
  g: ImageGeometry,
  outH: number,
  outW: number,
  y: Float32Array = new Float32Array(g.batch * outH * outW * g.c),
): Float32Array {
  const { batch, h, w, c } = g;
  const cols = Int32Array.from({ length: outW }, (_, o) => nearestSource(o, w, outW));
  let dst = 0;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      const row = (b * h + nearestSource(oy, h, outH)) * w;
      for (let ox = 0; ox < outW; ox++) {
        const src = (row + cols[ox]) * c;
        for (let k = 0; k < c; k++) y[dst++] = x[src + k];
      }
    }
  }
  return y;
}

/** Backward of {@link resizeNearest}: every dy cell added to its source cell (dx overwritten). */
export function resizeNearestGrad(
  dy: Float32Array,
  g: ImageGeometry,
  outH: number,
  outW: number,
  dx: Float32Array = new Float32Array(g.batch * g.h * g.w * g.c),
): Float32Array {
  const { batch, h, w, c } = g;
  dx.fill(0);
  const cols = Int32Array.from({ length: outW }, (_, o) => nearestSource(o, w, outW));
  let src = 0;
  for (let b = 0; b < batch; b++) {
    for (let oy = 0; oy < outH; oy++) {
      const row = (b * h + nearestSource(oy, h, outH)) * w;
      for (let ox = 0; ox < outW; ox++) {
        const d = (row + cols[ox]) * c;
        for (let k = 0; k < c; k++) dx[d + k] += dy[src++];
      }
    }
  }
  return dx;
}

// ---- flips ----------------------------------------------------------------------------------

/**
 * Flips sample `b` of `x` into `y` when `flips[b]`: left-right (`horizontal`), top-bottom
 * (`vertical`) or both; other samples are copied. Its own backward (a flip is an involution).
 */
export function flipImages(
  x: Float32Array,
  g: ImageGeometry,
  flips: ArrayLike<boolean | number>,
  horizontal: boolean,
  vertical: boolean,
  y: Float32Array = new Float32Array(x.length),
): Float32Array {
  const { batch, h, w, c } = g;
  const per = h * w * c;
  for (let b = 0; b < batch; b++) {
    const base = b * per;
    if (!flips[b]) {
      y.set(x.subarray(base, base + per), base);
      continue;
    }
    for (let i = 0; i < h; i++) {
      const si = vertical ? h - 1 - i : i;
      for (let j = 0; j < w; j++) {
        const sj = horizontal ? w - 1 - j : j;
        const s = base + (si * w + sj) * c;
        const d = base + (i * w + j) * c;
        for (let k = 0; k < c; k++) y[d + k] = x[s + k];
      }
    }
  }
  return y;
}

// ---- affine transforms ----------------------------------------------------------------------

/** `[1, 0, −dx, 0, 1, −dy, 0, 0]`: the image moved right by dx and down by dy pixels. */
export function translationTransform(dx: number, dy: number): number[] {
  return [1, 0, -dx, 0, 1, -dy, 0, 0];
}

/**
 * Keras RandomZoom's transform for zoom factors `(zx, zy)` about the image centre: the input is
 * read at `z·o + (len − 1)/2·(1 − z)` per axis (z > 1 zooms out, z < 1 zooms in).
 */
export function zoomTransform(zx: number, zy: number, h: number, w: number): number[] {
  return [zx, 0, ((w - 1) / 2) * (1 - zx), 0, zy, ((h - 1) / 2) * (1 - zy), 0, 0];
}

/**
 * Keras RandomRotation's transform for `angle` radians (positive: counter-clockwise) about the
 * centre `((w − 1)/2, (h − 1)/2)`.
 */
export function rotationTransform(angle: number, h: number, w: number): number[] {
  const cos = Math.cos(angle), sin = Math.sin(angle);
  const xOffset = (w - 1 - (cos * (w - 1) - sin * (h - 1))) / 2;
  const yOffset = (h - 1 - (sin * (w - 1) + cos * (h - 1))) / 2;
  return [cos, -sin, xOffset, sin, cos, yOffset, 0, 0];
}

/** TF's `MapCoordinate` for one axis of length `len` (see the module notes). */
export function mapCoordinate(v: number, len: number, mode: FillMode): number {
  let c = v;
  if (mode === "constant") return c;
  if (mode === "nearest") return Math.min(Math.max(c, 0), len - 1);
  if (c < 0) {
    if (len <= 1) c = 0;
    else if (mode === "reflect") {
      const sz2 = 2 * len;
      if (c < sz2) c = sz2 * Math.trunc(-c / sz2) + c;
      c = c < -len ? c + sz2 : -c - 1;
    } else {
      c += len * (Math.trunc(-c / (len - 1)) + 1);
    }
  } else if (c > len - 1) {
    if (len <= 1) c = 0;
    else if (mode === "reflect") {
      const sz2 = 2 * len;
      c -= sz2 * Math.trunc(c / sz2);
      if (c >= len) c = sz2 - c - 1;
    } else {
      c -= len * Math.trunc(c / (len - 1));
    }
  }
  return Math.min(Math.max(c, 0), len - 1);
}

/** C's `round`: halves away from zero. */
function roundHalfAway(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

/**
 * The input cells output pixel `(ox, oy)` reads under transform `t` and their weights, written to
 * `cells` / `weights` (cell −1: the fill value); returns how many (1 nearest, 4 bilinear). The
 * weights of one pixel sum to 1.
 */
function affineTaps(
  ox: number,
  oy: number,
  t: Transform8,
  h: number,
  w: number,
  interpolation: Interpolation,
  fillMode: FillMode,
  cells: Int32Array,
  weights: Float64Array,
): number {
  const k = t[6] * ox + t[7] * oy + 1;
  if (k === 0) {
    // A point at infinity is outside the input (TF returns the fill value).
    cells[0] = -1;
    weights[0] = 1;
    return 1;
  }
  const ix = mapCoordinate((t[0] * ox + t[1] * oy + t[2]) / k, w, fillMode);
  const iy = mapCoordinate((t[3] * ox + t[4] * oy + t[5]) / k, h, fillMode);
  if (interpolation === "nearest") {
    const r = roundHalfAway(iy), c = roundHalfAway(ix);
    cells[0] = r >= 0 && r < h && c >= 0 && c < w ? r * w + c : -1;
    weights[0] = 1;
    return 1;
  }
  const y0 = Math.floor(iy), x0 = Math.floor(ix);
  const fy = iy - y0, fx = ix - x0;
  const inY0 = y0 >= 0 && y0 < h, inY1 = y0 + 1 >= 0 && y0 + 1 < h;
  const inX0 = x0 >= 0 && x0 < w, inX1 = x0 + 1 >= 0 && x0 + 1 < w;
  cells[0] = inY0 && inX0 ? y0 * w + x0 : -1;
  cells[1] = inY0 && inX1 ? y0 * w + x0 + 1 : -1;
  cells[2] = inY1 && inX0 ? (y0 + 1) * w + x0 : -1;
  cells[3] = inY1 && inX1 ? (y0 + 1) * w + x0 + 1 : -1;
  weights[0] = (1 - fy) * (1 - fx);
  weights[1] = (1 - fy) * fx;
  weights[2] = fy * (1 - fx);
  weights[3] = fy * fx;
  return 4;
}

/** Options of {@link affineTransformImages} and its backward. */
export interface AffineOptions {
  interpolation: Interpolation;
  fillMode: FillMode;
  /** The value of points outside the input with `fillMode` "constant" (Keras `fill_value`). */
  fillValue: number;
}

/**
 * Applies transform `transforms[b]` to sample `b` of `x` (null: copied unchanged), as TF's
 * `ImageProjectiveTransformV3` that Keras's RandomTranslation / RandomZoom / RandomRotation run.
 */
export function affineTransformImages(
  x: Float32Array,
  g: ImageGeometry,
  transforms: readonly (Transform8 | null)[],
  options: AffineOptions,
  y: Float32Array = new Float32Array(x.length),
): Float32Array {
  const { batch, h, w, c } = g;
  const per = h * w * c;
  const { interpolation, fillMode, fillValue } = options;
  const cells = new Int32Array(4), weights = new Float64Array(4);
  for (let b = 0; b < batch; b++) {
    const base = b * per;
    const t = transforms[b];
    if (!t) {
      y.set(x.subarray(base, base + per), base);
      continue;
    }
    let d = base;
    for (let oy = 0; oy < h; oy++) {
      for (let ox = 0; ox < w; ox++) {
        const n = affineTaps(ox, oy, t, h, w, interpolation, fillMode, cells, weights);
        for (let k = 0; k < c; k++) {
          let acc = 0;
          for (let j = 0; j < n; j++) {
            const wt = weights[j];
            if (wt === 0) continue;
            const cell = cells[j];
            acc += wt * (cell < 0 ? fillValue : x[base + cell * c + k]);
          }
          y[d++] = acc;
        }
      }
    }
  }
  return y;
}

/**
 * Backward of {@link affineTransformImages}: the exact adjoint of the sampling (each dy pixel
 * spread back over the input cells it read, with the same weights); dx is overwritten.
 */
export function affineTransformImagesGrad(
  dy: Float32Array,
  g: ImageGeometry,
  transforms: readonly (Transform8 | null)[],
  options: AffineOptions,
  dx: Float32Array = new Float32Array(dy.length),
): Float32Array {
  const { batch, h, w, c } = g;
  const per = h * w * c;
  const { interpolation, fillMode } = options;
  const acc = new Float64Array(per);
  const cells = new Int32Array(4), weights = new Float64Array(4);
  for (let b = 0; b < batch; b++) {
    const base = b * per;
    const t = transforms[b];
    if (!t) {
      dx.set(dy.subarray(base, base + per), base);
      continue;
    }
    acc.fill(0);
    let s = base;
    for (let oy = 0; oy < h; oy++) {
      for (let ox = 0; ox < w; ox++) {
        const n = affineTaps(ox, oy, t, h, w, interpolation, fillMode, cells, weights);
        for (let j = 0; j < n; j++) {
          const cell = cells[j], wt = weights[j];
          if (cell < 0 || wt === 0) continue;
          const d = cell * c;
          for (let k = 0; k < c; k++) acc[d + k] += wt * dy[s + k];
        }
        s += c;
      }
    }
    for (let i = 0; i < per; i++) dx[base + i] = acc[i];
  }
  return dx;
}

// ---- contrast -------------------------------------------------------------------------------

/**
 * Keras RandomContrast on sample b: per channel `(x − mean)·factors[b] + mean` (mean over the
 * image's pixels), clipped to `[lo, hi]`.
 */
export function adjustContrast(
  x: Float32Array,
  g: ImageGeometry,
  factors: ArrayLike<number>,
  lo: number,
  hi: number,
  y: Float32Array = new Float32Array(x.length),
): Float32Array {
  const { batch, h, w, c } = g;
  const pixels = h * w;
  const mean = new Float64Array(c);
  for (let b = 0; b < batch; b++) {
    const base = b * pixels * c;
    channelMeans(x, base, pixels, c, mean);
    const f = factors[b];
    for (let p = 0; p < pixels; p++) {
      for (let k = 0; k < c; k++) {
        const i = base + p * c + k;
        const v = (x[i] - mean[k]) * f + mean[k];
        y[i] = Math.min(Math.max(v, lo), hi);
      }
    }
  }
  return y;
}

/**
 * Backward of {@link adjustContrast}: with M the not-clipped mask, per channel
 * `dx = f·M·dy + (1 − f)/N · Σ M·dy` (N pixels); `y` is the forward output (where it equals a
 * bound strictly beyond the unclipped value the gradient is 0).
 */
export function adjustContrastGrad(
  dy: Float32Array,
  x: Float32Array,
  g: ImageGeometry,
  factors: ArrayLike<number>,
  lo: number,
  hi: number,
  dx: Float32Array = new Float32Array(dy.length),
): Float32Array {
  const { batch, h, w, c } = g;
  const pixels = h * w;
  const mean = new Float64Array(c);
  const sum = new Float64Array(c);
  for (let b = 0; b < batch; b++) {
    const base = b * pixels * c;
    channelMeans(x, base, pixels, c, mean);
    const f = factors[b];
    sum.fill(0);
    for (let p = 0; p < pixels; p++) {
      for (let k = 0; k < c; k++) {
        const i = base + p * c + k;
        const v = (x[i] - mean[k]) * f + mean[k];
        const g = v >= lo && v <= hi ? dy[i] : 0;
        sum[k] += g;
        dx[i] = f * g;
      }
    }
    for (let p = 0; p < pixels; p++) {
      for (let k = 0; k < c; k++) dx[base + p * c + k] += ((1 - f) / pixels) * sum[k];
    }
  }
  return dx;
}

function channelMeans(
  x: Float32Array,
  base: number,
  pixels: number,
  c: number,
  out: Float64Array,
): void {
  out.fill(0);
  for (let p = 0; p < pixels; p++) {
    for (let k = 0; k < c; k++) out[k] += x[base + p * c + k];
  }
  for (let k = 0; k < c; k++) out[k] /= pixels;
}

// ---- per-sample random draws ----------------------------------------------------------------

/**
 * The 32-bit hash of (seed, counter) behind the augmentation layers' draws (a MurmurHash3
 * finalizer over the counter mixed with the seed).
 */
export function augmentHash(seed: number, counter: number): number {
  let h = (Math.imul(counter >>> 0, 0x9e3779b9) ^ seed) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** Most draws one sample takes from an augmentation layer (counters `sample·8 + draw`). */
export const DRAWS_PER_SAMPLE = 8;

/**
 * Uniform draw `draw` in [0, 1) of sample `sample` (its index within the whole batch:
 * `ctx.sampleOffset + b`) under the layer's step seed — independent of how the batch is split.
 */
export function sampleUniform(seed: number, sample: number, draw: number): number {
  return (augmentHash(seed, sample * DRAWS_PER_SAMPLE + draw) >>> 8) / 16777216;
}
