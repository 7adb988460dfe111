/** Plain TypeScript Conv2D (NHWC, kernel `(kh, kw, in, out)`) — the test oracle of `conv2d`. */
import { type Activation, applyActivationReference } from "../activations.ts";

/** Geometry of one 2-D convolution (all integers; padding already resolved). */
export interface Conv2DParams {
  batch: number;
  h: number;
  w: number;
  c: number;
  outH: number;
  outW: number;
  outC: number;
  kh: number;
  kw: number;
  strides: [number, number];
  dilation: [number, number];
  /** Zero rows above and columns left of the input. */
  padTop: number;
  padLeft: number;
}

/** `act(bias + Σ x · kernel)` by direct loops with float64 accumulation; padding cells are 0. */
export function conv2dReference(
  x: Float32Array,
  kernel: Float32Array,
  bias: Float32Array | null,
  p: Conv2DParams,
  act: Activation = { kind: "elementwise", code: 0, alpha: 0, name: "linear" },
): Float32Array {
  const { batch, outH, outW, c, outC } = p;
  const acc = new Float64Array(batch * outH * outW * outC);
  for (let i = 0; i < acc.length; i++) acc[i] = bias ? bias[i % outC] : 0;
  forEachTap(p, (xBase, kBase, zBase) => {
    for (let ci = 0; ci < c; ci++) {
      const v = x[xBase + ci];
      const row = kBase + ci * outC;
      for (let o = 0; o < outC; o++) acc[zBase + o] += v * kernel[row + o];
    }
  });
  const y = Float32Array.from(acc);
  return applyActivationReference(y, outC, act);
}

/**
 * Calls `visit(xBase, kBase, zBase)` for every (output pixel, kernel tap) pair whose input cell is
 * real (not padding): the offsets of the input cell's channels, the tap's kernel rows and the
 * pixel's outputs. Pixels in NHWC order, taps row by row.
 */
export function forEachTap(
  p: Conv2DParams,
  visit: (xBase: number, kBase: number, zBase: number) => void,
): void {
  const { batch, h, w, c, outH, outW, outC, kh, kw, padTop, padLeft } = p;
  const [sh, sw] = p.strides;
  const [dh, dw] = p.dilation;
  for (let b = 0; b < batch; b++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        const zBase = ((b * outH + oh) * outW + ow) * outC;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oh * sh - padTop + ky * dh;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ow * sw - padLeft + kx * dw;
            if (ix < 0 || ix >= w) continue;
            visit(((b * h + iy) * w + ix) * c, (ky * kw + kx) * c * outC, zBase);
          }
        }
      }
    }
  }
}

/**
 * The kernel read as the GEMM's B (`k` rows × `outC`, row-major) in column strips of 8, as
 * `conv2dPackKernel` packs it: strip s holds columns [8s, 8s + 8) of every row, zeros past outC.
 */
export function packConvKernelReference(w: Float32Array, k: number, outC: number): Float32Array {
  const strips = Math.ceil(outC / 8);
  const out = new Float32Array(strips * k * 8);
  for (let s = 0; s < strips; s++) {
    for (let r = 0; r < k; r++) {
      for (let j = 0; j < 8; j++) {
        const col = s * 8 + j;
        if (col < outC) out[(s * k + r) * 8 + j] = w[r * outC + col];
      }
    }
  }
  return out;
}
