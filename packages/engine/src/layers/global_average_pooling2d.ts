import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { GlobalPooling2D } from "./global_pooling2d.ts";

/** Keras `GlobalAveragePooling2D` (NHWC), with `keepdims`. */
export class GlobalAveragePooling2D extends GlobalPooling2D {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("GlobalAveragePooling2D", "avg", config, options);
  }
}
