/**
 * The video classifier people train in Keras — ConvLSTM2D(return_sequences) → BatchNormalization
 * → MaxPooling3D → GlobalAveragePooling3D → Dense softmax — trained a few Adam steps by the engine
 * on clips of a square moving left, moving right or standing still (the loss falls), then written
 * as `.keras` (the ConvLSTM2D's weights where Keras 3 keeps them: `cell/vars`), legacy `.h5`
 * (Keras 2 and 3 naming) and TF.js, each read back and predicting exactly what the trained model
 * predicts. A model TF.js itself saved (its weight names and config) loads and predicts as TF.js.
 */
import assert from "node:assert/strict";
import { unzipSync } from "fflate";
import { buildModel, type Model, Tensor } from "../engine/mod.ts";
import { kerasArchiveBytes, loadModel, type ModelSource } from "./mod.ts";
import { listHdf5 } from "./testing/helpers.ts";
import { writeLegacyH5, writeTfjs } from "./testing/writers.ts";
import { Rng } from "../engine/testing/random.ts";
import { relativeError } from "../engine/testing/gradient_check.ts";
import { tf, tfjsPredict, tfReady } from "../engine/testing/tfjs_reference.ts";
import { tfjsSaved } from "./testing/tfjs_saved.ts";

const FRAMES = 4, SIZE = 7, CLASSES = 3;

const CONFIG = {
  class_name: "Sequential",
  config: {
    name: "video_classifier",
    layers: [
      {
        class_name: "InputLayer",
        config: { name: "clip", batch_shape: [null, FRAMES, SIZE, SIZE, 1] },
      },
      {
        class_name: "ConvLSTM2D",
        config: {
          name: "conv_lstm",
          filters: 4,
          kernel_size: [3, 3],
          padding: "same",
          return_sequences: true,
        },
      },
      { class_name: "BatchNormalization", config: { name: "bn" } },
      { class_name: "MaxPooling3D", config: { name: "pool", pool_size: [1, 2, 2] } },
      { class_name: "GlobalAveragePooling3D", config: { name: "gap" } },
      { class_name: "Dense", config: { name: "probs", units: CLASSES, activation: "softmax" } },
    ],
  },
};

/**
 * `n` clips of a 2×2 square on a noisy background: class 0 moves right one column a frame,
 * class 1 moves left, class 2 stands still.
 */
function clips(rng: Rng, n: number): { x: Tensor; y: Tensor } {
  const x = new Float32Array(n * FRAMES * SIZE * SIZE);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % CLASSES;
    y[i] = label;
    const step = label === 0 ? 1 : label === 1 ? -1 : 0;
    const row = rng.int(0, SIZE - 1);
    const col0 = step === 1
      ? rng.int(0, 2)
      : step === -1
      ? rng.int(SIZE - 4, SIZE - 1)
      : rng.int(0, SIZE - 1);
    for (let f = 0; f < FRAMES; f++) {
      const base = (i * FRAMES + f) * SIZE * SIZE;
      for (let p = 0; p < SIZE * SIZE; p++) x[base + p] = rng.uniform(0, 0.2);
      const col = col0 + step * f;
      for (const [dr, dc] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
        x[base + (row + dr) * SIZE + col + dc] = 1;
      }
    }
  }
  return { x: new Tensor(x, [n, FRAMES, SIZE, SIZE, 1]), y: new Tensor(y, [n]) };
}

async function formats(model: Model): Promise<[string, ModelSource][]> {
  const spec = model.toSpec();
  const tfjs = writeTfjs(spec);
  return [
    [".keras", await kerasArchiveBytes(model)],
    ["legacy .h5 (Keras 2)", await writeLegacyH5(spec, "keras2")],
    ["legacy .h5 (Keras 3)", await writeLegacyH5(spec, "keras3")],
    ["TF.js", { modelJson: tfjs.modelJson, shards: [...tfjs.files.values()] }],
  ];
}

Deno.test("video classifier (ConvLSTM2D → BatchNormalization → MaxPooling3D → GlobalAveragePooling3D → Dense): trains with falling loss, every format reloads and predicts identically", async () => {
  const rng = new Rng(1731);
  const model = buildModel({ config: CONFIG, weights: {} }, { initialize: { seed: 17 } });
  try {
    model.compile({
      optimizer: { class_name: "Adam", config: { learning_rate: 0.05 } },
      loss: "sparse_categorical_crossentropy",
    });
    const train = clips(rng, 18);
    const losses: number[] = [];
    for (let step = 0; step < 10; step++) losses.push(model.trainOnBatch(train.x, train.y).loss);
    assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
    assert.ok(
      losses.at(-1)! < 0.8 * losses[0],
      `the loss should fall by a fifth in 10 steps: ${losses.map((l) => l.toFixed(4))}`,
    );

    const test = clips(rng, 5);
    const want = Array.from(model.predict(test.x).data);

    const archive = unzipSync(await kerasArchiveBytes(model));
    const paths = listHdf5(archive["model.weights.h5"]);
    for (
      const p of [
        "/layers/conv_lstm2d/cell/vars/0 [3,3,1,16]",
        "/layers/conv_lstm2d/cell/vars/1 [3,3,4,16]",
        "/layers/conv_lstm2d/cell/vars/2 [16]",
      ]
    ) assert.ok(paths.includes(p), `${p} missing from ${paths.join("\n")}`);

    for (const [label, source] of await formats(model)) {
      const { model: loaded } = await loadModel(source);
      assert.ok(loaded, label);
      try {
        assert.deepEqual(Array.from(loaded.predict(test.x).data), want, label);
      } finally {
        loaded.dispose();
      }
    }
  } finally {
    model.dispose();
  }
});

Deno.test("a ConvLSTM2D → MaxPooling3D → Flatten → Dense model saved by TF.js itself loads and predicts what TF.js predicts (≤ 1e-5 relative)", async () => {
  await tfReady();
  const rng = new Rng(1732);
  const ref = tf.sequential();
  ref.add(tf.layers.convLstm2d({
    inputShape: [3, 6, 5, 2],
    filters: 3,
    kernelSize: [3, 2],
    padding: "same",
    returnSequences: true,
    goBackwards: true,
    recurrentInitializer: "glorotUniform",
  }));
  ref.add(tf.layers.maxPooling3d({ poolSize: [2, 2, 2], padding: "same" }));
  ref.add(tf.layers.flatten());
  ref.add(tf.layers.dense({ units: 2, activation: "softmax" }));
  const { model, spec } = await loadModel(await tfjsSaved(ref));
  assert.ok(model);
  try {
    const saved = spec.config.config as { layers: { class_name: string }[] };
    assert.ok(saved.layers.some((l) => l.class_name === "ConvLSTM2D"));
    for (const batch of [1, 3]) {
      const shape = [batch, 3, 6, 5, 2];
      const x = rng.floats(shape.reduce((a, b) => a * b, 1), -1, 1);
      const got = model.predict(new Tensor(x, shape)).data as Float32Array;
      const e = relativeError(got, tfjsPredict(ref, x, shape));
      assert.ok(e <= 1e-5, `batch ${batch}: relative error ${e}`);
    }
  } finally {
    model.dispose();
    ref.dispose();
  }
});
