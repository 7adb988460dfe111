/**
 * Functional graphs and nested models in every format, layout only (the engine is not run):
 * hand-written configs in Keras 3 and Keras 2 form saved with the test writers, read back with
 * every weight on its key (`"base/d1"` inside nested model `base`); the `.keras` path rule for
 * nested models; the legacy `.h5` split of a nested model's group; and the `.keras` round trip.
 */
import assert from "node:assert/strict";
import { unzipSync } from "fflate";
import type { ModelSpec } from "@scratchnet/engine";
import { keras3NodeIndices, kerasArchiveBytes, withKeras3Modules } from "./save_keras.ts";
import { readModelSpec } from "./load.ts";
import { checkLayerClasses, leafLayers, modelLayers } from "./config.ts";
import { splitNestedWeights } from "./read_h5.ts";
import { MissingWeightError, UnsupportedLayerError, WeightMismatchError } from "./errors.ts";
import { ALL_ENGINE_CLASSES, listHdf5, sameWeightsBitwise } from "./testing/helpers.ts";
import {
  type ConfigForm,
  functionalInSequentialFixture,
  functionalTwiceFixture,
  GRAPH_CLASSES,
  graphFixtures,
  sequentialInFunctionalFixture,
} from "./testing/graph_specs.ts";
import {
  writeKeras2WeightsH5,
  writeKeras3WeightsH5,
  writeLegacyH5,
  writeTfjs,
} from "./testing/writers.ts";

const CLASSES: ReadonlySet<string> = new Set([...ALL_ENGINE_CLASSES, ...GRAPH_CLASSES]);

/** The config a `.keras` file holds for a fixture config: Keras 2 forms gain Keras 3 modules
 * and node numbering. */
const inKerasFile = (config: ModelSpec["config"], form: ConfigForm) =>
  form === "keras3" ? config : withKeras3Modules(keras3NodeIndices(config));

const read = (source: Parameters<typeof readModelSpec>[0], options = {}) =>
  readModelSpec(source, options, CLASSES);

/** Every format a spec can be written in, as `[label, read it back]`. */
function formats(
  spec: ModelSpec,
): [string, () => Promise<Awaited<ReturnType<typeof readModelSpec>>>][] {
  return [
    [".keras", async () => read(await kerasArchiveBytes(spec))],
    [
      ".weights.h5 (Keras 3)",
      async () => read(await writeKeras3WeightsH5(spec), { config: spec.config }),
    ],
    [".h5 (Keras 2 legacy)", async () => read(await writeLegacyH5(spec, "keras2"))],
    [".h5 (Keras 3 legacy)", async () => read(await writeLegacyH5(spec, "keras3"))],
    [
      ".h5 (Keras 2 weights only)",
      async () => read(await writeKeras2WeightsH5(spec), { config: spec.config }),
    ],
    ["TF.js model.json", () => {
      const exported = writeTfjs(spec);
      return read({ modelJson: exported.modelJson, shards: [...exported.files.values()] });
    }],
  ];
}

for (const form of ["keras3", "keras2"] as ConfigForm[]) {
  for (const fixture of graphFixtures(form)) {
    Deno.test(`${fixture.label}: every format reads each weight onto its key`, async () => {
      for (const [label, load] of formats(fixture.spec)) {
        const spec = await load();
        assert.deepEqual(Object.keys(spec.weights).sort(), fixture.keys, label);
        const diff = sameWeightsBitwise(fixture.spec.weights, spec.weights);
        assert.equal(diff, undefined, `${fixture.label} via ${label}: ${diff}`);
        // A .keras file holds Keras 3 configs: Keras 2 ones gain `module` / `registered_name`.
        const config = label === ".keras"
          ? inKerasFile(fixture.spec.config, form)
          : fixture.spec.config;
        assert.deepEqual(spec.config, config, `${label}: config kept`);
      }
    });
  }
}

Deno.test("nested keys: leafLayers names layers of nested models by path, at any depth", () => {
  const { spec } = functionalInSequentialFixture("keras3");
  const leaves = leafLayers(modelLayers(spec.config, "t"), "t");
  assert.deepEqual(leaves.map((l) => l.key), [
    "seq_input",
    "fbase/fi",
    "fbase/fd",
    "fbase/core/core_input",
    "fbase/core/c1",
    "fbase/core/cbn",
    "fbase/fadd",
    "dense",
  ]);
});

Deno.test(".keras: nested model layers live under layers/<model key>/layers/<inner key>/vars", async () => {
  const weightsOf = async (spec: ModelSpec) =>
    listHdf5(unzipSync(await kerasArchiveBytes(spec))["model.weights.h5"]);
  // Functional outer: its InputLayer is tracked; Keras 3 Sequential drops its own InputLayer.
  assert.deepEqual(await weightsOf(sequentialInFunctionalFixture("keras3").spec), [
    "/layers/",
    "/layers/dense/",
    "/layers/dense/vars/",
    "/layers/dense/vars/0 [3,2]",
    "/layers/dense/vars/1 [2]",
    "/layers/input_layer/",
    "/layers/input_layer/vars/",
    "/layers/sequential/",
    "/layers/sequential/layers/",
    "/layers/sequential/layers/batch_normalization/",
    "/layers/sequential/layers/batch_normalization/vars/",
    "/layers/sequential/layers/batch_normalization/vars/0 [5]",
    "/layers/sequential/layers/batch_normalization/vars/1 [5]",
    "/layers/sequential/layers/batch_normalization/vars/2 [5]",
    "/layers/sequential/layers/batch_normalization/vars/3 [5]",
    "/layers/sequential/layers/dense/",
    "/layers/sequential/layers/dense/vars/",
    "/layers/sequential/layers/dense/vars/0 [4,5]",
    "/layers/sequential/layers/dense/vars/1 [5]",
    "/layers/sequential/layers/dense_1/",
    "/layers/sequential/layers/dense_1/vars/",
    "/layers/sequential/layers/dense_1/vars/0 [5,3]",
    "/layers/sequential/layers/dense_1/vars/1 [3]",
    "/layers/sequential/vars/",
    "/vars/",
  ]);
  // Two levels: Sequential → Functional (key "functional") → Sequential; a Keras 2 "Model"
  // class is saved by Keras 3 as a Functional too.
  for (const form of ["keras3", "keras2"] as ConfigForm[]) {
    const listing = await weightsOf(functionalInSequentialFixture(form).spec);
    const datasets = listing.filter((p) => !p.endsWith("/"));
    assert.deepEqual(datasets, [
      "/layers/dense/vars/0 [4,2]",
      "/layers/dense/vars/1 [2]",
      "/layers/functional/layers/dense/vars/0 [3,4]",
      "/layers/functional/layers/dense/vars/1 [4]",
      "/layers/functional/layers/sequential/layers/batch_normalization/vars/0 [4]",
      "/layers/functional/layers/sequential/layers/batch_normalization/vars/1 [4]",
      "/layers/functional/layers/sequential/layers/batch_normalization/vars/2 [4]",
      "/layers/functional/layers/sequential/layers/batch_normalization/vars/3 [4]",
      "/layers/functional/layers/sequential/layers/dense/vars/0 [4,4]",
      "/layers/functional/layers/sequential/layers/dense/vars/1 [4]",
    ], form);
    assert.ok(listing.includes("/layers/functional/layers/input_layer/vars/"), form);
    assert.ok(listing.includes("/layers/functional/layers/add/vars/"), form);
  }
});

Deno.test(".keras round trip: load → save → load keeps the config JSON and bit-identical weights", async () => {
  for (const form of ["keras3", "keras2"] as ConfigForm[]) {
    for (const fixture of graphFixtures(form)) {
      const first = await read(await kerasArchiveBytes(fixture.spec));
      const bytes = await kerasArchiveBytes({ config: first.config, weights: first.weights });
      const second = await read(bytes);
      const configJson = new TextDecoder().decode(unzipSync(bytes)["config.json"]);
      const expected = inKerasFile(fixture.spec.config, form);
      assert.deepEqual(JSON.parse(configJson), expected, fixture.label);
      assert.deepEqual(second.config, first.config, fixture.label);
      assert.equal(sameWeightsBitwise(first.weights, second.weights), undefined, fixture.label);
      assert.equal(sameWeightsBitwise(fixture.spec.weights, second.weights), undefined);
    }
  }
});

Deno.test("legacy .h5 round trip through .keras: weights bit-identical, config gains Keras 3 modules", async () => {
  for (const fixture of graphFixtures("keras2")) {
    const fromH5 = await read(await writeLegacyH5(fixture.spec, "keras2"));
    const again = await read(await kerasArchiveBytes(fromH5));
    assert.deepEqual(again.config, inKerasFile(fixture.spec.config, "keras2"), fixture.label);
    assert.equal(sameWeightsBitwise(fromH5.weights, again.weights), undefined, fixture.label);
  }
});

Deno.test("withKeras3Modules: nested models get model modules, their layers keras.layers", () => {
  const { spec } = functionalInSequentialFixture("keras2");
  const out = withKeras3Modules(spec.config);
  assert.equal(out.module, "keras");
  const [, fbase] = out.config.layers as Record<string, unknown>[];
  assert.equal(fbase.module, "keras.src.models.functional");
  const inner = (fbase.config as { layers: Record<string, unknown>[] }).layers;
  assert.deepEqual(inner.map((l) => l.module), [
    "keras.layers",
    "keras.layers",
    "keras",
    "keras.layers",
  ]);
  assert.deepEqual(
    withKeras3Modules(functionalInSequentialFixture("keras3").spec.config),
    functionalInSequentialFixture("keras3").spec.config,
  );
});

Deno.test("keras3NodeIndices: Keras 2 references to a nested Sequential drop its own node", () => {
  const { spec } = sequentialInFunctionalFixture("keras2");
  const layers = (c: ModelSpec["config"]) => c.config.layers as { inbound_nodes: unknown }[];
  assert.deepEqual(layers(spec.config)[2].inbound_nodes, [[["base", 1, 0, {}]]]);
  const renumbered = keras3NodeIndices(spec.config);
  assert.deepEqual(layers(renumbered)[2].inbound_nodes, [[["base", 0, 0, {}]]]);
  assert.deepEqual(renumbered.config.output_layers, [["head", 0, 0]]);
  // Now Keras 3 numbering: the Keras 3 form of the same model.
  const keras3 = sequentialInFunctionalFixture("keras3").spec.config;
  const history =
    (layers(keras3)[2].inbound_nodes as { args: { config: { keras_history: [] } }[] }[])[0]
      .args[0].config.keras_history;
  assert.deepEqual(history, ["base", 0, 0]);
  // Nested Functional models keep their own node in both numberings.
  const twice = functionalTwiceFixture("keras2").spec.config;
  assert.deepEqual(keras3NodeIndices(twice), twice);
  // Deeper: the Sequential "core" inside Functional "fbase" inside a Sequential.
  const deep = keras3NodeIndices(functionalInSequentialFixture("keras2").spec.config);
  const fbase = layers(deep)[1] as unknown as ModelSpec["config"];
  assert.deepEqual(layers(fbase)[3].inbound_nodes, [[["fd", 0, 0, {}], ["core", 0, 0, {}]]]);
});

Deno.test("legacy .h5 nested group: split by inner-layer names, else by Keras's trainable-first order", () => {
  const { spec } = sequentialInFunctionalFixture("keras2");
  const base = modelLayers(spec.config, "t").find((e) => e.name === "base")!;
  const w = spec.weights;
  const { head: _, ...inner } = w;
  const t = (stored: string, key: string, i: number) => ({
    stored,
    shape: w[key][i].shape,
    data: w[key][i].data,
  });
  // Keras order: trainable (d1 kernel, bias, bn gamma, beta, d2 kernel, bias), then the BN
  // moving statistics.
  const byName = splitNestedWeights(base, [
    t("d1/kernel:0", "base/d1", 0),
    t("d1/bias:0", "base/d1", 1),
    t("bn/gamma:0", "base/bn", 0),
    t("bn/beta:0", "base/bn", 1),
    t("d2/kernel:0", "base/d2", 0),
    t("d2/bias:0", "base/d2", 1),
    t("bn/moving_mean:0", "base/bn", 2),
    t("bn/moving_variance:0", "base/bn", 3),
  ], "t");
  assert.equal(sameWeightsBitwise(byName, inner), undefined);
  // Names that do not name the inner layers (regenerated auto names): positional.
  const anonymous = splitNestedWeights(base, [
    t("dense_7/kernel:0", "base/d1", 0),
    t("dense_7/bias:0", "base/d1", 1),
    t("batch_normalization_3/gamma:0", "base/bn", 0),
    t("batch_normalization_3/beta:0", "base/bn", 1),
    t("dense_8/kernel:0", "base/d2", 0),
    t("dense_8/bias:0", "base/d2", 1),
    t("batch_normalization_3/moving_mean:0", "base/bn", 2),
    t("batch_normalization_3/moving_variance:0", "base/bn", 3),
  ], "t");
  assert.deepEqual(anonymous["base/bn"].map((x) => x.name), [
    "gamma",
    "beta",
    "moving_mean",
    "moving_variance",
  ]);
  assert.equal(sameWeightsBitwise(anonymous, inner), undefined);
  assert.throws(
    () => splitNestedWeights(base, [t("x/kernel:0", "base/d1", 0)], "m.h5"),
    (e) =>
      e instanceof WeightMismatchError && /nested Sequential model: expected 8/.test(e.message),
  );
});

Deno.test("config checks recurse into nested models and name the refused layer by path", () => {
  const { spec } = functionalInSequentialFixture("keras3");
  const config = structuredClone(spec.config);
  const fbase = (config.config.layers as Record<string, unknown>[])[1];
  const core = (fbase.config as { layers: Record<string, unknown>[] }).layers[2];
  const coreLayers = (core.config as { layers: Record<string, unknown>[] }).layers;
  coreLayers[1] = {
    module: "keras.layers",
    class_name: "Lambda",
    config: { name: "code", function: "…" },
    registered_name: null,
  };
  assert.throws(
    () => checkLayerClasses(modelLayers(config, "m.keras"), "m.keras", CLASSES),
    (e) =>
      e instanceof UnsupportedLayerError && e.layerName === "fbase/core/code" &&
      e.className === "Lambda",
  );
  coreLayers[1] = {
    module: "my_package",
    class_name: "Custom",
    config: { name: "mine" },
    registered_name: "my_package>Custom",
  };
  assert.throws(
    () => checkLayerClasses(modelLayers(config, "m.keras"), "m.keras", CLASSES),
    (e) => e instanceof UnsupportedLayerError && /fbase\/core\/mine.*custom object/.test(e.message),
  );
  coreLayers[1] = { module: "keras.layers", class_name: "Nope", config: { name: "n" } };
  assert.throws(
    () => checkLayerClasses(modelLayers(config, "m.keras"), "m.keras", CLASSES),
    /layer "fbase\/core\/n" has unsupported class "Nope" \(not implemented by the engine\)/,
  );
  coreLayers[1] = {
    module: "keras.layers",
    class_name: "TextVectorization",
    config: { name: "tv" },
  };
  assert.throws(
    () => checkLayerClasses(modelLayers(config, "m.keras"), "m.keras", CLASSES),
    /only supported in the top-level model, not inside nested model "fbase\/core"/,
  );
  // Merge classes the engine does not register yet are refused like any unknown class.
  assert.throws(
    () => checkLayerClasses(modelLayers(spec.config, "m.keras"), "m.keras", ALL_ENGINE_CLASSES),
    /layer "fbase\/fadd" has unsupported class "Add"/,
  );
});

/** The fixture's config with one more Dense `d3` (3 → 3) at the end of nested model `base`. */
function withExtraInnerLayer(spec: ModelSpec): ModelSpec["config"] {
  const config = structuredClone(spec.config);
  const base = (config.config.layers as { config: { layers: unknown[] } }[])[1];
  base.config.layers.push({
    class_name: "Dense",
    config: { name: "d3", units: 3, activation: "linear", use_bias: true },
  });
  return config;
}

Deno.test("nested weights missing or not fitting the config: typed errors naming the layer path", async () => {
  const { spec } = sequentialInFunctionalFixture("keras2");
  const config = withExtraInnerLayer(spec);
  await assert.rejects(
    async () => read(await writeKeras3WeightsH5(spec), { config, name: "w.weights.h5" }),
    (e) =>
      e instanceof MissingWeightError && e.layerName === "base/d3" &&
      e.path === "layers/sequential/layers/dense_2/vars" && /w\.weights\.h5/.test(e.message),
  );
  await assert.rejects(
    async () => read(await writeKeras2WeightsH5(spec), { config, name: "w.h5" }),
    (e) =>
      e instanceof WeightMismatchError && e.layerName === "base" &&
      /nested Sequential model: expected 10 weights .*found 8/.test(e.message),
  );
  const exported = writeTfjs(spec);
  exported.modelJson.modelTopology = { model_config: config };
  await assert.rejects(
    () => read({ modelJson: exported.modelJson, shards: [...exported.files.values()] }),
    (e) => e instanceof MissingWeightError && e.layerName === "base/d3",
  );
  // Two nested layers named alike: TF.js manifest names cannot tell them apart.
  const deep = functionalInSequentialFixture("keras2").spec;
  const renamed = JSON.parse(JSON.stringify(deep.config).replaceAll('"c1"', '"fd"'));
  const { "fbase/core/c1": c1, ...rest } = deep.weights;
  const clash = { config: renamed, weights: { ...rest, "fbase/core/fd": c1 } };
  const tfjs = writeTfjs(clash);
  await assert.rejects(
    () => read({ modelJson: tfjs.modelJson, shards: [...tfjs.files.values()] }),
    (e) =>
      e instanceof WeightMismatchError &&
      /"fd\/kernel" is ambiguous: layers \[fbase\/fd,fbase\/core\/fd\]/.test(e.message),
  );
  // A Keras 3 legacy .h5 of the same model still loads (its paths are prefixed by the inner
  // model's name, so HDF5 can hold both): the nested group is split by position.
  const fromH5 = await read(await writeLegacyH5(clash, "keras3"));
  assert.equal(sameWeightsBitwise(fromH5.weights, clash.weights), undefined);
});
