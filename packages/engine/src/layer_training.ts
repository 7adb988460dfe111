/**
 * How a layer class trains: the training-mode forward and the backward a layer definition
 * (`LayerClass.training` in `layer_class.ts`) carries, and the context the trainer passes
 * them. Nothing here knows a particular layer class.
 *
 * @module
 */
import type { CallContext, Layer } from "./layer.ts";
import type { DeviceTensor } from "./tensor.ts";

/**
 * The call context of one layer call inside `fit`: a tape is present. `training` is false for a
 * call Keras runs in inference mode even while fitting (`base(x, training=False)`).
 */
export interface TrainContext extends CallContext {
  training: boolean;
  /**
   * Whether `fit` trains this layer (its own `trainable` and its nested models'). Keras runs a
   * BatchNormalization that is not trainable in inference mode.
   */
  trainable: boolean;
  /** Per-step storage for each layer's backward (e.g. Dense's pre-activation, Dropout's mask). */
  tape: Map<Layer, unknown>;
  /** Registers a device buffer to be freed when the step ends; returns `ptr`. */
  keep(ptr: number): number;
  /** A 32-bit seed for `layer`'s random draws in this step (Dropout). */
  seedFor(layer: Layer): number;
  /**
   * Index of this slice's first sample within the whole batch, so counter-based random draws do
   * not depend on how a batch is split across workers.
   */
  sampleOffset: number;
}

/** What a layer's backward receives. */
export interface BackwardArgs {
  /** The layer's (first) input and output of the forward pass (alive until the step ends). */
  x: DeviceTensor;
  y: DeviceTensor;
  /** The mask the layer received (int32 [batch, time]) or null. */
  mask: DeviceTensor | null;
  /** Every input of the call (multi-input layers; `[x]` otherwise) and their masks. */
  xs: readonly DeviceTensor[];
  masks: readonly (DeviceTensor | null)[];
  /**
   * ∂loss/∂y. Owned by the trainer and not needed afterwards: a backward may overwrite it in place
   * and return it as dx.
   */
  dy: DeviceTensor;
  /**
   * Layers returning several tensors ({@link Layer.outputCount} > 1): ∂loss/∂ each output, `dy`
   * first; null for an output nothing reads (then its gradient is zero). `[dy]` otherwise. Owned
   * by the trainer like `dy` (a backward may overwrite them).
   */
  dys: readonly (DeviceTensor | null)[];
  /**
   * Every output of the call (`[y]` for single-output layers); null for a further output
   * nothing read (the executor freed it when the call returned).
   */
  ys: readonly (DeviceTensor | null)[];
  /**
   * True when `dy` is already the gradient with respect to the pre-activation of the layer's
   * output softmax/sigmoid (the loss fused it, see {@link LayerTraining.outputActivation}).
   */
  dyIsPreActivation: boolean;
  /** Device pointers of the weights, aligned with {@link LayerTraining.params}. */
  weights: readonly number[];
  /**
   * Gradient buffers aligned with `weights` (0 for a frozen weight): the backward OVERWRITES them
   * with ∂loss/∂w for this slice (the trainer sums slices and scales).
   */
  grads: readonly number[];
  /** False when no earlier layer needs dx (the backward may then skip it and return null). */
  needInputGrad: boolean;
  /** Per input of a multi-input call: whether its gradient is needed (`[needInputGrad]` else). */
  needInputGrads: readonly boolean[];
  ctx: TrainContext;
}

/** One layer class's training-mode behaviour. */
export interface LayerTraining<L extends Layer = Layer> {
  /**
   * The training-mode forward; default `layer.call(x, mask, ctx)`. May store what backward needs
   * in `ctx.tape` and register extra buffers with `ctx.keep`.
   */
  forward?(layer: L, x: DeviceTensor, mask: DeviceTensor | null, ctx: TrainContext): DeviceTensor;
  /**
   * The training-mode forward of a multi-input or multi-output layer (`multiInput` or
   * `outputCount` > 1); default `layer.callOutputs(xs, masks, ctx)`. A multi-output layer returns
   * every output.
   */
  forwardInputs?(
    layer: L,
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: TrainContext,
  ): DeviceTensor | DeviceTensor[];
  /**
   * dx for dy, writing the weight gradients into `args.grads`. Returns null when
   * `needInputGrad` is false or the input has no gradient (integer ids). A returned tensor that
   * is not `args.dy` must be a fresh allocation (the trainer frees it). Multi-input layers
   * return one entry per input (null where not needed); entries may be `args.dy` itself or
   * the same tensor more than once (the executor copies where a gradient is shared).
   */
  backward(layer: L, args: BackwardArgs): DeviceTensor | null | (DeviceTensor | null)[];
  /**
   * The layers owning device weights, in weight order (default `[layer]`); wrappers such as
   * Bidirectional return their inner layers. The trainer marks them updated after each step.
   */
  params?(layer: L): Layer[];
  /** Which weights are trainable (default: all; BatchNormalization's moving statistics are not). */
  trainable?(layer: L): boolean[];
  /** The last operation of the layer when it is a softmax or sigmoid (lets the loss fuse it). */
  outputActivation?(layer: L): "softmax" | "sigmoid" | null;
  /** Called after an optimizer step changed the layer's weights (rebuild derived device data). */
  afterUpdate?(layer: L): void;
}

/** A view of `t`'s memory with another shape (gradients of reshapes alias their input). */
export function reshaped(t: DeviceTensor, shape: number[]): DeviceTensor {
  return { ptr: t.ptr, shape: [...shape], dtype: t.dtype };
}
