/**
 * PReLU, ELU, SpatialDropout2D, GaussianNoise, GaussianDropout, ActivityRegularization, Identity
 * and the hard_swish activation through the importer: a TF.js model saved by TF.js's own save
 * handler, then `.keras` (saveKeras → loadModel), legacy `.h5` and Keras 3 `.weights.h5` round
 * trips — same predictions, PReLU's alpha on its Keras key.
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

Deno.test("PReLU/ELU/Gaussian* model saved by TF.js: loaded, run as TF.js, .keras round trip", async () => {
  await tfReady();
  const rng = new Rng(221);
  const tfm = tf.sequential({
    layers: [
      tf.layers.prelu({ name: "p", inputShape: [5, 4, 3], sharedAxes: [1, 2] }),
      tf.layers.elu({ name: "e" }),
      tf.layers.gaussianNoise({ name: "gn", stddev: 0.1 }),
      tf.layers.flatten({ name: "f" }),
      tf.layers.dense({ name: "d", units: 7 }),
      tf.layers.gaussianDropout({ name: "gd", rate: 0.2 }),
      tf.layers.prelu({ name: "p2" }),
      tf.layers.dense({ name: "out", units: 3, activation: "softmax" }),
    ],
  });
  // Random weights everywhere (alpha included: its initializer is zeros).
  tfm.setWeights(tfm.getWeights().map((w) => tf.tensor(rng.floats(w.size, -0.8, 0.8), w.shape)));
  const x = rng.floats(17 * 60, -2, 2);
  const want = tf.tidy(() =>
    (tfm.predict(tf.tensor(x, [17, 5, 4, 3])) as tf.Tensor).dataSync() as Float32Array
  );
  const { model, spec } = await loadModel(await tfjsSaved(tfm));
  const got = model!.predict(new Tensor(x, [17, 5, 4, 3])).data;
  assert.ok(maxAbsDiff(got, want) <= 1e-5, `engine vs TF.js: ${maxAbsDiff(got, want)}`);
  assert.deepEqual(spec.weights.p.map((w) => w.shape), [[1, 1, 3]]);
  // saveKeras → loadModel: same predictions bit for bit, alpha under layers/p_re_lu/vars.
  const dir = await Deno.makeTempDir();
  try {
    const bytes = await saveKeras(model!, `${dir}/m.keras`);
    const paths = listHdf5(unzipSync(bytes)["model.weights.h5"]);
    for (const p of ["/layers/p_re_lu/vars/0 [1,1,3]", "/layers/p_re_lu_1/vars/0 [7]"]) {
      assert.ok(paths.includes(p), `${p} missing from ${paths.join("\n")}`);
    }
    const again = await loadModel(`${dir}/m.keras`);
    assert.equal(sameWeightsBitwise(again.spec.weights, spec.weights), undefined);
    assert.equal(maxAbsDiff(again.model!.predict(new Tensor(x, [17, 5, 4, 3])).data, got), 0);
    again.model!.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  model!.dispose();
  tfm.dispose();
});

Deno.test("every layer of the family and hard_swish: .keras, legacy .h5 and .weights.h5 round trips", async () => {
  const rng = new Rng(222);
  const spec: ModelSpec = randomSpec(
    [
      { class_name: "PReLU", config: { name: "p", shared_axes: [1, 2] } },
      { class_name: "SpatialDropout2D", config: { name: "sd", rate: 0.3 } },
      { class_name: "ELU", config: { name: "e", alpha: 0.6 } },
      { class_name: "GaussianNoise", config: { name: "gn", stddev: 0.1 } },
      { class_name: "Flatten", config: { name: "f" } },
      { class_name: "Dense", config: { name: "d", units: 6, activation: "hard_swish" } },
      { class_name: "GaussianDropout", config: { name: "gd", rate: 0.2 } },
      { class_name: "ActivityRegularization", config: { name: "ar", l1: 0.01, l2: 0 } },
      { class_name: "Identity", config: { name: "id" } },
      { class_name: "PReLU", config: { name: "p2" } },
      { class_name: "Dense", config: { name: "out", units: 2, activation: "hard_silu" } },
    ],
    [3, 5, 2],
    rng,
    { scale: 0.9 },
  );
  const model = buildModel(spec);
  const x = new Tensor(rng.floats(17 * 30, -2, 2), [17, 3, 5, 2]);
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
  // A Keras 3 weights-only file: alpha found on its key.
  const paths = listHdf5(await writeKeras3WeightsH5(spec));
  for (const p of ["/layers/p_re_lu/vars/0 [1,1,2]", "/layers/p_re_lu_1/vars/0 [6]"]) {
    assert.ok(paths.includes(p), `${p} missing from ${paths.join("\n")}`);
  }
  model.dispose();
});
