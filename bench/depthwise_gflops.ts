/**
 * `deno run -A bench/depthwise_gflops.ts [--no-tfjs]`: GFLOP/s of the `depthwiseConv2d` kernel
 * (relaxed-SIMD and plain-SIMD builds, one thread, bias + relu6 fused) on MobileNetV2's depthwise
 * layers at batch 1, beside the single-core SIMD peak loop (re-measured next to each shape, so
 * the ratio holds better on a loaded machine) and TF.js wasm's `tf.depthwiseConv2d` (XNNPACK)
 * followed by the bias add and relu6 (as its layer runs them) on the same inputs.
 * Flops = 2 · outH · outW · C · kh · kw. Each engine output is checked against TF.js's (≤ 1e-4)
 * before timing.
 */
import { instantiateKernels, type KernelRuntime } from "../packages/engine/src/wasm/kernels.ts";
import {
  depthwiseConv2dParams,
  depthwiseKernelArgs,
} from "../packages/engine/src/kernels/depthwise_conv_reference.ts";
import { ActivationCode } from "../packages/engine/src/activations.ts";
import { Rng } from "../packages/engine/testing/random.ts";
import { sampleFor, summarize } from "./timing.ts";
import { DEPTHWISE_SHAPES } from "./kernels_section.ts";

// The shapes are the report's (`kernels_section.ts`), so both measure the same layers.
const SHAPES = DEPTHWISE_SHAPES;

const BUDGET_MS = 600;
const withTfjs = !Deno.args.includes("--no-tfjs");

/** Median ms per call of `fn` after a warm-up (V8 tiers WebAssembly up while warming). */
function timeMs(fn: () => void): number {
  sampleFor(fn, 200, 3);
  return summarize(sampleFor(fn, BUDGET_MS, 5)).medianMs;
}

const rng = new Rng(15);
const runtimes: KernelRuntime[] = [instantiateKernels(), instantiateKernels("simd")];

/** The single-core SIMD peak (fused multiply-add loop), GFLOP/s, measured now. */
function peakNow(budgetMs = 150): number {
  const { kernels, heap } = runtimes[0];
  const s = heap.alloc(64);
  heap.f32(s, 8).fill(1e-7);
  const iterations = 200_000;
  const ms = summarize(sampleFor(() => kernels.simdPeakFma(iterations, s), budgetMs, 5)).medianMs;
  heap.free(s);
  return (iterations * 96) / (ms * 1e6);
}
peakNow(); // warm-up
console.log(`single-core SIMD peak (fused madd loop): ${peakNow(500).toFixed(1)} GFLOP/s`);
console.log(
  "(the peak is re-measured beside every shape: its column keeps the ratio under load)\n",
);

// deno-lint-ignore no-explicit-any
let tf: any = null;
if (withTfjs) {
  const backends = await import("./tfjs_backends.ts");
  await backends.useTfjsBackend("wasm");
  tf = backends.tf;
}

const header = [
  "shape",
  "role",
  "MFLOP",
  "peak",
  "relaxed",
  "% of peak",
  "simd",
  ...(tf ? ["TF.js wasm"] : []),
];
const rows: string[][] = [];
for (const s of SHAPES) {
  const pad = "same" as const;
  const p = depthwiseConv2dParams(1, [s.size, s.size, s.c], 1, [3, 3], [s.stride, s.stride], [
    1,
    1,
  ], pad);
  const flops = 2 * p.outH * p.outW * s.c * 9;
  const x = rng.floats(s.size * s.size * s.c);
  const kernel = rng.floats(9 * s.c, -0.3, 0.3);
  const bias = rng.floats(s.c);
  const outN = p.outH * p.outW * s.c;
  const cells: string[] = [];
  const peak = peakNow();
  let engineOut: Float32Array | null = null;
  for (const { kernels, heap } of runtimes) {
    const px = heap.upload(x), pk = heap.upload(kernel), pb = heap.upload(bias);
    const py = heap.alloc(outN * 4);
    const args = depthwiseKernelArgs(p);
    const run = () => kernels.depthwiseConv2d(px, pk, pb, py, 0, ...args, ActivationCode.Relu6, 0);
    const ms = timeMs(run);
    engineOut ??= heap.f32(py, outN).slice();
    const gflops = flops / (ms * 1e6);
    cells.push(gflops.toFixed(1));
    if (cells.length === 1) cells.push(`${(100 * gflops / peak).toFixed(0)} %`);
    [px, pk, pb, py].forEach((q) => heap.free(q));
  }
  if (tf) {
    const tx = tf.tensor4d(x, [1, s.size, s.size, s.c]);
    const tk = tf.tensor4d(kernel, [3, 3, s.c, 1]);
    const tb = tf.tensor1d(bias);
    const run = () => {
      const y = tf.tidy(() =>
        tf.clipByValue(
          tf.add(tf.depthwiseConv2d(tx, tk, s.stride, "same"), tb),
          0,
          6,
        )
      );
      y.dataSync();
      return y;
    };
    const ref = run();
    const want = ref.dataSync() as Float32Array;
    ref.dispose();
    let d = 0;
    for (let i = 0; i < outN; i++) d = Math.max(d, Math.abs(want[i] - engineOut![i]));
    if (!(d <= 1e-4)) throw new Error(`${s.role}: engine vs TF.js max |Δ| = ${d}`);
    const ms = timeMs(() => run().dispose());
    cells.push((flops / (ms * 1e6)).toFixed(1));
    tx.dispose();
    tk.dispose();
    tb.dispose();
  }
  rows.push([
    `${s.size}×${s.size}×${s.c} s${s.stride}`,
    s.role,
    (flops / 1e6).toFixed(1),
    peak.toFixed(1),
    ...cells,
  ]);
}

const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]) => "| " + r.map((v, i) => v.padEnd(widths[i])).join(" | ") + " |";
console.log("depthwiseConv2d 3×3 same, batch 1, bias + relu6 fused: GFLOP/s");
console.log(line(header));
console.log("| " + widths.map((w) => "-".repeat(w)).join(" | ") + " |");
for (const r of rows) console.log(line(r));
