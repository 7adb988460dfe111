import type { LayerTraining } from "../layer_training.ts";
import { requireChannelsLast } from "../conv_geometry.ts";
import { InputShapeError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { emitReduce, type OnnxLayerContext } from "../onnx_emit.ts";

/**
 * Shared body of Keras `GlobalMaxPooling2D` / `GlobalAveragePooling2D` (NHWC): reduces height and
 * width; `keepdims` keeps them as 1×1.
 */
export abstract class GlobalPooling2D extends Layer {
  readonly keepdims: boolean;
  readonly #isAvg: boolean;

  constructor(
    className: string,
    kind: "max" | "avg",
    config: LayerConfig,
    options: LayerBuildOptions,
  ) {
    super(className, config, options);
    requireChannelsLast(config, className, this.name);
    this.#isAvg = kind === "avg";
    this.keepdims = this.bool("keepdims", false);
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 3, "(height, width, channels) ");
    if (inputShape[0] === 0 || inputShape[1] === 0) {
      throw new InputShapeError(this.name, "a non-empty height × width", formatShape(inputShape));
    }
    return this.keepdims ? [1, 1, inputShape[2]] : [inputShape[2]];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const [batch, h, w, c] = x.shape;
    if (h * w === 0) {
      throw new InputShapeError(this.name, "a non-empty height × width", `(${x.shape.join(", ")})`);
    }
    const y = this.allocOutput(ctx, this.keepdims ? [batch, 1, 1, c] : [batch, c]);
    ctx.kernels.globalPool2d(x.ptr, y.ptr, batch, h * w, c, this.#isAvg ? 1 : 0);
    return y;
  }
}

/**
 * GlobalMaxPooling2D / GlobalAveragePooling2D (with or without `keepdims`) in training: the
 * inference forward; backward gives each channel's gradient to its first maximal position
 * (`isAvg` 0), or dy / (h·w) to every position (`isAvg` 1). No weights.
 */
export function globalPoolingTraining(isAvg: 0 | 1): LayerTraining<GlobalPooling2D> {
  return {
    backward(_layer, a) {
      if (!a.needInputGrad) return null;
      const { x } = a;
      const [batch, h, w, c] = x.shape;
      const dx: DeviceTensor = {
        ptr: a.ctx.heap.alloc(sizeOf(x.shape) * 4),
        shape: [...x.shape],
        dtype: "float32",
      };
      // dy is [batch, c] or, with keepdims, [batch, 1, 1, c]: the same memory.
      a.ctx.kernels.globalPool2dBackward(x.ptr, a.dy.ptr, dx.ptr, batch, h * w, c, isAvg);
      return dx;
    },
  };
}

/** The ONNX hook of a global 2-D pooling: a reduction over height and width (axes 1, 2). */
export function globalPooling2dOnnx(
  op: "ReduceMax" | "ReduceMean",
): (layer: GlobalPooling2D, ctx: OnnxLayerContext) => void {
  return (layer, ctx) => emitReduce(ctx, op, ctx.inputs[0], [1, 2], layer.keepdims, ctx.output);
}
