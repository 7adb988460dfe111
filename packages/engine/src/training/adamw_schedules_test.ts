import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  AdamW,
  buildModel,
  CosineDecay,
  ExponentialDecay,
  type KerasObject,
  Loss,
  modelGradients,
  type ModelSpec,
  type ParamRef,
  PiecewiseConstantDecay,
  resolveOptimizer,
  SGD,
  Tensor,
  TrainingConfigError,
} from "../../mod.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { expectThrows } from "../../testing/assert.ts";
import { randomSpec, relativeError } from "../../testing/gradient_check.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { tf, tfReady } from "../../testing/tfjs_reference.ts";
import { tfjsGradients } from "../../testing/tfjs_training.ts";

// AdamW (Keras 3: decoupled weight decay `w −= w·wd·lr` before Adam's update, nothing excluded by
// default), LearningRateSchedules (ExponentialDecay, CosineDecay with warm-up,
// PiecewiseConstantDecay) and label smoothing. TF.js has no AdamW or schedules: the engine is
// checked against a TypeScript reference of Keras's rules fed with TF.js gradients, and against
// hand-computed values.

/** One weight buffer and gradient buffer on the kernel heap. */
function param(w: number[], name?: string): { ref: ParamRef; free(): void } {
  const { heap } = getRuntime();
  const ref: ParamRef = {
    weight: heap.upload(Float32Array.from(w)),
    grad: heap.upload(new Float32Array(w.length)),
    size: w.length,
    name,
  };
  return { ref, free: () => [ref.weight, ref.grad].forEach((p) => heap.free(p)) };
}

Deno.test("AdamW: hand-computed 2 steps (decay before the Adam update)", () => {
  const { kernels, heap } = getRuntime();
  const p = param([1]);
  const opt = new AdamW({ learningRate: 0.1, weightDecay: 0.1 });
  const w = () => heap.f32(p.ref.weight, 1)[0];
  // Step 1: w = 1 − 1·0.1·0.1 = 0.99; m = 0.05, v = 0.00025, alpha = 0.1·√0.001/0.1;
  // w −= alpha·m/(√v + 1e-7) ≈ 0.1 → 0.890000632.
  heap.f32(p.ref.grad, 1)[0] = 0.5;
  opt.applyGradients([p.ref], kernels, heap);
  assert(Math.abs(w() - 0.890000632451532) < 1e-6, `step 1: ${w()}`);
  // Step 2: w = 0.89·(1 − 0.01) = 0.8811006; m = 0.02, v = 0.00031225,
  // alpha = 0.1·√(1 − 0.999²)/(1 − 0.81) = 0.0235317 → 0.854467073.
  heap.f32(p.ref.grad, 1)[0] = -0.25;
  opt.applyGradients([p.ref], kernels, heap);
  assert(Math.abs(w() - 0.8544670728834065) < 1e-6, `step 2: ${w()}`);
  assertEquals(opt.iterations, 2);
  assertEquals(new AdamW().weightDecay, 0.004);
  opt.dispose();
  p.free();
});

Deno.test("weight decay: excludeFromWeightDecay by name pattern; SGD decays too (Keras 3 base optimizer)", () => {
  const { kernels, heap } = getRuntime();
  const k = param([2, -4], "dense/kernel"), b = param([3], "dense/bias");
  const opt = new SGD({ learningRate: 0.5, weightDecay: 0.2 });
  opt.excludeFromWeightDecay(["bias"]);
  heap.f32(k.ref.grad, 2).set([1, 1]);
  heap.f32(b.ref.grad, 1).set([1]);
  opt.applyGradients([k.ref, b.ref], kernels, heap);
  // kernel: w·(1 − 0.2·0.5) − 0.5·g = [1.8 − 0.5, −3.6 − 0.5]; bias: 3 − 0.5 (not decayed).
  assert(maxAbsDiff(heap.f32(k.ref.weight, 2), [1.3, -4.1]) < 1e-6);
  assert(Math.abs(heap.f32(b.ref.weight, 1)[0] - 2.5) < 1e-6);
  expectThrows(
    () => opt.excludeFromWeightDecay(["kernel"]),
    TrainingConfigError,
    "excludeFromWeightDecay",
    "before",
  );
  opt.dispose();
  k.free();
  b.free();
});

Deno.test("schedules: hand-computed values of ExponentialDecay, CosineDecay (warm-up) and PiecewiseConstantDecay", () => {
  const close = (a: number, b: number) => assert(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  const e = new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 });
  close(e.at(0), 0.1);
  close(e.at(5), 0.1 * Math.SQRT1_2);
  close(e.at(20), 0.025);
  const stairs = new ExponentialDecay({
    initialLearningRate: 0.1,
    decaySteps: 10,
    decayRate: 0.5,
    staircase: true,
  });
  close(stairs.at(19), 0.05);
  const c = new CosineDecay({ initialLearningRate: 1, decaySteps: 10 });
  close(c.at(0), 1);
  close(c.at(5), 0.5);
  close(c.at(10), 0);
  close(c.at(25), 0);
  const w = new CosineDecay({
    initialLearningRate: 0,
    decaySteps: 100,
    alpha: 0.1,
    warmupTarget: 0.01,
    warmupSteps: 10,
  });
  close(w.at(0), 0);
  close(w.at(5), 0.005); // linear warm-up
  close(w.at(10), 0.01); // warm-up done: cosine from the target
  close(w.at(60), 0.01 * (0.9 * 0.5 + 0.1)); // half-way through the decay
  close(w.at(110), 0.001); // alpha floor
  close(w.at(500), 0.001);
  const p = new PiecewiseConstantDecay([10, 20], [1, 0.5, 0.1]);
  assertEquals([0, 10, 11, 20, 21, 99].map((s) => p.at(s)), [1, 1, 0.5, 0.5, 0.1, 0.1]);
  expectThrows(
    () => new PiecewiseConstantDecay([10, 20], [1, 0.5]),
    TrainingConfigError,
    "PiecewiseConstantDecay.values",
    "expected 3",
  );
  expectThrows(
    () => new CosineDecay({ initialLearningRate: 0.1, decaySteps: 0 }),
    TrainingConfigError,
    "CosineDecay.decay_steps",
  );
});

Deno.test("Keras 3 optimizer configs: AdamW with weight_decay and a serialised CosineDecay learning_rate", () => {
  const opt = resolveOptimizer({
    class_name: "AdamW",
    config: {
      name: "adamw",
      learning_rate: {
        module: "keras.optimizers.schedules",
        class_name: "CosineDecay",
        config: {
          initial_learning_rate: 0,
          decay_steps: 8,
          alpha: 0,
          name: "CosineDecay",
          warmup_target: 0.004,
          warmup_steps: 2,
        },
        registered_name: null,
      },
      weight_decay: 0.01,
      beta_1: 0.9,
      beta_2: 0.999,
      epsilon: 1e-7,
      amsgrad: false,
      clipnorm: null,
      use_ema: false,
    },
  });
  assert(opt instanceof AdamW);
  assertEquals(opt.weightDecay, 0.01);
  assertEquals(opt.learningRate, 0);
  opt.iterations = 1;
  assertEquals(opt.learningRate, Math.fround(0.002));
  expectThrows(() => (opt.learningRate = 0.1), TrainingConfigError, "CosineDecay");
  assertEquals((opt.getConfig().learning_rate as { class_name: string }).class_name, "CosineDecay");
  // Plain Adam takes weight_decay too (Keras 3 base optimizer); unknown schedules are refused.
  assertEquals(
    resolveOptimizer({ class_name: "Adam", config: { weight_decay: 0.1 } }).weightDecay,
    0.1,
  );
  expectThrows(
    () =>
      resolveOptimizer({
        class_name: "Adam",
        config: { learning_rate: { class_name: "InverseTimeDecay", config: {} } },
      }),
    TrainingConfigError,
    "optimizer.learning_rate",
    "InverseTimeDecay",
  );
});

/** Keras 3 AdamW on host arrays (the reference rule), one step with lr `lr` at step `t` (1-based). */
function adamwReference(
  w: Float32Array[],
  g: Float32Array[],
  m: Float32Array[],
  v: Float32Array[],
  t: number,
  lr: number,
  wd: number,
  decays: boolean[],
) {
  const alpha = (lr * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
  w.forEach((wi, k) => {
    for (let j = 0; j < wi.length; j++) {
      if (decays[k]) wi[j] = wi[j] - wi[j] * wd * lr;
      m[k][j] = 0.9 * m[k][j] + 0.1 * g[k][j];
      v[k][j] = 0.999 * v[k][j] + 0.001 * g[k][j] * g[k][j];
      wi[j] -= (alpha * m[k][j]) / (Math.sqrt(v[k][j]) + 1e-7);
    }
  });
}

Deno.test("AdamW on an MLP: 20 fit steps match the Keras rule on TF.js gradients (≤ 1e-5), also with a warm-up cosine schedule and biases excluded", async () => {
  await tfReady();
  const rng = new Rng(1801);
  const layers: KerasObject[] = [
    { class_name: "Dense", config: { name: "h", units: 8, activation: "tanh" } },
    { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
  ];
  const loss = { name: "sparse_categorical_crossentropy" as const };
  const n = 12, f = 5;
  const x = rng.floats(n * f, -1, 1);
  const y = Float32Array.from({ length: n }, () => rng.int(0, 3));
  const cases = [
    { what: "constant lr", lr: (_s: number) => 0.01, excludeBias: false },
    {
      what: "warm-up cosine, biases excluded",
      // The reference's own formula: linear 0 → 0.02 over 5 steps, cosine to 0 over 15.
      lr: (s: number) => s < 5 ? 0.02 * s / 5 : 0.02 * 0.5 * (1 + Math.cos(Math.PI * (s - 5) / 15)),
      schedule: new CosineDecay({
        initialLearningRate: 0,
        decaySteps: 15,
        warmupTarget: 0.02,
        warmupSteps: 5,
      }),
      excludeBias: true,
    },
  ];
  for (const c of cases) {
    const spec = randomSpec(layers, [f], rng);
    const model = buildModel(spec);
    const opt = new AdamW({ learningRate: c.schedule ?? c.lr(0), weightDecay: 0.05 });
    if (c.excludeBias) opt.excludeFromWeightDecay(["bias"]);
    model.compile({ optimizer: opt, loss: "sparse_categorical_crossentropy" });
    const names = ["h", "out"].flatMap((l) => spec.weights[l].map((t) => `${l}/${t.name}`));
    const w = ["h", "out"].flatMap((l) => spec.weights[l].map((t) => t.data.slice()));
    const m = w.map((a) => new Float32Array(a.length)),
      v = w.map((a) => new Float32Array(a.length));
    const decays = names.map((nm) => !(c.excludeBias && nm.includes("bias")));
    for (let t = 1; t <= 20; t++) {
      const current: ModelSpec = {
        ...spec,
        weights: {
          h: spec.weights.h.map((s, i) => ({ ...s, data: w[i] })),
          out: spec.weights.out.map((s, i) => ({ ...s, data: w[2 + i] })),
        },
      };
      const g = tfjsGradients(current, x, [n, f], y, { loss }).grads;
      adamwReference(w, g, m, v, t, Math.fround(c.lr(t - 1)), 0.05, decays);
      model.trainOnBatch(new Tensor(x, [n, f]), new Tensor(y, [n]));
    }
    const got = model.getWeights();
    let worst = 0;
    got.forEach((t, i) => (worst = Math.max(worst, maxAbsDiff(t.data, w[i]))));
    console.log(`AdamW 20 steps (${c.what}): max |engine − reference| ${worst.toExponential(2)}`);
    assert(worst <= 1e-5, `${c.what}: ${worst}`);
    model.dispose();
  }
});

Deno.test("label_smoothing: categorical and binary cross-entropy (logits and probabilities) match TF.js losses and gradients", async () => {
  await tfReady();
  const rng = new Rng(1802);
  const n = 9, f = 4, k = 5, s = 0.2;
  const x = rng.floats(n * f, -1, 1);
  const kernel = rng.floats(f * k, -1, 1), bias = rng.floats(k, -0.5, 0.5);
  const onehot = new Float32Array(n * k);
  for (let i = 0; i < n; i++) onehot[i * k + rng.int(0, k)] = 1;
  const binary = Float32Array.from({ length: n * k }, () => rng.int(0, 2));
  const spec = (activation: string): ModelSpec => ({
    config: {
      class_name: "Sequential",
      config: {
        name: "m",
        layers: [
          { class_name: "InputLayer", config: { name: "in", batch_shape: [null, f] } },
          { class_name: "Dense", config: { name: "d", units: k, activation } },
        ],
      },
    },
    weights: {
      d: [
        { name: "kernel", shape: [f, k], data: kernel },
        { name: "bias", shape: [k], data: bias },
      ],
    },
  });
  const cases = [
    { name: "categorical_crossentropy" as const, fromLogits: true, act: "linear", y: onehot },
    { name: "categorical_crossentropy" as const, fromLogits: false, act: "softmax", y: onehot },
    { name: "binary_crossentropy" as const, fromLogits: true, act: "linear", y: binary },
    { name: "binary_crossentropy" as const, fromLogits: false, act: "sigmoid", y: binary },
  ];
  let worst = 0;
  for (const c of cases) {
    const model = buildModel(spec(c.act));
    const mine = modelGradients(model, new Tensor(x, [n, f]), new Tensor(c.y, [n, k]), {
      loss: { name: c.name, fromLogits: c.fromLogits, labelSmoothing: s },
    });
    model.dispose();
    const W = tf.variable(tf.tensor2d(kernel, [f, k])), B = tf.variable(tf.tensor1d(bias));
    const { value, grads } = tf.variableGrads(() => {
      const logits = tf.add(tf.matMul(tf.tensor2d(x, [n, f]), W), B) as tf.Tensor2D;
      const yT = tf.tensor2d(c.y, [n, k]);
      return c.name === "categorical_crossentropy"
        ? tf.losses.softmaxCrossEntropy(yT, logits, undefined, s) as tf.Scalar
        // TF.js's mean over every element equals Keras's mean over rows of per-row means.
        : tf.losses.sigmoidCrossEntropy(yT, logits, undefined, s) as tf.Scalar;
    }, [W, B]);
    const refLoss = value.dataSync()[0];
    assert(Math.abs(mine.loss - refLoss) < 1e-5, `${c.name} loss ${mine.loss} vs ${refLoss}`);
    const eK = relativeError(mine.grads[0].data, grads[W.name].dataSync());
    const eB = relativeError(mine.grads[1].data, grads[B.name].dataSync());
    assert(eK <= 1e-4 && eB <= 1e-4, `${c.name} (logits ${c.fromLogits}): gradients ${eK}, ${eB}`);
    worst = Math.max(worst, eK, eB);
    tf.dispose([W, B, value, ...Object.values(grads)]);
  }
  console.log(`label smoothing vs TF.js: worst relative gradient error ${worst.toExponential(2)}`);
  // Hand-computed: target [1, 0] with s = 0.5 over 2 classes → [0.75, 0.25].
  const l = Loss.from({ class_name: "CategoricalCrossentropy", config: { label_smoothing: 0.5 } });
  assertEquals([...l.lossTargets(Float32Array.from([1, 0]), 2)], [0.75, 0.25]);
  const half = buildModel({
    config: spec("softmax").config,
    weights: {
      d: [
        { name: "kernel", shape: [f, k], data: new Float32Array(f * k) },
        { name: "bias", shape: [k], data: new Float32Array(k) },
      ],
    },
  });
  const one = new Float32Array(k);
  one[0] = 1;
  const r = modelGradients(half, new Tensor(new Float32Array(f), [1, f]), new Tensor(one, [1, k]), {
    loss: { name: "categorical_crossentropy", labelSmoothing: 0.5 },
  });
  // Zero weights give 5 uniform probabilities; the smoothed target [0.6, 0.1, …] sums to 1, so
  // the loss is −Σ y'·ln(1/5) = ln 5.
  assert(Math.abs(r.loss - Math.log(5)) < 1e-6, `${r.loss}`);
  half.dispose();
  expectThrows(
    () => Loss.from({ name: "sparse_categorical_crossentropy", labelSmoothing: 0.1 }),
    TrainingConfigError,
    "loss.labelSmoothing",
    "sparse_categorical_crossentropy",
  );
  expectThrows(
    () => Loss.from({ name: "categorical_crossentropy", labelSmoothing: 1.5 }),
    TrainingConfigError,
    "loss.labelSmoothing",
    "1.5",
  );
});
