/**
 * Keras `AveragePooling3D`.
 *
 * @module
 */
import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { AVERAGE_POOLING3D_TRAINING, Pooling3D, pooling3dOnnx } from "./pooling3d.ts";

/**
 * Keras `AveragePooling3D` on `[batch, depth, rows, cols, channels]`: `pool_size` (default 2),
 * `strides` (default the pool size), `valid`/`same` padding (a window's mean over its real cells).
 */
export class AveragePooling3D extends Pooling3D {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("AveragePooling3D", "avg", config, options);
  }
}

/** The `AveragePooling3D` layer class (see `layer_class.ts`). */
export const AVERAGE_POOLING3D: LayerClass<AveragePooling3D> = defineLayer({
  className: "AveragePooling3D",
  aliases: ["AvgPool3D"],
  create: (config, options) => new AveragePooling3D(config, options),
  training: AVERAGE_POOLING3D_TRAINING,
  onnx: pooling3dOnnx,
});
