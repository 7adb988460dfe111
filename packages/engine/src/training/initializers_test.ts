import {
  buildModel,
  computeFans,
  initialWeights,
  resolveInitializer,
  SeededRandom,
  Tensor,
  TrainingConfigError,
} from "../../mod.ts";
import { LSTM } from "../layers/lstm.ts";
import { Dense } from "../layers/dense.ts";
import { Attention } from "../layers/attention.ts";
import { AdditiveAttention } from "../layers/additive_attention.ts";
import { Layer, type WeightSpec } from "../layer.ts";
import type { DeviceTensor, Shape } from "../tensor.ts";

function stats(a: Float32Array) {
  let mean = 0, min = Infinity, max = -Infinity;
  for (const v of a) {
    mean += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  mean /= a.length;
  let varSum = 0;
  for (const v of a) varSum += (v - mean) ** 2;
  return { mean, std: Math.sqrt(varSum / a.length), min, max };
}

Deno.test("compute_fans: dense and conv kernels (receptive field multiplies the fans)", () => {
  const d = computeFans([20, 30]);
  const c = computeFans([3, 3, 4, 8]);
  if (d.fanIn !== 20 || d.fanOut !== 30) throw new Error(`dense ${JSON.stringify(d)}`);
  if (c.fanIn !== 36 || c.fanOut !== 72) throw new Error(`conv ${JSON.stringify(c)}`);
});

Deno.test("variance-scaling family: limits and standard deviations as Keras defines them", () => {
  const rng = new SeededRandom(1);
  const shape = [3, 3, 16, 32]; // fan_in 144, fan_out 288
  const gu = stats(resolveInitializer("glorot_uniform", "t")(shape, rng));
  const limit = Math.sqrt(6 / (144 + 288));
  if (!(gu.max <= limit && gu.min >= -limit && gu.max > 0.98 * limit)) {
    throw new Error(`glorot_uniform range ${gu.min}..${gu.max} vs ±${limit}`);
  }
  const he = stats(
    resolveInitializer({ class_name: "HeNormal", config: { seed: null } }, "t")(shape, rng),
  );
  // Truncated at 2σ of the pre-truncation stddev, rescaled so the result has std √(2/fan_in).
  const want = Math.sqrt(2 / 144);
  if (Math.abs(he.std - want) > 0.03 * want) throw new Error(`he_normal std ${he.std} vs ${want}`);
  if (he.max > 2 * want / 0.87962566103423978 + 1e-6) throw new Error(`he_normal not truncated`);
  const k3 = resolveInitializer(
    { module: "keras.initializers", class_name: "GlorotNormal", config: { seed: null } },
    "t",
  )([200, 300], rng);
  const g = stats(k3);
  if (Math.abs(g.std - Math.sqrt(2 / 500)) > 0.03 * Math.sqrt(2 / 500)) {
    throw new Error(`glorot_normal ${g.std}`);
  }
  const vs = stats(
    resolveInitializer(
      {
        class_name: "VarianceScaling",
        config: { scale: 3, mode: "fan_out", distribution: "uniform" },
      },
      "t",
    )([100, 50], rng),
  );
  // limit = √(3·scale / fan_out) = √(9 / 50)
  if (Math.abs(vs.max - Math.sqrt(9 / 50)) > 0.01) {
    throw new Error(`variance_scaling max ${vs.max}`);
  }
});

Deno.test("orthogonal: QᵀQ = I (tall), QQᵀ = I (wide), with gain", () => {
  const rng = new SeededRandom(2);
  for (const [rows, cols] of [[12, 12], [20, 8], [8, 20]]) {
    const q = resolveInitializer({ class_name: "Orthogonal", config: { gain: 2 } }, "t")([
      rows,
      cols,
    ], rng);
    const n = Math.min(rows, cols);
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        let s = 0;
        if (rows >= cols) { for (let r = 0; r < rows; r++) s += q[r * cols + a] * q[r * cols + b]; }
        else for (let c = 0; c < cols; c++) s += q[a * cols + c] * q[b * cols + c];
        const want = a === b ? 4 : 0;
        if (Math.abs(s - want) > 1e-5) throw new Error(`${rows}x${cols} (${a},${b}) = ${s}`);
      }
    }
  }
});

Deno.test("per-weight defaults: zeros bias, uniform(±0.05) embeddings, LSTM unit_forget_bias", () => {
  const rng = new SeededRandom(3);
  const lstm = new LSTM({ name: "lstm", units: 5 });
  const [kernel, rec, bias] = initialWeights(lstm, [7, 4], rng);
  if (kernel.shape.join() !== "4,20" || rec.shape.join() !== "5,20") throw new Error("shapes");
  const want = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, ...new Array(10).fill(0)];
  if (bias.data.join() !== want.join()) throw new Error(`lstm bias ${bias.data}`);
  // recurrent kernel (5 × 20) is orthogonal along its rows.
  for (let a = 0; a < 5; a++) {
    let s = 0;
    for (let c = 0; c < 20; c++) s += rec.data[a * 20 + c] ** 2;
    if (Math.abs(s - 1) > 1e-5) throw new Error(`recurrent row norm ${s}`);
  }
  const noForget =
    initialWeights(new LSTM({ name: "l2", units: 2, unit_forget_bias: false }), [3, 4], rng)[2];
  if (noForget.data.some((v) => v !== 0)) throw new Error("unit_forget_bias false");
  const dense = new Dense({ name: "d", units: 3, bias_initializer: "ones" });
  if (initialWeights(dense, [4], rng)[1].data.join() !== "1,1,1") throw new Error("bias ones");
  const emb = stats(resolveInitializer("uniform", "t")([1000], rng));
  if (emb.min < -0.05 || emb.max > 0.05 || emb.max < 0.049) {
    throw new Error(`uniform ${emb.min}..${emb.max}`);
  }
  const tn = stats(resolveInitializer("truncated_normal", "t")([5000], rng));
  if (tn.max > 0.1 + 1e-7 || tn.min < -0.1 - 1e-7) {
    throw new Error(`truncated_normal ${tn.min}..${tn.max}`);
  }
});

Deno.test("buildModel({initialize}) fills missing weights, keeps given ones, is seeded", () => {
  const config = {
    class_name: "Sequential",
    config: {
      name: "m",
      layers: [
        { class_name: "InputLayer", config: { name: "in", batch_shape: [null, 4] } },
        { class_name: "Dense", config: { name: "a", units: 8, activation: "relu" } },
        { class_name: "Dense", config: { name: "b", units: 2, activation: "softmax" } },
      ],
    },
  };
  const given = { name: "kernel", shape: [8, 2], data: new Float32Array(16).fill(0.25) };
  const bias = { name: "bias", shape: [2], data: new Float32Array([0.5, -0.5]) };
  const m1 = buildModel({ config, weights: { b: [given, bias] } }, { initialize: { seed: 9 } });
  const m2 = buildModel({ config, weights: { b: [given, bias] } }, { initialize: { seed: 9 } });
  const m3 = buildModel({ config, weights: { b: [given, bias] } }, { initialize: { seed: 10 } });
  const [w1, w2, w3] = [m1, m2, m3].map((m) => m.getWeights());
  if (w1[0].data.join() !== w2[0].data.join()) throw new Error("same seed, different weights");
  if (w1[0].data.join() === w3[0].data.join()) throw new Error("other seed, same weights");
  if (w1[1].data.some((v) => v !== 0)) throw new Error("Dense bias must start at zero");
  if (w1[2].data.join() !== given.data.join()) throw new Error("given weights replaced");
  const p = m1.predict(new Tensor(new Float32Array([1, 2, 3, 4]), [1, 4]));
  if (Math.abs(p.data[0] + p.data[1] - 1) > 1e-6) throw new Error("predict after init");
  let err: unknown;
  try {
    resolveInitializer("nope", 'layer "x" kernel_initializer');
  } catch (e) {
    err = e;
  }
  if (
    !(err instanceof TrainingConfigError) || !String(err.message).includes("kernel_initializer")
  ) {
    throw new Error(`bad initializer error: ${err}`);
  }
  [m1, m2, m3].forEach((m) => m.dispose());
});

/** A Sequential config of an input of `shape` (no batch) and the given layers. */
function sequentialOf(shape: number[], layers: unknown[]) {
  return {
    class_name: "Sequential",
    config: {
      name: "m",
      layers: [
        { class_name: "InputLayer", config: { name: "in", batch_shape: [null, ...shape] } },
        ...layers,
      ],
    },
  };
}

Deno.test("layer-owned weights start from the layer's initialWeight (PReLU, Normalization, Attention)", () => {
  const prelu = (name: string, extra: Record<string, unknown>) => ({
    class_name: "PReLU",
    config: { name, ...extra },
  });
  const m = buildModel({
    config: sequentialOf([3, 2], [
      prelu("p0", {}),
      prelu("p1", { alpha_initializer: { class_name: "Constant", config: { value: 0.25 } } }),
      { class_name: "Normalization", config: { name: "norm", axis: -1 } },
      {
        class_name: "TimeDistributed",
        config: {
          name: "td",
          layer: prelu("p2", { alpha_initializer: "ones", shared_axes: [1] }),
        },
      },
    ]),
    weights: {},
  }, { initialize: { seed: 5 } });
  const values = (layer: string) => m.getLayer(layer).getWeights().map((w) => Array.from(w.data));
  if (values("p0")[0].some((v) => v !== 0)) throw new Error(`PReLU default ${values("p0")}`);
  if (values("p1")[0].some((v) => v !== 0.25)) throw new Error(`PReLU config ${values("p1")}`);
  // The wrapped layer's own hook and config decide (shared axis 1: alpha has shape [1]).
  if (values("td").join() !== "1") throw new Error(`TimeDistributed(PReLU) ${values("td")}`);
  const [mean, variance, count] = values("norm");
  if (mean.join() !== "0,0" || variance.join() !== "1,1" || count.join() !== "0") {
    throw new Error(`Normalization adapt state ${values("norm")}`);
  }
  m.dispose();

  const rng = new SeededRandom(6);
  const att = initialWeights(new Attention({ name: "a", use_scale: true, score_mode: "concat" }), [
    4,
    8,
  ], rng);
  if (att.map((w) => `${w.name}=${w.data.join()}`).join(" ") !== "scale=1 concat_score_weight=1") {
    throw new Error(`Attention ${JSON.stringify(att)}`);
  }
  const d = 40;
  const [scale] = initialWeights(new AdditiveAttention({ name: "add" }), [4, d], rng);
  const limit = Math.sqrt(6 / (2 * d)); // glorot_uniform of a (d) vector: fan_in = fan_out = d
  const s = stats(scale.data);
  if (scale.data.length !== d || s.max > limit || s.min < -limit || s.std < limit / 4) {
    throw new Error(`AdditiveAttention scale ${s.min}..${s.max} vs ±${limit}`);
  }
});

Deno.test("a new layer's own weight needs only its own initialWeight (no table keyed by name)", () => {
  // A layer defined here alone: weights `kernel` (shared default) and `gain` (its own).
  class Gain extends Layer {
    constructor(readonly own: boolean) {
      super("Gain", { name: "gain_layer", kernel_initializer: "ones" });
    }
    computeOutputShape(inputShape: Shape): Shape {
      return inputShape;
    }
    override weightSpecs(inputShape: Shape): WeightSpec[] {
      return [{ name: "kernel", shape: [inputShape[0] as number, 2] }, {
        name: "gain",
        shape: [3],
      }];
    }
    override initialWeight(
      name: string,
      shape: readonly number[],
      init: (shape: number[], initializer?: unknown) => Float32Array,
    ): Float32Array | undefined {
      if (!this.own || name !== "gain") return undefined;
      return init([...shape], { class_name: "Constant", config: { value: 2 } });
    }
    call(x: DeviceTensor): DeviceTensor {
      return x;
    }
  }
  const rng = new SeededRandom(7);
  const [kernel, gain] = initialWeights(new Gain(true), [4], rng);
  if (kernel.data.join() !== "1,1,1,1,1,1,1,1") throw new Error(`kernel ${kernel.data}`);
  if (gain.data.join() !== "2,2,2") throw new Error(`gain ${gain.data}`);
  let err: unknown;
  try {
    initialWeights(new Gain(false), [4], rng);
  } catch (e) {
    err = e;
  }
  if (!(err instanceof TrainingConfigError) || !String(err.message).includes("weight gain")) {
    throw new Error(`unknown weight must be refused by name: ${err}`);
  }
});
