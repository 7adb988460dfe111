/**
 * Keras `GlobalMaxPooling1D`.
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
 * Keras `GlobalMaxPooling1D` on `[batch, time, channels]`: the largest value of each channel over time (the mask is ignored, as in Keras; tied maxima share the gradient evenly, as TensorFlow's); `keepdims` keeps a time axis of 1.
 */
export class GlobalMaxPooling1D extends GlobalPooling1D {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("GlobalMaxPooling1D", "max", config, options);
  }
}

/** The `GlobalMaxPooling1D` layer class (see `layer_class.ts`). */
export const GLOBAL_MAX_POOLING1D: LayerClass<GlobalMaxPooling1D> = defineLayer({
  className: "GlobalMaxPooling1D",
  aliases: ["GlobalMaxPool1D"],
  create: (config, options) => new GlobalMaxPooling1D(config, options),
  training: GLOBAL_POOLING1D_TRAINING as LayerClass<GlobalMaxPooling1D>["training"],
  onnx: globalPooling1dOnnx,
});
