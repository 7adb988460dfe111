import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import {
  GLOBAL_SPATIAL_POOLING_TRAINING,
  GlobalSpatialPooling,
  globalSpatialPoolingOnnx,
} from "./global_spatial_pooling.ts";
import { IMAGE_AXES } from "./spatial_pooling.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/** Keras `GlobalMaxPooling2D` (NHWC), with `keepdims`. */
export class GlobalMaxPooling2D extends GlobalSpatialPooling {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("GlobalMaxPooling2D", "max", IMAGE_AXES, config, options);
  }
}

/** The `GlobalMaxPooling2D` layer class (see `layer_class.ts`). */
export const GLOBAL_MAX_POOLING2D: LayerClass<GlobalMaxPooling2D> = defineLayer({
  className: "GlobalMaxPooling2D",
  create: (config, options) => new GlobalMaxPooling2D(config, options),
  training: GLOBAL_SPATIAL_POOLING_TRAINING,
  onnx: globalSpatialPoolingOnnx,
});
