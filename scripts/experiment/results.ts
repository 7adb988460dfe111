/**
 * The `results.json` schema (documented in the README's "Experiments" section) and the per-variant
 * numbers derived from predictions.
 */
import { classificationReport, macroF1, rocAucOvr } from "@scratchnet/engine";
import type { Study } from "./grid.ts";

/** Version of the `results.json` layout; bumped on incompatible changes. */
export const RESULTS_SCHEMA_VERSION = 1;

/** Metrics of one set of predictions on the test split. */
export interface PredictionMetrics {
  accuracy: number;
  macroF1: number;
  weightedF1: number;
  /** Per class, in `dataset.labelNames` order. */
  perClass: { precision: number; recall: number; f1: number; support: number }[];
  /** Rows = true class, columns = predicted. */
  confusionMatrix: number[][];
  /** One-vs-rest macro ROC-AUC from the probabilities. */
  rocAucOvr: number;
  /** Wall-clock seconds of the forward pass over the test split. */
  predictSeconds: number;
}

/** One variant's outcome. */
export interface VariantResult {
  id: string;
  label: string;
  /** The variant's hyper-parameters (CNN: convLayers, filters, kernelSizes, pooling; text: units,
   * bidirectional). */
  hyper: Record<string, unknown>;
  /** Set when the variant failed; the other fields are then partial. */
  error?: { stage: string; message: string };
  params?: number;
  trainer?: "engine" | "tfjs";
  trainerNote?: string;
  /** Per-epoch `loss`, `accuracy`, `val_loss`, `val_accuracy` (and `learning_rate`). */
  history?: Record<string, number[]>;
  epochsRun?: number;
  /** 1-based epoch with the lowest validation loss. */
  bestEpoch?: number;
  /** True when early stopping restored the weights of its best epoch. */
  restoredBest?: boolean;
  /** 1-based epoch whose weights were kept (early stopping's best of its monitor, else the last). */
  keptEpoch?: number;
  trainSeconds?: number;
  /** The saved model, relative to the output folder. */
  modelFile?: string;
  /** bow: the width of the variant's vectorized input (its vocabulary size). */
  inputSize?: number;
  /** Engine forward pass of the reloaded `.keras` on the test split. */
  engine?: PredictionMetrics;
  /** Engine macro-F1 on the validation split. */
  validationMacroF1?: number;
  /** Reference forward pass of the same weights on the test split. */
  reference?: {
    path: "tfjs-cpu" | "host-reference";
    accuracy: number;
    macroF1: number;
    predictSeconds: number;
    /** Set when the reference ran on the first `samples` test samples only (`--reference-size`):
     * its scores, `agreement` and `maxAbsDiff` are then over those. */
    samples?: number;
  };
  /**
   * With `--repeats` > 1: every seed's run, scored in memory (the kept run — best validation
   * macro-F1 — is the one saved, reloaded and compared with the reference).
   */
  runs?: VariantRun[];
  /** Mean of the runs' test macro-F1 (with `--repeats` > 1). */
  macroF1Mean?: number;
  /** Sample standard deviation of the runs' test macro-F1 (with `--repeats` > 1). */
  macroF1Std?: number;
  /** Fraction of test samples where engine and reference argmax agree. */
  agreement?: number;
  /** Largest |engine − reference| over every test probability. */
  maxAbsDiff?: number;
}

/** One seed's training run of a variant (with `--repeats`). */
export interface VariantRun {
  seed: number;
  macroF1: number;
  validationMacroF1: number;
  epochsRun: number;
  bestEpoch: number;
  trainSeconds: number;
  kept: boolean;
}

/** The number a variant is ranked by: the mean over seeds when repeated, else its test macro-F1. */
export function variantScore(r: VariantResult): number | undefined {
  return r.macroF1Mean ?? r.engine?.macroF1;
}

/** Mean and sample standard deviation. */
export function meanStd(values: number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const ss = values.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { mean, std: values.length > 1 ? Math.sqrt(ss / (values.length - 1)) : 0 };
}

/** The whole `results.json`. */
export interface ExperimentResults {
  schemaVersion: number;
  family: string;
  dataset: {
    name: string;
    labelNames: string[];
    inputShape: number[];
    train: number;
    validation: number;
    test: number;
    source: string;
    vocabularySize?: number;
  };
  settings: Record<string, unknown>;
  environment: {
    deno: string;
    v8: string;
    os: string;
    arch: string;
    cpus: number;
    startedAt: string;
  };
  studies: Study[];
  variants: VariantResult[];
  /** The variant with the highest engine test macro-F1 (mean over seeds with `--repeats`). */
  best: { id: string; macroF1: number } | null;
  wallClockSeconds: number;
}

/** Row-wise argmax of `[rows, cols]` probabilities. */
export function argmax(probs: ArrayLike<number>, cols: number): Int32Array {
  const rows = probs.length / cols;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (probs[r * cols + c] > probs[r * cols + best]) best = c;
    out[r] = best;
  }
  return out;
}

/** Test-split metrics of `probs` against `labels`. */
export function predictionMetrics(
  labels: Int32Array,
  probs: Float32Array,
  classes: number,
  predictSeconds: number,
): PredictionMetrics {
  const report = classificationReport(labels, argmax(probs, classes), classes);
  return {
    accuracy: report.accuracy,
    macroF1: report.macro.f1,
    weightedF1: report.weighted.f1,
    perClass: report.f1.map((f1, c) => ({
      precision: report.precision[c],
      recall: report.recall[c],
      f1,
      support: report.support[c],
    })),
    confusionMatrix: report.confusion,
    rocAucOvr: rocAucOvr(labels, probs, classes),
    predictSeconds,
  };
}

/** Engine-vs-reference agreement: argmax agreement fraction and max |Δp|. */
export function compareProbs(
  engine: Float32Array,
  reference: Float32Array,
  classes: number,
): { agreement: number; maxAbsDiff: number } {
  if (engine.length !== reference.length) {
    throw new RangeError(`${engine.length} engine vs ${reference.length} reference probabilities`);
  }
  const a = argmax(engine, classes), b = argmax(reference, classes);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  let d = 0;
  for (let i = 0; i < engine.length; i++) {
    const x = Math.abs(engine[i] - reference[i]);
    if (Number.isNaN(x)) return { agreement: a.length ? same / a.length : 1, maxAbsDiff: NaN };
    if (x > d) d = x;
  }
  return { agreement: a.length ? same / a.length : 1, maxAbsDiff: d };
}

/** Macro-F1 of predictions given as probabilities. */
export function macroF1OfProbs(labels: Int32Array, probs: Float32Array, classes: number): number {
  return macroF1(labels, argmax(probs, classes), classes);
}
