/**
 * TF.js (cpu backend) references for training: Keras's losses written in tf ops, gradients of a
 * spec's model by `tf.variableGrads`, and Keras 3 Adam steps (TF.js's own `tf.train.adam` places
 * epsilon differently: ε̂ = ε·√(1−β2^t)), all on the same weights and batches as the engine.
 */
import type { ModelSpec } from "../mod.ts";
import { tf, tfjsModelFromSpec } from "./tfjs_reference.ts";

/** A loss as the tests name it. */
export interface TfLoss {
  name:
    | "sparse_categorical_crossentropy"
    | "categorical_crossentropy"
    | "binary_crossentropy"
    | "mean_squared_error";
  fromLogits?: boolean;
}

const EPS = 1e-7;

/**
 * Keras's reduction of a loss in tf ops: Σ_r w_r·L_r / rows over the rows of the last axis.
 * `yTrue` holds class indices (sparse) or one target per output element.
 */
export function tfjsLoss(
  loss: TfLoss,
  yTrue: tf.Tensor,
  yPred: tf.Tensor,
  rowWeights?: tf.Tensor,
): tf.Scalar {
  return tf.tidy(() => {
    const cols = yPred.shape[yPred.shape.length - 1];
    const pred = yPred.reshape([-1, cols]);
    const rows = pred.shape[0];
    let perRow: tf.Tensor;
    const clip = (t: tf.Tensor) => tf.clipByValue(t, EPS, 1 - EPS);
    switch (loss.name) {
      case "sparse_categorical_crossentropy":
      case "categorical_crossentropy": {
        const target = loss.name === "sparse_categorical_crossentropy"
          ? tf.oneHot(yTrue.reshape([-1]).toInt(), cols).toFloat()
          : yTrue.reshape([-1, cols]);
        const logp = loss.fromLogits
          ? tf.logSoftmax(pred)
          : tf.log(clip(tf.div(pred, tf.sum(pred, -1, true))));
        perRow = tf.neg(tf.sum(tf.mul(target, logp), -1));
        break;
      }
      case "binary_crossentropy": {
        const t = yTrue.reshape([-1, cols]);
        const el = loss.fromLogits
          ? tf.add(tf.sub(tf.relu(pred), tf.mul(pred, t)), tf.log1p(tf.exp(tf.neg(tf.abs(pred)))))
          : tf.neg(
            tf.add(
              tf.mul(t, tf.log(clip(pred))),
              tf.mul(tf.sub(1, t), tf.log(tf.sub(1, clip(pred)))),
            ),
          );
        perRow = tf.mean(el, -1);
        break;
      }
      case "mean_squared_error":
        perRow = tf.mean(tf.square(tf.sub(pred, yTrue.reshape([-1, cols]))), -1);
        break;
    }
    const weighted = rowWeights ? tf.mul(perRow, rowWeights) : perRow;
    return tf.div(tf.sum(weighted), rows) as tf.Scalar;
  });
}

/** Options of {@link tfjsGradients}. */
export interface TfGradientOptions {
  loss: TfLoss;
  /** Dropout masks by layer name (the engine's keep-scales), applied instead of TF.js's draws. */
  dropoutScales?: Map<string, Float32Array>;
  sampleWeight?: Float32Array;
}

/**
 * Runs a TF.js model layer by layer, replacing Dropout layers by the given scale masks and
 * passing Keras masks (Embedding `mask_zero`) on as `model.apply` does.
 */
function forward(
  model: tf.Sequential,
  x: tf.Tensor,
  scales: Map<string, Float32Array> | undefined,
): tf.Tensor {
  let h = x;
  let mask: tf.Tensor | null = null;
  for (const layer of model.layers) {
    const scale = scales?.get(layer.name);
    if (scale) {
      h = tf.mul(h, tf.tensor(scale, h.shape));
      continue;
    }
    const out = layer.apply(h, mask ? { mask } : {}) as tf.Tensor;
    mask = (layer.computeMask(h, mask ?? undefined) as tf.Tensor | null) ?? null;
    h = out;
  }
  return h;
}

function rowWeights(
  sampleWeight: Float32Array | undefined,
  samples: number,
  rows: number,
): tf.Tensor | undefined {
  if (!sampleWeight) return undefined;
  const per = rows / samples;
  return tf.tensor1d(
    Float32Array.from({ length: rows }, (_, r) => sampleWeight[Math.floor(r / per)]),
  );
}

/** Loss and ∂loss/∂w for every trainable weight (model order) of the spec's TF.js model. */
export function tfjsGradients(
  spec: ModelSpec,
  x: Float32Array | Int32Array,
  xShape: number[],
  y: Float32Array | Int32Array,
  options: TfGradientOptions,
): { loss: number; grads: Float32Array[] } {
  const model = tfjsModelFromSpec(spec);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const xT = tf.tensor(x, xShape, x instanceof Int32Array ? "int32" : "float32");
  const yT = tf.tensor(y);
  try {
    const { value, grads } = tf.variableGrads(() => {
      const out = forward(model, xT, options.dropoutScales);
      const rows = out.size / out.shape[out.shape.length - 1];
      return tfjsLoss(options.loss, yT, out, rowWeights(options.sampleWeight, xShape[0], rows));
    }, vars);
    const result = {
      loss: value.dataSync()[0],
      grads: vars.map((v) => grads[v.name].dataSync() as Float32Array),
    };
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
    return result;
  } finally {
    xT.dispose();
    yT.dispose();
    model.dispose();
  }
}

/** ∂loss/∂v of one batch for each of `vars` (call inside `tf.tidy`). */
function batchGradients(
  model: tf.LayersModel,
  vars: tf.Variable[],
  loss: TfLoss,
  b: TfBatch,
): tf.NamedTensorMap {
  const xT = tf.tensor(b.x, b.xShape, b.x instanceof Int32Array ? "int32" : "float32");
  const yT = tf.tensor(b.y);
  return tf.variableGrads(() => tfjsLoss(loss, yT, model.apply(xT) as tf.Tensor), vars).grads;
}

/** One training batch. */
export interface TfBatch {
  x: Float32Array | Int32Array;
  xShape: number[];
  y: Float32Array | Int32Array;
}

/**
 * Keras 3 Adam on the spec's TF.js model over `batches` (one step each); returns the final
 * trainable weights in model order.
 */
export function tfjsKerasAdam(
  spec: ModelSpec,
  batches: TfBatch[],
  loss: TfLoss,
  { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7 } = {},
): Float32Array[] {
  const model = tfjsModelFromSpec(spec);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const m = vars.map((v) => tf.variable(tf.zerosLike(v)));
  const vv = vars.map((v) => tf.variable(tf.zerosLike(v)));
  batches.forEach((b, step) => {
    const t = step + 1;
    const alpha = (lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
    tf.tidy(() => {
      const grads = batchGradients(model, vars, loss, b);
      vars.forEach((v, i) => {
        const g = grads[v.name];
        m[i].assign(tf.add(m[i], tf.mul(tf.sub(g, m[i]), 1 - beta1)));
        vv[i].assign(tf.add(vv[i], tf.mul(tf.sub(tf.square(g), vv[i]), 1 - beta2)));
        v.assign(tf.sub(v, tf.div(tf.mul(m[i], alpha), tf.add(tf.sqrt(vv[i]), epsilon))));
      });
    });
  });
  const out = vars.map((v) => v.dataSync().slice() as Float32Array);
  m.forEach((t) => t.dispose());
  vv.forEach((t) => t.dispose());
  model.dispose();
  return out;
}

/**
 * Steps of a TF.js optimizer (e.g. `tf.train.momentum`, `tf.train.rmsprop`, whose update rules
 * equal Keras 3's) on the spec's TF.js model; returns the final trainable weights.
 */
export function tfjsTrainWith(
  spec: ModelSpec,
  batches: TfBatch[],
  loss: TfLoss,
  optimizer: tf.Optimizer,
): Float32Array[] {
  const model = tfjsModelFromSpec(spec);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  for (const b of batches) {
    tf.tidy(() => {
      const grads = batchGradients(model, vars, loss, b);
      optimizer.applyGradients(grads);
    });
  }
  const out = vars.map((v) => v.dataSync().slice() as Float32Array);
  model.dispose();
  optimizer.dispose();
  return out;
}
