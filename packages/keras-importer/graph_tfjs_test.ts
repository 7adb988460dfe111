/**
 * Graphs made with TF.js's layers API (the engine's reference graphs: residual CNN, Inception
 * block, two inputs / two outputs, shared layers, a Sequential around a Functional base, a nested
 * model called twice, masked text with merges), saved by TF.js's own save handler, read by the
 * importer — every weight on its key (`"base/conv1"` inside nested models), bit-identical to
 * the TF.js variables — then written in every format and read back. End to end (engine
 * `predictMany` vs TF.js `predict`, ≤ 1e-5 per output) where the engine runs graphs: those
 * tests are ignored (not passed) while `engineSupportsGraphs` is false.
 */
import assert from "node:assert/strict";
import { type ModelSpec, SUPPORTED_LAYER_CLASSES, Tensor } from "@scratchnet/engine";
import { tf, tfReady } from "../engine/testing/tfjs_reference.ts";
import {
  GRAPH_CASES,
  type HostTensor,
  keras3Config,
  keyedLayers,
  tfjsPredictMany,
} from "../engine/testing/tfjs_graphs.ts";
import { Rng } from "../engine/testing/random.ts";
import { leafLayers, modelLayers } from "./config.ts";
import { loadModel, type ModelSource, readModelSpec } from "./load.ts";
import { tfjsSaved } from "./testing/tfjs_saved.ts";
import { kerasArchiveBytes } from "./save_keras.ts";
import { sameWeightsBitwise } from "./testing/helpers.ts";
import { engineSupportsGraphs, type GraphModel } from "./testing/engine_probe.ts";
import { type ConfigForm, graphFixtures } from "./testing/graph_specs.ts";
import {
  writeKeras2WeightsH5,
  writeKeras3WeightsH5,
  writeLegacyH5,
  writeTfjs,
} from "./testing/writers.ts";
import type { ImportedModelSpec } from "./types.ts";

const TOLERANCE = 1e-5;

await tfReady();

/** Layout tests accept exactly the classes the model uses. */
function ownClasses(spec: ImportedModelSpec): Set<string> {
  const leaves = leafLayers(modelLayers(spec.config, "t"), "t");
  // A wrapper's inner layers (Bidirectional's `layer` / `backward_layer`) are classes too.
  const inner = leaves.flatMap((l) =>
    ["layer", "backward_layer"].map((k) =>
      (l.entry.config as Record<string, { class_name?: string } | undefined>)[k]?.class_name
    )
  );
  return new Set([
    ...leaves.map((l) => l.entry.className),
    ...inner.filter((c): c is string => typeof c === "string"),
  ]);
}

/** The classes a TF.js model's config uses (every leaf layer). */
function classesOf(model: tf.LayersModel): Set<string> {
  return new Set(
    keyedLayers(model).flatMap((l) => {
      // A wrapper (Bidirectional) names its inner layer's class too.
      const inner = (l.layer as unknown as { layer?: tf.layers.Layer }).layer;
      return inner ? [l.layer.getClassName(), inner.getClassName()] : [l.layer.getClassName()];
    }),
  );
}

/** Every format a spec can be written in, read back with `supported` classes. */
async function everyFormat(
  spec: ImportedModelSpec,
  supported: ReadonlySet<string>,
  tfModel: tf.LayersModel,
): Promise<[string, ImportedModelSpec][]> {
  const read = (source: ModelSource, options = {}) => readModelSpec(source, options, supported);
  const exported = writeTfjs(spec);
  return [
    [".keras", await read(await kerasArchiveBytes(spec))],
    [
      ".keras (Keras 3 config form)",
      await read(
        await kerasArchiveBytes({
          config: keras3Config(tfModel),
          weights: spec.weights,
        }),
      ),
    ],
    [".weights.h5", await read(await writeKeras3WeightsH5(spec), { config: spec.config })],
    [".h5 (Keras 2)", await read(await writeLegacyH5(spec, "keras2"))],
    [".h5 (Keras 3 legacy)", await read(await writeLegacyH5(spec, "keras3"))],
    [
      ".h5 weights (Keras 2)",
      await read(await writeKeras2WeightsH5(spec), { config: spec.config }),
    ],
    [
      "model.json (writer)",
      await read({
        modelJson: exported.modelJson,
        shards: [...exported.files.values()],
      }),
    ],
  ];
}

for (const graph of GRAPH_CASES) {
  Deno.test(`TF.js ${graph.name}: its saved model.json puts every weight on its key, in every format`, async () => {
    const model = graph.build(3);
    try {
      const source = await tfjsSaved(model);
      const probe = await readModelSpec(source, {}, classesOf(model));
      const spec = await readModelSpec(source, {}, ownClasses(probe));
      // Keys and values: each leaf layer's weights as TF.js holds them.
      const expected: Record<string, { shape: number[]; data: Float32Array; name: string }[]> = {};
      for (const { key, layer } of keyedLayers(model)) {
        if (layer.weights.length === 0) continue;
        expected[key] = layer.getWeights().map((t, i) => ({
          name: layer.weights[i].name,
          shape: [...t.shape],
          data: t.dataSync() as Float32Array,
        }));
      }
      assert.deepEqual(Object.keys(spec.weights).sort(), Object.keys(expected).sort());
      assert.equal(sameWeightsBitwise(expected, spec.weights), undefined, graph.name);
      for (const [label, again] of await everyFormat(spec, ownClasses(spec), model)) {
        const diff = sameWeightsBitwise(spec.weights, again.weights);
        assert.equal(diff, undefined, `${graph.name} via ${label}: ${diff}`);
      }
    } finally {
      model.dispose();
    }
  });
}

for (const graph of GRAPH_CASES) {
  const model = graph.build(5);
  const needed = [...classesOf(model)].filter((c) => !SUPPORTED_LAYER_CLASSES.includes(c));
  model.dispose();
  Deno.test({
    name: `engine vs TF.js ${graph.name}: every format, every output ≤ ${TOLERANCE}` +
      (engineSupportsGraphs ? "" : " [ignored: engine has no graph executor]") +
      (needed.length ? ` [ignored: engine lacks ${needed.join(", ")}]` : ""),
    ignore: !engineSupportsGraphs || needed.length > 0,
    fn: async () => {
      const tfModel = graph.build(5);
      try {
        const xs = graph.inputs(new Rng(9), 3);
        const want = tfjsPredictMany(tfModel, xs);
        const source = await tfjsSaved(tfModel);
        const spec = await readModelSpec(source, {}, new Set(SUPPORTED_LAYER_CLASSES));
        const sources: [string, ModelSource][] = [
          ["TF.js model.json", source],
          [".keras", await kerasArchiveBytes(spec)],
          [".h5 (Keras 2)", await writeLegacyH5(spec, "keras2", "2.15.0")],
        ];
        for (const [label, bytes] of sources) {
          const { model } = await loadModel(bytes);
          const engine = model as unknown as GraphModel;
          try {
            const ys = engine.predictMany(xs.map((x) => new Tensor(x.data, x.shape)));
            assert.equal(ys.length, want.length, `${label}: outputs`);
            ys.forEach((y, i) => {
              let max = 0;
              for (let j = 0; j < want[i].length; j++) {
                max = Math.max(max, Math.abs(y.data[j] - want[i][j]));
              }
              assert.equal(y.data.length, want[i].length, `${label} output ${i}: size`);
              assert.ok(max <= TOLERANCE, `${graph.name} via ${label} output ${i}: |Δ| ${max}`);
            });
          } finally {
            engine.dispose();
          }
        }
      } finally {
        tfModel.dispose();
      }
    },
  });
}

/** A TF.js model from a Keras 2-form fixture config with the fixture's weights. */
function tfjsFromFixture(spec: ModelSpec): Promise<tf.LayersModel> {
  return tf.models.modelFromJSON({
    modelTopology: spec.config as unknown as tf.io.ModelJSON["modelTopology"],
  }).then((model) => {
    for (const [key, list] of Object.entries(spec.weights)) {
      let layer: tf.layers.Layer = model;
      for (const part of key.split("/")) layer = (layer as tf.LayersModel).getLayer(part);
      layer.setWeights(list.map((w) => tf.tensor(w.data, w.shape)));
    }
    return model;
  });
}

function fixtureInputs(model: tf.LayersModel, batch: number, seed: number): HostTensor[] {
  const rng = new Rng(seed);
  return model.inputs.map((input) => {
    const shape = [batch, ...(input.shape.slice(1) as number[])];
    const n = shape.reduce((a, b) => a * b, 1);
    return { data: Float32Array.from({ length: n }, () => rng.uniform(-1, 1)), shape };
  });
}

for (const name of graphFixtures("keras2").map((f) => f.label.replace(/ \(keras2\)$/, ""))) {
  const forms = (["keras2", "keras3"] as ConfigForm[]).map((form) =>
    graphFixtures(form).find((f) => f.label.startsWith(name))!
  );
  const needed = [...new Set(forms.flatMap((f) => fixtureClasses(f.spec)))].filter((c) =>
    !SUPPORTED_LAYER_CLASSES.includes(c)
  );
  Deno.test({
    name: `engine vs TF.js, hand-written ${name}: Keras 3 and Keras 2 config forms, .keras and ` +
      `.h5, every output ≤ ${TOLERANCE}` +
      (engineSupportsGraphs ? "" : " [ignored: engine has no graph executor]") +
      (needed.length ? ` [ignored: engine lacks ${needed.join(", ")}]` : ""),
    ignore: !engineSupportsGraphs || needed.length > 0,
    fn: async () => {
      const reference = await tfjsFromFixture(forms[0].spec);
      try {
        const xs = fixtureInputs(reference, 4, 21);
        const want = tfjsPredictMany(reference, xs);
        for (const fixture of forms) {
          const sources: [string, ModelSource][] = [
            [".keras", await kerasArchiveBytes(fixture.spec)],
            [".h5 (Keras 2)", await writeLegacyH5(fixture.spec, "keras2")],
          ];
          for (const [label, bytes] of sources) {
            const { model } = await loadModel(bytes);
            const engine = model as unknown as GraphModel;
            try {
              const ys = engine.predictMany(xs.map((x) => new Tensor(x.data, x.shape)));
              assert.equal(ys.length, want.length);
              ys.forEach((y, i) => {
                const max = want[i].reduce((m, v, j) => Math.max(m, Math.abs(v - y.data[j])), 0);
                assert.ok(max <= TOLERANCE, `${fixture.label} via ${label} output ${i}: ${max}`);
              });
            } finally {
              engine.dispose();
            }
          }
        }
      } finally {
        reference.dispose();
      }
    },
  });
}

function fixtureClasses(spec: ModelSpec): string[] {
  return leafLayers(modelLayers(spec.config, "t"), "t").map((l) => l.entry.className);
}
