import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { Pooling2D } from "./pooling2d.ts";

/** Keras `MaxPooling2D` (NHWC); padded cells never win the max. */
export class MaxPooling2D extends Pooling2D {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("MaxPooling2D", "max", config, options);
  }
}
