import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { flipImages, type ImageGeometry } from "./image_ops.ts";
import { augmentationTraining, ImageAugmentation } from "./image_augmentation.ts";
import { identityOnnx } from "../onnx_emit.ts";

/** Keras RandomFlip modes. */
export type FlipMode = "horizontal" | "vertical" | "horizontal_and_vertical";

/** One sample's flips. */
export interface SampleFlips {
  horizontal: boolean;
  vertical: boolean;
}

/**
 * Keras `RandomFlip`: identity at inference; in training each sample is flipped with
 * probability ½. As Keras 3, `horizontal_and_vertical` uses one draw per sample for both axes (a
 * flipped sample is mirrored left-right AND top-bottom); files from Keras 2 (`kerasVersion` 2.x,
 * tf.keras's `random_flip_left_right` then `random_flip_up_down`) draw each axis independently.
 */
export class RandomFlip extends ImageAugmentation {
  readonly mode: FlipMode;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("RandomFlip", config, options);
    this.mode = this.oneOf(
      "mode",
      ["horizontal", "vertical", "horizontal_and_vertical"],
      "horizontal_and_vertical",
    );
  }

  /** Whether the mode flips left-right. */
  get horizontal(): boolean {
    return this.mode !== "vertical";
  }

  /** Whether the mode flips top-bottom. */
  get vertical(): boolean {
    return this.mode !== "horizontal";
  }

  /** Whether each axis draws its own flip (Keras 2) rather than sharing one draw (Keras 3). */
  get independentAxes(): boolean {
    return /^2\./.test(this.kerasVersion ?? "");
  }

  /** One sample's flips from its uniform draws `u(j)`. */
  drawFlips(u: (draw: number) => number): SampleFlips {
    if (this.independentAxes) {
      return { horizontal: this.horizontal && u(0) < 0.5, vertical: this.vertical && u(1) < 0.5 };
    }
    const flip = u(0) <= 0.5;
    return { horizontal: this.horizontal && flip, vertical: this.vertical && flip };
  }
}

/** Applies per-sample flips (left-right, then top-bottom: they commute, so also the backward). */
function applyFlips(x: Float32Array, g: ImageGeometry, flips: SampleFlips[], y: Float32Array) {
  flipImages(x, g, flips.map((f) => f.horizontal), true, false, y);
  if (flips.some((f) => f.vertical)) {
    flipImages(y.slice(), g, flips.map((f) => f.vertical), false, true, y);
  }
}

/** The `RandomFlip` layer class; backward flips dy back (a flip is its own transpose). */
export const RANDOM_FLIP: LayerClass<RandomFlip> = defineLayer({
  className: "RandomFlip",
  create: (config, options) => new RandomFlip(config, options),
  // Augmentation is the identity at inference.
  onnx: identityOnnx,
  training: augmentationTraining<RandomFlip, SampleFlips>({
    draw: (layer, u) => layer.drawFlips(u),
    apply: (_layer, x, g, flips, y) => applyFlips(x, g, flips, y),
    grad: (_layer, dy, _x, g, flips, dx) => applyFlips(dy, g, flips, dx),
  }),
});
