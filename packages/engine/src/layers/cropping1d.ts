/**
 * Keras `Cropping1D`.
 *
 * @module
 */
import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { CROPPING2D, type Cropping2D } from "./cropping2d.ts";
import {
  parsePair,
  requireSequenceChannelsLast,
  SEQUENCE_AS_IMAGE_TRAINING,
  SequenceAsImage,
  sequenceAsImageOnnx,
} from "./sequence_as_image.ts";

/**
 * Keras `Cropping1D` on `[batch, time, channels]`: `cropping` an integer (both ends) or
 * `(left, right)` steps removed (default `(1, 1)`). Runs as Cropping2D `((0, 0), (left,
 * right))`. Masks end here.
 */
export class Cropping1D extends SequenceAsImage<Cropping2D> {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    const name = typeof config.name === "string" ? config.name : "cropping1d";
    requireSequenceChannelsLast(config, name);
    super("Cropping1D", config, options, CROPPING2D, {
      cropping: [[0, 0], parsePair(config.cropping ?? [1, 1], name, "cropping")],
    });
  }
}

/** The `Cropping1D` layer class (see `layer_class.ts`). */
export const CROPPING1D: LayerClass<Cropping1D> = defineLayer({
  className: "Cropping1D",
  create: (config, options) => new Cropping1D(config, options),
  training: SEQUENCE_AS_IMAGE_TRAINING as LayerClass<Cropping1D>["training"],
  onnx: sequenceAsImageOnnx,
});
