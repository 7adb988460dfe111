import { buildModel, LayerConfigError, WeightShapeError } from "../../mod.ts";
import { expectMatchesTfjs, randomWeight, sequentialSpec } from "../../testing/cnn_cases.ts";
import {
  DEPTHWISE_GEOMETRIES,
  depthwiseLayerCase,
  expectMatchesTfjsOps,
} from "../../testing/depthwise_cases.ts";
import { Rng } from "../../testing/random.ts";
import { expectThrows } from "../../testing/assert.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("SeparableConv2D matches TF.js: paddings × strides × dilations × depth_multiplier 1/2, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(1531);
  let worst = 0;
  for (const padding of ["valid", "same"]) {
    for (const g of DEPTHWISE_GEOMETRIES) {
      for (const kernel_size of [[3, 3], [2, 5]]) {
        for (const depth_multiplier of [1, 2]) {
          const layer = depthwiseLayerCase(rng, "SeparableConv2D", 5, {
            filters: 7,
            kernel_size,
            ...g,
            padding,
            depth_multiplier,
            activation: "relu",
            use_bias: kernel_size[0] !== 2,
          });
          const what =
            `SeparableConv2D ${padding} k=${kernel_size} s=${g.strides} d=${g.dilation_rate} dm=${depth_multiplier}`;
          const dilated = g.dilation_rate.some((d) => d > 1);
          const shapes = [[1, 9, 13, 5], [17, 9, 13, 5]];
          const d = dilated
            ? expectMatchesTfjsOps(layer, shapes, rng, what)
            : expectMatchesTfjs(sequentialSpec([9, 13, 5], [layer]), shapes, rng, what);
          worst = Math.max(worst, d);
        }
      }
    }
  }
  console.log(`SeparableConv2D vs TF.js: max |Δ| = ${worst.toExponential(2)}`);
});

Deno.test("SeparableConv2D matches TF.js: channel counts, 1×1, activations incl. softmax, dynamic H/W", async () => {
  await tfReady();
  const rng = new Rng(1532);
  for (const [c, filters] of [[1, 3], [3, 9], [8, 4], [11, 17]]) {
    const layer = depthwiseLayerCase(rng, "SeparableConv2D", c, {
      filters,
      kernel_size: 3,
      padding: "same",
      depth_multiplier: c === 3 ? 3 : 1,
      activation: "relu6",
    });
    expectMatchesTfjs(sequentialSpec([7, 10, c], [layer]), [[3, 7, 10, c]], rng, `c=${c}`);
  }
  for (const activation of ["linear", "sigmoid", "tanh", "elu", "swish", "softmax", "gelu"]) {
    const layer = depthwiseLayerCase(rng, "SeparableConv2D", 4, {
      filters: 5,
      kernel_size: [3, 2],
      strides: [2, 1],
      padding: "same",
      depth_multiplier: 2,
      activation,
    });
    expectMatchesTfjs(sequentialSpec([8, 7, 4], [layer]), [[5, 8, 7, 4]], rng, activation);
  }
  const one = depthwiseLayerCase(rng, "SeparableConv2D", 6, {
    filters: 4,
    kernel_size: 1,
    strides: 2,
    padding: "valid",
  });
  expectMatchesTfjs(
    sequentialSpec([null, null, 6], [one]),
    [[2, 7, 6, 6], [1, 4, 9, 6]],
    rng,
    "1×1",
  );
});

Deno.test("SeparableConv2D names the layer in config and weight errors", () => {
  const rng = new Rng(1533);
  const base = { name: "sep_x", filters: 4, kernel_size: [3, 3] };
  const build = (config: Record<string, unknown>, weights?: ReturnType<typeof randomWeight>[]) =>
    buildModel(sequentialSpec([6, 6, 2], [{ class_name: "SeparableConv2D", config, weights }]));
  expectThrows(() => build({ ...base, filters: 0 }), LayerConfigError, "sep_x", "filters");
  expectThrows(
    () => build({ ...base, strides: [1, 2], dilation_rate: [2, 1] }),
    LayerConfigError,
    "sep_x",
    "strides",
  );
  expectThrows(
    () =>
      build({ ...base, depth_multiplier: 2 }, [
        randomWeight(rng, "depthwise_kernel", [3, 3, 2, 2]),
        randomWeight(rng, "pointwise_kernel", [1, 1, 2, 4]),
        randomWeight(rng, "bias", [4]),
      ]),
    WeightShapeError,
    "sep_x",
    "pointwise_kernel",
    "[1, 1, 4, 4]",
    "[1, 1, 2, 4]",
  );
});
