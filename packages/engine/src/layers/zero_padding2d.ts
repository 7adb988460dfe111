import { requireChannelsLast } from "../conv_geometry.ts";
import { LayerConfigError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** Largest padding per side a config may ask for (keeps the output size a 32-bit integer). */
const MAX_PADDING = 65535;

/**
 * Keras `ZeroPadding2D` (NHWC): `padding` is an integer (every side), `(h, w)` (top and bottom h,
 * left and right w) or `((top, bottom), (left, right))`; the added rows and columns are zeros.
 * `channels_first` is refused by name. No weights; masks end here (Keras does not carry them).
 */
export class ZeroPadding2D extends Layer {
  /** `[[top, bottom], [left, right]]`. */
  readonly padding: [[number, number], [number, number]];

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("ZeroPadding2D", config, options);
    requireChannelsLast(config, "ZeroPadding2D", this.name);
    this.padding = ZeroPadding2D.#parse(config.padding ?? [[1, 1], [1, 1]], this.name);
  }

  static #parse(v: unknown, name: string): [[number, number], [number, number]] {
    const n = (d: unknown) =>
      Number.isInteger(d) && (d as number) >= 0 && (d as number) <= MAX_PADDING;
    if (n(v)) return [[v as number, v as number], [v as number, v as number]];
    if (Array.isArray(v) && v.length === 2) {
      if (v.every(n)) return [[v[0], v[0]], [v[1], v[1]]];
      if (v.every((p) => Array.isArray(p) && p.length === 2 && p.every(n))) {
        return [[v[0][0], v[0][1]], [v[1][0], v[1][1]]];
      }
    }
    throw new LayerConfigError(
      name,
      "padding",
      `expected an integer in [0, ${MAX_PADDING}], (h, w) or ((top, bottom), (left, right)), ` +
        `got ${JSON.stringify(v)}`,
    );
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 3, "(height, width, channels) ");
    const [[top, bottom], [left, right]] = this.padding;
    const [h, w, c] = inputShape;
    return [h === null ? null : h + top + bottom, w === null ? null : w + left + right, c];
  }

  // Padding is the transpose of cropping: the forward scatters x into a zeroed larger image as
  // Cropping2D's backward does (crop2dGrad), and the backward crops dy back (crop2d).
  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const [batch, h, w, c] = x.shape;
    const [[top, bottom], [left, right]] = this.padding;
    const outH = h + top + bottom;
    const outW = w + left + right;
    const y = this.allocOutput(ctx, [batch, outH, outW, c]);
    ctx.kernels.crop2dGrad(x.ptr, y.ptr, batch, outH, outW, c, top, left, h, w);
    return y;
  }
}

/** Training: the inference forward; dx is the window of dy the input was copied to. */
const ZERO_PADDING2D_TRAINING: LayerTraining<ZeroPadding2D> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    const [batch, h, w, c] = a.x.shape;
    const [, outH, outW] = a.dy.shape;
    const [[top], [left]] = layer.padding;
    const dx: DeviceTensor = {
      ptr: a.ctx.heap.alloc(sizeOf(a.x.shape) * 4),
      shape: [...a.x.shape],
      dtype: "float32",
    };
    a.ctx.kernels.crop2d(a.dy.ptr, dx.ptr, batch, outH, outW, c, top, left, h, w);
    return dx;
  },
};

/** ZeroPadding2D in ONNX: a constant Pad of height and width (channels-last axes 1 and 2). */
function zeroPadding2dOnnx(layer: ZeroPadding2D, ctx: OnnxLayerContext): void {
  const [[top, bottom], [left, right]] = layer.padding;
  const pads = ctx.int64s("pads", [0, top, left, 0, 0, bottom, right, 0]);
  ctx.node("Pad", [ctx.inputs[0], pads], [ctx.output], { mode: { string: "constant" } });
}

/** The `ZeroPadding2D` layer class (see `layer_class.ts`). */
export const ZERO_PADDING2D: LayerClass<ZeroPadding2D> = defineLayer({
  className: "ZeroPadding2D",
  create: (config, options) => new ZeroPadding2D(config, options),
  training: ZERO_PADDING2D_TRAINING,
  onnx: zeroPadding2dOnnx,
});
