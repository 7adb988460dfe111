/**
 * Keras `GlobalAveragePooling3D`.
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
 * Keras `GlobalAveragePooling3D` on `[batch, depth, rows, cols, channels]`: each channel's mean
 * over the volume; `keepdims` keeps three axes of 1.
 */
export class GlobalAveragePooling3D extends GlobalSpatialPooling {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("GlobalAveragePooling3D", "avg", VOLUME_AXES, config, options);
  }
}

/** The `GlobalAveragePooling3D` layer class (see `layer_class.ts`). */
export const GLOBAL_AVERAGE_POOLING3D: LayerClass<GlobalAveragePooling3D> = defineLayer({
  className: "GlobalAveragePooling3D",
  aliases: ["GlobalAvgPool3D"],
  create: (config, options) => new GlobalAveragePooling3D(config, options),
  training: GLOBAL_SPATIAL_POOLING_TRAINING,
  onnx: globalSpatialPoolingOnnx,
});
