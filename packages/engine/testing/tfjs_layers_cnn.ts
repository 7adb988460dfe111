/** TF.js builders for the CNN layers (Conv2D, pooling, BatchNormalization). */
import * as tf from "@tensorflow/tfjs";
import { tfActivation, TFJS_LAYER_BUILDERS } from "./tfjs_layers_core.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const pair = (v: unknown, fallback: number | number[]): [number, number] => {
  const x = v ?? fallback;
  return (typeof x === "number" ? [x, x] : x) as [number, number];
};
const padding = (v: unknown) => (typeof v === "string" ? v.toLowerCase() : "valid") as Any;

TFJS_LAYER_BUILDERS.set("Conv2D", (c, base) =>
  tf.layers.conv2d({
    ...base,
    filters: c.filters as number,
    kernelSize: pair(c.kernel_size, 1),
    strides: pair(c.strides, 1),
    dilationRate: pair(c.dilation_rate, 1),
    padding: padding(c.padding),
    dataFormat: "channelsLast",
    activation: tfActivation(c.activation) as Any,
    useBias: c.use_bias !== false,
  }));

for (
  const [name, make] of [
    ["MaxPooling2D", tf.layers.maxPooling2d],
    ["AveragePooling2D", tf.layers.averagePooling2d],
  ] as const
) {
  TFJS_LAYER_BUILDERS.set(name, (c, base) => {
    const poolSize = pair(c.pool_size, 2);
    return make({
      ...base,
      poolSize,
      strides: pair(c.strides, poolSize),
      padding: padding(c.padding),
      dataFormat: "channelsLast",
    });
  });
}

// TF.js has no `keepdims`: the values are the same, only the engine's shape keeps the 1×1 dims.
TFJS_LAYER_BUILDERS.set(
  "GlobalMaxPooling2D",
  (_c, base) => tf.layers.globalMaxPooling2d({ ...base, dataFormat: "channelsLast" }),
);
TFJS_LAYER_BUILDERS.set(
  "GlobalAveragePooling2D",
  (_c, base) => tf.layers.globalAveragePooling2d({ ...base, dataFormat: "channelsLast" }),
);

TFJS_LAYER_BUILDERS.set("BatchNormalization", (c, base) =>
  tf.layers.batchNormalization({
    ...base,
    axis: -1,
    epsilon: (c.epsilon ?? 1e-3) as number,
    momentum: (c.momentum ?? 0.99) as number,
    center: c.center !== false,
    scale: c.scale !== false,
  }));

// TF.js's conv2dTranspose has no dilation and no output_padding (their Keras configs have no
// TF.js counterpart); the builder refuses them rather than drop them.
TFJS_LAYER_BUILDERS.set("Conv2DTranspose", (c, base) => {
  const dilation = pair(c.dilation_rate, 1);
  if (dilation[0] !== 1 || dilation[1] !== 1 || (c.output_padding ?? null) !== null) {
    throw new Error("TF.js conv2dTranspose has no dilation_rate or output_padding");
  }
  return tf.layers.conv2dTranspose({
    ...base,
    filters: c.filters as number,
    kernelSize: pair(c.kernel_size, 1),
    strides: pair(c.strides, 1),
    padding: padding(c.padding),
    dataFormat: "channelsLast",
    activation: tfActivation(c.activation) as Any,
    useBias: c.use_bias !== false,
  });
});

TFJS_LAYER_BUILDERS.set("UpSampling2D", (c, base) =>
  tf.layers.upSampling2d({
    ...base,
    size: pair(c.size, 2),
    interpolation: (c.interpolation ?? "nearest") as Any,
    dataFormat: "channelsLast",
  }));

TFJS_LAYER_BUILDERS.set("Cropping2D", (c, base) =>
  tf.layers.cropping2D({
    ...base,
    cropping: (c.cropping ?? [[0, 0], [0, 0]]) as Any,
    dataFormat: "channelsLast",
  }));

const depthwiseArgs = (c: Record<string, unknown>) => ({
  kernelSize: pair(c.kernel_size, 1),
  strides: pair(c.strides, 1),
  dilationRate: pair(c.dilation_rate, 1),
  padding: padding(c.padding),
  depthMultiplier: (c.depth_multiplier ?? 1) as number,
  dataFormat: "channelsLast" as const,
  activation: tfActivation(c.activation) as Any,
  useBias: c.use_bias !== false,
});

TFJS_LAYER_BUILDERS.set(
  "DepthwiseConv2D",
  (c, base) => tf.layers.depthwiseConv2d({ ...base, ...depthwiseArgs(c) } as Any),
);

TFJS_LAYER_BUILDERS.set(
  "SeparableConv2D",
  (c, base) =>
    tf.layers.separableConv2d({ ...base, ...depthwiseArgs(c), filters: c.filters as number }),
);
