/**
 * Training throughput of the seeds' 3-conv CNN (32×32×3, Conv-Pool ×3 with 32/64/64 filters,
 * Dense softmax; `seedsCnnSpec`) with Adam on synthetic images: the engine (`Model.fit`, one
 * thread) against TF.js's cpu backend (`LayersModel.fit`, same weights and Adam settings).
 *
 * `deno run -A bench/train_cnn_bench.ts [--images 1024] [--tfjs-images 32] [--batch 64]
 * [--epoch 40000]` times one epoch over a slice with each, extrapolates to an epoch of `--epoch`
 * images and prints the ratio. TF.js cpu needs about 2 s per image (its convolution gradients run
 * in plain JavaScript), so its slice is small and its batch is min(batch, slice); its time per
 * image barely depends on the batch. Under `deno bench` (`deno task bench`) it registers one
 * training step of each on a batch of 4 instead.
 */
import { Adam, buildModel, getRuntime, type Model, Tensor } from "../packages/engine/mod.ts";
import { seedsCnnSpec } from "../packages/engine/testing/seeds_models.ts";
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
function engineModel(): Model {
  const model = buildModel(seedsCnnSpec());
  model.compile({ optimizer: new Adam(), loss: "sparse_categorical_crossentropy" });
  return model;
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

/** Seconds for one epoch of `model.fit` over the data (after a one-batch warm-up). */
async function timeEngine(count: number, batch: number): Promise<number> {
  const { x, y } = syntheticImages(count, 1);
  const model = engineModel();
  try {
    const xs = new Tensor(x, [count, ...IMAGE]);
    const ys = new Tensor(y, [count]);
    model.trainOnBatch(xs.sliceBatch(0, batch), ys.sliceBatch(0, batch));
    const t = performance.now();
    await model.fit(xs, ys, { epochs: 1, batchSize: batch, verbose: 0 });
    return (performance.now() - t) / 1000;
  } finally {
    model.dispose();
  }
}

/** Seconds for one epoch of TF.js `fit` over the data (after a two-image warm-up). */
async function timeTfjs(count: number, batch: number): Promise<number> {
  await tfReady();
  const { x, y } = syntheticImages(count, 2);
  const model = tfjsModel();
  const xs = tf.tensor4d(x, [count, 32, 32, 3]);
  const ys = tf.tensor1d(y);
  try {
    await model.fit(xs.slice(0, 2), ys.slice(0, 2), { epochs: 1, batchSize: 2 });
    const t = performance.now();
    await model.fit(xs, ys, { epochs: 1, batchSize: batch, shuffle: true });
    return (performance.now() - t) / 1000;
  } finally {
    xs.dispose();
    ys.dispose();
    model.dispose();
  }
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
  console.log(
    `seeds CNN training, batch ${batch}, Adam; engine kernels: ${getRuntime().variant} SIMD, ` +
      `1 thread; TF.js cpu backend`,
  );
  const engineSeconds = await timeEngine(images, batch);
  const engineEpoch = (engineSeconds / images) * epoch;
  console.log(
    `engine:     ${images} images in ${engineSeconds.toFixed(2)} s ` +
      `(${((engineSeconds / images) * 1000).toFixed(2)} ms/image) → ` +
      `${engineEpoch.toFixed(1)} s per ${epoch}-image epoch`,
  );
  const tfjsBatch = Math.min(batch, tfjsImages);
  const tfjsSeconds = await timeTfjs(tfjsImages, tfjsBatch);
  const tfjsEpoch = (tfjsSeconds / tfjsImages) * epoch;
  console.log(
    `TF.js cpu:  ${tfjsImages} images (batch ${tfjsBatch}) in ${tfjsSeconds.toFixed(2)} s ` +
      `(${((tfjsSeconds / tfjsImages) * 1000).toFixed(2)} ms/image) → ` +
      `${tfjsEpoch.toFixed(1)} s per ${epoch}-image epoch`,
  );
  console.log(`engine is ${(tfjsEpoch / engineEpoch).toFixed(1)}× faster than TF.js cpu`);
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
