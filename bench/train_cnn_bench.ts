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
import { getRuntime, Tensor } from "../packages/engine/mod.ts";
import { tf, tfReady } from "../packages/engine/testing/tfjs_reference.ts";
import {
  cpuNote,
  engineModel,
  IMAGE,
  syntheticImages,
  tfjsModel,
  timeEngine,
  timeText,
  timeTfjs,
} from "./train_timing.ts";

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
