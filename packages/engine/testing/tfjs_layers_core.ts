/** TF.js builders for the core layers (Dense, activations, Dropout, Flatten, Reshape). */
import * as tf from "@tensorflow/tfjs";

/** How the reference layers are built (see `tfjsModelFromSpec`). */
export interface TfjsBuildOptions {
  /**
   * Start recurrent kernels from zeros instead of TF.js's QR-based orthogonal initializer, which
   * takes seconds per layer of 64+ units (with a "Slowness may result" warning each time). Only
   * for specs that carry the layer's weights, which then replace the initial values.
   */
  zeroRecurrentInit?: boolean;
}

/**
 * Builds a TF.js layer from a Keras config; `base` carries name / batchInputShape / dtype;
 * wrappers pass `options` on to the layers they build.
 */
export type TfjsLayerBuilder = (
  config: Record<string, unknown>,
  base: Record<string, unknown>,
  kerasVersion?: string,
  options?: TfjsBuildOptions,
) => tf.layers.Layer;

/** Keras class name → TF.js builder. Other files add their classes. */
export const TFJS_LAYER_BUILDERS: Map<string, TfjsLayerBuilder> = new Map();

/** Keras activation names → TF.js identifiers (TF.js names some differently). */
export function tfActivation(name: unknown): string {
  const n = typeof name === "string" ? name : "linear";
  const map: Record<string, string> = { silu: "swish", gelu: "gelu", leaky_relu: "leakyReLU" };
  // deno-lint-ignore no-explicit-any
  return (map[n] ?? n.replace(/_(\w)/g, (_, c) => c.toUpperCase())) as any;
}

// deno-lint-ignore no-explicit-any
type Any = any;

TFJS_LAYER_BUILDERS.set("Dense", (c, base) =>
  tf.layers.dense({
    ...base,
    units: c.units as number,
    activation: tfActivation(c.activation) as Any,
    useBias: c.use_bias !== false,
  }));
TFJS_LAYER_BUILDERS.set(
  "Activation",
  (c, base) => tf.layers.activation({ ...base, activation: tfActivation(c.activation) as Any }),
);
TFJS_LAYER_BUILDERS.set(
  "ReLU",
  (c, base) =>
    tf.layers.reLU({ ...base, maxValue: (c.max_value ?? undefined) as number | undefined }),
);
TFJS_LAYER_BUILDERS.set(
  "LeakyReLU",
  (c, base) =>
    tf.layers.leakyReLU({ ...base, alpha: (c.negative_slope ?? c.alpha ?? 0.3) as number }),
);
TFJS_LAYER_BUILDERS.set("Softmax", (_c, base) => tf.layers.softmax({ ...base }));
TFJS_LAYER_BUILDERS.set(
  "Dropout",
  (c, base) => tf.layers.dropout({ ...base, rate: c.rate as number }),
);
TFJS_LAYER_BUILDERS.set("Flatten", (_c, base) => tf.layers.flatten({ ...base }));
TFJS_LAYER_BUILDERS.set(
  "Reshape",
  (c, base) => tf.layers.reshape({ ...base, targetShape: c.target_shape as number[] }),
);
