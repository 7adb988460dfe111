/**
 * Conv2D in training. Forward: the inference convolution with its fused activation when the
 * activation's derivative can be read off the output (linear, relu, relu6, sigmoid, tanh,
 * exponential); otherwise the convolution without activation, keeping the pre-activation z.
 * Backward: dZ = dy·act'(z), then one tiled pass (`conv2dBackward`, wasm/assembly/conv_grad.ts)
 * gives dW (im2col + GEMM) and dx (GEMM + col2im); db = Σ dZ.
 */
import { type Activation, ActivationCode } from "../../activations.ts";
import { axisGeometry } from "../../conv_geometry.ts";
import { applyActivation } from "../../layer.ts";
import type { Conv2D } from "../../layers/conv2d.ts";
import { type DeviceTensor, sizeOf } from "../../tensor.ts";
import { activationBackward } from "./activation.ts";
import { registerTraining, type TrainContext } from "./registry.ts";

/**
 * Floats of scratch per backward call (1 MiB): tiles of im2col rows and their transpose, and the
 * padded dZ image of the stride-1 input gradient.
 */
const BACKWARD_SCRATCH_FLOATS = 1 << 18;
/** Floats of im2col scratch for the unfused forward (as the inference layer uses). */
const FORWARD_SCRATCH_FLOATS = 1 << 16;

/** Codes whose derivative the kernel computes exactly from the output y in place of z. */
const DERIVATIVE_FROM_OUTPUT = new Set<number>([
  ActivationCode.Linear,
  ActivationCode.Relu,
  ActivationCode.Relu6,
  ActivationCode.Sigmoid,
  ActivationCode.Tanh,
  ActivationCode.Exponential,
]);

const fusedFromOutput = (act: Activation) =>
  act.kind === "elementwise" && DERIVATIVE_FROM_OUTPUT.has(act.code);

/** The layer's window geometry for input `x`. */
function geometry(layer: Conv2D, x: DeviceTensor) {
  const [batch, h, w, c] = x.shape;
  const [kh, kw] = layer.kernelSize;
  const [sh, sw] = layer.strides;
  const [dh, dw] = layer.dilationRate;
  const gy = axisGeometry(h, kh, sh, dh, layer.padding);
  const gx = axisGeometry(w, kw, sw, dw, layer.padding);
  return { batch, h, w, c, kh, kw, sh, sw, dh, dw, gy, gx };
}

/** The convolution plus bias without activation (the pre-activation z). */
function convolveLinear(layer: Conv2D, x: DeviceTensor, ctx: TrainContext): DeviceTensor {
  const g = geometry(layer, x);
  const shape = [g.batch, g.gy.out, g.gx.out, layer.filters];
  const z: DeviceTensor = { ptr: ctx.heap.alloc(sizeOf(shape) * 4), shape, dtype: "float32" };
  const k = g.kh * g.kw * g.c;
  const pixels = g.batch * g.gy.out * g.gx.out;
  const scratchFloats = k * Math.min(pixels, Math.max(4, Math.floor(FORWARD_SCRATCH_FLOATS / k)));
  const scratch = ctx.heap.alloc(scratchFloats * 4);
  const w = layer.deviceWeights();
  try {
    ctx.kernels.conv2d(
      x.ptr,
      w[0],
      layer.useBias ? w[1] : 0,
      z.ptr,
      scratch,
      scratchFloats,
      g.batch,
      g.h,
      g.w,
      g.c,
      g.gy.out,
      g.gx.out,
      layer.filters,
      g.kh,
      g.kw,
      g.sh,
      g.sw,
      g.dh,
      g.dw,
      g.gy.padBefore,
      g.gx.padBefore,
      0,
      0,
    );
  } finally {
    ctx.heap.free(scratch);
  }
  return z;
}

registerTraining<Conv2D>("Conv2D", {
  forward(layer, x, mask, ctx) {
    if (fusedFromOutput(layer.activation)) return layer.call(x, mask, ctx);
    const z = convolveLinear(layer, x, ctx);
    ctx.keep(z.ptr);
    ctx.tape.set(layer, z.ptr);
    const n = sizeOf(z.shape);
    const y: DeviceTensor = { ptr: ctx.heap.alloc(n * 4), shape: [...z.shape], dtype: "float32" };
    ctx.heap.f32(y.ptr, n).set(ctx.heap.f32(z.ptr, n));
    applyActivation(ctx, y, layer.activation);
    return y;
  },

  backward(layer, a) {
    const { ctx, x, y } = a;
    const { kernels, heap } = ctx;
    const z = (ctx.tape.get(layer) as number | undefined) ?? y.ptr;
    const dz = a.dyIsPreActivation
      ? a.dy.ptr
      : activationBackward(ctx, layer.activation, { ...y, ptr: z }, y, a.dy).ptr;
    const g = geometry(layer, x);
    const outC = layer.filters;
    const pixels = g.batch * g.gy.out * g.gx.out;
    const wantKernel = a.grads[0] !== 0 && a.grads[0] !== undefined;
    if (layer.useBias && a.grads[1]) kernels.columnSums(dz, a.grads[1], pixels, outC, 0);
    if (!wantKernel && !a.needInputGrad) return null;
    const dx: DeviceTensor | null = a.needInputGrad
      ? { ptr: heap.alloc(sizeOf(x.shape) * 4), shape: [...x.shape], dtype: "float32" }
      : null;
    const scratchFloats = Math.max(
      kernels.conv2dBackwardMinScratch(g.kh, g.kw, g.c, outC, dx ? 1 : 0),
      BACKWARD_SCRATCH_FLOATS,
    );
    const scratch = heap.alloc(scratchFloats * 4);
    try {
      kernels.conv2dBackward(
        x.ptr,
        dz,
        a.weights[0],
        dx ? dx.ptr : 0,
        wantKernel ? a.grads[0] : 0,
        scratch,
        scratchFloats,
        g.batch,
        g.h,
        g.w,
        g.c,
        g.gy.out,
        g.gx.out,
        outC,
        g.kh,
        g.kw,
        g.sh,
        g.sw,
        g.dh,
        g.dw,
        g.gy.padBefore,
        g.gx.padBefore,
      );
    } finally {
      heap.free(scratch);
    }
    return dx;
  },

  outputActivation(layer) {
    const act = layer.activation;
    if (act.kind === "softmax") return "softmax";
    return act.kind === "elementwise" && act.code === ActivationCode.Sigmoid ? "sigmoid" : null;
  },
});
