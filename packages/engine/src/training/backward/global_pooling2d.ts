/**
 * GlobalMaxPooling2D / GlobalAveragePooling2D (with or without `keepdims`) in training: the
 * inference forward; backward gives each channel's gradient to its first maximal position, or
 * dy / (h·w) to every position. No weights.
 */
import type { GlobalPooling2D } from "../../layers/global_pooling2d.ts";
import { type DeviceTensor, sizeOf } from "../../tensor.ts";
import { registerTraining } from "./registry.ts";

for (const [cls, isAvg] of [["GlobalMaxPooling2D", 0], ["GlobalAveragePooling2D", 1]] as const) {
  registerTraining<GlobalPooling2D>(cls, {
    backward(_layer, a) {
      if (!a.needInputGrad) return null;
      const { x } = a;
      const [batch, h, w, c] = x.shape;
      const dx: DeviceTensor = {
        ptr: a.ctx.heap.alloc(sizeOf(x.shape) * 4),
        shape: [...x.shape],
        dtype: "float32",
      };
      // dy is [batch, c] or, with keepdims, [batch, 1, 1, c]: the same memory.
      a.ctx.kernels.globalPool2dBackward(x.ptr, a.dy.ptr, dx.ptr, batch, h * w, c, isAvg);
      return dx;
    },
  });
}
