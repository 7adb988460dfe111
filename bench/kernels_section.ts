/**
 * Kernel-level numbers: the measured single-core SIMD peak (a register-resident f32x4
 * multiply-add loop in AssemblyScript, `wasm/assembly/peak.ts`), and GEMM / Conv2D /
 * DepthwiseConv2D GFLOP/s of the engine (both builds) and TF.js wasm beside it; for the conv
 * shapes where the engine's default (`convAlgorithm: "auto"`) picks Winograd, the
 * `conv2dWinograd` kernel too.
 */
import { instantiateKernels, type KernelRuntime } from "../packages/engine/src/wasm/kernels.ts";
import { winogradFilterTransform } from "../packages/engine/src/kernels/winograd_reference.ts";
import {
  winogradChunkTiles,
  type WinogradPlan,
  winogradPlan,
} from "../packages/engine/src/winograd.ts";
import { Rng } from "../packages/engine/testing/random.ts";
import {
  conv2dKernelArgs,
  conv2dParams,
  conv2dWinogradKernelArgs,
} from "../packages/engine/testing/kernel_cases.ts";
import {
  depthwiseConv2dParams,
  depthwiseKernelArgs,
} from "../packages/engine/src/kernels/depthwise_conv_reference.ts";
import { ActivationCode } from "../packages/engine/src/activations.ts";
import { RnnCell } from "../packages/engine/src/kernels/rnn_codes.ts";
import { bestOf } from "./timing.ts";
import { tf, useTfjsBackend } from "./tfjs_backends.ts";

/** Peak GFLOP/s of the SIMD loops. */
export interface PeakResult {
  /** Separate f32x4.mul + f32x4.add (the reference peak). */
  mulAddGflops: number;
  /** f32x4.relaxed_madd (fused) in the relaxed build; equals mulAdd in the plain build. */
  fmaGflops: number;
  /** The larger of the two: what "% of peak" divides by. */
  peakGflops: number;
}

/** GFLOP/s of one GEMM or Conv2D shape. */
export interface KernelResult {
  kind: "gemm" | "conv2d" | "depthwise";
  /** e.g. `512x512x512` (m×n×k), `b64 32x32x3→32 k3` or `b1 112x112x96 k3 s2`. */
  shape: string;
  /** What the shape is in the seeds' models. */
  role: string;
  flops: number;
  /** Engine, relaxed-SIMD build (the default where supported). */
  engineGflops: number;
  /** Engine, plain-SIMD fallback build. */
  enginePlainGflops: number;
  tfjsWasmGflops: number;
  /** engineGflops / peak. */
  percentOfPeak: number;
  /**
   * The peak loop measured right before and after this kernel (the better of the two): on a
   * machine shared with other jobs both move together, so their ratio is the kernel's efficiency.
   */
  peakNowGflops: number;
  /** engineGflops / peakNowGflops. */
  percentOfPeakNow: number;
  /**
   * Conv2D shapes where `convAlgorithm: "auto"` runs Winograd: the `conv2dWinograd` kernel
   * (relaxed build) in *effective* GFLOP/s — the direct sum's `flops` ÷ its time, so it can
   * exceed the SIMD peak. Absent elsewhere (and in reports from before Winograd).
   */
  engineWinogradGflops?: number;
  /** "F(m×m, r×r)" of that measurement. */
  winograd?: string;
  /** Largest |Winograd − direct| over the largest |direct| output of that shape. */
  winogradRelDiff?: number;
}

const PEAK_ITERATIONS = 2_000_000;

/** Best-of-`repeats` GFLOP/s of both peak loops in `rt` (`iterations` per timed call). */
function peakOf(
  rt: KernelRuntime,
  repeats: number,
  iterations = PEAK_ITERATIONS,
): { mulAdd: number; fma: number } {
  const { kernels, heap } = rt;
  const scratch = heap.alloc(64);
  heap.f32(scratch, 8).fill(1e-7);
  const flops = iterations * 96;
  const mulAdd = flops / bestOf(() => kernels.simdPeakMulAdd(iterations, scratch), repeats) / 1e6;
  const fma = flops / bestOf(() => kernels.simdPeakFma(iterations, scratch), repeats) / 1e6;
  heap.free(scratch);
  return { mulAdd, fma };
}

/** The peak right now: short peak-loop runs (about 3 ms each loop), best of 10. */
function peakNow(rt: KernelRuntime): number {
  const { mulAdd, fma } = peakOf(rt, 10, 200_000);
  return Math.max(mulAdd, fma);
}

/** Measures the SIMD peak with the relaxed build (falls back to plain when unsupported). */
export function measurePeak(quick: boolean): PeakResult {
  const rt = instantiateKernels();
  // Warm up past V8's baseline tier, then keep the best of many short runs.
  peakOf(rt, 5);
  const { mulAdd, fma } = peakOf(rt, quick ? 15 : 40);
  return { mulAddGflops: mulAdd, fmaGflops: fma, peakGflops: Math.max(mulAdd, fma) };
}

interface GemmShape {
  m: number;
  n: number;
  k: number;
  role: string;
  /**
   * The engine runs this product as a batch-1 LSTM step does (k units, n = 4k gate columns):
   * `rnnRowProduct` on the recurrent kernel packed once by `rnnPackRowKernel`, not `gemm`.
   */
  lstmRowPath?: boolean;
}

interface ConvShape {
  batch: number;
  size: number;
  c: number;
  outC: number;
  k: number;
  role: string;
  /** Measured by `--quick` too. */
  quick?: boolean;
}

const GEMM_SHAPES: GemmShape[] = [
  { m: 512, n: 512, k: 512, role: "square reference" },
  { m: 256, n: 256, k: 256, role: "square" },
  { m: 6400, n: 256, k: 64, role: "LSTM-64 input projection, batch 64 × 100 steps" },
  { m: 64, n: 256, k: 64, role: "LSTM-64 recurrent step, batch 64" },
  { m: 64, n: 512, k: 128, role: "LSTM-128 recurrent step, batch 64" },
  { m: 8, n: 256, k: 64, role: "LSTM-64 recurrent step, batch 8" },
  {
    m: 1,
    n: 256,
    k: 64,
    role: "LSTM-64 recurrent step, batch 1 (matrix-vector)",
    lstmRowPath: true,
  },
];

// `--quick` keeps one direct-only shape (3 input channels) and one Winograd shape.
const CONV_SHAPES: ConvShape[] = [
  { batch: 64, size: 32, c: 3, outC: 32, k: 3, role: "seeds CNN conv 1 (k3)", quick: true },
  { batch: 64, size: 16, c: 32, outC: 64, k: 3, role: "seeds CNN conv 2 (k3)", quick: true },
  { batch: 64, size: 8, c: 64, outC: 64, k: 3, role: "seeds CNN conv 3 (k3)" },
  { batch: 64, size: 16, c: 32, outC: 64, k: 5, role: "32-64-64 k5 conv 2" },
  { batch: 64, size: 16, c: 32, outC: 64, k: 7, role: "32-64-64 k7 conv 2" },
  { batch: 64, size: 8, c: 64, outC: 64, k: 7, role: "32-64-64 k7 conv 3" },
  { batch: 64, size: 16, c: 64, outC: 64, k: 7, role: "64-64-64 k7 conv 2" },
  { batch: 1, size: 16, c: 32, outC: 64, k: 3, role: "seeds CNN conv 2, batch 1" },
];

/**
 * Best-of GFLOP/s of `fn` doing `flops`, in blocks of enough calls for ~10 ms, after a warm-up of
 * ≥ 300 ms (V8 compiles WebAssembly with a baseline tier first and optimizes hot code later).
 */
function gflops(fn: () => void, flops: number, quick: boolean): number {
  const inner = Math.max(1, Math.round(1e7 / flops));
  const start = performance.now();
  let calls = 0;
  while (calls < 5 || performance.now() - start < (quick ? 300 : 600)) {
    fn();
    calls++;
  }
  // Best block over a time budget rather than a fixed count: on a shared machine a long call is
  // often preempted, and more blocks give it more chances to run undisturbed.
  let best = Infinity;
  const budget = performance.now() + (quick ? 400 : 1500);
  for (let r = 0; r < 10 || performance.now() < budget; r++) {
    best = Math.min(best, bestOf(fn, 1, inner));
  }
  return flops / best / 1e6;
}

function engineGemm(rt: KernelRuntime, s: GemmShape, quick: boolean): number {
  const { kernels, heap } = rt;
  const rng = new Rng(5);
  const a = heap.upload(rng.floats(s.m * s.k)), b = heap.upload(rng.floats(s.k * s.n));
  const bias = heap.upload(rng.floats(s.n));
  const c = heap.alloc(s.m * s.n * 4);
  // The recurrent row path: the kernel packed once (as a layer packs it at build), no bias (the
  // step adds the input projection, which holds it).
  const packed = s.lstmRowPath ? heap.alloc(kernels.rnnRowKernelBytes(RnnCell.LSTM, s.k)) : 0;
  if (packed) kernels.rnnPackRowKernel(RnnCell.LSTM, b, s.k, packed);
  const r = gflops(
    packed
      ? () => kernels.rnnRowProduct(a, packed, s.k, s.n, c)
      : () => kernels.gemm(a, b, bias, c, s.m, s.n, s.k, 0, 0),
    2 * s.m * s.n * s.k,
    quick,
  );
  [a, b, bias, c, packed].forEach((p) => p && heap.free(p));
  return r;
}

/** GFLOP/s of one Conv2D shape: direct, and (with a plan) Winograd on the same inputs. */
interface ConvMeasurement {
  direct: number;
  /** Effective: the direct sum's flops ÷ the Winograd kernel's time. */
  winograd?: number;
  /** Largest |Winograd − direct| over the largest |direct|. */
  relDiff?: number;
}

/**
 * Times the direct `conv2d` kernel (same padding, relu) on `s` and, when `plan` is given,
 * `conv2dWinograd` on the same inputs with scratch sized as the Conv2D layer sizes it; checks the
 * two outputs agree so a wrong kernel cannot be timed by accident.
 */
function engineConv(
  rt: KernelRuntime,
  s: ConvShape,
  plan: WinogradPlan | null,
  quick: boolean,
): ConvMeasurement {
  const { kernels, heap } = rt;
  const rng = new Rng(6);
  const pad = (s.k - 1) >> 1;
  // "same" padding, stride 1: the kernels' positional geometry from the tests' helpers.
  const p = conv2dParams(
    s.batch,
    [s.size, s.size, s.c],
    s.outC,
    [s.k, s.k],
    [1, 1],
    [1, 1],
    "same",
  );
  const x = heap.upload(rng.floats(s.batch * s.size * s.size * s.c));
  const hostW = rng.floats(s.k * s.k * s.c * s.outC, -0.1, 0.1);
  const w = heap.upload(hostW);
  const bias = heap.upload(rng.floats(s.outC));
  const outFloats = s.batch * s.size * s.size * s.outC;
  const y = heap.alloc(outFloats * 4);
  const kk = s.k * s.k * s.c;
  const scratchFloats = kernels.conv2dScratchFloats(
    s.batch,
    s.size,
    s.size,
    s.c,
    s.size,
    s.size,
    s.k,
    s.k,
    1,
    1,
    1,
    1,
    pad,
    pad,
    kk * 64,
  );
  const scratch = heap.alloc(Math.max(scratchFloats, 1) * 4);
  const flops = 2 * s.batch * s.size * s.size * s.outC * kk;
  const buffers = [x, w, bias, y, scratch];
  try {
    const direct = gflops(
      () => kernels.conv2d(x, w, bias, y, scratch, scratchFloats, ...conv2dKernelArgs(p), 1, 0),
      flops,
      quick,
    );
    if (!plan) return { direct };
    const expected = heap.f32(y, outFloats).slice();
    const u = heap.upload(
      Float32Array.from(winogradFilterTransform(hostW, s.c, s.outC, plan.transforms)),
    );
    buffers.push(u);
    // Chunks of tiles as `Conv2D` sizes them.
    const tiles = s.batch * Math.ceil(s.size / plan.m) ** 2;
    const chunk = winogradChunkTiles(tiles, s.c, s.outC, plan.alpha);
    const wgScratchFloats = kernels.conv2dWinogradScratchFloats(
      chunk,
      s.c,
      s.outC,
      plan.m,
      plan.r,
    );
    const wgScratch = heap.alloc(wgScratchFloats * 4);
    buffers.push(wgScratch);
    heap.f32(y, outFloats).fill(NaN);
    const winograd = gflops(
      () =>
        kernels.conv2dWinograd(
          x,
          u,
          bias,
          y,
          wgScratch,
          wgScratchFloats,
          ...conv2dWinogradKernelArgs(p, plan.m),
          1,
          0,
          0,
          tiles,
        ),
      flops,
      quick,
    );
    const got = heap.f32(y, outFloats);
    let diff = 0, scale = 0;
    for (let i = 0; i < outFloats; i++) {
      // NaN-safe: a cell the kernel never wrote stays NaN and fails the check below.
      const d = Math.abs(got[i] - expected[i]);
      diff = d > diff || Number.isNaN(d) ? d : diff;
      scale = Math.max(scale, Math.abs(expected[i]));
    }
    const relDiff = diff / scale;
    if (!(relDiff < 1e-3)) {
      throw new Error(
        `conv2dWinograd F(${plan.m}×${plan.m}, ${plan.r}×${plan.r}) on ${shapeName(s)}: ` +
          `max |Δ| vs direct ${diff} at output scale ${scale}, expected under 1e-3 of it`,
      );
    }
    return { direct, winograd, relDiff };
  } finally {
    buffers.forEach((p) => heap.free(p));
  }
}

function shapeName(s: ConvShape): string {
  return `b${s.batch} ${s.size}x${s.size}x${s.c}→${s.outC} k${s.k}`;
}

/**
 * GEMM and Conv2D GFLOP/s: engine relaxed + plain builds, TF.js wasm; % of `peak`; Winograd
 * (relaxed build) where `convAlgorithm: "auto"` picks it. `log` gets one line per conv shape.
 */
export async function measureKernels(
  peak: PeakResult,
  quick: boolean,
  log: (message: string) => void = () => {},
): Promise<KernelResult[]> {
  const best = instantiateKernels();
  const plain = instantiateKernels("simd");
  await useTfjsBackend("wasm");
  const out: KernelResult[] = [];
  const gemmShapes = quick ? GEMM_SHAPES.filter((s) => s.m === 512 || s.m === 64) : GEMM_SHAPES;
  for (const s of gemmShapes) {
    const flops = 2 * s.m * s.n * s.k;
    const before = peakNow(best);
    const engine = engineGemm(best, s, quick);
    const now = Math.max(before, peakNow(best));
    // TF.js through a Dense layer (weights as variables, the path its models take). The tidy
    // callbacks return nothing: tf.tidy walks a returned typed array element by element.
    const dense = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [s.k], units: s.n, activation: "linear" })],
    });
    const a = new Rng(7).floats(s.m * s.k);
    const tfjs = gflops(
      () => tf.tidy(() => void (dense.predict(tf.tensor(a, [s.m, s.k])) as tf.Tensor).dataSync()),
      flops,
      quick,
    );
    dense.dispose();
    out.push({
      kind: "gemm",
      shape: `${s.m}x${s.n}x${s.k}`,
      role: s.role,
      flops,
      engineGflops: engine,
      enginePlainGflops: engineGemm(plain, s, quick),
      tfjsWasmGflops: tfjs,
      percentOfPeak: 100 * engine / peak.peakGflops,
      peakNowGflops: now,
      percentOfPeakNow: 100 * engine / now,
    });
  }
  const convShapes = quick ? CONV_SHAPES.filter((s) => s.quick) : CONV_SHAPES;
  for (const s of convShapes) {
    const flops = 2 * s.batch * s.size * s.size * s.outC * s.k * s.k * s.c;
    const plan = winogradPlan("auto", [s.k, s.k], [1, 1], [1, 1], s.c, s.outC);
    const before = peakNow(best);
    const { direct: engine, winograd, relDiff } = engineConv(best, s, plan, quick);
    const now = Math.max(before, peakNow(best));
    // TF.js through a Conv2D layer, fresh input tensor per call (as for Dense above).
    const conv = tf.sequential({
      layers: [tf.layers.conv2d({
        inputShape: [s.size, s.size, s.c],
        filters: s.outC,
        kernelSize: s.k,
        padding: "same",
        activation: "relu",
      })],
    });
    const x = new Rng(8).floats(s.batch * s.size * s.size * s.c);
    const shape = [s.batch, s.size, s.size, s.c];
    const tfjs = gflops(
      () => tf.tidy(() => void (conv.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync()),
      flops,
      quick,
    );
    conv.dispose();
    const r: KernelResult = {
      kind: "conv2d",
      shape: shapeName(s),
      role: s.role,
      flops,
      engineGflops: engine,
      enginePlainGflops: engineConv(plain, s, null, quick).direct,
      tfjsWasmGflops: tfjs,
      percentOfPeak: 100 * engine / peak.peakGflops,
      peakNowGflops: now,
      percentOfPeakNow: 100 * engine / now,
    };
    if (plan && winograd !== undefined) {
      r.engineWinogradGflops = winograd;
      r.winograd = `F(${plan.m}×${plan.m}, ${plan.r}×${plan.r})`;
      r.winogradRelDiff = relDiff;
    }
    log(
      `  conv2d ${r.shape}: direct ${engine.toFixed(1)} GFLOP/s` +
        (r.engineWinogradGflops === undefined ? ", no Winograd plan" : `, Winograd ${r.winograd} ` +
          `${winograd!.toFixed(1)} effective (${(winograd! / engine).toFixed(2)}× direct, ` +
          `max |Δ| ${relDiff!.toExponential(1)} of the output scale)`) +
        `, TF.js wasm ${tfjs.toFixed(1)}`,
    );
    out.push(r);
  }
  return out;
}

/** One MobileNetV2 depthwise layer: input side, channels, stride (3×3, same padding). */
export interface DepthwiseShape {
  size: number;
  c: number;
  stride: number;
  role: string;
  /** Measured by `--quick` too. */
  quick?: boolean;
}

/** MobileNetV2 (α = 1, 224×224) depthwise layers, batch 1 (`bench/depthwise_gflops.ts` too). */
export const DEPTHWISE_SHAPES: DepthwiseShape[] = [
  { size: 112, c: 32, stride: 1, role: "block 1 (expanded_conv)", quick: true },
  { size: 112, c: 96, stride: 2, role: "block 2 (s2)", quick: true },
  { size: 56, c: 144, stride: 1, role: "block 3", quick: true },
  { size: 56, c: 144, stride: 2, role: "block 4 (s2)" },
  { size: 28, c: 192, stride: 1, role: "blocks 5–6" },
  { size: 14, c: 384, stride: 1, role: "blocks 8–10", quick: true },
  { size: 7, c: 960, stride: 1, role: "blocks 15–16" },
];

/**
 * DepthwiseConv2D GFLOP/s (3×3 same, batch 1, bias + relu6 fused; flops = 2 · outH · outW · C ·
 * 9) on MobileNetV2's depthwise shapes: the engine's `depthwiseConv2d` kernel (both builds) and
 * TF.js wasm's `tf.depthwiseConv2d` (XNNPACK) + bias + relu6 as its layer runs them, beside the
 * peak (run's best and re-measured around each shape). The engine's output is checked against
 * TF.js's (≤ 1e-4) before timing.
 */
export async function measureDepthwise(
  peak: PeakResult,
  quick: boolean,
  log: (message: string) => void = () => {},
): Promise<KernelResult[]> {
  const best = instantiateKernels();
  const plain = instantiateKernels("simd");
  await useTfjsBackend("wasm");
  const rng = new Rng(15);
  const out: KernelResult[] = [];
  for (const s of quick ? DEPTHWISE_SHAPES.filter((d) => d.quick) : DEPTHWISE_SHAPES) {
    const p = depthwiseConv2dParams(
      1,
      [s.size, s.size, s.c],
      1,
      [3, 3],
      [s.stride, s.stride],
      [1, 1],
      "same",
    );
    const flops = 2 * p.outH * p.outW * s.c * 9;
    const x = rng.floats(s.size * s.size * s.c);
    const kernel = rng.floats(9 * s.c, -0.3, 0.3);
    const bias = rng.floats(s.c);
    const outN = p.outH * p.outW * s.c;
    const engine = (rt: KernelRuntime): { gflops: number; y: Float32Array } => {
      const { kernels, heap } = rt;
      const px = heap.upload(x), pk = heap.upload(kernel), pb = heap.upload(bias);
      const py = heap.alloc(outN * 4);
      const args = depthwiseKernelArgs(p);
      try {
        const run = () =>
          kernels.depthwiseConv2d(px, pk, pb, py, 0, ...args, ActivationCode.Relu6, 0);
        run();
        const y = heap.f32(py, outN).slice();
        return { gflops: gflops(run, flops, quick), y };
      } finally {
        [px, pk, pb, py].forEach((q) => heap.free(q));
      }
    };
    const tx = tf.tensor4d(x, [1, s.size, s.size, s.c]);
    const tk = tf.tensor4d(kernel, [3, 3, s.c, 1]);
    const tb = tf.tensor1d(bias);
    const tfRun = () =>
      tf.tidy(() => tf.clipByValue(tf.add(tf.depthwiseConv2d(tx, tk, s.stride, "same"), tb), 0, 6));
    let tfjs: number;
    const before = peakNow(best);
    const relaxed = engine(best);
    const now = Math.max(before, peakNow(best));
    try {
      const ref = tfRun();
      const want = ref.dataSync() as Float32Array;
      ref.dispose();
      let d = 0;
      for (let i = 0; i < outN; i++) {
        const e = Math.abs(want[i] - relaxed.y[i]);
        d = e > d || Number.isNaN(e) ? e : d;
      }
      if (!(d <= 1e-4)) {
        throw new Error(`depthwiseConv2d ${s.role}: engine vs TF.js wasm max |Δ| = ${d}`);
      }
      tfjs = gflops(() => void tf.tidy(() => void tfRun().dataSync()), flops, quick);
    } finally {
      tx.dispose();
      tk.dispose();
      tb.dispose();
    }
    const r: KernelResult = {
      kind: "depthwise",
      shape: `b1 ${s.size}x${s.size}x${s.c} k3 s${s.stride}`,
      role: `MobileNetV2 ${s.role}`,
      flops,
      engineGflops: relaxed.gflops,
      enginePlainGflops: engine(plain).gflops,
      tfjsWasmGflops: tfjs,
      percentOfPeak: 100 * relaxed.gflops / peak.peakGflops,
      peakNowGflops: now,
      percentOfPeakNow: 100 * relaxed.gflops / now,
    };
    log(
      `  depthwise ${r.shape}: ${relaxed.gflops.toFixed(1)} GFLOP/s ` +
        `(${r.percentOfPeakNow.toFixed(0)} % of the peak around it, ${now.toFixed(1)}), ` +
        `TF.js wasm ${tfjs.toFixed(1)}`,
    );
    out.push(r);
  }
  return out;
}
