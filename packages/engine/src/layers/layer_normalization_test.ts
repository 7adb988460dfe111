import * as tf from "@tensorflow/tfjs";
import { buildModel, LayerConfigError, Tensor } from "../../mod.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { assertClose, expectThrows } from "../../testing/assert.ts";
import {
  compareWithFiniteDifferences,
  compareWithTfjs,
  randomSpec,
} from "../../testing/gradient_check.ts";
import {
  TFJS_LAYER_BUILDERS,
  tfjsModelFromSpec,
  tfjsPredict,
  tfReady,
} from "../../testing/tfjs_reference.ts";
import { layerNormLayout, layerNormReference } from "./layer_normalization.ts";

// TF.js's LayerNormalization (same Keras semantics: biased variance, ε under the root).
TFJS_LAYER_BUILDERS.set("LayerNormalization", (c, base) =>
  tf.layers.layerNormalization({
    ...base,
    axis: (c.axis ?? -1) as number | number[],
    epsilon: (c.epsilon ?? 1e-3) as number,
    center: c.center !== false,
    scale: c.scale !== false,
  }));

const ln = (name: string, extra: Record<string, unknown> = {}) => ({
  class_name: "LayerNormalization",
  config: { name, ...extra },
});

const CASES: { shape: number[]; cfg: Record<string, unknown> }[] = [
  { shape: [7], cfg: {} },
  { shape: [5, 13], cfg: { epsilon: 1e-5 } },
  { shape: [3, 4, 5], cfg: { axis: [2, 3] } },
  { shape: [3, 5, 2], cfg: { axis: [1, 3], center: false } },
  { shape: [4, 9], cfg: { axis: -1, scale: false } },
  { shape: [4, 9], cfg: { center: false, scale: false } },
];

const withBoth = (c: (typeof CASES)[number]) => c.cfg.center !== false && c.cfg.scale !== false;

Deno.test("LayerNormalization forward matches TF.js ≤ 1e-5 (axes, center/scale, batch 1 and 17)", async () => {
  await tfReady();
  const rng = new Rng(1701);
  let worst = 0;
  for (const c of CASES) {
    const spec = randomSpec([ln("ln", c.cfg)], c.shape, rng, { scale: 1.5 });
    const model = buildModel(spec);
    const ref = tfjsModelFromSpec(spec);
    for (const batch of [1, 17]) {
      const n = batch * c.shape.reduce((a, b) => a * b, 1);
      const x = rng.floats(n, -3, 3);
      const mine = model.predict(new Tensor(x, [batch, ...c.shape])).data;
      const want = tfjsPredict(ref, x, [batch, ...c.shape]);
      assertClose(mine, want, 1e-5, JSON.stringify(c));
      worst = Math.max(worst, maxAbsDiff(mine, want));
    }
    model.dispose();
    ref.dispose();
  }
  console.log(`LayerNormalization forward vs TF.js: max |Δ| ${worst.toExponential(2)}`);
});

Deno.test("LayerNormalization gradients (x, gamma, beta) match TF.js ≤ 1e-4 relative", async () => {
  await tfReady();
  const rng = new Rng(1702);
  let worst = 0;
  // TF.js 4.22's gradient of a layerNormalization without beta or gamma fails inside tf.grads:
  // those configurations are checked against finite differences below.
  for (const c of CASES.filter(withBoth)) {
    const flat = c.shape.length > 1 ? [{ class_name: "Flatten", config: { name: "f" } }] : [];
    const spec = randomSpec(
      [ln("ln", c.cfg), ...flat, {
        class_name: "Dense",
        config: { name: "out", units: 3, activation: "softmax" },
      }],
      c.shape,
      rng,
      { scale: 0.8 },
    );
    // A Dense before the normalisation so the input gradient of the layer is checked too.
    for (const batch of [1, 17]) {
      const n = batch * c.shape.reduce((a, b) => a * b, 1);
      const x = rng.floats(n, -2, 2);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
      worst = Math.max(
        worst,
        compareWithTfjs(spec, x, [batch, ...c.shape], y, {
          loss: { name: "sparse_categorical_crossentropy" },
        }),
      );
    }
    const inner = randomSpec(
      [
        { class_name: "Dense", config: { name: "pre", units: c.shape.at(-1), activation: "tanh" } },
        ln("ln", c.cfg),
        ...flat,
        { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
      ],
      c.shape,
      rng,
      { scale: 0.8 },
    );
    const x = rng.floats(17 * c.shape.reduce((a, b) => a * b, 1), -2, 2);
    const y = Float32Array.from({ length: 17 }, () => rng.int(0, 3));
    worst = Math.max(
      worst,
      compareWithTfjs(inner, x, [17, ...c.shape], y, {
        loss: { name: "sparse_categorical_crossentropy" },
      }),
    );
  }
  console.log(
    `LayerNormalization gradients vs TF.js: worst relative error ${worst.toExponential(2)}`,
  );
});

Deno.test("LayerNormalization without beta or gamma: gradients vs finite differences", () => {
  const rng = new Rng(1704);
  for (const c of CASES.filter((c) => !withBoth(c))) {
    const flat = c.shape.length > 1 ? [{ class_name: "Flatten", config: { name: "f" } }] : [];
    const spec = randomSpec(
      [
        { class_name: "Dense", config: { name: "pre", units: c.shape.at(-1), activation: "tanh" } },
        ln("ln", c.cfg),
        ...flat,
        { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
      ],
      c.shape,
      rng,
      { scale: 0.8 },
    );
    for (const batch of [1, 17]) {
      const x = rng.floats(batch * c.shape.reduce((a, b) => a * b, 1), -2, 2);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
      compareWithFiniteDifferences(spec, x, [batch, ...c.shape], y, {
        name: "sparse_categorical_crossentropy",
      });
    }
  }
});

Deno.test("LayerNormalization rms_scaling: Keras's x·γ/√(var+ε) (no mean removed, no beta), forward and gradients", () => {
  const rng = new Rng(1703);
  const spec = randomSpec(
    [
      { class_name: "Dense", config: { name: "pre", units: 5, activation: "tanh" } },
      ln("ln", { rms_scaling: true }),
      { class_name: "Flatten", config: { name: "f" } },
      { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
    ],
    [3, 4],
    rng,
    { scale: 0.8 },
  );
  const model = buildModel(spec);
  const lnLayer = model.getLayer("ln");
  if (lnLayer.getWeights().map((w) => w.name).join() !== "gamma") {
    throw new Error("rms_scaling has gamma only");
  }
  model.dispose();
  // Forward by hand on one group: x = [1, 2, 4, 9], γ = [1, 2, 0.5, 1], ε = 1e-3.
  const x = Float32Array.of(1, 2, 4, 9);
  const gamma = Float32Array.of(1, 2, 0.5, 1);
  const mean = 4, variance = (9 + 4 + 0 + 25) / 4;
  const inv = 1 / Math.sqrt(variance + 1e-3);
  const want = Array.from(x, (v, i) => v * inv * gamma[i]);
  const got = layerNormReference(x, 1, layerNormLayout([4], [0]), {
    epsilon: 1e-3,
    rmsScaling: true,
    gamma,
    beta: null,
  });
  assertClose(got, want, 1e-6, "rms by hand");
  void mean;
  for (const batch of [1, 17]) {
    const xs = rng.floats(batch * 12, -2, 2);
    const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
    const e = compareWithFiniteDifferences(spec, xs, [batch, 3, 4], y, {
      name: "sparse_categorical_crossentropy",
    });
    if (!(e < 1e-2)) throw new Error(`rms gradients ${e}`);
  }
});

Deno.test("LayerNormalization refuses a batch axis and a bad axis by name", () => {
  expectThrows(
    () =>
      buildModel({
        config: {
          class_name: "Sequential",
          config: {
            name: "m",
            layers: [
              { class_name: "InputLayer", config: { name: "i", batch_shape: [null, 4] } },
              ln("norm", { axis: 0 }),
            ],
          },
        },
        weights: {},
      }, { initialize: { seed: 1 } }),
    Error,
    "norm",
    "axis 0",
  );
  expectThrows(
    () =>
      buildModel({
        config: {
          class_name: "Sequential",
          config: {
            name: "m",
            layers: [
              { class_name: "InputLayer", config: { name: "i", batch_shape: [null, 4] } },
              ln("norm", { axis: "last" }),
            ],
          },
        },
        weights: {},
      }),
    LayerConfigError,
    "norm",
    "axis",
  );
});
