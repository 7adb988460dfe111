import {
  buildModel,
  InputShapeError,
  LayerConfigError,
  type ModelSpec,
  Tensor,
  type WeightTensor,
} from "../../mod.ts";
import { expectMatchesTfjs, randomWeight, sequentialSpec } from "../../testing/cnn_cases.ts";
import {
  compareWithFiniteDifferences,
  compareWithTfjs,
  randomSpec,
} from "../../testing/gradient_check.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { expectThrows } from "../../testing/assert.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";
import { globalPool1dReference } from "./global_pooling1d.ts";
import { permuteReference } from "./permute.ts";

const sparse = { name: "sparse_categorical_crossentropy" as const };
const head = [
  { class_name: "Flatten", config: { name: "flat" } },
  { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
];
const conv = {
  class_name: "Conv1D",
  config: { name: "conv", filters: 4, kernel_size: 2, activation: "tanh" },
};

/** Runs `spec` in the engine on `x` and returns the output. */
function run(spec: ModelSpec, x: Float32Array | Int32Array, shape: number[]): Tensor {
  const model = buildModel(spec);
  try {
    return model.predict(new Tensor(x, shape));
  } finally {
    model.dispose();
  }
}

/** Engine vs TF.js gradients for `layers` on input `[batch, ...inputShape]`, batch 1 and 17. */
function gradientsVsTfjs(
  layers: Record<string, unknown>[],
  inputShape: number[],
  rng: Rng,
  what: string,
): number {
  const spec = randomSpec(layers as never, inputShape, rng);
  const per = inputShape.reduce((a, b) => a * b, 1);
  let worst = 0;
  for (const batch of [1, 17]) {
    const x = rng.floats(batch * per, -1.5, 1.5);
    const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
    try {
      worst = Math.max(
        worst,
        compareWithTfjs(spec, x, [batch, ...inputShape], y, { loss: sparse }),
      );
    } catch (e) {
      throw new Error(`${what} batch ${batch}: ${e}`);
    }
  }
  return worst;
}

Deno.test("MaxPooling1D / AveragePooling1D match TF.js: valid/same, pool sizes, strides, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(1711);
  let worst = 0;
  const pools: Record<string, unknown>[] = [
    {},
    { pool_size: 3 },
    { pool_size: 3, strides: 2 },
    { pool_size: [2], strides: [3] },
    { pool_size: 4, strides: 1 },
  ];
  for (const cls of ["MaxPooling1D", "AveragePooling1D"]) {
    for (const padding of ["valid", "same"]) {
      for (const p of pools) {
        for (const [time, c] of [[11, 3], [9, 5]]) {
          const spec = sequentialSpec([time, c], [{ class_name: cls, config: { padding, ...p } }]);
          const what = `${cls} ${padding} ${JSON.stringify(p)} ${time}×${c}`;
          worst = Math.max(
            worst,
            expectMatchesTfjs(spec, [[1, time, c], [17, time, c]], rng, what),
          );
        }
      }
    }
  }
  console.log(`Max/AveragePooling1D forward vs TF.js: max |Δ| ${worst.toExponential(2)}`);
});

Deno.test("MaxPooling1D / AveragePooling1D gradients match TF.js (same average: finite differences)", async () => {
  await tfReady();
  const rng = new Rng(1712);
  let worst = 0;
  for (const cls of ["MaxPooling1D", "AveragePooling1D"]) {
    for (const padding of ["valid", "same"]) {
      for (const p of [{ pool_size: 2 }, { pool_size: 3, strides: 2 }]) {
        const layers = [
          conv,
          { class_name: cls, config: { name: "pool", padding, ...p } },
          ...head,
        ];
        if (cls === "AveragePooling1D" && padding === "same") {
          // TF.js's avgPool gradient divides padded windows by the full window (see pooling2d).
          const spec = randomSpec(layers as never, [11, 3], rng);
          const x = rng.floats(17 * 33, -1.5, 1.5);
          const y = Float32Array.from({ length: 17 }, () => rng.int(0, 3));
          compareWithFiniteDifferences(spec, x, [17, 11, 3], y, sparse, { samples: 4 });
          continue;
        }
        worst = Math.max(worst, gradientsVsTfjs(layers, [11, 3], rng, `${cls} ${padding}`));
      }
    }
  }
  console.log(
    `Max/AveragePooling1D gradients vs TF.js: max relative error ${worst.toExponential(2)}`,
  );
});

Deno.test("GlobalMax/GlobalAveragePooling1D match TF.js (keepdims too) and their gradients", async () => {
  await tfReady();
  const rng = new Rng(1713);
  let worst = 0, worstGrad = 0;
  for (const cls of ["GlobalMaxPooling1D", "GlobalAveragePooling1D"]) {
    for (const [time, c] of [[7, 5], [1, 3], [13, 16]]) {
      for (const keepdims of [false, true]) {
        const spec = sequentialSpec([time, c], [{ class_name: cls, config: { keepdims } }]);
        const expectShape = (s: number[]) => keepdims ? [s[0], 1, c] : [s[0], c];
        worst = Math.max(
          worst,
          expectMatchesTfjs(spec, [[1, time, c], [17, time, c]], rng, `${cls} ${time}×${c}`, {
            expectShape,
          }),
        );
      }
    }
    const dense = { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } };
    worstGrad = Math.max(
      worstGrad,
      gradientsVsTfjs([conv, { class_name: cls, config: { name: "gp" } }, dense], [9, 3], rng, cls),
    );
  }
  console.log(
    `GlobalPooling1D forward vs TF.js: max |Δ| ${
      worst.toExponential(2)
    }; gradients: max relative error ${worstGrad.toExponential(2)}`,
  );
});

Deno.test("GlobalAveragePooling1D averages only unmasked steps of an Embedding mask_zero mask (by hand)", () => {
  const rng = new Rng(1714);
  const vocab = 7, dim = 3, time = 5;
  const table = randomWeight(rng, "embeddings", [vocab, dim]);
  const spec = {
    config: {
      class_name: "Sequential",
      config: {
        name: "masked_gap",
        layers: [
          {
            class_name: "InputLayer",
            config: { name: "ids", batch_shape: [null, time], dtype: "int32" },
          },
          {
            class_name: "Embedding",
            config: { name: "emb", input_dim: vocab, output_dim: dim, mask_zero: true },
          },
          { class_name: "GlobalAveragePooling1D", config: { name: "gap" } },
        ],
      },
    },
    weights: { emb: [table] },
  } as unknown as ModelSpec;
  const ids = Int32Array.of(3, 1, 0, 0, 0, 2, 6, 4, 5, 0, 1, 0, 2, 0, 0);
  const got = run(spec, ids, [3, time]);
  // Row 0: mean of ids 3, 1; row 1: mean of 2, 6, 4, 5; row 2: mean of 1, 2 (0 is padding even
  // between real ids).
  const rows = [[3, 1], [2, 6, 4, 5], [1, 2]];
  const want = rows.flatMap((r) =>
    [0, 1, 2].map((k) => r.reduce((s, id) => s + table.data[id * dim + k], 0) / r.length)
  );
  const d = maxAbsDiff(got.data, want);
  if (!(d <= 1e-6)) throw new Error(`masked average: got [${got.data}], want [${want}]`);
  // The reference agrees, and without a mask it averages every step.
  const ref = globalPool1dReference(
    Float32Array.from([1, 2, 3, 5]),
    [1, 4, 1],
    "average",
    Int32Array.of(1, 1, 0, 0),
  );
  if (ref[0] !== 1.5) throw new Error(`reference masked mean ${ref[0]}`);
  const all = globalPool1dReference(Float32Array.from([1, 2, 3, 5]), [1, 4, 1], "average", null);
  if (all[0] !== 2.75) throw new Error(`reference mean ${all[0]}`);
});

Deno.test("ZeroPadding1D / Cropping1D / UpSampling1D match hand loops and finite differences", () => {
  const rng = new Rng(1715);
  for (const [batch, time, c] of [[1, 7, 3], [17, 5, 2]]) {
    const x = rng.floats(batch * time * c, -2, 2);
    const at = (b: number, t: number, k: number) => x[(b * time + t) * c + k];
    const check = (
      cls: string,
      config: Record<string, unknown>,
      outT: number,
      f: (b: number, t: number, k: number) => number,
    ) => {
      const got = run(sequentialSpec([time, c], [{ class_name: cls, config }]), x, [
        batch,
        time,
        c,
      ]);
      const want = new Float32Array(batch * outT * c);
      for (let b = 0; b < batch; b++) {
        for (let t = 0; t < outT; t++) {
          for (let k = 0; k < c; k++) want[(b * outT + t) * c + k] = f(b, t, k);
        }
      }
      if (got.shape.join() !== [batch, outT, c].join() || maxAbsDiff(got.data, want) !== 0) {
        throw new Error(
          `${cls} ${JSON.stringify(config)}: got [${got.shape}] ${got.data.slice(0, 8)}`,
        );
      }
    };
    check("ZeroPadding1D", {}, time + 2, (b, t, k) => t >= 1 && t <= time ? at(b, t - 1, k) : 0);
    check("ZeroPadding1D", { padding: [0, 3] }, time + 3, (b, t, k) => t < time ? at(b, t, k) : 0);
    check(
      "ZeroPadding1D",
      { padding: [2, 1] },
      time + 3,
      (b, t, k) => t >= 2 && t < time + 2 ? at(b, t - 2, k) : 0,
    );
    check("Cropping1D", {}, time - 2, (b, t, k) => at(b, t + 1, k));
    check("Cropping1D", { cropping: [2, 0] }, time - 2, (b, t, k) => at(b, t + 2, k));
    check("Cropping1D", { cropping: 1 }, time - 2, (b, t, k) => at(b, t + 1, k));
    check("UpSampling1D", {}, time * 2, (b, t, k) => at(b, Math.floor(t / 2), k));
    check("UpSampling1D", { size: 3 }, time * 3, (b, t, k) => at(b, Math.floor(t / 3), k));
  }
  let worst = 0;
  for (
    const layer of [
      { class_name: "ZeroPadding1D", config: { name: "l", padding: [1, 2] } },
      { class_name: "Cropping1D", config: { name: "l", cropping: [2, 1] } },
      { class_name: "UpSampling1D", config: { name: "l", size: 3 } },
    ]
  ) {
    const spec = randomSpec([conv, layer, ...head], [8, 2], rng);
    for (const batch of [1, 17]) {
      const x = rng.floats(batch * 16, -1.5, 1.5);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
      worst = Math.max(
        worst,
        compareWithFiniteDifferences(spec, x, [batch, 8, 2], y, sparse, { samples: 4 }),
      );
    }
  }
  console.log(
    `ZeroPadding1D / Cropping1D / UpSampling1D gradients vs finite differences: ${
      worst.toExponential(2)
    }`,
  );
});

Deno.test("RepeatVector / Permute / Masking match TF.js, forward and gradients", async () => {
  await tfReady();
  const rng = new Rng(1716);
  let worst = 0;
  for (const batch of [1, 17]) {
    worst = Math.max(
      worst,
      expectMatchesTfjs(
        sequentialSpec([5], [{ class_name: "RepeatVector", config: { n: 3 } }]),
        [[batch, 5]],
        rng,
        "RepeatVector",
      ),
    );
    for (const dims of [[2, 1], [1, 2]]) {
      worst = Math.max(
        worst,
        expectMatchesTfjs(
          sequentialSpec([7, 3], [{ class_name: "Permute", config: { dims } }]),
          [[batch, 7, 3]],
          rng,
          `Permute ${dims}`,
        ),
      );
    }
    for (const dims of [[3, 1, 2], [2, 3, 1]]) {
      worst = Math.max(
        worst,
        expectMatchesTfjs(
          sequentialSpec([4, 3, 5], [{ class_name: "Permute", config: { dims } }]),
          [[batch, 4, 3, 5]],
          rng,
          `Permute ${dims}`,
        ),
      );
    }
  }
  // Masking: some steps all equal to mask_value (zeroed), one with only some features equal (kept).
  for (const maskValue of [0, -1]) {
    const x = rng.floats(2 * 4 * 3, -2, 2);
    x.fill(maskValue, 3, 6);
    x.fill(maskValue, 18, 21);
    x[9] = maskValue;
    const got = run(
      sequentialSpec([4, 3], [{ class_name: "Masking", config: { mask_value: maskValue } }]),
      x,
      [2, 4, 3],
    );
    const want = Float32Array.from(x, (v, i) => (i >= 3 && i < 6) || (i >= 18 && i < 21) ? 0 : v);
    if (maxAbsDiff(got.data, want) !== 0) throw new Error(`Masking ${maskValue}: [${got.data}]`);
    worst = Math.max(
      worst,
      expectMatchesTfjs(
        sequentialSpec([4, 3], [{ class_name: "Masking", config: { mask_value: maskValue } }]),
        [[1, 4, 3], [17, 4, 3]],
        rng,
        "Masking",
      ),
    );
  }
  const dense = (units: number, activation = "tanh") => ({
    class_name: "Dense",
    config: { name: `d${units}`, units, activation },
  });
  let worstGrad = gradientsVsTfjs(
    [dense(4), { class_name: "RepeatVector", config: { name: "rep", n: 3 } }, conv, ...head],
    [5],
    rng,
    "RepeatVector",
  );
  worstGrad = Math.max(
    worstGrad,
    gradientsVsTfjs(
      [conv, { class_name: "Permute", config: { name: "perm", dims: [2, 1] } }, dense(5), ...head],
      [7, 3],
      rng,
      "Permute",
    ),
  );
  // Masking on the input (TF.js has no gradient through its tf.any, so nothing trainable sits
  // before it): the LSTM and Dense gradients see the masked steps.
  const maskSpec = randomSpec(
    [
      { class_name: "Masking", config: { name: "mask", mask_value: 0 } },
      { class_name: "LSTM", config: { name: "lstm", units: 3 } },
      { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
    ],
    [6, 2],
    rng,
  );
  for (const batch of [1, 17]) {
    const x = rng.floats(batch * 12, -1.5, 1.5);
    for (let b = 0; b < batch; b++) x.fill(0, b * 12 + 2 * (b % 5 + 1), b * 12 + 12);
    const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
    worstGrad = Math.max(
      worstGrad,
      compareWithTfjs(maskSpec, x, [batch, 6, 2], y, { loss: sparse }),
    );
  }
  console.log(
    `RepeatVector/Permute/Masking forward vs TF.js: max |Δ| ${worst.toExponential(2)}; gradients: ${
      worstGrad.toExponential(2)
    }`,
  );
  // The reference transposes as numpy would.
  const p = permuteReference(Float32Array.from([0, 1, 2, 3, 4, 5]), [1, 2, 3], [1, 0]);
  if (p.join() !== "0,3,1,4,2,5") throw new Error(`permuteReference: ${p}`);
});

Deno.test("Masking's mask reaches the layers after it like Embedding's mask_zero", () => {
  const rng = new Rng(1717);
  const time = 5, c = 2;
  const spec = sequentialSpec([time, c], [
    { class_name: "Masking", config: { name: "mask" } },
    { class_name: "GlobalAveragePooling1D", config: { name: "gap" } },
  ]);
  const x = rng.floats(2 * time * c, 0.5, 1);
  x.fill(0, 4, 10); // sample 0: steps 2, 3, 4 masked
  x.fill(0, 10, 12); // sample 1: step 0 masked
  const got = run(spec, x, [2, time, c]);
  const want = [0, 1].map((k) => (x[k] + x[2 + k]) / 2).concat(
    [0, 1].map((k) => (x[12 + k] + x[14 + k] + x[16 + k] + x[18 + k]) / 4),
  );
  const d = maxAbsDiff(got.data, want);
  if (!(d <= 1e-6)) throw new Error(`masked GAP after Masking: [${got.data}] vs [${want}]`);
});

Deno.test("SpatialDropout1D: identity at inference, whole channels dropped in training (finite differences)", () => {
  const rng = new Rng(1718);
  const spec = sequentialSpec([6, 4], [{ class_name: "SpatialDropout1D", config: { rate: 0.5 } }]);
  const x = rng.floats(3 * 24, -1, 1);
  if (maxAbsDiff(run(spec, x, [3, 6, 4]).data, x) !== 0) {
    throw new Error("not the identity at inference");
  }
  const train = randomSpec(
    [conv, { class_name: "SpatialDropout1D", config: { name: "sd", rate: 0.4 } }, ...head],
    [7, 3],
    rng,
  );
  for (const batch of [1, 17]) {
    const xb = rng.floats(batch * 21, -1.5, 1.5);
    const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
    compareWithFiniteDifferences(train, xb, [batch, 7, 3], y, sparse, { samples: 4 });
  }
});

Deno.test("sequence layers refuse bad configs and inputs by name", () => {
  const build = (cls: string, config: Record<string, unknown>, input: number[] = [6, 3]) =>
    buildModel(
      sequentialSpec(input, [{
        class_name: cls,
        config: { name: "seq_x", ...config } as WeightTensor & Record<string, unknown>,
      }]),
    );
  expectThrows(
    () => build("ZeroPadding1D", { padding: [1, 2, 3] }),
    LayerConfigError,
    "seq_x",
    "padding",
  );
  expectThrows(() => build("Cropping1D", { cropping: -1 }), LayerConfigError, "seq_x", "cropping");
  expectThrows(() => build("UpSampling1D", { size: 0 }), LayerConfigError, "seq_x", "size");
  expectThrows(
    () => build("MaxPooling1D", { pool_size: [2, 2] }),
    LayerConfigError,
    "seq_x",
    "pool_size",
  );
  expectThrows(() => build("RepeatVector", { n: 0 }), LayerConfigError, "seq_x", "n");
  expectThrows(() => build("RepeatVector", { n: 2 }), InputShapeError, "seq_x");
  expectThrows(() => build("Permute", { dims: [1, 1] }), LayerConfigError, "seq_x", "dims");
  expectThrows(() => build("Permute", { dims: [1, 2, 3] }), InputShapeError, "seq_x");
  expectThrows(
    () => build("GlobalMaxPooling1D", { data_format: "channels_first" }),
    LayerConfigError,
    "seq_x",
    "data_format",
  );
  expectThrows(
    () => build("Masking", { mask_value: "x" }),
    LayerConfigError,
    "seq_x",
    "mask_value",
  );
  expectThrows(() => build("MaxPooling1D", {}, [4, 4, 2]), InputShapeError, "seq_x");
});

Deno.test("SpatialDropout1D passes an Embedding mask on (GlobalAveragePooling1D still averages unmasked steps)", () => {
  const rng = new Rng(1719);
  const table = randomWeight(rng, "embeddings", [6, 2]);
  const layers = (dropout: boolean) => [
    {
      class_name: "InputLayer",
      config: { name: "ids", batch_shape: [null, 4], dtype: "int32" },
    },
    {
      class_name: "Embedding",
      config: { name: "emb", input_dim: 6, output_dim: 2, mask_zero: true },
    },
    ...(dropout ? [{ class_name: "SpatialDropout1D", config: { name: "sd", rate: 0.3 } }] : []),
    { class_name: "GlobalAveragePooling1D", config: { name: "gap" } },
  ];
  const spec = (dropout: boolean) =>
    ({
      config: { class_name: "Sequential", config: { name: "m", layers: layers(dropout) } },
      weights: { emb: [table] },
    }) as unknown as ModelSpec;
  const ids = Int32Array.of(1, 2, 0, 0, 5, 0, 0, 0);
  const a = run(spec(true), ids, [2, 4]), b = run(spec(false), ids, [2, 4]);
  const want = [0, 1].map((k) => (table.data[2 + k] + table.data[4 + k]) / 2).concat(
    [0, 1].map((k) => table.data[10 + k]),
  );
  if (maxAbsDiff(a.data, want) > 1e-6 || maxAbsDiff(b.data, want) > 1e-6) {
    throw new Error(`masked GAP behind SpatialDropout1D: [${a.data}] / [${b.data}] vs [${want}]`);
  }
});

Deno.test("Masking's backward: a bias-free Dense before it keeps masked steps exactly at 0 (finite differences)", () => {
  const rng = new Rng(1720);
  const spec = randomSpec(
    [
      { class_name: "Dense", config: { name: "proj", units: 3, use_bias: false } },
      { class_name: "Masking", config: { name: "mask" } },
      { class_name: "LSTM", config: { name: "lstm", units: 3 } },
      { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
    ],
    [6, 2],
    rng,
  );
  for (const batch of [1, 17]) {
    const x = rng.floats(batch * 12, -1.5, 1.5);
    for (let b = 0; b < batch; b++) x.fill(0, b * 12 + 2 * (b % 4 + 2), b * 12 + 12);
    const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
    compareWithFiniteDifferences(spec, x, [batch, 6, 2], y, sparse, { samples: 5 });
  }
});
