import {
  batchNormReference,
  buildModel,
  LayerConfigError,
  modelGradients,
  type ModelSpec,
  Tensor,
  UntrainableLayerError,
} from "../../mod.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { expectThrows } from "../../testing/assert.ts";
import { randomSpec, relativeError } from "../../testing/gradient_check.ts";
import { tf, tfjsModelFromSpec, tfReady } from "../../testing/tfjs_reference.ts";
import { tfjsLoss } from "../../testing/tfjs_training.ts";
import {
  batchMomentsReference,
  movingAverageReference,
} from "../kernels/batchnorm_grad_reference.ts";

const sparse = { name: "sparse_categorical_crossentropy" as const };

/**
 * TF.js gradients with every layer called in training mode (`training: true`: BatchNormalization
 * normalises with batch statistics and updates its moving statistics); layers listed in `frozen`
 * are not trainable (Keras then runs BatchNormalization in inference mode). Returns the loss,
 * gradients of the trainable weights in model order, and the BatchNormalization layer's
 * weights afterwards.
 */
function tfjsTrainingStep(
  spec: ModelSpec,
  x: Float32Array,
  xShape: number[],
  y: Float32Array,
  frozen: string[] = [],
) {
  const model = tfjsModelFromSpec(spec);
  for (const name of frozen) model.getLayer(name).trainable = false;
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  try {
    const { value, grads } = tf.variableGrads(() => {
      let h: tf.Tensor = tf.tensor(x, xShape);
      for (const layer of model.layers) {
        const training = !frozen.includes(layer.name);
        const cfg = layer.getConfig();
        // TF.js's BatchNormalization crashes in training mode without center or scale: those
        // variants are written in tf ops (batch moments, then the Keras formula).
        if (
          training && layer.getClassName() === "BatchNormalization" && !(cfg.center && cfg.scale)
        ) {
          const w = layer.trainableWeights.map((v) => v.read());
          const gamma = cfg.scale ? w[0] : undefined;
          const beta = cfg.center ? w[cfg.scale ? 1 : 0] : undefined;
          const { mean, variance } = tf.moments(h, [...h.shape.keys()].slice(0, -1));
          h = tf.mul(tf.sub(h, mean), tf.rsqrt(tf.add(variance, cfg.epsilon as number)));
          if (gamma) h = tf.mul(h, gamma);
          if (beta) h = tf.add(h, beta);
          continue;
        }
        h = layer.apply(h, { training }) as tf.Tensor;
      }
      return tfjsLoss(sparse, tf.tensor(y), h);
    }, vars);
    return {
      loss: value.dataSync()[0],
      grads: vars.map((v) => grads[v.name].dataSync() as Float32Array),
      bnWeights: model.getLayer("bn").getWeights().map((w) => w.dataSync() as Float32Array),
    };
  } finally {
    model.dispose();
  }
}

const bn = (config: Record<string, unknown> = {}) => ({
  class_name: "BatchNormalization",
  config: { name: "bn", ...config },
});
const layers = (bnConfig: Record<string, unknown>) => [
  // No conv bias: under batch statistics its gradient is 0 up to rounding (nothing to compare).
  {
    class_name: "Conv2D",
    config: { name: "conv", filters: 6, kernel_size: [3, 3], use_bias: false },
  },
  bn(bnConfig),
  { class_name: "Activation", config: { name: "act", activation: "relu" } },
  { class_name: "Flatten", config: { name: "flat" } },
  { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
];

/** Random BN weights: gamma/beta around 1/0, moving statistics plausible. */
function randomizeBn(spec: ModelSpec, rng: Rng): void {
  for (const w of spec.weights.bn ?? []) {
    const [lo, hi] = w.name === "gamma" || w.name === "moving_variance" ? [0.5, 1.5] : [-0.5, 0.5];
    w.data = rng.floats(w.data.length, lo, hi);
  }
}

function expectGradients(mine: { name: string; data: Float32Array }[], ref: Float32Array[]) {
  if (mine.length !== ref.length) throw new Error(`${mine.length} vs ${ref.length} gradients`);
  mine.forEach((g, i) => {
    const e = relativeError(g.data, ref[i]);
    if (!(e <= 1e-4)) throw new Error(`gradient of ${g.name}: relative error ${e}`);
  });
}

Deno.test("BatchNormalization training gradients match TF.js (training=true), center/scale variants", async () => {
  await tfReady();
  const rng = new Rng(901);
  const variants = [
    {},
    { epsilon: 0.01 },
    { center: false },
    { scale: false },
    { center: false, scale: false },
  ];
  for (const v of variants) {
    const spec = randomSpec(layers(v), [6, 5, 2], rng);
    randomizeBn(spec, rng);
    // Batch 1 still has 4×3 positions per channel for the statistics.
    for (const batch of [1, 17]) {
      const x = rng.floats(batch * 60, -1.5, 1.5);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
      const model = buildModel(spec);
      try {
        const mine = modelGradients(
          model,
          new Tensor(x, [batch, 6, 5, 2]),
          new Tensor(y, [batch, 1]),
          {
            loss: sparse,
          },
        );
        const ref = tfjsTrainingStep(spec, x, [batch, 6, 5, 2], y);
        if (!(Math.abs(mine.loss - ref.loss) <= 1e-4 * Math.max(1, ref.loss))) {
          throw new Error(`loss ${mine.loss} vs ${ref.loss}`);
        }
        expectGradients(mine.grads, ref.grads);
      } catch (e) {
        throw new Error(`${JSON.stringify(v)} batch ${batch}: ${(e as Error).message}`);
      } finally {
        model.dispose();
      }
    }
  }
});

Deno.test("BatchNormalization updates its moving statistics as Keras and TF.js (momentum)", async () => {
  await tfReady();
  const rng = new Rng(902);
  for (const momentum of [undefined, 0.9]) {
    const config = momentum === undefined ? {} : { momentum };
    const spec = randomSpec(
      [bn(config), { class_name: "Flatten", config: { name: "flat" } }, {
        class_name: "Dense",
        config: { name: "out", units: 3, activation: "softmax" },
      }],
      [3, 4, 5],
      rng,
    );
    randomizeBn(spec, rng);
    const x = Float32Array.from(rng.floats(8 * 60), (v, i) => 2 * v + (i % 5));
    const y = Float32Array.from({ length: 8 }, () => rng.int(0, 3));
    const model = buildModel(spec);
    try {
      const before = model.layers[1].getWeights().map((w) => w.data.slice());
      modelGradients(model, new Tensor(x, [8, 3, 4, 5]), new Tensor(y, [8, 1]), { loss: sparse });
      const after = model.layers[1].getWeights();
      const { mean, variance } = batchMomentsReference(x, 5);
      const m = momentum ?? 0.99;
      const wantMean = movingAverageReference(before[2], mean, m);
      const wantVar = movingAverageReference(before[3], variance, m);
      const ref = tfjsTrainingStep(spec, x, [8, 3, 4, 5], y);
      for (
        const [what, got, want, tfjs] of [
          ["moving_mean", after[2].data, wantMean, ref.bnWeights[2]],
          ["moving_variance", after[3].data, wantVar, ref.bnWeights[3]],
        ] as const
      ) {
        if (!(maxAbsDiff(got, want) <= 1e-6)) throw new Error(`${what} vs reference: ${got}`);
        if (!(maxAbsDiff(got, tfjs) <= 1e-5)) throw new Error(`${what} vs TF.js: ${got} / ${tfjs}`);
      }
      // gamma/beta are untouched by the forward pass; inference now uses the new statistics.
      if (maxAbsDiff(after[0].data, before[0]) !== 0) throw new Error("gamma changed");
      const xs = rng.floats(2 * 60);
      const got = model.predict(new Tensor(xs, [2, 3, 4, 5]));
      const bnOut = batchNormReference(xs, {
        gamma: after[0].data,
        beta: after[1].data,
        movingMean: after[2].data,
        movingVariance: after[3].data,
        epsilon: 1e-3,
      });
      const probe = buildModel({
        ...spec,
        config: {
          ...spec.config,
          config: {
            ...spec.config.config as Record<string, unknown>,
            layers: (spec.config.config as { layers: unknown[] }).layers.filter((_, i) => i !== 1),
          },
        },
      });
      // The same head on the reference BN output (the InputLayer shape matches: BN keeps shape).
      const want = probe.predict(new Tensor(bnOut, [2, 3, 4, 5]));
      probe.dispose();
      if (!(maxAbsDiff(got.data, want.data) <= 1e-5)) throw new Error("inference after training");
    } finally {
      model.dispose();
    }
  }
});

Deno.test("BatchNormalization with trainable=false runs in inference mode (gradients vs TF.js)", async () => {
  await tfReady();
  const rng = new Rng(903);
  const spec = randomSpec(layers({ trainable: false }), [6, 5, 2], rng);
  randomizeBn(spec, rng);
  const x = rng.floats(5 * 60, -1.5, 1.5);
  const y = Float32Array.from({ length: 5 }, () => rng.int(0, 3));
  const model = buildModel(spec);
  try {
    const before = model.layers[2].getWeights().map((w) => w.data.slice());
    const mine = modelGradients(model, new Tensor(x, [5, 6, 5, 2]), new Tensor(y, [5, 1]), {
      loss: sparse,
    });
    const ref = tfjsTrainingStep(spec, x, [5, 6, 5, 2], y, ["bn"]);
    expectGradients(mine.grads, ref.grads);
    // No moving-statistics update when frozen.
    model.layers[2].getWeights().forEach((w, i) => {
      if (maxAbsDiff(w.data, before[i]) !== 0) throw new Error(`${w.name} changed`);
    });
  } finally {
    model.dispose();
  }
});

Deno.test("BatchNormalization training refuses a bad momentum and masked input with typed errors", () => {
  const rng = new Rng(904);
  const head = [{ class_name: "Flatten", config: { name: "flat" } }, {
    class_name: "Dense",
    config: { name: "out", units: 2, activation: "softmax" },
  }];
  const x = new Tensor(rng.floats(2 * 12), [2, 3, 4]);
  const y = new Tensor(new Float32Array([0, 1]), [2, 1]);
  for (const momentum of [1.5, "fast"]) {
    const spec = randomSpec([bn({ momentum }), ...head], [3, 4], rng);
    randomizeBn(spec, rng);
    const model = buildModel(spec);
    try {
      expectThrows(
        () => modelGradients(model, x, y, { loss: sparse }),
        LayerConfigError,
        "momentum",
      );
    } finally {
      model.dispose();
    }
  }
  // Embedding(mask_zero) passes its mask through BatchNormalization: masked batch statistics are
  // not implemented, so training says so instead of normalising over padding.
  const maskedSpec = randomSpec(
    [
      {
        class_name: "Embedding",
        config: { name: "emb", input_dim: 5, output_dim: 3, mask_zero: true },
      },
      bn(),
      ...head,
    ],
    [4],
    rng,
    { inputDtype: "int32" },
  );
  randomizeBn(maskedSpec, rng);
  const masked = buildModel(maskedSpec);
  try {
    const ids = new Tensor(new Float32Array([1, 2, 0, 0, 3, 4, 1, 0]), [2, 4]);
    expectThrows(
      () => modelGradients(masked, ids, y, { loss: sparse }),
      UntrainableLayerError,
      "mask",
    );
  } finally {
    masked.dispose();
  }
});
