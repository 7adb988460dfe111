/**
 * Dropout in training mode (Keras: inverted scaling). Each element is kept with probability
 * 1 − rate and scaled by 1/(1 − rate); the keep decision is a counter-based hash of the step's
 * per-layer seed and the element's index within the whole batch. Backward: dx = dy ⊙ scale.
 */
import type { Dropout } from "../../layers/dropout.ts";
import { type DeviceTensor, sizeOf } from "../../tensor.ts";
import { UntrainableLayerError } from "../errors.ts";
import { registerTraining } from "./registry.ts";

registerTraining<Dropout>("Dropout", {
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
});
