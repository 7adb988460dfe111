/**
 * `deno task bench:report [--quick | --full]`: the performance report of issue 7 — the seeds'
 * CNN and text models at batch 1, 8 and 64 (engine vs TF.js wasm vs TF.js cpu), GEMM and Conv2D
 * GFLOP/s beside the measured SIMD peak (Winograd Conv2D too where the engine picks it), load
 * time of 1 MB and 50 MB `.keras` / `.h5` files and peak memory; a residual CNN (a Functional
 * graph, issue 14) beside them, and the activation memory of a deep residual graph (peak live vs
 * sum of all); keras.applications replicas (MobileNetV2, ResNet50, InceptionV3, issue 15) at
 * batch 1 and 8 in ms per image, and DepthwiseConv2D GFLOP/s on MobileNetV2's shapes beside the
 * peak. Writes `bench/results.json` and `bench/RESULTS.md`.
 *
 * `--quick`: four models (the residual CNN among them), the applications at 96×96, short
 * budgets, 1 MB files only.
 * `--full`: every model combination (27 CNNs, 36 text models; much longer).
 * `--out <dir>`: write the two files elsewhere.
 * `--threads <n>`: threads of the engine's multi-threaded column (default: the core count; 1
 * leaves the column out).
 * `--render <results.json>`: only re-render RESULTS.md (next to the JSON) from a previous run.
 *
 * Selections (`bench/report_args.ts`), e.g. to reproduce one row:
 * `--models <regex>` (model id or label, e.g. `text-bi-lstm-1x64` or `"BiLSTM 1×64"`),
 * `--batches 1,64`, `--peers ortWeb2,ortNode1` (ONNX Runtime columns), `--sections models`
 * (of kernels, models, graph-memory, loads; the SIMD peak always runs). `--ort-timeout <s>`: the
 * time box of one ONNX Runtime measurement (default 120): a column that passes it is dropped for
 * the rest of that model and its cell says "timed out after N s" instead of the report hanging.
 * `--ort-web-reserve <MB>`: wasm memory 2-thread ORT-web starts with (default 2048; 0 brings back
 * the growth that hangs its threads in Deno, `bench/ort_web_worker.ts`).
 * `--help`: the flags; an unknown flag is refused before anything runs.
 */
import { getRuntime, setKernelThreads } from "../packages/engine/mod.ts";
import {
  APPLICATION_CASES,
  applicationCase,
  cnnCase,
  type ModelCase,
  QUICK_APPLICATION_SIZE,
  reportCases,
  residualCnnCase,
  textCase,
} from "../bench/cases.ts";
import { measureGraphMemory } from "../bench/graph_memory_section.ts";
import { measureTraining } from "../bench/training_section.ts";
import { measureDepthwise, measureKernels, measurePeak } from "../bench/kernels_section.ts";
import { measureLoads, writeBenchFiles } from "../bench/load_section.ts";
import type { MemoryProbe } from "../bench/memory_probe.ts";
import { measureModel, type ModelResult } from "../bench/models_section.ts";
import { type BenchReport, evaluateTargets, renderMarkdown } from "../bench/report_markdown.ts";
import {
  checkReportFlags,
  parseSelection,
  REPORT_USAGE,
  selectsModel,
} from "../bench/report_args.ts";
import { ORT_PEER_LABELS } from "../bench/ort_peers.ts";
import { tf, tfjsWasmFlags, useTfjsBackend } from "../bench/tfjs_backends.ts";

const args = Deno.args;
try {
  if (checkReportFlags(args)) {
    console.log(REPORT_USAGE);
    Deno.exit(0);
  }
} catch (e) {
  console.error(`bench:report: ${(e as Error).message}`);
  Deno.exit(2);
}
const renderIndex = args.indexOf("--render");
if (renderIndex >= 0) {
  const json = args[renderIndex + 1];
  const report = JSON.parse(await Deno.readTextFile(json)) as BenchReport;
  // Targets are judged again on the stored numbers, so a target added since the run shows too.
  report.targets = evaluateTargets(report.models, report.kernels, report.peak, report.training);
  const md = json.replace(/[^/]*$/, "RESULTS.md");
  await Deno.writeTextFile(md, renderMarkdown(report));
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", md] }).output();
  console.error(`wrote ${md}`);
  Deno.exit(0);
}
const quick = args.includes("--quick");
const full = args.includes("--full");
const outIndex = args.indexOf("--out");
const outDir = outIndex >= 0 ? args[outIndex + 1] : new URL("../bench/", import.meta.url).pathname;
const threadsIndex = args.indexOf("--threads");
const requestedThreads = threadsIndex >= 0
  ? Number(args[threadsIndex + 1])
  : navigator.hardwareConcurrency;
const selection = parseSelection(args);
const sections = selection.sections;
const started = performance.now();

function log(message: string): void {
  const s = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
  console.error(`[${s}s] ${message}`);
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
}

function cpuName(): string {
  try {
    const m = /model name\s*:\s*(.+)/.exec(Deno.readTextFileSync("/proc/cpuinfo"));
    return m ? m[1].trim() : "unknown";
  } catch {
    return "unknown";
  }
}

async function probeMemory(probeArgs: string[]): Promise<MemoryProbe | null> {
  const probe = new URL("../bench/memory_probe.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", probe, ...probeArgs],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    log(`memory probe ${probeArgs.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
    return null;
  }
  const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop()!;
  return JSON.parse(line) as MemoryProbe;
}

const loadBefore = loadAverage();
await useTfjsBackend("wasm");
const wasmFlags = tfjsWasmFlags();
const runtime = getRuntime();
// Threads in effect where the runtime allows them (1 otherwise); the default stays 1 thread.
const threads = requestedThreads > 1 ? setKernelThreads(requestedThreads) : 1;
setKernelThreads(1);

log("SIMD peak");
const peak = measurePeak(quick);
log(`peak ${peak.mulAddGflops.toFixed(1)} (mul+add) / ${peak.fmaGflops.toFixed(1)} (fma) GFLOP/s`);
const kernels = [];
if (sections.has("kernels")) {
  log("GEMM and Conv2D kernels");
  kernels.push(...await measureKernels(peak, quick, log));
  log("DepthwiseConv2D kernels (MobileNetV2 shapes)");
  kernels.push(...await measureDepthwise(peak, quick, log));
}

// Cases are built when their turn comes: a full-size application holds ~100 MB of weights. Each
// has its id and label up front, for `--models`.
const appSize = quick ? QUICK_APPLICATION_SIZE : undefined;
const cases: { id: string; label: string; make: () => ModelCase }[] = [
  ...(quick
    ? [cnnCase([32, 64, 64], 3), textCase("LSTM", true, 1, 64), textCase("GRU", false, 1, 128)]
    : reportCases(full)).map((c) => ({ id: c.id, label: c.label, make: () => c })),
  // A Functional graph (issue 14): its weights are drawn in TF.js, so after the backend is up.
  { id: "graph-rescnn-2x32", label: "Residual CNN 2 blocks 32 k3", make: () => residualCnnCase(2) },
  // keras.applications replicas (issue 15) at batch 1 and 8; `--quick` shrinks their input.
  ...APPLICATION_CASES.map((name) => ({
    id: `app-${name.toLowerCase()}`,
    label: name,
    make: () => applicationCase(name, appSize),
  })),
].filter((c) => sections.has("models") && selectsModel(selection, c.id, c.label));
const models: ModelResult[] = [];
/** Families run beside ONNX Runtime too. */
const ORT_FAMILIES = new Set<ModelCase["family"]>(["cnn", "text", "graph", "application"]);
/** Seconds each model took (the log's summary of the section). */
const modelSeconds: [string, number][] = [];
for (const { make } of cases) {
  if (tf.getBackend() !== "wasm") await useTfjsBackend("wasm");
  const modelStart = performance.now();
  const c = make();
  log(`model ${c.label}`);
  // ONNX Runtime columns: the same weights exported to ONNX (every family exports).
  const rs = await measureModel(c, quick, threads, ORT_FAMILIES.has(c.family), {
    batches: selection.batches,
    peers: selection.peers,
    ortTimeLimitMs: selection.ortTimeLimitMs,
    ortWebReserveBytes: selection.ortWebReserveBytes,
    log,
  });
  modelSeconds.push([c.label, (performance.now() - modelStart) / 1000]);
  for (const r of rs) {
    log(
      `  batch ${r.batch}: engine ${r.engine.samplesPerSecond.toFixed(0)}/s, ` +
        `×wasm ${r.speedupVsWasm.toFixed(2)}, ×cpu ${r.speedupVsCpu.toFixed(1)}` +
        (r.engineThreads
          ? `; ${threads} threads ${r.engineThreads.samplesPerSecond.toFixed(0)}/s, ` +
            `×wasm ${r.threadsSpeedupVsWasm!.toFixed(2)}, ×cpu ${r.threadsSpeedupVsCpu!.toFixed(1)}`
          : "") +
        (r.ort
          ? "; " +
            [
              ...Object.entries(r.ort).map(([k, v]) => `${k} ${v!.samplesPerSecond.toFixed(0)}/s`),
              ...Object.entries(r.ortFailures ?? {}).map(([k, why]) =>
                `${ORT_PEER_LABELS[k as keyof typeof ORT_PEER_LABELS]} ${why}`
              ),
            ].join(", ")
          : ""),
    );
  }
  models.push(...rs);
}

if (modelSeconds.length) {
  log(
    "seconds per model: " + modelSeconds.map(([label, s]) => `${label} ${s.toFixed(0)}`).join(", "),
  );
}

let training: BenchReport["training"];
if (sections.has("training")) {
  log("training (seeds CNN and BiLSTM-64, 1 and 2 threads)");
  training = await measureTraining(quick, log);
}

let graphMemory: BenchReport["graphMemory"];
if (sections.has("graph-memory")) {
  log("graph memory (deep residual CNN, batch 64)");
  graphMemory = measureGraphMemory(16, 64);
  log(
    `  ${graphMemory.model}: peak ${graphMemory.peakBytes} B vs total ${graphMemory.totalBytes} ` +
      `B (×${graphMemory.ratio.toFixed(1)}) per ${graphMemory.chunkSamples}-sample chunk`,
  );
}

let loads: BenchReport["loads"] = [];
const memory: MemoryProbe[] = [];
const dir = sections.has("loads") ? await Deno.makeTempDir({ prefix: "scratchnet-bench-" }) : "";
if (dir) log("load times");
if (dir) {
  try {
    const files = await writeBenchFiles(dir, quick);
    loads = await measureLoads(files, quick);
    log("peak memory (fresh processes)");
    const scenarios: string[][] = files.map((f) => ["load", f.path]);
    const cnnId = cnnCase([32, 64, 64], 3).id, textId = textCase("LSTM", true, 1, 64).id;
    for (const id of [cnnId, textId]) {
      scenarios.push(["engine", id, "64"], ["tfjs-wasm", id, "64"]);
    }
    for (const s of scenarios) {
      const m = await probeMemory(s);
      if (m) {
        m.scenario = m.scenario.replace(dir + "/", "");
        memory.push(m);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const report: BenchReport = {
  date: new Date().toISOString(),
  mode: quick ? "quick" : full ? "full" : "default",
  durationSeconds: (performance.now() - started) / 1000,
  environment: {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    cpu: cpuName(),
    cores: navigator.hardwareConcurrency,
    kernelVariant: runtime.variant,
    engineThreads: threads,
    tfjs: tf.version.tfjs,
    tfjsWasmSimd: wasmFlags.simd,
    tfjsWasmThreads: wasmFlags.threads,
    loadBefore,
    loadAfter: loadAverage(),
  },
  peak,
  kernels,
  models,
  loads,
  memory,
  graphMemory,
  training,
  targets: evaluateTargets(models, kernels, peak, training),
};

await Deno.mkdir(outDir, { recursive: true });
await Deno.writeTextFile(`${outDir}/results.json`, JSON.stringify(report, null, 2) + "\n");
await Deno.writeTextFile(`${outDir}/RESULTS.md`, renderMarkdown(report));
// Leave the files as `deno fmt` would (they are committed; the repo checks formatting).
await new Deno.Command(Deno.execPath(), {
  args: ["fmt", "--quiet", `${outDir}/results.json`, `${outDir}/RESULTS.md`],
}).output();
for (const t of report.targets) log(`${t.met ? "MET " : "MISS"} ${t.target}: ${t.measured}`);
log(`wrote ${outDir}/results.json and ${outDir}/RESULTS.md`);
