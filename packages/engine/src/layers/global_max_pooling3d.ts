/**
 * Keras `GlobalMaxPooling3D`.
 *
 * @module
 */
import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import {
  GLOBAL_SPATIAL_POOLING_TRAINING,
  GlobalSpatialPooling,
  globalSpatialPoolingOnnx,
} from "./global_spatial_pooling.ts";
import { VOLUME_AXES } from "./spatial_pooling.ts";

/**
 * Keras `GlobalMaxPooling3D` on `[batch, depth, rows, cols, channels]`: each channel's largest
 * value over the volume; `keepdims` keeps three axes of 1.
 */
export class GlobalMaxPooling3D extends GlobalSpatialPooling {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("GlobalMaxPooling3D", "max", VOLUME_AXES, config, options);
  }
}

/** The `GlobalMaxPooling3D` layer class (see `layer_class.ts`). */
export const GLOBAL_MAX_POOLING3D: LayerClass<GlobalMaxPooling3D> = defineLayer({
  className: "GlobalMaxPooling3D",
  aliases: ["GlobalMaxPool3D"],
  create: (config, options) => new GlobalMaxPooling3D(config, options),
  training: GLOBAL_SPATIAL_POOLING_TRAINING,
  onnx: globalSpatialPoolingOnnx,
});
