/**
 * Convolution and pooling geometry for the kernel tests: resolved parameters (the references'
 * input) and the positional geometry arguments every conv/pool kernel export takes.
 */
import { axisGeometry, type Padding } from "../src/conv_geometry.ts";
import type { Conv2DParams } from "../src/kernels/conv_reference.ts";
import type { Pool2DParams } from "../src/kernels/pool_reference.ts";

/** A tuple of `N` numbers (spreads into a kernel export's positional parameters). */
export type Numbers<N extends number, T extends number[] = []> = T["length"] extends N ? T
  : Numbers<N, [...T, number]>;

/** Conv2D parameters of an NHWC input `[h, w, c]` with the padding resolved as Keras does. */
export function conv2dParams(
  batch: number,
  [h, w, c]: number[],
  outC: number,
  [kh, kw]: number[],
  strides: [number, number],
  dilation: [number, number],
  padding: Padding,
): Conv2DParams {
  const gy = axisGeometry(h, kh, strides[0], dilation[0], padding);
  const gx = axisGeometry(w, kw, strides[1], dilation[1], padding);
  return {
    batch,
    h,
    w,
    c,
    outH: gy.out,
    outW: gx.out,
    outC,
    kh,
    kw,
    strides,
    dilation,
    padTop: gy.padBefore,
    padLeft: gx.padBefore,
  };
}

/** Pooling parameters of an NHWC input `[h, w, c]` with the padding resolved as Keras does. */
export function pool2dParams(
  batch: number,
  [h, w, c]: number[],
  poolSize: [number, number],
  strides: [number, number],
  padding: Padding,
): Pool2DParams {
  const gy = axisGeometry(h, poolSize[0], strides[0], 1, padding);
  const gx = axisGeometry(w, poolSize[1], strides[1], 1, padding);
  return {
    batch,
    h,
    w,
    c,
    outH: gy.out,
    outW: gx.out,
    poolSize,
    strides,
    padTop: gy.padBefore,
    padLeft: gx.padBefore,
  };
}

/**
 * The geometry arguments of `conv2d` / `conv2dBackward`, in kernel order: batch, h, w, c, outH,
 * outW, outC, kh, kw, strides, dilation, padTop, padLeft.
 */
export function conv2dKernelArgs(p: Conv2DParams): Numbers<15> {
  return [
    p.batch,
    p.h,
    p.w,
    p.c,
    p.outH,
    p.outW,
    p.outC,
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
 * The geometry arguments of `conv2dWinograd`, in kernel order: batch, h, w, c, outH, outW, outC,
 * m (output tile side), r (kernel side), padTop, padLeft.
 */
export function conv2dWinogradKernelArgs(p: Conv2DParams, m: number): Numbers<11> {
  return [p.batch, p.h, p.w, p.c, p.outH, p.outW, p.outC, m, p.kh, p.padTop, p.padLeft];
}

/**
 * The geometry arguments of `pool2d` / `maxPool2dTrain` / `pool2dBackward`, in kernel order:
 * batch, h, w, c, outH, outW, poolSize, strides, padTop, padLeft.
 */
export function pool2dKernelArgs(p: Pool2DParams): Numbers<12> {
  return [
    p.batch,
    p.h,
    p.w,
    p.c,
    p.outH,
    p.outW,
    p.poolSize[0],
    p.poolSize[1],
    p.strides[0],
    p.strides[1],
    p.padTop,
    p.padLeft,
  ];
}
