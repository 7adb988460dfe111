import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { ElementwiseMerge, type ElementwiseOp } from "./merge.ts";

/**
 * Keras `Average`: the element-wise mean of its inputs (broadcasting as {@link ElementwiseMerge}).
 */
export class Average extends ElementwiseMerge {
  readonly op: ElementwiseOp = "average";

  constructor(config: LayerConfig = {}, options: LayerBuildOptions = {}) {
    super("Average", config, options);
  }
}
