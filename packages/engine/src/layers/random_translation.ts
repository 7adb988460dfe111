import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { type ImageGeometry, type Transform8, translationTransform } from "./image_ops.ts";
import { AffineAugmentation, affineTraining } from "./affine_augmentation.ts";
import { identityOnnx } from "../onnx_emit.ts";

/**
 * Keras `RandomTranslation`: identity at inference; in training each sample moves down by
 * `u·h` and right by `v·w` pixels, u uniform in the `height_factor` range and v in the
 * `width_factor` range (a number f → `[−f, f]`, a pair sorted; within [−1, 1]); `fill_mode`
 * (default reflect), `fill_value`, `interpolation` (default bilinear) as Keras.
 */
export class RandomTranslation extends AffineAugmentation {
  readonly heightRange: [number, number];
  readonly widthRange: [number, number];

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("RandomTranslation", config, options);
    this.heightRange = this.factorRange("height_factor", -1, 1);
    this.widthRange = this.factorRange("width_factor", -1, 1);
  }

  drawTransform(u: (draw: number) => number, g: ImageGeometry): Transform8 {
    const [hl, hu] = this.heightRange, [wl, wu] = this.widthRange;
    const dy = (hl + (hu - hl) * u(0)) * g.h;
    const dx = (wl + (wu - wl) * u(1)) * g.w;
    return translationTransform(dx, dy);
  }
}

/** The `RandomTranslation` layer class (see affine_augmentation.ts for its gradient). */
export const RANDOM_TRANSLATION: LayerClass<RandomTranslation> = defineLayer({
  className: "RandomTranslation",
  create: (config, options) => new RandomTranslation(config, options),
  // Augmentation is the identity at inference.
  onnx: identityOnnx,
  training: affineTraining<RandomTranslation>(),
});
