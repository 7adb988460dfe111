/**
 * Keras `SpatialDropout2D`.
 *
 * @module
 */
import { LayerConfigError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import { keepScaleAt } from "./counter_random.ts";
import { identityOnnx } from "../onnx_emit.ts";

/**
 * Keras `SpatialDropout2D`: Dropout that drops whole feature maps. In training each (sample,
 * channel) is kept with probability 1 − rate and then scaled by 1/(1 − rate) (inverted
 * scaling, as Keras), else zeroed on every row and column; identity at inference. Input rank 4,
 * channels last (`data_format: "channels_last"`, Keras's default) or first.
 */
export class SpatialDropout2D extends Layer {
  readonly rate: number;
  readonly dataFormat: "channels_last" | "channels_first";

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("SpatialDropout2D", config, options);
    this.rate = this.num("rate", undefined);
    if (!(this.rate >= 0 && this.rate <= 1)) {
      throw new LayerConfigError(this.name, "rate", `expected 0 ≤ rate ≤ 1, got ${this.rate}`);
    }
    this.dataFormat = this.oneOf(
      "data_format",
      ["channels_last", "channels_first"] as const,
      "channels_last",
    );
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 3);
    return [...inputShape];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, _ctx: CallContext): DeviceTensor {
    return x;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }

  /**
   * The keep scale of every (sample, channel) of a batch slice of `batch` samples starting at
   * sample `sampleOffset` of the whole batch: `[batch × channels]`, draw (sample, channel) of
   * the step's stream `seed`.
   */
  channelScales(seed: number, batch: number, channels: number, sampleOffset: number) {
    const out = new Float32Array(batch * channels);
    for (let b = 0; b < batch; b++) {
      for (let c = 0; c < channels; c++) {
        out[b * channels + c] = keepScaleAt(seed, (sampleOffset + b) * channels + c, this.rate);
      }
    }
    return out;
  }
}

/** y = x ⊙ scale, the (sample, channel) scale broadcast over rows and columns; `y` may be `x`. */
function applyChannelScales(
  ctx: CallContext,
  layer: SpatialDropout2D,
  src: number,
  dst: number,
  shape: readonly number[],
  scales: Float32Array,
): void {
  const n = sizeOf(shape);
  const xs = ctx.heap.f32(src, n), ys = ctx.heap.f32(dst, n);
  const [batch, d1, d2, d3] = shape;
  if (layer.dataFormat === "channels_last") {
    const pixels = d1 * d2, c = d3;
    for (let b = 0; b < batch; b++) {
      for (let p = 0; p < pixels; p++) {
        const o = (b * pixels + p) * c;
        for (let k = 0; k < c; k++) ys[o + k] = xs[o + k] * scales[b * c + k];
      }
    }
  } else {
    const c = d1, pixels = d2 * d3;
    for (let b = 0; b < batch; b++) {
      for (let k = 0; k < c; k++) {
        const s = scales[b * c + k], o = (b * c + k) * pixels;
        for (let p = 0; p < pixels; p++) ys[o + p] = xs[o + p] * s;
      }
    }
  }
}

/**
 * SpatialDropout2D in training mode: the (sample, channel) keep decision is Dropout's
 * counter-based hash of the step's per-layer seed and the index sample·channels + channel
 * within the whole batch, so a batch split across workers draws the same maps. Backward: dx =
 * dy ⊙ the same scales.
 */
const SPATIAL_DROPOUT2D_TRAINING: LayerTraining<SpatialDropout2D> = {
  forward(layer, x, _mask, ctx) {
    if (layer.rate <= 0 || !ctx.training) return x;
    const channels = layer.dataFormat === "channels_last" ? x.shape[3] : x.shape[1];
    const scales = layer.channelScales(ctx.seedFor(layer), x.shape[0], channels, ctx.sampleOffset);
    const y: DeviceTensor = {
      ptr: ctx.heap.alloc(sizeOf(x.shape) * 4),
      shape: [...x.shape],
      dtype: "float32",
    };
    applyChannelScales(ctx, layer, x.ptr, y.ptr, x.shape, scales);
    ctx.tape.set(layer, scales);
    return y;
  },

  backward(layer, a) {
    const scales = a.ctx.tape.get(layer) as Float32Array | undefined;
    if (scales) applyChannelScales(a.ctx, layer, a.dy.ptr, a.dy.ptr, a.dy.shape, scales);
    return a.dy;
  },
};

/** The `SpatialDropout2D` layer class (see `layer_class.ts`). */
export const SPATIAL_DROPOUT2D: LayerClass<SpatialDropout2D> = defineLayer({
  className: "SpatialDropout2D",
  create: (config, options) => new SpatialDropout2D(config, options),
  training: SPATIAL_DROPOUT2D_TRAINING,
  // Inactive at inference: the exported model is an inference graph.
  onnx: identityOnnx,
});
