/**
 * Keras `SpatialDropout1D`.
 *
 * @module
 */
import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { DeviceTensor } from "../tensor.ts";
import { SPATIAL_DROPOUT2D, type SpatialDropout2D } from "./spatial_dropout2d.ts";
import { SEQUENCE_AS_IMAGE_TRAINING, SequenceAsImage } from "./sequence_as_image.ts";
import { identityOnnx } from "../onnx_emit.ts";

/**
 * Keras `SpatialDropout1D` on `[batch, time, channels]`: in training each (sample, channel) is
 * kept with probability 1 − `rate` (scaled by 1/(1 − rate)) or zeroed at every step; identity at
 * inference. Runs as SpatialDropout2D on `[batch, 1, time, channels]` (its counter-based seeded
 * draws, `counter_random.ts`, independent of how a batch is split across workers). The mask
 * passes through.
 */
export class SpatialDropout1D extends SequenceAsImage<SpatialDropout2D> {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("SpatialDropout1D", config, options, SPATIAL_DROPOUT2D, {
      rate: config.rate,
      data_format: "channels_last",
    });
  }

  /** The keep probability's complement. */
  get rate(): number {
    return this.inner.rate;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }
}

/** The `SpatialDropout1D` layer class (see `layer_class.ts`). */
export const SPATIAL_DROPOUT1D: LayerClass<SpatialDropout1D> = defineLayer({
  className: "SpatialDropout1D",
  create: (config, options) => new SpatialDropout1D(config, options),
  training: SEQUENCE_AS_IMAGE_TRAINING as LayerClass<SpatialDropout1D>["training"],
  // Inactive at inference: the exported model is an inference graph.
  onnx: identityOnnx,
});
