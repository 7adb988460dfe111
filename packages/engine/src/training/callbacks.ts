/**
 * Keras-style callbacks for `fit`: the {@link Callback} base, {@link History},
 * {@link EarlyStopping}, {@link ReduceLROnPlateau} and {@link ModelCheckpoint}, with Keras 3's
 * semantics (see `keras/src/callbacks/*.py`). Hooks may be async; `fit` awaits them.
 */
import type { Model } from "../model.ts";
import type { WeightTensor } from "../layer.ts";
import { TrainingConfigError } from "./errors.ts";

/** Values logged at the end of a batch or an epoch (`loss`, metrics, `val_*`, …). */
export type Logs = Record<string, number>;

/** What `fit` tells callbacks before training starts. */
export interface FitParams {
  epochs: number;
  /** Batches per epoch. */
  steps: number;
  samples: number;
  batchSize: number;
  /** Names logged each epoch, in order. */
  metrics: string[];
}

/** Base class of `fit` callbacks; override the hooks you need. */
export class Callback {
  /** The model being trained (set by `fit`). */
  model?: Model;
  /** Set by `fit` before `onTrainBegin`. */
  params?: FitParams;

  /** Called by `fit` with the model and its parameters. */
  setModel(model: Model, params: FitParams): void {
    this.model = model;
    this.params = params;
  }

  onTrainBegin(_logs?: Logs): void | Promise<void> {}
  onTrainEnd(_logs?: Logs): void | Promise<void> {}
  onEpochBegin(_epoch: number, _logs?: Logs): void | Promise<void> {}
  onEpochEnd(_epoch: number, _logs: Logs): void | Promise<void> {}
  onTrainBatchBegin(_batch: number, _logs?: Logs): void | Promise<void> {}
  onTrainBatchEnd(_batch: number, _logs: Logs): void | Promise<void> {}
}

/** What `fit` returns: the per-epoch logs (Keras `History`). */
export class History extends Callback {
  /** Epoch indices that ran. */
  readonly epoch: number[] = [];
  /** Per-epoch values by name: `loss`, metrics, `val_loss`, `learning_rate`, … */
  readonly history: Record<string, number[]> = {};

  override onEpochEnd(epoch: number, logs: Logs): void {
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) (this.history[k] ??= []).push(v);
  }
}

type Direction = "min" | "max";

/** Keras "auto" mode: maximise accuracy-like metrics, minimise the rest. */
function autoDirection(monitor: string, mode: "auto" | Direction): Direction {
  if (mode !== "auto") return mode;
  const name = monitor.replace(/^val_/, "");
  return /acc|auc|precision|recall|f1/.test(name) ? "max" : "min";
}

function checkMode(mode: unknown, field: string): "auto" | Direction {
  if (mode !== "auto" && mode !== "min" && mode !== "max") {
    throw new TrainingConfigError(
      field,
      `expected "auto", "min" or "max", got ${JSON.stringify(mode)}`,
    );
  }
  return mode;
}

/** Options of {@link EarlyStopping} (Keras names in camelCase). */
export interface EarlyStoppingOptions {
  monitor?: string;
  minDelta?: number;
  patience?: number;
  mode?: "auto" | "min" | "max";
  baseline?: number | null;
  restoreBestWeights?: boolean;
  startFromEpoch?: number;
  verbose?: number;
}

/** Stops training when the monitored value stops improving (Keras 3 `EarlyStopping`). */
export class EarlyStopping extends Callback {
  readonly monitor: string;
  readonly minDelta: number;
  readonly patience: number;
  readonly direction: Direction;
  readonly baseline: number | null;
  readonly restoreBestWeights: boolean;
  readonly startFromEpoch: number;
  readonly verbose: number;
  wait = 0;
  /** Epoch at which training was stopped (0 when it was not). */
  stoppedEpoch = 0;
  best = Infinity;
  bestEpoch = 0;
  bestWeights: WeightTensor[] | null = null;

  constructor(options: EarlyStoppingOptions = {}) {
    super();
    this.monitor = options.monitor ?? "val_loss";
    this.minDelta = Math.abs(options.minDelta ?? 0);
    this.patience = options.patience ?? 0;
    this.direction = autoDirection(
      this.monitor,
      checkMode(options.mode ?? "auto", "EarlyStopping.mode"),
    );
    this.baseline = options.baseline ?? null;
    this.restoreBestWeights = options.restoreBestWeights ?? false;
    this.startFromEpoch = options.startFromEpoch ?? 0;
    this.verbose = options.verbose ?? 0;
  }

  #improves(value: number, reference: number): boolean {
    return this.direction === "min"
      ? value + this.minDelta < reference
      : value - this.minDelta > reference;
  }

  override onTrainBegin(): void {
    this.wait = 0;
    this.stoppedEpoch = 0;
    this.bestWeights = null;
    this.bestEpoch = 0;
    this.best = this.direction === "min" ? Infinity : -Infinity;
  }

  override onEpochEnd(epoch: number, logs: Logs): void {
    const current = logs[this.monitor];
    if (current === undefined || epoch < this.startFromEpoch) {
      if (current === undefined) {
        console.warn(
          `EarlyStopping: monitored "${this.monitor}" is not logged (logged: ${
            Object.keys(logs).join(", ")
          })`,
        );
      }
      return;
    }
    if (this.restoreBestWeights && this.bestWeights === null) {
      this.bestWeights = this.model!.getWeights();
      this.bestEpoch = epoch;
    }
    this.wait++;
    if (this.#improves(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.bestWeights = this.model!.getWeights();
      if (this.baseline === null || this.#improves(current, this.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      this.model!.stopTraining = true;
    }
  }

  override onTrainEnd(): void {
    if (this.stoppedEpoch > 0 && this.verbose > 0) {
      console.error(`Epoch ${this.stoppedEpoch + 1}: early stopping`);
    }
    if (this.restoreBestWeights && this.bestWeights !== null) {
      if (this.verbose > 0) {
        console.error(
          `Restoring model weights from the end of the best epoch: ${this.bestEpoch + 1}.`,
        );
      }
      this.model!.setWeights(this.bestWeights);
    }
  }
}

/** Options of {@link ReduceLROnPlateau}. */
export interface ReduceLROnPlateauOptions {
  monitor?: string;
  factor?: number;
  patience?: number;
  mode?: "auto" | "min" | "max";
  minDelta?: number;
  cooldown?: number;
  minLr?: number;
  verbose?: number;
}

/** Multiplies the learning rate by `factor` after `patience` epochs without improvement. */
export class ReduceLROnPlateau extends Callback {
  readonly monitor: string;
  readonly factor: number;
  readonly patience: number;
  readonly direction: Direction;
  readonly minDelta: number;
  readonly cooldown: number;
  readonly minLr: number;
  readonly verbose: number;
  wait = 0;
  cooldownCounter = 0;
  best = Infinity;

  constructor(options: ReduceLROnPlateauOptions = {}) {
    super();
    this.monitor = options.monitor ?? "val_loss";
    this.factor = options.factor ?? 0.1;
    if (!(this.factor < 1)) {
      throw new TrainingConfigError("ReduceLROnPlateau.factor", `must be < 1, got ${this.factor}`);
    }
    this.patience = options.patience ?? 10;
    const mode = checkMode(options.mode ?? "auto", "ReduceLROnPlateau.mode");
    // Keras: "auto" maximises only when the name contains "acc".
    this.direction = mode === "auto" ? (this.monitor.includes("acc") ? "max" : "min") : mode;
    this.minDelta = options.minDelta ?? 1e-4;
    this.cooldown = options.cooldown ?? 0;
    this.minLr = options.minLr ?? 0;
    this.verbose = options.verbose ?? 0;
  }

  override onTrainBegin(): void {
    this.wait = 0;
    this.cooldownCounter = 0;
    this.best = this.direction === "min" ? Infinity : -Infinity;
  }

  override onEpochEnd(epoch: number, logs: Logs): void {
    const optimizer = this.model!.optimizer;
    logs.learning_rate = optimizer.learningRate;
    const current = logs[this.monitor];
    if (current === undefined) {
      console.warn(`ReduceLROnPlateau: monitored "${this.monitor}" is not logged`);
      return;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    const better = this.direction === "min"
      ? current < this.best - this.minDelta
      : current > this.best + this.minDelta;
    if (better) {
      this.best = current;
      this.wait = 0;
    } else if (this.cooldownCounter <= 0) {
      this.wait++;
      if (this.wait >= this.patience) {
        const old = optimizer.learningRate;
        if (old > Math.fround(this.minLr)) {
          const next = Math.max(old * this.factor, this.minLr);
          optimizer.learningRate = next;
          if (this.verbose > 0) {
            console.error(
              `Epoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${next}.`,
            );
          }
          this.cooldownCounter = this.cooldown;
          this.wait = 0;
        }
      }
    }
  }
}

/**
 * Writes a model to a path — e.g. the importer's `saveKeras(model, path)` passed in by the caller
 * (the engine never imports the importer). A returned promise is awaited; its value is ignored.
 */
export type SaveModelFn = (model: Model, path: string) => unknown;

/** Options of {@link ModelCheckpoint}. */
export interface ModelCheckpointOptions {
  /** Path template: `{epoch}`, `{epoch:02d}`, `{val_loss:.4f}` … are filled from the logs. */
  filepath: string;
  monitor?: string;
  saveBestOnly?: boolean;
  mode?: "auto" | "min" | "max";
  /** Only save when the monitored value beats this initial value (Keras `initial_value_threshold`). */
  initialValueThreshold?: number;
  verbose?: number;
}

/** Saves the model at the end of every epoch (or of improving ones) through a `save` function. */
export class ModelCheckpoint extends Callback {
  readonly save: SaveModelFn;
  readonly filepath: string;
  readonly monitor: string;
  readonly saveBestOnly: boolean;
  readonly direction: Direction;
  readonly verbose: number;
  best: number;
  /** Paths written so far. */
  readonly saved: string[] = [];

  constructor(save: SaveModelFn, options: ModelCheckpointOptions) {
    super();
    if (typeof save !== "function") {
      throw new TrainingConfigError("ModelCheckpoint.save", "expected a function (model, path)");
    }
    if (typeof options?.filepath !== "string" || !options.filepath) {
      throw new TrainingConfigError("ModelCheckpoint.filepath", "expected a non-empty string");
    }
    this.save = save;
    this.filepath = options.filepath;
    this.monitor = options.monitor ?? "val_loss";
    this.saveBestOnly = options.saveBestOnly ?? false;
    this.direction = autoDirection(
      this.monitor,
      checkMode(options.mode ?? "auto", "ModelCheckpoint.mode"),
    );
    this.verbose = options.verbose ?? 0;
    this.best = options.initialValueThreshold ??
      (this.direction === "min" ? Infinity : -Infinity);
  }

  override async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    if (this.saveBestOnly) {
      const current = logs[this.monitor];
      if (current === undefined) {
        console.warn(`ModelCheckpoint: monitored "${this.monitor}" is not logged; not saving`);
        return;
      }
      const better = this.direction === "min" ? current < this.best : current > this.best;
      if (!better) return;
      this.best = current;
    }
    const path = formatCheckpointPath(this.filepath, epoch + 1, logs);
    await this.save(this.model!, path);
    this.saved.push(path);
    if (this.verbose > 0) console.error(`Epoch ${epoch + 1}: saving model to ${path}`);
  }
}

/**
 * Fills `{name}` / `{name:02d}` / `{name:.4f}` placeholders (Python format specs) with `epoch`
 * (1-based, as Keras) and the logs.
 */
export function formatCheckpointPath(template: string, epoch: number, logs: Logs): string {
  return template.replace(/\{(\w+)(?::([^}]*))?\}/g, (whole, name: string, spec?: string) => {
    const v = name === "epoch" ? epoch : logs[name];
    if (v === undefined) {
      throw new TrainingConfigError(
        "ModelCheckpoint.filepath",
        `placeholder ${whole} names nothing logged (logged: epoch, ${
          Object.keys(logs).join(", ")
        })`,
      );
    }
    if (!spec) return String(v);
    const m = /^(0?)(\d*)(?:\.(\d+))?([dfe])?$/.exec(spec);
    if (!m) return String(v);
    const [, zero, width, precision, type] = m;
    let s = type === "d"
      ? String(Math.trunc(v))
      : type === "e"
      ? v.toExponential(precision ? Number(precision) : 6)
      : precision
      ? v.toFixed(Number(precision))
      : String(v);
    if (width) s = s.padStart(Number(width), zero ? "0" : " ");
    return s;
  });
}
