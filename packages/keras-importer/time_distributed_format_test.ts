/**
 * A video-style model with TimeDistributed(Conv2D) → TimeDistributed(MaxPooling2D) →
 * TimeDistributed(Flatten) → LSTM → Dense, trained one step by the engine, saved as `.keras` and
 * as a Keras 2 legacy `.h5`, reloaded: the wrapped Conv2D's weights sit where Keras 3 keeps them
 * (`layers/<wrapper>/layer/vars`), bit-identical, and the reloaded model predicts the same.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { unzipSync } from "fflate";
import { buildModel, Tensor } from "../engine/mod.ts";
import { kerasArchiveBytes, loadModel, loadModelSpec } from "./mod.ts";
import { listHdf5, sameWeightsBitwise } from "./testing/helpers.ts";
import { writeLegacyH5 } from "./testing/writers.ts";

const td = (name: string, layer: Record<string, unknown>) => ({
  class_name: "TimeDistributed",
  config: { name, layer },
});

Deno.test("TimeDistributed video model round-trips through .keras and legacy .h5", async () => {
  const config = {
    class_name: "Sequential",
    config: {
      name: "video",
      layers: [
        { class_name: "InputLayer", config: { name: "clip", batch_shape: [null, 4, 8, 8, 3] } },
        td("frames_conv", {
          class_name: "Conv2D",
          config: { name: "conv", filters: 5, kernel_size: 3, activation: "relu" },
        }),
        td("frames_pool", { class_name: "MaxPooling2D", config: { name: "pool", pool_size: 2 } }),
        td("frames_flat", { class_name: "Flatten", config: { name: "flat" } }),
        { class_name: "LSTM", config: { name: "rnn", units: 6 } },
        { class_name: "Dense", config: { name: "probs", units: 3, activation: "softmax" } },
      ],
    },
  };
  const model = buildModel({ config, weights: {} }, { initialize: { seed: 3 } });
  let s = 99;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const x = new Tensor(Float32Array.from({ length: 6 * 4 * 8 * 8 * 3 }, next), [6, 4, 8, 8, 3]);
  model.compile({ optimizer: "adam", loss: "sparse_categorical_crossentropy" });
  const before = model.getWeights().map((w) => w.data.slice());
  model.trainOnBatch(x, new Tensor(Float32Array.from([0, 1, 2, 0, 1, 2]), [6]));
  const after = model.getWeights();
  assert(after[0].data.some((v, i) => v !== before[0][i]), "fit changes the wrapped Conv2D");
  const want = model.predict(x);

  const bytes = await kerasArchiveBytes(model);
  const files = unzipSync(bytes);
  const paths = listHdf5(files["model.weights.h5"]);
  for (
    const p of [
      "/layers/time_distributed/layer/vars/0 [3,3,3,5]",
      "/layers/time_distributed/layer/vars/1 [5]",
      "/layers/time_distributed/vars/",
    ]
  ) assert(paths.includes(p), `${p} missing from ${paths.join("\n")}`);
  const saved = JSON.parse(new TextDecoder().decode(files["config.json"]));
  assertEquals(saved.config.layers[1].config.layer.module, "keras.layers");

  const spec = await loadModelSpec(bytes);
  assertEquals(spec.weights.frames_conv.map((w) => w.shape), [[3, 3, 3, 5], [5]]);
  const { model: loaded } = await loadModel(bytes);
  assertEquals([...loaded!.predict(x).data], [...want.data]);
  loaded!.dispose();

  const h5 = await writeLegacyH5({ ...spec, weights: spec.weights }, "keras2");
  const fromH5 = await loadModelSpec(h5);
  assertEquals(sameWeightsBitwise(fromH5.weights, spec.weights), undefined);
  const { model: legacy } = await loadModel(h5);
  assertEquals([...legacy!.predict(x).data], [...want.data]);
  legacy!.dispose();
  model.dispose();
});
