import assert from "node:assert/strict";
import { UsageError } from "./errors.ts";
import { parseExperimentArgs, wantsHelp } from "./options.ts";
import { textConfig } from "./models.ts";
import { buildModel, Tensor } from "@scratchnet/engine";

Deno.test("defaults differ per family: text on NusaX Indonesian, cnn on CIFAR-10", () => {
  const lstm = parseExperimentArgs(["lstm"]);
  assert.equal(lstm.dataset, "nusax");
  assert.equal(lstm.language, "indonesian");
  assert.equal(lstm.epochs, 20);
  assert.equal(lstm.trainer, "engine");
  assert.equal(lstm.recurrentInit, "orthogonal");
  assert.deepEqual(lstm.earlyStopping, { patience: 3, monitor: "val_accuracy" });
  assert.equal(lstm.clipnorm, null);
  assert.equal(lstm.out, "experiments/lstm-nusax-indonesian");
  assert.equal(lstm.repeats, 1);
  const cnn = parseExperimentArgs(["cnn", "--quick"]);
  assert.equal(cnn.dataset, "cifar10");
  assert.equal(cnn.epochs, 1);
  assert.equal(cnn.out, "experiments/cnn-cifar10-quick");
  assert.deepEqual(cnn.earlyStopping, { patience: 3, monitor: "val_loss" });
});

Deno.test("flags in both --name value and --name=value forms", () => {
  const o = parseExperimentArgs([
    "gru",
    "--language=javanese",
    "--epochs",
    "7",
    "--trainer=tfjs",
    "--out",
    "/tmp/x",
    "--clipnorm",
    "0.5",
    "--early-stopping=5",
    "--study",
    "units,direction",
    "--recurrent-init",
    "glorot_uniform",
    "--force",
  ]);
  assert.equal(o.language, "javanese");
  assert.equal(o.epochs, 7);
  assert.equal(o.trainer, "tfjs");
  assert.equal(o.out, "/tmp/x");
  assert.equal(o.clipnorm, 0.5);
  assert.deepEqual(o.earlyStopping, { patience: 5, monitor: "val_accuracy" });
  assert.deepEqual(o.studies, ["units", "direction"]);
  assert.equal(o.recurrentInit, "glorot_uniform");
  assert.equal(o.force, true);
});

Deno.test("--imdb-protocol turns on clipnorm 1, ReduceLROnPlateau and early stopping", () => {
  const o = parseExperimentArgs(["lstm", "--imdb-protocol"]);
  assert.equal(o.clipnorm, 1);
  assert.deepEqual(o.reduceLrOnPlateau, { factor: 0.5, patience: 2, minLr: 1e-5 });
  assert.deepEqual(o.earlyStopping, { patience: 3, monitor: "val_accuracy" });
  assert.equal(o.recurrentInit, "orthogonal");
  assert.deepEqual(parseExperimentArgs(["gru", "--monitor", "val_loss"]).earlyStopping, {
    patience: 3,
    monitor: "val_loss",
  });
  assert.equal(parseExperimentArgs(["rnn", "--no-early-stopping"]).earlyStopping, null);
});

Deno.test("bad arguments are UsageErrors naming the argument", () => {
  const cases: [string[], string][] = [
    [[], "family"],
    [["mlp"], "family"],
    [["lstm", "cnn"], "family"],
    [["lstm", "--epochs", "0"], "--epochs"],
    [["lstm", "--epochs", "2.5"], "--epochs"],
    [["lstm", "--epochs"], "--epochs"],
    [["lstm", "--epochs", "--quick"], "--epochs"],
    [["lstm", "--dataset", "mnist"], "--dataset"],
    [["cnn", "--dataset", "nusax"], "--dataset"],
    [["cnn", "--language", "javanese"], "--language"],
    [["lstm", "--language", "klingon"], "--language"],
    [["lstm", "--trainer", "torch"], "--trainer"],
    [["lstm", "--learning-rate", "-1"], "--learning-rate"],
    [["lstm", "--dropout", "1"], "--dropout"],
    [["lstm", "--clipnorm", "abc"], "--clipnorm"],
    [["lstm", "--recurrent-init", "magic"], "--recurrent-init"],
    [["cnn", "--recurrent-init", "orthogonal"], "--recurrent-init"],
    [["cnn", "--reference", "host"], "--reference"],
    [["lstm", "--quick=yes"], "--quick"],
    [["lstm", "--bogus"], "--bogus"],
    [["lstm", "--seed", "1", "--seed", "2"], "--seed"],
    [["lstm", "--no-early-stopping", "--early-stopping=2"], "--no-early-stopping"],
    [["lstm", "--repeats", "0"], "--repeats"],
    [["lstm", "--monitor", "loss"], "--monitor"],
    [["lstm", "--monitor", "val_loss", "--no-early-stopping"], "--monitor"],
    [["cnn", "--conv", "fft"], "--conv"],
    [["lstm", "--train-languages", "klingon"], "--train-languages"],
    [["cnn", "--train-languages", "all"], "--train-languages"],
  ];
  for (const [argv, argument] of cases) {
    assert.throws(
      () => parseExperimentArgs(argv),
      (e: unknown) => e instanceof UsageError && e.argument === argument,
      `${argv.join(" ")} → ${argument}`,
    );
  }
});

Deno.test("--conv: the engine's evaluation sums convolutions directly unless asked", () => {
  assert.equal(parseExperimentArgs(["cnn"]).conv, "direct");
  assert.equal(parseExperimentArgs(["cnn", "--conv", "auto"]).conv, "auto");
  assert.equal(parseExperimentArgs(["cnn", "--conv=winograd"]).conv, "winograd");
});

Deno.test("wantsHelp", () => {
  assert.equal(wantsHelp(["lstm", "--help"]), true);
  assert.equal(wantsHelp(["-h"]), true);
  assert.equal(wantsHelp(["lstm"]), false);
});

Deno.test("--recurrent-dropout: rnn/lstm/gru only, a rate in [0, 1), its own output folder; the config's cells carry it and the model trains", () => {
  const o = parseExperimentArgs(["lstm", "--recurrent-dropout", "0.25"]);
  assert.equal(o.recurrentDropout, 0.25);
  assert.equal(o.out, "experiments/lstm-nusax-indonesian-rd0.25");
  assert.equal(parseExperimentArgs(["gru"]).recurrentDropout, 0);
  for (
    const bad of [["cnn1d", "--recurrent-dropout", "0.2"], ["rnn", "--recurrent-dropout", "1"]]
  ) {
    assert.throws(
      () => parseExperimentArgs(bad),
      (e) => e instanceof UsageError && /recurrent-dropout/.test(String(e)),
    );
  }
  const shape = {
    vocabSize: 20,
    sequenceLength: 6,
    embeddingDim: 4,
    classes: 3,
    dropout: 0,
    recurrentInit: "orthogonal",
    recurrentDropout: 0.3,
  };
  const config = textConfig("lstm", { units: [5], bidirectional: true }, shape);
  const layers =
    (config.config as { layers: { class_name: string; config: Record<string, unknown> }[] }).layers;
  const bi = layers.find((l) => l.class_name === "Bidirectional")!;
  assert.equal(
    (bi.config.layer as { config: Record<string, unknown> }).config.recurrent_dropout,
    0.3,
  );
  // Trains in the engine (cell dropout is active in fit), and the loss falls.
  const model = buildModel({ config, weights: {} }, { initialize: { seed: 3 } });
  try {
    model.compile({ optimizer: "adam", loss: "sparse_categorical_crossentropy" });
    const ids = new Tensor(Float32Array.from({ length: 8 * 6 }, (_, i) => 1 + (i * 7) % 19), [
      8,
      6,
    ]);
    const y = new Tensor(Float32Array.from({ length: 8 }, (_, i) => i % 3), [8]);
    const first = model.trainOnBatch(ids, y).loss;
    let last = first;
    for (let i = 0; i < 30; i++) last = model.trainOnBatch(ids, y).loss;
    assert.ok(last < first, `loss ${first} → ${last}`);
  } finally {
    model.dispose();
  }
});

Deno.test("--train-languages: all = the other 11 NusaX languages, the target dropped; own folder", () => {
  assert.deepEqual(parseExperimentArgs(["gru"]).trainLanguages, []);
  const all = parseExperimentArgs(["gru", "--language", "javanese", "--train-languages", "all"]);
  assert.equal(all.trainLanguages.length, 11);
  assert.ok(!all.trainLanguages.includes("javanese") && all.trainLanguages.includes("indonesian"));
  assert.equal(all.out, "experiments/gru-nusax-javanese-train12lang");
  const two = parseExperimentArgs(["bow", "--train-languages", "indonesian,sundanese,javanese"]);
  assert.deepEqual(two.trainLanguages, ["sundanese", "javanese"]);
});
