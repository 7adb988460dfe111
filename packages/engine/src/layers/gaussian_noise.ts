/**
 * Keras `GaussianNoise`.
 *
 * @module
 */
import { LayerConfigError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type DeviceTensor, type Shape, sizeOf } from "../tensor.ts";
import { fillNormal } from "./counter_random.ts";
import { identityOnnx } from "../onnx_emit.ts";

/**
 * Keras `GaussianNoise`: in training adds zero-centred normal noise of standard deviation
 * `stddev` to every element; identity at inference. Passes the mask on.
 */
export class GaussianNoise extends Layer {
  readonly stddev: number;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("GaussianNoise", config, options);
    this.stddev = this.num("stddev", undefined);
    if (!(this.stddev >= 0)) {
      throw new LayerConfigError(this.name, "stddev", `expected stddev ≥ 0, got ${this.stddev}`);
    }
  }

  computeOutputShape(inputShape: Shape): Shape {
    return [...inputShape];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, _ctx: CallContext): DeviceTensor {
    return x;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }
}

/**
 * GaussianNoise in training mode: y = x + stddev·z, z a counter-based standard normal draw of
 * the step's per-layer seed and the element's index within the whole batch (workers draw what
 * one thread draws). Backward: dx = dy.
 */
const GAUSSIAN_NOISE_TRAINING: LayerTraining<GaussianNoise> = {
  forward(layer, x, _mask, ctx) {
    if (layer.stddev <= 0 || !ctx.training) return x;
    const n = sizeOf(x.shape);
    const per = n / Math.max(1, x.shape[0]);
    const noise = new Float32Array(n);
    fillNormal(noise, ctx.seedFor(layer), ctx.sampleOffset * per);
    const y: DeviceTensor = { ptr: ctx.heap.alloc(n * 4), shape: [...x.shape], dtype: "float32" };
    const xs = ctx.heap.f32(x.ptr, n), ys = ctx.heap.f32(y.ptr, n);
    const s = layer.stddev;
    for (let i = 0; i < n; i++) ys[i] = xs[i] + s * noise[i];
    return y;
  },

  backward: (_layer, a) => a.dy,
};

/** The `GaussianNoise` layer class (see `layer_class.ts`). */
export const GAUSSIAN_NOISE: LayerClass<GaussianNoise> = defineLayer({
  className: "GaussianNoise",
  create: (config, options) => new GaussianNoise(config, options),
  training: GAUSSIAN_NOISE_TRAINING,
  // Inactive at inference: the exported model is an inference graph.
  onnx: identityOnnx,
});
