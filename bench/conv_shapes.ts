/**
 * GFLOP/s of every Conv2D shape of ResNet50 (224×224) per convolution method, one kernel thread:
 * `deno run -A bench/conv_shapes.ts [--batch N] [--reps N] [--only 3x3]`. Prints, per shape, the
 * milliseconds and GFLOP/s of the direct kernel (`conv2d`) and of Winograd F(6×6, 3×3) where it
 * applies, the count of such layers in the model, and the SIMD peak measured in the same run, so
 * the weak shapes and the wrong method choices stand out.
 */
import { instantiateKernels } from "../packages/engine/src/wasm/kernels.ts";
import { winogradFilterTransform } from "../packages/engine/src/kernels/winograd_reference.ts";
import { winogradChunkTiles, winogradPlan } from "../packages/engine/src/winograd.ts";
import {
  CONV_SCRATCH_FLOATS,
  convArgs,
  convShape,
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

/** [input side, c, outC, kernel, stride, padding, layers of this shape in ResNet50]. */
const SHAPES: [number, number, number, number, number, "same" | "valid", number][] = [
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

const { kernels, heap } = instantiateKernels();
const rng = new Rng(1);

function time(fn: () => void): number {
  fn();
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

const peakOut = heap.alloc(64);
heap.f32(peakOut, 8).fill(1e-7);
const peakIters = 2_000_000;
const peak = peakIters * 96 / 1e6 / time(() => kernels.simdPeakFma(peakIters, peakOut));
console.log(`SIMD peak (fused madd): ${peak.toFixed(1)} GFLOP/s; batch ${batch}`);

for (const [m, n, k] of [[512, 512, 512], [3136, 256, 64]]) {
  const a = heap.upload(rng.floats(m * k)), b = heap.upload(rng.floats(k * n));
  const c = heap.alloc(m * n * 4);
  const ms = time(() => kernels.gemm(a, b, 0, c, m, n, k, 0, 0));
  console.log(`gemm ${m}x${n}x${k}: ${(2 * m * n * k / 1e6 / ms).toFixed(1)} GFLOP/s`);
  for (const p of [a, b, c]) heap.free(p);
}

let totalMs = 0;
for (const [size, c, outC, k, s, padding, count] of SHAPES) {
  if (only && !`${k}x${k}`.startsWith(only)) continue;
  const g = convShape(batch, [size, size, c], outC, {
    kernelSize: [k, k],
    strides: [s, s],
    dilationRate: [1, 1],
    padding,
  });
  const flops = 2 * batch * g.outH * g.outW * outC * k * k * c;
  const x = heap.upload(rng.floats(batch * size * size * c));
  const wHost = rng.floats(k * k * c * outC, -0.1, 0.1);
  const w = heap.upload(wHost);
  const bias = heap.upload(rng.floats(outC));
  const y = heap.alloc(batch * g.outH * g.outW * outC * 4);
  const kk = k * k * c;
  const pixels = batch * g.outH * g.outW;
  const im2colFloats = kk * Math.min(pixels, Math.max(6, Math.floor(CONV_SCRATCH_FLOATS / kk)));
  const [, h, wd, cc, oh, ow, , ...window] = convArgs(g);
  const sf = kernels.conv2dScratchFloats(batch, h, wd, cc, oh, ow, ...window, im2colFloats);
  const scratch = heap.alloc(Math.max(1, sf) * 4);
  const direct = time(() => kernels.conv2d(x, w, bias, y, scratch, sf, ...convArgs(g), 1, 0));
  let line = `${size}x${size}x${c}→${outC} k${k} s${s} ×${count}: direct ${direct.toFixed(2)} ms ${
    (flops / 1e6 / direct).toFixed(1)
  } GFLOP/s`;
  let best = direct;
  const plan = winogradPlan("winograd", [k, k], [s, s], [1, 1], c, outC);
  if (plan) {
    const u = heap.upload(
      Float32Array.from(winogradFilterTransform(wHost, c, outC, plan.transforms)),
    );
    const tiles = batch * Math.ceil(g.outH / plan.m) * Math.ceil(g.outW / plan.m);
    const chunk = winogradChunkTiles(tiles, c, outC);
    const wsf = kernels.conv2dWinogradScratchFloats(chunk, c, outC);
    const ws = heap.alloc(wsf * 4);
    const wino = time(() =>
      kernels.conv2dWinograd(
        x,
        u,
        bias,
        y,
        ws,
        wsf,
        batch,
        size,
        size,
        c,
        g.outH,
        g.outW,
        outC,
        plan.m,
        g.padTop,
        g.padLeft,
        1,
        0,
      )
    );
    const auto = winogradPlan("auto", [k, k], [s, s], [1, 1], c, outC) ? "auto" : "not auto";
    line += `; winograd F(${plan.m}) ${wino.toFixed(2)} ms ${
      (flops / 1e6 / wino).toFixed(1)
    } eff. GFLOP/s (${auto})`;
    best = auto === "auto" ? wino : direct;
    heap.free(ws);
    heap.free(u);
  }
  totalMs += best * count;
  console.log(line);
  for (const p of [x, w, bias, y, scratch]) heap.free(p);
}
console.log(`sum over ResNet50's convs (auto's choice): ${totalMs.toFixed(1)} ms`);
