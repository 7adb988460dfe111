import { Adam, buildModel, EarlyStopping, Tensor, WeightShapeError } from "../../mod.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { compareWithTfjs } from "../../testing/gradient_check.ts";
import { type LayerObject, postPaddedIds, textModelSpec } from "../../testing/rnn_cases.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

// Bidirectional gradients vs TF.js `tf.variableGrads` (cpu backend), relative error
// max |engine − TF.js| / max |TF.js| ≤ 1e-4 per weight tensor. Keras zeroes the masked steps of a
// return_sequences Bidirectional output where TF.js repeats the last output; the cases stack a
// masked recurrent layer on such outputs, which ignores those steps, so both agree.

const TIME = 8, VOCAB = 19, CLASSES = 3;
const SCE = { name: "sparse_categorical_crossentropy" as const };
const head: LayerObject = {
  class_name: "Dense",
  config: { name: "head", units: CLASSES, activation: "softmax" },
};

function bidi(
  name: string,
  inner: string,
  mergeMode: string,
  c: Record<string, unknown> = {},
): LayerObject {
  return {
    class_name: "Bidirectional",
    config: {
      name,
      merge_mode: mergeMode,
      layer: {
        class_name: inner,
        config: { name: `${name}_${inner.toLowerCase()}`, units: 5, reset_after: false, ...c },
      },
    },
  };
}

function check(rng: Rng, layers: LayerObject[], what: string): number {
  const spec = textModelSpec(rng, { time: TIME, vocab: VOCAB, embeddingDim: 4 }, layers);
  let worst = 0;
  for (const batch of [1, 17]) {
    const ids = postPaddedIds(rng, batch, TIME, VOCAB, { emptyRow: true, fullRow: true });
    const labels = Float32Array.from({ length: batch }, () => rng.int(0, CLASSES));
    try {
      worst = Math.max(worst, compareWithTfjs(spec, ids, [batch, TIME], labels, { loss: SCE }));
    } catch (e) {
      throw new Error(`${what}, batch ${batch}: ${(e as Error).message}`);
    }
  }
  return worst;
}

Deno.test("Bidirectional gradients match TF.js for every merge mode and wrapped cell (masked)", async () => {
  await tfReady();
  const rng = new Rng(801);
  let worst = 0;
  for (const inner of ["LSTM", "GRU", "SimpleRNN"]) {
    for (const mode of ["concat", "sum", "mul", "ave"]) {
      worst = Math.max(worst, check(rng, [bidi("bi", inner, mode), head], `${inner} ${mode}`));
    }
  }
  console.log(`Bidirectional: worst relative gradient error vs TF.js ${worst.toExponential(2)}`);
});

Deno.test("stacked Bidirectional (return_sequences, masked) gradients match TF.js", async () => {
  await tfReady();
  const rng = new Rng(802);
  let worst = 0;
  for (const mode of ["concat", "mul"]) {
    worst = Math.max(
      worst,
      check(rng, [
        bidi("bi_a", "LSTM", mode, { return_sequences: true }),
        bidi("bi_b", "GRU", "concat", { units: 4 }),
        head,
      ], `BiLSTM(seq, ${mode}) → BiGRU`),
      check(rng, [
        bidi("bi_a", "GRU", mode, { return_sequences: true, units: 3 }),
        { class_name: "LSTM", config: { name: "top", units: 6 } },
        head,
      ], `BiGRU(seq, ${mode}) → LSTM`),
    );
  }
  // A go_backwards inner layer: the "backward" direction then reads forwards.
  worst = Math.max(
    worst,
    check(rng, [bidi("bi", "LSTM", "concat", { go_backwards: true }), head], "go_backwards inner"),
  );
  console.log(`stacked Bidirectional: worst relative error vs TF.js ${worst.toExponential(2)}`);
});

Deno.test("Bidirectional setWeights (EarlyStopping restore): round trip, typed error leaves weights intact", async () => {
  const rng = new Rng(803);
  const spec = textModelSpec(rng, { time: TIME, vocab: VOCAB, embeddingDim: 4 }, [
    bidi("bi", "LSTM", "concat"),
    head,
  ]);
  const ids = new Tensor(postPaddedIds(rng, 6, TIME, VOCAB), [6, TIME]);
  const labels = new Tensor(Float32Array.from([0, 1, 2, 0, 1, 2]), [6]);
  const model = buildModel(spec);
  try {
    const start = model.getWeights();
    const before = model.predict(ids).data.slice();
    const stopper = new EarlyStopping({ monitor: "loss", patience: 5, restoreBestWeights: true });
    model.compile({
      optimizer: new Adam({ learningRate: 0.05 }),
      loss: "sparse_categorical_crossentropy",
    });
    await model.fit(ids, labels, { epochs: 3, verbose: 0, callbacks: [stopper] });
    if (maxAbsDiff(model.predict(ids).data, before) === 0) {
      throw new Error("training changed nothing");
    }
    model.setWeights(start);
    const back = model.predict(ids).data;
    if (maxAbsDiff(back, before) !== 0) throw new Error("setWeights did not restore the outputs");
    // A bad array in the backward half: refused before the forward half changes.
    const bi = model.layers.find((l) => l.name === "bi")!;
    const bad = bi.getWeights().map((w) => ({ ...w, data: w.data.map((v) => v + 1) }));
    bad[bad.length - 1] = { ...bad[bad.length - 1], shape: [1], data: new Float32Array(1) };
    let err: unknown;
    try {
      bi.setWeights(bad);
    } catch (e) {
      err = e;
    }
    if (!(err instanceof WeightShapeError) || !err.message.includes("bi")) {
      throw new Error(`expected a WeightShapeError naming the layer, got ${err}`);
    }
    if (maxAbsDiff(model.predict(ids).data, before) !== 0) {
      throw new Error("a refused setWeights changed the forward layer");
    }
  } finally {
    model.dispose();
  }
});
