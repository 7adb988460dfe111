import { activationBackward, activationOutputKind } from "./activation_backward.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type Activation as ResolvedActivation, resolveActivation } from "../activations.ts";
import {
  applyActivation,
  type CallContext,
  Layer,
  type LayerBuildOptions,
  type LayerConfig,
} from "../layer.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { emitActivation, type OnnxLayerContext } from "../onnx_emit.ts";

/** Copies `x` to a fresh device tensor (element-wise layers never write into their input). */
export function copyDevice(ctx: CallContext, x: DeviceTensor): DeviceTensor {
  const n = sizeOf(x.shape);
  const y: DeviceTensor = { ptr: ctx.heap.alloc(n * 4), shape: [...x.shape], dtype: "float32" };
  ctx.heap.f32(y.ptr, n).set(ctx.heap.f32(x.ptr, n));
  return y;
}

/** Keras `Activation`: applies a named activation. */
export class Activation extends Layer {
  readonly activation: ResolvedActivation;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Activation", config, options);
    this.activation = resolveActivation(config.activation, this.name, options.kerasVersion);
  }

  computeOutputShape(inputShape: Shape): Shape {
    return [...inputShape];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const y = copyDevice(ctx, x);
    applyActivation(ctx, y, this.activation);
    return y;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }
}

/** In training: the inference forward (x and y stay alive); backward overwrites dy with dy·f'(x). */
const ACTIVATION_TRAINING: LayerTraining<Activation> = {
  backward(layer, a) {
    if (a.dyIsPreActivation) return a.dy;
    return activationBackward(a.ctx, layer.activation, a.x, a.y, a.dy);
  },
  outputActivation: (layer) => activationOutputKind(layer.activation),
};

/** Activation in ONNX: the activation's operator(s). */
function activationOnnx(layer: Activation, ctx: OnnxLayerContext): void {
  emitActivation(ctx, layer.activation, ctx.inputs[0], ctx.output);
}

/** The `Activation` layer class (see `layer_class.ts`). */
export const ACTIVATION: LayerClass<Activation> = defineLayer({
  className: "Activation",
  create: (config, options) => new Activation(config, options),
  training: ACTIVATION_TRAINING,
  onnx: activationOnnx,
});
