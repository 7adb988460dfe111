/**
 * Training one variant: with the engine (`Model.compile / fit` and its Keras callbacks) or with
 * TF.js (cpu backend; a Keras 3 Adam loop with the same clipnorm, early-stopping and
 * learning-rate rules). Both start from the same seeded initial weights (the engine's Keras
 * initializers) and return the trained weights as a spec plus the per-epoch history.
 */
import {
  Adam,
  AdamW,
  buildModel,
  Callback,
  CosineDecay,
  EarlyStopping,
  type KerasObject,
  type Logs,
  type ModelSpec,
  ReduceLROnPlateau,
  SeededRandom,
  Tensor,
  type WeightTensor,
} from "@scratchnet/engine";
import { tf, tfjsModel } from "./tfjs_model.ts";
import type { LabelledSplit } from "./data.ts";
import type { LrSchedule, ReduceLrSettings, TrainerName } from "./options.ts";
import { hostReferenceReason, needsHostReference } from "./reference.ts";
import { inputsFor } from "./model_inputs.ts";

/** What early stopping watches: the lowest validation loss or the highest validation accuracy. */
export type EarlyStoppingMonitor = "val_loss" | "val_accuracy";

/** The Keras version written into saved files and used to build models. */
export const KERAS_VERSION = "3.10.0";

/** How to train. */
export interface TrainSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  clipnorm: number | null;
  reduceLrOnPlateau: ReduceLrSettings | null;
  /** Keras EarlyStopping restoring the best weights of `monitor`, or null. */
  earlyStopping: { patience: number; monitor: EarlyStoppingMonitor } | null;
  seed: number;
  /** Constant learning rate, or cosine decay to 0 over every step (default constant). */
  lrSchedule?: LrSchedule;
  /** Threads of the engine's `fit` (default "auto"); the TF.js trainer ignores it. */
  workers?: number | "auto";
  /** BatchNormalization statistics over a split batch (default "whole-batch"). */
  batchStatistics?: "whole-batch" | "per-thread";
  /** Decoupled weight decay (Keras AdamW), or null / absent for Adam. */
  weightDecay?: number | null;
}

/**
 * The cosine schedule of `s` for `samples` training samples: Keras `CosineDecay` from the
 * learning rate to 0 over every step of every epoch (`ceil(samples / batch)` steps each), or
 * null for a constant rate.
 */
export function cosineScheduleOf(s: TrainSettings, samples: number): CosineDecay | null {
  if (s.lrSchedule !== "cosine") return null;
  return new CosineDecay({
    initialLearningRate: s.learningRate,
    decaySteps: Math.max(1, s.epochs * Math.ceil(samples / s.batchSize)),
    alpha: 0,
  });
}

/** Called after every epoch with Keras-style logs (`loss`, `accuracy`, `val_loss`, …). */
export type EpochListener = (epoch: number, logs: Logs) => void;

/** What training produced. */
export interface TrainOutcome {
  /** The trained model (config and weights; early stopping's best weights when restored). */
  spec: ModelSpec;
  /** Per-epoch values: `loss`, `accuracy`, `val_loss`, `val_accuracy`, `learning_rate`. */
  history: Record<string, number[]>;
  epochsRun: number;
  /** 1-based epoch with the lowest validation loss. */
  bestEpoch: number;
  /** Whether early stopping restored the weights of its best epoch. */
  restoredBest: boolean;
  /** 1-based epoch whose weights are returned (the monitored best with early stopping, else the
   * last). */
  keptEpoch: number;
  trainer: TrainerName;
  /** Why another trainer than the one asked for was used. */
  note?: string;
  seconds: number;
  params: number;
}

/** The variant's untrained model: the config's Keras initializers, seeded. */
export function initialSpec(
  config: KerasObject,
  seed: number,
): { spec: ModelSpec; params: number } {
  const model = buildModel({ config, weights: {}, kerasVersion: KERAS_VERSION }, {
    initialize: { seed },
  });
  try {
    return { spec: model.toSpec(), params: model.countParams() };
  } finally {
    model.dispose();
  }
}

function argminPlusOne(values: number[]): number {
  let best = 0;
  values.forEach((v, i) => {
    if (v < values[best]) best = i;
  });
  return best + 1;
}

/** The epoch (1-based) early stopping keeps: the first best of the monitored value. */
function keptEpochOf(history: Record<string, number[]>, s: TrainSettings, epochs: number): number {
  if (!s.earlyStopping) return epochs;
  const values = history[s.earlyStopping.monitor] ?? [];
  return s.earlyStopping.monitor === "val_loss"
    ? argminPlusOne(values)
    : argminPlusOne(values.map((v) => -v));
}

class EpochReporter extends Callback {
  constructor(readonly listener: EpochListener) {
    super();
  }
  override onEpochEnd(epoch: number, logs: Logs): void {
    this.listener(epoch, logs);
  }
}

/** Trains with the engine. */
export async function trainWithEngine(
  config: KerasObject,
  train: LabelledSplit,
  validation: LabelledSplit,
  s: TrainSettings,
  onEpoch: EpochListener = () => {},
): Promise<TrainOutcome> {
  const t0 = performance.now();
  const model = buildModel({ config, weights: {}, kerasVersion: KERAS_VERSION }, {
    initialize: { seed: s.seed },
  });
  try {
    const schedule = cosineScheduleOf(s, train.y.length);
    const adam = {
      learningRate: schedule ?? s.learningRate,
      ...(s.clipnorm !== null ? { clipnorm: s.clipnorm } : {}),
    };
    model.compile({
      optimizer: s.weightDecay
        ? new AdamW({ ...adam, weightDecay: s.weightDecay })
        : new Adam(adam),
      loss: "sparse_categorical_crossentropy",
      metrics: ["accuracy"],
      seed: s.seed,
    });
    const callbacks: Callback[] = [];
    if (s.reduceLrOnPlateau) {
      callbacks.push(new ReduceLROnPlateau({ monitor: "val_loss", ...s.reduceLrOnPlateau }));
    }
    const early = s.earlyStopping
      ? new EarlyStopping({
        monitor: s.earlyStopping.monitor,
        patience: s.earlyStopping.patience,
        restoreBestWeights: true,
      })
      : null;
    if (early) callbacks.push(early);
    callbacks.push(new EpochReporter(onEpoch));
    const history = await model.fit(
      inputsFor(model.inputNames, train.x),
      new Tensor(train.y, [train.y.length]),
      {
        epochs: s.epochs,
        batchSize: s.batchSize,
        validationData: [
          inputsFor(model.inputNames, validation.x),
          new Tensor(validation.y, [validation.y.length]),
        ],
        callbacks,
        verbose: 0,
        seed: s.seed,
        workers: s.workers ?? "auto",
        batchStatistics: s.batchStatistics ?? "whole-batch",
      },
    );
    const h = history.history;
    const bestEpoch = argminPlusOne(h.val_loss ?? []);
    return {
      spec: model.toSpec(),
      history: h,
      epochsRun: history.epoch.length,
      keptEpoch: keptEpochOf(h, s, history.epoch.length),
      bestEpoch,
      restoredBest: early !== null,
      trainer: "engine",
      seconds: (performance.now() - t0) / 1000,
      params: model.countParams(),
    };
  } finally {
    model.dispose();
  }
}

/** Gathers rows `idx` of a host array with `per` values per sample. */
function gatherRows<T extends Float32Array | Int32Array>(src: T, per: number, idx: Int32Array): T {
  const out = new (src.constructor as { new (n: number): T })(idx.length * per);
  idx.forEach((r, i) => out.set(src.subarray(r * per, (r + 1) * per), i * per));
  return out;
}

/** Mean sparse categorical cross-entropy of probabilities (clipped as Keras does). */
function sparseCrossEntropy(y: tf.Tensor, probs: tf.Tensor): tf.Scalar {
  const classes = probs.shape[probs.shape.length - 1] as number;
  const picked = tf.sum(tf.mul(probs, tf.oneHot(tf.cast(y, "int32"), classes)), -1);
  return tf.neg(tf.mean(tf.log(tf.clipByValue(picked, 1e-7, 1 - 1e-7)))) as tf.Scalar;
}

/**
 * Trains with TF.js (cpu): Keras 3 Adam written out (`alpha = lr·√(1-β₂ᵗ)/(1-β₁ᵗ)`, ε = 1e-7),
 * per-tensor clipnorm, shuffled mini-batches from the same seeded stream as the engine, Dropout in
 * training mode, and Keras's EarlyStopping (restoring the best weights) and ReduceLROnPlateau
 * rules on `val_loss`; AdamW's decoupled weight decay (`w ← w − w·wd·lr` before the step, every
 * trainable weight, as Keras 3). Models TF.js cannot build (GRU `reset_after=true`,
 * MultiHeadAttention) train with the engine.
 */
export async function trainWithTfjs(
  config: KerasObject,
  train: LabelledSplit,
  validation: LabelledSplit,
  s: TrainSettings,
  onEpoch: EpochListener = () => {},
): Promise<TrainOutcome> {
  const { spec: start, params } = initialSpec(config, s.seed);
  if (needsHostReference(start)) {
    const out = await trainWithEngine(config, train, validation, s, onEpoch);
    return { ...out, note: `TF.js lacks ${hostReferenceReason(start)}: trained with the engine` };
  }
  const t0 = performance.now();
  const model = await tfjsModel(start);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const m = vars.map((v) => tf.variable(tf.zerosLike(v)));
  const v2 = vars.map((v) => tf.variable(tf.zerosLike(v)));
  const rng = new SeededRandom(s.seed);
  const n = train.y.length;
  const per = train.x.size / n;
  const xShape = train.x.shape.slice(1);
  const history: Record<string, number[]> = {};
  let lr = s.learningRate;
  const schedule = cosineScheduleOf(s, train.y.length);
  let step = 0;
  let best = Infinity, bestWeights: Float32Array[] | null = null, wait = 0;
  let lrBest = Infinity, lrWait = 0;
  let epochsRun = 0;
  const push = (logs: Logs) => {
    for (const [k, v] of Object.entries(logs)) (history[k] ??= []).push(v);
  };
  const evaluate = (split: LabelledSplit): { loss: number; accuracy: number } => {
    let lossSum = 0, correct = 0;
    const total = split.y.length, vp = split.x.size / Math.max(1, total);
    for (let a = 0; a < total; a += 256) {
      const b = Math.min(total, a + 256);
      tf.tidy(() => {
        const xt = tf.tensor(
          split.x.data.subarray(a * vp, b * vp),
          [b - a, ...split.x.shape.slice(1)],
          split.x.dtype,
        );
        const yt = tf.tensor1d(split.y.subarray(a, b), "int32");
        const p = model.predict(xt) as tf.Tensor;
        lossSum += sparseCrossEntropy(yt, p).dataSync()[0] * (b - a);
        correct += tf.sum(tf.cast(tf.equal(tf.argMax(p, -1), yt), "int32")).dataSync()[0];
      });
    }
    return { loss: lossSum / total, accuracy: correct / total };
  };
  try {
    for (let epoch = 0; epoch < s.epochs; epoch++) {
      const order = rng.permutation(n);
      let lossSum = 0, correct = 0;
      for (let a = 0; a < n; a += s.batchSize) {
        const idx = order.subarray(a, Math.min(n, a + s.batchSize));
        const bx = gatherRows(train.x.data, per, idx);
        const by = gatherRows(train.y, 1, idx);
        step++;
        tf.tidy(() => {
          const xt = tf.tensor(bx, [idx.length, ...xShape], train.x.dtype);
          const yt = tf.tensor1d(by, "int32");
          const { value, grads } = tf.variableGrads(() => {
            const p = model.apply(xt, { training: true }) as tf.Tensor;
            correct += tf.sum(tf.cast(tf.equal(tf.argMax(p, -1), yt), "int32")).dataSync()[0];
            return sparseCrossEntropy(yt, p);
          }, vars);
          lossSum += value.dataSync()[0] * idx.length;
          // A schedule is evaluated at the optimizer's iteration count before the update.
          const rate = schedule ? schedule.at(step - 1) : lr;
          const alpha = (rate * Math.sqrt(1 - 0.999 ** step)) / (1 - 0.9 ** step);
          if (s.weightDecay) {
            // Keras 3 `_apply_weight_decay`, before the update.
            const keep = 1 - s.weightDecay * rate;
            vars.forEach((v) => v.assign(tf.mul(v, keep)));
          }
          vars.forEach((v, i) => {
            let g = grads[v.name];
            if (s.clipnorm !== null) {
              const norm = tf.sqrt(tf.sum(tf.square(g)));
              g = tf.mul(g, tf.div(s.clipnorm, tf.maximum(norm, s.clipnorm)));
            }
            m[i].assign(tf.add(m[i], tf.mul(tf.sub(g, m[i]), 0.1)));
            v2[i].assign(tf.add(v2[i], tf.mul(tf.sub(tf.square(g), v2[i]), 0.001)));
            v.assign(tf.sub(v, tf.div(tf.mul(m[i], alpha), tf.add(tf.sqrt(v2[i]), 1e-7))));
          });
        });
      }
      const val = evaluate(validation);
      const logs: Logs = {
        loss: lossSum / n,
        accuracy: correct / n,
        val_loss: val.loss,
        val_accuracy: val.accuracy,
      };
      if (s.reduceLrOnPlateau) {
        // Keras ReduceLROnPlateau (mode min, min_delta 1e-4, no cooldown); logs the rate in use.
        logs.learning_rate = lr;
        if (val.loss < lrBest - 1e-4) {
          lrBest = val.loss;
          lrWait = 0;
        } else if (++lrWait >= s.reduceLrOnPlateau.patience && lr > s.reduceLrOnPlateau.minLr) {
          lr = Math.max(lr * s.reduceLrOnPlateau.factor, s.reduceLrOnPlateau.minLr);
          lrWait = 0;
        }
      }
      push(logs);
      epochsRun++;
      onEpoch(epoch, logs);
      // Keras EarlyStopping: strict improvement of the monitored value (min loss / max accuracy).
      const watched = s.earlyStopping?.monitor === "val_accuracy" ? -val.accuracy : val.loss;
      if (watched < best) {
        best = watched;
        wait = 0;
        if (s.earlyStopping) bestWeights = vars.map((v) => v.dataSync().slice() as Float32Array);
      } else if (s.earlyStopping && ++wait >= s.earlyStopping.patience && epoch > 0) {
        break;
      }
    }
    if (s.earlyStopping && bestWeights) {
      vars.forEach((v, i) => v.assign(tf.tensor(bestWeights![i], v.shape)));
    }
    const weights: Record<string, WeightTensor[]> = {};
    for (const [name, list] of Object.entries(start.weights)) {
      const arrays = model.getLayer(name).getWeights();
      weights[name] = list.map((w, i) => ({
        name: w.name,
        shape: [...w.shape],
        data: arrays[i].dataSync().slice() as Float32Array,
      }));
    }
    return {
      spec: { ...start, weights },
      history,
      epochsRun,
      bestEpoch: argminPlusOne(history.val_loss ?? []),
      restoredBest: s.earlyStopping !== null,
      keptEpoch: keptEpochOf(history, s, epochsRun),
      trainer: "tfjs",
      seconds: (performance.now() - t0) / 1000,
      params,
    };
  } finally {
    m.forEach((t) => t.dispose());
    v2.forEach((t) => t.dispose());
    model.dispose();
  }
}

/** Trains with the trainer `name`. */
export function trainVariant(
  name: TrainerName,
  config: KerasObject,
  train: LabelledSplit,
  validation: LabelledSplit,
  s: TrainSettings,
  onEpoch?: EpochListener,
): Promise<TrainOutcome> {
  return name === "tfjs"
    ? trainWithTfjs(config, train, validation, s, onEpoch)
    : trainWithEngine(config, train, validation, s, onEpoch);
}
