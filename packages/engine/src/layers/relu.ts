import type { LayerTraining } from "../layer_training.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { LayerConfigError } from "../errors.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import { copyDevice } from "./activation.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

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

/**
 * ReLU in ONNX: Relu / Clip(0, max_value) in the usual case; with a threshold or negative slope,
 * Keras's `x ≥ threshold ? x : slope·(x − threshold)`, then the cap.
 */
function reluOnnx(layer: ReLU, ctx: OnnxLayerContext): void {
  const x = ctx.inputs[0];
  const scalar = (v: number) => ctx.initializer("c", { float32: Float32Array.of(v) }, []);
  const max = layer.maxValue;
  if (layer.threshold === 0 && layer.negativeSlope === 0) {
    if (max === null) return ctx.node("Relu", [x], [ctx.output]);
    return ctx.node("Clip", [x, scalar(0), scalar(max)], [ctx.output]);
  }
  const above = ctx.fresh("above"), shifted = ctx.fresh("shifted"), below = ctx.fresh("below");
  ctx.node("GreaterOrEqual", [x, scalar(layer.threshold)], [above]);
  ctx.node("Sub", [x, scalar(layer.threshold)], [shifted]);
  ctx.node("Mul", [shifted, scalar(layer.negativeSlope)], [below]);
  if (max === null) return ctx.node("Where", [above, x, below], [ctx.output]);
  const uncapped = ctx.fresh("uncapped");
  ctx.node("Where", [above, x, below], [uncapped]);
  ctx.node("Min", [uncapped, scalar(max)], [ctx.output]);
}

/** The `ReLU` layer class (see `layer_class.ts`). */
export const RELU: LayerClass<ReLU> = defineLayer({
  className: "ReLU",
  create: (config, options) => new ReLU(config, options),
  training: RELU_TRAINING,
  onnx: reluOnnx,
});
