/**
 * DepthwiseConv2D and SeparableConv2D inside a small MobileNet-style model: seeded Keras
 * initialization, `fit` on 1 and 2 threads (the worker builds the same layers), and inference
 * split across kernel threads.
 */
import { Adam, buildModel, type KerasObject, type ModelSpec, Tensor } from "../../mod.ts";
import { liveTrainingWorkers } from "../training/parallel/pool.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { setKernelThreads, threadPoolFor } from "../wasm/threads.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";

/** Conv s2 → DepthwiseConv2D (relu6) → SeparableConv2D (dm 2) → DepthwiseConv2D s2 → GAP → Dense. */
function mobileSpec(): ModelSpec {
  const layers: KerasObject[] = [
    { class_name: "InputLayer", config: { name: "in", batch_shape: [null, 13, 11, 3] } },
    {
      class_name: "Conv2D",
      config: { name: "stem", filters: 8, kernel_size: 3, strides: 2, padding: "same" },
    },
    {
      class_name: "DepthwiseConv2D",
      config: { name: "dw1", kernel_size: 3, padding: "same", activation: "relu6" },
    },
    {
      class_name: "SeparableConv2D",
      config: {
        name: "sep",
        filters: 12,
        kernel_size: 3,
        depth_multiplier: 2,
        padding: "same",
        activation: "swish",
      },
    },
    {
      class_name: "DepthwiseConv2D",
      config: { name: "dw2", kernel_size: 3, strides: 2, padding: "valid", use_bias: false },
    },
    { class_name: "GlobalAveragePooling2D", config: { name: "gap" } },
    { class_name: "Dense", config: { name: "out", units: 4, activation: "softmax" } },
  ];
  return {
    config: { class_name: "Sequential", config: { name: "mobile", layers } },
    weights: {},
  };
}

Deno.test("MobileNet-style model: fit on 1 and 2 threads gives the same history and weights", async () => {
  const rng = new Rng(1561);
  const n = 40;
  const x = new Tensor(rng.floats(n * 13 * 11 * 3, -1, 1), [n, 13, 11, 3]);
  const y = new Tensor(Float32Array.from({ length: n }, () => rng.int(0, 4)), [n]);
  const run = async (workers: number) => {
    const model = buildModel(mobileSpec(), { initialize: { seed: 5 } });
    try {
      model.compile({
        optimizer: new Adam({ learningRate: 1e-2 }),
        loss: "sparse_categorical_crossentropy",
        seed: 3,
      });
      const h = await model.fit(x, y, { epochs: 3, batchSize: 20, verbose: 0, workers });
      if (liveTrainingWorkers() !== 0) throw new Error(`${liveTrainingWorkers()} workers alive`);
      return { loss: h.history.loss, weights: model.getWeights() };
    } finally {
      model.dispose();
    }
  };
  const one = await run(1), two = await run(2);
  const { loss } = one;
  if (!(loss[loss.length - 1] < loss[0])) throw new Error(`loss did not fall: ${loss}`);
  const dl = maxAbsDiff(two.loss, one.loss);
  let dw = 0;
  one.weights.forEach((w, i) => {
    const scale = Math.max(1, ...Array.from(w.data, Math.abs));
    dw = Math.max(dw, maxAbsDiff(two.weights[i].data, w.data) / scale);
  });
  console.log(`2 threads vs 1: loss ${dl.toExponential(2)}, weights ${dw.toExponential(2)}`);
  if (!(dl <= 1e-5 && dw <= 1e-5)) throw new Error(`2 threads: loss ${dl}, weights ${dw}`);
});

Deno.test("MobileNet-style model: kernel threads predict the same as one thread", () => {
  const rng = new Rng(1562);
  const model = buildModel(mobileSpec(), { initialize: { seed: 6 } });
  const input = new Tensor(rng.floats(17 * 13 * 11 * 3, -1, 1), [17, 13, 11, 3]);
  try {
    setKernelThreads(1);
    const single = model.predict(input, { batchSize: 17 }).data;
    setKernelThreads(2, { minWork: 0 });
    const before = threadPoolFor(getRuntime().kernels)!.parallelRuns;
    const threaded = model.predict(input, { batchSize: 17 }).data;
    const runs = threadPoolFor(getRuntime().kernels)!.parallelRuns - before;
    // stem, dw1, sep (depthwise + pointwise), dw2, dense at least.
    if (runs < 5) throw new Error(`only ${runs} parallel kernel calls`);
    const d = maxAbsDiff(threaded, single);
    if (!(d <= 1e-6)) throw new Error(`threaded vs single: max |Δ| ${d}`);
  } finally {
    setKernelThreads(1);
    model.dispose();
  }
});
