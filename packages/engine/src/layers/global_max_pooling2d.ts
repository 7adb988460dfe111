import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { GlobalPooling2D } from "./global_pooling2d.ts";

/** Keras `GlobalMaxPooling2D` (NHWC), with `keepdims`. */
export class GlobalMaxPooling2D extends GlobalPooling2D {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("GlobalMaxPooling2D", "max", config, options);
  }
}
