/**
 * File-layout tests: the real Keras samples, and files written in the exact Keras / TF.js
 * layouts for every layer kind, read back with the same config and weights. These do not run
 * the engine (see `engine_test.ts`), so they use the complete class list.
 */
import assert from "node:assert/strict";
import { unzipSync } from "fflate";
import { kerasArchiveBytes, withKeras3Modules } from "./save_keras.ts";
import { readModelSpec } from "./load.ts";
import {
  ALL_ENGINE_CLASSES,
  listHdf5,
  maxWeightDiff,
  sameWeightsBitwise,
  samplePath,
} from "./testing/helpers.ts";
import { allTestModels, rnnModel } from "./testing/model_specs.ts";
import {
  writeKeras2WeightsH5,
  writeKeras3WeightsH5,
  writeLegacyH5,
  writeTfjs,
  writeTfjsFiles,
} from "./testing/writers.ts";
import { kerasV3LayerKeys, toSnakeCase } from "./keras_layout.ts";

const read = (source: Parameters<typeof readModelSpec>[0], options = {}) =>
  readModelSpec(source, options, ALL_ENGINE_CLASSES);

Deno.test("toSnakeCase and layer keys follow keras naming.to_snake_case and repeat suffixes", () => {
  assert.deepEqual(
    ["Conv2D", "MaxPooling2D", "SimpleRNN", "ReLU", "LeakyReLU", "GRU", "BatchNormalization"].map(
      toSnakeCase,
    ),
    ["conv2d", "max_pooling2d", "simple_rnn", "re_lu", "leaky_re_lu", "gru", "batch_normalization"],
  );
  assert.deepEqual(
    kerasV3LayerKeys(["Embedding", "LSTM", "LSTM", "Dropout", "Dense", "LSTM", "Dense"]),
    ["embedding", "lstm", "lstm_1", "dropout", "dense", "lstm_2", "dense_1"],
  );
});

Deno.test("sample lstm_2_layer.keras: config, metadata and weights under layers/<key>", async () => {
  const spec = await read(samplePath("lstm_2_layer.keras"));
  assert.equal(spec.meta.format, "keras");
  assert.equal(spec.meta.kerasVersion, "3.10.0");
  assert.deepEqual(Object.keys(spec.weights), ["embedding_19", "lstm_23", "lstm_24", "dense_19"]);
  assert.deepEqual(spec.weights.lstm_23.map((w) => w.shape), [[50, 120], [30, 120], [120]]);
  assert.deepEqual(spec.weights.lstm_24.map((w) => w.shape), [[30, 120], [30, 120], [120]]);
  assert.deepEqual(spec.weights.dense_19.map((w) => w.shape), [[30, 3], [3]]);
  assert.equal(spec.preprocessing.length, 0);
});

Deno.test("sample lstm_bidirectional.keras: forward weights come before backward", async () => {
  const spec = await read(samplePath("lstm_bidirectional.keras"));
  const bi = spec.weights.bidirectional;
  assert.deepEqual(bi.map((w) => w.name), [
    "forward/kernel",
    "forward/recurrent_kernel",
    "forward/bias",
    "backward/kernel",
    "backward/recurrent_kernel",
    "backward/bias",
  ]);
  assert.deepEqual(bi.map((w) => w.shape), [[50, 128], [32, 128], [128], [50, 128], [32, 128], [
    128,
  ]]);
  // Forward and backward are distinct trained tensors.
  assert.notDeepEqual(Array.from(bi[0].data.slice(0, 8)), Array.from(bi[3].data.slice(0, 8)));
});

Deno.test("sample best_rnn_model.h5 (Keras 3 legacy): stacked Bidirectional SimpleRNN", async () => {
  const spec = await read(samplePath("best_rnn_model.h5"));
  assert.deepEqual(spec.meta, {
    format: "h5",
    kerasVersion: "3.8.0",
    backend: "tensorflow",
    sourceName: samplePath("best_rnn_model.h5"),
  });
  assert.deepEqual(Object.keys(spec.weights), [
    "embedding_17",
    "bidirectional_36",
    "bidirectional_37",
    "dense_34",
    "dense_35",
  ]);
  const bi = spec.weights.bidirectional_37;
  assert.deepEqual(bi.map((w) => w.name), [
    "forward_simple_rnn_41/simple_rnn_cell/kernel",
    "forward_simple_rnn_41/simple_rnn_cell/recurrent_kernel",
    "forward_simple_rnn_41/simple_rnn_cell/bias",
    "backward_simple_rnn_41/simple_rnn_cell/kernel",
    "backward_simple_rnn_41/simple_rnn_cell/recurrent_kernel",
    "backward_simple_rnn_41/simple_rnn_cell/bias",
  ]);
  assert.deepEqual(bi[0].shape, [128, 64]);
});

Deno.test("sample test3_model_2.h5: CNN weights and the fixed batch_shape kept in the config", async () => {
  const spec = await read(samplePath("test3_model_2.h5"));
  assert.equal(spec.meta.kerasVersion, "3.9.2");
  assert.deepEqual(spec.weights.conv2d_1.map((w) => w.shape), [[3, 3, 3, 16], [16]]);
  assert.deepEqual(spec.weights.dense_2.map((w) => w.shape), [[3600, 16], [16]]);
  const layers = spec.config.config.layers as { config: Record<string, unknown> }[];
  assert.deepEqual(layers[0].config.batch_shape, [64, 32, 32, 3]);
});

Deno.test("sample vectorizer.keras: TextVectorization config and CRLF vocabulary asset", async () => {
  const spec = await read(samplePath("vectorizer.keras"));
  assert.equal(spec.preprocessing.length, 1);
  const [tv] = spec.preprocessing;
  assert.equal(tv.layerName, "text_vectorization_2");
  assert.equal(tv.config.output_sequence_length, 64);
  assert.equal(tv.vocabulary.length, tv.config.vocabulary_size);
  assert.deepEqual(tv.vocabulary.slice(0, 3), ["", "[UNK]", "yang"]);
  assert.ok(tv.vocabulary.every((t) => !t.includes("\r")));
  const layers = spec.config.config.layers as {
    class_name: string;
    config: Record<string, unknown>;
  }[];
  assert.deepEqual(layers.map((l) => l.class_name), ["InputLayer"]);
  assert.deepEqual(layers[0].config.batch_shape, [null, 64]);
  assert.equal(layers[0].config.dtype, "int32");
});

Deno.test("saveKeras of a real .keras reproduces its HDF5 group layout exactly", async () => {
  for (const name of ["lstm_bidirectional.keras", "lstm_2_layer.keras"]) {
    const original = unzipSync(await Deno.readFile(samplePath(name)));
    const spec = await read(samplePath(name));
    const saved = unzipSync(
      await kerasArchiveBytes({ config: spec.config, weights: spec.weights }),
    );
    assert.deepEqual(Object.keys(saved), ["metadata.json", "config.json", "model.weights.h5"]);
    const skipOptimizer = (p: string) => p.startsWith("/optimizer");
    assert.deepEqual(
      listHdf5(saved["model.weights.h5"], skipOptimizer),
      listHdf5(original["model.weights.h5"], skipOptimizer),
      name,
    );
    assert.deepEqual(
      JSON.parse(new TextDecoder().decode(saved["config.json"])),
      JSON.parse(new TextDecoder().decode(original["config.json"])),
    );
  }
});

Deno.test("saveKeras writes the zip entries, config keys and vars groups Keras 3 expects", async () => {
  const { spec } = rnnModel();
  const date = new Date(2025, 4, 29, 23, 28, 27);
  const files = unzipSync(await kerasArchiveBytes(spec, { date }));
  assert.deepEqual(Object.keys(files), ["metadata.json", "config.json", "model.weights.h5"]);
  const metadata = JSON.parse(new TextDecoder().decode(files["metadata.json"]));
  assert.deepEqual(metadata, { keras_version: "3.10.0", date_saved: "2025-05-29@23:28:27" });
  const config = JSON.parse(new TextDecoder().decode(files["config.json"]));
  assert.deepEqual(Object.keys(config).sort(), [
    "class_name",
    "config",
    "module",
    "registered_name",
  ]);
  assert.equal(config.module, "keras");
  for (const layer of config.config.layers) {
    assert.equal(layer.module, "keras.layers");
    assert.equal(layer.registered_name, null);
  }
  const paths = listHdf5(files["model.weights.h5"]);
  for (
    const expected of [
      "/layers/embedding/vars/0 [20,5]",
      "/layers/bidirectional/forward_layer/cell/vars/0 [5,16]",
      "/layers/bidirectional/backward_layer/cell/vars/2 [16]",
      "/layers/bidirectional_1/forward_layer/cell/vars/1 [3,9]",
      "/layers/bidirectional_2/backward_layer/cell/vars/0 [6,3]",
      "/layers/lstm/cell/vars/0 [3,16]",
      "/layers/gru/cell/vars/2 [9]",
      "/layers/simple_rnn/cell/vars/1 [3,3]",
      "/layers/dense/vars/1 [3]",
      "/layers/lstm/vars/",
      "/vars/",
    ]
  ) assert.ok(paths.includes(expected), `${expected} missing from ${paths.join("\n")}`);
  assert.ok(!paths.some((p) => p.startsWith("/layers/input_layer")), "Sequential skips its input");
});

Deno.test("GRU reset_after=True keeps its (2, 3u) bias through every format", async () => {
  const { spec } = rnnModel(6, true);
  const loaded = await read(await kerasArchiveBytes(spec));
  assert.deepEqual(loaded.weights.gru_1[2].shape, [2, 9]);
  assert.equal(sameWeightsBitwise(loaded.weights, spec.weights), undefined);
});

for (const model of allTestModels()) {
  Deno.test(`${model.name}: .keras round trip gives the same config and bitwise weights`, async () => {
    const loaded = await read(await kerasArchiveBytes(model.spec));
    assert.deepEqual(loaded.config, withKeras3Modules(model.spec.config));
    assert.deepEqual(loaded.config, model.spec.config); // already Keras 3 style
    assert.equal(sameWeightsBitwise(loaded.weights, model.spec.weights), undefined);
    // And again: saving what was loaded is stable.
    const again = await read(await kerasArchiveBytes(loaded));
    assert.deepEqual(again.config, loaded.config);
    assert.equal(sameWeightsBitwise(again.weights, loaded.weights), undefined);
  });

  for (const style of ["keras2", "keras3"] as const) {
    Deno.test(`${model.name}: legacy .h5 (${style} naming) reads back exactly`, async () => {
      const loaded = await read(await writeLegacyH5(model.spec, style));
      assert.equal(loaded.meta.format, "h5");
      assert.equal(loaded.meta.kerasVersion, style === "keras2" ? "2.15.0" : "3.10.0");
      assert.deepEqual(loaded.config, model.spec.config);
      assert.equal(sameWeightsBitwise(loaded.weights, model.spec.weights), undefined);
    });
  }

  Deno.test(`${model.name}: weights-only .h5 (Keras 2 and 3) + separate config`, async () => {
    for (
      const bytes of [
        await writeKeras2WeightsH5(model.spec),
        await writeKeras3WeightsH5(model.spec),
      ]
    ) {
      const loaded = await read(bytes, { config: JSON.stringify(model.spec.config) });
      assert.equal(loaded.meta.format, "weights-h5");
      assert.deepEqual(loaded.config, model.spec.config);
      assert.equal(sameWeightsBitwise(loaded.weights, model.spec.weights), undefined);
    }
  });

  Deno.test(`${model.name}: TF.js model.json + shards, plain and quantised`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const plain = writeTfjs(model.spec, "none", 256);
      const fromDisk = await read(await writeTfjsFiles(plain, dir));
      assert.equal(fromDisk.meta.format, "tfjs");
      assert.deepEqual(fromDisk.config, model.spec.config);
      assert.equal(sameWeightsBitwise(fromDisk.weights, model.spec.weights), undefined);
      for (
        const [q, tolerance] of [["uint8", 1 / 255], ["uint16", 1 / 65535], [
          "float16",
          1e-3,
        ]] as const
      ) {
        const exported = writeTfjs(model.spec, q);
        const loaded = await read({
          modelJson: exported.modelJson,
          shards: [...exported.files.values()],
        });
        const diff = maxWeightDiff(loaded.weights, model.spec.weights);
        // Weights span [-0.5, 1.5] at most, so the quantisation step bounds the error.
        assert.ok(diff <= tolerance * 2, `${q}: max weight error ${diff}`);
        assert.ok(diff > 0, `${q}: quantisation should change some weight`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
