import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { GlobalPooling2D, globalPooling2dOnnx, globalPoolingTraining } from "./global_pooling2d.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/** Keras `GlobalAveragePooling2D` (NHWC), with `keepdims`. */
export class GlobalAveragePooling2D extends GlobalPooling2D {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("GlobalAveragePooling2D", "avg", config, options);
  }
}

/** The `GlobalAveragePooling2D` layer class (see `layer_class.ts`). */
export const GLOBAL_AVERAGE_POOLING2D: LayerClass<GlobalAveragePooling2D> = defineLayer({
  className: "GlobalAveragePooling2D",
  create: (config, options) => new GlobalAveragePooling2D(config, options),
  training: globalPoolingTraining(1),
  onnx: globalPooling2dOnnx("ReduceMean"),
});
