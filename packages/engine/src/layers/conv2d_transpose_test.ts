import {
  buildModel,
  LayerConfigError,
  type ModelSpec,
  Tensor,
  UnsupportedLayerError,
  WeightShapeError,
} from "../../mod.ts";
import { expectMatchesTfjs, randomWeight, sequentialSpec } from "../../testing/cnn_cases.ts";
import {
  compareWithFiniteDifferences,
  compareWithTfjs,
  randomSpec,
} from "../../testing/gradient_check.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { expectThrows } from "../../testing/assert.ts";
import { tf, tfReady } from "../../testing/tfjs_reference.ts";

function transposeCase(rng: Rng, inC: number, config: Record<string, unknown>) {
  const k = config.kernel_size as number | number[];
  const ks = typeof k === "number" ? [k, k] : k;
  const filters = config.filters as number;
  const weights = [randomWeight(rng, "kernel", [ks[0], ks[1], filters, inC], -0.5, 0.5)];
  if (config.use_bias !== false) weights.push(randomWeight(rng, "bias", [filters]));
  return { class_name: "Conv2DTranspose", config, weights };
}

Deno.test("Conv2DTranspose matches TF.js: paddings × strides × kernel sizes, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(1521);
  let worst = 0;
  for (const padding of ["valid", "same"]) {
    for (const strides of [[1, 1], [2, 2], [3, 2], [1, 3], [4, 4]]) {
      for (const ks of [[3, 3], [2, 5], [1, 1], [4, 3]]) {
        const layer = transposeCase(rng, 5, {
          filters: 7,
          kernel_size: ks,
          strides,
          padding,
          activation: "relu",
          use_bias: ks[0] !== 2,
        });
        const spec = sequentialSpec([5, 7, 5], [layer]);
        const what = `Conv2DTranspose ${padding} k=${ks} s=${strides}`;
        worst = Math.max(worst, expectMatchesTfjs(spec, [[1, 5, 7, 5], [17, 5, 7, 5]], rng, what));
      }
    }
  }
  // ≥ 8 filters at stride 1: the flipped-kernel convolution path.
  for (const padding of ["valid", "same"]) {
    const layer = transposeCase(rng, 6, {
      filters: 12,
      kernel_size: 3,
      padding,
      activation: "tanh",
    });
    const spec = sequentialSpec([6, 5, 6], [layer]);
    worst = Math.max(worst, expectMatchesTfjs(spec, [[1, 6, 5, 6], [17, 6, 5, 6]], rng, padding));
  }
  console.log(`Conv2DTranspose vs TF.js: max |Δ| = ${worst.toExponential(2)}`);
});

Deno.test("Conv2DTranspose matches TF.js for the activations they share, incl. softmax over filters", async () => {
  await tfReady();
  const rng = new Rng(1522);
  for (const activation of ["linear", "sigmoid", "tanh", "softmax", "elu", "selu", "swish"]) {
    const layer = transposeCase(rng, 3, {
      filters: 6,
      kernel_size: [3, 3],
      strides: [2, 2],
      padding: "same",
      activation,
    });
    expectMatchesTfjs(sequentialSpec([4, 5, 3], [layer]), [[5, 4, 5, 3]], rng, activation);
  }
});

Deno.test("Conv2DTranspose with unknown height/width runs any input size like TF.js", async () => {
  await tfReady();
  const rng = new Rng(1523);
  const layer = transposeCase(rng, 4, {
    filters: 5,
    kernel_size: 3,
    strides: 2,
    padding: "valid",
    activation: "tanh",
  });
  const spec = sequentialSpec([null, null, 4], [layer]);
  expectMatchesTfjs(spec, [[2, 7, 9, 4], [3, 4, 5, 4], [1, 1, 1, 4]], rng, "dynamic H/W");
});

/**
 * TF.js's layer has neither dilation nor output_padding, but its op `tf.conv2dTranspose` takes an
 * explicit output shape and derives the padding from it as TensorFlow does (what Keras's TF
 * backend runs): Keras's output shape in, the kernel dilated by inserting zeros between taps
 * (same span). The engine's layer must match that op.
 */
function tfjsTransposeReference(
  x: Float32Array,
  xShape: number[],
  spec: ModelSpec,
  outShape: number[],
  config: { strides: number[]; dilation_rate: number[]; padding: string; filters: number },
): Float32Array {
  return tf.tidy(() => {
    const [kernel, bias] = Object.values(spec.weights)[0];
    const [kh, kw, f, c] = kernel.shape;
    const [dh, dw] = config.dilation_rate;
    const eh = dh * (kh - 1) + 1, ew = dw * (kw - 1) + 1;
    const dilated = new Float32Array(eh * ew * f * c);
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const src = (ky * kw + kx) * f * c;
        dilated.set(kernel.data.subarray(src, src + f * c), (ky * dh * ew + kx * dw) * f * c);
      }
    }
    const y = tf.conv2dTranspose(
      tf.tensor4d(x, xShape as [number, number, number, number]),
      tf.tensor4d(dilated, [eh, ew, f, c]),
      outShape as [number, number, number, number],
      config.strides as [number, number],
      config.padding as "same" | "valid",
    );
    return tf.add(y, tf.tensor1d(bias.data)).dataSync() as Float32Array;
  });
}

Deno.test("Conv2DTranspose output_padding and dilation match TF.js's conv2dTranspose op at Keras's output shape", async () => {
  await tfReady();
  const rng = new Rng(1524);
  const cases: Record<string, unknown>[] = [];
  for (const padding of ["valid", "same"]) {
    for (const strides of [[2, 2], [3, 2], [2, 4]]) {
      for (let a = 0; a < strides[0]; a++) {
        for (let b = 0; b < strides[1]; b++) {
          cases.push({ padding, strides, output_padding: [a, b], kernel_size: [3, 2] });
        }
      }
    }
    cases.push({ padding, strides: 3, output_padding: 2, kernel_size: 4 });
    cases.push({ padding, strides: [1, 1], output_padding: 0, kernel_size: 3 });
    cases.push({ padding, dilation_rate: [2, 3], kernel_size: [3, 2] });
    cases.push({ padding, dilation_rate: 2, kernel_size: 4, output_padding: [0, 0] });
  }
  let worst = 0, skipped = 0;
  for (const c of cases) {
    const config: Record<string, unknown> = {
      filters: 4,
      strides: [1, 1],
      dilation_rate: [1, 1],
      ...c,
    };
    const pairOf = (v: unknown) => (typeof v === "number" ? [v, v] : v as number[]);
    const full = {
      filters: 4,
      strides: pairOf(config.strides),
      dilation_rate: pairOf(config.dilation_rate),
      padding: String(config.padding),
    };
    const spec = sequentialSpec([5, 4, 3], [transposeCase(rng, 3, config)]);
    const model = buildModel(spec);
    try {
      for (const batch of [1, 17]) {
        const xShape = [batch, 5, 4, 3];
        const x = rng.floats(batch * 60, -2, 2);
        const got = model.predict(new Tensor(x, xShape));
        // TensorFlow (and TF.js) derive the padding from the output shape and need the forward
        // convolution of that shape to give the input's back; where it does not (same, even
        // span, output_padding 0: Keras's TF backend raises there, JAX and the engine crop by
        // Keras's own rule) the op is no reference. conv_transpose_test.ts checks every case
        // against that rule.
        const back = (out: number, i: number) => {
          const span = full.dilation_rate[i] * (pairOf(config.kernel_size)[i] - 1) + 1;
          return full.padding === "same"
            ? Math.ceil(out / full.strides[i])
            : Math.floor((out - span) / full.strides[i]) + 1;
        };
        if (back(got.shape[1], 0) !== 5 || back(got.shape[2], 1) !== 4) {
          skipped++;
          continue;
        }
        const want = tfjsTransposeReference(x, xShape, spec, [...got.shape], full);
        const d = maxAbsDiff(got.data, want);
        if (!(d <= 1e-5)) throw new Error(`${JSON.stringify(c)} → [${got.shape}]: |Δ| = ${d}`);
        worst = Math.max(worst, d);
      }
    } finally {
      model.dispose();
    }
  }
  console.log(
    `Conv2DTranspose output_padding/dilation vs tf.conv2dTranspose: max |Δ| = ${worst} ` +
      `(${skipped} of ${2 * cases.length} runs outside TensorFlow's shape rule)`,
  );
  if (skipped * 2 > cases.length * 2) throw new Error(`${skipped} runs skipped`);
});

const sparse = { name: "sparse_categorical_crossentropy" as const };
const head = [
  { class_name: "Flatten", config: { name: "flat" } },
  { class_name: "Dense", config: { name: "out", units: 4, activation: "softmax" } },
];
const first = {
  class_name: "Conv2D",
  config: { name: "first", filters: 3, kernel_size: 3, padding: "same", activation: "tanh" },
};

Deno.test("Conv2DTranspose gradients match TF.js (kernel, bias and dx through a Conv2D before it), batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(1525);
  const cases: Record<string, unknown>[] = [
    { kernel_size: 3, strides: 2, padding: "same", activation: "relu" },
    { kernel_size: [3, 2], strides: [2, 3], padding: "valid", activation: "tanh" },
    { kernel_size: 2, strides: 3, padding: "valid", activation: "sigmoid" },
    { kernel_size: 4, strides: 2, padding: "same", activation: "selu" },
    { kernel_size: 3, strides: 1, padding: "same", activation: "linear", filters: 9 },
    { kernel_size: [1, 3], strides: 1, padding: "valid", activation: "elu", use_bias: false },
    { kernel_size: 2, strides: 2, padding: "valid", activation: "softmax" },
  ];
  let worst = 0;
  for (const c of cases) {
    const spec = randomSpec(
      [first, { class_name: "Conv2DTranspose", config: { name: "up", filters: 5, ...c } }, ...head],
      [4, 5, 2],
      rng,
    );
    for (const batch of [1, 17]) {
      const x = rng.floats(batch * 40, -1.5, 1.5);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, 4));
      try {
        worst = Math.max(worst, compareWithTfjs(spec, x, [batch, 4, 5, 2], y, { loss: sparse }));
      } catch (e) {
        throw new Error(`${JSON.stringify(c)} batch ${batch}: ${(e as Error).message}`);
      }
    }
  }
  console.log(`Conv2DTranspose gradients vs TF.js: max relative error ${worst.toExponential(2)}`);
});

Deno.test("Conv2DTranspose gradients with output_padding and dilation match finite differences", () => {
  const rng = new Rng(1526);
  for (
    const c of [
      { kernel_size: 3, strides: 2, padding: "same", output_padding: 1 },
      { kernel_size: [3, 2], strides: [3, 2], padding: "valid", output_padding: [2, 1] },
      { kernel_size: 3, dilation_rate: 2, padding: "same" },
      { kernel_size: [2, 3], dilation_rate: [3, 1], padding: "valid" },
    ]
  ) {
    const spec = randomSpec(
      [first, {
        class_name: "Conv2DTranspose",
        config: { name: "up", filters: 3, activation: "tanh", ...c },
      }, ...head],
      [4, 3, 2],
      rng,
    );
    const x = rng.floats(3 * 24, -1.5, 1.5);
    const y = Float32Array.from({ length: 3 }, () => rng.int(0, 4));
    try {
      compareWithFiniteDifferences(spec, x, [3, 4, 3, 2], y, sparse);
    } catch (e) {
      throw new Error(`${JSON.stringify(c)}: ${(e as Error).message}`);
    }
  }
});

Deno.test("Conv2DTranspose refuses what Keras refuses, channels_first and mis-shaped weights, by name", () => {
  const rng = new Rng(1527);
  const base = { name: "deconv_x", filters: 4, kernel_size: [3, 3] };
  const build = (config: Record<string, unknown>, weights = [
    randomWeight(rng, "kernel", [3, 3, 4, 2]),
    randomWeight(rng, "bias", [4]),
  ]) => buildModel(sequentialSpec([6, 6, 2], [{ class_name: "Conv2DTranspose", config, weights }]));
  expectThrows(
    () => build({ ...base, strides: 2, output_padding: 2 }),
    LayerConfigError,
    "deconv_x",
    "output_padding",
  );
  expectThrows(
    () => build({ ...base, strides: [2, 2], dilation_rate: 2 }),
    LayerConfigError,
    "deconv_x",
    "dilation_rate",
  );
  expectThrows(
    () => build({ ...base, data_format: "channels_first" }),
    UnsupportedLayerError,
    "deconv_x",
    "channels_first",
  );
  expectThrows(
    () => build(base, [randomWeight(rng, "kernel", [3, 3, 2, 4]), randomWeight(rng, "bias", [4])]),
    WeightShapeError,
    "deconv_x",
    "kernel",
    "[3, 3, 4, 2]",
    "[3, 3, 2, 4]",
  );
});
