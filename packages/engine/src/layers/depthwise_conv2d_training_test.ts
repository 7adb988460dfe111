import { Rng } from "../../testing/random.ts";
import { checkDepthwiseGradients, DEPTHWISE_GEOMETRIES } from "../../testing/depthwise_cases.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

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
