/**
 * Keras `AveragePooling3D`.
 *
 * @module
 */
import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import {
  AVERAGE_POOLING_TRAINING,
  SpatialPooling,
  spatialPoolingOnnx,
  VOLUME_AXES,
} from "./spatial_pooling.ts";

/**
 * Keras `AveragePooling3D` on `[batch, depth, rows, cols, channels]`: `pool_size` (default 2),
 * `strides` (default the pool size), `valid`/`same` padding (a window's mean over its real cells).
 */
export class AveragePooling3D extends SpatialPooling {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("AveragePooling3D", "avg", VOLUME_AXES, config, options);
  }
}

/** The `AveragePooling3D` layer class (see `layer_class.ts`). */
export const AVERAGE_POOLING3D: LayerClass<AveragePooling3D> = defineLayer({
  className: "AveragePooling3D",
  aliases: ["AvgPool3D"],
  create: (config, options) => new AveragePooling3D(config, options),
  training: AVERAGE_POOLING_TRAINING,
  onnx: spatialPoolingOnnx,
});
