import { type LayerTraining, reshaped } from "../layer_training.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { InputShapeError, LayerConfigError } from "../errors.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** Keras `Reshape`: `target_shape` without batch; one `-1` is inferred. Zero-copy. */
export class Reshape extends Layer {
  readonly targetShape: number[];

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Reshape", config, options);
    const t = config.target_shape;
    if (
      !Array.isArray(t) || !t.every((d) => Number.isInteger(d) && (d > 0 || d === -1)) ||
      t.filter((d) => d === -1).length > 1
    ) {
      throw new LayerConfigError(
        this.name,
        "target_shape",
        `expected positive integers and at most one -1, got ${JSON.stringify(t)}`,
      );
    }
    this.targetShape = t;
  }

  #resolve(inputShape: readonly (number | null)[]): number[] {
    if (inputShape.some((d) => d === null)) {
      throw new InputShapeError(this.name, "fully known dimensions", formatShape([...inputShape]));
    }
    const total = sizeOf(inputShape as number[]);
    const known = this.targetShape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const out = this.targetShape.map((d) => (d === -1 ? total / known : d));
    if (sizeOf(out) !== total || !out.every(Number.isInteger)) {
      throw new InputShapeError(
        this.name,
        `${total} values to fit target_shape [${this.targetShape}]`,
        formatShape([...inputShape]),
      );
    }
    return out;
  }

  computeOutputShape(inputShape: Shape): Shape {
    return this.#resolve(inputShape);
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, _ctx: CallContext): DeviceTensor {
    return { ptr: x.ptr, shape: [x.shape[0], ...this.#resolve(x.shape.slice(1))], dtype: x.dtype };
  }
}

/** Training: the shape only changes, so dx is dy with x's shape. */
const RESHAPE_TRAINING: LayerTraining<Reshape> = {
  backward: (_layer, a) => (a.needInputGrad ? reshaped(a.dy, a.x.shape) : null),
};

/** Reshape in ONNX: Reshape to the resolved target shape behind the batch axis (0: kept). */
function reshapeOnnx(_layer: Reshape, ctx: OnnxLayerContext): void {
  const shape = ctx.int64s("shape", [0, ...ctx.outputShape.map((d) => d ?? -1)]);
  ctx.node("Reshape", [ctx.inputs[0], shape], [ctx.output]);
}

/** The `Reshape` layer class (see `layer_class.ts`). */
export const RESHAPE: LayerClass<Reshape> = defineLayer({
  className: "Reshape",
  create: (config, options) => new Reshape(config, options),
  training: RESHAPE_TRAINING,
  onnx: reshapeOnnx,
});
