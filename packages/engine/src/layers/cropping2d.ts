import { requireChannelsLast } from "../conv_geometry.ts";
import { InputShapeError, LayerConfigError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { emitCrop, type OnnxLayerContext } from "../onnx_emit.ts";

/**
 * Keras `Cropping2D` (NHWC): `cropping` is an integer (every side), `(h, w)` (top and bottom h,
 * left and right w) or `((top, bottom), (left, right))`. The crop must leave at least one row and
 * column (Keras refuses the layer otherwise). `channels_first` is refused by name.
 */
export class Cropping2D extends Layer {
  /** `[[top, bottom], [left, right]]`. */
  readonly cropping: [[number, number], [number, number]];

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Cropping2D", config, options);
    requireChannelsLast(config, "Cropping2D", this.name);
    this.cropping = Cropping2D.#parse(config.cropping ?? [[0, 0], [0, 0]], this.name);
  }

  static #parse(v: unknown, name: string): [[number, number], [number, number]] {
    const n = (d: unknown) => Number.isInteger(d) && (d as number) >= 0;
    if (n(v)) return [[v as number, v as number], [v as number, v as number]];
    if (Array.isArray(v) && v.length === 2) {
      if (v.every(n)) return [[v[0], v[0]], [v[1], v[1]]];
      if (v.every((p) => Array.isArray(p) && p.length === 2 && p.every(n))) {
        return [[v[0][0], v[0][1]], [v[1][0], v[1][1]]];
      }
    }
    throw new LayerConfigError(
      name,
      "cropping",
      `expected an integer ≥ 0, (h, w) or ((top, bottom), (left, right)), got ${JSON.stringify(v)}`,
    );
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 3, "(height, width, channels) ");
    const [[top, bottom], [left, right]] = this.cropping;
    const [h, w, c] = inputShape;
    if ((h !== null && h - top - bottom < 1) || (w !== null && w - left - right < 1)) {
      throw new InputShapeError(
        this.name,
        `height > ${top + bottom} and width > ${left + right} (cropping ${
          JSON.stringify(this.cropping)
        })`,
        formatShape(inputShape),
      );
    }
    return [h === null ? null : h - top - bottom, w === null ? null : w - left - right, c];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const [batch, h, w, c] = x.shape;
    const [outH, outW] = this.computeOutputShape([h, w, c]) as number[];
    const y = this.allocOutput(ctx, [batch, outH, outW, c]);
    const [[top], [left]] = this.cropping;
    ctx.kernels.crop2d(x.ptr, y.ptr, batch, h, w, c, top, left, outH, outW);
    return y;
  }
}

/** Training: dx is zero except the cropped window, which receives dy. */
const CROPPING2D_TRAINING: LayerTraining<Cropping2D> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    const [batch, h, w, c] = a.x.shape;
    const [, outH, outW] = a.dy.shape;
    const [[top], [left]] = layer.cropping;
    const dx: DeviceTensor = {
      ptr: a.ctx.heap.alloc(sizeOf(a.x.shape) * 4),
      shape: [...a.x.shape],
      dtype: "float32",
    };
    a.ctx.kernels.crop2dGrad(a.dy.ptr, dx.ptr, batch, h, w, c, top, left, outH, outW);
    return dx;
  },
};

/** Cropping2D in ONNX: a Slice of height and width (channels-last axes 1 and 2). */
function cropping2dOnnx(layer: Cropping2D, ctx: OnnxLayerContext): void {
  const [h, w] = ctx.inputShapes[0];
  emitCrop(ctx, ctx.inputs[0], ctx.output, [1, 2], layer.cropping, [h, w]);
}

/** The `Cropping2D` layer class (see `layer_class.ts`). */
export const CROPPING2D: LayerClass<Cropping2D> = defineLayer({
  className: "Cropping2D",
  create: (config, options) => new Cropping2D(config, options),
  training: CROPPING2D_TRAINING,
  onnx: cropping2dOnnx,
});
