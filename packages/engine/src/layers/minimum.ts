import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import {
  ELEMENTWISE_MERGE_TRAINING,
  ElementwiseMerge,
  elementwiseMergeOnnx,
  type ElementwiseOp,
} from "./merge.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/**
 * Keras `Minimum`: the element-wise minimum of its inputs; ties go to the earlier input (its gradient too),
 * and in Keras 3 only an input's valid rows take part (see {@link ElementwiseMerge}).
 */
export class Minimum extends ElementwiseMerge {
  readonly op: ElementwiseOp = "minimum";

  constructor(config: LayerConfig = {}, options: LayerBuildOptions = {}) {
    super("Minimum", config, options);
  }
}

/** The `Minimum` layer class (see `layer_class.ts`). */
export const MINIMUM: LayerClass<Minimum> = defineLayer<Minimum>({
  className: "Minimum",
  create: (config, options) => new Minimum(config, options),
  training: ELEMENTWISE_MERGE_TRAINING,
  onnx: elementwiseMergeOnnx,
});
