import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import {
  ELEMENTWISE_MERGE_TRAINING,
  ElementwiseMerge,
  elementwiseMergeOnnx,
  type ElementwiseOp,
} from "./merge.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/**
 * Keras `Maximum`: the element-wise maximum of its inputs; ties go to the earlier input (its gradient too),
 * and in Keras 3 only an input's valid rows take part (see {@link ElementwiseMerge}).
 */
export class Maximum extends ElementwiseMerge {
  readonly op: ElementwiseOp = "maximum";

  constructor(config: LayerConfig = {}, options: LayerBuildOptions = {}) {
    super("Maximum", config, options);
  }
}

/** The `Maximum` layer class (see `layer_class.ts`). */
export const MAXIMUM: LayerClass<Maximum> = defineLayer<Maximum>({
  className: "Maximum",
  create: (config, options) => new Maximum(config, options),
  training: ELEMENTWISE_MERGE_TRAINING,
  onnx: elementwiseMergeOnnx,
});
