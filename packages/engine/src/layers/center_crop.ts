import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { UnsupportedLayerError } from "../errors.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import type { DeviceTensor, Shape } from "../tensor.ts";
import { aspectCropWindow } from "./image_ops.ts";
import {
  resampleOnnx,
  type ResamplePlan,
  runResample,
  runResampleGrad,
  targetSize,
} from "./resizing.ts";

/**
 * Keras `CenterCrop` (NHWC): the central `height × width` window (start `⌊(in − out)/2⌋`). As
 * Keras 3, an input smaller than the target on either axis is instead `smart_resize`d: the
 * largest centred window of the target aspect ratio, resized bilinearly to `height × width`.
 */
export class CenterCrop extends Layer {
  readonly height: number;
  readonly width: number;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("CenterCrop", config, options);
    [this.height, this.width] = targetSize(this, config);
    if ((config.data_format ?? "channels_last") !== "channels_last") {
      throw new UnsupportedLayerError(
        "CenterCrop",
        this.name,
        `data_format ${String(config.data_format)}`,
      );
    }
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 3, "NHWC image ");
    return [this.height, this.width, inputShape[2]];
  }

  /** The crop (and, for small inputs, resize) this layer runs on an input of `h × w`. */
  plan(h: number, w: number): ResamplePlan {
    const { height, width } = this;
    if (h >= height && w >= width) {
      const window = {
        top: Math.trunc((h - height) / 2),
        left: Math.trunc((w - width) / 2),
        height,
        width,
      };
      return { window, outH: height, outW: width, interpolation: null };
    }
    return {
      window: aspectCropWindow(h, w, height, width),
      outH: height,
      outW: width,
      interpolation: "bilinear",
    };
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    return runResample(ctx, x, this.plan(x.shape[1], x.shape[2]));
  }
}

/** CenterCrop in training: backward places dy in the window (through the resize if any). */
const CENTER_CROP_TRAINING: LayerTraining<CenterCrop> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    return runResampleGrad(a.ctx, a.dy, a.x.shape, layer.plan(a.x.shape[1], a.x.shape[2]));
  },
};

/** The `CenterCrop` layer class (see `layer_class.ts`). */
export const CENTER_CROP: LayerClass<CenterCrop> = defineLayer({
  className: "CenterCrop",
  create: (config, options) => new CenterCrop(config, options),
  training: CENTER_CROP_TRAINING,
  onnx: resampleOnnx,
});
