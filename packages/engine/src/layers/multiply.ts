import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import {
  ELEMENTWISE_MERGE_TRAINING,
  ElementwiseMerge,
  elementwiseMergeOnnx,
  type ElementwiseOp,
} from "./merge.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/**
 * Keras `Multiply`: the element-wise product of its inputs; in Keras 3 masked rows of an input count as 1
 * and rows no input covers are 0 (see {@link ElementwiseMerge}).
 */
export class Multiply extends ElementwiseMerge {
  readonly op: ElementwiseOp = "multiply";

  constructor(config: LayerConfig = {}, options: LayerBuildOptions = {}) {
    super("Multiply", config, options);
  }
}

/** The `Multiply` layer class (see `layer_class.ts`). */
export const MULTIPLY: LayerClass<Multiply> = defineLayer<Multiply>({
  className: "Multiply",
  create: (config, options) => new Multiply(config, options),
  training: ELEMENTWISE_MERGE_TRAINING,
  onnx: elementwiseMergeOnnx,
});
