import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import {
  IMAGE_AXES,
  MAX_POOLING_TRAINING,
  SpatialPooling,
  spatialPoolingOnnx,
} from "./spatial_pooling.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/** Keras `MaxPooling2D` (NHWC); padded cells never win the max. */
export class MaxPooling2D extends SpatialPooling {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("MaxPooling2D", "max", IMAGE_AXES, config, options);
  }
}

/** The `MaxPooling2D` layer class (see `layer_class.ts`). */
export const MAX_POOLING2D: LayerClass<MaxPooling2D> = defineLayer({
  className: "MaxPooling2D",
  create: (config, options) => new MaxPooling2D(config, options),
  training: MAX_POOLING_TRAINING,
  onnx: spatialPoolingOnnx,
});
