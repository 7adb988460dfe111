import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { LayerConfigError } from "../errors.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { adjustContrast, adjustContrastGrad } from "./image_ops.ts";
import { augmentationTraining, ImageAugmentation } from "./image_augmentation.ts";
import { identityOnnx } from "../onnx_emit.ts";

/**
 * Keras `RandomContrast`: identity at inference; in training each sample draws a contrast
 * factor `f` uniform in `[1 − lower, 1 + upper]` (`factor` f → `(0, f)` as Keras 3's bounds
 * `[0, 1]` make it; a pair is sorted) and each channel becomes `(x − mean)·f + mean`, clipped to
 * `value_range` (default `[0, 255]`).
 */
export class RandomContrast extends ImageAugmentation {
  readonly lower: number;
  readonly upper: number;
  readonly valueRange: [number, number];

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("RandomContrast", config, options);
    [this.lower, this.upper] = this.factorRange("factor", 0, 1);
    const range = config.value_range ?? [0, 255];
    if (
      !Array.isArray(range) || range.length !== 2 ||
      !range.every((v) => typeof v === "number" && Number.isFinite(v)) || range[0] > range[1]
    ) {
      throw new LayerConfigError(
        this.name,
        "value_range",
        `expected [low, high] with low ≤ high, got ${JSON.stringify(range)}`,
      );
    }
    this.valueRange = [range[0], range[1]];
  }
}

/** The `RandomContrast` layer class; backward through the per-channel affine map and the clip. */
export const RANDOM_CONTRAST: LayerClass<RandomContrast> = defineLayer({
  className: "RandomContrast",
  create: (config, options) => new RandomContrast(config, options),
  // Augmentation is the identity at inference.
  onnx: identityOnnx,
  training: augmentationTraining<RandomContrast, number>({
    draw: (layer, u) => 1 - layer.lower + (layer.upper + layer.lower) * u(0),
    apply: (layer, x, g, factors, y) => {
      adjustContrast(x, g, factors, layer.valueRange[0], layer.valueRange[1], y);
    },
    grad: (layer, dy, x, g, factors, dx) => {
      adjustContrastGrad(dy, x, g, factors, layer.valueRange[0], layer.valueRange[1], dx);
    },
  }),
});
