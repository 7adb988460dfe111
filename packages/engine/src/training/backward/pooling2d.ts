/**
 * MaxPooling2D / AveragePooling2D in training: the inference forward; backward routes each
 * window's gradient to its first maximal cell (ties as TF) or spreads it evenly over the window's
 * real cells (wasm/assembly/pool_grad.ts). No weights.
 */
import { axisGeometry } from "../../conv_geometry.ts";
import type { Pooling2D } from "../../layers/pooling2d.ts";
import { type DeviceTensor, sizeOf } from "../../tensor.ts";
import { registerTraining } from "./registry.ts";

for (const [cls, isAvg] of [["MaxPooling2D", 0], ["AveragePooling2D", 1]] as const) {
  registerTraining<Pooling2D>(cls, {
    backward(layer, a) {
      if (!a.needInputGrad) return null;
      const { x } = a;
      const [batch, h, w, c] = x.shape;
      const [ph, pw] = layer.poolSize;
      const [sh, sw] = layer.strides;
      const gy = axisGeometry(h, ph, sh, 1, layer.padding);
      const gx = axisGeometry(w, pw, sw, 1, layer.padding);
      const dx: DeviceTensor = {
        ptr: a.ctx.heap.alloc(sizeOf(x.shape) * 4),
        shape: [...x.shape],
        dtype: "float32",
      };
      a.ctx.kernels.pool2dBackward(
        x.ptr,
        a.dy.ptr,
        dx.ptr,
        batch,
        h,
        w,
        c,
        gy.out,
        gx.out,
        ph,
        pw,
        sh,
        sw,
        gy.padBefore,
        gx.padBefore,
        isAvg,
      );
      return dx;
    },
  });
}
