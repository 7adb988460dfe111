/**
 * Plain TypeScript Conv2DTranspose (NHWC, Keras kernel layout `(kh, kw, filters, in)`) and its
 * backward — the test oracles of `conv2dTranspose` and `conv2dTransposeBackward`. Direct scatter
 * loops with float64 sums: input cell `(iy, ix)`, tap `(ky, kx)` lands on output cell
 * `(iy·sh + ky·dh − padTop, ix·sw + kx·dw − padLeft)` when that is inside the output.
 */
import { type Activation, applyActivationReference } from "../activations.ts";

/** Geometry of one 2-D transposed convolution (all integers; padding already resolved). */
export interface ConvTranspose2DParams {
  batch: number;
  /** Input height, width and channels. */
  h: number;
  w: number;
  c: number;
  /** Output height, width and channels (`filters`). */
  outH: number;
  outW: number;
  filters: number;
  kh: number;
  kw: number;
  strides: [number, number];
  dilation: [number, number];
  /** Cells cut from the top / left of the full scatter. */
  padTop: number;
  padLeft: number;
}

/**
 * Calls `visit(xBase, kBase, yBase)` for every (input pixel, tap) pair that lands inside the
 * output: the offsets of the input cell's channels, the tap's `filters × c` kernel block and the
 * output cell's filters.
 */
export function forEachTransposeTap(
  p: ConvTranspose2DParams,
  visit: (xBase: number, kBase: number, yBase: number) => void,
): void {
  const { batch, h, w, c, outH, outW, filters, kh, kw, padTop, padLeft } = p;
  const [sh, sw] = p.strides;
  const [dh, dw] = p.dilation;
  for (let b = 0; b < batch; b++) {
    for (let iy = 0; iy < h; iy++) {
      for (let ix = 0; ix < w; ix++) {
        const xBase = ((b * h + iy) * w + ix) * c;
        for (let ky = 0; ky < kh; ky++) {
          const oy = iy * sh + ky * dh - padTop;
          if (oy < 0 || oy >= outH) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ox = ix * sw + kx * dw - padLeft;
            if (ox < 0 || ox >= outW) continue;
            visit(xBase, (ky * kw + kx) * filters * c, ((b * outH + oy) * outW + ox) * filters);
          }
        }
      }
    }
  }
}

/** `act(bias + x ⊛ᵀ kernel)`: y `[batch, outH, outW, filters]`. */
export function conv2dTransposeReference(
  x: Float32Array,
  kernel: Float32Array,
  bias: Float32Array | null,
  p: ConvTranspose2DParams,
  act: Activation = { kind: "elementwise", code: 0, alpha: 0, name: "linear" },
): Float32Array {
  const { batch, outH, outW, c, filters } = p;
  const acc = new Float64Array(batch * outH * outW * filters);
  for (let i = 0; i < acc.length; i++) acc[i] = bias ? bias[i % filters] : 0;
  forEachTransposeTap(p, (xBase, kBase, yBase) => {
    for (let f = 0; f < filters; f++) {
      const row = kBase + f * c;
      let s = 0;
      for (let ci = 0; ci < c; ci++) s += x[xBase + ci] * kernel[row + ci];
      acc[yBase + f] += s;
    }
  });
  return applyActivationReference(Float32Array.from(acc), filters, act);
}

/** ∂loss/∂x `[batch, h, w, c]` from dZ `[batch, outH, outW, filters]` (pre-activation). */
export function conv2dTransposeInputGradReference(
  dz: Float32Array,
  kernel: Float32Array,
  p: ConvTranspose2DParams,
): Float32Array {
  const { batch, h, w, c, filters } = p;
  const acc = new Float64Array(batch * h * w * c);
  forEachTransposeTap(p, (xBase, kBase, yBase) => {
    for (let f = 0; f < filters; f++) {
      const g = dz[yBase + f];
      const row = kBase + f * c;
      for (let ci = 0; ci < c; ci++) acc[xBase + ci] += g * kernel[row + ci];
    }
  });
  return Float32Array.from(acc);
}

/** ∂loss/∂kernel `(kh, kw, filters, c)`: Σ over (input pixel, tap) of dZ ⊗ x. */
export function conv2dTransposeFilterGradReference(
  x: Float32Array,
  dz: Float32Array,
  p: ConvTranspose2DParams,
): Float32Array {
  const { kh, kw, c, filters } = p;
  const acc = new Float64Array(kh * kw * filters * c);
  forEachTransposeTap(p, (xBase, kBase, yBase) => {
    for (let f = 0; f < filters; f++) {
      const g = dz[yBase + f];
      const row = kBase + f * c;
      for (let ci = 0; ci < c; ci++) acc[row + ci] += g * x[xBase + ci];
    }
  });
  return Float32Array.from(acc);
}
