import {
  Adam,
  buildModel,
  getRuntime,
  type KerasObject,
  type ModelSpec,
  Tensor,
} from "../../mod.ts";
import { loadMnist } from "@scratchnet/datasets";
import { argmaxRows, maxAbsDiff, Rng } from "../../testing/random.ts";
import { randomSpec } from "../../testing/gradient_check.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";
import { type TfBatch, tfjsKerasAdam } from "../../testing/tfjs_training.ts";

const conv = (name: string, filters: number, padding: string) => ({
  class_name: "Conv2D",
  config: { name, filters, kernel_size: [3, 3], padding, activation: "relu" },
});

Deno.test("20 Adam steps on a small CNN (12×12×3, batch 8): engine and TF.js end ≤ 1e-4 apart", async () => {
  await tfReady();
  const rng = new Rng(1301);
  // Conv-Pool-Conv-Pool-Flatten-Dense softmax; both pooling kinds.
  const spec = randomSpec(
    [
      conv("conv1", 6, "same"),
      { class_name: "MaxPooling2D", config: { name: "pool1", pool_size: [2, 2] } },
      conv("conv2", 8, "valid"),
      { class_name: "AveragePooling2D", config: { name: "pool2", pool_size: [2, 2] } },
      { class_name: "Flatten", config: { name: "flat" } },
      { class_name: "Dense", config: { name: "out", units: 5, activation: "softmax" } },
    ],
    [12, 12, 3],
    rng,
    { scale: 0.3 },
  );
  const data: TfBatch[] = Array.from({ length: 20 }, () => ({
    x: rng.floats(8 * 12 * 12 * 3, -1, 1),
    xShape: [8, 12, 12, 3],
    y: Float32Array.from({ length: 8 }, () => rng.int(0, 5)),
  }));
  const model = buildModel(spec);
  let got: Float32Array[];
  try {
    model.compile({ optimizer: new Adam(), loss: "sparse_categorical_crossentropy" });
    let liveAfterFirst = 0;
    for (const [i, b] of data.entries()) {
      model.trainOnBatch(new Tensor(b.x, b.xShape), new Tensor(b.y, [b.y.length]));
      if (i === 0) liveAfterFirst = getRuntime().heap.liveBytes;
    }
    // Every buffer a step allocates (tapes, argmax, scratch) is freed by its end.
    if (getRuntime().heap.liveBytes !== liveAfterFirst) throw new Error("the heap grew per step");
    got = model.getWeights().map((t) => t.data);
  } finally {
    model.dispose();
  }
  const want = tfjsKerasAdam(spec, data, { name: "sparse_categorical_crossentropy" });
  if (got.length !== want.length) throw new Error(`${got.length} weights vs ${want.length}`);
  const d = Math.max(...got.map((g, i) => maxAbsDiff(g, want[i])));
  const start = Object.values(spec.weights).flat().map((w) => w.data);
  const moved = Math.max(...got.map((g, i) => maxAbsDiff(g, start[i])));
  console.log(`CNN 20 Adam steps: max |Δw| vs TF.js ${d.toExponential(2)}, moved ${moved}`);
  if (!(d <= 1e-4)) throw new Error(`weights differ from TF.js by ${d} > 1e-4`);
  // 20 steps of lr 1e-3 move a weight by up to ~2e-2: the comparison is not of untouched weights.
  if (!(moved > 1e-2)) throw new Error(`weights barely moved: ${moved}`);
});

/** Conv(8, no bias) → BN → ReLU → MaxPool → Conv(16) → MaxPool → Flatten → Dense(10) on 28×28×1. */
function mnistCnn(): ModelSpec {
  const layers: KerasObject[] = [
    { class_name: "InputLayer", config: { name: "input", batch_shape: [null, 28, 28, 1] } },
    {
      class_name: "Conv2D",
      config: { name: "conv1", filters: 8, kernel_size: [3, 3], use_bias: false },
    },
    // momentum 0.9: the moving statistics settle within the ~120 steps of this short run.
    { class_name: "BatchNormalization", config: { name: "bn1", momentum: 0.9 } },
    { class_name: "Activation", config: { name: "relu1", activation: "relu" } },
    { class_name: "MaxPooling2D", config: { name: "pool1", pool_size: [2, 2] } },
    conv("conv2", 16, "valid"),
    { class_name: "MaxPooling2D", config: { name: "pool2", pool_size: [2, 2] } },
    { class_name: "Flatten", config: { name: "flat" } },
    { class_name: "Dense", config: { name: "out", units: 10, activation: "softmax" } },
  ];
  return {
    config: { class_name: "Sequential", config: { name: "mnist_cnn", layers } },
    weights: {},
  };
}

Deno.test("a small CNN with BatchNormalization learns real MNIST (2,000 images, 2 epochs)", async () => {
  const mnist = await loadMnist({
    dir: new URL("../../../../../shared/data/mnist/", import.meta.url),
    progress: false,
  });
  const n = 2000, nVal = 1000, px = 28 * 28;
  const x = new Tensor(mnist.train.images.slice(0, n * px), [n, 28, 28, 1]);
  const y = new Tensor(Float32Array.from(mnist.train.labels.subarray(0, n)), [n]);
  const xVal = new Tensor(mnist.test.images.slice(0, nVal * px), [nVal, 28, 28, 1]);
  const yValIds = mnist.test.labels.subarray(0, nVal);
  const yVal = new Tensor(Float32Array.from(yValIds), [nVal]);
  const model = buildModel(mnistCnn(), { initialize: { seed: 7 } });
  try {
    model.compile({
      optimizer: new Adam({ learningRate: 3e-3 }),
      loss: "sparse_categorical_crossentropy",
      metrics: ["accuracy"],
      seed: 11,
    });
    const before = model.evaluate(xVal, yVal, { batchSize: 100 });
    const history = await model.fit(x, y, {
      epochs: 2,
      batchSize: 32,
      validationData: [xVal, yVal],
      verbose: 0,
    });
    const valLoss = history.history.val_loss;
    const valAcc = history.history.val_accuracy;
    // Predictions agree with the reported accuracy.
    const pred = argmaxRows(model.predict(xVal, { batchSize: 100 }).data, 10);
    const acc = pred.reduce((s, p, i) => s + (p === yValIds[i] ? 1 : 0), 0) / nVal;
    console.log(
      `MNIST CNN: val_loss ${before.loss.toFixed(3)} → ${valLoss.map((v) => v.toFixed(3))}, ` +
        `val_accuracy ${valAcc.map((v) => v.toFixed(3))} (predict ${acc.toFixed(3)})`,
    );
    if (!(valLoss[1] < valLoss[0] && valLoss[0] < before.loss)) {
      throw new Error(`validation loss did not fall: ${before.loss} → ${valLoss}`);
    }
    // Chance is 0.1.
    if (!(valAcc[1] > 0.8)) throw new Error(`val accuracy ${valAcc[1]}`);
    if (!(Math.abs(acc - valAcc[1]) < 1e-6)) {
      throw new Error(`predict accuracy ${acc} vs ${valAcc}`);
    }
  } finally {
    model.dispose();
  }
});
