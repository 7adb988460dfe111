import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { buildModel, SeededRandom, Tensor } from "@scratchnet/engine";
import { loadModel } from "@scratchnet/keras-importer";
import { TextVectorization } from "@scratchnet/tokenizer";
import {
  BOW_BASELINE,
  bowConfig,
  bowGrid,
  type BowHyper,
  bowVariant,
  type VectorizerFile,
} from "./bag_of_words.ts";
import { loadTextData } from "./data.ts";
import { UsageError } from "./errors.ts";
import { parseExperimentArgs } from "./options.ts";
import { createProgress } from "./progress.ts";
import { mlpHostReference, tfjsPredictAll } from "./reference.ts";
import { macroF1OfProbs } from "./results.ts";
import { runExperiment } from "./run.ts";
import { initialSpec, KERAS_VERSION } from "./train.ts";

const LABELS = ["negative", "neutral", "positive"];

/**
 * A small synthetic NusaX folder (`indonesian/{train,valid,test}.csv`): the label is carried by
 * "bagus" (positive), "buruk" (negative) or "biasa" (neutral) among seeded filler words, and a
 * negation "tidak bagus" is negative — a bigram a unigram bag cannot tell from "bagus" by itself.
 */
async function syntheticNusax(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "bow_test_data_" });
  const rng = new SeededRandom(7);
  const filler = ["saya", "makan", "di", "sini", "hari", "ini", "dan", "itu", "tempat", "nya"];
  const cue: Record<number, string[]> = {
    0: ["buruk", "tidak bagus"],
    1: ["biasa", "biasa saja"],
    2: ["bagus", "sangat bagus"],
  };
  const rows = (n: number, offset: number) => {
    const lines = ["id,text,label"];
    for (let i = 0; i < n; i++) {
      const label = i % 3;
      const words = Array.from({ length: 5 }, () => filler[Math.floor(rng.next() * 10)]);
      const cues = cue[label];
      words.splice(Math.floor(rng.next() * 5), 0, cues[Math.floor(rng.next() * cues.length)]);
      lines.push(`${offset + i},${words.join(" ")},${LABELS[label]}`);
    }
    return lines.join("\n") + "\n";
  };
  await Deno.mkdir(join(dir, "indonesian"));
  await Deno.writeTextFile(join(dir, "indonesian", "train.csv"), rows(90, 0));
  await Deno.writeTextFile(join(dir, "indonesian", "valid.csv"), rows(30, 1000));
  await Deno.writeTextFile(join(dir, "indonesian", "test.csv"), rows(45, 2000));
  return dir;
}

Deno.test("bow grid: one factor at a time around Chollet's bigram baseline, baseline trained once", () => {
  const grid = bowGrid();
  const fieldOf: Record<string, keyof BowHyper> = {
    ngrams: "ngrams",
    mode: "outputMode",
    hidden: "hidden",
    tokens: "maxTokens",
  };
  assert.deepEqual(grid.studies.map((s) => s.name), ["ngrams", "mode", "hidden", "tokens"]);
  const byId = new Map(grid.variants.map((v) => [v.id, v.hyper]));
  const baseId = bowVariant(BOW_BASELINE).id;
  for (const study of grid.studies) {
    assert.ok(study.entries.some((e) => e.variant === baseId), `${study.name} holds the baseline`);
    for (const e of study.entries) {
      const h = byId.get(e.variant)!;
      for (const k of Object.keys(BOW_BASELINE) as (keyof BowHyper)[]) {
        if (k !== fieldOf[study.name]) assert.equal(h[k], BOW_BASELINE[k], `${e.variant}.${k}`);
      }
      assert.equal(String(h[fieldOf[study.name]]), e.value);
    }
  }
  // 2 + 2 + 4 + 3 entries sharing one baseline.
  assert.equal(grid.variants.length, 1 + 1 + 1 + 3 + 2);
  assert.equal(new Set(grid.variants.map((v) => v.id)).size, grid.variants.length);
  assert.deepEqual(BOW_BASELINE, {
    ngrams: 2,
    outputMode: "multi_hot",
    hidden: 16,
    maxTokens: 20000,
  });
});

Deno.test("bow MLP: Keras config builds with Dense params, engine = TF.js = float64 host reference", async () => {
  const h: BowHyper = { ...BOW_BASELINE, hidden: 8 };
  const inputSize = 37, classes = 3;
  const config = bowConfig(h, { inputSize, classes, dropout: 0.5 });
  const { spec, params } = initialSpec(config, 3);
  assert.equal(params, inputSize * 8 + 8 + 8 * classes + classes);
  // A multi_hot-like input: mostly zeros, a few ones, and tf_idf-like larger values.
  const rng = new SeededRandom(11);
  const n = 9;
  const x = new Float32Array(n * inputSize).map(() => {
    const u = rng.next();
    return u < 0.8 ? 0 : u < 0.9 ? 1 : 3 * u;
  });
  const model = buildModel(spec);
  try {
    const engine = model.predict(new Tensor(x, [n, inputSize])).data as Float32Array;
    const tfjs = await tfjsPredictAll(spec, new Tensor(x, [n, inputSize]));
    const host = mlpHostReference(spec, x, inputSize);
    assert.equal(engine.length, n * classes);
    for (let i = 0; i < engine.length; i++) {
      assert.ok(Math.abs(engine[i] - tfjs[i]) <= 1e-6, `tfjs ${i}: ${engine[i]} vs ${tfjs[i]}`);
      assert.ok(Math.abs(engine[i] - host[i]) <= 1e-6, `host ${i}: ${engine[i]} vs ${host[i]}`);
    }
    // Rows are distributions that depend on the input (not a constant output).
    assert.ok(
      Math.abs(engine[0] - engine[classes]) > 1e-6 || Math.abs(engine[1] - engine[4]) > 1e-6,
    );
  } finally {
    model.dispose();
  }
});

Deno.test("bow data: per-variant vectorizer (ngrams, output mode, max_tokens) gives float32 bags", async () => {
  const dir = await syntheticNusax();
  try {
    const base = {
      language: "indonesian" as const,
      sequenceLength: 64,
      maxTokens: null,
      dataDir: dir,
      quick: false,
      trainSize: null,
    };
    const uni = await loadTextData({
      ...base,
      bag: { ngrams: 1, outputMode: "multi_hot", maxTokens: 20000 },
    });
    const bi = await loadTextData({
      ...base,
      bag: { ngrams: 2, outputMode: "multi_hot", maxTokens: 20000 },
    });
    const capped = await loadTextData({
      ...base,
      bag: { ngrams: 2, outputMode: "tf_idf", maxTokens: 12 },
    });
    // 10 fillers + buruk, tidak, bagus, biasa, saja, sangat, plus [UNK].
    assert.equal(uni.inputShape[0], 17);
    assert.ok(bi.inputShape[0] > uni.inputShape[0]);
    assert.ok(bi.vectorizer!.getVocabulary().includes("tidak bagus"));
    assert.equal(capped.inputShape[0], 12);
    for (const d of [uni, bi, capped]) {
      assert.ok(d.train.x.data instanceof Float32Array);
      assert.deepEqual(d.train.x.shape, [90, d.inputShape[0]]);
      assert.deepEqual(d.test.x.shape, [45, d.inputShape[0]]);
    }
    // multi_hot: 0/1 only; every text has at least one known word.
    assert.ok(bi.train.x.data.every((v) => v === 0 || v === 1));
    // tf_idf with a cap: the cut n-grams are counted into the OOV column 0, weighted.
    const idf = capped.vectorizer!.getIdfWeights()!;
    const width = capped.inputShape[0];
    assert.ok(capped.train.x.data[0] > 0, "row 0 has out-of-vocabulary n-grams");
    assert.ok(
      Math.abs(capped.train.x.data[0] / idf[0] - Math.round(capped.train.x.data[0] / idf[0])) <
        1e-5,
    );
    assert.equal(capped.train.x.data.length, 90 * width);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bow end to end on synthetic texts: learns, .keras + vectorizer JSON predict raw strings, 2 seeds", async () => {
  const dir = await syntheticNusax();
  const out = await Deno.makeTempDir({ prefix: "bow_test_out_" });
  try {
    const o = parseExperimentArgs([
      "bow",
      "--data-dir",
      dir,
      "--variants",
      "bow_2gram_multi_hot_h16_t20000,bow_2gram_tf_idf_h16_t20000",
      "--epochs",
      "25",
      "--learning-rate",
      "0.01",
      "--repeats",
      "2",
      "--out",
      out,
      "--force",
      "--progress",
      "none",
    ]);
    const results = await runExperiment(o, createProgress("none"));
    assert.deepEqual(results.variants.map((v) => v.id), [
      "bow_2gram_multi_hot_h16_t20000",
      "bow_2gram_tf_idf_h16_t20000",
    ]);
    assert.equal(results.settings.bagOfWords, true);
    const texts = (await Deno.readTextFile(join(dir, "indonesian", "test.csv")))
      .trim().split("\n").slice(1).map((line) => line.split(","));
    for (const v of results.variants) {
      assert.equal(v.error, undefined, JSON.stringify(v.error));
      assert.equal(v.reference!.path, "tfjs-cpu");
      assert.equal(v.agreement, 1);
      assert.ok(v.maxAbsDiff! <= 1e-5, `${v.id} |Δp| ${v.maxAbsDiff}`);
      assert.equal(v.runs!.length, 2);
      assert.ok(
        v.macroF1Mean! >= 0.8,
        `${v.id} learns the cue words (chance 0.33): ${v.macroF1Mean}`,
      );
      // The vectorizer beside the model turns raw strings into what the model was trained on.
      const saved: VectorizerFile = JSON.parse(
        await Deno.readTextFile(join(out, "models", `${v.id}.text_vectorization.json`)),
      );
      assert.equal(saved.vocabulary.length, v.inputSize);
      assert.equal(saved.config.output_mode, (v.hyper as unknown as BowHyper).outputMode);
      assert.equal(saved.idf_weights === null, saved.config.output_mode === "multi_hot");
      const vectorizer = TextVectorization.fromConfig(saved.config, saved.vocabulary, {
        idfWeights: saved.idf_weights,
      });
      const bags = vectorizer.call(texts.map((t) => t[1]));
      assert.deepEqual(bags.shape, [45, v.inputSize]);
      const { model } = await loadModel(join(out, v.modelFile!));
      try {
        const probs = model!.predict(new Tensor(bags.data, bags.shape)).data as Float32Array;
        const y = Int32Array.from(texts, (t) => LABELS.indexOf(t[2]));
        assert.equal(macroF1OfProbs(y, probs, 3), v.engine!.macroF1);
      } finally {
        model!.dispose();
      }
    }
    assert.ok(!existsSync(join(out, "vocabulary.txt")), "bow saves per-variant vectorizers only");
    const report = await Deno.readTextFile(join(out, "report.md"));
    assert.match(report, /# BOW experiment/);
    assert.match(report, /text_vectorization\.json/);
    assert.match(report, /## TextVectorization output mode/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("bow --reference host: the float64 MLP reference checks the engine", async () => {
  const dir = await syntheticNusax();
  const out = await Deno.makeTempDir({ prefix: "bow_test_host_" });
  try {
    const o = parseExperimentArgs([
      "bow",
      "--data-dir",
      dir,
      "--variants",
      "bow_1gram_multi_hot_h16_t20000",
      "--epochs",
      "2",
      "--reference",
      "host",
      "--trainer",
      "tfjs",
      "--out",
      out,
      "--force",
    ]);
    const [v] = (await runExperiment(o, createProgress("none"))).variants;
    assert.equal(v.error, undefined, JSON.stringify(v.error));
    assert.equal(v.trainer, "tfjs");
    assert.equal(v.reference!.path, "host-reference");
    assert.equal(v.agreement, 1);
    assert.ok(v.maxAbsDiff! <= 1e-5);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("bow options: default folder, and the sequence flags refused by name", () => {
  const o = parseExperimentArgs(["bow"]);
  assert.equal(o.family, "bow");
  assert.equal(o.out, "experiments/bow-nusax-indonesian");
  assert.equal(o.epochs, 20);
  for (const flag of ["--max-tokens", "--sequence-length", "--embedding-dim"]) {
    assert.throws(() => parseExperimentArgs(["bow", flag, "100"]), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, new RegExp(flag));
      return true;
    });
  }
  assert.throws(() => parseExperimentArgs(["bow", "--spatial-dropout", "0.2"]), UsageError);
  assert.throws(() => parseExperimentArgs(["bow", "--recurrent-dropout", "0.2"]), UsageError);
  assert.equal(KERAS_VERSION.split(".")[0], "3");
});
