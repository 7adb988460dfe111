/**
 * Keras `MaxPooling1D`.
 *
 * @module
 */
import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { MAX_POOLING2D, type MaxPooling2D } from "./max_pooling2d.ts";
import {
  poolConfig,
  requireSequenceChannelsLast,
  SEQUENCE_AS_IMAGE_TRAINING,
  SequenceAsImage,
  sequenceAsImageOnnx,
} from "./sequence_as_image.ts";

/**
 * Keras `MaxPooling1D` on `[batch, time, channels]`: `pool_size` (default 2), `strides`
 * (default the pool size), `valid`/`same` padding (padded steps never win). Runs as
 * MaxPooling2D with a `(1, pool)` window (its kernels and backward). Masks end here.
 */
export class MaxPooling1D extends SequenceAsImage<MaxPooling2D> {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    const name = typeof config.name === "string" ? config.name : "max_pooling1d";
    requireSequenceChannelsLast(config, name);
    super("MaxPooling1D", config, options, MAX_POOLING2D, poolConfig(config, name));
  }
}

/** The `MaxPooling1D` layer class (see `layer_class.ts`). */
export const MAX_POOLING1D: LayerClass<MaxPooling1D> = defineLayer({
  className: "MaxPooling1D",
  create: (config, options) => new MaxPooling1D(config, options),
  training: SEQUENCE_AS_IMAGE_TRAINING as LayerClass<MaxPooling1D>["training"],
  onnx: sequenceAsImageOnnx,
});
