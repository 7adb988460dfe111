/**
 * The backward of a resolved activation, shared by the layers that apply one (Dense, Conv2D,
 * Activation, …).
 *
 * @module
 */
import { type Activation as ResolvedActivation, ActivationCode } from "../activations.ts";
import type { TrainContext } from "../layer_training.ts";
import { type DeviceTensor, sizeOf } from "../tensor.ts";

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

/** The loss may fuse an output softmax or sigmoid: which one `act` is, if either. */
export const activationOutputKind = (act: ResolvedActivation): "softmax" | "sigmoid" | null =>
  act.kind === "softmax"
    ? "softmax"
    : act.kind === "elementwise" && act.code === ActivationCode.Sigmoid
    ? "sigmoid"
    : null;
