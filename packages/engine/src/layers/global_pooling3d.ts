/**
 * Shared body of Keras `GlobalMaxPooling3D` / `GlobalAveragePooling3D`.
 *
 * @module
 */
import { requireChannelsLast } from "../conv_geometry.ts";
import { InputShapeError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { emitReduce, type OnnxLayerContext } from "../onnx_emit.ts";

/**
 * Global pooling over depth, rows and cols of `[batch, depth, rows, cols, channels]` →
 * `[batch, channels]` (`[batch, 1, 1, 1, channels]` with `keepdims`). The D·H·W cells of a sample
 * are contiguous rows of `channels`, so GlobalPooling2D's kernels (`globalPool2d`,
 * `globalPool2dBackward`) run it with D·H·W positions. `channels_first` is refused by name.
 */
export abstract class GlobalPooling3D extends Layer {
  readonly keepdims: boolean;
  readonly isAverage: boolean;

  constructor(
    className: string,
    kind: "max" | "avg",
    config: LayerConfig,
    options: LayerBuildOptions,
  ) {
    super(className, config, options);
    requireChannelsLast(config, className, this.name);
    this.isAverage = kind === "avg";
    this.keepdims = this.bool("keepdims", false);
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 4, "(depth, rows, cols, channels) ");
    if (inputShape.slice(0, 3).some((d) => d === 0)) {
      throw new InputShapeError(
        this.name,
        "a non-empty depth × rows × cols",
        formatShape(inputShape),
      );
    }
    return this.keepdims ? [1, 1, 1, inputShape[3]] : [inputShape[3]];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const [batch, d, h, w, c] = x.shape;
    if (x.shape.length !== 5 || d * h * w === 0) {
      throw new InputShapeError(
        this.name,
        "(batch, depth, rows, cols, channels) with a non-empty depth × rows × cols",
        `[${x.shape.join(", ")}]`,
      );
    }
    const y = this.allocOutput(ctx, this.keepdims ? [batch, 1, 1, 1, c] : [batch, c]);
    ctx.kernels.globalPool2d(x.ptr, y.ptr, batch, d * h * w, c, this.isAverage ? 1 : 0);
    return y;
  }
}

/**
 * Both global 3-D poolings in training: the inference forward; the backward gives each
 * channel's gradient to its first maximal cell (max, as GlobalMaxPooling2D) or dy / (D·H·W) to
 * every cell (average). dy `[batch, c]` and its `keepdims` form share one layout.
 */
export const GLOBAL_POOLING3D_TRAINING: LayerTraining<GlobalPooling3D> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    const { x } = a;
    const [batch, d, h, w, c] = x.shape;
    const dx: DeviceTensor = {
      ptr: a.ctx.heap.alloc(sizeOf(x.shape) * 4),
      shape: [...x.shape],
      dtype: "float32",
    };
    a.ctx.kernels.globalPool2dBackward(
      x.ptr,
      a.dy.ptr,
      dx.ptr,
      batch,
      d * h * w,
      c,
      layer.isAverage ? 1 : 0,
    );
    return dx;
  },
};

/** The ONNX hook of the global 3-D poolings: a reduction over depth, height and width. */
export function globalPooling3dOnnx(layer: GlobalPooling3D, ctx: OnnxLayerContext): void {
  const op = layer.isAverage ? "ReduceMean" : "ReduceMax";
  emitReduce(ctx, op, ctx.inputs[0], [1, 2, 3], layer.keepdims, ctx.output);
}
