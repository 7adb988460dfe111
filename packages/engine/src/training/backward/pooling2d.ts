/**
 * MaxPooling2D / AveragePooling2D in training (wasm/assembly/pool_grad.ts). Max: the training
 * forward records each output's argmax cell (the first maximal one on ties, as TF) and the
 * backward routes the gradient there. Average: the inference forward; the backward spreads each
 * window's gradient evenly over its real cells. No weights.
 */
import { axisGeometry } from "../../conv_geometry.ts";
import type { Pooling2D } from "../../layers/pooling2d.ts";
import { type DeviceTensor, sizeOf } from "../../tensor.ts";
import { type BackwardArgs, registerTraining } from "./registry.ts";

/** The layer's window geometry for input `x`. */
function geometry(layer: Pooling2D, x: DeviceTensor) {
  const [batch, h, w, c] = x.shape;
  const [ph, pw] = layer.poolSize;
  const [sh, sw] = layer.strides;
  const gy = axisGeometry(h, ph, sh, 1, layer.padding);
  const gx = axisGeometry(w, pw, sw, 1, layer.padding);
  return { batch, h, w, c, ph, pw, sh, sw, gy, gx };
}

/** dx for `a.dy`; `arg` is the max-pooling argmax (0 for average pooling). */
function poolBackward(layer: Pooling2D, a: BackwardArgs, arg: number, isAvg: number): DeviceTensor {
  const { x } = a;
  const g = geometry(layer, x);
  const dx: DeviceTensor = {
    ptr: a.ctx.heap.alloc(sizeOf(x.shape) * 4),
    shape: [...x.shape],
    dtype: "float32",
  };
  a.ctx.kernels.pool2dBackward(
    arg,
    a.dy.ptr,
    dx.ptr,
    g.batch,
    g.h,
    g.w,
    g.c,
    g.gy.out,
    g.gx.out,
    g.ph,
    g.pw,
    g.sh,
    g.sw,
    g.gy.padBefore,
    g.gx.padBefore,
    isAvg,
  );
  return dx;
}

registerTraining<Pooling2D>("MaxPooling2D", {
  forward(layer, x, mask, ctx) {
    const g = geometry(layer, x);
    // Shape checks (and their typed errors) as at inference.
    if (g.gy.out === 0 || g.gx.out === 0) return layer.call(x, mask, ctx);
    const shape = [g.batch, g.gy.out, g.gx.out, g.c];
    const n = sizeOf(shape);
    const y: DeviceTensor = { ptr: ctx.heap.alloc(n * 4), shape, dtype: "float32" };
    const arg = ctx.keep(ctx.heap.alloc(n * 4));
    ctx.kernels.maxPool2dTrain(
      x.ptr,
      y.ptr,
      arg,
      g.batch,
      g.h,
      g.w,
      g.c,
      g.gy.out,
      g.gx.out,
      g.ph,
      g.pw,
      g.sh,
      g.sw,
      g.gy.padBefore,
      g.gx.padBefore,
    );
    ctx.tape.set(layer, arg);
    return y;
  },

  backward(layer, a) {
    if (!a.needInputGrad) return null;
    return poolBackward(layer, a, a.ctx.tape.get(layer) as number, 0);
  },
});

registerTraining<Pooling2D>("AveragePooling2D", {
  backward(layer, a) {
    if (!a.needInputGrad) return null;
    return poolBackward(layer, a, 0, 1);
  },
});
