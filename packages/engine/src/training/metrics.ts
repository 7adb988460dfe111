/**
 * Metrics `fit` and `evaluate` report, computed on the host from each batch's predictions (small:
 * batch × classes) as Keras's stateful means: Σ w·v / Σ w over the epoch, w = sample weight ×
 * output mask.
 */
import { TrainingConfigError } from "./errors.ts";
import type { Loss } from "./losses.ts";

/** The metric functions available. */
export type MetricKind =
  | "sparse_categorical_accuracy"
  | "categorical_accuracy"
  | "binary_accuracy"
  | "mean_squared_error"
  | "mean_absolute_error";

/** A compiled metric: the name it is logged under and what it computes. */
export interface Metric {
  name: string;
  kind: MetricKind;
}

const NAMED: Record<string, MetricKind> = {
  sparse_categorical_accuracy: "sparse_categorical_accuracy",
  categorical_accuracy: "categorical_accuracy",
  binary_accuracy: "binary_accuracy",
  mse: "mean_squared_error",
  mean_squared_error: "mean_squared_error",
  mae: "mean_absolute_error",
  mean_absolute_error: "mean_absolute_error",
};

/** Throws {@link TrainingConfigError} for a name `resolveMetrics` would not know. */
export function checkMetricNames(names: readonly string[]): void {
  for (const name of names) {
    if (name !== "accuracy" && name !== "acc" && !NAMED[name]) {
      throw new TrainingConfigError(
        "metrics",
        `unknown metric ${JSON.stringify(name)} (supported: accuracy, ${
          Object.keys(NAMED).join(", ")
        })`,
      );
    }
  }
}

/**
 * Resolves `compile`'s metric names. `"accuracy"`/`"acc"` follow Keras: binary accuracy for a
 * one-unit output, sparse categorical accuracy for class-index targets, else categorical.
 */
export function resolveMetrics(names: readonly string[], loss: Loss, outCols: number): Metric[] {
  return names.map((name) => {
    if (name === "accuracy" || name === "acc") {
      const kind: MetricKind = outCols === 1 && !loss.sparse
        ? "binary_accuracy"
        : loss.sparse
        ? "sparse_categorical_accuracy"
        : "categorical_accuracy";
      return { name, kind };
    }
    const kind = NAMED[name];
    if (!kind) {
      throw new TrainingConfigError(
        "metrics",
        `unknown metric ${JSON.stringify(name)} (supported: accuracy, ${
          Object.keys(NAMED).join(", ")
        })`,
      );
    }
    if (kind === "sparse_categorical_accuracy" && !loss.sparse) {
      throw new TrainingConfigError(
        "metrics",
        `${name} needs class-index targets (sparse_categorical_crossentropy)`,
      );
    }
    return { name, kind };
  });
}

function argmax(a: ArrayLike<number>, start: number, cols: number): number {
  let best = 0;
  for (let j = 1; j < cols; j++) if (a[start + j] > a[start + best]) best = j;
  return best;
}

/**
 * Adds one batch to `sums`/`weights` (one entry per metric): `pred` rows × cols, `targets` class
 * indices (sparse) or rows × cols values, `rowWeights` per row (null: all ones).
 */
export function accumulateMetrics(
  metrics: readonly Metric[],
  pred: Float32Array,
  targets: Float32Array | Int32Array,
  sparseTargets: boolean,
  rowWeights: Float32Array | null,
  rows: number,
  cols: number,
  sums: number[],
  weights: number[],
): void {
  metrics.forEach((m, k) => {
    let s = 0, wsum = 0;
    for (let r = 0; r < rows; r++) {
      const w = rowWeights ? rowWeights[r] : 1;
      if (w === 0) continue;
      const o = r * cols;
      let v = 0;
      switch (m.kind) {
        case "sparse_categorical_accuracy":
          v = argmax(pred, o, cols) === targets[r] ? 1 : 0;
          break;
        case "categorical_accuracy":
          v = argmax(pred, o, cols) === argmax(targets, o, cols) ? 1 : 0;
          break;
        case "binary_accuracy": {
          let hit = 0;
          for (let j = 0; j < cols; j++) {
            hit += (pred[o + j] > 0.5 ? 1 : 0) === (targets[o + j] > 0.5 ? 1 : 0) ? 1 : 0;
          }
          v = hit / cols;
          break;
        }
        case "mean_squared_error":
        case "mean_absolute_error": {
          let e = 0;
          for (let j = 0; j < cols; j++) {
            const d = pred[o + j] - (sparseTargets ? (j === targets[r] ? 1 : 0) : targets[o + j]);
            e += m.kind === "mean_squared_error" ? d * d : Math.abs(d);
          }
          v = e / cols;
          break;
        }
      }
      s += w * v;
      wsum += w;
    }
    sums[k] += s;
    weights[k] += wsum;
  });
}
