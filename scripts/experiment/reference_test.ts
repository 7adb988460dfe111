import assert from "node:assert/strict";
import { buildModel, type ModelSpec, Tensor } from "@scratchnet/engine";
import { maxAbsDiff, Rng } from "../../packages/engine/testing/random.ts";
import { randomIdBatch } from "../../packages/engine/testing/seeds_models.ts";
import { ExperimentError } from "./errors.ts";
import { cnnConfig, textConfig } from "./models.ts";
import {
  needsHostReference,
  referencePathFor,
  referencePredict,
  textHostReference,
  tfjsPredictAll,
} from "./reference.ts";
import { initialSpec, KERAS_VERSION } from "./train.ts";

const SHAPE = {
  vocabSize: 50,
  sequenceLength: 12,
  embeddingDim: 6,
  classes: 3,
  dropout: 0.5,
  recurrentInit: "orthogonal",
};

/** Initial weights rescaled to ±1 so outputs depend strongly on every weight and step. */
function strongSpec(family: "rnn" | "lstm" | "gru", units: number[], bidirectional: boolean) {
  const config = textConfig(family, { units, bidirectional }, SHAPE);
  const { spec } = initialSpec(config, 7);
  const rng = new Rng(11);
  for (const list of Object.values(spec.weights)) {
    for (const w of list) w.data = rng.floats(w.data.length, -1, 1);
  }
  return spec;
}

function ids(batch: number): Int32Array {
  // Post-padded rows of 1..12 real tokens, plus one all-padding row.
  const out = randomIdBatch(new Rng(5), batch, SHAPE.sequenceLength, SHAPE.vocabSize);
  out.fill(0, 0, SHAPE.sequenceLength);
  return out;
}

function spread(probs: Float32Array): number {
  return Math.max(...probs) - Math.min(...probs);
}

Deno.test("host text reference = TF.js for stacked (Bi)SimpleRNN / LSTM with masks", async () => {
  const x = ids(24);
  for (
    const [family, units, bi] of [
      ["lstm", [5, 4], true],
      ["lstm", [5, 4, 3], false],
      ["rnn", [4, 4], true],
    ] as const
  ) {
    const spec = strongSpec(family, [...units], bi);
    const host = textHostReference(spec, x, SHAPE.sequenceLength);
    const tfjs = await tfjsPredictAll(spec, new Tensor(x, [24, SHAPE.sequenceLength]), 10);
    const d = maxAbsDiff(host, tfjs);
    assert.ok(d <= 2e-6, `${family} ${units} bi=${bi}: |Δ| ${d}`);
    assert.ok(
      spread(host) > 0.1,
      `${family}: outputs barely depend on the input (${spread(host)})`,
    );
  }
});

Deno.test("host text reference = engine for stacked GRU reset_after=true (TF.js lacks it)", () => {
  const x = ids(16);
  for (const bi of [true, false]) {
    const spec = strongSpec("gru", [5, 3], bi);
    assert.equal(needsHostReference(spec), true);
    assert.equal(referencePathFor(spec, "auto"), "host-reference");
    assert.throws(() => referencePathFor(spec, "tfjs"), ExperimentError);
    const host = textHostReference(spec, x, SHAPE.sequenceLength);
    const model = buildModel(spec);
    const engine = model.predict(new Tensor(x, [16, SHAPE.sequenceLength])).data;
    model.dispose();
    const d = maxAbsDiff(host, engine);
    assert.ok(d <= 2e-6, `bi=${bi}: |Δ| ${d}`);
    assert.ok(spread(host) > 0.1, `spread ${spread(host)}`);
  }
});

Deno.test("referencePredict picks TF.js for CNNs and LSTMs", async () => {
  const config = cnnConfig(
    { convLayers: 1, filters: [2], kernelSizes: [3], pooling: "average" },
    { input: [6, 6, 1], classes: 3, hiddenUnits: 4 },
  );
  const { spec } = initialSpec(config, 3);
  const x = new Tensor(new Rng(2).floats(5 * 36, 0, 1), [5, 6, 6, 1]);
  const ref = await referencePredict(spec, x, "auto");
  assert.equal(ref.path, "tfjs-cpu");
  const model = buildModel(spec);
  assert.ok(maxAbsDiff(ref.probs, model.predict(x).data) <= 1e-6);
  model.dispose();
  assert.equal(referencePathFor(strongSpec("lstm", [3], true), "auto"), "tfjs-cpu");
  assert.equal(referencePathFor(strongSpec("lstm", [3], true), "host"), "host-reference");
});

Deno.test("the host reference refuses what it cannot compute, by name", async () => {
  const spec = strongSpec("lstm", [3], false);
  const conv: ModelSpec = {
    ...initialSpec(
      cnnConfig({ convLayers: 1, filters: [2], kernelSizes: [3], pooling: "max" }, {
        input: [4, 4, 1],
        classes: 2,
      }),
      1,
    ).spec,
    kerasVersion: KERAS_VERSION,
  };
  assert.throws(
    () => textHostReference(conv, new Int32Array(16), 16),
    (e: unknown) => e instanceof ExperimentError && /Conv2D/.test(e.message),
  );
  const bad = new Int32Array(SHAPE.sequenceLength).fill(SHAPE.vocabSize);
  assert.throws(() => textHostReference(spec, bad, SHAPE.sequenceLength), /outside \[0, 50\)/);
  await assert.rejects(
    () => referencePredict(spec, new Tensor(new Float32Array(12), [1, 12]), "host"),
    /expected int32 ids/,
  );
});

Deno.test("model configs: parameter counts as Keras computes them", () => {
  const lstm = initialSpec(
    textConfig("lstm", { units: [64], bidirectional: true }, {
      ...SHAPE,
      vocabSize: 100,
      embeddingDim: 8,
    }),
    1,
  );
  // Embedding 100·8 + 2 × 4·(8·64 + 64·64 + 64) + Dense 128·3 + 3.
  assert.equal(lstm.params, 800 + 2 * 4 * (8 * 64 + 64 * 64 + 64) + 128 * 3 + 3);
  // LSTM unit_forget_bias: the forget-gate block of the bias starts at 1.
  const bias = lstm.spec.weights.bidirectional_0[2].data;
  assert.deepEqual([...bias.subarray(0, 64)], Array(64).fill(0));
  assert.deepEqual([...bias.subarray(64, 128)], Array(64).fill(1));
  const gru = initialSpec(
    textConfig("gru", { units: [4], bidirectional: false }, { ...SHAPE, embeddingDim: 2 }),
    1,
  );
  // GRU reset_after: bias (2, 3u).
  assert.deepEqual(gru.spec.weights.gru_0[2].shape, [2, 12]);
  const cnn = initialSpec(
    cnnConfig({ convLayers: 2, filters: [16, 32], kernelSizes: [3, 3], pooling: "max" }, {
      input: [28, 28, 1],
      classes: 10,
    }),
    1,
  );
  assert.equal(cnn.params, 160 + 4640 + (7 * 7 * 32 * 64 + 64) + 650);
});
