import { sizeOf } from "../tensor.ts";
import { UntrainableLayerError } from "../training/errors.ts";
import type { LayerTraining } from "../layer_training.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import type { DeviceTensor, Shape } from "../tensor.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { identityOnnx } from "../onnx_emit.ts";

/**
 * An inverted-dropout mask [rows, cols] (kept entries 1/(1−rate), dropped 0) on the device, drawn
 * per (sample, column) from `seed` with the Dropout layer's counter-based hash; rows are samples
 * from `sampleOffset` on (workers draw the same masks). For layers that keep the mask itself
 * (a recurrent cell's per-sequence masks, attention weights). The caller frees it.
 */
export function dropoutScales(
  rt: Pick<CallContext, "kernels" | "heap">,
  rows: number,
  cols: number,
  rate: number,
  seed: number,
  sampleOffset: number,
): number {
  const { kernels, heap } = rt;
  const n = rows * cols;
  const ones = heap.alloc(n * 4);
  let mask = 0;
  try {
    heap.f32(ones, n).fill(1);
    mask = heap.alloc(n * 4);
    kernels.dropoutForward(ones, ones, mask, n, rate, seed >>> 0, (sampleOffset * cols) >>> 0);
  } catch (e) {
    if (mask) heap.free(mask);
    throw e;
  } finally {
    heap.free(ones);
  }
  return mask;
}

/** Keras `Dropout`: identity at inference; passes the mask on. (Training mode: the trainer.) */
export class Dropout extends Layer {
  readonly rate: number;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Dropout", config, options);
    this.rate = this.num("rate", 0.5);
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
 * Dropout in training mode (Keras: inverted scaling). Each element is kept with probability
 * 1 − rate and scaled by 1/(1 − rate); the keep decision is a counter-based hash of the step's
 * per-layer seed and the element's index within the whole batch. Backward: dx = dy ⊙ scale.
 */
const DROPOUT_TRAINING: LayerTraining<Dropout> = {
  forward(layer, x, _mask, ctx) {
    const noise = layer.config.noise_shape;
    if (noise !== undefined && noise !== null) {
      throw new UntrainableLayerError("Dropout", layer.name, "noise_shape is not supported");
    }
    // A call in inference mode (`training=False`) keeps every element.
    if (layer.rate <= 0 || !ctx.training) return x;
    const n = sizeOf(x.shape);
    const perSample = n / Math.max(1, x.shape[0]);
    const scale = ctx.keep(ctx.heap.alloc(n * 4));
    const y: DeviceTensor = { ptr: ctx.heap.alloc(n * 4), shape: [...x.shape], dtype: "float32" };
    ctx.kernels.dropoutForward(
      x.ptr,
      y.ptr,
      scale,
      n,
      layer.rate,
      ctx.seedFor(layer),
      (ctx.sampleOffset * perSample) >>> 0,
    );
    ctx.tape.set(layer, scale);
    return y;
  },

  backward(layer, a) {
    const scale = a.ctx.tape.get(layer) as number | undefined;
    if (scale !== undefined) {
      a.ctx.kernels.multiplyElementwise(a.dy.ptr, scale, a.dy.ptr, sizeOf(a.dy.shape));
    }
    return a.dy;
  },
};

/** The `Dropout` layer class (see `layer_class.ts`). */
export const DROPOUT: LayerClass<Dropout> = defineLayer({
  className: "Dropout",
  create: (config, options) => new Dropout(config, options),
  training: DROPOUT_TRAINING,
  // Inactive at inference: the exported model is an inference graph.
  onnx: identityOnnx,
});
