/**
 * Element-wise activation layers in training: Activation, ReLU, LeakyReLU, Softmax. Their forward
 * is the inference forward (input and output stay alive for the backward); backward overwrites
 * dy in place with dy·f'(x).
 */
import { ActivationCode } from "../../activations.ts";
import type { Activation } from "../../layers/activation.ts";
import type { LeakyReLU } from "../../layers/leaky_relu.ts";
import type { ReLU } from "../../layers/relu.ts";
import type { Softmax } from "../../layers/softmax.ts";
import { sizeOf } from "../../tensor.ts";
import { registerTraining } from "./registry.ts";
import {
  activationBackward,
  activationOutputKind as outputKind,
} from "../../layers/activation_backward.ts";

export { activationBackward };

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
