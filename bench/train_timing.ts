/**
 * Timing of training runs for `bench/train_cnn_bench.ts` and `bench:report`'s training section:
 * one epoch of `Model.fit` on the seeds' CNN over synthetic images or on the seeds' BiLSTM text
 * model over random ids, on 1 or more threads (wall time from the first batch to the last, and
 * the CPU time of the busiest thread), and TF.js cpu's `fit` on the same CNN.
 *
 * @module
 */
import {
  Adam,
  buildModel,
  Callback,
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

/** The seeds' CNN input: one 32×32 RGB image. */
export const IMAGE = [32, 32, 3];
const PER_IMAGE = 32 * 32 * 3;

/** `count` synthetic images in [0, 1) with labels 0..9. */
export function syntheticImages(count: number, seed: number): { x: Float32Array; y: Float32Array } {
  const rng = new Rng(seed);
  return {
    x: rng.floats(count * PER_IMAGE, 0, 1),
    y: Float32Array.from({ length: count }, () => rng.int(0, 10)),
  };
}

/** The engine model, compiled with Keras's default Adam. */
export function engineModel(spec: ModelSpec = seedsCnnSpec()): Model {
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
export interface FitTime {
  seconds: number;
  startup: number;
  /** CPU seconds of the busiest thread and of all threads (0 without /proc). */
  busiestCpu: number;
  totalCpu: number;
}

/** "; CPU …" of a fit with /proc, else nothing. */
export function cpuNote(t: FitTime): string {
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
export function tfjsModel(): tf.Sequential {
  const model = tfjsModelFromSpec(seedsCnnSpec());
  model.compile({
    optimizer: tf.train.adam(1e-3, 0.9, 0.999, 1e-7),
    loss: "sparseCategoricalCrossentropy",
  });
  return model;
}

/** One CNN epoch over `count` synthetic images on `workers` threads. */
export async function timeEngine(count: number, batch: number, workers: number): Promise<FitTime> {
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
export async function timeText(count: number, batch: number, workers: number): Promise<FitTime> {
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
