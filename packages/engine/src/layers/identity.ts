/**
 * Keras `Identity`.
 *
 * @module
 */
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import type { DeviceTensor, Shape } from "../tensor.ts";
import { identityOnnx } from "../onnx_emit.ts";

/** Keras `Identity`: returns its input unchanged (and passes the mask on). */
export class Identity extends Layer {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Identity", config, options);
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

/** In training: the identity; dx = dy. */
const IDENTITY_TRAINING: LayerTraining<Identity> = {
  backward: (_layer, a) => a.dy,
};

/** The `Identity` layer class (see `layer_class.ts`). */
export const IDENTITY: LayerClass<Identity> = defineLayer({
  className: "Identity",
  create: (config, options) => new Identity(config, options),
  training: IDENTITY_TRAINING,
  // Inactive at inference: the exported model is an inference graph.
  onnx: identityOnnx,
});
