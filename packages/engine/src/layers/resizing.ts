import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { LayerConfigError, UnsupportedLayerError } from "../errors.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import type { DeviceTensor, Shape } from "../tensor.ts";
import {
  aspectCropWindow,
  type CropWindow,
  type Interpolation,
  resizeNearest,
  resizeNearestGrad,
} from "./image_ops.ts";
import { emitCrop, type OnnxLayerContext } from "../onnx_emit.ts";

/**
 * One NHWC resampling: crop `window` out of the input, then resize it to `outH × outW` with
 * `interpolation` (null: no resize, the window is the output).
 */
export interface ResamplePlan {
  window: CropWindow;
  outH: number;
  outW: number;
  interpolation: Interpolation | null;
}

/**
 * Runs a plan on device: `crop2d` (when the window is not the whole image), then the SIMD
 * `resizeBilinear` kernel (half-pixel centres, as Keras 3 / TF) or the TypeScript nearest gather.
 */
export function runResample(ctx: CallContext, x: DeviceTensor, plan: ResamplePlan): DeviceTensor {
  const [batch, h, w, c] = x.shape;
  const { window: win, outH, outW } = plan;
  const whole = win.top === 0 && win.left === 0 && win.height === h && win.width === w;
  const alloc = (n: number) => ctx.heap.alloc(n * 4);
  let src = x.ptr;
  if (!whole) {
    src = alloc(batch * win.height * win.width * c);
    ctx.kernels.crop2d(x.ptr, src, batch, h, w, c, win.top, win.left, win.height, win.width);
  }
  const shape = [batch, outH, outW, c];
  let yPtr: number;
  if (plan.interpolation === null) {
    yPtr = src;
    src = 0;
  } else {
    yPtr = alloc(batch * outH * outW * c);
    const g = { batch, h: win.height, w: win.width, c };
    if (plan.interpolation === "bilinear") {
      ctx.kernels.resizeBilinear(src, yPtr, batch, g.h, g.w, c, outH, outW, 1);
    } else {
      const n = batch * g.h * g.w * c;
      resizeNearest(
        ctx.heap.f32(src, n),
        g,
        outH,
        outW,
        ctx.heap.f32(yPtr, batch * outH * outW * c),
      );
    }
  }
  if (!whole && src !== 0) ctx.heap.free(src);
  return { ptr: yPtr, shape, dtype: "float32" };
}

/** Backward of {@link runResample}: dx for dy (a fresh buffer of x's shape). */
export function runResampleGrad(
  ctx: CallContext,
  dy: DeviceTensor,
  xShape: readonly number[],
  plan: ResamplePlan,
): DeviceTensor {
  const [batch, h, w, c] = xShape;
  const { window: win, outH, outW } = plan;
  const whole = win.top === 0 && win.left === 0 && win.height === h && win.width === w;
  const alloc = (n: number) => ctx.heap.alloc(n * 4);
  const winSize = batch * win.height * win.width * c;
  let dWin = dy.ptr;
  if (plan.interpolation !== null) {
    dWin = alloc(winSize);
    const g = { batch, h: win.height, w: win.width, c };
    if (plan.interpolation === "bilinear") {
      ctx.kernels.resizeBilinearGrad(dy.ptr, dWin, batch, g.h, g.w, c, outH, outW, 1);
    } else {
      const n = batch * outH * outW * c;
      resizeNearestGrad(ctx.heap.f32(dy.ptr, n), g, outH, outW, ctx.heap.f32(dWin, winSize));
    }
  }
  let dx = dWin;
  if (!whole) {
    dx = alloc(batch * h * w * c);
    ctx.kernels.crop2dGrad(dWin, dx, batch, h, w, c, win.top, win.left, win.height, win.width);
    if (dWin !== dy.ptr) ctx.heap.free(dWin);
  } else if (dWin === dy.ptr) {
    // Same size, no resize: dx is dy copied (the trainer owns dy's buffer).
    dx = alloc(winSize);
    ctx.heap.f32(dx, winSize).set(ctx.heap.f32(dy.ptr, winSize));
  }
  return { ptr: dx, shape: [...xShape], dtype: "float32" };
}

/**
 * The ONNX hook of the layers that run a {@link ResamplePlan} (Resizing, CenterCrop): a Slice of
 * the window, then Resize to the output size — bilinear with half-pixel centres, nearest as
 * `floor((o + ½)·in/out)` (half-pixel, ties up). Needs a static height and width.
 */
export function resampleOnnx<L extends Layer & { plan(h: number, w: number): ResamplePlan }>(
  layer: L,
  ctx: OnnxLayerContext,
): void {
  const [h, w, c] = ctx.inputShapes[0];
  if (h === null || w === null || c === null) ctx.refuse("an input of unknown size");
  const plan = layer.plan(h as number, w as number);
  const win = plan.window;
  const whole = win.top === 0 && win.left === 0 && win.height === h && win.width === w;
  let x = ctx.inputs[0];
  if (!whole) {
    const cropped = plan.interpolation === null ? ctx.output : ctx.fresh("window");
    const crops = [
      [win.top, (h as number) - win.top - win.height],
      [win.left, (w as number) - win.left - win.width],
    ] as const;
    emitCrop(ctx, x, cropped, [1, 2], crops, [h, w]);
    x = cropped;
  }
  if (plan.interpolation === null) {
    if (whole) ctx.node("Identity", [x], [ctx.output]);
    return;
  }
  // Resize by sizes (scales could round the output size down): [batch, outH, outW, c].
  const shape = ctx.fresh("shape"), batch = ctx.fresh("batch"), sizes = ctx.fresh("sizes");
  ctx.node("Shape", [x], [shape]);
  ctx.node("Slice", [shape, ctx.int64s("starts", [0]), ctx.int64s("ends", [1])], [batch]);
  ctx.node("Concat", [batch, ctx.int64s("size", [plan.outH, plan.outW, c as number])], [sizes], {
    axis: { int: 0 },
  });
  const nearest = plan.interpolation === "nearest";
  ctx.node("Resize", [x, "", "", sizes], [ctx.output], {
    mode: { string: nearest ? "nearest" : "linear" },
    coordinate_transformation_mode: { string: "half_pixel" },
    ...(nearest ? { nearest_mode: { string: "round_prefer_ceil" } } : {}),
  });
}

/** The `height` / `width` fields of CenterCrop and Resizing: positive integers. */
export function targetSize(layer: Layer, config: LayerConfig): [number, number] {
  const get = (field: string) => {
    const v = config[field];
    if (!Number.isInteger(v) || (v as number) < 1) {
      throw new LayerConfigError(
        layer.name,
        field,
        `expected a positive integer, got ${JSON.stringify(v)}`,
      );
    }
    return v as number;
  };
  return [get("height"), get("width")];
}

/**
 * Keras `Resizing` (NHWC): resizes images to `height × width` with `interpolation` bilinear
 * (default; TF's half-pixel resize, no antialiasing) or nearest; with `crop_to_aspect_ratio` the
 * largest centred window of the target aspect ratio is cropped first (`smart_resize`).
 * `pad_to_aspect_ratio` and the bicubic / lanczos / area interpolations are refused.
 */
export class Resizing extends Layer {
  readonly height: number;
  readonly width: number;
  readonly interpolation: Interpolation;
  readonly cropToAspectRatio: boolean;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Resizing", config, options);
    [this.height, this.width] = targetSize(this, config);
    const interpolation = config.interpolation ?? "bilinear";
    if (interpolation !== "bilinear" && interpolation !== "nearest") {
      throw new UnsupportedLayerError(
        "Resizing",
        this.name,
        `interpolation ${String(interpolation)}`,
      );
    }
    this.interpolation = interpolation;
    this.cropToAspectRatio = this.bool("crop_to_aspect_ratio", false);
    if (this.bool("pad_to_aspect_ratio", false)) {
      throw new UnsupportedLayerError("Resizing", this.name, "pad_to_aspect_ratio");
    }
    if ((config.data_format ?? "channels_last") !== "channels_last") {
      throw new UnsupportedLayerError(
        "Resizing",
        this.name,
        `data_format ${String(config.data_format)}`,
      );
    }
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 3, "NHWC image ");
    return [this.height, this.width, inputShape[2]];
  }

  /** The crop + resize this layer runs on an input of `h × w`. */
  plan(h: number, w: number): ResamplePlan {
    const window = this.cropToAspectRatio
      ? aspectCropWindow(h, w, this.height, this.width)
      : { top: 0, left: 0, height: h, width: w };
    return { window, outH: this.height, outW: this.width, interpolation: this.interpolation };
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    return runResample(ctx, x, this.plan(x.shape[1], x.shape[2]));
  }
}

/** Resizing in training: backward spreads dy back over the source cells (and the crop). */
const RESIZING_TRAINING: LayerTraining<Resizing> = {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    return runResampleGrad(a.ctx, a.dy, a.x.shape, layer.plan(a.x.shape[1], a.x.shape[2]));
  },
};

/** The `Resizing` layer class (see `layer_class.ts`). */
export const RESIZING: LayerClass<Resizing> = defineLayer({
  className: "Resizing",
  create: (config, options) => new Resizing(config, options),
  training: RESIZING_TRAINING,
  onnx: resampleOnnx,
});
