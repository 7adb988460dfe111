/**
 * Keras `GlobalAveragePooling1D`.
 *
 * @module
 */
import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import {
  GLOBAL_POOLING1D_TRAINING,
  GlobalPooling1D,
  globalPooling1dOnnx,
} from "./global_pooling1d.ts";

/**
 * Keras `GlobalAveragePooling1D` on `[batch, time, channels]`: the mean of each channel over the unmasked steps (every step without a mask); `keepdims` keeps a time axis of 1.
 */
export class GlobalAveragePooling1D extends GlobalPooling1D {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("GlobalAveragePooling1D", "average", config, options);
  }
}

/** The `GlobalAveragePooling1D` layer class (see `layer_class.ts`). */
export const GLOBAL_AVERAGE_POOLING1D: LayerClass<GlobalAveragePooling1D> = defineLayer({
  className: "GlobalAveragePooling1D",
  aliases: ["GlobalAveragePool1D"],
  create: (config, options) => new GlobalAveragePooling1D(config, options),
  training: GLOBAL_POOLING1D_TRAINING as LayerClass<GlobalAveragePooling1D>["training"],
  onnx: globalPooling1dOnnx,
});
