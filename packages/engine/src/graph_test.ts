/**
 * Issue 14, forward: Keras Functional graphs built in TF.js's layers API (residual CNN, Inception
 * block, two inputs / two outputs, shared layers, nested models, masked text with merges), run by
 * the engine from their Keras 2 / TF.js config and from the same topology in the Keras 3 form:
 * every output within 1e-5 of TF.js `model.predict` at batch 1 and 17. Also: masks really cross
 * the merges (TF.js control), feature extraction by layer name, and chains give the same outputs
 * whether written as a Sequential or as a Functional chain.
 */
import { buildModel, type KerasObject, type ModelSpec, Tensor } from "../mod.ts";
import { maxAbsDiff, Rng } from "../testing/random.ts";
import {
  GRAPH_CASES,
  type HostTensor,
  keras3SpecFromTfjs,
  residualCnn,
  specFromTfjs,
  textSequenceMerge,
  textStateAdd,
  tfjsPredictMany,
  transferModel,
} from "../testing/tfjs_graphs.ts";
import { tf, tfjsModelFromSpec, tfjsPredict, tfReady } from "../testing/tfjs_reference.ts";
import { randomIdBatch, seedsCnnSpec, seedsTextSpec } from "../testing/seeds_models.ts";

const TOL = 1e-5;

function engineInputs(xs: HostTensor[]): Tensor[] {
  return xs.map((x) => new Tensor(x.data, x.shape));
}

/** Output shape without the batch dimension. */
function noBatch(shape: (number | null)[]): (number | null)[] {
  return shape.slice(1);
}

/** Throws unless every engine output is within `tol` of TF.js's; returns the worst difference. */
function expectOutputsClose(
  label: string,
  got: Tensor[],
  want: Float32Array[],
  tol = TOL,
): number {
  if (got.length !== want.length) {
    throw new Error(`${label}: ${got.length} engine outputs vs ${want.length} TF.js outputs`);
  }
  let worst = 0;
  got.forEach((g, i) => {
    const d = maxAbsDiff(g.data, want[i]);
    if (!(d <= tol)) {
      throw new Error(
        `${label}: output ${i} differs from TF.js by ${d} > ${tol} (lengths ${g.data.length} / ` +
          `${want[i].length}; engine [${Array.from(g.data.slice(0, 4))}…] vs TF.js ` +
          `[${Array.from(want[i].slice(0, 4))}…])`,
      );
    }
    worst = Math.max(worst, d);
  });
  return worst;
}

const dialects = {
  keras2: (m: tf.LayersModel) => specFromTfjs(m),
  keras3: (m: tf.LayersModel) => keras3SpecFromTfjs(m),
} as const;

for (const c of GRAPH_CASES) {
  for (const [dialect, toSpec] of Object.entries(dialects)) {
    Deno.test(`graph ${c.name} (${dialect} config): engine vs TF.js ≤ ${TOL} per output at batch 1 and 17`, async () => {
      await tfReady();
      const ref = c.build(14);
      const spec = toSpec(ref);
      const model = buildModel(spec);
      try {
        if (model.inputNames.length !== ref.inputs.length) {
          throw new Error(`${model.inputNames.length} inputs, TF.js has ${ref.inputs.length}`);
        }
        // TF.js's Sequential leaves `outputNames` empty: name the layers producing the outputs.
        const wantNames = ref.outputs.map((o) => o.sourceLayer.name);
        if (JSON.stringify(model.outputNames) !== JSON.stringify(wantNames)) {
          throw new Error(`outputNames ${model.outputNames} vs TF.js ${wantNames}`);
        }
        const wantShapes = ref.outputs.map((o) => noBatch(o.shape));
        if (JSON.stringify(model.outputShapes) !== JSON.stringify(wantShapes)) {
          throw new Error(
            `outputShapes ${JSON.stringify(model.outputShapes)} vs ${JSON.stringify(wantShapes)}`,
          );
        }
        const rng = new Rng(1400);
        let worst = 0;
        for (const batch of [1, 17]) {
          const xs = c.inputs(rng, batch);
          const want = tfjsPredictMany(ref, xs);
          const got = model.predictMany(engineInputs(xs));
          worst = Math.max(worst, expectOutputsClose(`batch ${batch}`, got, want));
          got.forEach((g, i) => {
            const shape = [batch, ...wantShapes[i]];
            if (JSON.stringify(g.shape) !== JSON.stringify(shape)) {
              throw new Error(`output ${i} shape [${g.shape}] vs [${shape}]`);
            }
          });
          if (batch === 17) {
            // Chunks of 5 samples (4 chunks, the last of 2) give the same outputs.
            const chunked = model.predictMany(engineInputs(xs), { batchSize: 5 });
            expectOutputsClose("batch 17 in chunks of 5", chunked, want);
            if (c.singleInput && c.singleOutput) {
              const one = model.predict(engineInputs(xs)[0]);
              if (maxAbsDiff(one.data, got[0].data) !== 0) {
                throw new Error("predict(x) differs from predictMany([x])[0]");
              }
            }
          }
        }
        console.log(`${c.name} (${dialect}): max |Δ| vs TF.js ${worst.toExponential(2)}`);
      } finally {
        model.dispose();
        ref.dispose();
      }
    });
  }
}

for (
  const [name, build] of [["text_sequence_merge", textSequenceMerge], [
    "text_state_add",
    textStateAdd,
  ]] as const
) {
  Deno.test(`graph ${name}: TF.js carries the Embedding mask across the merge (control)`, async () => {
    // The engine-vs-TF.js comparison above only proves mask handling if TF.js itself masks: a
    // padded sequence must give what its unpadded prefix gives (a model of any length with the
    // same weights), and the comparison must be sensitive (no mask: clearly different outputs).
    await tfReady();
    const masked = build(15);
    const anyLength = build(15, { time: null });
    const unmasked = build(15, { maskZero: false });
    anyLength.setWeights(masked.getWeights());
    unmasked.setWeights(masked.getWeights());
    try {
      const ids = new Int32Array([4, 9, 13, 0, 0, 0, 0, 0]);
      const padded = tfjsPredictMany(masked, [{ data: ids, shape: [1, 8] }])[0];
      const prefix = tfjsPredictMany(anyLength, [{ data: ids.slice(0, 3), shape: [1, 3] }])[0];
      const noMask = tfjsPredictMany(unmasked, [{ data: ids, shape: [1, 8] }])[0];
      const d = maxAbsDiff(padded, prefix);
      if (!(d <= 1e-6)) throw new Error(`padded vs prefix: ${d} (TF.js drops the mask)`);
      const sensitivity = maxAbsDiff(padded, noMask);
      if (!(sensitivity > 1e-3)) {
        throw new Error(`masked vs unmasked only ${sensitivity} apart: the test is blind`);
      }
      // The engine on the same masked spec matches the padded TF.js output, not the unmasked one.
      const model = buildModel(specFromTfjs(masked));
      try {
        const got = model.predict(new Tensor(ids, [1, 8])).data;
        const e = maxAbsDiff(got, padded);
        if (!(e <= TOL)) {
          throw new Error(
            `engine vs masked TF.js ${e} (vs unmasked TF.js ${maxAbsDiff(got, noMask)})`,
          );
        }
      } finally {
        model.dispose();
      }
    } finally {
      masked.dispose();
      anyLength.dispose();
      unmasked.dispose();
    }
  });
}

Deno.test("graph configs with nested models: TF.js reads the Keras 2 config the engine gets back to the same outputs (control)", async () => {
  // Keras 2 and TF.js number a nested model's calls from 1 in inbound nodes and output_layers
  // (tf.keras `_should_skip_first_node`, TF.js `buildNodeConversionMap`): the config is valid,
  // and TF.js's own reader resolves it to the same graph.
  await tfReady();
  for (const name of ["nested_twice", "nested_functional_outputs", "transfer_functional"]) {
    const c = GRAPH_CASES.find((g) => g.name === name)!;
    const ref = c.build(17);
    const spec = specFromTfjs(ref);
    const back = await tf.models.modelFromJSON({ modelTopology: spec.config } as never);
    try {
      back.setWeights(ref.getWeights());
      const xs = c.inputs(new Rng(1403), 4);
      const want = tfjsPredictMany(ref, xs), got = tfjsPredictMany(back, xs);
      want.forEach((w, i) => {
        if (maxAbsDiff(w, got[i]) !== 0) throw new Error(`${name}: output ${i} differs`);
      });
    } finally {
      ref.dispose();
      back.dispose();
    }
  }
});

Deno.test("graph feature extraction: predictMany outputs by layer name and nested path vs TF.js sub-models", async () => {
  await tfReady();
  const rng = new Rng(1401);
  const cases: [tf.LayersModel, string[], (l: string) => tf.SymbolicTensor][] = [];
  const res = residualCnn(16);
  cases.push([res, ["res1_add", "gap"], (n) => res.getLayer(n).output as tf.SymbolicTensor]);
  const tr = transferModel(16);
  const base = tr.getLayer("base") as tf.LayersModel;
  cases.push([
    tr,
    ["base/top_conv", "base/bn1"],
    (n) => base.getLayer(n.split("/")[1]).output as tf.SymbolicTensor,
  ]);
  try {
    for (const [ref, names, symbolic] of cases) {
      const sub = tf.model({ inputs: ref.inputs, outputs: names.map(symbolic) });
      const x = {
        data: rng.floats(5 * 8 * 8 * 3, -1, 1),
        shape: [5, 8, 8, 3],
      };
      const want = tfjsPredictMany(sub, [x]);
      const model = buildModel(specFromTfjs(ref));
      try {
        const got = model.predictMany(engineInputs([x]), { outputs: names });
        expectOutputsClose(`${ref.name} outputs ${names}`, got, want);
      } finally {
        model.dispose();
      }
    }
  } finally {
    cases.forEach(([m]) => m.dispose());
  }
});

/** The same model as a Keras 2 Functional chain: each layer's one inbound node is the previous. */
function functionalChain(spec: ModelSpec): ModelSpec {
  const layers = (spec.config.config as { layers: KerasObject[] }).layers;
  let prev = "";
  const entries = layers.map((l) => {
    const name = String(l.config.name);
    const entry = {
      class_name: l.class_name,
      name,
      config: l.class_name === "InputLayer"
        ? { ...l.config, batch_input_shape: l.config.batch_shape, batch_shape: undefined }
        : l.config,
      inbound_nodes: prev ? [[[prev, 0, 0, {}]]] : [],
    };
    prev = name;
    return entry;
  });
  const first = String(layers[0].config.name);
  return {
    ...spec,
    config: {
      class_name: "Functional",
      config: {
        name: "chain",
        layers: entries,
        input_layers: [[first, 0, 0]],
        output_layers: [[prev, 0, 0]],
      },
    },
  };
}

function expectChainsAgree(
  label: string,
  spec: ModelSpec,
  x: Float32Array | Int32Array,
  shape: number[],
): void {
  const ref = tfjsModelFromSpec(spec);
  const want = tfjsPredict(ref, x, shape);
  ref.dispose();
  const seq = buildModel(spec);
  const fun = buildModel(functionalChain(spec));
  try {
    const a = seq.predict(new Tensor(x, shape)).data;
    const b = fun.predict(new Tensor(x, shape)).data;
    if (maxAbsDiff(a, b) !== 0) {
      throw new Error(`${label}: Sequential vs Functional chain differ by ${maxAbsDiff(a, b)}`);
    }
    const d = maxAbsDiff(a, want);
    if (!(d <= TOL)) throw new Error(`${label}: engine vs TF.js ${d}`);
    if (seq.countParams() !== fun.countParams()) {
      throw new Error(`${label}: countParams ${seq.countParams()} vs ${fun.countParams()}`);
    }
    const wa = seq.getWeights(), wb = fun.getWeights();
    if (wa.length !== wb.length || wa.some((w, i) => maxAbsDiff(w.data, wb[i].data) !== 0)) {
      throw new Error(`${label}: getWeights differ`);
    }
    console.log(`${label}: chains bit-identical, vs TF.js ${d.toExponential(2)}`);
  } finally {
    seq.dispose();
    fun.dispose();
  }
}

Deno.test("chains: the seeds' CNN and text models as Sequential and as Functional chain give bit-identical outputs (and match TF.js)", async () => {
  await tfReady();
  const rng = new Rng(1402);
  const cnn = seedsCnnSpec({ filters: [4, 8], imageSize: 12, classes: 5, seed: 3 });
  expectChainsAgree("seeds CNN", cnn, rng.floats(9 * 12 * 12 * 3, 0, 1), [9, 12, 12, 3]);
  const text = seedsTextSpec({
    vocabSize: 60,
    embeddingDim: 8,
    units: [6],
    sequenceLength: 12,
    seed: 3,
  });
  expectChainsAgree("seeds text", text, randomIdBatch(rng, 7, 12, 60), [7, 12]);
});
