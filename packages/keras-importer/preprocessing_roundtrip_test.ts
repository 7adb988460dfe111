/**
 * A model with an adapted Normalization (weights `mean`, `variance`, `count` from the layer's own
 * `weightNames()`) and a per-channel Rescaling, saved as `.keras` with `kerasArchiveBytes` and
 * reloaded with `loadModel`: same weights under the Keras 3 variable layout, identical
 * predictions.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { unzipSync, zipSync } from "fflate";
import { buildModel, type Normalization, Tensor } from "../engine/mod.ts";
import { kerasArchiveBytes, layerWeightNames, loadModel, loadModelSpec } from "./mod.ts";

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

/**
 * Writes `model.weights.h5` as Keras 3 does for this model: one `layers/<key>/vars` group per
 * tracked layer (weightless ones empty) and Normalization's `count` an int64 scalar.
 */
async function kerasStyleWeights(
  groups: [key: string, name: string, arrays: { shape: number[]; data: Float32Array }[]][],
  count: bigint,
): Promise<Uint8Array> {
  const h5wasm = await import("npm:h5wasm@0.8.1");
  const { FS } = await h5wasm.ready;
  const path = `/keras_style_${Date.now()}.h5`;
  const file = new h5wasm.File(path, "w");
  try {
    file.create_group("layers");
    for (const [key, name, arrays] of groups) {
      const vars = file.create_group(`layers/${key}`).create_group("vars");
      vars.create_attribute("name", name);
      arrays.forEach((a, i) =>
        vars.create_dataset({ name: String(i), data: a.data, shape: a.shape, dtype: "<f" })
      );
      if (key === "normalization") {
        vars.create_dataset({ name: "2", data: BigInt64Array.of(count), shape: [], dtype: "<q" });
      }
    }
    file.create_group("vars").create_attribute("name", "preprocessed");
  } finally {
    file.close();
  }
  const bytes = new Uint8Array(FS.readFile(path));
  FS.unlink(path);
  return bytes;
}

Deno.test("a .keras whose Normalization count is an int64 scalar (as Keras 3 writes it) loads and predicts alike", async () => {
  const config = {
    class_name: "Sequential",
    config: {
      name: "preprocessed",
      layers: [
        { class_name: "InputLayer", config: { name: "features", batch_shape: [null, 4] } },
        { class_name: "Rescaling", config: { name: "rescaling", scale: 0.5, offset: 1 } },
        {
          class_name: "Normalization",
          config: { name: "normalization", axis: [-1], mean: null, variance: null, invert: false },
        },
        { class_name: "Dense", config: { name: "dense", units: 2 } },
      ],
    },
  };
  const mean = Float32Array.of(1, 2, 3, 4), variance = Float32Array.of(4, 1, 0.25, 9);
  const kernel = Float32Array.of(1, -1, 0.5, 2, -3, 0.25, 1, 1), bias = Float32Array.of(0.5, -0.5);
  const model = buildModel({
    config,
    weights: {
      normalization: [
        { name: "mean", shape: [4], data: mean },
        { name: "variance", shape: [4], data: variance },
        { name: "count", shape: [], data: Float32Array.of(0) },
      ],
      dense: [{ name: "kernel", shape: [4, 2], data: kernel }, {
        name: "bias",
        shape: [2],
        data: bias,
      }],
    },
  });
  const archive = unzipSync(await kerasArchiveBytes(model));
  archive["model.weights.h5"] = await kerasStyleWeights([
    ["rescaling", "rescaling", []],
    ["normalization", "normalization", [{ shape: [4], data: mean }, {
      shape: [4],
      data: variance,
    }]],
    ["dense", "dense", [{ shape: [4, 2], data: kernel }, { shape: [2], data: bias }]],
  ], 1000n);
  const { model: loaded } = await loadModel(zipSync(archive, { level: 0 }));
  const counts = loaded!.getLayer("normalization").getWeights().map((w) => [...w.data]);
  assertEquals(counts[2], [1000]);
  const x = new Tensor(Float32Array.of(0, 1, 2, 3, -4, 5, 6, -7), [2, 4]);
  // By hand: r = x/2 + 1, n = (r − mean)/√variance, y = n·kernel + bias.
  const want = [0, 1].flatMap((b) => {
    const n = [0, 1, 2, 3].map((k) =>
      (x.data[b * 4 + k] / 2 + 1 - mean[k]) / Math.sqrt(variance[k])
    );
    return [0, 1].map((j) => bias[j] + n.reduce((s, v, k) => s + v * kernel[k * 2 + j], 0));
  });
  const got = loaded!.predict(x);
  assertEquals(
    [...got.data].map((v) => Math.round(v * 1e5) / 1e5),
    want.map((v) => Math.round(v * 1e5) / 1e5),
  );
  assertEquals([...got.data], [...model.predict(x).data]);
  model.dispose();
  loaded!.dispose();
});

Deno.test("the importer learns Normalization's variables from the layer: mean, variance, count when adapted, none with config statistics", () => {
  assertEquals(layerWeightNames("Normalization", { axis: [-1], mean: null, variance: null }), [
    "mean",
    "variance",
    "count",
  ]);
  assertEquals(layerWeightNames("Normalization", { axis: -1, mean: [1, 2], variance: [3, 4] }), []);
  assertEquals(layerWeightNames("Rescaling", { scale: 0.5, offset: 0 }), []);
  assertEquals(layerWeightNames("RandomFlip", { mode: "horizontal" }), []);
});
