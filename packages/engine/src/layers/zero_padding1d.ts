/**
 * Keras `ZeroPadding1D`.
 *
 * @module
 */
import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { ZERO_PADDING2D, type ZeroPadding2D } from "./zero_padding2d.ts";
import {
  parsePair,
  requireSequenceChannelsLast,
  SEQUENCE_AS_IMAGE_TRAINING,
  SequenceAsImage,
  sequenceAsImageOnnx,
} from "./sequence_as_image.ts";

/**
 * Keras `ZeroPadding1D` on `[batch, time, channels]`: `padding` an integer (both ends, default
 * 1) or `(left, right)` zero steps. Runs as ZeroPadding2D `((0, 0), (left, right))`. Masks end
 * here.
 */
export class ZeroPadding1D extends SequenceAsImage<ZeroPadding2D> {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    const name = typeof config.name === "string" ? config.name : "zero_padding1d";
    requireSequenceChannelsLast(config, name);
    super("ZeroPadding1D", config, options, ZERO_PADDING2D, {
      padding: [[0, 0], parsePair(config.padding ?? 1, name, "padding")],
    });
  }
}

/** The `ZeroPadding1D` layer class (see `layer_class.ts`). */
export const ZERO_PADDING1D: LayerClass<ZeroPadding1D> = defineLayer({
  className: "ZeroPadding1D",
  create: (config, options) => new ZeroPadding1D(config, options),
  training: SEQUENCE_AS_IMAGE_TRAINING as LayerClass<ZeroPadding1D>["training"],
  onnx: sequenceAsImageOnnx,
});
