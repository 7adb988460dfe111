/**
 * Keras `MaxPooling3D`.
 *
 * @module
 */
import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import {
  MAX_POOLING_TRAINING,
  SpatialPooling,
  spatialPoolingOnnx,
  VOLUME_AXES,
} from "./spatial_pooling.ts";

/**
 * Keras `MaxPooling3D` on `[batch, depth, rows, cols, channels]`: `pool_size` (default 2),
 * `strides` (default the pool size), `valid`/`same` padding (padded cells never win).
 */
export class MaxPooling3D extends SpatialPooling {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("MaxPooling3D", "max", VOLUME_AXES, config, options);
  }
}

/** The `MaxPooling3D` layer class (see `layer_class.ts`). */
export const MAX_POOLING3D: LayerClass<MaxPooling3D> = defineLayer({
  className: "MaxPooling3D",
  aliases: ["MaxPool3D"],
  create: (config, options) => new MaxPooling3D(config, options),
  training: MAX_POOLING_TRAINING,
  onnx: spatialPoolingOnnx,
});
