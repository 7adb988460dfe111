import { ok as assert } from "node:assert/strict";
import { buildModel, Loss, modelGradients, type ModelSpec, Tensor } from "../../mod.ts";
import { TrainingConfigError } from "./errors.ts";
import { expectThrows } from "../../testing/assert.ts";
import { relativeError } from "../../testing/gradient_check.ts";
import { Rng } from "../../testing/random.ts";

/** Dense(f → k), linear, with the given weights. */
function denseSpec(f: number, k: number, kernel: Float32Array, bias: Float32Array): ModelSpec {
  return {
    config: {
      class_name: "Sequential",
      config: {
        name: "m",
        layers: [
          { class_name: "InputLayer", config: { name: "in", batch_shape: [null, f] } },
          { class_name: "Dense", config: { name: "d", units: k, activation: "linear" } },
        ],
      },
    },
    weights: {
      d: [
        { name: "kernel", shape: [f, k], data: kernel },
        { name: "bias", shape: [k], data: bias },
      ],
    },
  };
}

Deno.test("mean_absolute_error: Keras's names resolve; no logits form", () => {
  for (const config of ["mae", "mean_absolute_error", { class_name: "MeanAbsoluteError" }]) {
    const loss = Loss.from(config);
    assert(loss.name === "mean_absolute_error" && loss.fusableActivation === null);
  }
  expectThrows(
    () => Loss.from({ name: "mae", fromLogits: true }),
    TrainingConfigError,
    "mean_absolute_error has no logits form",
  );
});

Deno.test("mean_absolute_error: loss and gradients of a Dense layer match the float64 sums (mean |y − p| per row, sign gradient, 0 at an exact hit)", () => {
  const rng = new Rng(1803);
  const n = 7, f = 5, k = 3;
  const x = rng.floats(n * f, -1, 1);
  const kernel = rng.floats(f * k, -1, 1), bias = rng.floats(k, -0.5, 0.5);
  const y = rng.floats(n * k, -1, 1);
  // Row 0's inputs are zeros, so its prediction is the bias exactly; its first target equals it:
  // the gradient there is 0, as TensorFlow's abs gives (sign(0); TF.js's abs gives -1).
  x.fill(0, 0, f);
  y[0] = bias[0];
  const model = buildModel(denseSpec(f, k, kernel, bias));
  const mine = modelGradients(model, new Tensor(x, [n, f]), new Tensor(y, [n, k]), {
    loss: "mean_absolute_error",
  });
  model.dispose();
  // Keras: the mean over rows of each row's mean |y − p|; d/dp = sign(p − y) / (n·k).
  let loss = 0;
  const dW = new Float64Array(f * k), dB = new Float64Array(k);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < k; j++) {
      let p = bias[j];
      for (let i = 0; i < f; i++) p += x[r * f + i] * kernel[i * k + j];
      const d = p - y[r * k + j];
      loss += Math.abs(d) / (n * k);
      const g = Math.sign(d) / (n * k);
      dB[j] += g;
      for (let i = 0; i < f; i++) dW[i * k + j] += x[r * f + i] * g;
    }
  }
  assert(Math.abs(mine.loss - loss) < 1e-6, `loss ${mine.loss} vs ${loss}`);
  const eK = relativeError(mine.grads[0].data, dW), eB = relativeError(mine.grads[1].data, dB);
  assert(eK <= 1e-5 && eB <= 1e-5, `gradients ${eK}, ${eB}`);
});
