/**
 * Plain TypeScript DepthwiseConv2D (NHWC, kernel `(kh, kw, in, depth_multiplier)`, output channel
 * `ci * dm + m`) and its gradients — the test oracles of `depthwiseConv2d`,
 * `depthwiseConv2dBackwardInput` and `depthwiseConv2dBackwardFilter`
 * (wasm/assembly/depthwise_conv.ts). Direct loops with float64 sums; padding cells are zeros.
 */
import { type Activation, applyActivationReference } from "../activations.ts";
import { axisGeometry, type Padding } from "../conv_geometry.ts";

/** Geometry of one depthwise convolution (all integers; padding already resolved). */
export interface DepthwiseConv2DParams {
  batch: number;
  h: number;
  w: number;
  /** Input channels. */
  c: number;
  /** Keras `depth_multiplier`: output channels per input channel (outC = c · dm). */
  dm: number;
  outH: number;
  outW: number;
  kh: number;
  kw: number;
  strides: [number, number];
  dilation: [number, number];
  /** Zero rows above and columns left of the input. */
  padTop: number;
  padLeft: number;
}

/** Depthwise parameters of an NHWC input `[h, w, c]` with the padding resolved as Keras does. */
export function depthwiseConv2dParams(
  batch: number,
  [h, w, c]: readonly number[],
  dm: number,
  [kh, kw]: readonly number[],
  strides: [number, number],
  dilation: [number, number],
  padding: Padding,
): DepthwiseConv2DParams {
  const gy = axisGeometry(h, kh, strides[0], dilation[0], padding);
  const gx = axisGeometry(w, kw, strides[1], dilation[1], padding);
  return {
    batch,
    h,
    w,
    c,
    dm,
    outH: gy.out,
    outW: gx.out,
    kh,
    kw,
    strides,
    dilation,
    padTop: gy.padBefore,
    padLeft: gx.padBefore,
  };
}

/**
 * The geometry arguments every depthwise kernel export takes, in kernel order: batch, h, w, c,
 * dm, outH, outW, kh, kw, sh, sw, dh, dw, padTop, padLeft.
 */
export function depthwiseKernelArgs(
  p: DepthwiseConv2DParams,
): [
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
] {
  return [
    p.batch,
    p.h,
    p.w,
    p.c,
    p.dm,
    p.outH,
    p.outW,
    p.kh,
    p.kw,
    p.strides[0],
    p.strides[1],
    p.dilation[0],
    p.dilation[1],
    p.padTop,
    p.padLeft,
  ];
}

/**
 * Calls `visit(xBase, kBase, zBase)` for every (output pixel, kernel tap) pair whose input cell is
 * real (not padding): the offset of the input cell's channels, of the tap's kernel row (c · dm
 * floats) and of the pixel's outputs (c · dm floats).
 */
function forEachTap(
  p: DepthwiseConv2DParams,
  visit: (xBase: number, kBase: number, zBase: number) => void,
): void {
  const { batch, h, w, c, dm, outH, outW, kh, kw, padTop, padLeft } = p;
  const [sh, sw] = p.strides;
  const [dh, dw] = p.dilation;
  const outC = c * dm;
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
            visit(((b * h + iy) * w + ix) * c, (ky * kw + kx) * outC, zBase);
          }
        }
      }
    }
  }
}

/** `act(bias + depthwise(x, kernel))`, shape `(batch, outH, outW, c · dm)`. */
export function depthwiseConv2dReference(
  x: Float32Array,
  kernel: Float32Array,
  bias: Float32Array | null,
  p: DepthwiseConv2DParams,
  act: Activation = { kind: "elementwise", code: 0, alpha: 0, name: "linear" },
): Float32Array {
  const { batch, outH, outW, c, dm } = p;
  const outC = c * dm;
  const acc = new Float64Array(batch * outH * outW * outC);
  for (let i = 0; i < acc.length; i++) acc[i] = bias ? bias[i % outC] : 0;
  forEachTap(p, (xBase, kBase, zBase) => {
    for (let ci = 0; ci < c; ci++) {
      const v = x[xBase + ci];
      for (let m = 0; m < dm; m++) {
        const o = ci * dm + m;
        acc[zBase + o] += v * kernel[kBase + o];
      }
    }
  });
  return applyActivationReference(Float32Array.from(acc), outC, act);
}

/** ∂loss/∂x `(batch, h, w, c)` from dZ, the gradient at the pre-activation. */
export function depthwiseConv2dInputGradReference(
  dz: Float32Array,
  kernel: Float32Array,
  p: DepthwiseConv2DParams,
): Float32Array {
  const { batch, h, w, c, dm } = p;
  const acc = new Float64Array(batch * h * w * c);
  forEachTap(p, (xBase, kBase, zBase) => {
    for (let ci = 0; ci < c; ci++) {
      let s = 0;
      for (let m = 0; m < dm; m++) {
        const o = ci * dm + m;
        s += kernel[kBase + o] * dz[zBase + o];
      }
      acc[xBase + ci] += s;
    }
  });
  return Float32Array.from(acc);
}

/** ∂loss/∂depthwise_kernel `(kh, kw, c, dm)` from dZ. */
export function depthwiseConv2dFilterGradReference(
  x: Float32Array,
  dz: Float32Array,
  p: DepthwiseConv2DParams,
): Float32Array {
  const { c, dm, kh, kw } = p;
  const acc = new Float64Array(kh * kw * c * dm);
  forEachTap(p, (xBase, kBase, zBase) => {
    for (let ci = 0; ci < c; ci++) {
      const v = x[xBase + ci];
      for (let m = 0; m < dm; m++) {
        const o = ci * dm + m;
        acc[kBase + o] += v * dz[zBase + o];
      }
    }
  });
  return Float32Array.from(acc);
}

/** ∂loss/∂bias `(c · dm)`: dZ summed over every pixel of the batch. */
export function depthwiseConv2dBiasGradReference(dz: Float32Array, outC: number): Float32Array {
  const acc = new Float64Array(outC);
  for (let i = 0; i < dz.length; i++) acc[i % outC] += dz[i];
  return Float32Array.from(acc);
}
