/**
 * Plain TypeScript Conv2D backward (NHWC, kernel `(kh, kw, in, out)`) — the test oracle of
 * `conv2dBackward`. Inputs are dZ, the gradient at the pre-activation.
 */
import type { Conv2DParams } from "./conv_reference.ts";

/** Calls `visit(xIndex, kernelRow, dzRow)` for every (input cell, kernel tap, output pixel) pair. */
function forEachTap(
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

/** ∂loss/∂kernel `(kh, kw, c, outC)` = Σ over pixels of x-window ⊗ dZ (float64 sums). */
export function conv2dFilterGradReference(
  x: Float32Array,
  dz: Float32Array,
  p: Conv2DParams,
): Float32Array {
  const { c, outC, kh, kw } = p;
  const acc = new Float64Array(kh * kw * c * outC);
  forEachTap(p, (xBase, kBase, zBase) => {
    for (let ci = 0; ci < c; ci++) {
      const v = x[xBase + ci];
      const row = kBase + ci * outC;
      for (let o = 0; o < outC; o++) acc[row + o] += v * dz[zBase + o];
    }
  });
  return Float32Array.from(acc);
}

/** ∂loss/∂x `(batch, h, w, c)`: each dZ pixel spread back through the kernel (float64 sums). */
export function conv2dInputGradReference(
  dz: Float32Array,
  kernel: Float32Array,
  p: Conv2DParams,
): Float32Array {
  const { batch, h, w, c, outC } = p;
  const acc = new Float64Array(batch * h * w * c);
  forEachTap(p, (xBase, kBase, zBase) => {
    for (let ci = 0; ci < c; ci++) {
      const row = kBase + ci * outC;
      let s = 0;
      for (let o = 0; o < outC; o++) s += kernel[row + o] * dz[zBase + o];
      acc[xBase + ci] += s;
    }
  });
  return Float32Array.from(acc);
}

/** ∂loss/∂bias: dZ summed over every pixel of the batch. */
export function conv2dBiasGradReference(dz: Float32Array, outC: number): Float32Array {
  const acc = new Float64Array(outC);
  for (let i = 0; i < dz.length; i++) acc[i % outC] += dz[i];
  return Float32Array.from(acc);
}
