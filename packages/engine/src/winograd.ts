/**
 * When Conv2D runs as Winograd F(m×m, r×r) — 8×8 input tiles, or 6×6 for F(4×4, 3×3) — and the
 * device data it needs: the transformed filters U = G g Gᵀ (computed once per weight change, in
 * float64). The kernel (`wasm/assembly/winograd.ts`) has Bᵀ and Aᵀ of the same interpolation
 * points written out.
 */
import {
  winogradFilterTransform,
  type WinogradTransforms,
  winogradTransforms,
} from "./kernels/winograd_reference.ts";
import type { ConvShape } from "./layers/conv2d_direct.ts";
import type { WasmHeap } from "./wasm/heap.ts";
import type { KernelExports } from "./wasm/kernels.ts";

/** Input tile side of the engine's Winograd kernel for every kernel size but 3×3 (6). */
export const WINOGRAD_ALPHA = 8;

/**
 * Largest transformed filter "auto" accepts (16 MiB: a 3×3 kernel's U of up to about 340 → 340
 * channels, 36 floats per channel pair where the kernel holds 9; a 5×5's of 256 → 256, 64 per
 * pair): a large layer's memory matters more at the edge than its speed-up, so ResNet50's 3×3
 * 512 → 512 (36 MiB) stays direct.
 */
export const WINOGRAD_AUTO_MAX_FILTER_BYTES = 16 << 20;

/**
 * Which convolution a Conv2D runs (at inference, and in training for the forward pass and the
 * input gradient):
 * - `"auto"` (default): Winograd where it applies and pays — 3×3…7×7 kernels, stride 1, no
 *   dilation, channel counts multiples of 4, at least 8 input channels, transformed filters of
 *   at most {@link WINOGRAD_AUTO_MAX_FILTER_BYTES}, and per call enough tiles for the cost model
 *   ({@link winogradPays}); direct summation otherwise. Outputs then differ from the direct sum
 *   by float32 rounding only (a few 1e-6 of the output's scale, measured in
 *   `kernels/winograd_test.ts`).
 * - `"direct"`: always direct summation (implicit GEMM / im2col).
 * - `"winograd"`: Winograd wherever the kernel can run it (2×2…7×7, same constraints, any
 *   channel count multiple of 4, any tile count), for tests and measurements.
 *
 * In training the forward convolution and the input gradient dx (dZ convolved with the flipped
 * kernel: a stride-1 convolution of outC → c channels, chosen by the same rules) follow the same
 * choice, with the filters transformed on the device every step ({@link transformWinogradFilters},
 * float32), and so does the kernel gradient dW of 3×3 and 5×5 kernels ({@link winogradFilterGrad}:
 * the same tiles, summed in the transformed domain; other sizes take the direct sum). With
 * data-parallel
 * workers each worker decides for its own slice of the batch, so results stay those of one thread
 * as long as every slice decides alike (each tile's sums do not depend on the batch).
 */
export type ConvAlgorithm = "auto" | "direct" | "winograd";

/** Every {@link ConvAlgorithm}, for validating options and command lines. */
export const CONV_ALGORITHMS: readonly ConvAlgorithm[] = ["auto", "direct", "winograd"];

/**
 * Floats of one chunk's transformed tiles, V and M (2^18 floats = 1 MiB, the size of L2 on the
 * machines measured): chunks that fit keep the 64 GEMMs' operands cache-resident.
 */
const WINOGRAD_CHUNK_FLOATS = 1 << 18;

/**
 * Output tiles per kernel chunk for `tiles` tiles in all of α×α input tiles, c → outC channels.
 */
export function winogradChunkTiles(tiles: number, c: number, outC: number, alpha: number): number {
  const perTile = alpha * alpha * (c + outC);
  return Math.max(1, Math.min(tiles, Math.floor(WINOGRAD_CHUNK_FLOATS / perTile)));
}

/**
 * Transformed filters larger than this (L2 on the machines measured) stream from memory on every
 * call; smaller ones stay cached between a model's calls.
 */
const WINOGRAD_CACHED_FILTER_BYTES = 1 << 20;

/**
 * Multiply-adds one byte of transformed filters streamed from memory costs, fitted to ResNet50's
 * 3×3 convs by F(4×4, 3×3) against the packed direct sum at batch 1: 14×14×256 → 256 (U 9 MiB,
 * 2 chunks) 3.5 against 4.4 ms, 7×7×512 → 512 (U 36 MiB, 1 chunk) 4.9 against 5.6 ms.
 */
const WINOGRAD_STREAMED_BYTE_MACS = 2;

/**
 * Whether Winograd beats the direct sum on one call of `images` images of `outH × outW` outputs,
 * `c` → `outC` channels: its multiply-adds (α² per tile and channel pair, tiles rounded up to
 * whole m × m blocks, so a 7×7 map in 4×4 tiles pays for 8×8) plus the cost of streaming U
 * once per chunk of tiles ({@link winogradChunkTiles}) when it is too big to stay cached,
 * against the direct sum's r² per output pixel. Few tiles over a large U lose (a 4×4 map of
 * 512 → 512 channels, ResNet50's last block at 128×128 input).
 */
export function winogradPays(
  plan: WinogradPlan,
  images: number,
  outH: number,
  outW: number,
  c: number,
  outC: number,
): boolean {
  const { alpha } = plan;
  const tiles = images * Math.ceil(outH / plan.m) * Math.ceil(outW / plan.m);
  const uBytes = alpha * alpha * c * outC * 4;
  const chunks = Math.ceil(tiles / winogradChunkTiles(tiles, c, outC, alpha));
  const streamed = uBytes > WINOGRAD_CACHED_FILTER_BYTES ? uBytes * chunks : 0;
  const winograd = tiles * alpha * alpha * c * outC + WINOGRAD_STREAMED_BYTE_MACS * streamed;
  const direct = images * outH * outW * plan.r * plan.r * c * outC;
  return winograd < direct;
}

/**
 * Whether one call of `images` images of `outH × outW` outputs, `c` → `outC` channels runs
 * Winograd under `algorithm` with `plan` (the layer's {@link winogradPlan}, null: never): always
 * under "winograd", where {@link winogradPays} under "auto".
 */
export function winogradRuns(
  algorithm: ConvAlgorithm,
  plan: WinogradPlan | null,
  images: number,
  outH: number,
  outW: number,
  c: number,
  outC: number,
): plan is WinogradPlan {
  return plan !== null &&
    (algorithm === "winograd" || winogradPays(plan, images, outH, outW, c, outC));
}

/** The tile sizes of one Winograd convolution. */
export interface WinogradPlan {
  /** Output tile side, α − r + 1. */
  m: number;
  /** Kernel side. */
  r: number;
  /** Input tile side: 6 for F(4×4, 3×3), else {@link WINOGRAD_ALPHA}. */
  alpha: number;
  transforms: WinogradTransforms;
  /**
   * F(r×r, m×m), the same α and points: the kernel gradient's transforms ({@link
   * winogradFilterGrad}; its Bᵀ is `transforms`' Bᵀ).
   */
  gradTransforms: WinogradTransforms;
}

/**
 * The Winograd plan for a conv shape under `algorithm`, or null for the direct sum. A 3×3 kernel
 * takes F(4×4, 3×3) (6×6 input tiles): measured on ResNet50's 3×3 convs at batch 1 and 8 it beats
 * F(6×6, 3×3) on every map (56×56: 1.90 against 2.00 ms, 14×14: 3.5 against 4.8, 7×7: 4.9
 * against 12.6) — cheaper transforms, 36 GEMMs in place of 64, U 36/64 the size, and small maps
 * waste less (a 7×7 map in 6×6 tiles computes 12×12, in 4×4 tiles 8×8).
 */
export function winogradPlan(
  algorithm: ConvAlgorithm,
  kernel: readonly number[],
  strides: readonly number[],
  dilation: readonly number[],
  c: number,
  outC: number,
): WinogradPlan | null {
  if (algorithm === "direct") return null;
  const [kh, kw] = kernel;
  const r = kh;
  const applies = kh === kw && r >= 2 && r <= 7 && strides[0] === 1 && strides[1] === 1 &&
    dilation[0] === 1 && dilation[1] === 1 && c % 4 === 0 && outC % 4 === 0;
  if (!applies) return null;
  // Under "auto", 2×2 stays direct (F(7×7, 2×2) rounds worst and saves least), and so do convs
  // with few input channels, where the transforms outweigh the GEMMs they shrink, and very wide
  // ones, whose transformed filters would take 7× the memory of a 3×3 kernel.
  const alpha = r === 3 ? 6 : WINOGRAD_ALPHA;
  const filterBytes = alpha * alpha * c * outC * 4;
  if (algorithm === "auto" && (r < 3 || c < 8 || filterBytes > WINOGRAD_AUTO_MAX_FILTER_BYTES)) {
    return null;
  }
  const m = alpha - r + 1;
  return {
    m,
    r,
    alpha,
    transforms: winogradTransforms(m, r),
    gradTransforms: winogradTransforms(r, m),
  };
}

/**
 * The Keras kernel `(r, r, c, outC)` transformed for `plan` (U, see `winogradFilterTransform`)
 * and uploaded to a new block of `heap`: its pointer.
 */
export function uploadWinogradFilters(
  heap: WasmHeap,
  plan: WinogradPlan,
  kernel: Float32Array,
  c: number,
  outC: number,
): number {
  return heap.upload(Float32Array.from(winogradFilterTransform(kernel, c, outC, plan.transforms)));
}

/**
 * The filters of a Keras kernel `(r, r, c, outC)` at `kernel` in the kernels' memory transformed
 * for `plan` by the `winogradFilterTransform` kernel (float32 arithmetic) into a new block of
 * `heap`: its pointer (the caller frees it). Training's path, where the kernel changes every
 * step and a float64 transform on the host ({@link uploadWinogradFilters}) would cost about what
 * the convolution saves.
 */
export function transformWinogradFilters(
  kernels: KernelExports,
  heap: WasmHeap,
  plan: WinogradPlan,
  kernel: number,
  c: number,
  outC: number,
): number {
  const { alpha, r } = plan;
  const u = heap.alloc(alpha * alpha * c * outC * 4);
  const g = heap.upload(Float32Array.from(plan.transforms.g));
  const scratch = heap.alloc(alpha * r * 16);
  try {
    kernels.winogradFilterTransform(kernel, u, g, scratch, c * outC, r, alpha);
  } finally {
    heap.free(g);
    heap.free(scratch);
  }
  return u;
}

/**
 * Whether {@link winogradFilterGrad} runs `plan`: F(4×4, 3×3) and F(4×4, 5×5). The other plans'
 * dz tiles (m 2, 3, 5, 7) measured 1.2–1.6× over the direct sum with a generic transform, at
 * up to 2.6e-5 of dW's scale (F(2×2, 7×7)): they stay direct.
 */
export function winogradFilterGradApplies(plan: WinogradPlan): boolean {
  return plan.m === 4 && (plan.r === 3 || plan.r === 5);
}

let filterGrads = 0;

/** Kernel gradients {@link winogradFilterGrad} has computed in this thread (tests check a step took it). */
export function winogradFilterGradCount(): number {
  return filterGrads;
}

/** The geometry {@link winogradFilterGrad} needs: a stride-1 convolution's sizes and padding. */
export type WinogradGradShape = Pick<
  ConvShape,
  "images" | "h" | "w" | "c" | "outH" | "outW" | "outC" | "padTop" | "padLeft"
>;

/**
 * The kernel gradient dW (r, r, c, outC) of a stride-1 convolution of `x` (images, h, w, c) whose
 * output gradient is `dz` (images, outH, outW, outC), by Winograd F(r×r, m×m) over `plan`'s tiles
 * (the `conv2dWinogradFilterGrad` kernel sums V · Z per transformed cell over every tile, then
 * `winogradFilterTransform` with Aᵀ of F(r, m) folds the α² sums to r×r): writes `dW`. Per tile
 * and channel pair α² multiply-adds where the direct sum does m²·r² (16·9 against 36 for
 * F(4×4, 3×3)). Float32 throughout; the result differs from the direct sum by rounding only
 * (3–9e-6 of dW's scale, measured in `kernels/winograd_test.ts`). Plans with m = 4 only: 3×3
 * (α 6) and 5×5 (α 8) kernels, whose dz transforms the kernel has written out; {@link
 * winogradFilterGradApplies}.
 */
export function winogradFilterGrad(
  kernels: KernelExports,
  heap: WasmHeap,
  plan: WinogradPlan,
  g: WinogradGradShape,
  x: number,
  dz: number,
  dW: number,
): void {
  const { m, r, alpha, gradTransforms } = plan;
  if (!winogradFilterGradApplies(plan)) {
    throw new RangeError(`winogradFilterGrad: F(${m}×${m}, ${r}×${r}) has no kernel gradient`);
  }
  const tiles = g.images * Math.ceil(g.outH / m) * Math.ceil(g.outW / m);
  const chunk = winogradChunkTiles(tiles, g.c, g.outC, alpha);
  const scratchFloats = kernels.conv2dWinogradScratchFloats(chunk, g.c, g.outC, m, r);
  const bufs: number[] = [];
  const alloc = (bytes: number) => {
    const p = heap.alloc(bytes);
    bufs.push(p);
    return p;
  };
  try {
    const sums = alloc(alpha * alpha * g.c * g.outC * 4);
    const scratch = alloc(scratchFloats * 4);
    const at = heap.upload(Float32Array.from(gradTransforms.at));
    bufs.push(at);
    kernels.conv2dWinogradFilterGrad(
      x,
      dz,
      sums,
      scratch,
      scratchFloats,
      g.images,
      g.h,
      g.w,
      g.c,
      g.outH,
      g.outW,
      g.outC,
      m,
      r,
      g.padTop,
      g.padLeft,
      0,
    );
    kernels.winogradFilterTransform(sums, dW, at, alloc(alpha * r * 16), g.c * g.outC, alpha, r);
    filterGrads++;
  } finally {
    for (const p of bufs) heap.free(p);
  }
}
