import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { MAX_POOLING_TRAINING, Pooling2D, pooling2dOnnx } from "./pooling2d.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/** Keras `MaxPooling2D` (NHWC); padded cells never win the max. */
export class MaxPooling2D extends Pooling2D {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("MaxPooling2D", "max", config, options);
  }
}

/** The `MaxPooling2D` layer class (see `layer_class.ts`). */
export const MAX_POOLING2D: LayerClass<MaxPooling2D> = defineLayer({
  className: "MaxPooling2D",
  create: (config, options) => new MaxPooling2D(config, options),
  training: MAX_POOLING_TRAINING,
  onnx: pooling2dOnnx("MaxPool"),
});
