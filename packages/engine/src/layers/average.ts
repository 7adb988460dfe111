import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import {
  ELEMENTWISE_MERGE_TRAINING,
  ElementwiseMerge,
  elementwiseMergeOnnx,
  type ElementwiseOp,
} from "./merge.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/**
 * Keras `Average`: the element-wise mean of its inputs (broadcasting as {@link ElementwiseMerge}).
 */
export class Average extends ElementwiseMerge {
  readonly op: ElementwiseOp = "average";

  constructor(config: LayerConfig = {}, options: LayerBuildOptions = {}) {
    super("Average", config, options);
  }
}

/** The `Average` layer class (see `layer_class.ts`). */
export const AVERAGE: LayerClass<Average> = defineLayer<Average>({
  className: "Average",
  create: (config, options) => new Average(config, options),
  training: ELEMENTWISE_MERGE_TRAINING,
  onnx: elementwiseMergeOnnx,
});
