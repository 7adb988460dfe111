import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { flipImages } from "./image_ops.ts";
import { augmentationTraining, ImageAugmentation } from "./image_augmentation.ts";

/** Keras RandomFlip modes. */
export type FlipMode = "horizontal" | "vertical" | "horizontal_and_vertical";

/**
 * Keras `RandomFlip`: identity at inference; in training each sample is flipped with
 * probability ½ (one draw per sample, `u ≤ ½`). As Keras 3, `horizontal_and_vertical` uses that
 * one draw for both axes: a flipped sample is mirrored left-right AND top-bottom.
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
}

/** The `RandomFlip` layer class; backward flips dy back (a flip is its own transpose). */
export const RANDOM_FLIP: LayerClass<RandomFlip> = defineLayer({
  className: "RandomFlip",
  create: (config, options) => new RandomFlip(config, options),
  training: augmentationTraining<RandomFlip, boolean>({
    draw: (_layer, u) => u(0) <= 0.5,
    apply: (layer, x, g, flips, y) => {
      flipImages(x, g, flips, layer.horizontal, layer.vertical, y);
    },
    grad: (layer, dy, _x, g, flips, dx) => {
      flipImages(dy, g, flips, layer.horizontal, layer.vertical, dx);
    },
  }),
});
