/**
 * Keras `AveragePooling1D`.
 *
 * @module
 */
import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { AVERAGE_POOLING2D, type AveragePooling2D } from "./average_pooling2d.ts";
import {
  poolConfig,
  requireSequenceChannelsLast,
  SEQUENCE_AS_IMAGE_TRAINING,
  SequenceAsImage,
  sequenceAsImageOnnx,
} from "./sequence_as_image.ts";

/**
 * Keras `AveragePooling1D` on `[batch, time, channels]`: `pool_size` (default 2), `strides`
 * (default the pool size), `valid`/`same` padding (`same` averages only the steps inside the
 * sequence, as Keras). Runs as AveragePooling2D with a `(1, pool)` window. Masks end here.
 */
export class AveragePooling1D extends SequenceAsImage<AveragePooling2D> {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    const name = typeof config.name === "string" ? config.name : "average_pooling1d";
    requireSequenceChannelsLast(config, name);
    super("AveragePooling1D", config, options, AVERAGE_POOLING2D, poolConfig(config, name));
  }
}

/** The `AveragePooling1D` layer class (see `layer_class.ts`). */
export const AVERAGE_POOLING1D: LayerClass<AveragePooling1D> = defineLayer({
  className: "AveragePooling1D",
  create: (config, options) => new AveragePooling1D(config, options),
  training: SEQUENCE_AS_IMAGE_TRAINING as LayerClass<AveragePooling1D>["training"],
  onnx: sequenceAsImageOnnx,
});
