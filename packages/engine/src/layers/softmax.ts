import { activationBackward } from "./activation_backward.ts";
import type { LayerTraining } from "../layer_training.ts";
import {
  applyActivation,
  type CallContext,
  Layer,
  type LayerBuildOptions,
  type LayerConfig,
} from "../layer.ts";
import { LayerConfigError } from "../errors.ts";
import type { DeviceTensor, Shape } from "../tensor.ts";
import { copyDevice } from "./activation.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** Keras `Softmax` layer on the last axis (other axes are refused by name). */
export class Softmax extends Layer {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Softmax", config, options);
  }

  computeOutputShape(inputShape: Shape): Shape {
    const axis = this.config.axis ?? -1;
    const rank = inputShape.length + 1;
    if (
      axis !== -1 && axis !== rank - 1 &&
      !(Array.isArray(axis) && axis.length === 1 && (axis[0] === -1 || axis[0] === rank - 1))
    ) {
      throw new LayerConfigError(
        this.name,
        "axis",
        `only the last axis is supported, got ${JSON.stringify(axis)}`,
      );
    }
    return [...inputShape];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const y = copyDevice(ctx, x);
    applyActivation(ctx, y, { kind: "softmax", name: "softmax" });
    return y;
  }
}

/** In training: the inference forward (x and y stay alive); backward overwrites dy with dy·f'(x). */
const SOFTMAX_TRAINING: LayerTraining<Softmax> = {
  backward(_layer, a) {
    if (a.dyIsPreActivation) return a.dy;
    return activationBackward(a.ctx, { kind: "softmax", name: "softmax" }, a.x, a.y, a.dy);
  },
  outputActivation: () => "softmax",
};

/** Softmax in ONNX: Softmax over the last axis (the only axis the layer takes). */
function softmaxOnnx(_layer: Softmax, ctx: OnnxLayerContext): void {
  ctx.node("Softmax", [ctx.inputs[0]], [ctx.output], { axis: { int: -1 } });
}

/** The `Softmax` layer class (see `layer_class.ts`). */
export const SOFTMAX: LayerClass<Softmax> = defineLayer({
  className: "Softmax",
  create: (config, options) => new Softmax(config, options),
  training: SOFTMAX_TRAINING,
  onnx: softmaxOnnx,
});
