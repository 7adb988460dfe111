/**
 * Training throughput of the seeds' 3-conv CNN (32×32×3, Conv-Pool ×3 with 32/64/64 filters,
 * Dense softmax; `seedsCnnSpec`) with Adam on synthetic images: the engine (`Model.fit` on 1 and
 * on 2 threads, i.e. `workers: 1` / `workers: 2`) against TF.js's cpu backend (`LayersModel.fit`,
 * same weights and Adam settings); then the seeds' BiLSTM text model's training step on 1 and 2
 * threads.
 *
 * `deno run -A bench/train_cnn_bench.ts [--images 1024] [--tfjs-images 32] [--batch 64]
 * [--epoch 40000] [--workers 1,2] [--text-samples 256] [--text-batch 32]` times one epoch over a
 * slice with each, extrapolates to an epoch of `--epoch` images and prints the ratios. Engine
 * times run from the first batch to the last (a fit's worker start-up, ~0.1 s once per fit, is
 * printed apart). TF.js cpu needs about 2 s per image (its convolution gradients run in plain
 * JavaScript), so its slice is small and its batch is min(batch, slice); its time per image barely
 * depends on the batch. Under `deno bench` (`deno task bench`) it registers one training step of
 * each on a batch of 4 instead.
 */
import {
  Adam,
  buildModel,
  Callback,
  getRuntime,
  type Model,
  type ModelSpec,
  Tensor,
} from "../packages/engine/mod.ts";
import {
  randomIdBatch,
  seedsCnnSpec,
  seedsTextSpec,
} from "../packages/engine/testing/seeds_models.ts";
import { Rng } from "../packages/engine/testing/random.ts";
import { tf, tfjsModelFromSpec, tfReady } from "../packages/engine/testing/tfjs_reference.ts";

const IMAGE = [32, 32, 3];
const PER_IMAGE = 32 * 32 * 3;

/** `count` synthetic images in [0, 1) with labels 0..9. */
function syntheticImages(count: number, seed: number): { x: Float32Array; y: Float32Array } {
  const rng = new Rng(seed);
  return {
    x: rng.floats(count * PER_IMAGE, 0, 1),
    y: Float32Array.from({ length: count }, () => rng.int(0, 10)),
  };
}

/** The engine model, compiled with Keras's default Adam. */
function engineModel(spec: ModelSpec = seedsCnnSpec()): Model {
  const model = buildModel(spec);
  model.compile({ optimizer: new Adam(), loss: "sparse_categorical_crossentropy" });
  return model;
}

/** CPU seconds per thread of this process (Linux /proc; empty elsewhere). */
function threadCpuSeconds(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const entry of Deno.readDirSync("/proc/self/task")) {
      const stat = Deno.readTextFileSync(`/proc/self/task/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime and stime, in clock ticks (100 per second on Linux).
      out.set(entry.name, (Number(fields[11]) + Number(fields[12])) / 100);
    }
  } catch {
    // no /proc: wall times only
  }
  return out;
}

/**
 * Times a fit from its first batch to its last (worker start-up excluded), and the CPU time of
 * its busiest thread: on a machine shared with other work the wall time depends on their load,
 * while the busiest thread's CPU time is what the wall time would be on idle cores.
 */
class TrainTimer extends Callback {
  begin = 0;
  seconds = 0;
  cpuBefore = new Map<string, number>();
  busiestCpu = 0;
  totalCpu = 0;
  override onTrainBegin(): void {
    this.cpuBefore = threadCpuSeconds();
    this.begin = performance.now();
  }
  override onTrainEnd(): void {
    this.seconds = (performance.now() - this.begin) / 1000;
    for (const [thread, cpu] of threadCpuSeconds()) {
      const used = cpu - (this.cpuBefore.get(thread) ?? cpu);
      this.busiestCpu = Math.max(this.busiestCpu, used);
      this.totalCpu += used;
    }
  }
}

/** A fit's training seconds, its start-up seconds (mostly starting workers) and CPU seconds. */
interface FitTime {
  seconds: number;
  startup: number;
  /** CPU seconds of the busiest thread and of all threads (0 without /proc). */
  busiestCpu: number;
  totalCpu: number;
}

function cpuNote(t: FitTime): string {
  return t.totalCpu
    ? `; CPU ${t.totalCpu.toFixed(2)} s, busiest thread ${t.busiestCpu.toFixed(2)} s`
    : "";
}

/** One epoch of `model.fit` on `workers` threads, after a one-batch warm-up. */
async function timeFit(
  model: Model,
  xs: Tensor,
  ys: Tensor,
  batch: number,
  workers: number,
): Promise<FitTime> {
  model.trainOnBatch(xs.sliceBatch(0, batch), ys.sliceBatch(0, batch));
  const timer = new TrainTimer();
  const t = performance.now();
  await model.fit(xs, ys, { epochs: 1, batchSize: batch, verbose: 0, workers, callbacks: [timer] });
  const total = (performance.now() - t) / 1000;
  return {
    seconds: timer.seconds,
    startup: total - timer.seconds,
    busiestCpu: timer.busiestCpu,
    totalCpu: timer.totalCpu,
  };
}

/** The TF.js model with the same weights; TF.js Adam with Keras's epsilon. */
function tfjsModel(): tf.Sequential {
  const model = tfjsModelFromSpec(seedsCnnSpec());
  model.compile({
    optimizer: tf.train.adam(1e-3, 0.9, 0.999, 1e-7),
    loss: "sparseCategoricalCrossentropy",
  });
  return model;
}

/** One CNN epoch over `count` synthetic images on `workers` threads. */
async function timeEngine(count: number, batch: number, workers: number): Promise<FitTime> {
  const { x, y } = syntheticImages(count, 1);
  const model = engineModel();
  try {
    return await timeFit(
      model,
      new Tensor(x, [count, ...IMAGE]),
      new Tensor(y, [count]),
      batch,
      workers,
    );
  } finally {
    model.dispose();
  }
}

/** One epoch of the seeds' BiLSTM text model (vocab 3000, length 100) on `workers` threads. */
async function timeText(count: number, batch: number, workers: number): Promise<FitTime> {
  const rng = new Rng(7);
  const model = engineModel(seedsTextSpec());
  try {
    return await timeFit(
      model,
      new Tensor(randomIdBatch(rng, count, 100, 3000), [count, 100]),
      new Tensor(Float32Array.from({ length: count }, () => rng.int(0, 3)), [count]),
      batch,
      workers,
    );
  } finally {
    model.dispose();
  }
}

/**
 * Seconds for one epoch of TF.js `fit` over the data, after a warm-up on its first two images (one
 * when `count` is 1: a slice past the data would fail).
 */
export async function timeTfjs(count: number, batch: number): Promise<number> {
  await tfReady();
  const { x, y } = syntheticImages(count, 2);
  const model = tfjsModel();
  const xs = tf.tensor4d(x, [count, 32, 32, 3]);
  const ys = tf.tensor1d(y);
  try {
    const warm = Math.min(2, count);
    const [wx, wy] = [xs.slice(0, warm), ys.slice(0, warm)];
    try {
      await model.fit(wx, wy, { epochs: 1, batchSize: warm });
    } finally {
      wx.dispose();
      wy.dispose();
    }
    const t = performance.now();
    await model.fit(xs, ys, { epochs: 1, batchSize: batch, shuffle: true });
    return (performance.now() - t) / 1000;
  } finally {
    xs.dispose();
    ys.dispose();
    model.dispose();
  }
}

/** `--workers 1,2`: the thread counts to time. */
function workerCounts(): number[] {
  const i = Deno.args.indexOf("--workers");
  const list = (i >= 0 ? Deno.args[i + 1] ?? "" : "1,2").split(",").map(Number);
  if (!list.length || !list.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new Error("--workers: expected positive integers separated by commas");
  }
  return list;
}

function option(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(Deno.args[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name}: expected a positive integer`);
  return v;
}

if (import.meta.main) {
  const images = option("images", 1024);
  const tfjsImages = option("tfjs-images", 32);
  const batch = option("batch", 64);
  const epoch = option("epoch", 40000);
  const textSamples = option("text-samples", 256);
  const textBatch = option("text-batch", 32);
  const counts = workerCounts();
  console.log(
    `seeds CNN training, batch ${batch}, Adam; engine kernels: ${getRuntime().variant} SIMD, ` +
      `threads ${counts.join(" / ")} (${navigator.hardwareConcurrency} cores); TF.js cpu backend`,
  );
  const engineEpochs = new Map<number, number>();
  const idleEpochs = new Map<number, number>();
  for (const workers of counts) {
    const t = await timeEngine(images, batch, workers);
    const perEpoch = (t.seconds / images) * epoch;
    engineEpochs.set(workers, perEpoch);
    if (t.busiestCpu) idleEpochs.set(workers, (t.busiestCpu / images) * epoch);
    console.log(
      `engine ${workers} thread${workers > 1 ? "s" : " "}: ${images} images in ` +
        `${t.seconds.toFixed(2)} s (${((t.seconds / images) * 1000).toFixed(2)} ms/image; ` +
        `start-up ${t.startup.toFixed(2)} s${cpuNote(t)}) → ${perEpoch.toFixed(1)} s per ` +
        `${epoch}-image epoch`,
    );
  }
  const tfjsBatch = Math.min(batch, tfjsImages);
  const tfjsSeconds = await timeTfjs(tfjsImages, tfjsBatch);
  const tfjsEpoch = (tfjsSeconds / tfjsImages) * epoch;
  console.log(
    `TF.js cpu:        ${tfjsImages} images (batch ${tfjsBatch}) in ${tfjsSeconds.toFixed(2)} s ` +
      `(${((tfjsSeconds / tfjsImages) * 1000).toFixed(2)} ms/image) → ` +
      `${tfjsEpoch.toFixed(1)} s per ${epoch}-image epoch`,
  );
  const single = engineEpochs.get(1);
  for (const [workers, perEpoch] of engineEpochs) {
    const idle = idleEpochs.get(workers);
    console.log(
      `engine ${workers} thread${workers > 1 ? "s" : " "}: ${
        (tfjsEpoch / perEpoch).toFixed(1)
      }× faster than TF.js cpu` +
        (single && workers > 1 ? `, ${(single / perEpoch).toFixed(2)}× the 1-thread speed` : "") +
        (idle ? `; busiest thread's CPU time → ${idle.toFixed(1)} s per epoch on idle cores` : ""),
    );
  }
  console.log(`\nseeds BiLSTM text model (vocab 3000, length 100), batch ${textBatch}, Adam`);
  let textSingle = 0;
  for (const workers of counts) {
    const t = await timeText(textSamples, textBatch, workers);
    const stepMs = (t.seconds / Math.ceil(textSamples / textBatch)) * 1000;
    if (workers === 1) textSingle = stepMs;
    console.log(
      `engine ${workers} thread${workers > 1 ? "s" : " "}: ${stepMs.toFixed(1)} ms per step ` +
        `(${textSamples} samples in ${t.seconds.toFixed(2)} s${cpuNote(t)})` +
        (textSingle && workers > 1
          ? `, ${(textSingle / stepMs).toFixed(2)}× the 1-thread speed`
          : ""),
    );
  }
} else {
  // deno bench: one Adam step on a small batch with each (TF.js takes seconds per image).
  await tfReady();
  const batch = 4;
  const { x, y } = syntheticImages(batch, 3);
  const engine = engineModel();
  const ex = new Tensor(x, [batch, ...IMAGE]);
  const ey = new Tensor(y, [batch]);
  const tfm = tfjsModel();
  const tx = tf.tensor4d(x, [batch, 32, 32, 3]);
  const ty = tf.tensor1d(y);
  const group = `seeds CNN training step, batch ${batch}`;
  Deno.bench({
    name: "engine   train step",
    group,
    baseline: true,
    fn: () => {
      engine.trainOnBatch(ex, ey);
    },
  });
  Deno.bench({
    name: "tfjs-cpu train step",
    group,
    n: 2,
    warmup: 1,
    fn: async () => {
      await tfm.trainOnBatch(tx, ty);
    },
  });
}
