import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { type ImageGeometry, type Transform8, zoomTransform } from "./image_ops.ts";
import { AffineAugmentation, affineTraining } from "./affine_augmentation.ts";
import { identityOnnx } from "../onnx_emit.ts";

/**
 * Keras `RandomZoom`: identity at inference; in training each sample draws a vertical zoom
 * `1 + u` (u uniform in the `height_factor` range: a number f → `[−f, f]`, a pair sorted,
 * within [−1, 1]) and a horizontal zoom `1 + v` from `width_factor` (the vertical zoom when
 * `width_factor` is null), and is resampled about its centre (zoom > 1 zooms out).
 */
export class RandomZoom extends AffineAugmentation {
  readonly heightRange: [number, number];
  readonly widthRange: [number, number] | null;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("RandomZoom", config, options);
    this.heightRange = this.factorRange("height_factor", -1, 1);
    this.widthRange = config.width_factor === undefined || config.width_factor === null
      ? null
      : this.factorRange("width_factor", -1, 1);
  }

  drawTransform(u: (draw: number) => number, g: ImageGeometry): Transform8 {
    const [hl, hu] = this.heightRange;
    const zy = 1 + hl + (hu - hl) * u(0);
    const zx = this.widthRange
      ? 1 + this.widthRange[0] + (this.widthRange[1] - this.widthRange[0]) * u(1)
      : zy;
    return zoomTransform(zx, zy, g.h, g.w);
  }
}

/** The `RandomZoom` layer class (see affine_augmentation.ts for its gradient). */
export const RANDOM_ZOOM: LayerClass<RandomZoom> = defineLayer({
  className: "RandomZoom",
  create: (config, options) => new RandomZoom(config, options),
  // Augmentation is the identity at inference.
  onnx: identityOnnx,
  training: affineTraining<RandomZoom>(),
});
