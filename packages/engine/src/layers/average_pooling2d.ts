import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import {
  AVERAGE_POOLING_TRAINING,
  IMAGE_AXES,
  SpatialPooling,
  spatialPoolingOnnx,
} from "./spatial_pooling.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/** Keras `AveragePooling2D` (NHWC); with `same` padding divides by the real cells of a window. */
export class AveragePooling2D extends SpatialPooling {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("AveragePooling2D", "avg", IMAGE_AXES, config, options);
  }
}

/** The `AveragePooling2D` layer class (see `layer_class.ts`). */
export const AVERAGE_POOLING2D: LayerClass<AveragePooling2D> = defineLayer({
  className: "AveragePooling2D",
  create: (config, options) => new AveragePooling2D(config, options),
  training: AVERAGE_POOLING_TRAINING,
  onnx: spatialPoolingOnnx,
});
