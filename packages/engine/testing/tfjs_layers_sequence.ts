/**
 * TF.js builders for the sequence (1-D) layers TF.js has: Conv1D (not `causal` nor `groups`),
 * Max/AveragePooling1D, GlobalMax/GlobalAveragePooling1D, RepeatVector, Permute, Masking and
 * SpatialDropout1D. TF.js has no ZeroPadding1D, Cropping1D or UpSampling1D.
 */
import * as tf from "@tensorflow/tfjs";
import { tfActivation, TFJS_LAYER_BUILDERS } from "./tfjs_layers_core.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const one = (v: unknown, fallback: number): number => {
  const x = v ?? fallback;
  return (Array.isArray(x) ? x[0] : x) as number;
};

TFJS_LAYER_BUILDERS.set("Conv1D", (c, base) => {
  if (c.padding === "causal" || (c.groups ?? 1) !== 1) {
    throw new Error("tfjs reference: TF.js has no causal or grouped Conv1D");
  }
  return tf.layers.conv1d({
    ...base,
    filters: c.filters as number,
    kernelSize: one(c.kernel_size, 1),
    strides: one(c.strides, 1),
    dilationRate: one(c.dilation_rate, 1),
    padding: (c.padding ?? "valid") as Any,
    activation: tfActivation(c.activation) as Any,
    useBias: c.use_bias !== false,
  });
});

for (
  const [name, make] of [
    ["MaxPooling1D", tf.layers.maxPooling1d],
    ["AveragePooling1D", tf.layers.averagePooling1d],
  ] as const
) {
  TFJS_LAYER_BUILDERS.set(name, (c, base) => {
    const poolSize = one(c.pool_size, 2);
    return make({
      ...base,
      poolSize,
      strides: one(c.strides, poolSize),
      padding: (c.padding ?? "valid") as Any,
    });
  });
}

TFJS_LAYER_BUILDERS.set("GlobalMaxPooling1D", (_c, base) => tf.layers.globalMaxPooling1d(base));
TFJS_LAYER_BUILDERS.set(
  "GlobalAveragePooling1D",
  (_c, base) => tf.layers.globalAveragePooling1d(base),
);
TFJS_LAYER_BUILDERS.set(
  "RepeatVector",
  (c, base) => tf.layers.repeatVector({ ...base, n: c.n as number }),
);
TFJS_LAYER_BUILDERS.set(
  "Permute",
  (c, base) => tf.layers.permute({ ...base, dims: c.dims as number[] }),
);
TFJS_LAYER_BUILDERS.set(
  "Masking",
  (c, base) => tf.layers.masking({ ...base, maskValue: (c.mask_value ?? 0) as number }),
);
TFJS_LAYER_BUILDERS.set(
  "SpatialDropout1D",
  (c, base) => tf.layers.spatialDropout1d({ ...base, rate: c.rate as number }),
);
