/**
 * Runs an experiment end to end: loads the data, and for every variant of the (selected) grid
 * trains it, saves it as `.keras`, reloads it through the importer, runs the engine's forward pass
 * and the reference over the test split, and scores both. Then writes the report.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { buildModel, type KerasObject, type Model } from "@scratchnet/engine";
import { loadModel, saveKeras } from "@scratchnet/keras-importer";
import { type ExperimentData, loadImageData, loadTextData } from "./data.ts";
import { ExperimentError, OutputExistsError, VariantError } from "./errors.ts";
import {
  type CnnHyper,
  familyGrid,
  type Grid,
  type RnnHyper,
  selectGrid,
  type Variant,
} from "./grid.ts";
import { cnnConfig, textConfig } from "./models.ts";
import { isRecipe, recipeConfig, recipeWith } from "./recipe.ts";
import { type ExperimentOptions, type Family, isRecurrentFamily } from "./options.ts";
import { predictProbs } from "./model_inputs.ts";
import {
  cnn1dConfig,
  type Cnn1dHyper,
  transformerConfig,
  type TransformerHyper,
} from "./sequence_models.ts";
import type { ExperimentProgress } from "./progress.ts";
import {
  BOW_BASELINE,
  bowConfig,
  bowDataKey,
  type BowHyper,
  bowTextSettings,
  vectorizerFile,
} from "./bag_of_words.ts";
import { referencePredict } from "./reference.ts";
import { writeReport } from "./report.ts";
import {
  compareProbs,
  type ExperimentResults,
  macroF1OfProbs,
  meanStd,
  predictionMetrics,
  RESULTS_SCHEMA_VERSION,
  type VariantResult,
  type VariantRun,
  variantScore,
} from "./results.ts";
import { KERAS_VERSION, type TrainOutcome, type TrainSettings, trainVariant } from "./train.ts";

/**
 * Refuses an output folder that already holds results unless `force`.
 *
 * @throws {OutputExistsError}
 */
export function checkOutputDir(out: string, force: boolean): void {
  if (force) return;
  if (existsSync(join(out, "results.json")) || existsSync(join(out, "report.md"))) {
    throw new OutputExistsError(out);
  }
}

/**
 * Loads the family's data set as tensors. The bag-of-words family vectorizes per variant
 * (`variant`'s n-grams, output mode and max_tokens; the baseline's without one).
 */
export function loadExperimentData(
  o: ExperimentOptions,
  variant?: Variant,
): Promise<ExperimentData> {
  if (o.family === "cnn") {
    if (o.dataset === "nusax") throw new ExperimentError("the cnn family needs an image data set");
    return loadImageData({
      dataset: o.dataset,
      dataDir: o.dataDir,
      quick: o.quick,
      trainSize: o.trainSize,
      seed: o.seed,
    });
  }
  return loadTextData({
    language: o.language,
    sequenceLength: o.sequenceLength,
    maxTokens: o.maxTokens,
    dataDir: o.dataDir,
    quick: o.quick,
    trainSize: o.trainSize,
    trainLanguages: o.trainLanguages,
    bag: o.family === "bow"
      ? bowTextSettings((variant?.hyper as BowHyper | undefined) ?? BOW_BASELINE)
      : null,
  });
}

/** The Keras config of a variant on this data. */
export function variantConfig(
  family: Family,
  variant: Variant,
  data: ExperimentData,
  o: ExperimentOptions,
): KerasObject {
  const classes = data.labelNames.length;
  if (family === "cnn") {
    const [h, w, c] = data.inputShape;
    if (isRecipe(variant.hyper)) {
      return recipeConfig(
        variant.hyper,
        { input: [h, w, c], classes, dropout: o.dropout },
        variant.id,
      );
    }
    return cnnConfig(variant.hyper as CnnHyper, {
      input: [h, w, c],
      classes,
      dropout: o.dropout,
    }, variant.id);
  }
  if (!data.vectorizer) throw new ExperimentError("text data without a vectorizer");
  if (family === "bow") {
    return bowConfig(variant.hyper as BowHyper, {
      inputSize: data.inputShape[0],
      classes,
      dropout: o.dropout,
    }, variant.id);
  }
  const text = {
    vocabSize: data.vectorizer.vocabularySize(),
    sequenceLength: o.sequenceLength,
    embeddingDim: o.embeddingDim,
    classes,
    dropout: o.dropout,
    spatialDropout: o.spatialDropout,
    recurrentDropout: o.recurrentDropout,
  };
  if (family === "cnn1d") return cnn1dConfig(variant.hyper as Cnn1dHyper, text, variant.id);
  if (family === "transformer") {
    return transformerConfig(variant.hyper as TransformerHyper, text, variant.id);
  }
  return textConfig(family, variant.hyper as RnnHyper, {
    ...text,
    recurrentInit: o.recurrentInit,
  }, variant.id);
}

function settingsOf(o: ExperimentOptions, seed = o.seed): TrainSettings {
  return {
    epochs: o.epochs,
    batchSize: o.batchSize,
    learningRate: o.learningRate,
    clipnorm: o.clipnorm,
    reduceLrOnPlateau: o.reduceLrOnPlateau,
    earlyStopping: o.earlyStopping,
    seed,
    lrSchedule: o.lrSchedule,
    workers: o.threads,
    batchStatistics: o.batchStatistics,
    weightDecay: o.weightDecay,
  };
}

/** Test and validation macro-F1 of a trained spec, in memory (for repeated runs). */
function scoreInMemory(
  trained: TrainOutcome,
  data: ExperimentData,
  o: ExperimentOptions,
): [number, number] {
  const model = buildModel(trained.spec, { convAlgorithm: o.conv });
  try {
    const classes = data.labelNames.length;
    const test = predictProbs(model, data.test.x);
    const val = predictProbs(model, data.validation.x);
    return [
      macroF1OfProbs(data.test.y, test, classes),
      macroF1OfProbs(data.validation.y, val, classes),
    ];
  } finally {
    model.dispose();
  }
}

/**
 * Trains the variant `o.repeats` times (seeds `o.seed`, `o.seed + 1`, …) and returns the run
 * with the best validation macro-F1 (ties: lower best validation loss), plus every run's scores
 * when there is more than one.
 */
async function trainRepeated(
  variant: Variant,
  config: KerasObject,
  data: ExperimentData,
  o: ExperimentOptions,
  onEpoch: (epoch: number, logs: Record<string, number>, seed: number) => void,
): Promise<{ kept: TrainOutcome; runs: VariantRun[] | null }> {
  if (o.repeats <= 1) {
    const kept = await stage(
      variant.id,
      "training",
      () =>
        trainVariant(
          o.trainer,
          config,
          data.train,
          data.validation,
          settingsOf(o),
          (e, l) => onEpoch(e, l, o.seed),
        ),
    );
    return { kept, runs: null };
  }
  const runs: VariantRun[] = [];
  let kept: TrainOutcome | null = null, keptVal = -Infinity, keptLoss = Infinity;
  for (let k = 0; k < o.repeats; k++) {
    const seed = o.seed + k;
    const trained = await stage(
      variant.id,
      `training (seed ${seed})`,
      () =>
        trainVariant(
          o.trainer,
          config,
          data.train,
          data.validation,
          settingsOf(o, seed),
          (e, l) => onEpoch(e, l, seed),
        ),
    );
    const [testF1, valF1] = await stage(
      variant.id,
      `scoring (seed ${seed})`,
      () => scoreInMemory(trained, data, o),
    );
    const valLoss = Math.min(...(trained.history.val_loss ?? [Infinity]));
    const better = valF1 > keptVal || (valF1 === keptVal && valLoss < keptLoss);
    if (better) {
      kept = trained;
      keptVal = valF1;
      keptLoss = valLoss;
      runs.forEach((r) => (r.kept = false));
    }
    runs.push({
      seed,
      macroF1: testF1,
      validationMacroF1: valF1,
      epochsRun: trained.epochsRun,
      bestEpoch: trained.bestEpoch,
      trainSeconds: trained.seconds,
      kept: better,
    });
  }
  return { kept: kept!, runs };
}

async function stage<T>(variant: string, name: string, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new VariantError(variant, name, e);
  }
}

/** Trains, saves, reloads and scores one variant. */
export async function runVariant(
  variant: Variant,
  data: ExperimentData,
  o: ExperimentOptions,
  onEpoch: (epoch: number, logs: Record<string, number>, seed: number) => void = () => {},
): Promise<VariantResult> {
  const result: VariantResult = {
    id: variant.id,
    label: variant.label,
    hyper: { ...variant.hyper } as Record<string, unknown>,
  };
  const classes = data.labelNames.length;
  const config = variantConfig(o.family, variant, data, o);
  const { kept: trained, runs } = await trainRepeated(variant, config, data, o, onEpoch);
  if (runs) {
    const { mean, std } = meanStd(runs.map((r) => r.macroF1));
    Object.assign(result, { runs, macroF1Mean: mean, macroF1Std: std });
  }
  Object.assign(result, {
    params: trained.params,
    trainer: trained.trainer,
    ...(trained.note ? { trainerNote: trained.note } : {}),
    history: trained.history,
    epochsRun: trained.epochsRun,
    bestEpoch: trained.bestEpoch,
    restoredBest: trained.restoredBest,
    keptEpoch: trained.keptEpoch,
    trainSeconds: trained.seconds,
  });
  const modelFile = `models/${variant.id}.keras`;
  const path = join(o.out, modelFile);
  await stage(variant.id, "saving .keras", async () => {
    await Deno.mkdir(join(o.out, "models"), { recursive: true });
    await saveKeras({ ...trained.spec, kerasVersion: KERAS_VERSION }, path);
  });
  result.modelFile = modelFile;
  if (o.family === "bow" && data.vectorizer) {
    result.inputSize = data.inputShape[0];
    // The model's input is the vectorizer's output: save the vectorizer beside the model.
    await stage(variant.id, "saving the vectorizer", () =>
      Deno.writeTextFile(
        join(o.out, "models", `${variant.id}.text_vectorization.json`),
        JSON.stringify(vectorizerFile(data.vectorizer!)) + "\n",
      ));
  }
  const loaded = await stage(
    variant.id,
    "reloading .keras",
    () => loadModel(path, { convAlgorithm: o.conv }),
  );
  const model = loaded.model as Model;
  try {
    const t0 = performance.now();
    const probs = await stage(
      variant.id,
      "engine forward pass",
      () => predictProbs(model, data.test.x),
    );
    const t1 = performance.now();
    result.engine = predictionMetrics(data.test.y, probs, classes, (t1 - t0) / 1000);
    const valProbs = predictProbs(model, data.validation.x);
    result.validationMacroF1 = macroF1OfProbs(data.validation.y, valProbs, classes);
    const spec = {
      config: loaded.spec.config,
      weights: loaded.spec.weights,
      kerasVersion: loaded.meta.kerasVersion,
    };
    // The reference (TF.js cpu) is slow on large CNNs: --reference-size checks a prefix.
    const testCount = data.test.y.length;
    const refCount = Math.min(o.referenceSize ?? testCount, testCount);
    const refX = refCount < testCount ? data.test.x.sliceBatch(0, refCount) : data.test.x;
    const t2 = performance.now();
    const ref = await stage(
      variant.id,
      "reference forward pass",
      () => referencePredict(spec, refX, o.reference),
    );
    const t3 = performance.now();
    const refMetrics = predictionMetrics(
      data.test.y.subarray(0, refCount),
      ref.probs,
      classes,
      (t3 - t2) / 1000,
    );
    result.reference = {
      path: ref.path,
      accuracy: refMetrics.accuracy,
      macroF1: refMetrics.macroF1,
      predictSeconds: refMetrics.predictSeconds,
      ...(refCount < testCount ? { samples: refCount } : {}),
    };
    Object.assign(result, compareProbs(probs.subarray(0, refCount * classes), ref.probs, classes));
  } finally {
    model.dispose();
  }
  return result;
}

/** A one-line summary of a variant for the progress output. */
export function variantSummary(r: VariantResult): string {
  if (r.error) return `FAILED at ${r.error.stage}: ${r.error.message}`;
  const e = r.engine!, ref = r.reference!;
  const mean = r.macroF1Mean !== undefined
    ? `mean ${r.macroF1Mean.toFixed(4)} ± ${r.macroF1Std!.toFixed(4)} over ${
      r.runs!.length
    } seeds; kept `
    : "";
  return `${mean}macro-F1 ${e.macroF1.toFixed(4)} (reference ${
    ref.macroF1.toFixed(4)
  }, ${ref.path}), ` +
    `agreement ${(100 * r.agreement!).toFixed(1)}%, max |Δp| ${r.maxAbsDiff!.toExponential(1)}, ` +
    `${r.epochsRun} epochs (best ${r.bestEpoch}), ${r.trainSeconds!.toFixed(1)}s training`;
}

/** The grid this run trains. */
export function experimentGrid(o: ExperimentOptions): Grid {
  const recipe = recipeWith({
    blockFilters: o.recipeFilters,
    convsPerBlock: o.recipeConvs,
    blockDropout: o.recipeDropout,
  });
  return selectGrid(familyGrid(o.family, o.recipe, recipe), o.studies, o.variants);
}

/**
 * Runs the experiment and writes `results.json`, `report.md` and the plots into `o.out`.
 * A failing variant is recorded (with its stage and error) and the others still run.
 *
 * @throws {OutputExistsError} `o.out` holds results and `o.force` is false.
 * @throws {UsageError} unknown `--study` / `--variants`.
 */
export async function runExperiment(
  o: ExperimentOptions,
  progress: ExperimentProgress,
): Promise<ExperimentResults> {
  const started = new Date();
  const t0 = performance.now();
  checkOutputDir(o.out, o.force);
  const grid = experimentGrid(o);
  const data = await loadExperimentData(o, grid.variants[0]);
  progress.info(
    `${data.name}: ${data.train.y.length} train / ${data.validation.y.length} validation / ` +
      `${data.test.y.length} test samples, input [${data.inputShape}]` +
      (data.vectorizer ? `, vocabulary ${data.vectorizer.vocabularySize()}` : "") +
      ` (from ${data.source})`,
  );
  await Deno.mkdir(o.out, { recursive: true });
  if (data.vectorizer && o.family !== "bow") {
    // (bow: each variant's vectorizer is saved beside its model instead.)
    // The tokenizer the models expect: one token per line, index = line (the page accepts it).
    await Deno.writeTextFile(
      join(o.out, "vocabulary.txt"),
      data.vectorizer.getVocabulary().join("\n") + "\n",
    );
  }
  const variants: VariantResult[] = [];
  // The results so far: written after every variant, so a run stopped early (or killed at a
  // deadline) still leaves the report of the variants it finished.
  const collect = (): ExperimentResults => {
    const scored = variants.filter((r) => r.engine);
    const best = scored.length
      ? scored.reduce((a, b) => (variantScore(b)! > variantScore(a)! ? b : a))
      : null;
    return {
      schemaVersion: RESULTS_SCHEMA_VERSION,
      family: o.family,
      dataset: {
        name: data.name,
        labelNames: data.labelNames,
        inputShape: data.inputShape,
        train: data.train.y.length,
        validation: data.validation.y.length,
        test: data.test.y.length,
        source: data.source,
        ...(data.vectorizer ? { vocabularySize: data.vectorizer.vocabularySize() } : {}),
      },
      settings: {
        epochs: o.epochs,
        batchSize: o.batchSize,
        optimizer: "adam",
        learningRate: o.learningRate,
        lrSchedule: o.lrSchedule,
        threads: o.threads,
        batchStatistics: o.batchStatistics,
        loss: "sparse_categorical_crossentropy",
        clipnorm: o.clipnorm,
        reduceLrOnPlateau: o.reduceLrOnPlateau,
        earlyStopping: o.earlyStopping ? { ...o.earlyStopping, restoreBestWeights: true } : null,
        seed: o.seed,
        repeats: o.repeats,
        trainer: o.trainer,
        reference: o.reference,
        quick: o.quick,
        trainSize: o.trainSize,
        dropout: o.dropout,
        weightDecay: o.weightDecay,
        ...(o.family === "cnn"
          ? { conv: o.conv, recipe: o.recipe, referenceSize: o.referenceSize }
          : o.family === "bow"
          ? { bagOfWords: true, referenceSize: o.referenceSize }
          : {
            ...(isRecurrentFamily(o.family)
              ? { recurrentInit: o.recurrentInit, recurrentDropout: o.recurrentDropout }
              : {}),
            spatialDropout: o.spatialDropout,
            sequenceLength: o.sequenceLength,
            maxTokens: o.maxTokens,
            embeddingDim: o.embeddingDim,
          }),
      },
      environment: {
        deno: Deno.version.deno,
        v8: Deno.version.v8,
        os: Deno.build.os,
        arch: Deno.build.arch,
        cpus: navigator.hardwareConcurrency ?? 0,
        startedAt: started.toISOString(),
      },
      studies: grid.studies,
      variants,
      best: best ? { id: best.id, macroF1: variantScore(best)! } : null,
      wallClockSeconds: (performance.now() - t0) / 1000,
    };
  };
  // bow: the vectorized data depend on the variant; the last set is kept for the next variant.
  let variantData = data;
  let variantDataKey = o.family === "bow"
    ? bowDataKey(bowTextSettings(grid.variants[0].hyper as BowHyper))
    : "";
  for (const [i, v] of grid.variants.entries()) {
    progress.variantStart(i, grid.variants.length, v.id, v.label);
    let r: VariantResult;
    try {
      if (o.family === "bow") {
        const key = bowDataKey(bowTextSettings(v.hyper as BowHyper));
        if (key !== variantDataKey) {
          variantData = await loadExperimentData(o, v);
          variantDataKey = key;
        }
      }
      r = await runVariant(
        v,
        variantData,
        o,
        (epoch, logs, seed) =>
          progress.epoch(o.repeats > 1 ? `${v.id} seed ${seed}` : v.id, epoch, o.epochs, logs),
      );
    } catch (e) {
      const ve = e instanceof VariantError ? e : new VariantError(v.id, "setup", e);
      const cause = ve.cause instanceof Error
        ? `${ve.cause.name}: ${ve.cause.message}`
        : ve.message;
      r = {
        id: v.id,
        label: v.label,
        hyper: { ...v.hyper } as Record<string, unknown>,
        error: { stage: ve.stage, message: cause },
      };
    }
    variants.push(r);
    progress.variantEnd(i, grid.variants.length, v.id, variantSummary(r));
    if (i < grid.variants.length - 1) await writeReport(o.out, collect());
  }
  const results = collect();
  await writeReport(o.out, results);
  return results;
}
