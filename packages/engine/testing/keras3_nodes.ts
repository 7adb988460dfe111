/**
 * Keras 3 Functional configs written by hand in tests: tensor references in call arguments
 * (`__keras_tensor__` with a `keras_history`) and layers with their call's `{args, kwargs}`.
 */
import type { KerasObject } from "../mod.ts";

/** A Keras 3 tensor reference to output `index` of the first call of `layer`. */
export function kerasTensor(layer: string, index = 0): Record<string, unknown> {
  return {
    class_name: "__keras_tensor__",
    config: { shape: null, dtype: "float32", keras_history: [layer, 0, index] },
  };
}

/** One layer of a hand-written Functional config and the arguments of its (single) call. */
export interface CalledLayer {
  class_name: string;
  config: Record<string, unknown>;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
}

/**
 * A Keras 3 Functional config: every layer but the InputLayers called once with its `args` /
 * `kwargs`; `inputs` name the InputLayers, `output` the layer whose first output is the model's.
 */
export function keras3Functional(
  layers: CalledLayer[],
  inputs: string[],
  output: string,
  name = "m",
): KerasObject {
  return {
    class_name: "Functional",
    config: {
      name,
      layers: layers.map((l) => ({
        class_name: l.class_name,
        name: l.config.name,
        config: l.config,
        inbound_nodes: l.class_name === "InputLayer"
          ? []
          : [{ args: l.args ?? [], kwargs: l.kwargs ?? {} }],
      })),
      input_layers: inputs.map((n) => [n, 0, 0]),
      output_layers: [[output, 0, 0]],
    },
  };
}
