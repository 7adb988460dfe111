import { buildModel, modelGradients, type ModelSpec, Tensor } from "../../mod.ts";
import { Rng } from "../../testing/random.ts";
import { compareWithTfjs, randomSpec, relativeError } from "../../testing/gradient_check.ts";
import { tf, tfReady, toTf } from "../../testing/tfjs_reference.ts";
import { tfjsLoss } from "../../testing/tfjs_training.ts";
import { winogradFilterGradCount } from "../winograd.ts";

const conv = (name: string, filters: number, config: Record<string, unknown>) => ({
  class_name: "Conv2D",
  config: { name, filters, kernel_size: [3, 3], activation: "relu", ...config },
});
const head = [
  { class_name: "Flatten", config: { name: "flat" } },
  { class_name: "Dense", config: { name: "out", units: 4, activation: "softmax" } },
];
const sparse = { name: "sparse_categorical_crossentropy" as const };

/** Checks a Conv(3×3 same) → Conv(case) → Flatten → Dense model: the second conv's dx reaches
 * the first conv's kernel, so input gradients are compared too. */
function checkCase(
  rng: Rng,
  input: number[],
  second: Record<string, unknown>,
  batches = [1, 17],
  firstFilters = 3,
) {
  const spec = randomSpec(
    [
      conv("first", firstFilters, { padding: "same", activation: "tanh" }),
      conv("second", 5, second),
      ...head,
    ],
    input,
    rng,
  );
  for (const batch of batches) {
    const x = rng.floats(batch * input.reduce((a, b) => a * b, 1), -1.5, 1.5);
    const y = Float32Array.from({ length: batch }, () => rng.int(0, 4));
    try {
      compareWithTfjs(spec, x, [batch, ...input], y, { loss: sparse });
    } catch (e) {
      throw new Error(`${JSON.stringify(second)} batch ${batch}: ${(e as Error).message}`);
    }
  }
}

/**
 * TF.js has no gradient for dilated conv2d. A dilated kernel is an undilated one with zeros
 * between its taps (same span, so the same `same` padding): this builds that kernel from the
 * variable with a 0/1 matrix and differentiates through it. Model: first (3×3 same, tanh) →
 * second (the case, relu) → Flatten → Dense softmax, as {@link checkCase}.
 */
function tfjsDilatedGradients(
  spec: ModelSpec,
  x: Float32Array,
  xShape: number[],
  y: Float32Array,
  second: { kernel_size: number[]; strides: number[]; dilation_rate: number[]; padding: string },
): Float32Array[] {
  const [kh, kw] = second.kernel_size;
  const [dh, dw] = second.dilation_rate;
  const eh = dh * (kh - 1) + 1, ew = dw * (kw - 1) + 1;
  const expand = new Float32Array(eh * ew * kh * kw);
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      expand[((ky * dh) * ew + kx * dw) * kh * kw + ky * kw + kx] = 1;
    }
  }
  const w = spec.weights;
  const vars = [...w.first, ...w.second, ...w.out].map((t) => tf.variable(toTf(t)));
  const [k1, b1, k2, b2, k3, b3] = vars;
  const [, , c, o] = w.second[0].shape;
  const pad = second.padding as "same" | "valid";
  const strides = second.strides as [number, number];
  const { grads } = tf.variableGrads(() => {
    const xT = tf.tensor4d(x, xShape as [number, number, number, number]);
    const h1 = tf.tanh(tf.add(tf.conv2d(xT, k1 as tf.Tensor4D, 1, "same"), b1)) as tf.Tensor4D;
    const k2e = tf.reshape(
      tf.matMul(tf.tensor2d(expand, [eh * ew, kh * kw]), tf.reshape(k2, [kh * kw, c * o])),
      [eh, ew, c, o],
    ) as tf.Tensor4D;
    const h2 = tf.relu(tf.add(tf.conv2d(h1, k2e, strides, pad), b2));
    const flat = tf.reshape(h2, [xShape[0], -1]);
    const out = tf.softmax(tf.add(tf.matMul(flat, k3 as tf.Tensor2D), b3));
    return tfjsLoss({ name: "sparse_categorical_crossentropy" }, tf.tensor(y), out);
  }, vars);
  const result = vars.map((v) => grads[v.name].dataSync() as Float32Array);
  Object.values(grads).forEach((g) => g.dispose());
  vars.forEach((v) => v.dispose());
  return result;
}

Deno.test("Conv2D gradients match TF.js: every padding × stride × dilation (batch 1 and 17)", async () => {
  await tfReady();
  const rng = new Rng(701);
  const geometries = [
    { strides: [1, 1], dilation_rate: [1, 1] },
    { strides: [2, 2], dilation_rate: [1, 1] },
    { strides: [2, 3], dilation_rate: [1, 1] },
    { strides: [3, 1], dilation_rate: [1, 1] },
  ];
  for (const padding of ["valid", "same"]) {
    for (const g of geometries) checkCase(rng, [9, 10, 2], { padding, ...g });
  }
  // Kernel shapes: 1×1 (direct GEMM), rectangular, larger than the stride.
  checkCase(rng, [6, 7, 3], { kernel_size: [1, 1], padding: "valid" });
  checkCase(rng, [6, 7, 3], { kernel_size: [1, 1], strides: [2, 2], padding: "same" });
  checkCase(rng, [8, 7, 3], { kernel_size: [2, 4], strides: [2, 1], padding: "same" });
  checkCase(rng, [8, 8, 3], { kernel_size: [5, 5], strides: [3, 3], padding: "same" });
  // ≥ 8 input channels at stride 1: dx runs as a forward convolution of dZ.
  for (const padding of ["valid", "same"]) {
    checkCase(rng, [7, 6, 2], { padding }, [1, 17], 9);
    checkCase(rng, [7, 6, 2], { padding, kernel_size: [2, 3] }, [4], 8);
  }
});

Deno.test("Conv2D gradients with dilation (also with strides) match TF.js through an expanded kernel", async () => {
  await tfReady();
  const rng = new Rng(704);
  const input = [11, 10, 2];
  const cases = [
    { kernel_size: [3, 3], strides: [1, 1], dilation_rate: [2, 2] },
    { kernel_size: [3, 2], strides: [1, 1], dilation_rate: [2, 3] },
    { kernel_size: [3, 3], strides: [2, 2], dilation_rate: [2, 1] },
    { kernel_size: [2, 3], strides: [3, 2], dilation_rate: [2, 2] },
  ];
  for (const padding of ["valid", "same"]) {
    for (const g of cases) {
      const second = { ...g, padding };
      const spec = randomSpec(
        [
          conv("first", 3, { padding: "same", activation: "tanh" }),
          conv("second", 5, second),
          ...head,
        ],
        input,
        rng,
        // Small weights: no saturated softmax, where TF.js's clipped loss has no gradient while
        // the engine (as Keras's TF backend) differentiates the fused softmax + cross-entropy.
        { scale: 0.3 },
      );
      const model = buildModel(spec);
      try {
        for (const batch of [1, 17]) {
          const x = rng.floats(batch * 220, -1.5, 1.5);
          const y = Float32Array.from({ length: batch }, () => rng.int(0, 4));
          const mine = modelGradients(
            model,
            new Tensor(x, [batch, ...input]),
            new Tensor(y, [batch, 1]),
            {
              loss: sparse,
            },
          );
          const ref = tfjsDilatedGradients(spec, x, [batch, ...input], y, second);
          mine.grads.forEach((g, i) => {
            const e = relativeError(g.data, ref[i]);
            if (!(e <= 1e-4)) {
              throw new Error(
                `${JSON.stringify(second)} batch ${batch} ${g.name}: rel. error ${e}`,
              );
            }
          });
        }
      } finally {
        model.dispose();
      }
    }
  }
});

Deno.test("Conv2D gradients match TF.js for fused and unfused activations, without bias", async () => {
  await tfReady();
  const rng = new Rng(702);
  const acts = ["linear", "relu", "relu6", "sigmoid", "tanh", "elu", "selu", "softplus", "swish"];
  for (const activation of acts) {
    checkCase(rng, [7, 6, 2], { padding: "same", activation, use_bias: activation !== "tanh" }, [
      5,
    ]);
  }
});

Deno.test("Conv2D as the softmax output (per-pixel classes, fused loss) matches TF.js", async () => {
  await tfReady();
  const rng = new Rng(703);
  const spec = randomSpec(
    [
      conv("first", 4, { padding: "same", activation: "relu" }),
      conv("pixels", 3, { kernel_size: [1, 1], activation: "softmax" }),
    ],
    [5, 6, 2],
    rng,
  );
  for (const batch of [1, 4]) {
    const x = rng.floats(batch * 60, -1, 1);
    const y = Float32Array.from({ length: batch * 30 }, () => rng.int(0, 3));
    compareWithTfjs(spec, x, [batch, 5, 6, 2], y, { loss: sparse });
  }
});

Deno.test("Conv2D training by Winograd (forward, dx and dW) matches TF.js and the direct sum", async () => {
  await tfReady();
  const rng = new Rng(41);
  // The second conv reads 8 channels and writes 12: both its forward (8 → 12) and its dx
  // (12 → 8, the flipped kernel) take Winograd under "auto"; the first (4 channels) stays direct.
  // A linear head under MSE: a softmax head saturates on some of these random models (TF.js's
  // clipped probabilities and the engine's p − y then part ways, whatever the convolution).
  const linearHead = [
    { class_name: "Flatten", config: { name: "flat" } },
    { class_name: "Dense", config: { name: "out", units: 4, activation: "linear" } },
  ];
  const mse = { name: "mean_squared_error" as const };
  // [first conv's filters (the second's input channels), the second's filters, its window]. With
  // 4 → 8 the second's forward stays direct (4 input channels) and only its dx (8 → 4) takes
  // Winograd, so a difference from the direct sum there is the input gradient's.
  const cases: [number, number, Record<string, unknown>][] = [
    [8, 12, { kernel_size: [3, 3], padding: "same" }],
    [8, 12, { kernel_size: [3, 3], padding: "valid" }],
    [8, 12, { kernel_size: [5, 5], padding: "same" }],
    [4, 8, { kernel_size: [3, 3], padding: "same" }],
  ];
  for (const [firstFilters, secondFilters, second] of cases) {
    const spec = randomSpec(
      [
        conv("first", firstFilters, { padding: "same", activation: "tanh" }),
        conv("second", secondFilters, second),
        ...linearHead,
      ],
      [7, 6, 4],
      rng,
    );
    const batch = 3;
    const x = rng.floats(batch * 7 * 6 * 4, -1, 1);
    const y = rng.floats(batch * 4, -1, 1);
    const what = `${firstFilters} → ${secondFilters} ${JSON.stringify(second)}`;
    compareWithTfjs(spec, x, [batch, 7, 6, 4], y, { loss: mse });
    // The same gradients from the direct sum, and not bit for bit: Winograd did run.
    const grads = (convAlgorithm: "auto" | "direct") => {
      const model = buildModel(spec, { convAlgorithm });
      try {
        return modelGradients(model, new Tensor(x, [batch, 7, 6, 4]), new Tensor(y, [batch, 4]), {
          loss: mse,
        }).grads;
      } finally {
        model.dispose();
      }
    };
    const [auto, direct] = [grads("auto"), grads("direct")];
    let differs = false;
    auto.forEach((g, i) => {
      const e = relativeError(g.data, direct[i].data);
      if (!(e <= 1e-5)) throw new Error(`${what}: ${g.name}: relative error ${e} vs direct`);
      if (g.data.some((v, k) => v !== direct[i].data[k])) differs = true;
    });
    if (!differs) throw new Error(`${what}: Winograd did not run (gradients equal the direct sum)`);
  }
});

Deno.test("Conv2D's kernel gradient takes Winograd where the forward does, within 1e-5 of the direct sum", () => {
  const rng = new Rng(43);
  // [input channels, kernel side, padding, Winograd expected]: 4 input channels have no plan;
  // 7×7 (F(2×2, 7×7)) has one, but its kernel gradient stays direct.
  const cases: [number, number, string, boolean][] = [
    [8, 3, "same", true],
    [8, 3, "valid", true],
    [12, 5, "same", true],
    [8, 7, "same", false],
    [4, 3, "same", false],
  ];
  const mse = { name: "mean_squared_error" as const };
  for (const [c, k, padding, winograd] of cases) {
    const spec = randomSpec(
      [
        conv("conv", 12, { kernel_size: [k, k], padding, activation: "linear" }),
        { class_name: "Flatten", config: { name: "flat" } },
        { class_name: "Dense", config: { name: "out", units: 4, activation: "linear" } },
      ],
      [11, 10, c],
      rng,
    );
    const batch = 3;
    const x = new Tensor(rng.floats(batch * 11 * 10 * c, -1, 1), [batch, 11, 10, c]);
    const y = new Tensor(rng.floats(batch * 4, -1, 1), [batch, 4]);
    const kernelGrad = (convAlgorithm: "auto" | "direct") => {
      const model = buildModel(spec, { convAlgorithm });
      try {
        const grads = modelGradients(model, x, y, { loss: mse }).grads;
        return grads.find((g) => g.name.startsWith("conv") && g.name.includes("kernel"))!;
      } finally {
        model.dispose();
      }
    };
    const what = `${c} → 12, ${k}×${k} ${padding}`;
    const before = winogradFilterGradCount();
    const auto = kernelGrad("auto");
    const ran = winogradFilterGradCount() - before;
    if (ran !== (winograd ? 1 : 0)) throw new Error(`${what}: ${ran} Winograd kernel gradients`);
    const e = relativeError(auto.data, kernelGrad("direct").data);
    if (!(e <= 1e-5)) throw new Error(`${what}: kernel gradient error ${e} against the direct sum`);
  }
});
