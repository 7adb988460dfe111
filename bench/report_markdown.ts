/** Renders the bench report (`bench/results.json`) as Markdown tables (`bench/RESULTS.md`). */
import {
  CONTENDED_RETRIES,
  CONTENDED_WAIT_MS,
  CORES_FREE_FRACTION,
  SETTLE_MS,
} from "./core_probe.ts";
import type { KernelResult, PeakResult } from "./kernels_section.ts";
import type { LoadResult } from "./load_section.ts";
import type { GraphMemoryResult } from "./graph_memory_section.ts";
import type { MemoryProbe } from "./memory_probe.ts";
import type { ModelResult } from "./models_section.ts";
import { ORT_PEER_LABELS, ORT_PEER_THREADS, ORT_PEERS, type OrtPeerName } from "./ort_peers.ts";
import { renderTraining, type TrainingResult, trainingTargets } from "./training_section.ts";

/** Everything one report run measured. */
export interface BenchReport {
  date: string;
  mode: "quick" | "default" | "full";
  durationSeconds: number;
  environment: Record<string, string | number | boolean>;
  peak: PeakResult;
  kernels: KernelResult[];
  models: ModelResult[];
  loads: LoadResult[];
  memory: MemoryProbe[];
  /** Activation memory of a deep residual graph (absent in reports before issue 14). */
  graphMemory?: GraphMemoryResult;
  /** Training against PyTorch's figures (absent in reports before 2026-12-03 and without it). */
  training?: TrainingResult;
  targets: TargetResult[];
}

/** One issue target and whether this run met it. */
export interface TargetResult {
  target: string;
  /** The measured value(s) it was judged on. */
  measured: string;
  met: boolean;
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const int = (x: number) => Math.round(x).toLocaleString("en-US");
const rate = (x: number) => x >= 100 ? int(x) : x >= 10 ? f1(x) : f2(x);

/** The item with the lowest `value` (undefined values skipped), and that value; undefined if none. */
function lowest<T>(
  items: readonly T[],
  value: (item: T) => number | undefined,
): { r: T; x: number } | undefined {
  let w: { r: T; x: number } | undefined;
  for (const r of items) {
    const x = value(r);
    if (x !== undefined && (!w || x < w.x)) w = { r, x };
  }
  return w;
}

/** Judges the issue's targets on a report's numbers. */
export function evaluateTargets(
  models: ModelResult[],
  kernels: KernelResult[],
  peak: PeakResult,
  training?: TrainingResult,
): TargetResult[] {
  const out: TargetResult[] = [];
  type Key = "speedupVsWasm" | "speedupVsCpu" | "threadsSpeedupVsWasm" | "threadsSpeedupVsCpu";
  const worst = (rs: ModelResult[], key: Key) =>
    rs.reduce((w, r) => ((r[key] ?? Infinity) < (w[key] ?? Infinity) ? r : w));
  const describe = (r: ModelResult, key: Key) =>
    `min ${f2(r[key] ?? NaN)}× (${r.label}, batch ${r.batch})`;
  const judge = (target: string, rs: ModelResult[], threshold: number, vs: "Wasm" | "Cpu") => {
    if (!rs.length) return;
    const single = `speedupVs${vs}` as Key, threaded = `threadsSpeedupVs${vs}` as Key;
    const w = worst(rs, single);
    out.push({
      target,
      measured: `1 thread: ${describe(w, single)}`,
      met: w[single]! >= threshold,
    });
    if (rs.some((r) => r[threaded] !== undefined)) {
      const t = worst(rs, threaded);
      out.push({
        target: `${target} — with kernel threads`,
        measured: `${t.threads} threads: ${describe(t, threaded)}`,
        met: t[threaded]! >= threshold,
      });
    }
  };
  judge(
    "text models ≥ 1.5× TF.js wasm at batch 1 and 64",
    models.filter((r) => r.family === "text" && (r.batch === 1 || r.batch === 64)),
    1.5,
    "Wasm",
  );
  judge(
    "CNNs ≥ 1.0× TF.js wasm (batch 1, 8, 64)",
    models.filter((r) => r.family === "cnn"),
    1.0,
    "Wasm",
  );
  // Issue 7's models; the keras.applications rows (issue 15) report where they stand.
  judge("≥ 20× TF.js cpu everywhere", models.filter((r) => r.family !== "application"), 20, "Cpu");
  judge(
    "MobileNetV2, ResNet50, InceptionV3 ≥ 1.5× TF.js wasm at batch 1 and 8",
    models.filter((r) => r.family === "application" && (r.batch === 1 || r.batch === 8)),
    1.5,
    "Wasm",
  );
  out.push(...threadScalingTargets(models));
  out.push(...ortTargets(models));
  const square = kernels.find((k) => k.kind === "gemm" && k.shape === "512x512x512");
  if (square) {
    out.push({
      target: "GEMM ≥ 70 % of the measured single-core SIMD peak (512³)",
      measured: `${f1(square.engineGflops)} GFLOP/s = ${f1(square.percentOfPeakNow)} % of the ` +
        `peak measured around it (${f1(square.peakNowGflops)}); ${f1(square.percentOfPeak)} % ` +
        `of the run's best peak (${f1(peak.peakGflops)})`,
      met: square.percentOfPeakNow >= 70,
    });
  }
  // Issue 18: every GEMM and Conv2D shape; a Conv2D counts at the rate of what `auto` runs
  // (Winograd's effective GFLOP/s where it is measured).
  const least = lowest(
    kernels.filter((k) => k.kind !== "depthwise"),
    (k) => 100 * Math.max(k.engineGflops, k.engineWinogradGflops ?? 0) / k.peakNowGflops,
  );
  if (least) {
    out.push({
      target: "every GEMM and Conv2D shape ≥ 85 % of the SIMD peak measured around it",
      measured: `min ${f1(least.x)} % (${least.r.kind} ${least.r.shape}, ${least.r.role})`,
      met: least.x >= 85,
    });
  }
  if (training) out.push(...trainingTargets(training));
  return out;
}

/**
 * Issue 18's "2 threads ≥ 1.7× 1 thread for feed-forward models at batch ≥ 8": the engine's
 * threaded samples/s ÷ its single-threaded ones on every non-recurrent row of batch ≥ 8.
 */
function threadScalingTargets(models: ModelResult[]): TargetResult[] {
  const worst = lowest(
    models,
    (r) =>
      r.family === "text" || r.batch < 8 || r.threads !== 2 || !r.engineThreads
        ? undefined
        : r.engineThreads.samplesPerSecond / r.engine.samplesPerSecond,
  );
  if (!worst) return [];
  const cores = (r: ModelResult) =>
    r.coresFree === undefined ? "" : `; ${f2(r.coresFree)} cores free around it`;
  const busy = models.filter((r) =>
    r.family !== "text" && r.batch >= 8 && r.threads === 2 && r.coresFree !== undefined &&
    r.coresFree < 2 * CORES_FREE_FRACTION
  );
  return [{
    target: "2 threads ≥ 1.7× 1 thread for feed-forward models at batch ≥ 8",
    measured: `min ${f2(worst.x)}× (${worst.r.label}, batch ${worst.r.batch}${cores(worst.r)})` +
      (busy.length
        ? `; ${busy.length} row${busy.length > 1 ? "s" : ""} kept fewer than ` +
          `${f1(2 * CORES_FREE_FRACTION)} cores free after ${CONTENDED_RETRIES} re-measures`
        : ""),
    met: worst.x >= 1.7,
  }];
}

/**
 * Engine samples/s ÷ an ONNX Runtime column's, at equal threads (the 2-thread columns against
 * the engine's threaded column when it ran 2 threads); undefined when either is missing.
 */
export function ortRatio(m: ModelResult, peer: OrtPeerName): number | undefined {
  const theirs = m.ort?.[peer];
  if (!theirs) return undefined;
  const mine = ORT_PEER_THREADS[peer] === 1
    ? m.engine
    : m.threads === ORT_PEER_THREADS[peer]
    ? m.engineThreads
    : undefined;
  return mine ? mine.samplesPerSecond / theirs.samplesPerSecond : undefined;
}

/** Issue 18's targets against ONNX Runtime (rows that ran its columns). */
function ortTargets(models: ModelResult[]): TargetResult[] {
  const out: TargetResult[] = [];
  const rows = models.filter((m) => m.ort);
  const worst = (peer: OrtPeerName, rs: ModelResult[]) => lowest(rs, (r) => ortRatio(r, peer));
  for (const peer of ["ortWeb1", "ortWeb2"] as const) {
    const w = worst(peer, rows);
    if (!w) continue;
    out.push({
      target: `≥ 1.5× ${ORT_PEER_LABELS[peer]} at equal threads (every model and batch)`,
      measured: `min ${f2(w.x)}× (${w.r.label}, batch ${w.r.batch})`,
      met: w.x >= 1.5,
    });
  }
  const seeds = rows.filter((m) => m.family === "cnn" || m.family === "text");
  for (const peer of ["ortNode1", "ortNode2"] as const) {
    const w = worst(peer, seeds);
    if (!w) continue;
    out.push({
      target: `within 2.5× of ${ORT_PEER_LABELS[peer]} on the seeds' models (ratio ≥ 0.4)`,
      measured: `min ${f2(w.x)}× (${w.r.label}, batch ${w.r.batch})`,
      met: w.x >= 0.4,
    });
  }
  return out;
}

/** The ONNX Runtime table: samples/s of every column and the engine's ratio at equal threads. */
function renderOrt(rows: ModelResult[]): string[] {
  const peers = ORT_PEERS.filter((p) => rows.some((m) => m.ort?.[p] || m.ortFailures?.[p]));
  const nThreads = rows.find((m) => m.threads)?.threads;
  return [
    "## ONNX Runtime: the same models and weights (exported by `@scratchnet/onnx`)",
    "",
    "Each model is exported to ONNX (opset 17, channels-last with Transposes around the " +
    "convolutions) and run by onnxruntime-node (native, from its npm package; " +
    "`intraOpNumThreads` 1 or 2) and onnxruntime-web (wasm SIMD; each thread count in its own " +
    "worker, which times its own calls) in the same interleaved rounds as the engine and " +
    "TF.js. Outputs are checked against the engine's (≤ 1e-4) before timing; `max Δ ORT` is " +
    "the largest difference seen. Samples/s of the median call; `× X` = engine ÷ X at equal " +
    "threads (the 2-thread columns against the engine's threaded column). The text models' " +
    "padding mask becomes the recurrent operators' `sequence_lens`, so ONNX Runtime stops " +
    "each row at its last real token; the engine likewise runs each step's recurrent product " +
    "only for the rows still running (rows ordered by length) and skips steps that are " +
    "padding for the whole batch.",
    "",
    table(
      [
        "model",
        "batch",
        "engine",
        ...(nThreads ? [`engine ${nThreads} thr`] : []),
        ...peers.map((p) => ORT_PEER_LABELS[p]),
        ...peers.map((p) => `× ${ORT_PEER_LABELS[p]}`),
        "max Δ ORT",
      ],
      rows.map((m) => [
        m.label,
        String(m.batch),
        rate(m.engine.samplesPerSecond),
        ...(nThreads ? [m.engineThreads ? rate(m.engineThreads.samplesPerSecond) : "—"] : []),
        ...peers.map((p) =>
          m.ort?.[p] ? rate(m.ort[p]!.samplesPerSecond) : m.ortFailures?.[p] ?? "—"
        ),
        ...peers.map((p) => {
          const x = ortRatio(m, p);
          return x === undefined ? "—" : f2(x);
        }),
        m.maxAbsDiffVsOrt === undefined ? "—" : m.maxAbsDiffVsOrt.toExponential(1),
      ]),
    ),
    "",
  ];
}

function table(head: string[], rows: string[][], align?: string[]): string {
  const sep = align ?? head.map((_, i) => (i === 0 ? "---" : "---:"));
  return [head, sep, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

/** The Markdown document. */
export function renderMarkdown(r: BenchReport): string {
  const env = r.environment;
  const lines: string[] = [];
  lines.push(`# scratchnet benchmark results`);
  lines.push("");
  lines.push(
    `Generated by \`deno task bench:report${
      r.mode === "default" ? "" : ` --${r.mode}`
    }\` on ${r.date} in ${int(r.durationSeconds)} s. ` +
      `Machine: ${env.cpu} (${env.cores} cores), Deno ${env.deno}, V8 ${env.v8}; ` +
      `engine kernels: ${env.kernelVariant} build; TF.js ${env.tfjs} wasm backend: SIMD ${env.tfjsWasmSimd}, ` +
      `threads ${env.tfjsWasmThreads}. Load average before/after: ${env.loadBefore} / ${env.loadAfter} ` +
      `(the machine is shared, so absolute numbers move between runs; ratios come from ` +
      `interleaved rounds of one run).`,
  );
  lines.push("");
  lines.push(`## Targets`);
  lines.push("");
  lines.push(table(
    ["target", "measured", "met"],
    r.targets.map((t) => [t.target, t.measured, t.met ? "yes" : "**no**"]),
    ["---", "---", "---"],
  ));
  lines.push("");
  lines.push(`## Models: throughput (samples/s, median call) and speed-up of the engine`);
  lines.push("");
  lines.push(
    "Engine, TF.js wasm (XNNPACK) and TF.js cpu run the same spec, weights and inputs; " +
      "`× wasm` / `× cpu` = engine samples/s ÷ theirs. The engine column is single-threaded " +
      "(the default); `thr` columns run it on n threads: batches of ≥ n samples on predict " +
      "replicas (`model.setPredictThreads(n)`: workers holding their own copy of the model, each " +
      "running whole forward passes on a share of the batch), a single sample with " +
      "`setKernelThreads(n)` (each layer's kernel calls split over workers on a shared memory). " +
      "The threaded engine is a second copy of the model whose replicas and kernel threads start " +
      "once per model and stay up through every round, as in a server, while the one-thread " +
      "contenders run with the kernel threads suspended. " +
      "Threads only pay when another core is idle: `n thr ÷ 1` is the threaded column ÷ the " +
      "single-threaded one, and `cores free` the cores the kernel threads had between them " +
      "around the rounds (the SIMD peak loop on every thread at once for 40 ms, its best call " +
      "against one thread's, before and after the rounds, the lower; 2.00 = both cores). " +
      "Every timed round of a " +
      "threaded row starts once that probe finds the cores free (waiting up to " +
      `${SETTLE_MS / 1000} s): a peer's thread pool may still spin right after its calls. ` +
      "Rows with fewer than " +
      `${CORES_FREE_FRACTION} × n cores free (another tenant of the machine held one) are ` +
      `measured again after ${CONTENDED_WAIT_MS / 1000} s, at most ${CONTENDED_RETRIES} times, ` +
      "and the attempt with the most cores free is kept (marked * with the number of attempts). " +
      "TF.js cpu gets fewer calls; " +
      `cells marked † timed TF.js cpu on a slice of the batch (samples/s extrapolated). ` +
      "`max Δ` is the largest absolute difference between the engine's and TF.js wasm's outputs. " +
      'The engine runs with the default `convAlgorithm: "auto"`: Winograd for the 3×3…7×7 convs ' +
      "with ≥ 8 input channels, direct summation for the first conv on 3 channels — `max Δ` " +
      "shows its outputs still match. The residual CNN is a Keras Functional graph (Add merges " +
      "of each block's input) built in TF.js with `tf.model`; the engine runs the same config " +
      "and weights through its graph executor (outputs checked ≤ 1e-4 before timing).",
  );
  lines.push("");
  const threaded = r.models.some((m) => m.engineThreads);
  const nThreads = r.models.find((m) => m.threads)?.threads ?? 1;
  const apps = r.models.filter((m) => m.family === "application");
  const chains = r.models.filter((m) => m.family !== "application");
  lines.push(table(
    [
      "model",
      "batch",
      "engine",
      ...(threaded ? [`engine ${nThreads} thr`, `${nThreads} thr ÷ 1`, "cores free"] : []),
      "TF.js wasm",
      "TF.js cpu",
      "× wasm",
      "× cpu",
      ...(threaded ? [`× wasm (${nThreads} thr)`, `× cpu (${nThreads} thr)`] : []),
      "engine ms/call",
      "max Δ",
    ],
    chains.map((m) => [
      m.label,
      String(m.batch),
      rate(m.engine.samplesPerSecond),
      ...(threaded
        ? [m.engineThreads ? rate(m.engineThreads.samplesPerSecond) : "—", ...threadCells(m)]
        : []),
      rate(m.tfjsWasm.samplesPerSecond),
      rate(m.tfjsCpu.samplesPerSecond) + (m.tfjsCpu.samplesPerCall < m.batch ? " †" : ""),
      f2(m.speedupVsWasm),
      f1(m.speedupVsCpu),
      ...(threaded
        ? [
          m.threadsSpeedupVsWasm === undefined ? "—" : f2(m.threadsSpeedupVsWasm),
          m.threadsSpeedupVsCpu === undefined ? "—" : f1(m.threadsSpeedupVsCpu),
        ]
        : []),
      m.engine.medianMs.toFixed(m.engine.medianMs < 10 ? 3 : 1),
      m.maxAbsDiffVsWasm.toExponential(1),
    ]),
  ));
  lines.push("");
  const withOrt = r.models.filter((m) => m.ort);
  if (withOrt.length) lines.push(...renderOrt(withOrt));
  if (r.training) lines.push(...renderTraining(r.training));
  if (apps.length) lines.push(...renderApplications(apps, r.mode), "");
  const short = chains.filter((m) => m.speedupVsCpu < 20);
  if (short.length) {
    lines.push(
      `Rows under 20× TF.js cpu, with the engine's GFLOP/s (model flops × samples/s) and what ` +
        `20× would take, against the ${f1(r.peak.peakGflops)} GFLOP/s single-core peak:`,
    );
    lines.push("");
    for (const m of short) {
      const have = m.flopsPerSample * m.engine.samplesPerSecond / 1e9;
      const need = 20 * m.flopsPerSample * m.tfjsCpu.samplesPerSecond / 1e9;
      lines.push(
        `- ${m.label}, batch ${m.batch}: ${f1(m.speedupVsCpu)}× — engine ${f1(have)} GFLOP/s ` +
          `(${f1(100 * have / r.peak.peakGflops)} % of peak); 20× needs ${f1(need)} GFLOP/s ` +
          `(${f1(100 * need / r.peak.peakGflops)} % of one core's peak).`,
      );
    }
    lines.push("");
  }
  lines.push(`## Kernels: GFLOP/s against the measured SIMD peak`);
  lines.push("");
  lines.push(
    `Single-core SIMD peak (register-resident f32x4 loop, 12 chains, \`wasm/assembly/peak.ts\`): ` +
      `**${f1(r.peak.mulAddGflops)} GFLOP/s** with separate multiply + add, ` +
      `${f1(r.peak.fmaGflops)} GFLOP/s with relaxed-SIMD fused multiply-add; % of peak divides ` +
      `by the larger. "peak around it" re-measures the peak loop right before and after each ` +
      `kernel: on a shared machine other jobs slow both alike, so "% of that" is the kernel's ` +
      `efficiency at that moment. Best of repeated timed blocks for every kernel (capability, ` +
      `not median). ` +
      `"plain SIMD" is the fallback build for runtimes without relaxed SIMD. The GEMM rows time ` +
      `\`gemm\`, except the LSTM's batch-1 step, which times what that step runs: ` +
      `\`rnnRowProduct\` on the recurrent kernel packed once by \`rnnPackRowKernel\` (the same ` +
      `sums). The Conv2D engine columns ` +
      `time the direct sum (\`conv2d\`); "Winograd (eff.)" times \`conv2dWinograd\` (relaxed ` +
      `build, F(4×4, 3×3) on 6×6 tiles, F(4×4, 5×5) / F(2×2, 7×7) on 8×8) on the same inputs where ` +
      `\`convAlgorithm: "auto"\` picks it, as *effective* GFLOP/s: the direct sum's flops ÷ its ` +
      `time. It does fewer multiplies than that, so it can exceed the SIMD peak; "—" where the ` +
      `engine stays direct. \`depthwise\` rows (issue 15) time the \`depthwiseConv2d\` kernel ` +
      `(3×3 same, bias + relu6 fused, flops = 2 · outH · outW · C · 9) on MobileNetV2's depthwise ` +
      `layers at batch 1 against TF.js wasm's \`tf.depthwiseConv2d\` + bias + relu6 on the same ` +
      `inputs (outputs checked ≤ 1e-4); the GEMM rows above give the GEMM peak beside them.`,
  );
  lines.push("");
  lines.push(table(
    [
      "kernel",
      "shape",
      "role",
      "engine GFLOP/s",
      "% of peak",
      "peak around it",
      "% of that",
      "plain SIMD",
      "TF.js wasm",
      "Winograd (eff.)",
    ],
    r.kernels.map((k) => [
      k.kind,
      k.shape,
      k.role,
      f1(k.engineGflops),
      f1(k.percentOfPeak),
      f1(k.peakNowGflops),
      f1(k.percentOfPeakNow),
      f1(k.enginePlainGflops),
      f1(k.tfjsWasmGflops),
      k.engineWinogradGflops === undefined ? "—" : f1(k.engineWinogradGflops),
    ]),
    ["---", "---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"],
  ));
  const depthwise = r.kernels.filter((k) => k.kind === "depthwise");
  const gemm = r.kernels.find((k) => k.kind === "gemm" && k.shape === "512x512x512");
  if (depthwise.length) {
    const lo = Math.min(...depthwise.map((k) => k.engineGflops));
    const hi = Math.max(...depthwise.map((k) => k.engineGflops));
    const pLo = Math.min(...depthwise.map((k) => k.percentOfPeakNow));
    const pHi = Math.max(...depthwise.map((k) => k.percentOfPeakNow));
    const tfLo = Math.min(...depthwise.map((k) => k.tfjsWasmGflops));
    const tfHi = Math.max(...depthwise.map((k) => k.tfjsWasmGflops));
    lines.push("");
    lines.push(
      `DepthwiseConv2D beside the GEMM peak: the engine's depthwise kernel runs at ` +
        `${f1(lo)}–${f1(hi)} GFLOP/s on MobileNetV2's layers (${f1(pLo)}–${f1(pHi)} % of the ` +
        `SIMD peak around it; TF.js wasm ${f1(tfLo)}–${f1(tfHi)})` +
        (gemm
          ? `, against ${f1(gemm.engineGflops)} GFLOP/s for the 512³ GEMM ` +
            `(${f1(gemm.percentOfPeakNow)} %): a depthwise layer does 9 multiply-adds per output ` +
            `and reuses no input across output channels, far below a GEMM's arithmetic intensity.`
          : "."),
    );
  }
  if (r.loads.length) {
    lines.push("");
    lines.push(`## Load time`);
    lines.push("");
    lines.push(
      "`loadModel(path)`: read, parse, validate, build the engine model and upload the weights " +
        "(median of runs after a warm-up load), then the first batch-1 predict.",
    );
    lines.push("");
    lines.push(table(
      ["file", "size", "params", "load ms", "min ms", "first predict ms", "runs"],
      r.loads.map((l) => [
        l.file,
        `${f1(l.bytes / 1e6)} MB`,
        int(l.params),
        f1(l.loadMs),
        f1(l.loadMinMs),
        f2(l.firstPredictMs),
        String(l.runs),
      ]),
    ));
  }
  if (r.memory.length) {
    lines.push("");
    lines.push(`## Peak memory`);
    lines.push("");
    lines.push(
      "Each scenario in a fresh process: peak resident set (Linux VmHWM, includes the Deno " +
        "runtime), resident set after imports, V8 heap in use and the engine's WebAssembly " +
        "memory at the end.",
    );
    lines.push("");
    lines.push(table(
      ["scenario", "peak RSS MB", "baseline RSS MB", "V8 heap MB", "WASM memory MB"],
      r.memory.map((m) => [
        m.scenario,
        m.peakRssMb === null ? "n/a" : f1(m.peakRssMb),
        f1(m.baselineRssMb),
        f1(m.heapUsedMb),
        m.wasmMemoryMb === null ? "—" : f1(m.wasmMemoryMb),
      ]),
    ));
  }
  if (r.graphMemory) lines.push("", ...renderGraphMemory(r.graphMemory));
  lines.push("");
  return lines.join("\n");
}

const mb = (bytes: number) => (bytes / (1024 * 1024)).toFixed(2);

/** The graph-memory section: peak live activations vs the sum of all of them. */
export function renderGraphMemory(g: GraphMemoryResult): string[] {
  const scale = g.batch / g.chunkSamples;
  return [
    `## Graph memory`,
    "",
    `${g.model} (${g.layers} layers) predicted at batch ${g.batch}: the engine's executor frees ` +
    `each activation after its last reader, so the activations alive at once (peak) stay far ` +
    `under the sum of every activation the graph produces (total: what keeping them all would ` +
    `take). \`model.lastPredictMemory\` describes the last predict chunk: predict ran the batch ` +
    `in cache-sized chunks of ${g.chunkSamples} samples; the batch row scales the chunk ×${
      f1(scale)
    } (one chunk of the whole batch).`,
    "",
    table(
      ["graph memory", "samples", "peak live MB", "all activations MB", "all ÷ peak"],
      [
        [
          "per sample (batch-1 predict)",
          "1",
          mb(g.perSamplePeakBytes),
          mb(g.perSampleTotalBytes),
          f1(g.perSampleTotalBytes / g.perSamplePeakBytes),
        ],
        [
          `predict chunk (batch ${g.batch})`,
          String(g.chunkSamples),
          mb(g.peakBytes),
          mb(g.totalBytes),
          f1(g.ratio),
        ],
        [
          `batch ${g.batch} in one chunk (scaled)`,
          String(g.batch),
          mb(g.peakBytes * scale),
          mb(g.totalBytes * scale),
          f1(g.ratio),
        ],
      ],
    ),
  ];
}

/** ms per image from samples/s, to 3 significant-ish digits. */
const msPerImage = (samplesPerSecond: number) => {
  const ms = 1000 / samplesPerSecond;
  return ms >= 100 ? int(ms) : ms >= 10 ? f1(ms) : f2(ms);
};

/**
 * A threaded row's `n thr ÷ 1` and `cores free` cells ("—" where not measured; reports from
 * before the probe have no cores free), the latter marked `*k` when the rounds ran k times.
 */
function threadCells(m: ModelResult): [string, string] {
  const scaling = m.engineThreads
    ? f2(m.engineThreads.samplesPerSecond / m.engine.samplesPerSecond)
    : "—";
  const cores = m.coresFree === undefined
    ? "—"
    : f2(m.coresFree) + (m.remeasured ? ` *${m.remeasured + 1}` : "");
  return [scaling, cores];
}

/**
 * The keras.applications section (issue 15): ms per image of the engine, TF.js wasm and TF.js
 * cpu, with the engine's speed-up; TF.js cpu cells marked † (timed on one image of the batch)
 * and ‡ (a single timed call).
 */
export function renderApplications(apps: ModelResult[], mode: BenchReport["mode"]): string[] {
  const threaded = apps.some((m) => m.engineThreads);
  const nThreads = apps.find((m) => m.threads)?.threads ?? 1;
  const sizes = [...new Set(apps.map((m) => m.inputSize))].filter((s) => s !== undefined);
  const reduced = mode === "quick";
  const cpuCell = (m: ModelResult) =>
    msPerImage(m.tfjsCpu.samplesPerSecond) +
    (m.tfjsCpu.samplesPerCall < m.batch ? " †" : "") +
    (m.tfjsCpu.calls === 1 ? " ‡" : "");
  return [
    `## keras.applications replicas: ms per image`,
    "",
    "MobileNetV2 (α = 1), ResNet50 and InceptionV3 as built by " +
    "`packages/engine/testing/tfjs_applications.ts` (Keras's layer lists, 1000 classes, random " +
    "weights with calibrated BatchNormalization statistics) in TF.js with `tf.model`; the engine " +
    "runs the same config and weights from `specFromTfjs`, its outputs checked against TF.js " +
    "wasm's (max |Δ| ≤ 1e-4) before timing. Median call ÷ batch; `× wasm` / `× cpu` = their " +
    "ms per image ÷ the engine's (> 1: the engine is faster). " +
    (reduced
      ? `**\`--quick\` runs them at a reduced input of ${
        sizes.join(", ")
      } px** (Keras's defaults, 224 / 299, in the default and \`--full\` modes). `
      : "Full size: 224×224 (MobileNetV2, ResNet50), 299×299 (InceptionV3). ") +
    "TF.js cpu takes seconds per image here, so it runs on fewer calls: † timed on one image " +
    "of the batch (ms per image from that call), ‡ a single timed call (no median). `GFLOP/s` " +
    "is the engine's rate on the models' convolution and Dense flops.",
    "",
    table(
      [
        "model",
        "batch",
        "engine ms/img",
        ...(threaded ? [`engine ${nThreads} thr ms/img`, `${nThreads} thr ÷ 1`, "cores free"] : []),
        "TF.js wasm ms/img",
        "TF.js cpu ms/img",
        "× wasm",
        "× cpu",
        ...(threaded ? [`× wasm (${nThreads} thr)`] : []),
        "engine GFLOP/s",
        "GFLOP/img",
        "max Δ",
      ],
      apps.map((m) => [
        m.label,
        String(m.batch),
        msPerImage(m.engine.samplesPerSecond),
        ...(threaded
          ? [
            m.engineThreads ? msPerImage(m.engineThreads.samplesPerSecond) : "—",
            ...threadCells(m),
          ]
          : []),
        msPerImage(m.tfjsWasm.samplesPerSecond),
        cpuCell(m),
        f2(m.speedupVsWasm),
        f1(m.speedupVsCpu),
        ...(threaded
          ? [m.threadsSpeedupVsWasm === undefined ? "—" : f2(m.threadsSpeedupVsWasm)]
          : []),
        f1(m.flopsPerSample * m.engine.samplesPerSecond / 1e9),
        f2(m.flopsPerSample / 1e9),
        m.maxAbsDiffVsWasm.toExponential(1),
      ]),
    ),
  ];
}
