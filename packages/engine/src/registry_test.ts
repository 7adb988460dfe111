import assert from "node:assert/strict";
import { LAYER_CLASSES } from "./layers/mod.ts";
import { createLayer, layerClass, layerVarGroups, layerWeightNames } from "./registry.ts";

const lstm = { class_name: "LSTM", config: { name: "lstm", units: 3 } };

/** Weight names per class and config, as Keras `get_weights()` lists them. */
const CASES: [string, Record<string, unknown>, string[], number[]][] = [
  ["Dense", { units: 2 }, ["kernel", "bias"], [4]],
  ["Dense", { units: 2, use_bias: false }, ["kernel"], [4]],
  ["Conv2D", { filters: 2, kernel_size: 3 }, ["kernel", "bias"], [5, 5, 1]],
  ["Embedding", { input_dim: 7, output_dim: 2 }, ["embeddings"], [4]],
  ["BatchNormalization", {}, ["gamma", "beta", "moving_mean", "moving_variance"], [4]],
  ["BatchNormalization", { scale: false }, ["beta", "moving_mean", "moving_variance"], [4]],
  ["BatchNormalization", { center: false }, ["gamma", "moving_mean", "moving_variance"], [4]],
  ["SimpleRNN", { units: 3 }, ["kernel", "recurrent_kernel", "bias"], [5, 4]],
  ["GRU", { units: 3, use_bias: false }, ["kernel", "recurrent_kernel"], [5, 4]],
  ["LSTM", { units: 3 }, ["kernel", "recurrent_kernel", "bias"], [5, 4]],
  [
    "Bidirectional",
    { layer: lstm },
    [
      "forward/kernel",
      "forward/recurrent_kernel",
      "forward/bias",
      "backward/kernel",
      "backward/recurrent_kernel",
      "backward/bias",
    ],
    [5, 4],
  ],
  ["Flatten", {}, [], [4, 2]],
  ["Add", {}, [], [4]],
];

Deno.test("layerWeightNames: each class's names from its definition, equal to its weight specs", () => {
  for (const [cls, config, names, inputShape] of CASES) {
    assert.deepEqual(layerWeightNames(cls, config), names, cls);
    const layer = createLayer({ class_name: cls, config: { name: "l", ...config } });
    assert.deepEqual(layer.weightSpecs(inputShape).map((s) => s.name), names, `${cls} specs`);
  }
  assert.deepEqual(layerWeightNames("NoSuchLayer", {}), []);
  assert.deepEqual(layerWeightNames("Dense", { units: "many" }), []);
});

Deno.test("layerVarGroups: Keras 3 .keras layout (vars, cell/vars, forward_layer / backward_layer)", () => {
  assert.deepEqual(layerVarGroups("Dense", { units: 2 }), [{ path: "vars", start: 0, count: 2 }]);
  assert.deepEqual(layerVarGroups("GRU", { units: 2 }), [
    { path: "vars", start: 0, count: 0 },
    { path: "cell/vars", start: 0, count: 3, objectName: "gru_cell" },
  ]);
  assert.deepEqual(layerVarGroups("Bidirectional", { layer: lstm }), [
    { path: "vars", start: 0, count: 0 },
    { path: "backward_layer/vars", start: 3, count: 0, objectName: "lstm" },
    { path: "backward_layer/cell/vars", start: 3, count: 3, objectName: "lstm_cell" },
    { path: "forward_layer/vars", start: 0, count: 0, objectName: "lstm" },
    { path: "forward_layer/cell/vars", start: 0, count: 3, objectName: "lstm_cell" },
  ]);
  assert.deepEqual(layerVarGroups("NoSuchLayer", {}), [{ path: "vars", start: 0, count: 0 }]);
});

Deno.test("LAYER_CLASSES: one definition per class name, each creating its own class", () => {
  const names = LAYER_CLASSES.flatMap((d) => [d.className, ...(d.aliases ?? [])]);
  assert.equal(new Set(names).size, names.length);
  for (const def of LAYER_CLASSES) assert.equal(layerClass(def.className), def);
  for (const [cls, config] of CASES) {
    assert.equal(createLayer({ class_name: cls, config }).className, cls);
  }
});
