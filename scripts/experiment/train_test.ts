import assert from "node:assert/strict";
import { buildModel, Tensor } from "@scratchnet/engine";
import { maxAbsDiff, Rng } from "../../packages/engine/testing/random.ts";
import { randomIdBatch } from "../../packages/engine/testing/seeds_models.ts";
import type { LabelledSplit } from "./data.ts";
import { textConfig } from "./models.ts";
import { initialSpec, type TrainSettings, trainWithEngine, trainWithTfjs } from "./train.ts";

function split(rng: Rng, n: number): LabelledSplit {
  const ids = randomIdBatch(rng, n, 10, 30);
  // Labels from the last real token, so a recurrent layer has something quick to learn.
  const y = Int32Array.from({ length: n }, (_, i) => {
    const row = ids.subarray(i * 10, (i + 1) * 10);
    return row[row.findLastIndex((t) => t !== 0)] % 3;
  });
  return { x: new Tensor(ids, [n, 10]), y };
}

const shape = {
  vocabSize: 30,
  sequenceLength: 10,
  embeddingDim: 4,
  classes: 3,
  dropout: 0,
  recurrentInit: "orthogonal",
};

const settings: TrainSettings = {
  epochs: 1,
  batchSize: 8,
  learningRate: 0.01,
  clipnorm: 0.05,
  reduceLrOnPlateau: null,
  earlyStopping: null,
  seed: 9,
};

Deno.test("TF.js and engine trainers: same start, same batches, same Adam + clipnorm steps", async () => {
  const rng = new Rng(3);
  const train = split(rng, 40), validation = split(rng, 12);
  const config = textConfig("lstm", { units: [3], bidirectional: true }, shape);
  const engine = await trainWithEngine(config, train, validation, settings);
  const tfjs = await trainWithTfjs(config, train, validation, settings);
  assert.equal(tfjs.trainer, "tfjs");
  const start = initialSpec(config, settings.seed).spec;
  for (const [layer, weights] of Object.entries(start.weights)) {
    weights.forEach((w, i) => {
      const e = engine.spec.weights[layer][i].data, t = tfjs.spec.weights[layer][i].data;
      assert.ok(maxAbsDiff(e, w.data) > 1e-3, `${layer}/${w.name} did not move`);
      assert.ok(maxAbsDiff(e, t) <= 1e-4, `${layer}/${w.name}: ${maxAbsDiff(e, t)}`);
    });
  }
  for (const key of ["loss", "accuracy", "val_loss", "val_accuracy"]) {
    assert.ok(
      Math.abs(engine.history[key][0] - tfjs.history[key][0]) <= 1e-4,
      `${key}: ${engine.history[key][0]} vs ${tfjs.history[key][0]}`,
    );
  }
});

Deno.test("TF.js trainer: early stopping restores the best epoch; GRU reset_after falls back", async () => {
  const rng = new Rng(4);
  const train = split(rng, 32), validation = split(rng, 8);
  const config = textConfig("rnn", { units: [4], bidirectional: false }, shape);
  const out = await trainWithTfjs(config, train, validation, {
    ...settings,
    epochs: 12,
    learningRate: 0.2, // large steps: validation loss soon rises
    clipnorm: null,
    earlyStopping: { patience: 2, monitor: "val_loss" },
    reduceLrOnPlateau: { factor: 0.5, patience: 1, minLr: 1e-4 },
  });
  const val = out.history.val_loss;
  assert.equal(val.length, out.epochsRun);
  assert.equal(out.bestEpoch, val.indexOf(Math.min(...val)) + 1);
  assert.ok(out.epochsRun < 12, "early stopping should stop a diverging run");
  assert.ok(out.bestEpoch < out.epochsRun);
  // The returned weights are the best epoch's: their validation loss is the minimum logged.
  const model = buildModel(out.spec);
  const p = model.predict(validation.x).data;
  model.dispose();
  let loss = 0;
  validation.y.forEach((c, i) => (loss -= Math.log(Math.max(1e-7, p[i * 3 + c]))));
  loss /= validation.y.length;
  assert.ok(Math.abs(loss - Math.min(...val)) <= 1e-4, `${loss} vs ${Math.min(...val)}`);
  assert.ok(
    out.history.learning_rate.some((lr) => lr < 0.2),
    "the learning rate was never reduced",
  );
  const gru = textConfig("gru", { units: [2], bidirectional: false }, shape);
  const fallback = await trainWithTfjs(gru, train, validation, settings);
  assert.equal(fallback.trainer, "engine");
  assert.match(fallback.note!, /reset_after/);
});

Deno.test("both trainers keep the best val_accuracy epoch when early stopping watches it", async () => {
  const rng = new Rng(6);
  const train = split(rng, 48), validation = split(rng, 16);
  const config = textConfig("rnn", { units: [4], bidirectional: false }, shape);
  for (const trainer of [trainWithEngine, trainWithTfjs]) {
    const out = await trainer(config, train, validation, {
      ...settings,
      epochs: 15,
      learningRate: 0.1,
      clipnorm: null,
      earlyStopping: { patience: 2, monitor: "val_accuracy" },
    });
    const acc = out.history.val_accuracy;
    // Not vacuous: accuracy moved, and the kept epoch is not simply the last one.
    assert.ok(Math.max(...acc) > Math.min(...acc));
    assert.ok(out.keptEpoch < out.epochsRun);
    assert.equal(out.keptEpoch, acc.indexOf(Math.max(...acc)) + 1, `${out.trainer}`);
    const model = buildModel(out.spec);
    const p = model.predict(validation.x).data;
    model.dispose();
    let correct = 0;
    validation.y.forEach((c, i) => {
      const row = [p[i * 3], p[i * 3 + 1], p[i * 3 + 2]];
      if (row.indexOf(Math.max(...row)) === c) correct++;
    });
    assert.equal(correct / validation.y.length, Math.max(...acc), `${out.trainer}`);
  }
});
