/**
 * The direct 2-D convolution kernels (`conv2d`, `conv2dBackward`, wasm/assembly) on a resolved
 * geometry: the inference/forward call split into one range of images per kernel thread, each
 * with its own scratch, and one tiled backward pass. Conv2D runs its dense convolutions through
 * them, ConvLSTM2D its input and recurrent convolutions.
 *
 * @module
 */
import { type AxisBand, axisBand, axisGeometry, type Padding } from "../conv_geometry.ts";
import type { CallContext } from "../layer.ts";
import { job, type KernelJob, parallelRanges, runJobs } from "../wasm/threads.ts";
import type { KernelExports } from "../wasm/kernels.ts";
import type { WasmHeap } from "../wasm/heap.ts";

/** Floats of im2col scratch per forward call (256 KiB): tiles of output pixels stay cache-resident. */
export const CONV_SCRATCH_FLOATS = 1 << 16;
/**
 * Floats of scratch per backward call (1 MiB): tiles of im2col rows and their transpose, and the
 * padded dZ image of the stride-1 input gradient.
 */
export const CONV_BACKWARD_SCRATCH_FLOATS = 1 << 18;

/** The geometry of one convolution over `images` NHWC images (padding resolved). */
export interface ConvShape {
  images: number;
  h: number;
  w: number;
  c: number;
  outH: number;
  outW: number;
  outC: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  padTop: number;
  padLeft: number;
}

/** The window of a 2-D convolution layer: per axis (rows, cols) its size, stride and dilation. */
export interface ConvWindow {
  readonly kernelSize: readonly number[];
  readonly strides: readonly number[];
  readonly dilationRate: readonly number[];
  readonly padding: Padding;
}

/**
 * The convolution of `images` images of `[h, w, c]` into `outC` channels through `window`
 * (output size and padding as Keras).
 */
export function convShape(
  images: number,
  [h, w, c]: readonly number[],
  outC: number,
  window: ConvWindow,
): ConvShape {
  const [kh, kw] = window.kernelSize;
  const [sh, sw] = window.strides;
  const [dh, dw] = window.dilationRate;
  const gy = axisGeometry(h, kh, sh, dh, window.padding);
  const gx = axisGeometry(w, kw, sw, dw, window.padding);
  return {
    images,
    h,
    w,
    c,
    outH: gy.out,
    outW: gx.out,
    outC,
    kh,
    kw,
    sh,
    sw,
    dh,
    dw,
    padTop: gy.padBefore,
    padLeft: gx.padBefore,
  };
}

/**
 * The geometry arguments `conv2d` and `conv2dBackward` share, in their order, for `images` of
 * the images: images, h, w, c, outH, outW, outC, kh, kw, sh, sw, dh, dw, padTop, padLeft.
 */
export function convArgs(g: ConvShape, images = g.images) {
  return [
    images,
    g.h,
    g.w,
    g.c,
    g.outH,
    g.outW,
    g.outC,
    g.kh,
    g.kw,
    g.sh,
    g.sw,
    g.dh,
    g.dw,
    g.padTop,
    g.padLeft,
  ] as const;
}

/**
 * Runs one kernel job per range of `images` images (one range per kernel thread when they are on
 * and the `flops` are enough to split), each job given its own scratch by `scratchOf`; the
 * scratch is freed afterwards. The items may be other independent parts: a packed convolution of
 * one image splits its channel strips, Winograd the batch's output tiles.
 */
export function runImageRanges(
  ctx: CallContext,
  images: number,
  flops: number,
  job: (i0: number, n: number, scratchOf: (floats: number) => number) => KernelJob,
): void {
  runScratchJobs(
    ctx,
    parallelRanges(ctx.kernels, images, flops),
    ([i0, n], scratchOf) => job(i0, n, scratchOf),
  );
}

/**
 * Runs one kernel job per item (on the kernel threads when there are several), each given its
 * own scratch by `scratchOf`; the scratch is freed afterwards.
 */
export function runScratchJobs<T>(
  ctx: CallContext,
  items: readonly T[],
  job: (item: T, scratchOf: (floats: number) => number) => KernelJob,
): void {
  const scratches: number[] = [];
  const scratchOf = (floats: number) => {
    const p = floats > 0 ? ctx.heap.alloc(floats * 4) : 0;
    if (p) scratches.push(p);
    return p;
  };
  try {
    runJobs(ctx.kernels, items.map((item) => job(item, scratchOf)));
  } finally {
    for (const p of scratches) ctx.heap.free(p);
  }
}

/** A band of one image's output rows a kernel thread computes, and the input rows it reads. */
export interface OutputRowBand {
  /** First output row. */
  out0: number;
  /** Output rows. */
  outRows: number;
  /** The input rows they read (see {@link axisBand}). */
  input: AxisBand;
}

/**
 * One band of output rows per kernel thread for a window call on one image of `outH` output rows
 * from `h` input rows (window `kh`, stride `sh`, dilation `dh`, `padTop` leading zero rows), when
 * the threads are on and `work` is enough to split; null for one call on the whole image (also
 * when a band would read no input row).
 */
export function outputRowBands(
  kernels: KernelExports,
  work: number,
  outH: number,
  h: number,
  kh: number,
  sh: number,
  dh: number,
  padTop: number,
): OutputRowBand[] | null {
  const ranges = parallelRanges(kernels, outH, work);
  if (ranges.length < 2) return null;
  const bands: OutputRowBand[] = [];
  for (const [out0, outRows] of ranges) {
    const input = axisBand(out0, outRows, h, kh, sh, dh, padTop);
    if (!input) return null;
    bands.push({ out0, outRows, input });
  }
  return bands;
}

/**
 * `y = act(x ⊛ kernel + bias)` over `g.images` images (bias 0: none; `act` the fused activation
 * code and alpha, `[0, 0]` for none). The kernel picks its method by shape (1×1 gemm, implicit
 * GEMM over a zero-padded copy of each image, or im2col tiles) and says how much scratch it
 * wants for it. `packed` = true: `kernel` is a {@link packConvKernel} pointer and the window
 * one `conv2dPacked` runs (see {@link packedConvPays}; the implicit GEMM for every shape).
 */
export function convolveDirect(
  ctx: CallContext,
  g: ConvShape,
  x: number,
  kernel: number,
  bias: number,
  y: number,
  act: readonly [number, number] = [0, 0],
  packed = false,
): void {
  const k = g.kh * g.kw * g.c;
  const flops = 2 * g.images * g.outH * g.outW * g.outC * k;
  /** Scratch of a job over `n` images of geometry `s`: the padded image, or im2col tiles. */
  const scratchFloatsFor = (s: ConvShape, n: number) => {
    const pixels = n * s.outH * s.outW;
    const im2colFloats = k * Math.min(pixels, Math.max(6, Math.floor(CONV_SCRATCH_FLOATS / k)));
    // conv2dScratchFloats takes the same geometry without outC.
    const [, h, w, c, outH, outW, , ...window] = convArgs(s, n);
    return ctx.kernels.conv2dScratchFloats(n, h, w, c, outH, outW, ...window, im2colFloats);
  };
  const bands = g.images === 1 && !packed
    ? outputRowBands(ctx.kernels, flops, g.outH, g.h, g.kh, g.sh, g.dh, g.padTop)
    : null;
  if (bands) {
    // One image: the kernel threads split its output rows, each band reading its input rows.
    const rowIn = g.w * g.c * 4, rowOut = g.outW * g.outC * 4;
    runScratchJobs(ctx, bands, ({ out0, outRows, input }, scratchOf) => {
      const s = { ...g, h: input.len, outH: outRows, padTop: input.padBefore };
      const scratchFloats = scratchFloatsFor(s, 1);
      return job(
        "conv2d",
        x + input.start * rowIn,
        kernel,
        bias,
        y + out0 * rowOut,
        scratchOf(scratchFloats),
        scratchFloats,
        ...convArgs(s),
        ...act,
      );
    });
    return;
  }
  if (packed && g.images === 1) {
    // One image: the kernel threads split its output channels, whole 8-channel strips each.
    const strips = Math.ceil(g.outC / 8);
    const scratchFloats = scratchFloatsFor(g, 1);
    runImageRanges(ctx, strips, flops, (s0, n, scratchOf) => {
      const j0 = s0 * 8;
      return job(
        "conv2dPacked",
        x,
        kernel + s0 * k * 32,
        bias ? bias + j0 * 4 : 0,
        y + j0 * 4,
        scratchOf(scratchFloats),
        scratchFloats,
        ...convArgs(g),
        Math.min(n * 8, g.outC - j0),
        ...act,
      );
    });
    return;
  }
  runImageRanges(ctx, g.images, flops, (i0, n, scratchOf) => {
    const scratchFloats = scratchFloatsFor(g, n);
    const xi = x + i0 * g.h * g.w * g.c * 4, yi = y + i0 * g.outH * g.outW * g.outC * 4;
    const scratch = scratchOf(scratchFloats);
    return packed
      ? job(
        "conv2dPacked",
        xi,
        kernel,
        bias,
        yi,
        scratch,
        scratchFloats,
        ...convArgs(g, n),
        g.outC,
        ...act,
      )
      : job("conv2d", xi, kernel, bias, yi, scratch, scratchFloats, ...convArgs(g, n), ...act);
  });
}

/**
 * Floats of the smallest kernel inference packs (64 KiB): a smaller one stays in L1 in the Keras
 * layout, and the packed kernel's per-strip calls cost more than they save (the seeds CNN's
 * 3×3×3 → 16 at batch 1: 29 µs packed, 25 µs not; ResNet50's 1×1 64 → 64, 16 KiB, the same).
 */
export const PACKED_MIN_FLOATS = 1 << 14;

/**
 * Whether inference packs the kernel of this window from `c` to `outC` channels for
 * `conv2dPacked` (see {@link packConvKernel}): `conv2dPacked` runs the window (no column
 * dilation, or a single column) and the kernel is at least {@link PACKED_MIN_FLOATS}.
 */
export function packedConvPays(window: ConvWindow, c: number, outC: number): boolean {
  const [kh, kw] = window.kernelSize;
  return (kw === 1 || window.dilationRate[1] === 1) && kh * kw * c * outC >= PACKED_MIN_FLOATS;
}

/**
 * A dense convolution's Keras kernel at `kernel` (`k` = kh·kw·c rows × `outC`) packed for
 * `conv2dPacked` into a new block of `heap` (its pointer): column strips of 8 output channels
 * (see `conv2dPackKernel` in wasm/assembly/conv.ts), so a register tile reads its kernel columns
 * as one stream, where in the Keras layout they are 8 floats out of every row of outC (and rows
 * a power of two apart fall into a few cache sets). Inference only.
 */
export function packConvKernel(
  kernels: KernelExports,
  heap: WasmHeap,
  kernel: number,
  k: number,
  outC: number,
): number {
  const ptr = heap.alloc(kernels.conv2dPackedFloats(k, outC) * 4);
  kernels.conv2dPackKernel(kernel, ptr, k, outC);
  return ptr;
}

/**
 * One tiled backward pass (`conv2dBackward`, wasm/assembly/conv_grad.ts) of a dense convolution:
 * dx (when `dx` ≠ 0) and dW (when `dW` ≠ 0) from x and dZ, both OVERWRITTEN.
 */
export function convolveBackward(
  ctx: CallContext,
  g: ConvShape,
  x: number,
  dz: number,
  kernel: number,
  dx: number,
  dW: number,
): void {
  if (!dx && !dW) return;
  const { kernels, heap } = ctx;
  const scratchFloats = Math.max(
    kernels.conv2dBackwardMinScratch(g.kh, g.kw, g.c, g.outC, dx ? 1 : 0),
    CONV_BACKWARD_SCRATCH_FLOATS,
  );
  const scratch = heap.alloc(scratchFloats * 4);
  try {
    kernels.conv2dBackward(x, dz, kernel, dx, dW, scratch, scratchFloats, ...convArgs(g));
  } finally {
    heap.free(scratch);
  }
}
