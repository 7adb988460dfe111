import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { Pooling2D } from "./pooling2d.ts";

/** Keras `AveragePooling2D` (NHWC); with `same` padding divides by the real cells of a window. */
export class AveragePooling2D extends Pooling2D {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("AveragePooling2D", "avg", config, options);
  }
}
