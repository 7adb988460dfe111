import { type LayerTraining, reshaped } from "../layer_training.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { LayerConfigError } from "../errors.ts";
import type { DeviceTensor, DType, Shape } from "../tensor.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { identityOnnx } from "../onnx_emit.ts";

/**
 * Keras `InputLayer`: declares the input shape (`batch_shape` in Keras 3, `batch_input_shape` in
 * Keras 2) and dtype. A fixed batch size in the file does not constrain predict's batch.
 */
export class InputLayer extends Layer {
  readonly declaredShape: Shape;
  readonly dtype: DType | "string";

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("InputLayer", config, options);
    const batchShape = config.batch_shape ?? config.batch_input_shape;
    const shape = batchShape !== undefined && batchShape !== null
      ? (Array.isArray(batchShape) ? batchShape.slice(1) : undefined)
      : config.shape ?? config.input_shape;
    if (
      !Array.isArray(shape) || !shape.every((d) => d === null || (Number.isInteger(d) && d >= 0))
    ) {
      throw new LayerConfigError(
        this.name,
        "batch_shape",
        `expected a list of dimensions, got ${JSON.stringify(batchShape ?? shape)}`,
      );
    }
    this.declaredShape = shape as Shape;
    const dtype = typeof config.dtype === "string" ? config.dtype : "float32";
    this.dtype = dtype === "string" ? "string" : /int/.test(dtype) ? "int32" : "float32";
  }

  computeOutputShape(inputShape: Shape): Shape {
    return [...inputShape];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, _ctx: CallContext): DeviceTensor {
    return x;
  }
}

/** Training: the shape only changes, so dx is dy with x's shape. */
const INPUT_LAYER_TRAINING: LayerTraining<InputLayer> = {
  backward: (_layer, a) => (a.needInputGrad ? reshaped(a.dy, a.x.shape) : null),
};

/** The `InputLayer` layer class (see `layer_class.ts`). */
export const INPUT_LAYER: LayerClass<InputLayer> = defineLayer({
  className: "InputLayer",
  create: (config, options) => new InputLayer(config, options),
  // The exporter names model inputs itself; a called InputLayer passes its tensor on.
  onnx: identityOnnx,
  training: INPUT_LAYER_TRAINING,
});
