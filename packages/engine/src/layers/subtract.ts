import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import {
  ELEMENTWISE_MERGE_TRAINING,
  ElementwiseMerge,
  elementwiseMergeOnnx,
  type ElementwiseOp,
} from "./merge.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/**
 * Keras `Subtract`: `inputs[0] - inputs[1]`, exactly two inputs (broadcasting as {@link ElementwiseMerge}).
 */
export class Subtract extends ElementwiseMerge {
  readonly op: ElementwiseOp = "subtract";

  constructor(config: LayerConfig = {}, options: LayerBuildOptions = {}) {
    super("Subtract", config, options);
  }

  protected override get inputCountRange(): [number, number] {
    return [2, 2];
  }
}

/** The `Subtract` layer class (see `layer_class.ts`). */
export const SUBTRACT: LayerClass<Subtract> = defineLayer<Subtract>({
  className: "Subtract",
  create: (config, options) => new Subtract(config, options),
  training: ELEMENTWISE_MERGE_TRAINING,
  onnx: elementwiseMergeOnnx,
});
