import type { LayerTraining } from "../layer_training.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { LayerConfigError } from "../errors.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import { copyDevice } from "./activation.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/** Keras `ReLU` layer: `max_value`, `negative_slope`, `threshold`. */
export class ReLU extends Layer {
  readonly maxValue: number | null;
  readonly negativeSlope: number;
  readonly threshold: number;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("ReLU", config, options);
    const mv = config.max_value ?? null;
    if (mv !== null && (typeof mv !== "number" || mv < 0)) {
      throw new LayerConfigError(
        this.name,
        "max_value",
        `expected null or a number ≥ 0, got ${JSON.stringify(mv)}`,
      );
    }
    this.maxValue = mv;
    this.negativeSlope = this.num("negative_slope", 0);
    this.threshold = this.num("threshold", 0);
  }

  computeOutputShape(inputShape: Shape): Shape {
    return [...inputShape];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const y = copyDevice(ctx, x);
    ctx.kernels.reluGeneral(
      y.ptr,
      sizeOf(y.shape),
      this.negativeSlope,
      this.maxValue ?? -1,
      this.threshold,
    );
    return y;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }
}

/** In training: the inference forward (x and y stay alive); backward overwrites dy with dy·f'(x). */
const RELU_TRAINING: LayerTraining<ReLU> = {
  backward(layer, a) {
    const n = sizeOf(a.dy.shape);
    a.ctx.kernels.reluGeneralGrad(
      a.x.ptr,
      a.dy.ptr,
      a.dy.ptr,
      n,
      layer.negativeSlope,
      layer.maxValue ?? -1,
      layer.threshold,
    );
    return a.dy;
  },
};

/** The `ReLU` layer class (see `layer_class.ts`). */
export const RELU: LayerClass<ReLU> = defineLayer({
  className: "ReLU",
  create: (config, options) => new ReLU(config, options),
  training: RELU_TRAINING,
});
