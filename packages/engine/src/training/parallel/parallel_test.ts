import {
  Adam,
  type BatchStatistics,
  buildModel,
  Callback,
  EarlyStopping,
  type Model,
  type ModelSpec,
  setTrainingWorkerUrl,
  SGD,
  Tensor,
  TrainingConfigError,
  TrainingWorkerError,
  type WeightTensor,
} from "../../../mod.ts";
import { Rng } from "../../../testing/random.ts";
import { randomIdBatch, seedsCnnSpec, seedsTextSpec } from "../../../testing/seeds_models.ts";
import { getRuntime } from "../../wasm/kernels.ts";
import { TrainingGraph } from "../graph.ts";
import { Loss } from "../losses.ts";
import { estimateMacsPerSample, planWorkers, splitBounds } from "./plan.ts";
import { GradientWorkerPool, liveTrainingWorkers, startedTrainingWorkers } from "./pool.ts";
import { paramInfo, type WorkerInit } from "./protocol.ts";
import { trainingWorkerUrl } from "./worker_url.ts";

/** Relative difference scaled by max(1, |reference|). */
function relDiff(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(1, Math.abs(b));
}

/** Max over every history entry of the relative difference. */
function historyDiff(a: Record<string, number[]>, b: Record<string, number[]>): number {
  const keys = Object.keys(b);
  if (Object.keys(a).sort().join() !== keys.sort().join()) {
    throw new Error(`history keys ${Object.keys(a)} vs ${keys}`);
  }
  let d = 0;
  for (const k of keys) {
    if (a[k].length !== b[k].length) throw new Error(`${k}: ${a[k].length} vs ${b[k].length}`);
    a[k].forEach((v, i) => (d = Math.max(d, relDiff(v, b[k][i]))));
  }
  return d;
}

/** Max |Δw| / max(1, max |w|) over every weight. */
function weightDiff(a: WeightTensor[], b: WeightTensor[]): number {
  if (a.length !== b.length) throw new Error(`${a.length} weights vs ${b.length}`);
  let d = 0;
  a.forEach((w, i) => {
    const ref = b[i].data;
    const scale = Math.max(1, ...Array.from(ref, Math.abs));
    w.data.forEach((v, j) => (d = Math.max(d, Math.abs(v - ref[j]) / scale)));
  });
  return d;
}

interface FitRun {
  history: Record<string, number[]>;
  weights: WeightTensor[];
  started: number;
}

/** Builds, compiles and fits a fresh model; checks that no worker outlives the fit. */
async function fitWith(
  spec: ModelSpec,
  train: (model: Model) => Promise<Record<string, number[]>>,
): Promise<FitRun> {
  const model = buildModel(spec);
  const before = startedTrainingWorkers();
  try {
    const history = await train(model);
    if (liveTrainingWorkers() !== 0) throw new Error(`${liveTrainingWorkers()} workers alive`);
    return { history, weights: model.getWeights(), started: startedTrainingWorkers() - before };
  } finally {
    model.dispose();
  }
}

/** The small CNN: seeds CNN at 12×12 with filters 4, 8 and a Dropout before the head. */
function cnnSpec(): ModelSpec {
  const spec = seedsCnnSpec({ imageSize: 12, filters: [4, 8], seed: 3 });
  const layers = (spec.config.config as { layers: unknown[] }).layers;
  layers.splice(layers.length - 1, 0, {
    class_name: "Dropout",
    config: { name: "dropout", rate: 0.3 },
  });
  return spec;
}

Deno.test("fit on 1, 2 and 3 threads: same history and weights (CNN with Dropout, sample weights, validation)", async () => {
  const rng = new Rng(5);
  const n = 45, px = 12 * 12 * 3;
  const x = new Tensor(rng.floats(n * px, 0, 1), [n, 12, 12, 3]);
  const y = new Tensor(Float32Array.from({ length: n }, () => rng.int(0, 10)), [n]);
  const sampleWeight = rng.floats(n, 0.5, 1.5);
  const spec = cnnSpec();
  const run = (workers: number) =>
    fitWith(spec, async (model) => {
      model.compile({
        optimizer: new Adam({ learningRate: 1e-2 }),
        loss: "sparse_categorical_crossentropy",
        metrics: ["accuracy"],
        seed: 9,
      });
      const h = await model.fit(x, y, {
        epochs: 3,
        batchSize: 16, // 36 training samples: batches of 16, 16, 4
        validationSplit: 0.2,
        sampleWeight,
        verbose: 0,
        workers,
      });
      return h.history;
    });
  const one = await run(1), two = await run(2), three = await run(3);
  if (one.started !== 0 || two.started !== 1 || three.started !== 2) {
    throw new Error(`workers started: ${one.started}, ${two.started}, ${three.started}`);
  }
  const start = spec.weights;
  const moved = weightDiff(one.weights.filter((w) => w.name.startsWith("conv2d_0")), [
    ...start.conv2d_0,
  ]);
  if (!(moved > 1e-2)) throw new Error(`weights barely moved: ${moved}`);
  for (const [name, other] of [["2", two], ["3", three]] as const) {
    const dh = historyDiff(other.history, one.history), dw = weightDiff(other.weights, one.weights);
    console.log(
      `CNN ${name} threads vs 1: history ${dh.toExponential(2)}, w ${dw.toExponential(2)}`,
    );
    if (!(dh <= 1e-5 && dw <= 1e-5)) throw new Error(`${name} threads: ${dh}, ${dw} > 1e-5`);
  }
});

Deno.test("fit on 1 and 2 threads: same history and weights (masked BiLSTM text model with Dropout)", async () => {
  const rng = new Rng(17);
  const n = 40, time = 10, vocab = 50;
  const x = new Tensor(randomIdBatch(rng, n, time, vocab), [n, time]);
  const y = new Tensor(Float32Array.from({ length: n }, () => rng.int(0, 3)), [n]);
  const spec = seedsTextSpec({
    vocabSize: vocab,
    embeddingDim: 8,
    units: [6],
    sequenceLength: time,
    seed: 4,
  });
  const run = (workers: number) =>
    fitWith(spec, async (model) => {
      // The thread count as a compile option (fit's default).
      model.compile({
        optimizer: new Adam({ learningRate: 1e-2 }),
        loss: "sparse_categorical_crossentropy",
        metrics: ["accuracy"],
        workers,
      });
      const h = await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
      return h.history;
    });
  const one = await run(1), two = await run(2);
  if (two.started !== 1) throw new Error(`workers started: ${two.started}`);
  const dh = historyDiff(two.history, one.history), dw = weightDiff(two.weights, one.weights);
  console.log(`BiLSTM 2 threads vs 1: history ${dh.toExponential(2)}, w ${dw.toExponential(2)}`);
  if (!(dh <= 1e-5 && dw <= 1e-5)) throw new Error(`2 threads: ${dh}, ${dw} > 1e-5`);
});

/** Conv → BatchNormalization (trainable or frozen) → ReLU → Flatten → Dense softmax on 6×6×2. */
function bnSpec(frozen: boolean): ModelSpec {
  const bn: Record<string, unknown> = { name: "bn", momentum: 0.9 };
  if (frozen) bn.trainable = false;
  const layers = [
    { class_name: "InputLayer", config: { name: "in", batch_shape: [null, 6, 6, 2] } },
    { class_name: "Conv2D", config: { name: "conv", filters: 4, kernel_size: [3, 3] } },
    { class_name: "BatchNormalization", config: bn },
    { class_name: "Activation", config: { name: "relu", activation: "relu" } },
    { class_name: "Flatten", config: { name: "flat" } },
    { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
  ];
  const spec: ModelSpec = {
    config: { class_name: "Sequential", config: { name: "bn", layers } },
    weights: {},
  };
  // Materialise initial weights (non-trivial moving statistics for the frozen case).
  const model = buildModel(spec, { initialize: { seed: 2 } });
  const weights = model.toSpec().weights;
  model.dispose();
  const rng = new Rng(8);
  weights.bn = weights.bn.map((w) =>
    w.name === "moving_variance"
      ? { ...w, data: rng.floats(w.data.length, 0.5, 2) }
      : w.name === "moving_mean"
      ? { ...w, data: rng.floats(w.data.length, -0.5, 0.5) }
      : w
  );
  return { config: spec.config, weights };
}

Deno.test("BatchNormalization: a trainable one trains on one thread (exactly as workers: 1), a frozen one in parallel", async () => {
  const rng = new Rng(21);
  const n = 32;
  const x = new Tensor(rng.floats(n * 72, -1, 1), [n, 6, 6, 2]);
  const y = new Tensor(Float32Array.from({ length: n }, () => rng.int(0, 3)), [n]);
  for (const frozen of [false, true]) {
    const spec = bnSpec(frozen);
    const run = (workers: number) =>
      fitWith(spec, async (model) => {
        model.compile({
          optimizer: new Adam({ learningRate: 1e-2 }),
          loss: "sparse_categorical_crossentropy",
        });
        const h = await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0, workers });
        return h.history;
      });
    const one = await run(1), two = await run(2);
    const dh = historyDiff(two.history, one.history), dw = weightDiff(two.weights, one.weights);
    if (!frozen) {
      const model = buildModel(spec);
      const plan = planWorkers(2, model.layers, 16);
      model.dispose();
      if (plan.workers !== 1 || !plan.reason.includes('"bn"')) {
        throw new Error(`plan ${JSON.stringify(plan)}`);
      }
      // Single-threaded: bit for bit the workers: 1 run, moving statistics included.
      if (two.started !== 0 || dh !== 0 || dw !== 0) {
        throw new Error(`trainable BN: ${two.started} workers, Δ ${dh}, ${dw}`);
      }
    } else {
      const bnMoved = weightDiff(
        two.weights.filter((w) => w.name.startsWith("bn/")),
        spec.weights.bn,
      );
      if (two.started !== 1 || !(dh <= 1e-5 && dw <= 1e-5) || bnMoved !== 0) {
        throw new Error(`frozen BN: ${two.started} workers, Δ ${dh}, ${dw}, bn moved ${bnMoved}`);
      }
    }
  }
});

Deno.test("BatchNormalization per-thread statistics: a step on 2 and 3 threads is the sample-weighted mean of one-thread steps on each slice", async () => {
  const rng = new Rng(23);
  const n = 16;
  const x = new Tensor(rng.floats(n * 72, -1, 1), [n, 6, 6, 2]);
  const y = new Tensor(Float32Array.from({ length: n }, () => rng.int(0, 3)), [n]);
  const spec = bnSpec(false);
  // One SGD step over the whole batch: the slices' mean gradients and moving statistics combine
  // linearly, so each slice trained alone on one thread is the oracle.
  const run = (xs: Tensor, ys: Tensor, workers: number, batchStatistics: BatchStatistics) =>
    fitWith(spec, async (model) => {
      model.compile({
        optimizer: new SGD({ learningRate: 0.5 }),
        loss: "sparse_categorical_crossentropy",
      });
      const h = await model.fit(xs, ys, {
        epochs: 1,
        batchSize: xs.shape[0],
        shuffle: false,
        verbose: 0,
        workers,
        batchStatistics,
      });
      return h.history;
    });
  const whole = await run(x, y, 1, "whole-batch");
  for (const threads of [2, 3]) {
    const par = await run(x, y, threads, "per-thread");
    if (par.started !== threads - 1) throw new Error(`${threads} threads: ${par.started} workers`);
    const bounds = splitBounds(n, threads);
    const slices: { run: FitRun; share: number }[] = [];
    for (const [start, end] of bounds) {
      const ys = new Tensor(y.data.slice(start, end), [end - start]);
      slices.push({
        run: await run(x.sliceBatch(start, end), ys, 1, "per-thread"),
        share: (end - start) / n,
      });
    }
    const start = Object.values(spec.weights).flat();
    const expected = par.weights.map((w, i) => ({
      ...w,
      data: Float32Array.from(w.data, (_, j) => {
        const w0 = start[i].data[j];
        return w0 + slices.reduce((d, s) => d + s.share * (s.run.weights[i].data[j] - w0), 0);
      }),
    }));
    const loss = slices.reduce((l, s) => l + s.share * s.run.history.loss[0], 0);
    const dw = weightDiff(par.weights, expected), dl = relDiff(par.history.loss[0], loss);
    const fromWhole = weightDiff(par.weights, whole.weights);
    console.log(
      `BN per-thread ${threads} threads vs slice oracle: w ${dw.toExponential(2)}, loss ${
        dl.toExponential(2)
      }; vs whole-batch ${fromWhole.toExponential(2)}`,
    );
    if (!(dw <= 1e-5 && dl <= 1e-5)) throw new Error(`${threads} threads: Δw ${dw}, Δloss ${dl}`);
    // The slices' own statistics did change the step (the oracle is not the whole-batch one).
    if (!(fromWhole > 1e-4)) throw new Error(`per-thread equals whole-batch: ${fromWhole}`);
  }
  // A layer that asks for synchronized statistics keeps the model on one thread.
  const synced = bnSpec(false);
  const layers = (synced.config.config as { layers: { config: Record<string, unknown> }[] }).layers;
  layers[2].config.synchronized = true;
  const syncedModel = buildModel(synced), freeModel = buildModel(spec);
  const plan = planWorkers(2, syncedModel.layers, 16, "per-thread");
  const free = planWorkers(2, freeModel.layers, 16, "per-thread");
  syncedModel.dispose();
  freeModel.dispose();
  if (plan.workers !== 1 || !plan.reason.includes("synchronized") || free.workers !== 2) {
    throw new Error(`plans ${JSON.stringify(plan)} ${JSON.stringify(free)}`);
  }
  try {
    planWorkers(2, [], 16, "per-replica" as BatchStatistics);
    throw new Error("per-replica accepted");
  } catch (error) {
    if (!(error instanceof TrainingConfigError) || error.field !== "batchStatistics") throw error;
  }
});

Deno.test("workers end with fit: after EarlyStopping, a throwing callback and a model that cannot start them", async () => {
  const rng = new Rng(33);
  const n = 24;
  const x = new Tensor(rng.floats(n * 12 * 12 * 3, 0, 1), [n, 12, 12, 3]);
  const y = new Tensor(Float32Array.from({ length: n }, () => rng.int(0, 10)), [n]);
  const model = buildModel(cnnSpec());
  try {
    model.compile({ loss: "sparse_categorical_crossentropy", workers: 2 });
    const started = startedTrainingWorkers();
    const es = new EarlyStopping({ monitor: "loss", patience: 0, minDelta: 100 });
    const h = await model.fit(x, y, { epochs: 5, batchSize: 8, callbacks: [es], verbose: 0 });
    // Epoch 1 sets the best loss, epoch 2 cannot beat it by 100: stop after 2 of 5.
    if (h.history.loss.length !== 2 || startedTrainingWorkers() !== started + 1) {
      throw new Error(`early stop: ${h.history.loss.length} epochs`);
    }
    if (liveTrainingWorkers() !== 0) throw new Error("a worker outlived EarlyStopping");
    class Throws extends Callback {
      override onTrainBatchEnd(batch: number): void {
        if (batch === 1) throw new Error("callback failed");
      }
    }
    let message = "";
    try {
      await model.fit(x, y, { epochs: 2, batchSize: 8, callbacks: [new Throws()], verbose: 0 });
    } catch (e) {
      message = (e as Error).message;
    }
    if (message !== "callback failed") throw new Error(`fit ended with "${message}"`);
    if (liveTrainingWorkers() !== 0) throw new Error("a worker outlived a failed fit");
    // The model still trains (and on one thread matches itself) after those fits.
    await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    model.trainOnBatch(x.sliceBatch(0, 4), y.sliceBatch(0, 4));

    // A replica that does not match the model: start fails with a typed error, nothing left.
    const { kernels, heap } = getRuntime();
    const graph = new TrainingGraph(
      model.graph,
      model.layerTrainable(),
      Loss.from("mse"),
      [],
      kernels,
      heap,
    );
    const init: WorkerInit = {
      type: "init",
      spec: model.toSpec(),
      inputShape: [...model.inputShape],
      layerNames: model.layers.map((l) => model.layerPath(l)),
      layerTrainable: model.layerTrainable(),
      losses: [{ name: "mean_squared_error", fromLogits: false }],
      lossWeights: [1],
      metrics: [[]],
      params: paramInfo(graph.params).map((p) => ({ ...p, size: p.size + 1 })),
    };
    graph.dispose();
    let error: unknown;
    try {
      (await GradientWorkerPool.start(2, init)).terminate();
    } catch (e) {
      error = e;
    }
    if (!(error instanceof TrainingWorkerError) || !/replica parameters/.test(error.message)) {
      throw new Error(`expected a TrainingWorkerError, got ${error}`);
    }
    if (error.workerErrorName !== "TrainingWorkerError") throw new Error(error.workerErrorName);
    if (liveTrainingWorkers() !== 0) throw new Error("workers left after a failed start");
  } finally {
    model.dispose();
  }
});

Deno.test("workers option: checked in compile and fit", async () => {
  const model = buildModel(cnnSpec());
  try {
    for (const bad of [0, -1, 1.5, "two", true]) {
      let error: unknown;
      try {
        model.compile({ loss: "mse", workers: bad as number });
      } catch (e) {
        error = e;
      }
      if (!(error instanceof TrainingConfigError) || error.field !== "workers") {
        throw new Error(`compile workers ${bad}: ${error}`);
      }
    }
    model.compile({ loss: "sparse_categorical_crossentropy" });
    const x = new Tensor(new Float32Array(2 * 12 * 12 * 3), [2, 12, 12, 3]);
    const y = new Tensor(new Float32Array(2), [2]);
    let error: unknown;
    try {
      await model.fit(x, y, { workers: 0, verbose: 0 });
    } catch (e) {
      error = e;
    }
    if (!(error instanceof TrainingConfigError)) throw new Error(`fit workers 0: ${error}`);
  } finally {
    model.dispose();
  }
});

Deno.test("planWorkers and splitBounds", () => {
  const same = (a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      throw new Error(`${JSON.stringify(a)} !== ${JSON.stringify(b)}`);
    }
  };
  same(splitBounds(10, 3), [[0, 3], [3, 6], [6, 10]]);
  same(splitBounds(2, 3), [[0, 1], [1, 2]]);
  same(splitBounds(0, 2), []);
  const big = buildModel(seedsCnnSpec());
  const small = buildModel(cnnSpec());
  try {
    // Σ params × pixels: conv 896·32², 18,496·16², 36,928·8², dense 10,250·1.
    same(estimateMacsPerSample(big.layers), 896 * 1024 + 18496 * 256 + 36928 * 64 + 10250);
    same(planWorkers(8, big.layers, 3).workers, 3);
    same(planWorkers(1, big.layers, 64).workers, 1);
    same(planWorkers("auto", big.layers, 16).workers, 1); // batch below 32
    same(planWorkers("auto", small.layers, 32).workers, 1); // too little arithmetic
    const cores = navigator.hardwareConcurrency;
    same(planWorkers("auto", big.layers, 64).workers, cores >= 2 ? Math.min(cores, 4) : 1);
  } finally {
    big.dispose();
    small.dispose();
  }
});

Deno.test("setTrainingWorkerUrl: workers load the configured entry; its failures are typed errors", async () => {
  const rng = new Rng(41);
  const n = 8;
  const x = new Tensor(rng.floats(n * 12 * 12 * 3, 0, 1), [n, 12, 12, 3]);
  const y = new Tensor(Float32Array.from({ length: n }, () => rng.int(0, 10)), [n]);
  const model = buildModel(cnnSpec());
  try {
    model.compile({ loss: "sparse_categorical_crossentropy", workers: 2 });
    // An entry that refuses every init, as a broken bundled worker would.
    const refusing = "data:text/javascript," +
      encodeURIComponent(
        'onmessage = () => postMessage({ type: "error", id: -1, name: "X", message: "nope" });',
      );
    setTrainingWorkerUrl(refusing);
    let error: unknown;
    try {
      await model.fit(x, y, { batchSize: 4, verbose: 0 });
    } catch (e) {
      error = e;
    }
    if (!(error instanceof TrainingWorkerError) || !/X: nope/.test(error.message)) {
      throw new Error(`expected the worker's refusal, got ${error}`);
    }
    if (liveTrainingWorkers() !== 0) throw new Error("a refusing worker was left running");
    let bad: unknown;
    try {
      setTrainingWorkerUrl("http://[");
    } catch (e) {
      bad = e;
    }
    if (!(bad instanceof TrainingConfigError)) throw new Error(`bad URL: ${bad}`);
    setTrainingWorkerUrl(undefined);
    if (!trainingWorkerUrl()?.href.endsWith("/parallel/worker.ts")) {
      throw new Error(`default entry ${trainingWorkerUrl()}`);
    }
    const h = await model.fit(x, y, { batchSize: 4, verbose: 0 });
    if (!(h.history.loss[0] > 0)) throw new Error(`loss ${h.history.loss}`);
  } finally {
    setTrainingWorkerUrl(undefined);
    model.dispose();
  }
});
