/**
 * DepthwiseConv2D and SeparableConv2D through the importer: a TF.js model saved by TF.js's own
 * save handler, then `.keras` (saveKeras → loadModel), legacy `.h5` (Keras 2 and 3 layouts) and
 * Keras 3 `.weights.h5` — same predictions, weights on Keras 3's keys.
 */
import assert from "node:assert/strict";
import { unzipSync } from "fflate";
import { buildModel, type ModelSpec, Tensor } from "@scratchnet/engine";
import { tf, tfReady } from "../engine/testing/tfjs_reference.ts";
import { randomSpec } from "../engine/testing/gradient_check.ts";
import { maxAbsDiff, Rng } from "../engine/testing/random.ts";
import { loadModel, type ModelSource } from "./load.ts";
import { tfjsSaved } from "./testing/tfjs_saved.ts";
import { kerasArchiveBytes, saveKeras } from "./save_keras.ts";
import { listHdf5, sameWeightsBitwise } from "./testing/helpers.ts";
import { writeKeras3WeightsH5, writeLegacyH5 } from "./testing/writers.ts";

/** The Keras 3 `.weights.h5` variable paths of the depthwise and separable layers below. */
const KERAS3_PATHS = [
  "/layers/depthwise_conv2d/vars/0 [3,3,3,2]",
  "/layers/depthwise_conv2d/vars/1 [6]",
  "/layers/separable_conv2d/vars/0 [3,3,6,1]",
  "/layers/separable_conv2d/vars/1 [1,1,6,5]",
  "/layers/separable_conv2d/vars/2 [5]",
];

Deno.test("DepthwiseConv2D/SeparableConv2D model saved by TF.js: loaded, run as TF.js, .keras round trip", async () => {
  await tfReady();
  const rng = new Rng(1551);
  const tfm = tf.sequential({
    layers: [
      tf.layers.depthwiseConv2d({
        name: "dw",
        inputShape: [9, 8, 3],
        kernelSize: 3,
        depthMultiplier: 2,
        strides: 2,
        padding: "same",
        activation: "relu",
      }),
      tf.layers.separableConv2d({
        name: "sep",
        filters: 5,
        kernelSize: 3,
        padding: "valid",
        activation: "tanh",
      }),
      tf.layers.flatten({ name: "f" }),
      tf.layers.dense({ name: "out", units: 3, activation: "softmax" }),
    ],
  });
  tfm.setWeights(tfm.getWeights().map((w) => tf.tensor(rng.floats(w.size, -0.8, 0.8), w.shape)));
  const x = rng.floats(17 * 9 * 8 * 3, -2, 2);
  const want = tf.tidy(() =>
    (tfm.predict(tf.tensor(x, [17, 9, 8, 3])) as tf.Tensor).dataSync() as Float32Array
  );
  const { model, spec } = await loadModel(await tfjsSaved(tfm));
  const got = model!.predict(new Tensor(x, [17, 9, 8, 3])).data;
  assert.ok(maxAbsDiff(got, want) <= 1e-5, `engine vs TF.js: ${maxAbsDiff(got, want)}`);
  assert.deepEqual(spec.weights.dw.map((w) => w.shape), [[3, 3, 3, 2], [6]]);
  assert.deepEqual(spec.weights.sep.map((w) => w.shape), [[3, 3, 6, 1], [1, 1, 6, 5], [5]]);
  const dir = await Deno.makeTempDir();
  try {
    const bytes = await saveKeras(model!, `${dir}/m.keras`);
    const paths = listHdf5(unzipSync(bytes)["model.weights.h5"]);
    for (const p of KERAS3_PATHS) {
      assert.ok(paths.includes(p), `${p} missing from ${paths.join("\n")}`);
    }
    const again = await loadModel(`${dir}/m.keras`);
    assert.equal(sameWeightsBitwise(again.spec.weights, spec.weights), undefined);
    assert.equal(maxAbsDiff(again.model!.predict(new Tensor(x, [17, 9, 8, 3])).data, got), 0);
    again.model!.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  model!.dispose();
  tfm.dispose();
});

Deno.test("DepthwiseConv2D/SeparableConv2D (with and without bias): .keras, legacy .h5 and .weights.h5 round trips", async () => {
  const rng = new Rng(1552);
  const spec: ModelSpec = randomSpec(
    [
      {
        class_name: "DepthwiseConv2D",
        config: { name: "dw", kernel_size: 3, depth_multiplier: 2, padding: "same" },
      },
      {
        class_name: "SeparableConv2D",
        config: { name: "sep", filters: 5, kernel_size: [3, 3], dilation_rate: 2, use_bias: true },
      },
      {
        class_name: "DepthwiseConv2D",
        config: { name: "dw2", kernel_size: [1, 2], use_bias: false, activation: "relu6" },
      },
      {
        class_name: "SeparableConv2D",
        config: { name: "sep2", filters: 4, kernel_size: 1, use_bias: false },
      },
    ],
    [9, 10, 3],
    rng,
    { scale: 0.9 },
  );
  const model = buildModel(spec);
  const x = new Tensor(rng.floats(17 * 270, -2, 2), [17, 9, 10, 3]);
  const want = model.predict(x).data;
  const sources: [string, ModelSource][] = [
    [".keras", await kerasArchiveBytes(model)],
    ["legacy .h5 (Keras 2 layout)", await writeLegacyH5(spec, "keras2")],
    ["legacy .h5 (Keras 3 layout)", await writeLegacyH5(spec, "keras3")],
  ];
  for (const [what, source] of sources) {
    const loaded = await loadModel(source);
    assert.equal(sameWeightsBitwise(loaded.spec.weights, spec.weights), undefined, what);
    assert.equal(maxAbsDiff(loaded.model!.predict(x).data, want), 0, what);
    loaded.model!.dispose();
  }
  const paths = listHdf5(await writeKeras3WeightsH5(spec));
  for (const p of KERAS3_PATHS) {
    assert.ok(paths.includes(p), `${p} missing from ${paths.join("\n")}`);
  }
  for (
    const p of [
      "/layers/depthwise_conv2d_1/vars/0 [1,2,5,1]",
      "/layers/separable_conv2d_1/vars/1 [1,1,5,4]",
    ]
  ) {
    assert.ok(paths.includes(p), `${p} missing from ${paths.join("\n")}`);
  }
  model.dispose();
});
