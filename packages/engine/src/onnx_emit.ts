/**
 * ONNX export, the engine's side: the abstract, protobuf-free builder a layer class writes its
 * ONNX nodes to (`LayerClass.onnx`), its typed error, and small emission helpers shared by the
 * layer classes (activations, opset-dependent reductions, channels-first wrappers).
 *
 * The engine never serialises anything: `packages/onnx` implements {@link OnnxLayerContext},
 * walks a model's graph, calls each layer class's hook and writes the ModelProto.
 *
 * Layout: the exported model keeps Keras's channels-last tensors everywhere (inputs, outputs and
 * every intermediate tensor), so element-wise layers, Dense, BatchNormalization, Flatten, Reshape
 * and merges emit the same axes as the engine. Only the operators ONNX defines channels-first
 * (Conv, MaxPool, AveragePool) are wrapped in a Transpose pair ({@link channelsFirst}); ONNX
 * Runtime's transpose optimiser cancels the pairs between consecutive convolutions, as it does
 * for tf2onnx's exports.
 *
 * @module
 */
import { type Activation, ActivationCode } from "./activations.ts";
import { EngineError } from "./errors.ts";
import type { Layer } from "./layer.ts";
import type { Shape } from "./tensor.ts";

/** An ONNX node attribute, typed as ONNX types it (a JS number alone cannot say int or float). */
export type OnnxAttribute =
  | { int: number }
  | { float: number }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { string: string }
  | { strings: readonly string[] };

/** Element types the export writes. */
export type OnnxElementType = "float32" | "int32" | "int64" | "bool";

/** Constant data of an initializer (int64 values are given as plain numbers). */
export type OnnxTensorData =
  | { float32: Float32Array }
  | { int32: Int32Array }
  | { int64: readonly number[] };

/** A layer or layer option the ONNX export cannot write, naming the layer and its class. */
export class OnnxExportError extends EngineError {
  constructor(readonly layerName: string, readonly className: string, readonly reason: string) {
    super(`layer "${layerName}" (${className}): cannot export to ONNX: ${reason}`);
  }
}

/**
 * What a layer class's ONNX hook sees of one call of the layer and where it writes. Tensor shapes
 * are without the batch axis (null: unknown); every tensor name is unique in the graph.
 */
export interface OnnxLayerContext {
  /** The opset the model is written for (default 17). */
  readonly opset: number;
  /** ONNX names of the call's input tensors, in call order. */
  readonly inputs: readonly string[];
  /** Static shapes of the inputs, without batch. */
  readonly inputShapes: readonly Shape[];
  /** Element types of the inputs (ids fed to an Embedding may be int32). */
  readonly inputTypes: readonly OnnxElementType[];
  /**
   * Per input: the ONNX name of its Keras mask (bool, `[batch, time]`), or null. A layer that
   * reads masks must use it or refuse; the exporter passes a mask on for layers whose engine
   * `computeMask` passes it on.
   */
  readonly inputMasks: readonly (string | null)[];
  /** The ONNX name the hook must produce the call's (float32) output under. */
  readonly output: string;
  /** Static shape of the output, without batch. */
  readonly outputShape: Shape;
  /**
   * Every output of the call: `output` first, then a multi-output call's further outputs (an
   * RNN's `return_state` states, MultiHeadAttention's scores), which the hook must produce too.
   */
  readonly outputs: readonly string[];
  /** Their static shapes, without batch. */
  readonly outputShapes: readonly Shape[];
  /** Adds a node (default domain). */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes?: Readonly<Record<string, OnnxAttribute>>,
  ): void;
  /** Adds a constant tensor; returns its (unique) name. */
  initializer(hint: string, data: OnnxTensorData, dims: readonly number[]): string;
  /** A 1-D int64 constant (shapes, axes, pads); returns its name. */
  int64s(hint: string, values: readonly number[]): string;
  /** A new unique tensor name derived from `hint`. */
  fresh(hint: string): string;
  /** Declares the ONNX name of the output's mask (bool `[batch, time]`), or none. */
  setOutputMask(name: string | null): void;
  /** Throws the {@link OnnxExportError} for this layer. */
  refuse(reason: string): never;
  /**
   * Writes another layer's nodes for `call` with that layer's own class hook (a wrapper's inner
   * layer); throws {@link OnnxExportError} naming it when its class has no ONNX form.
   */
  emitLayer(layer: Layer, call: OnnxCall): void;
}

/** One call's tensor names and static shapes (without batch), for {@link innerContext}. */
export interface OnnxCall {
  inputs: readonly string[];
  inputShapes: readonly Shape[];
  output: string;
  outputShape: Shape;
}

/** The ONNX hook of a layer class: writes the nodes computing `ctx.output` from `ctx.inputs`. */
export type OnnxHook<L> = (layer: L, ctx: OnnxLayerContext) => void;

/** Writes `act(input)` as `output`; refuses activations ONNX cannot express exactly. */
export function emitActivation(
  ctx: OnnxLayerContext,
  act: Activation,
  input: string,
  output: string,
): void {
  if (act.kind !== "elementwise") {
    const op = act.kind === "softmax" ? "Softmax" : "LogSoftmax";
    return ctx.node(op, [input], [output], { axis: { int: -1 } });
  }
  const scalar = (v: number) => ctx.initializer("c", { float32: Float32Array.of(v) }, []);
  const unary = (op: string, attrs?: Record<string, OnnxAttribute>) =>
    ctx.node(op, [input], [output], attrs);
  switch (act.code) {
    case ActivationCode.Linear:
      return unary("Identity");
    case ActivationCode.Relu:
      return unary("Relu");
    case ActivationCode.Sigmoid:
      return unary("Sigmoid");
    case ActivationCode.Tanh:
      return unary("Tanh");
    case ActivationCode.Elu:
      return unary("Elu", { alpha: { float: act.alpha } });
    case ActivationCode.Selu:
      return unary("Selu", {
        alpha: { float: 1.6732632423543772 },
        gamma: { float: 1.0507009873554805 },
      });
    case ActivationCode.Softplus:
      return unary("Softplus");
    case ActivationCode.Softsign:
      return unary("Softsign");
    case ActivationCode.Exponential:
      return unary("Exp");
    case ActivationCode.LeakyRelu:
      return unary("LeakyRelu", { alpha: { float: act.alpha } });
    case ActivationCode.Relu6:
      return ctx.node("Clip", [input, scalar(0), scalar(6)], [output]);
    case ActivationCode.HardSigmoid: // relu6(x + 3) / 6 = clip(x/6 + 1/2, 0, 1)
      return unary("HardSigmoid", { alpha: { float: 1 / 6 }, beta: { float: 0.5 } });
    case ActivationCode.HardSigmoidKeras2:
      return unary("HardSigmoid", { alpha: { float: 0.2 }, beta: { float: 0.5 } });
    case ActivationCode.HardSilu:
      return unary("HardSwish");
    case ActivationCode.Swish: {
      const s = ctx.fresh("sigmoid");
      ctx.node("Sigmoid", [input], [s]);
      return ctx.node("Mul", [input, s], [output]);
    }
    case ActivationCode.Gelu: { // x/2 · (1 + erf(x/√2))
      const scaled = ctx.fresh("gelu_scaled"), erf = ctx.fresh("gelu_erf");
      const one = ctx.fresh("gelu_1p"), half = ctx.fresh("gelu_half");
      ctx.node("Div", [input, scalar(Math.SQRT2)], [scaled]);
      ctx.node("Erf", [scaled], [erf]);
      ctx.node("Add", [erf, scalar(1)], [one]);
      ctx.node("Mul", [input, scalar(0.5)], [half]);
      return ctx.node("Mul", [half, one], [output]);
    }
    case ActivationCode.GeluTanh: { // x/2 · (1 + tanh(√(2/π)·(x + 0.044715x³)))
      const cube = ctx.fresh("gelu_cube"), inner = ctx.fresh("gelu_inner");
      const arg = ctx.fresh("gelu_arg"), th = ctx.fresh("gelu_tanh");
      const one = ctx.fresh("gelu_1p"), half = ctx.fresh("gelu_half");
      ctx.node("Pow", [input, scalar(3)], [cube]);
      const c3 = ctx.fresh("gelu_c3");
      ctx.node("Mul", [cube, scalar(0.044715)], [c3]);
      ctx.node("Add", [input, c3], [inner]);
      ctx.node("Mul", [inner, scalar(0.7978845608028654)], [arg]);
      ctx.node("Tanh", [arg], [th]);
      ctx.node("Add", [th, scalar(1)], [one]);
      ctx.node("Mul", [input, scalar(0.5)], [half]);
      return ctx.node("Mul", [half, one], [output]);
    }
    case ActivationCode.Mish: { // x · tanh(softplus(x))
      const sp = ctx.fresh("softplus"), th = ctx.fresh("tanh");
      ctx.node("Softplus", [input], [sp]);
      ctx.node("Tanh", [sp], [th]);
      return ctx.node("Mul", [input, th], [output]);
    }
  }
  ctx.refuse(`activation ${act.name} has no ONNX form here`);
}

/**
 * A reduction over `axes` (ReduceMean, ReduceMax, ReduceMin, ReduceSum, ReduceProd): axes are an attribute
 * before opset 18 (13 for ReduceSum) and an input from then on.
 */
export function emitReduce(
  ctx: OnnxLayerContext,
  op: "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceSum" | "ReduceProd",
  input: string,
  axes: readonly number[],
  keepdims: boolean,
  output: string,
): void {
  const axesAsInput = ctx.opset >= (op === "ReduceSum" ? 13 : 18);
  const keep = { keepdims: { int: keepdims ? 1 : 0 } };
  if (axesAsInput) ctx.node(op, [input, ctx.int64s("axes", axes)], [output], keep);
  else ctx.node(op, [input], [output], { ...keep, axes: { ints: axes } });
}

/**
 * Runs a channels-first ONNX operator on a channels-last tensor of rank `rank` ≥ 3 (3: `[N, T, C]`,
 * 4: `[N, H, W, C]`, 5: `[N, D, H, W, C]`): Transpose to channels-first, `emit(from, to)` writes
 * the operator, and Transpose back to `output`.
 */
export function channelsFirst(
  ctx: OnnxLayerContext,
  input: string,
  output: string,
  rank: number,
  emit: (channelsFirstInput: string, channelsFirstOutput: string) => void,
): void {
  const spatial = Array.from({ length: rank - 2 }, (_, k) => k + 1);
  const toFirst = [0, rank - 1, ...spatial];
  const toLast = [0, ...spatial.map((a) => a + 1), 1];
  const x = ctx.fresh("nchw"), y = ctx.fresh("nchw_out");
  ctx.node("Transpose", [input], [x], { perm: { ints: toFirst } });
  emit(x, y);
  ctx.node("Transpose", [y], [output], { perm: { ints: toLast } });
}

/**
 * A Keras convolution kernel `[k…, inPerGroup, filters]` (spatial axes first) as ONNX's
 * `[filters, inPerGroup, k…]`.
 */
export function convKernelToOnnx(kernel: Float32Array, shape: readonly number[]): Float32Array {
  const spatial = shape.slice(0, -2);
  const cin = shape[shape.length - 2], cout = shape[shape.length - 1];
  const k = spatial.reduce((a, b) => a * b, 1);
  const out = new Float32Array(kernel.length);
  for (let s = 0; s < k; s++) {
    for (let c = 0; c < cin; c++) {
      for (let f = 0; f < cout; f++) out[(f * cin + c) * k + s] = kernel[(s * cin + c) * cout + f];
    }
  }
  return out;
}

/** ONNX conv / pool padding attributes for a Keras padding mode. */
export function onnxPadding(padding: string): Record<string, OnnxAttribute> {
  // Keras "same" puts the odd extra pixel at the end, which is ONNX's SAME_UPPER.
  return padding === "same" ? { auto_pad: { string: "SAME_UPPER" } } : {};
}

/** The ONNX hook of layers that are the identity at inference (Dropout, noise layers, …). */
export function identityOnnx<L>(_layer: L, ctx: OnnxLayerContext): void {
  ctx.node("Identity", [ctx.inputs[0]], [ctx.output]);
}

/** A float32 constant of `dims` from a Keras weight; returns its name. */
export function floatInitializer(
  ctx: OnnxLayerContext,
  hint: string,
  data: Float32Array,
  dims: readonly number[],
): string {
  return ctx.initializer(hint, { float32: data }, dims);
}

/** Writes `act(linear)` to `ctx.output`, skipping the node for a linear activation. */
export function emitWithActivation(
  ctx: OnnxLayerContext,
  act: Activation,
  emitLinear: (output: string) => void,
): void {
  const linear = act.kind === "elementwise" && act.code === ActivationCode.Linear;
  if (linear) return emitLinear(ctx.output);
  const pre = ctx.fresh("pre_activation");
  emitLinear(pre);
  emitActivation(ctx, act, pre, ctx.output);
}

/** One ONNX Conv on a channels-last tensor (see {@link emitConv}). */
export interface OnnxConv {
  /** Channels-last input and output names. */
  input: string;
  output: string;
  /** 3 for `[N, T, C]`, 4 for `[N, H, W, C]`. */
  rank: 3 | 4;
  /** The kernel in ONNX layout `[filters, inPerGroup, k…]` and its dims. */
  weight: Float32Array;
  weightDims: readonly number[];
  bias?: Float32Array;
  strides: readonly number[];
  dilations: readonly number[];
  /** Keras padding ("causal" is given as explicit `pads`). */
  padding: string;
  /** Explicit `[begin…, end…]` pads (overrides `padding`). */
  pads?: readonly number[];
  group: number;
}

/** Writes one convolution on a channels-last tensor (Transpose, Conv, Transpose). */
export function emitConv(ctx: OnnxLayerContext, conv: OnnxConv): void {
  const w = floatInitializer(ctx, "kernel", conv.weight, conv.weightDims);
  const inputs = [w];
  if (conv.bias) inputs.push(floatInitializer(ctx, "bias", conv.bias, [conv.bias.length]));
  channelsFirst(
    ctx,
    conv.input,
    conv.output,
    conv.rank,
    (x, y) =>
      ctx.node("Conv", [x, ...inputs], [y], {
        kernel_shape: { ints: conv.weightDims.slice(2) },
        strides: { ints: conv.strides },
        dilations: { ints: conv.dilations },
        group: { int: conv.group },
        ...(conv.pads ? { pads: { ints: conv.pads } } : onnxPadding(conv.padding)),
      }),
  );
}

/**
 * A context for writing another layer's nodes inside this call (a wrapper running an inner layer):
 * same graph and names, other inputs and output; masks stay with the outer call.
 */
export function innerContext(ctx: OnnxLayerContext, call: OnnxCall): OnnxLayerContext {
  return {
    opset: ctx.opset,
    inputs: call.inputs,
    inputShapes: call.inputShapes,
    inputTypes: call.inputs.map(() => "float32"),
    inputMasks: call.inputs.map(() => null),
    output: call.output,
    outputShape: call.outputShape,
    outputs: [call.output],
    outputShapes: [call.outputShape],
    node: (op, ins, outs, attrs) => ctx.node(op, ins, outs, attrs),
    initializer: (hint, data, dims) => ctx.initializer(hint, data, dims),
    int64s: (hint, values) => ctx.int64s(hint, values),
    fresh: (hint) => ctx.fresh(hint),
    setOutputMask: () => {},
    refuse: (reason) => ctx.refuse(reason),
    emitLayer: (layer, inner) => ctx.emitLayer(layer, inner),
  };
}

/** Writes `input[:, begin_k : size_k − end_k, …]` on `axes` (a Keras crop) as `output`. */
export function emitCrop(
  ctx: OnnxLayerContext,
  input: string,
  output: string,
  axes: readonly number[],
  crops: readonly (readonly [number, number])[],
  sizes: readonly (number | null)[],
): void {
  const starts = crops.map(([begin]) => begin);
  // An end of -end counts from the axis's end; 0 cropped at the end means "to the end".
  const ends = crops.map(([, end], k) => end === 0 ? (sizes[k] ?? Number.MAX_SAFE_INTEGER) : -end);
  ctx.node("Slice", [
    input,
    ctx.int64s("starts", starts),
    ctx.int64s("ends", ends),
    ctx.int64s("axes", axes),
  ], [output]);
}
