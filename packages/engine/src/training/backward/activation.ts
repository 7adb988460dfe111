/**
 * Element-wise activation layers in training: Activation, ReLU, LeakyReLU, Softmax. Their forward
 * is the inference forward (input and output stay alive for the backward); backward overwrites
 * dy in place with dy·f'(x).
 */
import { type Activation as ResolvedActivation, ActivationCode } from "../../activations.ts";
import type { Activation } from "../../layers/activation.ts";
import type { LeakyReLU } from "../../layers/leaky_relu.ts";
import type { ReLU } from "../../layers/relu.ts";
import type { Softmax } from "../../layers/softmax.ts";
import { type DeviceTensor, sizeOf } from "../../tensor.ts";
import { registerTraining, type TrainContext } from "./registry.ts";

/**
 * Overwrites `dy` with the gradient at the pre-activation `z` of `y = act(z)` and returns it.
 * Element-wise codes read z and/or y; softmax and log-softmax read y (last axis).
 */
export function activationBackward(
  ctx: TrainContext,
  act: ResolvedActivation,
  z: DeviceTensor,
  y: DeviceTensor,
  dy: DeviceTensor,
): DeviceTensor {
  const n = sizeOf(dy.shape);
  if (act.kind === "elementwise") {
    if (act.code !== ActivationCode.Linear) {
      ctx.kernels.activationGrad(z.ptr, y.ptr, dy.ptr, dy.ptr, n, act.code, act.alpha);
    }
  } else {
    const cols = dy.shape[dy.shape.length - 1];
    ctx.kernels.softmaxGradRows(
      y.ptr,
      dy.ptr,
      dy.ptr,
      n / cols,
      cols,
      act.kind === "log_softmax" ? 1 : 0,
    );
  }
  return dy;
}

const outputKind = (act: ResolvedActivation) =>
  act.kind === "softmax"
    ? "softmax"
    : act.kind === "elementwise" && act.code === ActivationCode.Sigmoid
    ? "sigmoid"
    : null;

registerTraining<Activation>("Activation", {
  backward(layer, a) {
    if (a.dyIsPreActivation) return a.dy;
    return activationBackward(a.ctx, layer.activation, a.x, a.y, a.dy);
  },
  outputActivation: (layer) => outputKind(layer.activation),
});

registerTraining<Softmax>("Softmax", {
  backward(_layer, a) {
    if (a.dyIsPreActivation) return a.dy;
    return activationBackward(a.ctx, { kind: "softmax", name: "softmax" }, a.x, a.y, a.dy);
  },
  outputActivation: () => "softmax",
});

registerTraining<ReLU>("ReLU", {
  backward(layer, a) {
    const n = sizeOf(a.dy.shape);
    a.ctx.kernels.reluGeneralGrad(
      a.x.ptr,
      a.dy.ptr,
      a.dy.ptr,
      n,
      layer.negativeSlope,
      layer.maxValue ?? -1,
      layer.threshold,
    );
    return a.dy;
  },
});

registerTraining<LeakyReLU>("LeakyReLU", {
  backward(layer, a) {
    const n = sizeOf(a.dy.shape);
    a.ctx.kernels.activationGrad(
      a.x.ptr,
      0,
      a.dy.ptr,
      a.dy.ptr,
      n,
      ActivationCode.LeakyRelu,
      layer.negativeSlope,
    );
    return a.dy;
  },
});
