import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { AVERAGE_POOLING_TRAINING, Pooling2D, pooling2dOnnx } from "./pooling2d.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/** Keras `AveragePooling2D` (NHWC); with `same` padding divides by the real cells of a window. */
export class AveragePooling2D extends Pooling2D {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("AveragePooling2D", "avg", config, options);
  }
}

/** The `AveragePooling2D` layer class (see `layer_class.ts`). */
export const AVERAGE_POOLING2D: LayerClass<AveragePooling2D> = defineLayer({
  className: "AveragePooling2D",
  create: (config, options) => new AveragePooling2D(config, options),
  training: AVERAGE_POOLING_TRAINING,
  onnx: pooling2dOnnx("AveragePool"),
});
