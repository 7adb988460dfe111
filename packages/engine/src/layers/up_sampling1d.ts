/**
 * Keras `UpSampling1D`.
 *
 * @module
 */
import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { UP_SAMPLING2D, type UpSampling2D } from "./up_sampling2d.ts";
import {
  parseWindow,
  requireSequenceChannelsLast,
  SEQUENCE_AS_IMAGE_TRAINING,
  SequenceAsImage,
  sequenceAsImageOnnx,
} from "./sequence_as_image.ts";

/**
 * Keras `UpSampling1D` on `[batch, time, channels]`: each step repeated `size` times (default
 * 2). Runs as nearest UpSampling2D with size `(1, size)`; the backward sums each step's copies.
 * Masks end here.
 */
export class UpSampling1D extends SequenceAsImage<UpSampling2D> {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    const name = typeof config.name === "string" ? config.name : "up_sampling1d";
    requireSequenceChannelsLast(config, name);
    super("UpSampling1D", config, options, UP_SAMPLING2D, {
      size: [1, parseWindow(config, "size", name, 2)],
      interpolation: "nearest",
    });
  }
}

/** The `UpSampling1D` layer class (see `layer_class.ts`). */
export const UP_SAMPLING1D: LayerClass<UpSampling1D> = defineLayer({
  className: "UpSampling1D",
  create: (config, options) => new UpSampling1D(config, options),
  training: SEQUENCE_AS_IMAGE_TRAINING as LayerClass<UpSampling1D>["training"],
  onnx: sequenceAsImageOnnx,
});
