import { type LayerTraining, reshaped } from "../layer_training.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { InputShapeError, UnsupportedLayerError } from "../errors.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** Keras `Flatten`: row-major over (H, W, C) for channels_last — a zero-copy reshape. */
export class Flatten extends Layer {
  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Flatten", config, options);
    if ((config.data_format ?? "channels_last") !== "channels_last") {
      throw new UnsupportedLayerError("Flatten", this.name, `data_format ${config.data_format}`);
    }
  }

  computeOutputShape(inputShape: Shape): Shape {
    if (inputShape.some((d) => d === null)) {
      throw new InputShapeError(this.name, "fully known dimensions", formatShape(inputShape));
    }
    return [sizeOf(inputShape as number[])];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, _ctx: CallContext): DeviceTensor {
    return { ptr: x.ptr, shape: [x.shape[0], sizeOf(x.shape.slice(1))], dtype: x.dtype };
  }
}

/** Training: the shape only changes, so dx is dy with x's shape. */
const FLATTEN_TRAINING: LayerTraining<Flatten> = {
  backward: (_layer, a) => (a.needInputGrad ? reshaped(a.dy, a.x.shape) : null),
};

/** Flatten in ONNX: Flatten from axis 1 (row-major over channels-last axes, as Keras). */
function flattenOnnx(_layer: Flatten, ctx: OnnxLayerContext): void {
  ctx.node("Flatten", [ctx.inputs[0]], [ctx.output], { axis: { int: 1 } });
}

/** The `Flatten` layer class (see `layer_class.ts`). */
export const FLATTEN: LayerClass<Flatten> = defineLayer({
  className: "Flatten",
  create: (config, options) => new Flatten(config, options),
  training: FLATTEN_TRAINING,
  onnx: flattenOnnx,
});
