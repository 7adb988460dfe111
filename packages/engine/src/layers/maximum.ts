import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { ElementwiseMerge, type ElementwiseOp } from "./merge.ts";

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
