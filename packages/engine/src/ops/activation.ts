/**
 * Activation operation nodes: `ops.relu`, `ops.sigmoid`, `ops.tanh`, `ops.softmax` (last axis)
 * and `tf.nn.relu`, `tf.math.sigmoid`, `tf.math.tanh`, `tf.nn.softmax`. Unlike the other op nodes
 * they run in the SIMD WASM kernels the layers use (`activate` / `softmaxRows` forward,
 * `activationGrad` / `softmaxGradRows` backward).
 *
 * @module
 */
import { type Activation, resolveActivation } from "../activations.ts";
import { applyActivation, type CallContext, type LayerBuildOptions } from "../layer.ts";
import type { BackwardArgs } from "../layer_training.ts";
import { activationBackward, activationOutputKind } from "../layers/activation_backward.ts";
import { type DeviceTensor, sizeOf } from "../tensor.ts";
import { type FullShape, normAxis, OpLayer } from "./op_layer.ts";
import { emitActivation, type OnnxLayerContext } from "../onnx_emit.ts";

/** The activations run as operation nodes. */
export type ActivationFn = "relu" | "sigmoid" | "tanh" | "softmax";

/** An activation operation node. */
export class ActivationOp extends OpLayer {
  readonly fn: ActivationFn;
  readonly activation: Activation;
  /** Softmax: the axis as given (must be the last one). */
  readonly axis: number;

  constructor(
    fn: ActivationFn,
    label: string,
    name: string,
    axis: unknown,
    options: LayerBuildOptions = {},
  ) {
    super(fn, label, name, 1, options);
    this.fn = fn;
    this.activation = resolveActivation(fn, name, options.kerasVersion);
    this.axis = axis === null || axis === undefined ? -1 : Number(axis);
  }

  /** ONNX: the activation's operator (softmax over the last axis). */
  override emitOnnx(ctx: OnnxLayerContext): void {
    emitActivation(ctx, this.activation, ctx.inputs[0], ctx.output);
  }

  shapeOf(shapes: readonly FullShape[]): FullShape {
    const s = shapes[0];
    if (this.fn === "softmax" && normAxis(this.axis, s.length) !== s.length - 1) {
      throw this.shapeError(`softmax over the last axis (axis ${this.axis} given)`, shapes);
    }
    if (s.length < 2 && this.fn === "softmax") {
      throw this.shapeError("an axis after the batch", shapes);
    }
    return [...s];
  }

  forward(xs: readonly DeviceTensor[], ctx: CallContext): DeviceTensor {
    const x = xs[0];
    const y = this.allocOutput(ctx, this.outShape(xs));
    ctx.kernels.addInto(x.ptr, y.ptr, sizeOf(x.shape), 0);
    applyActivation(ctx, y, this.activation);
    return y;
  }

  /** `softmax` / `sigmoid` when the loss may fuse this op as the model's output activation. */
  get outputKind(): "softmax" | "sigmoid" | null {
    return activationOutputKind(this.activation);
  }

  backwardInputs(a: BackwardArgs): (DeviceTensor | null)[] {
    if (!(a.needInputGrads[0] ?? a.needInputGrad)) return [null];
    // The loss already gave the gradient at the softmax / sigmoid input.
    if (a.dyIsPreActivation) return [a.dy];
    return [activationBackward(a.ctx, this.activation, a.xs[0], a.y, a.dy)];
  }
}
