import { Rng } from "../../testing/random.ts";
import {
  compareWithFiniteDifferences,
  compareWithTfjs,
  randomSpec,
} from "../../testing/gradient_check.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

const dense = (name: string, units: number, activation = "linear") => ({
  class_name: "Dense",
  config: { name, units, activation },
});
const sparse = { name: "sparse_categorical_crossentropy" as const };

function batchOf(rng: Rng, batch: number, inDim: number, classes: number) {
  return {
    x: rng.floats(batch * inDim, -2, 2),
    y: Float32Array.from({ length: batch }, () => rng.int(0, classes)),
  };
}

Deno.test("Activation, ReLU (max_value), LeakyReLU and Softmax layer gradients match TF.js", async () => {
  await tfReady();
  const rng = new Rng(111);
  const middles = [
    ...["relu", "sigmoid", "tanh", "elu", "selu", "softplus", "softsign", "swish", "gelu", "mish"]
      .map((a) => ({ class_name: "Activation", config: { name: "act", activation: a } })),
    { class_name: "Activation", config: { name: "act", activation: "softmax" } },
    { class_name: "ReLU", config: { name: "relu_layer" } },
    { class_name: "ReLU", config: { name: "relu_layer", max_value: 1.0 } },
    { class_name: "LeakyReLU", config: { name: "leaky", negative_slope: 0.15 } },
    { class_name: "Softmax", config: { name: "softmax_mid" } },
  ];
  for (const mid of middles) {
    const spec = randomSpec([dense("a", 11), mid, dense("b", 4, "softmax")], [7], rng, {
      scale: 0.8,
    });
    for (const batch of [1, 17]) {
      const { x, y } = batchOf(rng, batch, 7, 4);
      compareWithTfjs(spec, x, [batch, 7], y, { loss: sparse });
    }
  }
});

Deno.test("an output Activation/Softmax layer fuses with cross-entropy and matches TF.js", async () => {
  await tfReady();
  const rng = new Rng(112);
  for (
    const last of [
      { class_name: "Activation", config: { name: "out_act", activation: "softmax" } },
      { class_name: "Softmax", config: { name: "out_softmax" } },
      { class_name: "Activation", config: { name: "out_act", activation: "log_softmax" } },
    ]
  ) {
    const logSoftmax = last.config.activation === "log_softmax";
    const spec = randomSpec([dense("a", 9, "tanh"), dense("b", 5), last], [6], rng);
    for (const batch of [1, 17]) {
      const { x, y } = batchOf(rng, batch, 6, 5);
      // log_softmax outputs are logits for a from_logits loss (shift-invariant).
      const loss = logSoftmax ? { ...sparse, fromLogits: true } : sparse;
      compareWithTfjs(spec, x, [batch, 6], y, { loss });
    }
  }
});

Deno.test("Keras 3-only activations and ReLU threshold/negative_slope: finite differences", () => {
  const rng = new Rng(113);
  const middles = [
    ...["leaky_relu", "exponential", "hard_sigmoid", "relu6", "silu"].map((a) => ({
      class_name: "Activation",
      config: { name: "act", activation: a },
    })),
    { class_name: "ReLU", config: { name: "r", threshold: 0.2, negative_slope: 0.1 } },
    { class_name: "ReLU", config: { name: "r", max_value: 0.8, negative_slope: 0.05 } },
  ];
  for (const mid of middles) {
    // Small weights and inputs keep exponential's curvature within the finite-difference step.
    const spec = randomSpec([dense("a", 6), mid, dense("b", 3, "softmax")], [5], rng, {
      scale: 0.4,
    });
    const { x, y } = batchOf(rng, 9, 5, 3);
    x.forEach((v, i) => (x[i] = v / 2));
    compareWithFiniteDifferences(spec, x, [9, 5], y, sparse, { rng });
  }
});
