import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { type ImageGeometry, rotationTransform, type Transform8 } from "./image_ops.ts";
import { AffineAugmentation, affineTraining } from "./affine_augmentation.ts";
import { identityOnnx } from "../onnx_emit.ts";

/**
 * Keras `RandomRotation`: identity at inference; in training each sample is rotated by
 * `2π·u` radians (counter-clockwise for u > 0), u uniform in the `factor` range (a number f →
 * `[−f, f]`, a pair sorted), about the image centre, with `fill_mode` (default reflect),
 * `fill_value` and `interpolation` (default bilinear).
 */
export class RandomRotation extends AffineAugmentation {
  readonly range: [number, number];

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("RandomRotation", config, options);
    this.range = this.factorRange("factor", -1, 1);
  }

  drawTransform(u: (draw: number) => number, g: ImageGeometry): Transform8 {
    const [lo, hi] = this.range;
    return rotationTransform(2 * Math.PI * (lo + (hi - lo) * u(0)), g.h, g.w);
  }
}

/** The `RandomRotation` layer class (see affine_augmentation.ts for its gradient). */
export const RANDOM_ROTATION: LayerClass<RandomRotation> = defineLayer({
  className: "RandomRotation",
  create: (config, options) => new RandomRotation(config, options),
  // Augmentation is the identity at inference.
  onnx: identityOnnx,
  training: affineTraining<RandomRotation>(),
});
