/**
 * A model with an adapted Normalization (weights `mean`, `variance`, `count` from the layer's own
 * `weightNames()`) and a per-channel Rescaling, saved as `.keras` with `kerasArchiveBytes` and
 * reloaded with `loadModel`: same weights under the Keras 3 variable layout, identical
 * predictions.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { buildModel, type Normalization, Tensor } from "../engine/mod.ts";
import { kerasArchiveBytes, loadModel, loadModelSpec } from "./mod.ts";

Deno.test(".keras round trip of Rescaling + adapted Normalization + CenterCrop keeps the adapt state and the predictions", async () => {
  const config = {
    class_name: "Sequential",
    config: {
      name: "preprocessed",
      layers: [
        { class_name: "InputLayer", config: { name: "image", batch_shape: [null, 7, 6, 3] } },
        {
          class_name: "Rescaling",
          config: { name: "rescale", scale: [1 / 255, 2 / 255, 0.5 / 255], offset: -0.5 },
        },
        {
          class_name: "Normalization",
          config: { name: "norm", axis: -1, mean: null, variance: null },
        },
        { class_name: "CenterCrop", config: { name: "crop", height: 5, width: 5 } },
        { class_name: "Flatten", config: { name: "flat" } },
        { class_name: "Dense", config: { name: "probs", units: 4, activation: "softmax" } },
      ],
    },
  };
  const model = buildModel({ config, weights: {} }, { initialize: { seed: 7 } });
  let s = 12345;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const data = Float32Array.from({ length: 40 * 126 }, () => 255 * next());
  const norm = model.getLayer("norm") as Normalization;
  norm.adapt(rescaled(data));
  const x = new Tensor(data.slice(0, 9 * 126), [9, 7, 6, 3]);
  const before = model.predict(x);

  const bytes = await kerasArchiveBytes(model);
  const spec = await loadModelSpec(bytes);
  const saved = spec.weights.norm;
  assertEquals(saved.map((w) => w.name), ["mean", "variance", "count"]);
  assertEquals(saved.map((w) => w.shape), [[3], [3], []]);
  assertEquals([...saved[0].data], [...norm.getWeights()[0].data]);
  assertEquals([...saved[1].data], [...norm.getWeights()[1].data]);

  const { model: loaded } = await loadModel(bytes);
  const after = loaded!.predict(x);
  assertEquals([...after.shape], [9, 4]);
  assertEquals([...after.data], [...before.data]);
  model.dispose();
  loaded!.dispose();
});

/** The Rescaling's output for `data` (what the Normalization after it sees). */
function rescaled(data: Float32Array): Tensor {
  const scale = [1 / 255, 2 / 255, 0.5 / 255];
  return new Tensor(data.map((v, i) => Math.fround(v * scale[i % 3]) - 0.5), [40, 7, 6, 3]);
}
