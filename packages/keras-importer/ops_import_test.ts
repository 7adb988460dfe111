/**
 * Operation nodes in imported configs: Keras 3 `keras.src.ops.*` entries and tf.keras 2
 * TFOpLambda / SlicingOpLambda pass the config check for the ops the engine runs and are refused
 * by op name otherwise; Keras 3 operation nodes take no `.keras` weight key (Keras saves
 * `Functional.layers`, which leaves operations out), so the layers after them keep their keys.
 */
import assert from "node:assert/strict";
import type { KerasObject } from "@scratchnet/engine";
import { checkLayerClasses, modelLayers } from "./config.ts";
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
