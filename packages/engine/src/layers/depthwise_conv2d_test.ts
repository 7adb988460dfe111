import {
  buildModel,
  InputShapeError,
  LayerConfigError,
  UnsupportedLayerError,
  WeightShapeError,
} from "../../mod.ts";
import { expectMatchesTfjs, randomWeight, sequentialSpec } from "../../testing/cnn_cases.ts";
import {
  DEPTHWISE_GEOMETRIES,
  depthwiseLayerCase,
  expectMatchesTfjsOps,
} from "../../testing/depthwise_cases.ts";
import { Rng } from "../../testing/random.ts";
import { expectThrows } from "../../testing/assert.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("DepthwiseConv2D matches TF.js: paddings × strides × dilations × depth_multiplier 1/2, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(1511);
  let worst = 0;
  for (const padding of ["valid", "same"]) {
    for (const g of DEPTHWISE_GEOMETRIES) {
      for (const kernel_size of [[3, 3], [2, 5]]) {
        for (const depth_multiplier of [1, 2]) {
          const layer = depthwiseLayerCase(rng, "DepthwiseConv2D", 5, {
            kernel_size,
            ...g,
            padding,
            depth_multiplier,
            activation: "relu",
            use_bias: kernel_size[0] !== 2,
          });
          const what =
            `DepthwiseConv2D ${padding} k=${kernel_size} s=${g.strides} d=${g.dilation_rate} dm=${depth_multiplier}`;
          // TF.js's DepthwiseConv2D layer drops dilation_rate: dilated cases use its ops.
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
  console.log(`DepthwiseConv2D vs TF.js: max |Δ| = ${worst.toExponential(2)}`);
});

Deno.test("DepthwiseConv2D matches TF.js: channel counts around the SIMD blocks, 1×1, activations incl. softmax", async () => {
  await tfReady();
  const rng = new Rng(1512);
  for (const c of [1, 3, 4, 8, 11, 19]) {
    const layer = depthwiseLayerCase(rng, "DepthwiseConv2D", c, {
      kernel_size: 3,
      strides: 1,
      padding: "same",
      depth_multiplier: c === 3 ? 3 : 1,
      activation: "relu6",
    });
    expectMatchesTfjs(sequentialSpec([7, 10, c], [layer]), [[3, 7, 10, c]], rng, `c=${c}`);
  }
  const one = depthwiseLayerCase(rng, "DepthwiseConv2D", 6, {
    kernel_size: 1,
    strides: 2,
    padding: "valid",
    depth_multiplier: 2,
  });
  expectMatchesTfjs(sequentialSpec([7, 6, 6], [one]), [[2, 7, 6, 6]], rng, "1×1 s2");
  for (const activation of ["linear", "sigmoid", "tanh", "elu", "swish", "softmax", "gelu"]) {
    const layer = depthwiseLayerCase(rng, "DepthwiseConv2D", 4, {
      kernel_size: [3, 2],
      strides: [2, 1],
      padding: "same",
      depth_multiplier: 2,
      activation,
    });
    expectMatchesTfjs(sequentialSpec([8, 7, 4], [layer]), [[5, 8, 7, 4]], rng, activation);
  }
});

Deno.test("DepthwiseConv2D with unknown height/width runs any input size like TF.js", async () => {
  await tfReady();
  const rng = new Rng(1513);
  const layer = depthwiseLayerCase(rng, "DepthwiseConv2D", 4, {
    kernel_size: 3,
    strides: 2,
    padding: "same",
    activation: "relu",
  });
  const spec = sequentialSpec([null, null, 4], [layer]);
  expectMatchesTfjs(spec, [[2, 7, 9, 4], [3, 12, 5, 4], [1, 3, 3, 4]], rng, "dynamic H/W");
});

Deno.test("DepthwiseConv2D names the layer in config, shape and weight errors", () => {
  const rng = new Rng(1514);
  const base = { name: "dw_x", kernel_size: [3, 3] };
  const build = (config: Record<string, unknown>, input = [6, 6, 2]) =>
    buildModel(sequentialSpec(input, [{ class_name: "DepthwiseConv2D", config }]));
  expectThrows(
    () => build({ ...base, strides: 2, dilation_rate: 2 }),
    LayerConfigError,
    "dw_x",
    "strides",
    "dilation_rate",
  );
  expectThrows(
    () => build({ ...base, depth_multiplier: 0 }),
    LayerConfigError,
    "dw_x",
    "depth_multiplier",
  );
  expectThrows(
    () => build({ ...base, data_format: "channels_first" }),
    UnsupportedLayerError,
    "dw_x",
    "DepthwiseConv2D",
    "channels_first",
  );
  expectThrows(() => build(base, [2, 6, 2]), InputShapeError, "dw_x", "3×3 window", "2, 6, 2)");
  expectThrows(() => build(base, [6, 6]), InputShapeError, "dw_x", "rank 4");
  expectThrows(
    () =>
      buildModel(sequentialSpec([6, 6, 2], [{
        class_name: "DepthwiseConv2D",
        config: { ...base, depth_multiplier: 2 },
        weights: [
          randomWeight(rng, "depthwise_kernel", [3, 3, 2, 1]),
          randomWeight(rng, "bias", [4]),
        ],
      }])),
    WeightShapeError,
    "dw_x",
    "depthwise_kernel",
    "[3, 3, 2, 2]",
    "[3, 3, 2, 1]",
  );
});
