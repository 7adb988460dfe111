import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { ElementwiseMerge, type ElementwiseOp } from "./merge.ts";

/**
 * Keras `Add`: the element-wise sum of its inputs (broadcasting as {@link ElementwiseMerge}).
 */
export class Add extends ElementwiseMerge {
  readonly op: ElementwiseOp = "add";

  constructor(config: LayerConfig = {}, options: LayerBuildOptions = {}) {
    super("Add", config, options);
  }
}
