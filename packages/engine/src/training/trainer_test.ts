import {
  Adam,
  buildModel,
  Callback,
  type ModelSpec,
  RMSprop,
  SGD,
  Tensor,
  TrainingConfigError,
} from "../../mod.ts";
import { batchShuffle } from "./trainer.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { randomSpec } from "../../testing/gradient_check.ts";
import { tf, tfReady } from "../../testing/tfjs_reference.ts";
import { type TfBatch, tfjsKerasAdam, tfjsTrainWith } from "../../testing/tfjs_training.ts";

const dense = (name: string, units: number, activation = "linear") => ({
  class_name: "Dense",
  config: { name, units, activation },
});

function mlpSpec(rng: Rng): ModelSpec {
  return randomSpec(
    [dense("h1", 16, "relu"), dense("h2", 9, "tanh"), dense("out", 4, "softmax")],
    [11],
    rng,
  );
}

function batches(rng: Rng, count: number, size: number): TfBatch[] {
  return Array.from({ length: count }, () => ({
    x: rng.floats(size * 11, -2, 2),
    xShape: [size, 11],
    y: Float32Array.from({ length: size }, () => rng.int(0, 4)),
  }));
}

function engineTrain(spec: ModelSpec, data: TfBatch[], optimizer: Adam | SGD | RMSprop) {
  const model = buildModel(spec);
  model.compile({ optimizer, loss: "sparse_categorical_crossentropy" });
  for (const b of data) {
    model.trainOnBatch(new Tensor(b.x, b.xShape), new Tensor(b.y, [b.y.length]));
  }
  const w = model.getWeights().map((t) => t.data);
  model.dispose();
  return w;
}

function assertWeightsClose(got: Float32Array[], want: Float32Array[], tol: number, what: string) {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} vs ${want.length}`);
  const d = Math.max(...got.map((g, i) => maxAbsDiff(g, want[i])));
  if (!(d <= tol)) throw new Error(`${what}: weights differ by ${d} > ${tol}`);
  return d;
}

Deno.test("20 Adam steps on an MLP: engine and TF.js (Keras 3 Adam) end ≤ 1e-4 apart", async () => {
  await tfReady();
  const rng = new Rng(201);
  const spec = mlpSpec(rng);
  const data = batches(rng, 20, 8);
  const got = engineTrain(spec, data, new Adam());
  const want = tfjsKerasAdam(spec, data, { name: "sparse_categorical_crossentropy" });
  assertWeightsClose(got, want, 1e-4, "adam");
  // The run moved the weights far more than the tolerance (the comparison is not vacuous).
  const start = Object.values(spec.weights).flat().map((w) => w.data);
  const moved = Math.max(...got.map((g, i) => maxAbsDiff(g, start[i])));
  if (!(moved > 1e-2)) throw new Error(`weights barely moved: ${moved}`);
});

Deno.test("SGD (plain, momentum) and RMSprop match TF.js optimizers with the same rules", async () => {
  await tfReady();
  const rng = new Rng(202);
  const spec = mlpSpec(rng);
  const data = batches(rng, 10, 17);
  const loss = { name: "sparse_categorical_crossentropy" as const };
  assertWeightsClose(
    engineTrain(spec, data, new SGD({ learningRate: 0.05 })),
    tfjsTrainWith(spec, data, loss, tf.train.sgd(0.05)),
    1e-4,
    "sgd",
  );
  assertWeightsClose(
    engineTrain(spec, data, new SGD({ learningRate: 0.05, momentum: 0.9 })),
    tfjsTrainWith(spec, data, loss, tf.train.momentum(0.05, 0.9)),
    1e-4,
    "sgd momentum",
  );
  assertWeightsClose(
    engineTrain(spec, data, new RMSprop({ learningRate: 1e-3 })),
    tfjsTrainWith(spec, data, loss, tf.train.rmsprop(1e-3, 0.9, 0, 1e-7)),
    1e-4,
    "rmsprop",
  );
});

function blobs(rng: Rng, n: number) {
  // Three Gaussian blobs in 4-D: learnable, not linearly trivial with noise.
  const centers = [[1, 1, 0, 0], [-1, 0, 1, 0], [0, -1, -1, 1]];
  const x = new Float32Array(n * 4), y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(0, 3);
    y[i] = c;
    for (let j = 0; j < 4; j++) x[i * 4 + j] = centers[c][j] + 0.6 * (rng.next() * 2 - 1);
  }
  return { x: new Tensor(x, [n, 4]), y: new Tensor(y, [n]) };
}

const blobConfig = {
  class_name: "Sequential",
  config: {
    name: "blobs",
    layers: [
      { class_name: "InputLayer", config: { name: "in", batch_shape: [null, 4] } },
      dense("h", 16, "relu"),
      { class_name: "Dropout", config: { name: "drop", rate: 0.2 } },
      dense("out", 3, "softmax"),
    ],
  },
};

Deno.test("fit: the loss falls on a learnable problem; history has Keras's keys", async () => {
  const rng = new Rng(203);
  const { x, y } = blobs(rng, 240);
  const model = buildModel({ config: blobConfig, weights: {} }, { initialize: { seed: 5 } });
  model.compile({
    optimizer: new Adam({ learningRate: 0.01 }),
    loss: "sparse_categorical_crossentropy",
    metrics: ["accuracy"],
  });
  const h = await model.fit(x, y, { epochs: 12, batchSize: 16, validationSplit: 0.25, verbose: 0 });
  const keys = Object.keys(h.history).sort().join(",");
  if (keys !== "accuracy,loss,val_accuracy,val_loss") throw new Error(`history keys ${keys}`);
  if (h.epoch.length !== 12) throw new Error(`epochs ${h.epoch}`);
  const loss = h.history.loss, val = h.history.val_loss;
  if (!(loss[11] < 0.5 * loss[0])) throw new Error(`loss did not fall: ${loss}`);
  if (!(val[11] < 0.5 * val[0])) throw new Error(`val_loss did not fall: ${val}`);
  if (!(h.history.val_accuracy[11] > 0.9)) throw new Error(`val acc ${h.history.val_accuracy}`);
  model.dispose();
});

Deno.test("epoch loss is the sample-weighted mean over the epoch; val_* equal evaluate()", async () => {
  const rng = new Rng(204);
  const { x, y } = blobs(rng, 50);
  const sw = rng.floats(50, 0, 2);
  const model = buildModel({ config: blobConfig, weights: {} }, { initialize: { seed: 6 } });
  // A vanishing learning rate leaves the weights as they are: each batch loss is then the
  // inference loss of that batch (Dropout aside: rate 0.2 → compare with dropout off below).
  model.compile({
    optimizer: new SGD({ learningRate: 1e-30 }),
    loss: "sparse_categorical_crossentropy",
    metrics: ["accuracy"],
  });
  const xv = new Tensor(x.data.slice(0, 20 * 4), [20, 4]);
  const yv = new Tensor(y.data.slice(0, 20), [20]);
  const h = await model.fit(x, y, {
    epochs: 1,
    batchSize: 7,
    sampleWeight: sw,
    validationData: [xv, yv],
    shuffle: false,
    verbose: 0,
  });
  const val = model.evaluate(xv, yv, { batchSize: 3 });
  if (Math.abs(h.history.val_loss[0] - val.loss) > 1e-6) {
    throw new Error(`val_loss ${h.history.val_loss[0]} vs evaluate ${val.loss}`);
  }
  if (Math.abs(h.history.val_accuracy[0] - val.accuracy) > 1e-9) throw new Error("val_accuracy");
  model.dispose();
  // Without Dropout, the training-epoch loss equals Σ w·L / N over the whole data.
  const noDrop = {
    ...blobConfig,
    config: {
      ...blobConfig.config,
      layers: blobConfig.config.layers.filter((l) => l.class_name !== "Dropout"),
    },
  };
  const m2 = buildModel({ config: noDrop, weights: {} }, { initialize: { seed: 6 } });
  m2.compile({
    optimizer: new SGD({ learningRate: 1e-30 }),
    loss: "sparse_categorical_crossentropy",
  });
  const whole = m2.evaluate(x, y, { batchSize: 50, sampleWeight: sw }).loss;
  const h2 = await m2.fit(x, y, { epochs: 1, batchSize: 7, sampleWeight: sw, verbose: 0 });
  if (Math.abs(h2.history.loss[0] - whole) > 1e-6) {
    throw new Error(`epoch loss ${h2.history.loss[0]} vs weighted mean ${whole}`);
  }
  // validationSplit takes the last samples (before shuffling).
  const h3 = await m2.fit(x, y, { epochs: 1, batchSize: 8, validationSplit: 0.2, verbose: 0 });
  const tail = m2.evaluate(
    new Tensor(x.data.slice(40 * 4), [10, 4]),
    new Tensor(y.data.slice(40), [10]),
  );
  if (Math.abs(h3.history.val_loss[0] - tail.loss) > 1e-6) throw new Error("validationSplit tail");
  m2.dispose();
});

Deno.test("training steps do not grow the heap; dispose frees gradients and optimizer slots", () => {
  const { heap } = getRuntime();
  const baseline = heap.liveCount;
  const rng = new Rng(205);
  const { x, y } = blobs(rng, 64);
  const model = buildModel({ config: blobConfig, weights: {} }, { initialize: { seed: 7 } });
  model.compile({ optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["acc"] });
  model.trainOnBatch(x, y);
  const live = heap.liveCount, bytes = heap.memoryBytes;
  for (let i = 0; i < 300; i++) model.trainOnBatch(x, y);
  model.evaluate(x, y);
  if (heap.liveCount !== live) throw new Error(`leaked ${heap.liveCount - live} blocks`);
  if (heap.memoryBytes !== bytes) throw new Error(`memory grew ${bytes} → ${heap.memoryBytes}`);
  model.dispose();
  if (heap.liveCount !== baseline) throw new Error(`dispose left ${heap.liveCount - baseline}`);
});

Deno.test("trained weights: getWeights reads the device; the spec's arrays are not modified", () => {
  const rng = new Rng(206);
  const spec = mlpSpec(rng);
  const before = Object.values(spec.weights).flat().map((w) => w.data.slice());
  const model = buildModel(spec);
  model.compile({
    optimizer: new SGD({ learningRate: 0.1 }),
    loss: "sparse_categorical_crossentropy",
  });
  const b = batches(rng, 1, 9)[0];
  const x = new Tensor(b.x, b.xShape), y = new Tensor(b.y, [9]);
  const p0 = model.predict(x);
  model.trainOnBatch(x, y);
  const after = model.getWeights();
  if (maxAbsDiff(after[0].data, before[0]) === 0) throw new Error("getWeights is stale");
  Object.values(spec.weights).flat().forEach((w, i) => {
    if (maxAbsDiff(w.data, before[i]) !== 0) throw new Error(`spec weight ${w.name} modified`);
  });
  // Restoring the old weights restores the old predictions.
  model.setWeights(before.map((d, i) => ({ ...after[i], data: d })));
  if (maxAbsDiff(model.predict(x).data, p0.data) > 1e-6) throw new Error("setWeights");
  model.dispose();
});

Deno.test("layers with trainable: false are not updated", () => {
  const rng = new Rng(207);
  const spec = mlpSpec(rng);
  const layers = (spec.config.config as { layers: { config: Record<string, unknown> }[] }).layers;
  layers[1].config.trainable = false;
  const model = buildModel(spec);
  model.compile({ optimizer: "adam", loss: "sparse_categorical_crossentropy" });
  const b = batches(rng, 1, 9)[0];
  const w0 = model.getWeights();
  model.trainOnBatch(new Tensor(b.x, b.xShape), new Tensor(b.y, [9]));
  const w1 = model.getWeights();
  if (maxAbsDiff(w0[0].data, w1[0].data) !== 0 || maxAbsDiff(w0[1].data, w1[1].data) !== 0) {
    throw new Error("frozen layer changed");
  }
  if (maxAbsDiff(w0[2].data, w1[2].data) === 0) throw new Error("trainable layer did not change");
  model.dispose();
});

Deno.test('fit shuffle "batch": whole batches in a shuffled order, the partial batch last (Keras batch_shuffle)', async () => {
  const order = batchShuffle(Int32Array.from([2, 0, 1]), 11, 3);
  if (order.join() !== "6,7,8,0,1,2,3,4,5,9,10") throw new Error(`order ${order}`);
  const rng = new Rng(207);
  const { x, y } = blobs(rng, 23);
  const noDrop = {
    ...blobConfig,
    config: {
      ...blobConfig.config,
      layers: blobConfig.config.layers.filter((l) => l.class_name !== "Dropout"),
    },
  };
  const model = buildModel({ config: noDrop, weights: {} }, { initialize: { seed: 8 } });
  model.compile({
    optimizer: new SGD({ learningRate: 1e-30 }),
    loss: "sparse_categorical_crossentropy",
  });
  // Each contiguous chunk's loss sum, from evaluate (the weights do not move).
  const chunkSums: number[] = [];
  for (let s = 0; s < 23; s += 5) {
    const e = Math.min(23, s + 5);
    const part = model.evaluate(x.sliceBatch(s, e), new Tensor(y.data.slice(s, e), [e - s]));
    chunkSums.push(part.loss * (e - s));
  }
  // The batch losses fit saw, from its running means.
  const seen: number[] = [];
  let prev = 0;
  class BatchLosses extends Callback {
    override onTrainBatchEnd(batch: number, logs: Record<string, number>) {
      const count = Math.min(23, (batch + 1) * 5);
      seen.push(logs.loss * count - prev);
      prev = logs.loss * count;
    }
  }
  await model.fit(x, y, {
    epochs: 1,
    batchSize: 5,
    shuffle: "batch",
    verbose: 0,
    callbacks: [new BatchLosses()],
  });
  model.dispose();
  const match = (a: number, b: number) => Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b));
  if (!match(seen[4], chunkSums[4])) throw new Error(`last batch ${seen[4]} vs ${chunkSums[4]}`);
  const left = chunkSums.slice(0, 4);
  for (const s of seen.slice(0, 4)) {
    const i = left.findIndex((c) => match(s, c));
    if (i < 0) throw new Error(`batch loss ${s} is no chunk's: ${chunkSums}`);
    left.splice(i, 1);
  }
  if (seen.slice(0, 4).every((s, i) => match(s, chunkSums[i]))) {
    throw new Error("batches in their original order (seed 1337 shuffles 4 batches)");
  }
  const bad = buildModel({ config: noDrop, weights: {} }, { initialize: { seed: 8 } });
  bad.compile({
    optimizer: new SGD({ learningRate: 0.1 }),
    loss: "sparse_categorical_crossentropy",
  });
  try {
    await bad.fit(x, y, { shuffle: "samples" as unknown as boolean, verbose: 0 });
    throw new Error("shuffle samples accepted");
  } catch (e) {
    if (!(e instanceof TrainingConfigError) || e.field !== "shuffle") throw e;
  } finally {
    bad.dispose();
  }
});
