/**
 * A small Transformer text classifier as a hand-written Keras 3 Functional config: token
 * Embedding (mask_zero) + position Embedding (positions as a second Input: `ops.arange` is not an
 * op node the engine runs) → MultiHeadAttention with a padding `attention_mask` input → Add →
 * LayerNormalization → Dense FFN → Add → LayerNormalization → GlobalAveragePooling1D → Dense softmax. Random
 * weights, `.keras` round trip, a few `fit` steps, and every weight's gradient vs finite
 * differences on a tiny version.
 */
import assert from "node:assert/strict";
import { strToU8, unzipSync, zipSync } from "fflate";
import {
  buildModel,
  type KerasObject,
  type Model,
  modelGradients,
  Tensor,
  UnsupportedLayerError,
} from "@scratchnet/engine";
import { maxAbsDiff, Rng } from "../engine/testing/random.ts";
import { loadModel } from "./load.ts";
import { saveKeras } from "./save_keras.ts";
import { modelLayers } from "./config.ts";
import { type H5WriteGroup, writeHdf5 } from "./hdf5_write.ts";
import { buildKerasV3WeightsTree } from "./weights_v3.ts";
import { listHdf5 } from "./testing/helpers.ts";

const kt = (layer: string) => ({
  class_name: "__keras_tensor__",
  config: { shape: null, dtype: "float32", keras_history: [layer, 0, 0] },
});

/** The classifier's Keras 3 config for sequences of `len` tokens, width `d`, FFN `ff` (activation `act`). */
function transformerConfig(
  len: number,
  d: number,
  ff: number,
  act: string,
  vocab = 11,
): KerasObject {
  const L = (
    class_name: string,
    config: Record<string, unknown>,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
  ) => ({
    class_name,
    name: config.name,
    config,
    inbound_nodes: class_name === "InputLayer" ? [] : [{ args, kwargs }],
  });
  return {
    class_name: "Functional",
    config: {
      name: "transformer",
      layers: [
        L("InputLayer", { name: "tokens", batch_shape: [null, len], dtype: "int32" }),
        L("InputLayer", { name: "positions", batch_shape: [null, len], dtype: "int32" }),
        L("InputLayer", { name: "padding", batch_shape: [null, 1, len], dtype: "float32" }),
        L("Embedding", { name: "tok", input_dim: vocab, output_dim: d, mask_zero: true }, [
          kt("tokens"),
        ]),
        L("Embedding", { name: "pos", input_dim: len, output_dim: d }, [kt("positions")]),
        L("Add", { name: "embed" }, [[kt("tok"), kt("pos")]]),
        L(
          "MultiHeadAttention",
          { name: "mha", num_heads: 2, key_dim: 4, dropout: 0.1 },
          [kt("embed"), kt("embed")],
          { attention_mask: kt("padding") },
        ),
        L("Add", { name: "res1" }, [[kt("embed"), kt("mha")]]),
        L("LayerNormalization", { name: "ln1", epsilon: 1e-6 }, [kt("res1")]),
        L("Dense", { name: "ff1", units: ff, activation: act }, [kt("ln1")]),
        L("Dense", { name: "ff2", units: d }, [kt("ff1")]),
        L("Add", { name: "res2" }, [[kt("ln1"), kt("ff2")]]),
        L("LayerNormalization", { name: "ln2", epsilon: 1e-6 }, [kt("res2")]),
        L("GlobalAveragePooling1D", { name: "pool" }, [kt("ln2")]),
        L("Dense", { name: "probs", units: 3, activation: "softmax" }, [kt("pool")]),
      ],
      input_layers: [["tokens", 0, 0], ["positions", 0, 0], ["padding", 0, 0]],
      output_layers: [["probs", 0, 0]],
    },
  };
}

/** Padded token batches, their positions and padding masks; label = first token mod 3. */
function data(rng: Rng, n: number, len: number) {
  const tokens = new Int32Array(n * len), positions = new Int32Array(n * len);
  const padding = new Float32Array(n * len), labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const real = rng.int(2, len + 1);
    for (let t = 0; t < len; t++) {
      tokens[i * len + t] = t < real ? rng.int(1, 11) : 0;
      positions[i * len + t] = t;
      padding[i * len + t] = t < real ? 1 : 0;
    }
    labels[i] = tokens[i * len] % 3;
  }
  const xs = [
    new Tensor(tokens, [n, len]),
    new Tensor(positions, [n, len]),
    new Tensor(padding, [n, 1, len]),
  ];
  return { xs, y: new Tensor(labels, [n, 1]) };
}

Deno.test("Transformer classifier graph: predicts, saves as .keras and reloads, trains (loss falls)", async () => {
  const rng = new Rng(1720);
  const model = buildModel({ config: transformerConfig(6, 8, 16, "relu"), weights: {} }, {
    initialize: { seed: 7 },
  });
  const { xs, y } = data(rng, 64, 6);
  const before = model.predictMany(xs)[0].data;
  assert.equal(before.length, 64 * 3);
  const dir = await Deno.makeTempDir();
  try {
    const bytes = await saveKeras(model, `${dir}/t.keras`);
    const paths = listHdf5(unzipSync(bytes)["model.weights.h5"]);
    for (
      const p of [
        "/layers/multi_head_attention/query_dense/vars/0 [8,2,4]",
        "/layers/multi_head_attention/query_dense/vars/1 [2,4]",
        "/layers/multi_head_attention/key_dense/vars/0 [8,2,4]",
        "/layers/multi_head_attention/value_dense/vars/0 [8,2,4]",
        "/layers/multi_head_attention/output_dense/vars/0 [2,4,8]",
        "/layers/multi_head_attention/output_dense/vars/1 [8]",
        "/layers/layer_normalization/vars/0 [8]",
        "/layers/layer_normalization_1/vars/1 [8]",
      ]
    ) {
      assert.ok(paths.includes(p), `${p} missing from\n${paths.join("\n")}`);
    }
    // Keras versions before the public `query_dense`… aliases wrote the private attribute names.
    const spec = model.toSpec();
    const tree = buildKerasV3WeightsTree(
      spec.config,
      modelLayers(spec.config, "test"),
      spec.weights,
    );
    const mha = (tree.children.get("layers") as H5WriteGroup).children.get(
      "multi_head_attention",
    ) as H5WriteGroup;
    for (const attr of ["query_dense", "key_dense", "value_dense", "output_dense"]) {
      mha.children.set(`_${attr}`, mha.children.get(attr)!);
      mha.children.delete(attr);
    }
    const old = zipSync({
      "metadata.json": strToU8(JSON.stringify({ keras_version: "3.10.0" })),
      "config.json": strToU8(JSON.stringify(spec.config)),
      "model.weights.h5": await writeHdf5(tree),
    });
    const fromOld = await loadModel(old);
    assert.equal(maxAbsDiff(fromOld.model!.predictMany(xs)[0].data, before), 0);
    fromOld.model!.dispose();
    const again = await loadModel(`${dir}/t.keras`);
    const mine = model.getWeights(), theirs = again.model!.getWeights();
    assert.deepEqual(theirs.map((w) => w.name), mine.map((w) => w.name));
    mine.forEach((w, i) => assert.equal(maxAbsDiff(theirs[i].data, w.data), 0, w.name));
    assert.equal(maxAbsDiff(again.model!.predictMany(xs)[0].data, before), 0);
    again.model!.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  model.compile({ optimizer: "adam", loss: "sparse_categorical_crossentropy", seed: 3 });
  const history = await model.fit(xs, y, { epochs: 6, batchSize: 16, verbose: 0, workers: 1 });
  const loss = history.history.loss;
  console.log(`transformer fit loss per epoch: ${loss.map((l) => l.toFixed(4)).join(" ")}`);
  assert.ok(loss[loss.length - 1] < loss[0], `loss did not fall: ${loss}`);
  model.dispose();
});

/** Central differences of the loss for a few coordinates of every weight; returns the worst error. */
function finiteDifferenceCheck(model: Model, xs: Tensor[], y: Tensor, rng: Rng): number {
  const loss = { name: "sparse_categorical_crossentropy" } as const;
  const { grads } = modelGradients(model, xs, y, { loss });
  const weights = model.getWeights();
  const lossAt = () => modelGradients(model, xs, y, { loss }).loss;
  let worst = 0;
  assert.equal(grads.length, weights.length);
  for (const g of grads) {
    const wi = weights.findIndex((w) => w.name === g.name);
    const scale = Math.max(...Array.from(g.data, Math.abs), 1e-3);
    for (let s = 0; s < 4; s++) {
      const k = rng.int(0, g.data.length);
      const h = 3e-3, orig = weights[wi].data[k];
      weights[wi].data[k] = orig + h;
      model.setWeights(weights);
      const up = lossAt();
      weights[wi].data[k] = orig - h;
      model.setWeights(weights);
      const down = lossAt();
      weights[wi].data[k] = orig;
      model.setWeights(weights);
      const e = Math.abs((up - down) / (2 * h) - g.data[k]) / scale;
      assert.ok(e <= 2e-2, `${g.name}[${k}]: analytic ${g.data[k]} vs ${(up - down) / (2 * h)}`);
      worst = Math.max(worst, e);
    }
  }
  return worst;
}

Deno.test("Transformer classifier (tiny): every weight's gradient vs finite differences", () => {
  const rng = new Rng(1721);
  // Dropout is off in modelGradients' forward only when the rate is 0: use a copy without it.
  const config = transformerConfig(4, 4, 6, "tanh");
  const layers = (config.config as { layers: { config: Record<string, unknown> }[] }).layers;
  for (const l of layers) if (l.config.name === "mha") l.config.dropout = 0;
  const model = buildModel({ config, weights: {} }, { initialize: { seed: 11 } });
  // Weights of order 1 (Keras's ±0.05 embeddings would leave the LayerNormalizations near ε).
  model.setWeights(
    model.getWeights().map((w) => ({
      ...w,
      data: w.name.endsWith("gamma")
        ? rng.floats(w.data.length, 0.7, 1.3)
        : rng.floats(w.data.length, -0.6, 0.6),
    })),
  );
  try {
    const { xs, y } = data(rng, 5, 4);
    const worst = finiteDifferenceCheck(model, xs, y, rng);
    console.log(`transformer gradients vs finite differences: worst ${worst.toExponential(2)}`);
  } finally {
    model.dispose();
  }
});

Deno.test("A custom TokenAndPositionEmbedding class is refused by name with the standard form", () => {
  const config = transformerConfig(4, 4, 6, "tanh");
  const layers =
    (config.config as { layers: { class_name: string; config: Record<string, unknown> }[] })
      .layers;
  layers[3].class_name = "TokenAndPositionEmbedding";
  try {
    buildModel({ config, weights: {} });
  } catch (e) {
    assert.ok(e instanceof UnsupportedLayerError);
    assert.match(e.message, /TokenAndPositionEmbedding/);
    assert.match(e.message, /Embedding/);
    assert.match(e.message, /positions/);
    return;
  }
  assert.fail("not refused");
});

Deno.test("Attention (scalar weights) and AdditiveAttention save as .keras and reload with equal predictions", async () => {
  const rng = new Rng(1722);
  for (
    const [cls, cfg] of [
      ["Attention", { use_scale: true, score_mode: "concat" }],
      ["AdditiveAttention", {}],
    ] as const
  ) {
    const config: KerasObject = {
      class_name: "Functional",
      config: {
        name: "att_model",
        layers: [
          {
            class_name: "InputLayer",
            name: "q",
            config: { name: "q", batch_shape: [null, 3, 4] },
            inbound_nodes: [],
          },
          {
            class_name: "InputLayer",
            name: "v",
            config: { name: "v", batch_shape: [null, 5, 4] },
            inbound_nodes: [],
          },
          {
            class_name: cls,
            name: "att",
            config: { name: "att", ...cfg },
            inbound_nodes: [{ args: [[kt("q"), kt("v")]], kwargs: { use_causal_mask: true } }],
          },
        ],
        input_layers: [["q", 0, 0], ["v", 0, 0]],
        output_layers: [["att", 0, 0]],
      },
    };
    const model = buildModel({ config, weights: {} }, { initialize: { seed: 2 } });
    model.setWeights(
      model.getWeights().map((w) => ({ ...w, data: rng.floats(w.data.length, 0.5, 1.5) })),
    );
    const xs = [
      new Tensor(rng.floats(2 * 12, -1, 1), [2, 3, 4]),
      new Tensor(rng.floats(2 * 20, -1, 1), [2, 5, 4]),
    ];
    const want = model.predictMany(xs)[0].data;
    const dir = await Deno.makeTempDir();
    try {
      await saveKeras(model, `${dir}/a.keras`);
      const again = await loadModel(`${dir}/a.keras`);
      assert.equal(maxAbsDiff(again.model!.predictMany(xs)[0].data, want), 0, cls);
      assert.deepEqual(
        again.model!.getWeights().map((w) => [w.name, w.shape]),
        model.getWeights().map((w) => [w.name, w.shape]),
      );
      again.model!.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    model.dispose();
  }
});
