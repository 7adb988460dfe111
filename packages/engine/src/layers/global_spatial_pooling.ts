/**
 * Shared body of Keras `GlobalMaxPooling2D` / `GlobalAveragePooling2D` and
 * `GlobalMaxPooling3D` / `GlobalAveragePooling3D` (channels_last).
 *
 * @module
 */
import { InputShapeError } from "../errors.ts";
import type { CallContext, LayerBuildOptions, LayerConfig } from "../layer.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { emitReduce, type OnnxLayerContext } from "../onnx_emit.ts";
import { ChannelsLastPooling } from "./spatial_pooling.ts";

/**
 * Global pooling over the spatial axes of `[batch, ...spatial, channels]` → `[batch, channels]`
 * (a 1 for each spatial axis with `keepdims`). A sample's spatial cells are contiguous rows of
 * `channels`, so one pair of kernels (`globalPool2d`, `globalPool2dBackward`) runs any number of
 * spatial axes as their product of positions.
 */
export abstract class GlobalSpatialPooling extends ChannelsLastPooling {
  readonly keepdims: boolean;

  constructor(
    className: string,
    kind: "max" | "avg",
    spatialAxes: readonly string[],
    config: LayerConfig,
    options: LayerBuildOptions,
  ) {
    super(className, kind, spatialAxes, config, options);
    this.keepdims = this.bool("keepdims", false);
  }

  /** What an empty volume is refused as: "a non-empty height × width" and the like. */
  get #nonEmpty(): string {
    return `a non-empty ${this.spatialAxes.join(" × ")}`;
  }

  computeOutputShape(inputShape: Shape): Shape {
    const rank = this.spatialAxes.length;
    this.expectRank(inputShape, rank + 1, `(${this.spatialAxes.join(", ")}, channels) `);
    if (inputShape.slice(0, rank).some((d) => d === 0)) {
      throw new InputShapeError(this.name, this.#nonEmpty, formatShape(inputShape));
    }
    const channels = inputShape[rank];
    return this.keepdims ? [...this.spatialAxes.map(() => 1), channels] : [channels];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const rank = this.spatialAxes.length;
    const batch = x.shape[0], c = x.shape[rank + 1];
    const positions = sizeOf(x.shape.slice(1, rank + 1));
    if (x.shape.length !== rank + 2 || positions === 0) {
      throw new InputShapeError(
        this.name,
        `(batch, ${this.spatialAxes.join(", ")}, channels) with ${this.#nonEmpty}`,
        `[${x.shape.join(", ")}]`,
      );
    }
    const y = this.allocOutput(
      ctx,
      this.keepdims ? [batch, ...this.spatialAxes.map(() => 1), c] : [batch, c],
    );
    ctx.kernels.globalPool2d(x.ptr, y.ptr, batch, positions, c, this.isAverage ? 1 : 0);
    return y;
  }
}

/**
 * Every global spatial pooling in training: the inference forward; the backward gives each
 * channel's gradient to its first maximal position (max) or dy / positions to every position
 * (average). dy `[batch, c]` and its `keepdims` form share one layout. No weights.
 */
export const GLOBAL_SPATIAL_POOLING_TRAINING: LayerTraining<GlobalSpatialPooling> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    const { x } = a;
    const rank = layer.spatialAxes.length;
    const dx: DeviceTensor = {
      ptr: a.ctx.heap.alloc(sizeOf(x.shape) * 4),
      shape: [...x.shape],
      dtype: "float32",
    };
    a.ctx.kernels.globalPool2dBackward(
      x.ptr,
      a.dy.ptr,
      dx.ptr,
      x.shape[0],
      sizeOf(x.shape.slice(1, rank + 1)),
      x.shape[rank + 1],
      layer.isAverage ? 1 : 0,
    );
    return dx;
  },
};

/** The ONNX hook of a global spatial pooling: ReduceMean / ReduceMax over the spatial axes. */
export function globalSpatialPoolingOnnx(
  layer: GlobalSpatialPooling,
  ctx: OnnxLayerContext,
): void {
  const op = layer.isAverage ? "ReduceMean" : "ReduceMax";
  const axes = layer.spatialAxes.map((_, i) => i + 1);
  emitReduce(ctx, op, ctx.inputs[0], axes, layer.keepdims, ctx.output);
}
