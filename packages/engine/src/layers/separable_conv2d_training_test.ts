import { Rng } from "../../testing/random.ts";
import { compareWithTfjs, randomSpec } from "../../testing/gradient_check.ts";
import { checkDepthwiseGradients, DEPTHWISE_GEOMETRIES } from "../../testing/depthwise_cases.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("SeparableConv2D gradients match TF.js: paddings × strides × dilations × depth_multiplier 1/2, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(1541);
  let worst = 0;
  for (const padding of ["valid", "same"]) {
    for (const g of DEPTHWISE_GEOMETRIES) {
      for (const depth_multiplier of [1, 2]) {
        worst = Math.max(
          worst,
          checkDepthwiseGradients(rng, "SeparableConv2D", [9, 11, 2], {
            filters: 5,
            padding,
            ...g,
            depth_multiplier,
            kernel_size: depth_multiplier === 2 ? [2, 3] : [3, 3],
          }),
        );
      }
    }
  }
  console.log(`SeparableConv2D gradients vs TF.js: worst relative error ${worst.toExponential(2)}`);
});

Deno.test("SeparableConv2D gradients match TF.js for fused and unfused activations, without bias", async () => {
  await tfReady();
  const rng = new Rng(1542);
  const acts = ["linear", "relu6", "sigmoid", "tanh", "elu", "selu", "softplus", "swish"];
  for (const activation of acts) {
    checkDepthwiseGradients(rng, "SeparableConv2D", [7, 6, 3], {
      filters: 4,
      padding: "same",
      strides: [2, 1],
      activation,
      use_bias: activation !== "tanh",
      depth_multiplier: 2,
    }, [5]);
  }
});

Deno.test("SeparableConv2D as the softmax output (per-pixel classes, fused loss) matches TF.js", async () => {
  await tfReady();
  const rng = new Rng(1543);
  const spec = randomSpec(
    [
      {
        class_name: "Conv2D",
        config: { name: "first", filters: 4, kernel_size: 3, activation: "relu" },
      },
      {
        class_name: "SeparableConv2D",
        config: {
          name: "pixels",
          filters: 3,
          kernel_size: 3,
          padding: "same",
          activation: "softmax",
        },
      },
    ],
    [6, 7, 2],
    rng,
  );
  for (const batch of [1, 4]) {
    const x = rng.floats(batch * 6 * 7 * 2, -1, 1);
    const y = Float32Array.from({ length: batch * 4 * 5 }, () => rng.int(0, 3));
    compareWithTfjs(spec, x, [batch, 6, 7, 2], y, {
      loss: { name: "sparse_categorical_crossentropy" },
    });
  }
});
