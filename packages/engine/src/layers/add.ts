import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import {
  ELEMENTWISE_MERGE_TRAINING,
  ElementwiseMerge,
  elementwiseMergeOnnx,
  type ElementwiseOp,
} from "./merge.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/**
 * Keras `Add`: the element-wise sum of its inputs (broadcasting as {@link ElementwiseMerge}).
 */
export class Add extends ElementwiseMerge {
  readonly op: ElementwiseOp = "add";

  constructor(config: LayerConfig = {}, options: LayerBuildOptions = {}) {
    super("Add", config, options);
  }
}

/** The `Add` layer class (see `layer_class.ts`). */
export const ADD: LayerClass<Add> = defineLayer<Add>({
  className: "Add",
  create: (config, options) => new Add(config, options),
  training: ELEMENTWISE_MERGE_TRAINING,
  onnx: elementwiseMergeOnnx,
});
