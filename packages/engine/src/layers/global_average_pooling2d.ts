import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import {
  GLOBAL_SPATIAL_POOLING_TRAINING,
  GlobalSpatialPooling,
  globalSpatialPoolingOnnx,
} from "./global_spatial_pooling.ts";
import { IMAGE_AXES } from "./spatial_pooling.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/** Keras `GlobalAveragePooling2D` (NHWC), with `keepdims`. */
export class GlobalAveragePooling2D extends GlobalSpatialPooling {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("GlobalAveragePooling2D", "avg", IMAGE_AXES, config, options);
  }
}

/** The `GlobalAveragePooling2D` layer class (see `layer_class.ts`). */
export const GLOBAL_AVERAGE_POOLING2D: LayerClass<GlobalAveragePooling2D> = defineLayer({
  className: "GlobalAveragePooling2D",
  create: (config, options) => new GlobalAveragePooling2D(config, options),
  training: GLOBAL_SPATIAL_POOLING_TRAINING,
  onnx: globalSpatialPoolingOnnx,
});
