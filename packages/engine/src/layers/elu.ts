/**
 * Keras `ELU` layer.
 *
 * @module
 */
import { ActivationCode } from "../activations.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/**
 * Keras `ELU`: y = x for x > 0, alpha·(eˣ − 1) otherwise (`alpha` default 1.0; any finite value,
 * as Keras accepts). The `elu` activation kernel with the layer's alpha. Passes the mask on.
 */
export class ELU extends Layer {
  readonly alpha: number;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("ELU", config, options);
    this.alpha = this.num("alpha", 1.0);
  }

  computeOutputShape(inputShape: Shape): Shape {
    return [...inputShape];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const n = sizeOf(x.shape);
    const y = this.allocOutput(ctx, [...x.shape]);
    ctx.heap.f32(y.ptr, n).set(ctx.heap.f32(x.ptr, n));
    ctx.kernels.activate(y.ptr, n, ActivationCode.Elu, this.alpha);
    return y;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }
}

/**
 * ELU in training: the inference forward (x stays alive); backward overwrites dy with
 * dy·f'(x), f'(x) = 1 for x > 0 and alpha·eˣ otherwise (TF's gradient of its elu).
 */
const ELU_TRAINING: LayerTraining<ELU> = {
  backward(layer, a) {
    const n = sizeOf(a.dy.shape);
    a.ctx.kernels.activationGrad(
      a.x.ptr,
      0,
      a.dy.ptr,
      a.dy.ptr,
      n,
      ActivationCode.Elu,
      layer.alpha,
    );
    return a.dy;
  },
};

/** ELU in ONNX: Elu with the layer's alpha. */
function eluOnnx(layer: ELU, ctx: OnnxLayerContext): void {
  ctx.node("Elu", [ctx.inputs[0]], [ctx.output], { alpha: { float: layer.alpha } });
}

/** The `ELU` layer class (see `layer_class.ts`). */
export const ELU_LAYER: LayerClass<ELU> = defineLayer({
  className: "ELU",
  create: (config, options) => new ELU(config, options),
  training: ELU_TRAINING,
  onnx: eluOnnx,
});
