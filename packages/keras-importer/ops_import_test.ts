/**
 * Operation nodes in imported configs: Keras 3 `keras.src.ops.*` entries and tf.keras 2
 * TFOpLambda / SlicingOpLambda pass the config check for the ops the engine runs and are refused
 * by op name otherwise; Keras 3 operation nodes take no `.keras` weight key (Keras saves
 * `Functional.layers`, which leaves operations out), so the layers after them keep their keys.
 */
import assert from "node:assert/strict";
import { buildModel, type KerasObject, type ModelSpec } from "@scratchnet/engine";
import { Rng } from "../engine/testing/random.ts";
import { inputs, keras2Config, keras3Config, randomWeights } from "../engine/testing/op_graphs.ts";
import { checkLayerClasses, engineLayerClasses, modelLayers } from "./config.ts";
import { readModelSpec } from "./load.ts";
import { kerasArchiveBytes } from "./save_keras.ts";
import { sameWeightsBitwise } from "./testing/helpers.ts";
import { writeKeras3WeightsH5, writeLegacyH5 } from "./testing/writers.ts";
import { UnsupportedLayerError } from "./errors.ts";
import { trackedLayerKeys, trackedLayers } from "./weights_v3.ts";

const kt = (name: string) => ({
  class_name: "__keras_tensor__",
  config: { shape: [null, 4], dtype: "float32", keras_history: [name, 0, 0] },
});

function keras3Model(op: Record<string, unknown>): KerasObject {
  return {
    class_name: "Functional",
    config: {
      name: "m",
      layers: [
        {
          module: "keras.layers",
          class_name: "InputLayer",
          config: { name: "x", batch_shape: [null, 4] },
          registered_name: null,
          name: "x",
          inbound_nodes: [],
        },
        op,
        {
          module: "keras.layers",
          class_name: "Add",
          config: { name: "add_layer" },
          registered_name: null,
          name: "add_layer",
          inbound_nodes: [{ args: [[kt(String(op.name)), kt("x")]], kwargs: {} }],
        },
        {
          module: "keras.layers",
          class_name: "Dense",
          config: { name: "dense", units: 2 },
          registered_name: null,
          name: "dense",
          inbound_nodes: [{ args: [kt("add_layer")], kwargs: {} }],
        },
      ],
      input_layers: [["x", 0, 0]],
      output_layers: [["dense", 0, 0]],
    },
  };
}

const addOp = {
  module: "keras.src.ops.numpy",
  class_name: "Add",
  config: { name: "add" },
  registered_name: "Add",
  name: "add",
  inbound_nodes: [{ args: [kt("x"), 1.0], kwargs: {} }],
};

Deno.test("config check: supported operation nodes pass, others are refused by op name", () => {
  checkLayerClasses(modelLayers(keras3Model(addOp), "m.keras"), "m.keras");
  const cumsum = {
    ...addOp,
    class_name: "Cumsum",
    registered_name: "Cumsum",
    name: "cumsum",
    config: { name: "cumsum", axis: 1 },
  };
  assert.throws(
    () => checkLayerClasses(modelLayers(keras3Model(cumsum), "m.keras"), "m.keras"),
    (e) =>
      e instanceof UnsupportedLayerError && e.layerName === "cumsum" &&
      /keras\.src\.ops\.numpy\.Cumsum/.test(e.message),
  );
  const tfOp = (fn: string, cls = "TFOpLambda") => ({
    class_name: "Functional",
    config: {
      name: "m",
      layers: [
        { class_name: "InputLayer", config: { name: "x", batch_input_shape: [null, 4] } },
        {
          class_name: cls,
          config: { name: `tf.${fn}`, function: fn },
          inbound_nodes: [["x", 0, 0, { y: 2.0, name: null }]],
        },
      ],
    },
  });
  checkLayerClasses(modelLayers(tfOp("math.multiply"), "m.h5"), "m.h5");
  checkLayerClasses(modelLayers(tfOp("__operators__.getitem", "SlicingOpLambda"), "m.h5"), "m.h5");
  assert.throws(
    () => checkLayerClasses(modelLayers(tfOp("math.cumsum"), "m.h5"), "m.h5"),
    (e) =>
      e instanceof UnsupportedLayerError && e.layerName === "tf.math.cumsum" &&
      /math\.cumsum/.test(e.message),
  );
  // getitem is a SlicingOpLambda function, not a TFOpLambda one.
  assert.throws(
    () => checkLayerClasses(modelLayers(tfOp("__operators__.getitem"), "m.h5"), "m.h5"),
    UnsupportedLayerError,
  );
});

Deno.test(".keras keys: Keras 3 operation nodes take no key, the Add layer after one keeps `add`", () => {
  const entries = modelLayers(keras3Model(addOp), "m.keras");
  const keys = trackedLayerKeys(trackedLayers("Functional", entries));
  assert.deepEqual(keys, ["input_layer", "add", "dense"]);
  assert.deepEqual(
    trackedLayers("Functional", entries).map((e) => e.name),
    ["x", "add_layer", "dense"],
  );
});

/** Both dialects of the engine's op-graph fixture, written in their formats and read back. */
const OP_GRAPHS = [
  { label: "Keras 3 operation nodes", config: keras3Config, kerasVersion: "3.10.0" },
  { label: "tf.keras 2 TFOpLambda", config: keras2Config, kerasVersion: "2.15.0" },
];

for (const g of OP_GRAPHS) {
  Deno.test(`op graph (${g.label}): written and read back in each format, predicts as before`, async () => {
    const weights = randomWeights(new Rng(5));
    const spec: ModelSpec = {
      config: g.config() as ModelSpec["config"],
      weights,
      kerasVersion: g.kerasVersion,
    };
    const read = (source: Parameters<typeof readModelSpec>[0], options = {}) =>
      readModelSpec(source, options, engineLayerClasses());
    const formats: [string, () => Promise<ModelSpec>][] = g.kerasVersion.startsWith("3")
      ? [
        [".keras", async () => read(await kerasArchiveBytes(spec))],
        [
          ".weights.h5",
          async () => read(await writeKeras3WeightsH5(spec), { config: spec.config }),
        ],
      ]
      : [[".h5 (Keras 2 legacy)", async () => read(await writeLegacyH5(spec, "keras2"))]];
    const [x, y] = inputs(new Rng(6), 3);
    const reference = buildModel(spec);
    const want = reference.predictMany([x, y])[0];
    reference.dispose();
    for (const [label, load] of formats) {
      const loaded = await load();
      assert.deepEqual(Object.keys(loaded.weights).sort(), ["dense", "head"], label);
      assert.equal(sameWeightsBitwise(weights, loaded.weights), undefined, label);
      const model = buildModel(loaded);
      const got = model.predictMany([x, y])[0];
      model.dispose();
      assert.deepEqual(Array.from(got.data), Array.from(want.data), `${label}: outputs`);
    }
  });
}
