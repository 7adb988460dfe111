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
  const { batch, h, w, c, outH, outW, outC, kh, kw, padTop, padLeft } = p;
  const [sh, sw] = p.strides;
  const [dh, dw] = p.dilation;
  const y = new Float32Array(batch * outH * outW * outC);
  const acc = new Float64Array(outC);
  for (let b = 0; b < batch; b++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        for (let o = 0; o < outC; o++) acc[o] = bias ? bias[o] : 0;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oh * sh - padTop + ky * dh;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ow * sw - padLeft + kx * dw;
            if (ix < 0 || ix >= w) continue;
            for (let ci = 0; ci < c; ci++) {
              const v = x[((b * h + iy) * w + ix) * c + ci];
              const kBase = ((ky * kw + kx) * c + ci) * outC;
              for (let o = 0; o < outC; o++) acc[o] += v * kernel[kBase + o];
            }
          }
        }
        y.set(acc, ((b * outH + oh) * outW + ow) * outC);
      }
    }
  }
  return applyActivationReference(y, outC, act);
}
