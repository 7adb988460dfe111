import {
  buildModel,
  InputShapeError,
  LayerConfigError,
  modelGradients,
  Tensor,
  UntrainableLayerError,
} from "../../mod.ts";
import { expectThrows } from "../../testing/assert.ts";
import {
  compareWithFiniteDifferences,
  compareWithTfjs,
  randomSpec,
} from "../../testing/gradient_check.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import {
  tf,
  TFJS_LAYER_BUILDERS,
  tfjsModelFromSpec,
  tfjsPredict,
  tfReady,
} from "../../testing/tfjs_reference.ts";
import { alphaIndexMap } from "./prelu.ts";

TFJS_LAYER_BUILDERS.set("PReLU", (c, base) =>
  tf.layers.prelu({
    ...base,
    sharedAxes: (c.shared_axes ?? undefined) as number[] | undefined,
  }));

/** Logs a measured error when REPORT_ERRORS is set (for reports; tests stay quiet otherwise). */
const report = (what: string, v: number) => {
  if (Deno.env.get("REPORT_ERRORS")) console.log(`${what}: ${v.toExponential(2)}`);
};

const prelu = (name: string, sharedAxes: number[] | null = null) => ({
  class_name: "PReLU",
  config: { name, shared_axes: sharedAxes, alpha_initializer: { class_name: "Zeros", config: {} } },
});
const dense = (name: string, units: number, activation = "linear") => ({
  class_name: "Dense",
  config: { name, units, activation },
});
const sparse = { name: "sparse_categorical_crossentropy" as const };

/** Input shapes × shared axes covered (odd sizes; ranks 2–4 with batch). */
const CASES: [number[], number[] | null][] = [
  [[7], null],
  [[5, 3], [1]],
  [[5, 3], null],
  [[5, 4, 3], [1, 2]],
  [[5, 4, 3], [2]],
  [[3, 5, 7], [3]],
  [[3, 5, 7], null],
];

Deno.test("PReLU forward matches TF.js (shared_axes combinations, batch 1 and 17)", async () => {
  await tfReady();
  const rng = new Rng(151);
  let worst = 0;
  for (const [shape, shared] of CASES) {
    const spec = randomSpec([prelu("p", shared)], shape, rng, { scale: 0.9 });
    const model = buildModel(spec);
    const tfm = tfjsModelFromSpec(spec);
    for (const batch of [1, 17]) {
      const xShape = [batch, ...shape];
      const x = rng.floats(xShape.reduce((a, b) => a * b), -2, 2);
      const d = maxAbsDiff(model.predict(new Tensor(x, xShape)).data, tfjsPredict(tfm, x, xShape));
      if (!(d <= 1e-5)) throw new Error(`[${shape}] shared ${shared} batch ${batch}: ${d}`);
      worst = Math.max(worst, d);
    }
    model.dispose();
    tfm.dispose();
  }
  report("PReLU forward vs TF.js max |Δ|", worst);
});

Deno.test("PReLU: alpha shape (1 on shared axes), zeros initializer, hand-checked values", () => {
  const built = buildModel(randomSpec([prelu("p", [1, 2])], [2, 3, 2], new Rng(1)));
  const spec = {
    config: {
      class_name: "Sequential",
      config: {
        name: "s",
        layers: [
          { class_name: "InputLayer", config: { name: "in", batch_shape: [null, 2, 3, 2] } },
          prelu("p", [1, 2]),
        ],
      },
    },
    weights: {},
  };
  // No weights given: alpha starts from its initializer (zeros), shape [1, 1, 2].
  const fresh = buildModel(spec, { initialize: { seed: 3 } });
  const w = fresh.getWeights()[0];
  if (!w.name.endsWith("alpha") || String(w.shape) !== "1,1,2" || w.data.some((v) => v !== 0)) {
    throw new Error(`initial alpha ${w.name} [${w.shape}] ${w.data}`);
  }
  if (built.layers[1].weightNames().join() !== "alpha") throw new Error("weight names");
  // alpha = [0.5, -2] per channel: x = [[-1, 2], [3, -4], …] → [-0.5, 2], [3, 8], …
  fresh.setWeights([{ name: "alpha", shape: [1, 1, 2], data: new Float32Array([0.5, -2]) }]);
  const x = new Float32Array([-1, 2, 3, -4, 0, -0.5, -2, -3, 1, 1, -6, 0]);
  const y = fresh.predict(new Tensor(x, [1, 2, 3, 2])).data;
  const want = [-0.5, 2, 3, 8, 0, 1, -1, 6, 1, 1, -3, 0];
  if (maxAbsDiff(y, want) !== 0) throw new Error(`got ${y}`);
  // The alpha index map broadcasts over shared axes (row-major, channels last).
  const idx = alphaIndexMap([2, 3, 2], [1, 1, 2]);
  if (String(idx) !== "0,1,0,1,0,1,0,1,0,1,0,1") throw new Error(`index map ${idx}`);
  const idx2 = alphaIndexMap([2, 3], [2, 1]);
  if (String(idx2) !== "0,0,0,1,1,1") throw new Error(`index map ${idx2}`);
  built.dispose();
  fresh.dispose();
});

Deno.test("PReLU gradients (alpha and through it) match tf.variableGrads", async () => {
  await tfReady();
  const rng = new Rng(152);
  let worst = 0;
  // Dense → PReLU → Dense: every weight's gradient, so dx of PReLU is checked through "a".
  for (const shared of [null, [1]]) {
    const spec = randomSpec(
      [
        dense("a", 9),
        { class_name: "Reshape", config: { name: "r", target_shape: [3, 3] } },
        prelu("p", shared),
        { class_name: "Flatten", config: { name: "f" } },
        dense("b", 4, "softmax"),
      ],
      [5],
      rng,
      { scale: 0.8 },
    );
    for (const batch of [1, 17]) {
      const x = rng.floats(batch * 5, -2, 2);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, 4));
      worst = Math.max(worst, compareWithTfjs(spec, x, [batch, 5], y, { loss: sparse }));
    }
  }
  // Rank 4 with channels shared over rows and columns.
  const spec = randomSpec(
    [prelu("p", [1, 2]), { class_name: "Flatten", config: { name: "f" } }, dense("b", 3)],
    [5, 3, 3],
    rng,
    { scale: 0.8 },
  );
  for (const batch of [1, 17]) {
    const x = rng.floats(batch * 45, -2, 2);
    const y = rng.floats(batch * 3);
    worst = Math.max(
      worst,
      compareWithTfjs(spec, x, [batch, 5, 3, 3], y, { loss: { name: "mean_squared_error" } }),
    );
  }
  report("PReLU gradients vs tf.variableGrads max relative error", worst);
});

Deno.test("PReLU gradients agree with finite differences", () => {
  const rng = new Rng(153);
  const spec = randomSpec([dense("a", 6), prelu("p"), dense("b", 3, "softmax")], [4], rng, {
    scale: 0.9,
  });
  const x = rng.floats(17 * 4, -2, 2);
  const y = Float32Array.from({ length: 17 }, () => rng.int(0, 3));
  const e = compareWithFiniteDifferences(spec, x, [17, 4], y, sparse, { samples: 8 });
  report("PReLU gradients vs finite differences", e);
});

Deno.test("PReLU: bad shared_axes, unknown dims and regularizers in fit are typed errors", () => {
  const rng = new Rng(154);
  expectThrows(
    () => buildModel(randomSpec([prelu("p", [0])], [3], rng)),
    LayerConfigError,
    '"p"',
    "shared_axes",
  );
  expectThrows(
    () => buildModel(randomSpec([prelu("p", [3])], [3, 2], rng)),
    LayerConfigError,
    "axis 3",
    "1..2",
  );
  // A shared axis may have an unknown size: alpha [1, 2] broadcasts over any length.
  const open = buildModel(randomSpec([prelu("p", [1])], [null, 2], rng));
  open.setWeights([{ name: "alpha", shape: [1, 2], data: new Float32Array([0.25, 3]) }]);
  const yo = open.predict(new Tensor(new Float32Array([-4, -1, 2, -2, -8, 5]), [1, 3, 2])).data;
  if (maxAbsDiff(yo, [-1, -3, 2, -6, -2, 5]) !== 0) throw new Error(`open shape: ${yo}`);
  open.dispose();
  expectThrows(
    () =>
      buildModel({
        config: {
          class_name: "Sequential",
          config: {
            name: "s",
            layers: [
              { class_name: "InputLayer", config: { name: "in", batch_shape: [null, null, 2] } },
              prelu("p", [2]),
            ],
          },
        },
        weights: {},
      }, { initialize: { seed: 1 } }),
    InputShapeError,
    '"p"',
    "(None, None, 2)",
  );
  const spec = randomSpec([prelu("p")], [3], rng);
  const layers = (spec.config.config as { layers: { config: Record<string, unknown> }[] }).layers;
  layers[1].config.alpha_regularizer = { class_name: "L2", config: { l2: 0.01 } };
  const model = buildModel(spec);
  // Inference ignores the regularizer; fit refuses it by name.
  model.predict(new Tensor(new Float32Array(3), [1, 3]));
  expectThrows(
    () =>
      modelGradients(
        model,
        new Tensor(new Float32Array(3), [1, 3]),
        new Tensor(new Float32Array(3), [1, 3]),
        {
          loss: { name: "mean_squared_error" },
        },
      ),
    UntrainableLayerError,
    '"p"',
    "alpha_regularizer",
  );
  model.dispose();
});
