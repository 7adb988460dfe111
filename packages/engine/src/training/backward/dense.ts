/**
 * Dense in training: the forward keeps the pre-activation z = x·W + b (when the activation is
 * not linear); backward: dz = dy·act'(z), dW = Xᵀ·dz, db = Σ dz, dX = dz·Wᵀ.
 */
import type { Dense } from "../../layers/dense.ts";
import { applyActivation } from "../../layer.ts";
import { type DeviceTensor, sizeOf } from "../../tensor.ts";
import { activationBackward } from "./activation.ts";
import { registerTraining } from "./registry.ts";

registerTraining<Dense>("Dense", {
  forward(layer, x, _mask, ctx) {
    const k = x.shape[x.shape.length - 1];
    const rows = sizeOf(x.shape) / k;
    const shape = [...x.shape.slice(0, -1), layer.units];
    const n = sizeOf(shape);
    const z = ctx.heap.alloc(n * 4);
    const w = layer.deviceWeights();
    ctx.kernels.gemm(x.ptr, w[0], layer.useBias ? w[1] : 0, z, rows, layer.units, k, 0, 0);
    const act = layer.activation;
    if (act.kind === "elementwise" && act.code === 0) return { ptr: z, shape, dtype: "float32" };
    ctx.keep(z);
    ctx.tape.set(layer, z);
    const y: DeviceTensor = { ptr: ctx.heap.alloc(n * 4), shape, dtype: "float32" };
    ctx.heap.f32(y.ptr, n).set(ctx.heap.f32(z, n));
    applyActivation(ctx, y, act);
    return y;
  },

  backward(layer, a) {
    const { ctx, x, y } = a;
    const { kernels, heap } = ctx;
    const k = x.shape[x.shape.length - 1];
    const units = layer.units;
    const rows = sizeOf(x.shape) / k;
    // dz overwrites dy in place (dy is the trainer's and not needed afterwards).
    const z = (ctx.tape.get(layer) as number | undefined) ?? y.ptr;
    const dz = a.dyIsPreActivation
      ? a.dy.ptr
      : activationBackward(ctx, layer.activation, { ...y, ptr: z }, y, a.dy).ptr;
    if (a.grads[0]) kernels.gemmTN(x.ptr, k, dz, units, a.grads[0], units, k, units, rows, 0);
    if (layer.useBias && a.grads[1]) kernels.columnSums(dz, a.grads[1], rows, units, 0);
    if (!a.needInputGrad) return null;
    const dx: DeviceTensor = {
      ptr: heap.alloc(rows * k * 4),
      shape: [...x.shape],
      dtype: "float32",
    };
    kernels.gemmNT(dz, units, a.weights[0], units, dx.ptr, k, rows, k, units, 0);
    return dx;
  },

  outputActivation(layer) {
    const name = layer.activation.kind === "softmax"
      ? "softmax"
      : layer.activation.kind === "elementwise" && layer.activation.code === 2
      ? "sigmoid"
      : null;
    return name;
  },
});
