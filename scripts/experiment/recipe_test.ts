import assert from "node:assert/strict";
import { buildModel, Tensor } from "@scratchnet/engine";
import { maxAbsDiff, Rng } from "../../packages/engine/testing/random.ts";
import type { LabelledSplit } from "./data.ts";
import { UsageError } from "./errors.ts";
import { experimentGrid } from "./run.ts";
import { BEST_RECIPE_BATCH, BEST_RECIPE_EPOCHS, parseExperimentArgs } from "./options.ts";
import { createProgress } from "./progress.ts";
import {
  BEST_RECIPE,
  recipeConfig,
  type RecipeHyper,
  recipeLayerClasses,
  recipeParamCount,
} from "./recipe.ts";
import { inferenceSpec } from "./reference.ts";
import { runExperiment } from "./run.ts";
import { cosineScheduleOf, initialSpec, type TrainSettings, trainWithEngine } from "./train.ts";

function images(rng: Rng, n: number, [h, w, c]: number[], classes: number): LabelledSplit {
  const x = new Float32Array(n * h * w * c).map(() => rng.uniform(0, 1));
  const y = Int32Array.from({ length: n }, () => Math.floor(rng.uniform(0, classes)));
  return { x: new Tensor(x, [n, h, w, c]), y };
}

const layerClasses = (config: { config: unknown }) =>
  (config.config as { layers: { class_name: string }[] }).layers.map((l) => l.class_name);

Deno.test("--recipe best: defaults, and what it refuses", () => {
  const o = parseExperimentArgs(["cnn", "--recipe", "best"]);
  assert.equal(o.recipe, "best");
  assert.equal(o.epochs, BEST_RECIPE_EPOCHS);
  assert.equal(o.batchSize, BEST_RECIPE_BATCH);
  assert.equal(o.lrSchedule, "cosine");
  assert.equal(o.earlyStopping, null);
  assert.equal(o.out, "experiments/cnn-cifar10-best");
  assert.deepEqual(experimentGrid(o).variants.map((v) => v.hyper), [BEST_RECIPE]);
  // Explicit flags still win over the recipe's defaults.
  const custom = parseExperimentArgs([
    "cnn",
    "--recipe=best",
    "--epochs",
    "3",
    "--lr-schedule",
    "constant",
    "--early-stopping=2",
    "--threads",
    "2",
    "--batch-statistics",
    "per-thread",
  ]);
  assert.equal(custom.epochs, 3);
  assert.equal(custom.lrSchedule, "constant");
  assert.deepEqual(custom.earlyStopping, { patience: 2, monitor: "val_loss" });
  assert.equal(custom.threads, 2);
  assert.equal(custom.batchStatistics, "per-thread");
  // A smaller recipe for a tighter budget: other block widths and convolutions per block.
  const small = parseExperimentArgs([
    "cnn",
    "--recipe",
    "best",
    "--recipe-filters",
    "16,32,64,96",
    "--recipe-convs",
    "1",
  ]);
  const [smallVariant] = experimentGrid(small).variants;
  assert.deepEqual(smallVariant.hyper, {
    ...BEST_RECIPE,
    blockFilters: [16, 32, 64, 96],
    convsPerBlock: 1,
    blockDropout: [0.1, 0.2, 0.3, 0.4],
  });
  assert.equal(smallVariant.id, "vgg4x1_f16-32-64-96_bn_aug");
  // Lighter regularisation for a short schedule: other block dropout rates, named in the id.
  const light = parseExperimentArgs(["cnn", "--recipe", "best", "--recipe-dropout", "0,0.05,0.1"]);
  assert.deepEqual(light.recipeDropout, [0, 0.05, 0.1]);
  const [lightVariant] = experimentGrid(light).variants;
  assert.deepEqual(lightVariant.hyper, { ...BEST_RECIPE, blockDropout: [0, 0.05, 0.1] });
  assert.equal(lightVariant.id, "vgg3x2_f32-64-128_bn_aug_drop0-0.05-0.1");
  assert.throws(
    () =>
      experimentGrid(parseExperimentArgs(["cnn", "--recipe", "best", "--recipe-dropout", "0,0"])),
    (e) => e instanceof UsageError && e.argument === "--recipe-dropout",
  );
  // The grid stays the default, with a constant rate and automatic threads.
  const grid = parseExperimentArgs(["cnn"]);
  assert.equal(grid.recipe, "grid");
  assert.equal(grid.lrSchedule, "constant");
  assert.equal(grid.threads, "auto");
  assert.equal(grid.batchStatistics, "whole-batch");
  assert.equal(experimentGrid(grid).variants.length, 8);
  for (
    const [argv, flag] of [
      [["lstm", "--recipe", "best"], "--recipe"],
      [["cnn", "--recipe", "vgg"], "--recipe"],
      [["cnn", "--recipe", "best", "--trainer", "tfjs"], "--trainer"],
      [["cnn", "--lr-schedule", "cosine", "--reduce-lr-on-plateau"], "--lr-schedule"],
      [["cnn", "--lr-schedule", "linear"], "--lr-schedule"],
      [["cnn", "--threads", "0"], "--threads"],
      [["cnn", "--threads", "two"], "--threads"],
      [["cnn", "--batch-statistics", "per-replica"], "--batch-statistics"],
      [["cnn", "--recipe-convs", "1"], "--recipe-convs"],
      [["cnn", "--recipe", "best", "--recipe-filters", "16,0"], "--recipe-filters"],
      [["cnn", "--recipe", "best", "--recipe-filters", "16,x"], "--recipe-filters"],
      [["cnn", "--recipe", "best", "--recipe-convs", "0"], "--recipe-convs"],
      [["cnn", "--recipe-dropout", "0,0,0"], "--recipe-dropout"],
      [["cnn", "--recipe", "best", "--recipe-dropout", "0,1,0"], "--recipe-dropout"],
      [["cnn", "--recipe", "best", "--recipe-dropout", "0,x,0"], "--recipe-dropout"],
    ] as const
  ) {
    assert.throws(
      () => parseExperimentArgs([...argv]),
      (e) => e instanceof UsageError && e.argument === flag,
      argv.join(" "),
    );
  }
});

Deno.test("recipe config: the layers it says, and the parameter count of its architecture", () => {
  const rng = new Rng(5);
  for (let trial = 0; trial < 3; trial++) {
    // Random small architectures and odd input sizes (pooling floors them).
    const blocks = 1 + Math.floor(rng.uniform(0, 3));
    const h: RecipeHyper = {
      recipe: "vgg",
      blockFilters: Array.from({ length: blocks }, () => 1 + Math.floor(rng.uniform(0, 7))),
      convsPerBlock: 1 + Math.floor(rng.uniform(0, 2)),
      blockDropout: Array.from({ length: blocks }, () => rng.uniform(0, 0.5)),
      denseUnits: 1 + Math.floor(rng.uniform(0, 9)),
      flip: rng.uniform(0, 1) < 0.5,
      translate: rng.uniform(0, 1) < 0.5 ? 0 : 0.1,
    };
    const side = 2 ** blocks + Math.floor(rng.uniform(0, 7));
    const input: [number, number, number] = [side, side + 1, 1 + Math.floor(rng.uniform(0, 3))];
    const classes = 2 + Math.floor(rng.uniform(0, 5));
    const config = recipeConfig(h, { input, classes });
    assert.deepEqual(layerClasses(config), recipeLayerClasses(h));
    const { params } = initialSpec(config, 1);
    assert.equal(params, recipeParamCount(h, input, classes), JSON.stringify({ h, input }));
  }
  // The best recipe itself on CIFAR-10's shape: 3 blocks of two convolutions, 4×4×128 flattened.
  const best = layerClasses(recipeConfig(BEST_RECIPE, { input: [32, 32, 3], classes: 10 }));
  assert.equal(best.filter((c) => c === "Conv2D").length, 6);
  assert.equal(best.filter((c) => c === "BatchNormalization").length, 6);
  assert.deepEqual(best.slice(0, 3), ["InputLayer", "RandomFlip", "RandomTranslation"]);
  assert.equal(
    recipeParamCount(BEST_RECIPE, [32, 32, 3], 10),
    initialSpec(recipeConfig(BEST_RECIPE, { input: [32, 32, 3], classes: 10 }), 1).params,
  );
});

Deno.test("recipe trains a step: weights and BatchNorm statistics move, inference ignores augmentation", async () => {
  const rng = new Rng(11);
  const h: RecipeHyper = { ...BEST_RECIPE, blockFilters: [4, 6], denseUnits: 5 };
  const input = [9, 10, 3];
  const train = images(rng, 12, input, 3), validation = images(rng, 5, input, 3);
  const config = recipeConfig(h, { input: [9, 10, 3], classes: 3, dropout: 0.2 });
  const settings: TrainSettings = {
    epochs: 1,
    batchSize: 6,
    learningRate: 0.01,
    clipnorm: null,
    reduceLrOnPlateau: null,
    earlyStopping: null,
    seed: 4,
    lrSchedule: "cosine",
  };
  const start = initialSpec(config, settings.seed).spec;
  const out = await trainWithEngine(config, train, validation, settings);
  assert.equal(out.epochsRun, 1);
  assert.ok(Number.isFinite(out.history.loss[0]) && Number.isFinite(out.history.val_loss[0]));
  for (const [layer, weights] of Object.entries(start.weights)) {
    weights.forEach((w, i) => {
      const moved = maxAbsDiff(out.spec.weights[layer][i].data, w.data);
      assert.ok(moved > 0, `${layer}/${w.name} did not move`);
    });
  }
  // Augmentation is the identity at inference: the model without those layers predicts the same.
  const full = buildModel(out.spec), bare = buildModel(inferenceSpec(out.spec));
  try {
    assert.ok(layerClasses(inferenceSpec(out.spec).config).every((c) => !c.startsWith("Random")));
    const a = full.predict(validation.x).data as Float32Array;
    const b = bare.predict(validation.x).data as Float32Array;
    assert.equal(maxAbsDiff(a, b), 0);
  } finally {
    full.dispose();
    bare.dispose();
  }
  // The cosine schedule starts at the rate and reaches 0 after the last step (2 steps here).
  const schedule = cosineScheduleOf(settings, train.y.length)!;
  assert.equal(schedule.at(0), settings.learningRate);
  assert.ok(schedule.at(1) < settings.learningRate && schedule.at(1) > 0);
  assert.ok(Math.abs(schedule.at(2)) < 1e-12);
  assert.equal(cosineScheduleOf({ ...settings, lrSchedule: "constant" }, 12), null);
});

Deno.test("cnn --recipe best --quick end to end: .keras round trip, engine = TF.js without augmentation", async () => {
  const out = await Deno.makeTempDir({ prefix: "experiment_recipe_test_" });
  const options = parseExperimentArgs([
    "cnn",
    "--dataset",
    "mnist",
    "--recipe",
    "best",
    "--quick",
    "--train-size",
    "64",
    "--reference-size",
    "100",
    "--out",
    out,
    "--force",
  ]);
  const results = await runExperiment(options, createProgress("none"));
  const [v] = results.variants;
  assert.equal(results.variants.length, 1);
  assert.equal(v.error, undefined, JSON.stringify(v.error));
  assert.equal(v.hyper.recipe, "vgg");
  assert.equal(v.params, recipeParamCount(BEST_RECIPE, [28, 28, 1], 10));
  assert.equal(v.reference!.path, "tfjs-cpu");
  // --reference-size: TF.js saw the first 100 of the 256 quick test images, the engine all.
  assert.equal(v.reference!.samples, 100);
  assert.equal(v.engine!.confusionMatrix.flat().reduce((a, b) => a + b, 0), 256);
  assert.equal(v.agreement, 1);
  assert.ok(v.maxAbsDiff! <= 1e-5, `max |Δp| ${v.maxAbsDiff}`);
  assert.equal(results.settings.lrSchedule, "cosine");
  const report = await Deno.readTextFile(`${out}/report.md`);
  assert.match(report, /cosine decay to 0/);
  assert.match(report, /\| best \| `vgg3x2_f32-64-128_bn_aug` \|/);
  assert.match(report, /\(first 100\)/);
  assert.match(report, /the first 100 test samples by the reference/);
  assert.match(report, /argmax agrees on \d+ of 100 test predictions over 1 models/);
  await Deno.remove(out, { recursive: true });
});
