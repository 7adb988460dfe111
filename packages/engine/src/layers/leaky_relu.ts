import type { LayerTraining } from "../layer_training.ts";
import { ActivationCode } from "../activations.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import { copyDevice } from "./activation.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** Keras `LeakyReLU`: slope `negative_slope` (Keras 3) or `alpha` (Keras 2), default 0.3. */
export class LeakyReLU extends Layer {
  readonly negativeSlope: number;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("LeakyReLU", config, options);
    this.negativeSlope = this.num(
      config.negative_slope !== undefined ? "negative_slope" : "alpha",
      0.3,
    );
  }

  computeOutputShape(inputShape: Shape): Shape {
    return [...inputShape];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const y = copyDevice(ctx, x);
    ctx.kernels.activate(y.ptr, sizeOf(y.shape), ActivationCode.LeakyRelu, this.negativeSlope);
    return y;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }
}

/** In training: the inference forward (x and y stay alive); backward overwrites dy with dy·f'(x). */
const LEAKY_RELU_TRAINING: LayerTraining<LeakyReLU> = {
  backward(layer, a) {
    const n = sizeOf(a.dy.shape);
    a.ctx.kernels.activationGrad(
      a.x.ptr,
      0,
      a.dy.ptr,
      a.dy.ptr,
      n,
      ActivationCode.LeakyRelu,
      layer.negativeSlope,
    );
    return a.dy;
  },
};

/** LeakyReLU in ONNX: LeakyRelu with the layer's negative slope. */
function leakyReluOnnx(layer: LeakyReLU, ctx: OnnxLayerContext): void {
  ctx.node("LeakyRelu", [ctx.inputs[0]], [ctx.output], { alpha: { float: layer.negativeSlope } });
}

/** The `LeakyReLU` layer class (see `layer_class.ts`). */
export const LEAKY_RELU: LayerClass<LeakyReLU> = defineLayer({
  className: "LeakyReLU",
  create: (config, options) => new LeakyReLU(config, options),
  training: LEAKY_RELU_TRAINING,
  onnx: leakyReluOnnx,
});
