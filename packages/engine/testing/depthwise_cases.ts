/**
 * Cases shared by the DepthwiseConv2D and SeparableConv2D layer tests: the Keras-legal window
 * geometries (Keras refuses strides > 1 with dilation > 1), random layer cases, and TF.js
 * gradients of dilated layers, which TF.js cannot differentiate itself
 * (`depthwiseConv2dNative`'s gradient refuses dilations > 1).
 */
import { buildModel, modelGradients, type ModelSpec, Tensor } from "../mod.ts";
import { type LayerCase, randomWeight, sequentialSpec } from "./cnn_cases.ts";
import { compareWithTfjs, randomSpec, relativeError } from "./gradient_check.ts";
import { maxAbsDiff, type Rng } from "./random.ts";
import { tf, toTf } from "./tfjs_reference.ts";
import { tfjsLoss } from "./tfjs_training.ts";

/** Strides × dilation pairs Keras accepts: strides alone (incl. unequal) or dilation alone. */
export const DEPTHWISE_GEOMETRIES: { strides: number[]; dilation_rate: number[] }[] = [
  { strides: [1, 1], dilation_rate: [1, 1] },
  { strides: [2, 2], dilation_rate: [1, 1] },
  { strides: [2, 3], dilation_rate: [1, 1] },
  { strides: [3, 1], dilation_rate: [1, 1] },
  { strides: [1, 1], dilation_rate: [2, 2] },
  { strides: [1, 1], dilation_rate: [1, 3] },
];

/**
 * A DepthwiseConv2D or SeparableConv2D layer case on `inC` input channels with random weights
 * (Keras order and shapes).
 */
export function depthwiseLayerCase(
  rng: Rng,
  className: "DepthwiseConv2D" | "SeparableConv2D",
  inC: number,
  config: Record<string, unknown>,
): LayerCase {
  const k = config.kernel_size as number | number[];
  const [kh, kw] = typeof k === "number" ? [k, k] : k;
  const dm = (config.depth_multiplier ?? 1) as number;
  const weights = [randomWeight(rng, "depthwise_kernel", [kh, kw, inC, dm], -0.5, 0.5)];
  if (className === "SeparableConv2D") {
    const filters = config.filters as number;
    weights.push(randomWeight(rng, "pointwise_kernel", [1, 1, inC * dm, filters], -0.5, 0.5));
    if (config.use_bias !== false) weights.push(randomWeight(rng, "bias", [filters]));
  } else if (config.use_bias !== false) {
    weights.push(randomWeight(rng, "bias", [inC * dm]));
  }
  return { class_name: className, config, weights };
}

/** The window of the layer under test in {@link tfjsDilatedDepthwiseGradients}. */
export interface DilatedCase {
  className: "DepthwiseConv2D" | "SeparableConv2D";
  kernel_size: number[];
  dilation_rate: number[];
  padding: "valid" | "same";
}

/**
 * TF.js gradients of every weight of the model `first` (Conv2D 3×3 same, tanh) → `second` (the
 * dilated depthwise / separable layer, relu, stride 1, with bias) → `flat` → `out` (Dense
 * softmax), sparse categorical cross-entropy. A dilated kernel equals an undilated one with zeros
 * between its taps (same span, so the same `same` padding): the expanded kernel is built from the
 * variable by a 0/1 matrix product and differentiated through.
 */
export function tfjsDilatedDepthwiseGradients(
  spec: ModelSpec,
  x: Float32Array,
  xShape: number[],
  y: Float32Array,
  second: DilatedCase,
): Float32Array[] {
  const [kh, kw] = second.kernel_size;
  const [dh, dw] = second.dilation_rate;
  const eh = dh * (kh - 1) + 1, ew = dw * (kw - 1) + 1;
  const expand = new Float32Array(eh * ew * kh * kw);
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) expand[((ky * dh) * ew + kx * dw) * kh * kw + ky * kw + kx] = 1;
  }
  const w = spec.weights;
  const vars = [...w.first, ...w.second, ...w.out].map((t) => tf.variable(toTf(t)));
  const separable = second.className === "SeparableConv2D";
  const [k1, b1] = vars;
  const [dk] = vars.slice(2);
  const pk = separable ? vars[3] : null;
  const b2 = vars[separable ? 4 : 3];
  const [k3, b3] = vars.slice(separable ? 5 : 4);
  const [, , c, dm] = w.second[0].shape;
  const { grads } = tf.variableGrads(() => {
    const xT = tf.tensor4d(x, xShape as [number, number, number, number]);
    const h1 = tf.tanh(tf.add(tf.conv2d(xT, k1 as tf.Tensor4D, 1, "same"), b1)) as tf.Tensor4D;
    const dke = tf.reshape(
      tf.matMul(tf.tensor2d(expand, [eh * ew, kh * kw]), tf.reshape(dk, [kh * kw, c * dm])),
      [eh, ew, c, dm],
    ) as tf.Tensor4D;
    const conv = pk
      ? tf.separableConv2d(h1, dke, pk as tf.Tensor4D, 1, second.padding)
      : tf.depthwiseConv2d(h1, dke, 1, second.padding);
    const h2 = tf.relu(tf.add(conv, b2));
    const flat = tf.reshape(h2, [xShape[0], -1]);
    const out = tf.softmax(tf.add(tf.matMul(flat, k3 as tf.Tensor2D), b3));
    return tfjsLoss({ name: "sparse_categorical_crossentropy" }, tf.tensor(y), out);
  }, vars);
  const result = vars.map((v) => grads[v.name].dataSync() as Float32Array);
  Object.values(grads).forEach((g) => g.dispose());
  vars.forEach((v) => v.dispose());
  return result;
}

/**
 * TF.js ops reference of one DepthwiseConv2D / SeparableConv2D layer case with a `relu` or
 * linear activation, for dilated windows: TF.js's DepthwiseConv2D layer drops `dilationRate`
 * (its call passes none to the op), while `tf.depthwiseConv2d` takes dilations.
 */
export function tfjsDepthwiseOps(layer: LayerCase, x: Float32Array, shape: number[]): Float32Array {
  const c = layer.config;
  const pair = (v: unknown) => (typeof v === "number" ? [v, v] : (v ?? [1, 1])) as [number, number];
  const w = layer.weights ?? [];
  return tf.tidy(() => {
    const xT = tf.tensor4d(x, shape as [number, number, number, number]);
    const dk = toTf(w[0]) as tf.Tensor4D;
    const padding = String(c.padding ?? "valid").toLowerCase() as "valid" | "same";
    let y: tf.Tensor = layer.class_name === "SeparableConv2D"
      ? tf.separableConv2d(
        xT,
        dk,
        toTf(w[1]) as tf.Tensor4D,
        pair(c.strides),
        padding,
        pair(c.dilation_rate),
      )
      : tf.depthwiseConv2d(xT, dk, pair(c.strides), padding, "NHWC", pair(c.dilation_rate));
    const bias = w.find((t) => t.name === "bias");
    if (bias) y = tf.add(y, toTf(bias));
    if (c.activation === "relu") y = tf.relu(y);
    else if ((c.activation ?? "linear") !== "linear") {
      throw new Error(`tfjsDepthwiseOps: activation ${c.activation}`);
    }
    return y.dataSync() as Float32Array;
  });
}

/**
 * Runs the one-layer spec of `layer` in the engine and {@link tfjsDepthwiseOps} on random inputs
 * of each shape (with batch); throws when they differ by more than `tol`. Returns the largest
 * difference.
 */
export function expectMatchesTfjsOps(
  layer: LayerCase,
  inputShapes: number[][],
  rng: Rng,
  what: string,
  tol = 1e-5,
): number {
  const model = buildModel(sequentialSpec(inputShapes[0].slice(1), [layer]));
  let worst = 0;
  try {
    for (const shape of inputShapes) {
      const x = rng.floats(shape.reduce((a, b) => a * b, 1), -2, 2);
      const got = model.predict(new Tensor(x, shape), { batchSize: 8 });
      const d = maxAbsDiff(got.data, tfjsDepthwiseOps(layer, x, shape));
      if (!(d <= tol)) throw new Error(`${what} input [${shape}]: max |Δ| = ${d} > ${tol}`);
      worst = Math.max(worst, d);
    }
  } finally {
    model.dispose();
  }
  return worst;
}

const FIRST = {
  class_name: "Conv2D",
  config: { name: "first", filters: 3, kernel_size: [3, 3], padding: "same", activation: "tanh" },
};
const HEAD = [
  { class_name: "Flatten", config: { name: "flat" } },
  { class_name: "Dense", config: { name: "out", units: 4, activation: "softmax" } },
];
const SPARSE = { name: "sparse_categorical_crossentropy" as const };

/**
 * Gradients of first (Conv2D 3×3 same, tanh) → second (the case) → Flatten → Dense softmax vs
 * TF.js: the case's dx reaches the first conv's kernel, so input gradients are compared too.
 * Dilated cases go through {@link tfjsDilatedDepthwiseGradients}. Returns the worst relative
 * error.
 */
export function checkDepthwiseGradients(
  rng: Rng,
  className: "DepthwiseConv2D" | "SeparableConv2D",
  input: number[],
  second: Record<string, unknown>,
  batches = [1, 17],
): number {
  const dilated = ((second.dilation_rate ?? [1, 1]) as number[]).some((d) => d > 1);
  const layer = {
    class_name: className,
    config: { name: "second", kernel_size: [3, 3], activation: "relu", ...second },
  };
  // Small weights: no saturated softmax, where TF.js's clipped loss has no gradient while the
  // engine (as Keras's TF backend) differentiates the fused softmax + cross-entropy.
  const spec = randomSpec([FIRST, layer, ...HEAD], input, rng, { scale: 0.4 });
  let worst = 0;
  for (const batch of batches) {
    const x = rng.floats(batch * input.reduce((a, b) => a * b, 1), -1.5, 1.5);
    const y = Float32Array.from({ length: batch }, () => rng.int(0, 4));
    const what = `${className} ${JSON.stringify(second)} batch ${batch}`;
    if (!dilated) {
      try {
        worst = Math.max(worst, compareWithTfjs(spec, x, [batch, ...input], y, { loss: SPARSE }));
      } catch (e) {
        throw new Error(`${what}: ${(e as Error).message}`);
      }
      continue;
    }
    const model = buildModel(spec);
    try {
      const mine = modelGradients(
        model,
        new Tensor(x, [batch, ...input]),
        new Tensor(y, [batch, 1]),
        {
          loss: SPARSE,
        },
      );
      const dilatedCase: DilatedCase = {
        className,
        kernel_size: layer.config.kernel_size as number[],
        dilation_rate: second.dilation_rate as number[],
        padding: second.padding as "valid" | "same",
      };
      const ref = tfjsDilatedDepthwiseGradients(spec, x, [batch, ...input], y, dilatedCase);
      mine.grads.forEach((g, i) => {
        const e = relativeError(g.data, ref[i]);
        if (!(e <= 1e-4)) throw new Error(`${what} ${g.name}: relative error ${e}`);
        worst = Math.max(worst, e);
      });
    } finally {
      model.dispose();
    }
  }
  return worst;
}
