import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "fflate";
import { createTar } from "nanotar";
import { buildModel, Tensor } from "@scratchnet/engine";
import {
  binaryScores,
  imdbConfig,
  keepLastTokens,
  lengthOrder,
  parseImdbArgs,
  runImdb,
} from "./imdb.ts";
import { TextVectorization } from "@scratchnet/tokenizer";
import { createProgress } from "./progress.ts";

/** A tiny repackaged aclImdb tarball: positive reviews use one vocabulary, negative another. */
function fixture(perFolder: number): Uint8Array {
  const good = ["great", "wonderful", "loved", "superb", "moving"];
  const bad = ["awful", "boring", "hated", "dull", "terrible"];
  const files: { name: string; data: string }[] = [];
  for (const split of ["train", "test"]) {
    for (const [label, words] of [["pos", good], ["neg", bad]] as const) {
      for (let i = 0; i < perFolder; i++) {
        const text = Array.from({ length: 6 + (i % 5) }, (_, k) => words[(i + k) % 5]).join(" ");
        files.push({
          name: `aclImdb/${split}/${label}/${i}_${label === "pos" ? 9 : 2}.txt`,
          data: `The film. ${text}.`,
        });
      }
    }
  }
  return gzipSync(createTar(files));
}

Deno.test("imdb options: cells and protocols by name, quick defaults, bad names refused", () => {
  const o = parseImdbArgs(["imdb", "--quick", "--cells", "gru", "--protocols", "study"]);
  assert.deepEqual([o.cells, o.protocols, o.epochs, o.out], [
    ["gru"],
    ["study"],
    1,
    "experiments/imdb-quick",
  ]);
  const full = parseImdbArgs(["imdb"]);
  assert.deepEqual([full.cells, full.protocols, full.epochs], [["rnn", "lstm", "gru"], [
    "keras",
    "study",
  ], 10]);
  assert.throws(() => parseImdbArgs(["imdb", "--cells", "tcn"]), /--cells/);
  assert.equal(full.bucketByLength, false);
  assert.equal(parseImdbArgs(["imdb", "--bucket-by-length"]).bucketByLength, true);
  // Lengths 2, 0, 3, 2 (ids before the padding): ascending, ties in sample order.
  const x = new Tensor(Int32Array.from([5, 6, 0, 0, 0, 0, 0, 0, 4, 9, 9, 0, 7, 8, 0, 0]), [4, 4]);
  assert.deepEqual(Array.from(lengthOrder(x)), [1, 0, 3, 2]);
});

Deno.test("imdb models: masking and clipping differ by protocol only; binary scores by hand", () => {
  const keras = imdbConfig("lstm", "keras", 100, 20), study = imdbConfig("lstm", "study", 100, 20);
  const layers = (c: typeof keras) =>
    (c.config as { layers: { class_name: string; config: Record<string, unknown> }[] }).layers;
  assert.equal(layers(keras)[1].config.mask_zero, false);
  assert.equal(layers(study)[1].config.mask_zero, true);
  assert.deepEqual(layers(keras).map((l) => l.class_name), [
    "InputLayer",
    "Embedding",
    "LSTM",
    "Dropout",
    "LSTM",
    "Dropout",
    "Dense",
  ]);
  // Keras's parameter count: embedding, two LSTMs of 64, a sigmoid unit.
  const m = buildModel({ config: study, weights: {} }, { initialize: { seed: 1 } });
  const lstm = (inDim: number) => 4 * (64 * (inDim + 64) + 64);
  assert.equal(m.countParams(), 100 * 128 + lstm(128) + lstm(64) + 65);
  m.dispose();
  // 4 labels, predictions at 0.5: TP 1 (0.9), FP 1 (0.6), FN 1 (0.2 for a 1), TN 1.
  const s = binaryScores([1, 0, 1, 0], [0.9, 0.6, 0.2, 0.1]);
  assert.deepEqual([s.accuracy, s.precision, s.recall, s.f1], [0.5, 0.5, 0.5, 0.5]);
  assert.equal(s.auc, 0.75); // 3 of the 4 (positive, negative) pairs ranked right
});

Deno.test("imdb --quick end to end on a repackaged tarball: every cell × protocol, engine = reference", async () => {
  const dir = await Deno.makeTempDir({ prefix: "imdb_test_" });
  try {
    const tarball = join(dir, "aclImdb-labeled.tar.gz");
    await Deno.writeFile(tarball, fixture(24));
    const out = join(dir, "out");
    const o = parseImdbArgs([
      "imdb",
      "--quick",
      "--data-dir",
      tarball,
      "--out",
      out,
      "--cells",
      "rnn,gru",
      "--bucket-by-length",
    ]);
    const r = await runImdb(o, createProgress("none"));
    assert.deepEqual(r.runs.map((x) => x.id), ["rnn_keras", "rnn_study", "gru_keras", "gru_study"]);
    // 24 + 24 training reviews: 20 % stratified to validation; all 48 test reviews.
    assert.deepEqual([r.data.train, r.data.validation, r.data.test], [38, 10, 48]);
    for (const run of r.runs) {
      assert.ok(run.reference.maxAbsDiff <= 1e-5, `${run.id} |Δp| ${run.reference.maxAbsDiff}`);
      assert.equal(run.reference.agreement, 1);
      assert.equal(run.reference.path, run.cell === "gru" ? "host-reference" : "tfjs-cpu");
      assert.equal(run.history.loss.length, 1);
      assert.ok(run.test.auc >= 0 && run.test.auc <= 1 && Number.isFinite(run.secondsPerEpoch));
      assert.ok(existsSync(join(out, run.modelFile)));
    }
    const report = await Deno.readTextFile(join(out, "report.md"));
    assert.match(report, /\| GRU \| study \| /);
    assert.match(report, /0\.868 accuracy, F1 0\.871, AUC 0\.942/);
    // The study's models trained and predicted in length order; the reference check above read
    // the test predictions back in the reviews' own order.
    assert.match(report, /length-sorted reviews with Keras shuffle="batch"/);
    const written = JSON.parse(await Deno.readTextFile(join(out, "results.json")));
    assert.equal(written.runs.length, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("imdb --early-stopping: the study's protocol plus EarlyStopping scores the best validation epoch", async () => {
  assert.equal(parseImdbArgs(["imdb"]).earlyStopping, 0);
  assert.throws(() => parseImdbArgs(["imdb", "--early-stopping", "-1"]), /--early-stopping/);
  const dir = await Deno.makeTempDir({ prefix: "imdb_es_test_" });
  try {
    const tarball = join(dir, "aclImdb-labeled.tar.gz");
    await Deno.writeFile(tarball, fixture(24));
    const out = join(dir, "out");
    const o = parseImdbArgs([
      "imdb",
      "--quick",
      "--data-dir",
      tarball,
      "--out",
      out,
      "--cells",
      "rnn",
      "--epochs",
      "4",
      "--early-stopping",
      "1",
    ]);
    const r = await runImdb(o, createProgress("none"));
    assert.deepEqual(r.runs.map((x) => [x.id, x.label]), [
      ["rnn_keras", "keras"],
      ["rnn_study_es", "study+es"],
    ]);
    const [keras, study] = r.runs;
    assert.equal(keras.scoredEpoch, null);
    assert.equal(keras.history.loss.length, 4);
    const val = study.history.val_loss;
    const best = val.indexOf(Math.min(...val));
    assert.equal(study.scoredEpoch, best + 1);
    // Patience 1: training ends one epoch after the last improvement, or at the 4th epoch.
    assert.ok(
      val.length === 4 || val.length === best + 2,
      `${val.length} epochs, best ${best + 1}`,
    );
    assert.ok(study.reference.maxAbsDiff <= 1e-5 && study.reference.agreement === 1);
    const report = await Deno.readTextFile(join(out, "report.md"));
    assert.match(
      report,
      new RegExp(`\\| SimpleRNN \\| study\\+es \\(epoch ${best + 1} of ${val.length}\\) \\|`),
    );
    assert.match(report, /EarlyStopping\(val_loss, patience 1, restore_best_weights\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("imdb --truncate pre keeps each review's last tokens (pad_sequences' default), padding after", () => {
  assert.equal(parseImdbArgs(["imdb"]).truncate, "post");
  assert.equal(parseImdbArgs(["imdb", "--truncate", "pre"]).truncate, "pre");
  assert.throws(() => parseImdbArgs(["imdb", "--truncate", "middle"]), /--truncate/);
  const v = new TextVectorization({ maxTokens: 20 });
  v.adapt(["a b c d e f g"]);
  const id = (w: string) => v.getVocabulary().indexOf(w);
  const texts = ["a b c d e f g", "b c", "", "g f e d"];
  const { data, shape } = keepLastTokens(texts, 4, (part) => v.call(part));
  assert.deepEqual(shape, [4, 4]);
  assert.deepEqual(Array.from(data), [
    ...["d", "e", "f", "g"].map(id),
    id("b"),
    id("c"),
    0,
    0,
    0,
    0,
    0,
    0,
    ...["g", "f", "e", "d"].map(id),
  ]);
});
