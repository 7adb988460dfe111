import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  Adam,
  buildModel,
  LayerConfigError,
  type Model,
  Tensor,
  UnsupportedLayerError,
  WeightShapeError,
} from "../../mod.ts";
import { expectMatchesTfjs, randomWeight, sequentialSpec } from "../../testing/cnn_cases.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { assertCloseToScale, expectThrows } from "../../testing/assert.ts";
import { Conv2D } from "./conv2d.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

function convCase(rng: Rng, inC: number, config: Record<string, unknown>) {
  const k = config.kernel_size as number | number[];
  const ks = typeof k === "number" ? [k, k] : k;
  const filters = config.filters as number;
  const weights = [randomWeight(rng, "kernel", [ks[0], ks[1], inC, filters], -0.5, 0.5)];
  if (config.use_bias !== false) weights.push(randomWeight(rng, "bias", [filters]));
  return { class_name: "Conv2D", config, weights };
}

Deno.test("Conv2D matches TF.js: paddings × strides × dilations × kernel sizes, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(401);
  const geometries: [number[], number[]][] = [
    [[1, 1], [1, 1]],
    [[2, 2], [1, 1]],
    [[2, 3], [1, 1]],
    [[3, 1], [1, 1]],
    [[1, 1], [2, 2]],
    [[1, 1], [1, 3]],
  ];
  let worst = 0;
  for (const padding of ["valid", "same"]) {
    for (const [strides, dilation] of geometries) {
      for (const ks of [[3, 3], [2, 5], [1, 1]]) {
        const layer = convCase(rng, 5, {
          filters: 7,
          kernel_size: ks,
          strides,
          dilation_rate: dilation,
          padding,
          activation: "relu",
          use_bias: ks[0] !== 2,
        });
        const spec = sequentialSpec([9, 13, 5], [layer]);
        const what = `Conv2D ${padding} k=${ks} s=${strides} d=${dilation}`;
        worst = Math.max(
          worst,
          expectMatchesTfjs(spec, [[1, 9, 13, 5], [17, 9, 13, 5]], rng, what),
        );
      }
    }
  }
  console.log(`Conv2D vs TF.js: max |Δ| = ${worst.toExponential(2)}`);
});

Deno.test("Conv2D matches TF.js for every activation they share, incl. softmax over filters", async () => {
  await tfReady();
  const rng = new Rng(402);
  const acts = [
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "elu",
    "selu",
    "softplus",
    "softsign",
    "swish",
    "relu6",
    "gelu",
    "mish",
  ];
  for (const activation of acts) {
    const layer = convCase(rng, 3, {
      filters: 6,
      kernel_size: [3, 3],
      strides: [2, 2],
      padding: "same",
      activation,
    });
    expectMatchesTfjs(sequentialSpec([8, 7, 3], [layer]), [[5, 8, 7, 3]], rng, activation);
  }
});

Deno.test("Conv2D with unknown height/width runs any input size like TF.js", async () => {
  await tfReady();
  const rng = new Rng(403);
  const layer = convCase(rng, 4, {
    filters: 5,
    kernel_size: 3,
    strides: 2,
    padding: "same",
    activation: "tanh",
  });
  const spec = sequentialSpec([null, null, 4], [layer]);
  expectMatchesTfjs(spec, [[2, 7, 9, 4], [3, 12, 5, 4], [1, 3, 3, 4]], rng, "dynamic H/W");
});

Deno.test("Conv2D refuses groups not dividing filters, channels_first and mis-shaped weights by name", () => {
  const rng = new Rng(404);
  const base = { name: "conv_x", filters: 4, kernel_size: [3, 3] };
  const w = () => [randomWeight(rng, "kernel", [3, 3, 2, 4]), randomWeight(rng, "bias", [4])];
  expectThrows(
    () =>
      buildModel(
        sequentialSpec([6, 6, 2], [{ class_name: "Conv2D", config: { ...base, groups: 3 } }]),
      ),
    LayerConfigError,
    "conv_x",
    "groups",
  );
  expectThrows(
    () =>
      buildModel(sequentialSpec([6, 6, 2], [{
        class_name: "Conv2D",
        config: { ...base, data_format: "channels_first" },
        weights: w(),
      }])),
    UnsupportedLayerError,
    "conv_x",
    "channels_first",
  );
  const bad = w();
  bad[0] = randomWeight(rng, "kernel", [3, 3, 3, 4]);
  expectThrows(
    () =>
      buildModel(sequentialSpec([6, 6, 2], [{ class_name: "Conv2D", config: base, weights: bad }])),
    WeightShapeError,
    "conv_x",
    "kernel",
    "[3, 3, 2, 4]",
    "[3, 3, 3, 4]",
  );
});

/** The inference method of the model's Conv2D layers, in order. */
function convMethods(model: Model): string[] {
  return model.layers.filter((l): l is Conv2D => l instanceof Conv2D).map((l) => l.method);
}

Deno.test("Conv2D runs 3×3…7×7 stride-1 convs by Winograd (auto) and matches TF.js and the direct sum", async () => {
  await tfReady();
  const rng = new Rng(404);
  for (const k of [3, 4, 5, 6, 7]) {
    for (const padding of ["same", "valid"]) {
      const inC = 8, filters = 12;
      const lim = Math.sqrt(6 / (k * k * (inC + filters)));
      const layer = {
        class_name: "Conv2D",
        config: { filters, kernel_size: k, padding, activation: "relu" },
        weights: [
          randomWeight(rng, "kernel", [k, k, inC, filters], -lim, lim),
          randomWeight(rng, "bias", [filters], -0.1, 0.1),
        ],
      };
      const spec = sequentialSpec([13, 11, inC], [layer]);
      const auto = buildModel(spec);
      const direct = buildModel(spec, { convAlgorithm: "direct" });
      try {
        const m = k === 3 ? 4 : 9 - k; // 3×3 as F(4×4, 3×3), others with 8×8 input tiles
        assertEquals(convMethods(auto), [`winograd F(${m}×${m}, ${k}×${k})`]);
        assertEquals(convMethods(direct), ["direct"]);
        const x = new Tensor(rng.floats(3 * 13 * 11 * inC, -2, 2), [3, 13, 11, inC]);
        // Winograd's float32 transforms round differently from a direct sum: within 1e-5 of
        // the output's scale (see winograd_test.ts); TF.js within the same bound.
        assertCloseToScale(
          auto.predict(x).data,
          direct.predict(x).data,
          1e-5,
          `k${k} ${padding}`,
          1,
        );
        expectMatchesTfjs(spec, [[1, 13, 11, inC], [5, 13, 11, inC]], rng, `k${k} ${padding}`, {
          tol: 2e-5,
        });
      } finally {
        auto.dispose();
        direct.dispose();
      }
    }
  }
});

Deno.test("Conv2D's Winograd filters follow weight changes: setWeights and training steps", () => {
  const rng = new Rng(405);
  const spec = sequentialSpec([10, 10, 8], [
    {
      class_name: "Conv2D",
      config: { filters: 8, kernel_size: 5, padding: "same", activation: "relu" },
      weights: [
        randomWeight(rng, "kernel", [5, 5, 8, 8], -0.1, 0.1),
        randomWeight(rng, "bias", [8]),
      ],
    },
    { class_name: "Flatten", config: {} },
    {
      class_name: "Dense",
      config: { units: 3, activation: "softmax" },
      weights: [randomWeight(rng, "kernel", [800, 3], -0.05, 0.05), randomWeight(rng, "bias", [3])],
    },
  ]);
  const model = buildModel(spec);
  try {
    assertEquals(convMethods(model), ["winograd F(4×4, 5×5)"]);
    const x = new Tensor(rng.floats(6 * 10 * 10 * 8, 0, 1), [6, 10, 10, 8]);
    const sameAsDirect = (what: string) => {
      const direct = buildModel(model.toSpec(), { convAlgorithm: "direct" });
      try {
        assertCloseToScale(model.predict(x).data, direct.predict(x).data, 1e-5, what, 1);
      } finally {
        direct.dispose();
      }
    };
    const before = model.predict(x).data.slice();
    model.compile({
      optimizer: new Adam({ learningRate: 0.05 }),
      loss: "sparse_categorical_crossentropy",
    });
    const y = new Tensor(new Float32Array([0, 1, 2, 0, 1, 2]), [6]);
    for (let i = 0; i < 3; i++) model.trainOnBatch(x, y);
    const after = model.predict(x).data;
    if (maxAbsDiff(before, after) < 1e-3) {
      throw new Error("training did not change the predictions");
    }
    sameAsDirect("after trainOnBatch");
    const w = model.getWeights();
    model.setWeights(w.map((t) => ({ ...t, data: t.data.map((v) => v * 0.5) })));
    sameAsDirect("after setWeights");
  } finally {
    model.dispose();
  }
});

Deno.test("Conv2D's packed kernel follows weight changes: setWeights and training steps", () => {
  const rng = new Rng(406);
  // 30 input channels (not a multiple of 4): direct, no Winograd; 3×3×30 × 70 filters (not a
  // multiple of 8) = 18,900 floats of kernel, enough to pack.
  const spec = sequentialSpec([9, 8, 30], [
    convCase(rng, 30, { filters: 70, kernel_size: 3, padding: "same", activation: "relu" }),
    { class_name: "Flatten", config: {} },
    {
      class_name: "Dense",
      config: { units: 3, activation: "softmax" },
      weights: [
        randomWeight(rng, "kernel", [5040, 3], -0.02, 0.02),
        randomWeight(rng, "bias", [3]),
      ],
    },
  ]);
  const model = buildModel(spec);
  try {
    assertEquals(convMethods(model), ["direct"]);
    const x = new Tensor(rng.floats(6 * 9 * 8 * 30, 0, 1), [6, 9, 8, 30]);
    const sameAsFresh = (what: string) => {
      const fresh = buildModel(model.toSpec());
      try {
        assertCloseToScale(model.predict(x).data, fresh.predict(x).data, 1e-6, what, 1);
      } finally {
        fresh.dispose();
      }
    };
    const before = model.predict(x).data.slice();
    model.compile({
      optimizer: new Adam({ learningRate: 0.05 }),
      loss: "sparse_categorical_crossentropy",
    });
    const y = new Tensor(new Float32Array([0, 1, 2, 0, 1, 2]), [6]);
    for (let i = 0; i < 3; i++) model.trainOnBatch(x, y);
    if (maxAbsDiff(before, model.predict(x).data) < 1e-3) {
      throw new Error("training did not change the predictions");
    }
    sameAsFresh("after trainOnBatch");
    const w = model.getWeights();
    model.setWeights(w.map((t) => ({ ...t, data: t.data.map((v) => v * 0.5) })));
    sameAsFresh("after setWeights");
  } finally {
    model.dispose();
  }
});
