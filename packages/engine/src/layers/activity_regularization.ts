/**
 * Keras `ActivityRegularization`.
 *
 * @module
 */
import { LayerConfigError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import type { DeviceTensor, Shape } from "../tensor.ts";
import { UntrainableLayerError } from "../training/errors.ts";
import { identityOnnx } from "../onnx_emit.ts";

/**
 * Keras `ActivityRegularization`: the identity on its input; in Keras's `fit` it also adds
 * l1·Σ|x| + l2·Σx² to the loss. The engine's losses have no hook for a term added by a layer, so
 * `fit` trains this layer only when l1 = l2 = 0 and refuses otherwise
 * ({@link UntrainableLayerError}); `predict`, `evaluate` (whose loss then lacks the activity
 * term) and loading accept any l1, l2 ≥ 0. Passes the mask on.
 */
export class ActivityRegularization extends Layer {
  readonly l1: number;
  readonly l2: number;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("ActivityRegularization", config, options);
    this.l1 = this.num("l1", 0);
    this.l2 = this.num("l2", 0);
    for (const [field, v] of [["l1", this.l1], ["l2", this.l2]] as const) {
      if (v < 0) throw new LayerConfigError(this.name, field, `expected a factor ≥ 0, got ${v}`);
    }
  }

  computeOutputShape(inputShape: Shape): Shape {
    return [...inputShape];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, _ctx: CallContext): DeviceTensor {
    return x;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }
}

/** In training: the identity when l1 = l2 = 0 (dx = dy); refused otherwise (see the class). */
const ACTIVITY_REGULARIZATION_TRAINING: LayerTraining<ActivityRegularization> = {
  forward(layer, x, _mask, _ctx) {
    if (layer.l1 !== 0 || layer.l2 !== 0) {
      throw new UntrainableLayerError(
        "ActivityRegularization",
        layer.name,
        `expected l1 = 0 and l2 = 0, received l1 = ${layer.l1}, l2 = ${layer.l2}: adding an ` +
          "activity term to the loss is not supported in fit",
      );
    }
    return x;
  },

  backward: (_layer, a) => a.dy,
};

/** The `ActivityRegularization` layer class (see `layer_class.ts`). */
export const ACTIVITY_REGULARIZATION: LayerClass<ActivityRegularization> = defineLayer({
  className: "ActivityRegularization",
  create: (config, options) => new ActivityRegularization(config, options),
  // Only adds a loss in training: the identity in the exported inference graph.
  onnx: identityOnnx,
  training: ACTIVITY_REGULARIZATION_TRAINING,
});
