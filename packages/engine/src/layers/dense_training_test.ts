import { Rng } from "../../testing/random.ts";
import { compareWithTfjs, randomSpec } from "../../testing/gradient_check.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

const dense = (name: string, units: number, activation: string, useBias = true) => ({
  class_name: "Dense",
  config: { name, units, activation, use_bias: useBias },
});

Deno.test("Dense gradients match TF.js for every activation TF.js shares (batch 1 and 17)", async () => {
  await tfReady();
  const rng = new Rng(101);
  const acts = [
    "relu",
    "sigmoid",
    "tanh",
    "linear",
    "elu",
    "selu",
    "softplus",
    "softsign",
    "swish",
    "relu6",
    "hard_sigmoid",
    "gelu",
    "mish",
    "softmax",
  ];
  for (const act of acts) {
    // Keras 2 semantics for hard_sigmoid (TF.js implements the Keras 2 form).
    const spec = randomSpec(
      [dense("hidden", 9, act, act !== "tanh"), dense("out", 5, "softmax")],
      [13],
      rng,
      { kerasVersion: "2.15.0", scale: 0.6 },
    );
    for (const batch of [1, 17]) {
      const x = rng.floats(batch * 13, -2, 2);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, 5));
      compareWithTfjs(spec, x, [batch, 13], y, {
        loss: { name: "sparse_categorical_crossentropy" },
      });
    }
  }
});

Deno.test("Dense on rank-3 input (per timestep), every loss, sample weights", async () => {
  await tfReady();
  const rng = new Rng(102);
  const cases = [
    { out: "softmax", loss: { name: "sparse_categorical_crossentropy" as const }, sparse: true },
    {
      out: "linear",
      loss: { name: "sparse_categorical_crossentropy" as const, fromLogits: true },
      sparse: true,
    },
    { out: "softmax", loss: { name: "categorical_crossentropy" as const }, sparse: false },
    {
      out: "linear",
      loss: { name: "categorical_crossentropy" as const, fromLogits: true },
      sparse: false,
    },
    { out: "sigmoid", loss: { name: "binary_crossentropy" as const }, sparse: false },
    {
      out: "linear",
      loss: { name: "binary_crossentropy" as const, fromLogits: true },
      sparse: false,
    },
    { out: "tanh", loss: { name: "mean_squared_error" as const }, sparse: false },
    // Not fused: a probability output that is not a softmax/sigmoid (exact clipped gradient).
    { out: "softplus", loss: { name: "categorical_crossentropy" as const }, sparse: false },
  ];
  for (const c of cases) {
    const spec = randomSpec([dense("a", 7, "tanh"), dense("b", 3, c.out)], [4, 6], rng);
    for (const batch of [1, 17]) {
      const x = rng.floats(batch * 4 * 6, -1.5, 1.5);
      const rows = batch * 4;
      const y = c.sparse
        ? Float32Array.from({ length: rows }, () => rng.int(0, 3))
        : c.loss.name === "categorical_crossentropy"
        ? rng.floats(rows * 3, 0, 1)
        : Float32Array.from({ length: rows * 3 }, () => rng.int(0, 2));
      const sampleWeight = batch > 1 ? rng.floats(batch, 0, 2) : undefined;
      compareWithTfjs(spec, x, [batch, 4, 6], y, { loss: c.loss, sampleWeight });
    }
  }
});
