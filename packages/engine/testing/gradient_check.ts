/**
 * Gradient checks for backward passes: engine `modelGradients` vs TF.js `tf.variableGrads` on the
 * same spec, weights and batch; and central finite differences of the engine's own loss for what
 * TF.js cannot express.
 */
import {
  buildModel,
  dropoutScaleReference,
  type KerasObject,
  mixSeed,
  type Model,
  modelGradients,
  type ModelSpec,
  Tensor,
  type WeightTensor,
} from "../mod.ts";
import { Rng } from "./random.ts";
import { tfjsGradients, type TfLoss } from "./tfjs_training.ts";

/** A Sequential spec over `layers` with random weights in [-scale, scale) (shapes from the engine). */
export function randomSpec(
  layers: KerasObject[],
  inputShape: (number | null)[],
  rng: Rng,
  { scale = 0.5, kerasVersion = "3.10.0", inputDtype = "float32" } = {},
): ModelSpec {
  const config: KerasObject = {
    class_name: "Sequential",
    config: {
      name: "grad_check",
      layers: [
        {
          class_name: "InputLayer",
          config: { name: "input", batch_shape: [null, ...inputShape], dtype: inputDtype },
        },
        ...layers,
      ],
    },
  };
  return { config, weights: randomWeights(config, rng, -scale, scale, kerasVersion), kerasVersion };
}

/**
 * Random values in [lo, hi) for every weight of the model `config` builds (their shapes from the
 * engine), drawn layer by layer in the model's order.
 */
export function randomWeights(
  config: KerasObject,
  rng: Rng,
  lo: number,
  hi: number,
  kerasVersion?: string,
): Record<string, WeightTensor[]> {
  const probe = buildModel({ config, weights: {}, kerasVersion }, { initialize: { seed: 1 } });
  const weights: Record<string, WeightTensor[]> = {};
  try {
    for (const l of probe.layers) {
      const w = l.getWeights();
      if (w.length) {
        weights[l.name] = w.map((t) => ({
          name: t.name,
          shape: [...t.shape],
          data: rng.floats(t.data.length, lo, hi),
        }));
      }
    }
  } finally {
    probe.dispose();
  }
  return weights;
}

/** max |a − b| / max |b| (relative to the reference's largest magnitude). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= d)) d = Number.isNaN(e) ? Infinity : e;
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / Math.max(s, 1e-12);
}

/** The Dropout scales the engine draws for `model` at step `seed` on a batch of `batch`. */
export function engineDropoutScales(
  model: Model,
  seed: number,
  batch: number,
): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  model.layers.forEach((l, i) => {
    if (l.className !== "Dropout") return;
    const per = l.inputShape.reduce((a: number, b) => a * (b ?? 1), 1);
    const s = mixSeed(seed, i);
    const rate = Number(l.config.rate);
    out.set(
      l.name,
      Float32Array.from({ length: batch * per }, (_, k) => dropoutScaleReference(s, k, rate)),
    );
  });
  return out;
}

/** Options of {@link compareWithTfjs}. */
export interface CompareOptions {
  loss: TfLoss;
  sampleWeight?: Float32Array;
  seed?: number;
  tolerance?: number;
}

/**
 * Engine vs TF.js gradients of every trainable weight; throws naming the weight when the relative
 * error exceeds `tolerance` (default 1e-4). Returns the worst relative error.
 */
export function compareWithTfjs(
  spec: ModelSpec,
  x: Float32Array | Int32Array,
  xShape: number[],
  y: Float32Array | Int32Array,
  options: CompareOptions,
): number {
  const tol = options.tolerance ?? 1e-4;
  const seed = options.seed ?? 7;
  const model = buildModel(spec);
  try {
    const yShape = [xShape[0], y.length / xShape[0]];
    const mine = modelGradients(model, new Tensor(x, xShape), new Tensor(y, yShape), {
      loss: options.loss,
      sampleWeight: options.sampleWeight,
      seed,
    });
    const ref = tfjsGradients(spec, x, xShape, y, {
      loss: options.loss,
      sampleWeight: options.sampleWeight,
      dropoutScales: engineDropoutScales(model, seed, xShape[0]),
    });
    if (!(Math.abs(mine.loss - ref.loss) <= tol * Math.max(1, Math.abs(ref.loss)))) {
      throw new Error(`loss: engine ${mine.loss} vs TF.js ${ref.loss}`);
    }
    if (mine.grads.length !== ref.grads.length) {
      throw new Error(`${mine.grads.length} engine gradients vs ${ref.grads.length} TF.js`);
    }
    let worst = 0;
    mine.grads.forEach((g, i) => {
      const e = relativeError(g.data, ref.grads[i]);
      if (!(e <= tol)) throw new Error(`gradient of ${g.name}: relative error ${e} > ${tol}`);
      worst = Math.max(worst, e);
    });
    return worst;
  } finally {
    model.dispose();
  }
}

/**
 * Engine gradients vs central finite differences of the engine's loss (float32, so a loose
 * tolerance); checks `samples` random coordinates per weight. A coordinate whose differences at
 * steps h and h/3 disagree sits within h of a kink or jump (ReLU threshold) and is skipped; at
 * least half of the coordinates must be checked. Returns the worst relative error.
 */
export function compareWithFiniteDifferences(
  spec: ModelSpec,
  x: Float32Array | Int32Array,
  xShape: number[],
  y: Float32Array | Int32Array,
  loss: TfLoss,
  { samples = 6, h = 3e-3, tolerance = 1e-2, rng = new Rng(3) } = {},
): number {
  const model = buildModel(spec);
  try {
    const xt = new Tensor(x, xShape);
    const yt = new Tensor(y, [xShape[0], y.length / xShape[0]]);
    const { grads } = modelGradients(model, xt, yt, { loss });
    const lossAt = () => modelGradients(model, xt, yt, { loss }).loss;
    const weights = model.getWeights();
    const central = (wi: number, k: number, step: number) => {
      const orig = weights[wi].data[k];
      weights[wi].data[k] = orig + step;
      model.setWeights(weights);
      const up = lossAt();
      weights[wi].data[k] = orig - step;
      model.setWeights(weights);
      const down = lossAt();
      weights[wi].data[k] = orig;
      model.setWeights(weights);
      return (up - down) / (2 * step);
    };
    let worst = 0, checked = 0, total = 0;
    grads.forEach((g) => {
      const wi = weights.findIndex((w) => w.name === g.name);
      const scale = Math.max(...Array.from(g.data, Math.abs), 1e-3);
      for (let s = 0; s < samples; s++) {
        const k = rng.int(0, g.data.length);
        total++;
        const fd = central(wi, k, h);
        if (Math.abs(fd - central(wi, k, h / 3)) > tolerance * scale) continue;
        checked++;
        const e = Math.abs(fd - g.data[k]) / scale;
        if (!(e <= tolerance)) {
          throw new Error(`${g.name}[${k}]: analytic ${g.data[k]} vs finite difference ${fd}`);
        }
        worst = Math.max(worst, e);
      }
    });
    if (checked * 2 < total) {
      throw new Error(`only ${checked} of ${total} coordinates were away from kinks`);
    }
    return worst;
  } finally {
    model.dispose();
  }
}
