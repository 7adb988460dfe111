/**
 * Keras 3 `LearningRateSchedule`s (`keras.optimizers.schedules`): a learning rate that is a
 * function of the optimizer's step count (`iterations`, 0 for the first update). An optimizer
 * given one evaluates it before every update; in a Keras optimizer config it appears as the
 * serialised object `{module, class_name, config}` in `learning_rate`.
 *
 * - `ExponentialDecay(initial_learning_rate, decay_steps, decay_rate, staircase)`:
 *   `lr₀ · rate^(step / decay_steps)` (the exponent floored with `staircase`).
 * - `CosineDecay(initial_learning_rate, decay_steps, alpha, warmup_target, warmup_steps)`: without
 *   `warmup_target`, `lr₀ · ((1 − α)·½(1 + cos(π·min(step, decay_steps)/decay_steps)) + α)`; with
 *   it, a linear warm-up from `lr₀` to `warmup_target` over `warmup_steps`, then the same cosine
 *   decay from `warmup_target` over `decay_steps` (the step capped at warm-up + decay).
 * - `PiecewiseConstantDecay(boundaries, values)`: `values[0]` for `step ≤ boundaries[0]`,
 *   `values[i]` for `boundaries[i−1] < step ≤ boundaries[i]`, the last value after.
 *
 * @module
 */
import { TrainingConfigError } from "./errors.ts";

/** A learning rate as a function of the step (Keras `LearningRateSchedule`). */
export abstract class LearningRateSchedule {
  /** Keras class name. */
  abstract readonly className: string;
  /** The learning rate at `step` (the optimizer's `iterations` before the update). */
  abstract at(step: number): number;
  /** Keras `get_config()` (snake_case fields). */
  abstract getConfig(): Record<string, unknown>;

  /** The Keras 3 serialised object, as it appears in an optimizer config's `learning_rate`. */
  toKeras(): Record<string, unknown> {
    return {
      module: "keras.optimizers.schedules",
      class_name: this.className,
      config: this.getConfig(),
      registered_name: null,
    };
  }
}

function num(
  schedule: string,
  field: string,
  v: unknown,
  { min = -Infinity, positive = false, integer = false } = {},
): number {
  if (
    typeof v !== "number" || !Number.isFinite(v) || v < min || (positive && v <= 0) ||
    (integer && !Number.isInteger(v))
  ) {
    const want = integer ? "an integer" : "a number";
    const bound = positive ? " > 0" : min > -Infinity ? ` ≥ ${min}` : "";
    throw new TrainingConfigError(
      `${schedule}.${field}`,
      `expected ${want}${bound}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** Options of {@link ExponentialDecay} (Keras names in camelCase). */
export interface ExponentialDecayOptions {
  initialLearningRate: number;
  decaySteps: number;
  decayRate: number;
  staircase?: boolean;
}

/** Keras `ExponentialDecay`: `lr₀ · decay_rate^(step / decay_steps)`, floored with `staircase`. */
export class ExponentialDecay extends LearningRateSchedule {
  readonly className = "ExponentialDecay";
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly decayRate: number;
  readonly staircase: boolean;

  constructor(o: ExponentialDecayOptions) {
    super();
    const w = "ExponentialDecay";
    this.initialLearningRate = num(w, "initial_learning_rate", o.initialLearningRate, { min: 0 });
    this.decaySteps = num(w, "decay_steps", o.decaySteps, { positive: true });
    this.decayRate = num(w, "decay_rate", o.decayRate, { min: 0 });
    this.staircase = o.staircase ?? false;
  }

  at(step: number): number {
    let p = step / this.decaySteps;
    if (this.staircase) p = Math.floor(p);
    return this.initialLearningRate * this.decayRate ** p;
  }

  getConfig(): Record<string, unknown> {
    return {
      initial_learning_rate: this.initialLearningRate,
      decay_steps: this.decaySteps,
      decay_rate: this.decayRate,
      staircase: this.staircase,
      name: "ExponentialDecay",
    };
  }
}

/** Options of {@link CosineDecay} (Keras names in camelCase). */
export interface CosineDecayOptions {
  initialLearningRate: number;
  decaySteps: number;
  /** Floor of the decay as a fraction of the starting rate (default 0). */
  alpha?: number;
  /** Rate reached at the end of the warm-up; none (default) means no warm-up. */
  warmupTarget?: number | null;
  /** Warm-up length in steps (default 0). */
  warmupSteps?: number;
}

/** Keras `CosineDecay`, with the optional linear warm-up of Keras 3 (see the module notes). */
export class CosineDecay extends LearningRateSchedule {
  readonly className = "CosineDecay";
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly alpha: number;
  readonly warmupTarget: number | null;
  readonly warmupSteps: number;

  constructor(o: CosineDecayOptions) {
    super();
    const w = "CosineDecay";
    this.initialLearningRate = num(w, "initial_learning_rate", o.initialLearningRate, { min: 0 });
    this.decaySteps = num(w, "decay_steps", o.decaySteps, { positive: true });
    this.alpha = num(w, "alpha", o.alpha ?? 0, { min: 0 });
    this.warmupTarget = o.warmupTarget == null
      ? null
      : num(w, "warmup_target", o.warmupTarget, { min: 0 });
    this.warmupSteps = num(w, "warmup_steps", o.warmupSteps ?? 0, { min: 0 });
    if (this.warmupTarget !== null && this.warmupSteps <= 0) {
      throw new TrainingConfigError(
        "CosineDecay.warmup_steps",
        `expected a number > 0 with warmup_target ${this.warmupTarget}, got ${this.warmupSteps}`,
      );
    }
  }

  #decay(step: number, from: number): number {
    const cosine = 0.5 * (1 + Math.cos(Math.PI * (step / this.decaySteps)));
    return ((1 - this.alpha) * cosine + this.alpha) * from;
  }

  at(step: number): number {
    if (this.warmupTarget === null) {
      return this.#decay(Math.min(step, this.decaySteps), this.initialLearningRate);
    }
    const s = Math.min(step, this.decaySteps + this.warmupSteps);
    if (s < this.warmupSteps) {
      const delta = this.warmupTarget - this.initialLearningRate;
      return delta * (s / this.warmupSteps) + this.initialLearningRate;
    }
    return this.#decay(s - this.warmupSteps, this.warmupTarget);
  }

  getConfig(): Record<string, unknown> {
    return {
      initial_learning_rate: this.initialLearningRate,
      decay_steps: this.decaySteps,
      alpha: this.alpha,
      name: "CosineDecay",
      warmup_target: this.warmupTarget,
      warmup_steps: this.warmupSteps,
    };
  }
}

/** Keras `PiecewiseConstantDecay(boundaries, values)` (`values` one longer than `boundaries`). */
export class PiecewiseConstantDecay extends LearningRateSchedule {
  readonly className = "PiecewiseConstantDecay";
  readonly boundaries: readonly number[];
  readonly values: readonly number[];

  constructor(boundaries: readonly number[], values: readonly number[]) {
    super();
    const w = "PiecewiseConstantDecay";
    if (!Array.isArray(boundaries) || !Array.isArray(values)) {
      throw new TrainingConfigError(w, "boundaries and values must be lists");
    }
    this.boundaries = boundaries.map((b, i) => num(w, `boundaries[${i}]`, b));
    this.values = values.map((v, i) => num(w, `values[${i}]`, v, { min: 0 }));
    if (this.values.length !== this.boundaries.length + 1) {
      throw new TrainingConfigError(
        `${w}.values`,
        `expected ${
          this.boundaries.length + 1
        } values (one more than boundaries), got ${this.values.length}`,
      );
    }
    for (let i = 1; i < this.boundaries.length; i++) {
      if (!(this.boundaries[i] > this.boundaries[i - 1])) {
        throw new TrainingConfigError(
          `${w}.boundaries`,
          `expected increasing steps, got [${this.boundaries}]`,
        );
      }
    }
  }

  at(step: number): number {
    const i = this.boundaries.findIndex((b) => step <= b);
    return this.values[i < 0 ? this.values.length - 1 : i];
  }

  getConfig(): Record<string, unknown> {
    return {
      boundaries: [...this.boundaries],
      values: [...this.values],
      name: "PiecewiseConstantDecay",
    };
  }
}

/**
 * A schedule from a Keras object (`{class_name, config}` with or without `module`) or an
 * instance; `field` names the option in errors.
 */
export function resolveSchedule(value: unknown, field: string): LearningRateSchedule {
  if (value instanceof LearningRateSchedule) return value;
  const obj = value as { class_name?: unknown; config?: unknown } | null;
  if (!obj || typeof obj !== "object" || typeof obj.class_name !== "string") {
    throw new TrainingConfigError(
      field,
      `expected a number or a LearningRateSchedule {class_name, config}, got ${
        JSON.stringify(value)
      }`,
    );
  }
  const c = (obj.config ?? {}) as Record<string, unknown>;
  switch (obj.class_name) {
    case "ExponentialDecay":
      return new ExponentialDecay({
        initialLearningRate: c.initial_learning_rate as number,
        decaySteps: c.decay_steps as number,
        decayRate: c.decay_rate as number,
        staircase: bool(c.staircase, `${field}.staircase`),
      });
    case "CosineDecay":
      return new CosineDecay({
        initialLearningRate: c.initial_learning_rate as number,
        decaySteps: c.decay_steps as number,
        alpha: c.alpha as number | undefined,
        warmupTarget: c.warmup_target as number | null | undefined,
        warmupSteps: c.warmup_steps as number | undefined,
      });
    case "PiecewiseConstantDecay":
      return new PiecewiseConstantDecay(c.boundaries as number[], c.values as number[]);
    default:
      throw new TrainingConfigError(
        field,
        `unknown schedule ${JSON.stringify(obj.class_name)} (supported: ExponentialDecay, ` +
          `CosineDecay, PiecewiseConstantDecay)`,
      );
  }
}

function bool(v: unknown, field: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") {
    throw new TrainingConfigError(field, `expected true or false, got ${JSON.stringify(v)}`);
  }
  return v;
}
