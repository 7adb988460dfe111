/**
 * What RandomTranslation, RandomZoom and RandomRotation share: `fill_mode`, `fill_value`,
 * `interpolation`, and a training definition whose per-sample parameters are a projective
 * transform (see `affineTransformImages` in image_ops.ts).
 *
 * Gradients: the engine's backward is the exact adjoint of the sampling each sample's transform
 * did. (TensorFlow's registered gradient of `ImageProjectiveTransformV3`, which Keras would use,
 * instead resamples dy with the inverse transform — an approximation of the same adjoint.)
 *
 * @module
 */
import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import type { LayerTraining } from "../layer_training.ts";
import {
  affineTransformImages,
  affineTransformImagesGrad,
  FILL_MODES,
  type FillMode,
  type ImageGeometry,
  type Interpolation,
  INTERPOLATIONS,
  type Transform8,
} from "./image_ops.ts";
import { augmentationTraining, ImageAugmentation } from "./image_augmentation.ts";

/** Base of the affine augmentation layers. */
export abstract class AffineAugmentation extends ImageAugmentation {
  readonly fillMode: FillMode;
  readonly fillValue: number;
  readonly interpolation: Interpolation;

  constructor(className: string, config: LayerConfig, options: LayerBuildOptions = {}) {
    super(className, config, options);
    this.fillMode = this.oneOf("fill_mode", FILL_MODES, "reflect");
    this.fillValue = this.num("fill_value", 0);
    this.interpolation = this.oneOf("interpolation", INTERPOLATIONS, "bilinear");
  }

  /** The transform of one sample from its uniform draws `u(j)` (input geometry `g`). */
  abstract drawTransform(u: (draw: number) => number, g: ImageGeometry): Transform8;
}

/** The training definition of an affine augmentation layer. */
export function affineTraining<L extends AffineAugmentation>(): LayerTraining<L> {
  return augmentationTraining<L, Transform8>({
    draw: (layer, u, g) => layer.drawTransform(u, g),
    apply: (layer, x, g, transforms, y) => {
      affineTransformImages(x, g, transforms, layer, y);
    },
    grad: (layer, dy, _x, g, transforms, dx) => {
      affineTransformImagesGrad(dy, g, transforms, layer, dx);
    },
  });
}
