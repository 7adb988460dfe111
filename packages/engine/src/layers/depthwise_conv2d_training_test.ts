import { buildModel, modelGradients, Tensor } from "../../mod.ts";
import { Rng } from "../../testing/random.ts";
import { compareWithTfjs, randomSpec, relativeError } from "../../testing/gradient_check.ts";
import {
  DEPTHWISE_GEOMETRIES,
  type DilatedCase,
  tfjsDilatedDepthwiseGradients,
} from "../../testing/depthwise_cases.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

const first = {
  class_name: "Conv2D",
  config: { name: "first", filters: 3, kernel_size: [3, 3], padding: "same", activation: "tanh" },
};
const head = [
  { class_name: "Flatten", config: { name: "flat" } },
  { class_name: "Dense", config: { name: "out", units: 4, activation: "softmax" } },
];
const sparse = { name: "sparse_categorical_crossentropy" as const };

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
  const spec = randomSpec([first, layer, ...head], input, rng, { scale: 0.4 });
  let worst = 0;
  for (const batch of batches) {
    const x = rng.floats(batch * input.reduce((a, b) => a * b, 1), -1.5, 1.5);
    const y = Float32Array.from({ length: batch }, () => rng.int(0, 4));
    const what = `${className} ${JSON.stringify(second)} batch ${batch}`;
    if (!dilated) {
      try {
        worst = Math.max(worst, compareWithTfjs(spec, x, [batch, ...input], y, { loss: sparse }));
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
          loss: sparse,
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

Deno.test("DepthwiseConv2D gradients match TF.js: paddings × strides × dilations × depth_multiplier 1/2, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(1521);
  let worst = 0;
  for (const padding of ["valid", "same"]) {
    for (const g of DEPTHWISE_GEOMETRIES) {
      for (const depth_multiplier of [1, 2]) {
        worst = Math.max(
          worst,
          checkDepthwiseGradients(rng, "DepthwiseConv2D", [9, 11, 2], {
            padding,
            ...g,
            depth_multiplier,
            kernel_size: depth_multiplier === 2 ? [2, 3] : [3, 3],
          }),
        );
      }
    }
  }
  console.log(`DepthwiseConv2D gradients vs TF.js: worst relative error ${worst.toExponential(2)}`);
});

Deno.test("DepthwiseConv2D gradients match TF.js for fused and unfused activations, without bias", async () => {
  await tfReady();
  const rng = new Rng(1522);
  const acts = ["linear", "relu6", "sigmoid", "tanh", "elu", "selu", "softplus", "swish"];
  for (const activation of acts) {
    checkDepthwiseGradients(rng, "DepthwiseConv2D", [7, 6, 2], {
      padding: "same",
      strides: [2, 1],
      activation,
      use_bias: activation !== "tanh",
      depth_multiplier: 2,
    }, [5]);
  }
});
