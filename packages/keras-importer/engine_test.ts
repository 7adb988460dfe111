/**
 * End to end: files in every format are loaded, built by the engine, run, and compared with
 * TF.js running the same config and weights (≤ 1e-5). Covers the real Keras samples and files
 * written in the exact Keras / TF.js layouts for every layer kind.
 */
import assert from "node:assert/strict";
import { type Model, type ModelSpec, Tensor } from "@scratchnet/engine";
import { tfjsModelFromSpec, tfjsPredict, tfReady } from "../engine/testing/tfjs_reference.ts";
import { type ImportedModelSpec, kerasArchiveBytes, loadModel, type ModelSource } from "./mod.ts";
import { samplePath } from "./testing/helpers.ts";
import { allTestModels, type TestModel } from "./testing/model_specs.ts";
import { writeKeras2WeightsH5, writeLegacyH5, writeTfjs } from "./testing/writers.ts";

const TOLERANCE = 1e-5;

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
}

function randomInput(
  shape: number[],
  input: TestModel["input"],
  seed: number,
): Float32Array | Int32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const next = seeded(seed);
  if (input.kind === "int") {
    return Int32Array.from({ length: n }, () => Math.floor(next() * input.vocab));
  }
  return Float32Array.from({ length: n }, () => next() * 2 - 1);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "output sizes differ");
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

/** Runs the engine model and TF.js on the same input; returns the engine output. */
async function compareWithTfjs(
  label: string,
  model: Model,
  spec: ImportedModelSpec | ModelSpec,
  kerasVersion: string | undefined,
  data: Float32Array | Int32Array,
  shape: number[],
): Promise<Float32Array> {
  await tfReady();
  const engineOut = model.predict(new Tensor(data, shape)).data as Float32Array;
  const reference = tfjsModelFromSpec({
    config: spec.config,
    weights: spec.weights,
    kerasVersion,
  });
  try {
    const tfjsOut = tfjsPredict(reference, data, shape);
    const diff = maxDiff(engineOut, tfjsOut);
    assert.ok(diff <= TOLERANCE, `${label}: engine vs TF.js max |Δ| = ${diff}`);
  } finally {
    reference.dispose();
  }
  return engineOut;
}

interface Sample {
  file: string;
  shape: number[];
  input: TestModel["input"];
}

const SAMPLES: Sample[] = [
  { file: "lstm_bidirectional.keras", shape: [4, 30], input: { kind: "int", vocab: 2836 } },
  { file: "lstm_2_layer.keras", shape: [4, 30], input: { kind: "int", vocab: 2836 } },
  { file: "best_rnn_model.h5", shape: [3, 50], input: { kind: "int", vocab: 3000 } },
  { file: "test3_model_2.h5", shape: [3, 32, 32, 3], input: { kind: "float" } },
];

for (const sample of SAMPLES) {
  Deno.test(`sample ${sample.file}: loads, runs in the engine and matches TF.js`, async () => {
    const { model, spec, meta } = await loadModel(samplePath(sample.file));
    assert.ok(model);
    try {
      const data = randomInput(sample.shape, sample.input, 42);
      const out = await compareWithTfjs(
        sample.file,
        model,
        spec,
        meta.kerasVersion,
        data,
        sample.shape,
      );
      assert.equal(
        out.length,
        sample.shape[0] * 3 + (sample.file.startsWith("test3") ? sample.shape[0] * 7 : 0),
      );
    } finally {
      model.dispose();
    }
  });
}

Deno.test("test3_model_2.h5: the fixed batch_shape [64, …] does not stop batch 1 or 3", async () => {
  const { model } = await loadModel(samplePath("test3_model_2.h5"));
  assert.ok(model);
  try {
    const three = randomInput([3, 32, 32, 3], { kind: "float" }, 7);
    const y3 = model.predict(new Tensor(three, [3, 32, 32, 3]));
    assert.deepEqual([...y3.shape], [3, 10]);
    const one = model.predict(
      new Tensor(three.slice(32 * 32 * 3, 2 * 32 * 32 * 3), [1, 32, 32, 3]),
    );
    assert.deepEqual([...one.shape], [1, 10]);
    // Sample 1 of the batch of 3 gives the same result alone.
    assert.ok(maxDiff(one.data, y3.data.slice(10, 20)) <= 1e-6);
  } finally {
    model.dispose();
  }
});

Deno.test("vectorizer.keras: loadModel yields preprocessing only", async () => {
  const { model, preprocessing } = await loadModel(samplePath("vectorizer.keras"));
  assert.equal(model, null);
  assert.equal(preprocessing[0].vocabulary.length, 2836);
});

async function formats(t: TestModel): Promise<[string, ModelSource][]> {
  const tfjsPlain = writeTfjs(t.spec, "none", 512);
  const tfjsQuant = writeTfjs(t.spec, "uint8");
  return [
    [".keras", await kerasArchiveBytes(t.spec)],
    ["legacy .h5 (Keras 2)", await writeLegacyH5(t.spec, "keras2")],
    ["legacy .h5 (Keras 3)", await writeLegacyH5(t.spec, "keras3")],
    ["TF.js", { modelJson: tfjsPlain.modelJson, shards: [...tfjsPlain.files.values()] }],
    ["TF.js uint8", { modelJson: tfjsQuant.modelJson, shards: [...tfjsQuant.files.values()] }],
  ];
}

for (const t of allTestModels()) {
  Deno.test(`${t.name}: every format loads, runs and ${t.tfjsComparable ? "matches TF.js" : "agrees across formats"}`, async () => {
    const shape = [3, ...t.inputShape];
    const data = randomInput(shape, t.input, 3);
    let exact: Float32Array | undefined;
    for (const [label, source] of await formats(t)) {
      const { model, spec, meta } = await loadModel(source);
      assert.ok(model, label);
      try {
        const out = t.tfjsComparable
          ? await compareWithTfjs(`${t.name} ${label}`, model, spec, meta.kerasVersion, data, shape)
          : model.predict(new Tensor(data, shape)).data as Float32Array;
        if (!label.includes("uint8")) {
          // Lossless formats carry bit-identical weights, so outputs agree exactly.
          if (exact) assert.deepEqual(Array.from(out), Array.from(exact), label);
          exact = out;
        }
      } finally {
        model.dispose();
      }
    }
    // The Keras 2 weights-only file plus the config gives the same model.
    const { model } = await loadModel(await writeKeras2WeightsH5(t.spec), {
      config: t.spec.config,
    });
    assert.ok(model);
    try {
      assert.deepEqual(Array.from(model.predict(new Tensor(data, shape)).data), Array.from(exact!));
    } finally {
      model.dispose();
    }
  });
}
