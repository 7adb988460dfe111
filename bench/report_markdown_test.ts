import { evaluateTargets, renderMarkdown } from "./report_markdown.ts";
import type { ModelResult } from "./models_section.ts";
import type { KernelResult, PeakResult } from "./kernels_section.ts";
import { summarize } from "./timing.ts";

function contender(samplesPerSecond: number, batch: number) {
  const medianMs = 1000 * batch / samplesPerSecond;
  return {
    medianMs,
    minMs: medianMs,
    meanMs: medianMs,
    calls: 3,
    samplesPerCall: batch,
    samplesPerSecond,
  };
}

function model(family: "cnn" | "text", batch: number, engine: number, wasm: number, cpu: number) {
  const r: ModelResult = {
    id: `${family}-${batch}`,
    family,
    label: `${family} model`,
    batch,
    flopsPerSample: 1e6,
    engine: contender(engine, batch),
    tfjsWasm: contender(wasm, batch),
    tfjsCpu: contender(cpu, batch),
    speedupVsWasm: engine / wasm,
    speedupVsCpu: engine / cpu,
    maxAbsDiffVsWasm: 1e-7,
  };
  return r;
}

const peak: PeakResult = { mulAddGflops: 60, fmaGflops: 62, peakGflops: 62 };
const gemm: KernelResult = {
  kind: "gemm",
  shape: "512x512x512",
  role: "square reference",
  flops: 2 * 512 ** 3,
  engineGflops: 50,
  enginePlainGflops: 40,
  tfjsWasmGflops: 20,
  percentOfPeak: 100 * 50 / 62,
  peakNowGflops: 62,
  percentOfPeakNow: 100 * 50 / 62,
};

/** A report of `models` alone (no kernels, loads or memory), with their targets. */
function modelsReport(models: ModelResult[], targets = evaluateTargets(models, [], peak)) {
  return renderMarkdown({
    date: "2026-01-01T00:00:00Z",
    mode: "default",
    durationSeconds: 60,
    environment: { cpu: "test", cores: 2 },
    peak,
    kernels: [],
    models,
    loads: [],
    memory: [],
    targets,
  });
}

Deno.test("summarize: median of odd and even counts, min and mean", () => {
  const odd = summarize([5, 1, 3]);
  const even = summarize([4, 1, 3, 2]);
  if (odd.medianMs !== 3 || odd.minMs !== 1 || odd.meanMs !== 3 || odd.calls !== 3) {
    throw new Error(JSON.stringify(odd));
  }
  if (even.medianMs !== 2.5) throw new Error(JSON.stringify(even));
});

Deno.test("evaluateTargets judges each target on its worst model and the GEMM share of peak", () => {
  const models = [
    model("text", 1, 3000, 1000, 10), // 3× wasm, 300× cpu
    model("text", 64, 1400, 1000, 10), // 1.4× wasm: misses 1.5×
    model("text", 8, 1000, 1000, 10), // batch 8 does not count for the text target
    model("cnn", 1, 2000, 1000, 150), // 13.3× cpu: misses 20×
  ];
  const targets = evaluateTargets(models, [gemm], peak);
  const met = Object.fromEntries(targets.map((t) => [t.target.split(" ")[0], t.met]));
  if (met.text !== false || met.CNNs !== true || met["≥"] !== false || met.GEMM !== true) {
    throw new Error(JSON.stringify(targets));
  }
  if (!targets[0].measured.includes("1.40×")) throw new Error(targets[0].measured);
});

Deno.test("renderMarkdown lists every model row and marks missed targets", () => {
  const models = [model("cnn", 1, 2000, 1000, 150), model("cnn", 64, 2000, 1000, 150)];
  const md = renderMarkdown({
    date: "2026-01-01T00:00:00Z",
    mode: "quick",
    durationSeconds: 60,
    environment: { cpu: "test", cores: 2 },
    peak,
    kernels: [gemm],
    models,
    loads: [],
    memory: [],
    targets: evaluateTargets(models, [gemm], peak),
  });
  const rows = md.split("\n").filter((l) => l.startsWith("| cnn model |"));
  if (rows.length !== 2) throw new Error(`${rows.length} model rows`);
  if (!md.includes("**no**") || !md.includes("| gemm | 512x512x512 |")) throw new Error(md);
  // Both rows miss 20× cpu: each is explained with the GFLOP/s 20× would take.
  if (!md.includes("- cnn model, batch 64: 13.3× — engine 2.0 GFLOP/s")) throw new Error(md);
});

Deno.test("renderMarkdown shows Winograd effective GFLOP/s in its column, — where absent", () => {
  const direct: KernelResult = {
    ...gemm,
    kind: "conv2d",
    shape: "b64 32x32x3→32 k3",
    role: "first conv",
    engineGflops: 30,
  };
  const winograd: KernelResult = {
    ...direct,
    shape: "b64 16x16x32→64 k7",
    role: "k7 conv",
    engineWinogradGflops: 123.4,
    winograd: "F(2×2, 7×7)",
    winogradRelDiff: 2e-6,
  };
  const md = renderMarkdown({
    date: "2026-01-01T00:00:00Z",
    mode: "quick",
    durationSeconds: 60,
    environment: { cpu: "test", cores: 2 },
    peak,
    kernels: [gemm, direct, winograd],
    models: [],
    loads: [],
    memory: [],
    targets: [],
  });
  const lines = md.split("\n");
  const header = lines.find((l) => l.startsWith("| kernel |"));
  const row = (shape: string) => lines.find((l) => l.includes(`| ${shape} |`));
  if (!header?.endsWith("| TF.js wasm | Winograd (eff.) |")) throw new Error(String(header));
  if (!row("b64 16x16x32→64 k7")?.endsWith("| 20.0 | 123.4 |")) throw new Error(md);
  if (!row("b64 32x32x3→32 k3")?.endsWith("| 20.0 | — |")) throw new Error(md);
  if (!row("512x512x512")?.endsWith("| 20.0 | — |")) throw new Error(md);
});

Deno.test("renderMarkdown shows graph memory per sample, per chunk and scaled to the batch", () => {
  const base = {
    date: "2026-01-01T00:00:00Z",
    mode: "quick" as const,
    durationSeconds: 60,
    environment: { cpu: "test", cores: 2 },
    peak,
    kernels: [],
    models: [],
    loads: [],
    memory: [],
    targets: [],
  };
  if (renderMarkdown(base).includes("## Graph memory")) throw new Error("section without data");
  const mib = 1024 * 1024;
  const md = renderMarkdown({
    ...base,
    graphMemory: {
      model: "Residual CNN 16 blocks 32 k3",
      blocks: 16,
      layers: 69,
      batch: 64,
      chunkSamples: 4,
      peakBytes: 4 * 0.375 * mib,
      totalBytes: 4 * 8 * mib,
      perSamplePeakBytes: 0.375 * mib,
      perSampleTotalBytes: 8 * mib,
      ratio: 8 / 0.375,
    },
  });
  const lines = md.split("\n");
  const row = (start: string) => lines.find((l) => l.startsWith(`| ${start}`));
  if (!md.includes("## Graph memory") || !md.includes("chunks of 4 samples")) throw new Error(md);
  if (
    row("per sample")?.replace(/ +/g, " ") !==
      "| per sample (batch-1 predict) | 1 | 0.38 | 8.00 | 21.3 |"
  ) {
    throw new Error(md);
  }
  if (!row("batch 64 in one chunk")?.includes("| 64 | 24.00 | 512.00 | 21.3 |")) {
    throw new Error(md);
  }
});

Deno.test("renderMarkdown: applications in ms per image with cpu marks; depthwise beside GEMM", () => {
  const app = (batch: number, cpuCalls: number, cpuSamples: number): ModelResult => {
    const r = model("cnn", batch, 20, 10, 0.5); // 50 ms/img, 100 ms/img, 2000 ms/img
    r.family = "application";
    r.id = `app-mobilenetv2-224`;
    r.label = "MobileNetV2 224×224";
    r.inputSize = 224;
    r.flopsPerSample = 6e8;
    r.tfjsCpu = { ...r.tfjsCpu, calls: cpuCalls, samplesPerCall: cpuSamples };
    return r;
  };
  const depthwise: KernelResult = {
    ...gemm,
    kind: "depthwise",
    shape: "b1 112x112x32 k3 s1",
    role: "MobileNetV2 block 1",
    engineGflops: 20,
    tfjsWasmGflops: 7,
    percentOfPeakNow: 100 * 20 / 62,
  };
  const models = [model("cnn", 1, 2000, 1000, 150), app(1, 1, 1), app(8, 1, 1)];
  const md = renderMarkdown({
    date: "2026-01-01T00:00:00Z",
    mode: "default",
    durationSeconds: 60,
    environment: { cpu: "test", cores: 2 },
    peak,
    kernels: [gemm, depthwise],
    models,
    loads: [],
    memory: [],
    targets: evaluateTargets(models, [gemm], peak),
  });
  const expect = (s: string) => {
    if (!md.includes(s)) throw new Error(`missing ${JSON.stringify(s)} in\n${md}`);
  };
  expect("## keras.applications replicas: ms per image");
  expect("| MobileNetV2 224×224 | 1 | 50.0 | 100 | 2,000 ‡ | 2.00 | 40.0 | 12.0 | 0.60 |");
  expect("| MobileNetV2 224×224 | 8 | 50.0 | 100 | 2,000 † ‡ | 2.00 | 40.0 | 12.0 | 0.60 |");
  expect("| depthwise | b1 112x112x32 k3 s1 |");
  expect("DepthwiseConv2D beside the GEMM peak: the engine's depthwise kernel runs at 20.0–20.0");
  // Applications stay out of the samples/s table and of issue 7's "everywhere" target.
  if (md.split("\n").some((l) => l.startsWith("| MobileNetV2 224×224 | 1 | 20 |"))) {
    throw new Error(md);
  }
});

Deno.test("ONNX Runtime columns: ratios at equal threads, targets on the worst row, the table", () => {
  const withOrt = (r: ModelResult, web1: number, web2: number, node1: number, node2: number) => {
    const b = r.batch;
    return {
      ...r,
      engineThreads: contender(r.engine.samplesPerSecond * 1.5, b),
      threads: 2,
      ort: {
        ortWeb1: contender(web1, b),
        ortWeb2: contender(web2, b),
        ortNode1: contender(node1, b),
        ortNode2: contender(node2, b),
      },
      maxAbsDiffVsOrt: 2e-6,
    };
  };
  const a = withOrt(model("cnn", 64, 2000, 900, 10), 1000, 1500, 8000, 12000);
  const b = withOrt(model("text", 1, 800, 16, 1), 1000, 900, 2400, 2000);
  const targets = evaluateTargets([a, b], [], peak);
  const web1 = targets.find((t) => t.target.startsWith("≥ 1.5× ORT-web wasm at"))!;
  // Worst 1-thread row: text, 800 / 1000 = 0.8.
  if (web1.met || !web1.measured.startsWith(`min ${(800 / 1000).toFixed(2)}×`)) {
    throw new Error(JSON.stringify(web1));
  }
  const web2 = targets.find((t) => t.target.startsWith("≥ 1.5× ORT-web wasm 2 thr"))!;
  // 2 threads: engine 1200 / 900 (text) and 3000 / 1500 (cnn): worst 1.33.
  if (web2.met || !web2.measured.includes("1.33×")) throw new Error(JSON.stringify(web2));
  const node1 = targets.find((t) => t.target.includes("onnxruntime-node on"))!;
  if (node1.met || !node1.measured.includes("0.25×")) throw new Error(JSON.stringify(node1));
  const md = renderMarkdown({
    date: "2026-01-01T00:00:00Z",
    mode: "quick",
    durationSeconds: 60,
    environment: { cpu: "test", cores: 2 },
    peak,
    kernels: [],
    models: [a, b],
    loads: [],
    memory: [],
    targets,
  });
  const header = md.split("\n").find((l) =>
    l.startsWith("| model | batch | engine | engine 2 thr | ORT-web")
  );
  if (!header) throw new Error(md);
  const row = md.split("\n").find((l) =>
    l.startsWith(
      "| cnn model | 64 | 2,000 | 3,000 | 1,000 | 1,500 | 8,000 | 12,000 | 2.00 | 2.00 | 0.25 | 0.25 | 2.0e-6 |",
    )
  );
  if (!row) throw new Error(md);
});

Deno.test("ONNX Runtime table: a column that timed out says so in its cell", () => {
  const r = {
    ...model("text", 64, 1000, 100, 10),
    ort: { ortWeb1: contender(900, 64), ortNode1: contender(5000, 64) },
    ortFailures: { ortWeb2: "timed out after 120 s (output check)" },
    maxAbsDiffVsOrt: 1e-6,
  };
  const md = modelsReport([r]);
  const row = md.split("\n").find((l) =>
    l.startsWith("| text model | 64 | 1,000 | 900 | timed out after 120 s (output check) | 5,000 |")
  );
  if (!row) throw new Error(md);
});

Deno.test("evaluateTargets: thread scaling of feed-forward rows at batch ≥ 8, applications vs TF.js wasm, GEMM/Conv2D share of peak", () => {
  const threaded = (r: ModelResult, samplesPerSecond: number): ModelResult => ({
    ...r,
    threads: 2,
    engineThreads: contender(samplesPerSecond, r.batch),
  });
  const app = (batch: number, engine: number, wasm: number): ModelResult => ({
    ...model("cnn", batch, engine, wasm, 1),
    family: "application",
    label: "ResNet50 224×224",
  });
  const models = [
    threaded(model("cnn", 1, 1000, 500, 10), 1000), // batch 1: not judged for scaling
    threaded(model("cnn", 8, 1000, 500, 10), 1800), // 1.8×
    threaded(model("text", 64, 1000, 500, 10), 1100), // recurrent: not judged
    threaded(app(8, 10, 6), 16), // 1.6×: misses 1.7×; 1.67× TF.js wasm
    app(1, 10, 7), // 1.43× TF.js wasm: misses 1.5×
  ];
  const targets = evaluateTargets(models, [], peak);
  const scaling = targets.find((t) => t.target.startsWith("2 threads ≥ 1.7×"))!;
  if (scaling.met || !scaling.measured.includes("min 1.60× (ResNet50 224×224, batch 8)")) {
    throw new Error(JSON.stringify(scaling));
  }
  const apps = targets.find((t) => t.target.startsWith("MobileNetV2, ResNet50, InceptionV3"))!;
  if (apps.met || !apps.measured.includes("min 1.43× (ResNet50 224×224, batch 1)")) {
    throw new Error(JSON.stringify(apps));
  }
  const conv: KernelResult = {
    ...gemm,
    kind: "conv2d",
    shape: "b64 16x16x32→64 k3",
    role: "conv 2",
    engineGflops: 40,
    percentOfPeakNow: 100 * 40 / 62,
    engineWinogradGflops: 100,
  };
  const first: KernelResult = { ...conv, shape: "b64 32x32x3→32 k3", role: "conv 1" };
  delete first.engineWinogradGflops;
  const share = (ks: KernelResult[]) =>
    evaluateTargets([], ks, peak).find((t) =>
      t.target.startsWith("every GEMM and Conv2D shape ≥ 85 %")
    )!;
  // GEMM 50 of 62 = 80.6 %: misses; a Winograd conv counts at its effective rate.
  const both = share([gemm, conv]);
  if (both.met || !both.measured.includes("min 80.6 % (gemm 512x512x512")) {
    throw new Error(JSON.stringify(both));
  }
  if (!share([conv]).met) throw new Error(JSON.stringify(share([conv])));
  if (!share([conv, first]).measured.includes("conv2d b64 32x32x3→32 k3")) {
    throw new Error(JSON.stringify(share([conv, first])));
  }
  const met = evaluateTargets([threaded(model("cnn", 64, 1000, 500, 10), 1750)], [], peak);
  if (!met.find((t) => t.target.startsWith("2 threads"))!.met) throw new Error(JSON.stringify(met));
});

Deno.test("thread scaling: the models table shows n thr ÷ 1 and the cores free around the rounds; the target counts rows still short of cores", () => {
  const row = (batch: number, threaded: number, coresFree: number, remeasured: number) => ({
    ...model("cnn", batch, 1000, 500, 10),
    threads: 2,
    engineThreads: contender(threaded, batch),
    threadsSpeedupVsWasm: threaded / 500,
    threadsSpeedupVsCpu: threaded / 10,
    coresFree,
    remeasured,
  });
  // Batch 8 kept 1.05 cores after two re-measures; batch 64 had both cores at the first try.
  const models = [row(8, 1100, 1.05, 2), row(64, 1900, 1.97, 0)];
  const targets = evaluateTargets(models, [], peak);
  const scaling = targets.find((t) => t.target.startsWith("2 threads ≥ 1.7×"))!;
  const expected = "min 1.10× (cnn model, batch 8; 1.05 cores free around it); 1 row kept " +
    "fewer than 1.8 cores free after 2 re-measures";
  if (scaling.met || scaling.measured !== expected) throw new Error(JSON.stringify(scaling));
  const md = modelsReport(models, targets);
  const lines = md.split("\n");
  for (
    const start of [
      "| cnn model | 8 | 1,000 | 1,100 | 1.10 | 1.05 *3 |",
      "| cnn model | 64 | 1,000 | 1,900 | 1.90 | 1.97 |",
    ]
  ) {
    if (!lines.some((l) => l.startsWith(start))) throw new Error(`no row ${start}\n${md}`);
  }
});
