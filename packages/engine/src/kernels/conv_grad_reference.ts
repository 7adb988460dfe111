/**
 * Plain TypeScript Conv2D backward (NHWC, kernel `(kh, kw, in, out)`) — the test oracle of
 * `conv2dBackward`. Inputs are dZ, the gradient at the pre-activation.
 */
import { type Conv2DParams, forEachTap } from "./conv_reference.ts";

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
