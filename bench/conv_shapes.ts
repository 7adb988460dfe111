/**
 * GFLOP/s of every Conv2D shape of ResNet50 (224×224) per convolution method, one kernel thread:
 * `deno run -A bench/conv_shapes.ts [--model resnet50|cnn] [--batch N] [--reps N] [--only 3x3]
 * [--base DIR]` (cnn: the seeds' CNN 3 conv 16-32-64 k3). Prints, per shape, the milliseconds
 * and GFLOP/s of the direct kernel (`conv2d`), of the packed one (`conv2dPacked`) and of
 * Winograd F(6×6) and F(4×4) where they apply, the count of such layers in the model, and the SIMD peak
 * measured in the same run, so the weak shapes and the wrong method choices stand out. `--base`
 * names another checkout (a `git worktree` of an earlier commit) whose kernel module is timed
 * beside this one's, the calls interleaved, for before/after ratios under a shared load.
 */
import { instantiateKernels, type KernelExports } from "../packages/engine/src/wasm/kernels.ts";
import type { WasmHeap } from "../packages/engine/src/wasm/heap.ts";
import { winogradChunkTiles, winogradPlan, winogradRuns } from "../packages/engine/src/winograd.ts";
import {
  winogradFilterTransform,
  winogradTransforms,
} from "../packages/engine/src/kernels/winograd_reference.ts";
import {
  CONV_SCRATCH_FLOATS,
  convArgs,
  convShape,
  packedConvPays,
} from "../packages/engine/src/layers/conv2d_direct.ts";
import { Rng } from "../packages/engine/testing/random.ts";

const args = Deno.args;
const value = (flag: string, fallback: string) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : fallback;
};
const batch = Number(value("--batch", "1"));
const reps = Number(value("--reps", "5"));
const only = value("--only", "");
const model = value("--model", "resnet50");

/** [input side, c, outC, kernel, stride, padding, layers of this shape in the model]. */
type ConvCase = [number, number, number, number, number, "same" | "valid", number];

/** The seeds' CNN 3 conv 16-32-64 k3 (`--model cnn`). */
const CNN_SHAPES: ConvCase[] = [
  [32, 3, 16, 3, 1, "same", 1],
  [16, 16, 32, 3, 1, "same", 1],
  [8, 32, 64, 3, 1, "same", 1],
];

/** ResNet50's (the default). */
const RESNET50_SHAPES: ConvCase[] = [
  [230, 3, 64, 7, 2, "valid", 1],
  [56, 64, 64, 1, 1, "valid", 1],
  [56, 256, 64, 1, 1, "valid", 2],
  [56, 64, 64, 3, 1, "same", 3],
  [56, 64, 256, 1, 1, "valid", 4],
  [56, 256, 128, 1, 2, "valid", 1],
  [56, 256, 512, 1, 2, "valid", 1],
  [28, 512, 128, 1, 1, "valid", 3],
  [28, 128, 128, 3, 1, "same", 4],
  [28, 128, 512, 1, 1, "valid", 4],
  [28, 512, 256, 1, 2, "valid", 1],
  [28, 512, 1024, 1, 2, "valid", 1],
  [14, 1024, 256, 1, 1, "valid", 5],
  [14, 256, 256, 3, 1, "same", 6],
  [14, 256, 1024, 1, 1, "valid", 6],
  [14, 1024, 512, 1, 2, "valid", 1],
  [14, 1024, 2048, 1, 2, "valid", 1],
  [7, 2048, 512, 1, 1, "valid", 2],
  [7, 512, 512, 3, 1, "same", 3],
  [7, 512, 2048, 1, 1, "valid", 3],
];

/** One kernel module: this tree's, or with `--base DIR` also another checkout's (before/after). */
interface Runtime {
  label: string;
  kernels: KernelExports;
  heap: WasmHeap;
}
const runtimes: Runtime[] = [{ label: "", ...instantiateKernels() }];
const baseDir = value("--base", "");
if (baseDir) {
  const url = new URL(`file://${Deno.realPathSync(baseDir)}/packages/engine/src/wasm/kernels.ts`);
  const base = await import(url.href);
  runtimes.unshift({ label: "base ", ...base.instantiateKernels() });
  runtimes[1].label = "new ";
}
const rng = new Rng(1);

/** Best of `reps` timed calls of each function, the calls interleaved (one of each per round). */
function times(fns: (() => void)[]): number[] {
  for (const fn of fns) fn();
  const best = fns.map(() => Infinity);
  for (let i = 0; i < reps; i++) {
    fns.forEach((fn, j) => {
      const t0 = performance.now();
      fn();
      best[j] = Math.min(best[j], performance.now() - t0);
    });
  }
  return best;
}

{
  const { kernels, heap } = runtimes[0];
  const peakOut = heap.alloc(64);
  heap.f32(peakOut, 8).fill(1e-7);
  const peakIters = 2_000_000;
  const [t] = times([() => kernels.simdPeakFma(peakIters, peakOut)]);
  console.log(
    `SIMD peak (fused madd): ${(peakIters * 96 / 1e6 / t).toFixed(1)} GFLOP/s; batch ${batch}`,
  );
  for (const [m, n, k] of [[512, 512, 512], [3136, 256, 64]]) {
    const a = heap.upload(rng.floats(m * k)), b = heap.upload(rng.floats(k * n));
    const c = heap.alloc(m * n * 4);
    const [ms] = times([() => kernels.gemm(a, b, 0, c, m, n, k, 0, 0)]);
    console.log(`gemm ${m}x${n}x${k}: ${(2 * m * n * k / 1e6 / ms).toFixed(1)} GFLOP/s`);
    for (const p of [a, b, c]) heap.free(p);
  }
}

const totals = runtimes.map(() => 0);
for (
  const [size, c, outC, k, s, padding, count] of model === "cnn" ? CNN_SHAPES : RESNET50_SHAPES
) {
  if (only && !`${k}x${k}`.startsWith(only)) continue;
  const window2d = {
    kernelSize: [k, k],
    strides: [s, s],
    dilationRate: [1, 1],
    padding,
  };
  const g = convShape(batch, [size, size, c], outC, window2d);
  const flops = 2 * batch * g.outH * g.outW * outC * k * k * c;
  const xHost = rng.floats(batch * size * size * c);
  const wHost = rng.floats(k * k * c * outC, -0.1, 0.1);
  const biasHost = rng.floats(outC);
  // Winograd with 8×8 input tiles (F(6×6) for 3×3) and, for 3×3, F(4×4) (6×6 tiles, what
  // Conv2D plans); "auto" marks what Conv2D would run.
  const plan = winogradPlan("winograd", [k, k], [s, s], [1, 1], c, outC);
  const plans = plan && k === 3
    ? [{
      m: 6,
      r: 3,
      alpha: 8,
      transforms: winogradTransforms(6, 3),
      gradTransforms: winogradTransforms(3, 6),
    }, plan]
    : [plan];
  const autoPlan = winogradPlan("auto", [k, k], [s, s], [1, 1], c, outC);
  const auto = winogradRuns("auto", autoPlan, batch, g.outH, g.outW, c, outC) ? autoPlan.alpha : 0;
  const fns: (() => void)[] = [];
  const names: string[] = [];
  const frees: (() => void)[] = [];
  /** Index in `fns` of what auto runs, per runtime. */
  const chosen: number[] = [];
  for (const { label, kernels, heap } of runtimes) {
    const x = heap.upload(xHost), w = heap.upload(wHost), bias = heap.upload(biasHost);
    const y = heap.alloc(batch * g.outH * g.outW * outC * 4);
    const kk = k * k * c;
    const pixels = batch * g.outH * g.outW;
    const im2colFloats = kk * Math.min(pixels, Math.max(6, Math.floor(CONV_SCRATCH_FLOATS / kk)));
    const [, h, wd, cc, oh, ow, , ...window] = convArgs(g);
    const sf = kernels.conv2dScratchFloats(batch, h, wd, cc, oh, ow, ...window, im2colFloats);
    const scratch = heap.alloc(Math.max(1, sf) * 4);
    fns.push(() => kernels.conv2d(x, w, bias, y, scratch, sf, ...convArgs(g), 1, 0));
    names.push(`${label}direct`);
    let pick = fns.length - 1;
    const ptrs = [x, w, bias, y, scratch];
    if ("conv2dPacked" in kernels) {
      const wp = heap.alloc(kernels.conv2dPackedFloats(kk, outC) * 4);
      kernels.conv2dPackKernel(w, wp, kk, outC);
      fns.push(() => kernels.conv2dPacked(x, wp, bias, y, scratch, sf, ...convArgs(g), outC, 1, 0));
      names.push(`${label}packed`);
      if (packedConvPays(window2d, c, outC)) pick = fns.length - 1;
      ptrs.push(wp);
    }
    // Other checkouts' Winograd kernels: this tree's arguments, or the first version's (no r,
    // no tile range, α 8 only).
    const current = kernels.conv2dWinograd.length === 21;
    for (const plan of plans) {
      if (!plan || (!current && plan.alpha !== 8)) continue;
      const u = heap.upload(
        Float32Array.from(winogradFilterTransform(wHost, c, outC, plan.transforms)),
      );
      const tiles = batch * Math.ceil(g.outH / plan.m) * Math.ceil(g.outW / plan.m);
      const chunk = winogradChunkTiles(tiles, c, outC, plan.alpha);
      const wsf = current
        ? kernels.conv2dWinogradScratchFloats(chunk, c, outC, plan.m, plan.r)
        : (kernels.conv2dWinogradScratchFloats as (...a: number[]) => number)(chunk, c, outC);
      const ws = heap.alloc(wsf * 4);
      const geometry = [batch, size, size, c, g.outH, g.outW, outC, plan.m] as const;
      const run = kernels.conv2dWinograd as (...a: number[]) => void;
      fns.push(
        current
          ? () =>
            run(x, u, bias, y, ws, wsf, ...geometry, plan.r, g.padTop, g.padLeft, 1, 0, 0, tiles)
          : () => run(x, u, bias, y, ws, wsf, ...geometry, g.padTop, g.padLeft, 1, 0),
      );
      names.push(`${label}winograd F(${plan.m})${current && auto === plan.alpha ? " (auto)" : ""}`);
      // The first version's auto: F(6×6) for 3×3 with ≥ 8 channels and ≤ 16 MiB of U.
      const oldAuto = !current && k === 3 && c >= 8 && 64 * c * outC * 4 <= 16 << 20;
      if ((current && auto === plan.alpha) || oldAuto) pick = fns.length - 1;
      ptrs.push(u, ws);
    }
    chosen.push(pick);
    frees.push(() => ptrs.forEach((p) => heap.free(p)));
  }
  const ms = times(fns);
  console.log(
    `${size}x${size}x${c}→${outC} k${k} s${s} ×${count}: ` +
      names.map((n, i) => `${n} ${ms[i].toFixed(3)} ms ${(flops / 1e6 / ms[i]).toFixed(1)}`)
        .join("; ") +
      " GFLOP/s",
  );
  runtimes.forEach((_, r) => totals[r] += ms[chosen[r]] * count);
  frees.forEach((f) => f());
}
console.log(
  `sum over the model's convs (auto's choice): ${
    runtimes.map((r, i) => `${r.label}${totals[i].toFixed(1)} ms`).join(", ")
  }`,
);
