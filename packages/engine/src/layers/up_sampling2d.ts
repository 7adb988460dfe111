import { requireChannelsLast } from "../conv_geometry.ts";
import { LayerConfigError, UnsupportedLayerError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** The interpolations the engine runs (Keras also has bicubic and lanczos3/5). */
export type UpSamplingInterpolation = "nearest" | "bilinear";

/**
 * Keras `UpSampling2D` (NHWC): `size` (an integer or two) upsampling factors for rows and columns.
 * `nearest` repeats every row and column (Keras 3 `ops.repeat`); `bilinear` is Keras's
 * `ops.image.resize` (TensorFlow's ResizeBilinear with half-pixel centres, no antialias). Models
 * written by TF.js (`keras_version` "tfjs-layers …") get TF.js's `resizeBilinear` default instead,
 * source = dst·in/out without half-pixel centres, which is what TF.js computes for them. Other
 * interpolations and `channels_first` are refused by name.
 */
export class UpSampling2D extends Layer {
  readonly size: [number, number];
  readonly interpolation: UpSamplingInterpolation;
  /** Bilinear sampling with half-pixel centres (Keras) or TF.js's legacy mapping. */
  readonly halfPixel: boolean;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("UpSampling2D", config, options);
    requireChannelsLast(config, "UpSampling2D", this.name);
    this.size = this.intTuple("size", 2, 2) as [number, number];
    const raw = config.interpolation ?? "nearest";
    const interpolation = typeof raw === "string" ? raw.toLowerCase() : raw;
    if (interpolation !== "nearest" && interpolation !== "bilinear") {
      if (
        typeof interpolation === "string" &&
        /^(bicubic|lanczos[35]|area|gaussian|mitchellcubic)$/.test(interpolation)
      ) {
        throw new UnsupportedLayerError(
          "UpSampling2D",
          this.name,
          `interpolation ${JSON.stringify(raw)}; only "nearest" and "bilinear" are supported`,
        );
      }
      throw new LayerConfigError(
        this.name,
        "interpolation",
        `expected "nearest" or "bilinear", got ${JSON.stringify(raw)}`,
      );
    }
    this.interpolation = interpolation;
    this.halfPixel = !/tfjs/.test(options.kerasVersion ?? "");
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 3, "(height, width, channels) ");
    const [h, w, c] = inputShape;
    return [h === null ? null : h * this.size[0], w === null ? null : w * this.size[1], c];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const [batch, h, w, c] = x.shape;
    const [fh, fw] = this.size;
    const y = this.allocOutput(ctx, [batch, h * fh, w * fw, c]);
    if (this.interpolation === "nearest") {
      ctx.kernels.upsampleNearest(x.ptr, y.ptr, batch, h, w, c, fh, fw);
    } else {
      ctx.kernels.resizeBilinear(
        x.ptr,
        y.ptr,
        batch,
        h,
        w,
        c,
        h * fh,
        w * fw,
        this.halfPixel ? 1 : 0,
      );
    }
    return y;
  }
}

/** Training: dx sums each input cell's fh × fw block (nearest) or its bilinear weights' share. */
const UP_SAMPLING2D_TRAINING: LayerTraining<UpSampling2D> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    const [batch, h, w, c] = a.x.shape;
    const [fh, fw] = layer.size;
    const { kernels, heap } = a.ctx;
    const dx: DeviceTensor = {
      ptr: heap.alloc(sizeOf(a.x.shape) * 4),
      shape: [...a.x.shape],
      dtype: "float32",
    };
    if (layer.interpolation === "nearest") {
      kernels.upsampleNearestGrad(a.dy.ptr, dx.ptr, batch, h, w, c, fh, fw);
    } else {
      kernels.resizeBilinearGrad(
        a.dy.ptr,
        dx.ptr,
        batch,
        h,
        w,
        c,
        h * fh,
        w * fw,
        layer.halfPixel ? 1 : 0,
      );
    }
    return dx;
  },
};

/**
 * UpSampling2D in ONNX: Resize of height and width by the integer factors — nearest repeats each
 * pixel (asymmetric coordinates, floor), bilinear samples at half-pixel centres as Keras (TF.js
 * files: its legacy asymmetric mapping).
 */
function upSampling2dOnnx(layer: UpSampling2D, ctx: OnnxLayerContext): void {
  const scales = ctx.initializer(
    "scales",
    { float32: Float32Array.of(1, layer.size[0], layer.size[1], 1) },
    [4],
  );
  const nearest = layer.interpolation === "nearest";
  ctx.node("Resize", [ctx.inputs[0], "", scales], [ctx.output], {
    mode: { string: nearest ? "nearest" : "linear" },
    coordinate_transformation_mode: {
      string: nearest || !layer.halfPixel ? "asymmetric" : "half_pixel",
    },
    ...(nearest ? { nearest_mode: { string: "floor" } } : {}),
  });
}

/** The `UpSampling2D` layer class (see `layer_class.ts`). */
export const UP_SAMPLING2D: LayerClass<UpSampling2D> = defineLayer({
  className: "UpSampling2D",
  create: (config, options) => new UpSampling2D(config, options),
  training: UP_SAMPLING2D_TRAINING,
  onnx: upSampling2dOnnx,
});
