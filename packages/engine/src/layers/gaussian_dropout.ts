/**
 * Keras `GaussianDropout`.
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
 * Keras `GaussianDropout`: in training multiplies every element by 1-centred normal noise of
 * standard deviation √(rate / (1 − rate)); identity at inference. `rate` in [0, 1) (Keras
 * divides by 1 − rate). Passes the mask on.
 */
export class GaussianDropout extends Layer {
  readonly rate: number;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("GaussianDropout", config, options);
    this.rate = this.num("rate", undefined);
    if (!(this.rate >= 0 && this.rate < 1)) {
      throw new LayerConfigError(this.name, "rate", `expected 0 ≤ rate < 1, got ${this.rate}`);
    }
  }

  /** The noise's standard deviation √(rate / (1 − rate)). */
  get stddev(): number {
    return Math.sqrt(this.rate / (1 - this.rate));
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
 * GaussianDropout in training mode: y = x ⊙ m, m = 1 + stddev·z with z a counter-based
 * standard normal draw of the step's per-layer seed and the element's index within the whole
 * batch (workers draw what one thread draws). Backward: dx = dy ⊙ m (m kept for the step).
 */
const GAUSSIAN_DROPOUT_TRAINING: LayerTraining<GaussianDropout> = {
  forward(layer, x, _mask, ctx) {
    if (layer.rate <= 0 || !ctx.training) return x;
    const n = sizeOf(x.shape);
    const per = n / Math.max(1, x.shape[0]);
    const m = new Float32Array(n);
    fillNormal(m, ctx.seedFor(layer), ctx.sampleOffset * per);
    const s = layer.stddev;
    for (let i = 0; i < n; i++) m[i] = 1 + s * m[i];
    const mPtr = ctx.keep(ctx.heap.upload(m));
    const y: DeviceTensor = { ptr: ctx.heap.alloc(n * 4), shape: [...x.shape], dtype: "float32" };
    ctx.kernels.multiplyElementwise(x.ptr, mPtr, y.ptr, n);
    ctx.tape.set(layer, mPtr);
    return y;
  },

  backward(layer, a) {
    const m = a.ctx.tape.get(layer) as number | undefined;
    if (m !== undefined) {
      a.ctx.kernels.multiplyElementwise(a.dy.ptr, m, a.dy.ptr, sizeOf(a.dy.shape));
    }
    return a.dy;
  },
};

/** The `GaussianDropout` layer class (see `layer_class.ts`). */
export const GAUSSIAN_DROPOUT: LayerClass<GaussianDropout> = defineLayer({
  className: "GaussianDropout",
  create: (config, options) => new GaussianDropout(config, options),
  training: GAUSSIAN_DROPOUT_TRAINING,
  // Inactive at inference: the exported model is an inference graph.
  onnx: identityOnnx,
});
