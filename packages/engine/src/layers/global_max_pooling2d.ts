import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { GlobalPooling2D, globalPooling2dOnnx, globalPoolingTraining } from "./global_pooling2d.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/** Keras `GlobalMaxPooling2D` (NHWC), with `keepdims`. */
export class GlobalMaxPooling2D extends GlobalPooling2D {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("GlobalMaxPooling2D", "max", config, options);
  }
}

/** The `GlobalMaxPooling2D` layer class (see `layer_class.ts`). */
export const GLOBAL_MAX_POOLING2D: LayerClass<GlobalMaxPooling2D> = defineLayer({
  className: "GlobalMaxPooling2D",
  create: (config, options) => new GlobalMaxPooling2D(config, options),
  training: globalPoolingTraining(0),
  onnx: globalPooling2dOnnx("ReduceMax"),
});
