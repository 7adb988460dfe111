/**
 * Keras losses the trainer computes in WASM (`wasm/assembly/loss.ts`): sparse categorical,
 * categorical and binary cross-entropy (from probabilities with Keras's clipping to
 * [1e-7, 1 − 1e-7], or from logits), mean squared and mean absolute error. Reduction is Keras's
 * `sum_over_batch_size`: Σ w·L over the batch's loss rows divided by their number (the number of
 * unmasked rows when the output carries a mask). `label_smoothing` (categorical and binary
 * cross-entropy, as Keras 3) moves the loss's targets towards uniform: categorical
 * `y·(1 − s) + s/classes`, binary `y·(1 − s) + s/2`; metrics still see the targets as given.
 */
import type { KernelExports } from "../wasm/kernels.ts";
import { TrainingConfigError, TrainingDataError } from "./errors.ts";

/** Names the trainer accepts (Keras aliases map onto them). */
export type LossName =
  | "sparse_categorical_crossentropy"
  | "categorical_crossentropy"
  | "binary_crossentropy"
  | "mean_squared_error"
  | "mean_absolute_error";

/** A loss as `compile` accepts it: a Keras name, or `{ name, fromLogits }`, or a Keras object. */
export type LossConfig =
  | string
  | { name: string; fromLogits?: boolean; labelSmoothing?: number }
  | { class_name: string; config?: { from_logits?: boolean; label_smoothing?: number } };

const ALIASES: Record<string, LossName> = {
  sparse_categorical_crossentropy: "sparse_categorical_crossentropy",
  SparseCategoricalCrossentropy: "sparse_categorical_crossentropy",
  categorical_crossentropy: "categorical_crossentropy",
  CategoricalCrossentropy: "categorical_crossentropy",
  binary_crossentropy: "binary_crossentropy",
  BinaryCrossentropy: "binary_crossentropy",
  mean_squared_error: "mean_squared_error",
  mse: "mean_squared_error",
  MeanSquaredError: "mean_squared_error",
  mean_absolute_error: "mean_absolute_error",
  mae: "mean_absolute_error",
  MeanAbsoluteError: "mean_absolute_error",
};

/** Whether `name` is a regression loss (no logits form, no output activation to fold). */
function isRegression(name: LossName): boolean {
  return name === "mean_squared_error" || name === "mean_absolute_error";
}

/** Keras `backend.epsilon()`. */
export const EPSILON = 1e-7;

/** How predictions reach the loss kernel (see loss.ts). */
export enum LossKernelMode {
  Probabilities = 0,
  FusedWithOutputActivation = 1,
  Logits = 2,
}

/** A resolved loss. */
export class Loss {
  readonly name: LossName;
  readonly fromLogits: boolean;
  /** Keras `label_smoothing` in [0, 1] (categorical and binary cross-entropy; 0 for none). */
  readonly labelSmoothing: number;

  constructor(name: LossName, fromLogits = false, labelSmoothing = 0) {
    this.name = name;
    this.fromLogits = fromLogits;
    if (!(typeof labelSmoothing === "number" && labelSmoothing >= 0 && labelSmoothing <= 1)) {
      throw new TrainingConfigError(
        "loss.labelSmoothing",
        `expected a number in [0, 1], got ${JSON.stringify(labelSmoothing)}`,
      );
    }
    if (
      labelSmoothing !== 0 && name !== "categorical_crossentropy" && name !== "binary_crossentropy"
    ) {
      throw new TrainingConfigError(
        "loss.labelSmoothing",
        `Keras applies it to categorical_crossentropy and binary_crossentropy only, got ${name}`,
      );
    }
    this.labelSmoothing = labelSmoothing;
  }

  /** Resolves a `compile` loss option. */
  static from(config: LossConfig): Loss {
    let name: string | undefined;
    let fromLogits: unknown = false;
    let smoothing: unknown = 0;
    if (typeof config === "string") name = config;
    else if (config && typeof config === "object" && "name" in config) {
      name = config.name;
      fromLogits = config.fromLogits ?? false;
      smoothing = config.labelSmoothing ?? 0;
    } else if (config && typeof config === "object" && "class_name" in config) {
      name = config.class_name;
      fromLogits = config.config?.from_logits ?? false;
      smoothing = config.config?.label_smoothing ?? 0;
    }
    const resolved = name === undefined ? undefined : ALIASES[name];
    if (!resolved) {
      throw new TrainingConfigError(
        "loss",
        `expected one of ${Object.keys(ALIASES).join(", ")}, got ${JSON.stringify(config)}`,
      );
    }
    if (typeof fromLogits !== "boolean") {
      throw new TrainingConfigError("loss.fromLogits", `expected a boolean, got ${fromLogits}`);
    }
    if (isRegression(resolved) && fromLogits) {
      throw new TrainingConfigError("loss.fromLogits", `${resolved} has no logits form`);
    }
    return new Loss(resolved, fromLogits, smoothing as number);
  }

  /**
   * The targets the loss kernel reads: `targets` itself, or a smoothed copy with
   * `label_smoothing` (`cols` classes per row for the categorical form).
   */
  lossTargets(targets: Float32Array | Int32Array, cols: number): Float32Array | Int32Array {
    const s = this.labelSmoothing;
    if (s === 0) return targets;
    const add = this.name === "binary_crossentropy" ? 0.5 * s : s / cols;
    return Float32Array.from(targets, (y) => y * (1 - s) + add);
  }

  /** Whether targets are one class index per loss row (else one value per output element). */
  get sparse(): boolean {
    return this.name === "sparse_categorical_crossentropy";
  }

  /** The output activation this loss can fold into its gradient (Keras uses the logits then). */
  get fusableActivation(): "softmax" | "sigmoid" | null {
    if (this.fromLogits || isRegression(this.name)) return null;
    return this.name === "binary_crossentropy" ? "sigmoid" : "softmax";
  }

  /** Kernel mode for a model whose last operation is `outputActivation`. */
  mode(outputActivation: "softmax" | "sigmoid" | null): LossKernelMode {
    if (this.fromLogits) return LossKernelMode.Logits;
    return outputActivation !== null && outputActivation === this.fusableActivation
      ? LossKernelMode.FusedWithOutputActivation
      : LossKernelMode.Probabilities;
  }

  /**
   * Targets per sample for an output of `rowsPerSample` rows × `cols` per sample; validates the
   * count and (sparse) that every label is an integer in [0, cols).
   */
  checkTargets(
    y: Float32Array | Int32Array,
    samples: number,
    rowsPerSample: number,
    cols: number,
    field: string,
  ): Float32Array | Int32Array {
    const per = this.sparse ? rowsPerSample : rowsPerSample * cols;
    if (y.length !== samples * per) {
      throw new TrainingDataError(
        field,
        `${samples * per} values (${samples} samples × ${per}${
          this.sparse ? " class indices" : " targets"
        } for ${this.name})`,
        `${y.length} values`,
      );
    }
    if (this.sparse) {
      const labels = y instanceof Int32Array ? y : new Int32Array(y.length);
      for (let i = 0; i < y.length; i++) {
        const v = y[i];
        if (!Number.isInteger(v) || v < 0 || v >= cols) {
          throw new TrainingDataError(
            field,
            `integer class indices in [0, ${cols})`,
            `${v} at index ${i}`,
          );
        }
        labels[i] = v;
      }
      return labels;
    }
    for (let i = 0; i < y.length; i++) {
      if (!Number.isFinite(y[i])) {
        throw new TrainingDataError(field, "finite targets", `${y[i]} at index ${i}`);
      }
    }
    return y instanceof Float32Array ? y : Float32Array.from(y);
  }

  /**
   * Σ_r w_r·L_r over `rows`; writes the gradient of Σ_r w_r·L_r·gradScale into `grad` (0: none).
   */
  compute(
    kernels: KernelExports,
    pred: number,
    targets: number,
    weights: number,
    grad: number,
    rows: number,
    cols: number,
    mode: LossKernelMode,
    gradScale: number,
  ): number {
    switch (this.name) {
      case "sparse_categorical_crossentropy":
        return kernels.sparseCategoricalCE(
          pred,
          targets,
          weights,
          grad,
          rows,
          cols,
          mode,
          gradScale,
          EPSILON,
        );
      case "categorical_crossentropy":
        return kernels.categoricalCE(
          pred,
          targets,
          weights,
          grad,
          rows,
          cols,
          mode,
          gradScale,
          EPSILON,
        );
      case "binary_crossentropy":
        return kernels.binaryCE(pred, targets, weights, grad, rows, cols, mode, gradScale, EPSILON);
      case "mean_squared_error":
        return kernels.meanSquaredError(pred, targets, weights, grad, rows, cols, gradScale);
      case "mean_absolute_error":
        return kernels.meanAbsoluteError(pred, targets, weights, grad, rows, cols, gradScale);
    }
  }
}
