import {
  buildModel,
  InputShapeError,
  LayerConfigError,
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

/**
 * Plain-loop Conv1D (the test's reference, Keras semantics): `valid`, `same` (TF's split: the
 * smaller half before) or `causal` (dilation·(k − 1) zeros on the left), strides, dilation and
 * groups; kernel `(k, in / groups, filters)`, linear activation.
 */
function conv1dReference(
  x: Float32Array,
  [batch, time, c]: number[],
  kernel: Float32Array,
  bias: Float32Array | null,
  { k, filters, stride = 1, dilation = 1, padding = "valid", groups = 1 }: {
    k: number;
    filters: number;
    stride?: number;
    dilation?: number;
    padding?: string;
    groups?: number;
  },
): { y: Float32Array; out: number } {
  const span = dilation * (k - 1) + 1;
  let out: number, before: number;
  if (padding === "valid") {
    out = Math.floor((time - span) / stride) + 1;
    before = 0;
  } else if (padding === "same") {
    out = Math.ceil(time / stride);
    before = Math.floor(Math.max((out - 1) * stride + span - time, 0) / 2);
  } else {
    out = Math.ceil(time / stride);
    before = dilation * (k - 1);
  }
  const cg = c / groups, fg = filters / groups;
  const y = new Float32Array(batch * out * filters);
  for (let b = 0; b < batch; b++) {
    for (let o = 0; o < out; o++) {
      for (let f = 0; f < filters; f++) {
        const g = Math.floor(f / fg);
        let s = bias ? bias[f] : 0;
        for (let j = 0; j < k; j++) {
          const t = o * stride + j * dilation - before;
          if (t < 0 || t >= time) continue;
          for (let i = 0; i < cg; i++) {
            s += x[(b * time + t) * c + g * cg + i] * kernel[(j * cg + i) * filters + f];
          }
        }
        y[(b * out + o) * filters + f] = s;
      }
    }
  }
  return { y, out };
}

const conv1d = (config: Record<string, unknown>, weights?: WeightTensor[]) => ({
  class_name: "Conv1D",
  config: { name: "conv", ...config },
  weights,
});

Deno.test("Conv1D matches TF.js: valid/same, strides, dilation, odd sizes, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(1701);
  let worst = 0;
  const cases: Record<string, unknown>[] = [
    { kernel_size: 3 },
    { kernel_size: 5, strides: 2 },
    { kernel_size: [2], strides: [3] },
    { kernel_size: 3, dilation_rate: 2 },
    { kernel_size: 1 },
    { kernel_size: 4, dilation_rate: 2 },
  ];
  for (const padding of ["valid", "same"]) {
    for (const c of cases) {
      for (const [time, ch, filters] of [[11, 3, 5], [13, 1, 4], [9, 6, 7]]) {
        const k = Array.isArray(c.kernel_size) ? c.kernel_size[0] : c.kernel_size as number;
        const weights = [
          randomWeight(rng, "kernel", [k, ch, filters]),
          randomWeight(rng, "bias", [filters]),
        ];
        const spec = sequentialSpec([time, ch], [
          conv1d({ filters, padding, activation: "tanh", ...c }, weights),
        ]);
        const what = `Conv1D ${padding} ${JSON.stringify(c)} ${time}×${ch}→${filters}`;
        worst = Math.max(
          worst,
          expectMatchesTfjs(spec, [[1, time, ch], [17, time, ch]], rng, what),
        );
      }
    }
  }
  console.log(`Conv1D forward vs TF.js: max |Δ| ${worst.toExponential(2)}`);
});

Deno.test("Conv1D causal and grouped match the reference; a hand-computed causal case", () => {
  const rng = new Rng(1702);
  let worst = 0;
  const cases = [
    { k: 3, stride: 1, dilation: 1, groups: 1 },
    { k: 2, stride: 1, dilation: 4, groups: 1 },
    { k: 3, stride: 2, dilation: 1, groups: 1 },
    { k: 5, stride: 1, dilation: 2, groups: 1 },
    { k: 3, stride: 1, dilation: 1, groups: 3 },
  ];
  for (const padding of ["causal", "valid", "same"]) {
    for (const cse of cases) {
      for (const [batch, time] of [[1, 11], [17, 9]]) {
        const ch = 6, filters = 9;
        const kernel = rng.floats(cse.k * (ch / cse.groups) * filters, -1, 1);
        const bias = rng.floats(filters, -1, 1);
        const x = rng.floats(batch * time * ch, -2, 2);
        const ref = conv1dReference(x, [batch, time, ch], kernel, bias, {
          ...cse,
          filters,
          padding,
        });
        const spec = sequentialSpec([time, ch], [conv1d({
          filters,
          kernel_size: cse.k,
          strides: cse.stride,
          dilation_rate: cse.dilation,
          groups: cse.groups,
          padding,
        }, [
          { name: "kernel", shape: [cse.k, ch / cse.groups, filters], data: kernel },
          { name: "bias", shape: [filters], data: bias },
        ])]);
        const model = buildModel(spec);
        const got = model.predict(new Tensor(x, [batch, time, ch]));
        model.dispose();
        const what = `${padding} ${JSON.stringify(cse)} batch ${batch}`;
        if (got.shape.join() !== [batch, ref.out, filters].join()) {
          throw new Error(`${what}: shape [${got.shape}] vs [${batch},${ref.out},${filters}]`);
        }
        const d = maxAbsDiff(got.data, ref.y);
        if (!(d <= 1e-5)) throw new Error(`${what}: max |Δ| ${d}`);
        worst = Math.max(worst, d);
      }
    }
  }
  // By hand: kernel taps (a, b) = (2, −1) over one channel, bias 0.5, causal: y[t] = a·x[t−1] +
  // b·x[t] + 0.5 with x[−1] = 0. x = (1, 2, 3, −1) → (−0.5, 0.5, 1.5, 7.5).
  const spec = sequentialSpec([4, 1], [conv1d({ filters: 1, kernel_size: 2, padding: "causal" }, [
    { name: "kernel", shape: [2, 1, 1], data: Float32Array.of(2, -1) },
    { name: "bias", shape: [1], data: Float32Array.of(0.5) },
  ])]);
  const model = buildModel(spec);
  const y = model.predict(new Tensor(Float32Array.of(1, 2, 3, -1), [1, 4, 1]));
  model.dispose();
  const d = maxAbsDiff(y.data, [-0.5, 0.5, 1.5, 7.5]);
  if (!(d <= 1e-6)) throw new Error(`hand-computed causal case: got [${y.data}]`);
  console.log(`Conv1D causal/grouped vs reference: max |Δ| ${worst.toExponential(2)}`);
});

const sparse = { name: "sparse_categorical_crossentropy" as const };
const head = [
  { class_name: "Flatten", config: { name: "flat" } },
  { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
];

Deno.test("Conv1D gradients match TF.js (valid/same, strides, no bias), batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(1703);
  let worst = 0;
  for (
    const c of [
      { kernel_size: 3, padding: "valid", activation: "relu" },
      { kernel_size: 4, padding: "same", strides: 2, activation: "tanh" },
      { kernel_size: 5, padding: "same", activation: "sigmoid" },
      { kernel_size: 2, padding: "valid", strides: 3, activation: "linear", use_bias: false },
    ]
  ) {
    const spec = randomSpec(
      [
        { class_name: "Conv1D", config: { name: "first", filters: 4, ...c } },
        {
          class_name: "Conv1D",
          config: { name: "second", filters: 3, kernel_size: 3, padding: "same" },
        },
        ...head,
      ],
      [11, 3],
      rng,
    );
    for (const batch of [1, 17]) {
      const x = rng.floats(batch * 33, -1.5, 1.5);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
      try {
        worst = Math.max(worst, compareWithTfjs(spec, x, [batch, 11, 3], y, { loss: sparse }));
      } catch (e) {
        throw new Error(`${JSON.stringify(c)} batch ${batch}: ${e}`);
      }
    }
  }
  console.log(`Conv1D gradients vs TF.js: max relative error ${worst.toExponential(2)}`);
});

// TF.js has no causal or grouped Conv1D and no gradient of a dilated convolution.
Deno.test("Conv1D causal, grouped and dilated gradients match finite differences", () => {
  const rng = new Rng(1704);
  let worst = 0;
  for (
    const c of [
      { kernel_size: 3, padding: "causal", dilation_rate: 2, activation: "tanh" },
      { kernel_size: 2, padding: "causal", strides: 2, activation: "linear" },
      { kernel_size: 3, padding: "same", groups: 2, activation: "tanh" },
      { kernel_size: 3, padding: "same", dilation_rate: 2, activation: "sigmoid" },
      { kernel_size: 2, padding: "valid", dilation_rate: 3, activation: "relu" },
    ]
  ) {
    const spec = randomSpec(
      [
        { class_name: "Conv1D", config: { name: "first", filters: 4, ...c } },
        {
          class_name: "Conv1D",
          config: { name: "second", filters: 2, kernel_size: 2, padding: "causal" },
        },
        ...head,
      ],
      [9, 4],
      rng,
    );
    for (const batch of [1, 17]) {
      const x = rng.floats(batch * 36, -1.5, 1.5);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
      worst = Math.max(
        worst,
        compareWithFiniteDifferences(spec, x, [batch, 9, 4], y, sparse, { samples: 4 }),
      );
    }
  }
  console.log(
    `Conv1D causal/grouped gradients vs finite differences: max ${worst.toExponential(2)}`,
  );
});

Deno.test("Conv1D refuses bad padding, groups not dividing and channels_first by name", () => {
  const build = (config: Record<string, unknown>) =>
    buildModel(
      sequentialSpec([8, 4], [conv1d({ name: "c1d", filters: 4, kernel_size: 3, ...config })]),
    );
  expectThrows(() => build({ padding: "full" }), LayerConfigError, "c1d", "padding");
  expectThrows(() => build({ groups: 3 }), LayerConfigError, "c1d", "groups");
  expectThrows(() => build({ kernel_size: [3, 3] }), LayerConfigError, "c1d", "kernel_size");
  expectThrows(
    () => build({ data_format: "channels_first" }),
    LayerConfigError,
    "c1d",
    "data_format",
  );
  expectThrows(
    () => build({ strides: 2, dilation_rate: 2 }),
    LayerConfigError,
    "c1d",
    "dilation_rate",
  );
  // A valid window longer than the sequence: 5 taps at dilation 2 span 9 steps, the input has 8.
  expectThrows(
    () => build({ kernel_size: 5, dilation_rate: 2 }),
    InputShapeError,
    "c1d",
    "at least 9 steps",
  );
});
