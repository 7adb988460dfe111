/**
 * Operation nodes: plain tensor expressions recorded in Functional configs, run as weightless
 * layers (one per call) with a backward.
 *
 * - Keras 3 writes `x + 1.0`, `ops.mean(x, axis=1)`, `x[:, 1:3]`, … as layer entries with
 *   `module: "keras.src.ops.numpy"`, the op's class name (`Add`, `Mean`, `GetItem`, …), its
 *   constructor arguments in `config` (axis, keepdims, newshape) and its call arguments (tensors
 *   and constants) in `inbound_nodes: [{args, kwargs}]`.
 * - tf.keras 2.4–2.15 writes `TFOpLambda` entries (`config.function` a TF API name such as
 *   `"__operators__.add"`, `"math.reduce_mean"`, `"concat"`) and `SlicingOpLambda`
 *   (`"__operators__.getitem"`), with every argument but the first in the node's kwargs.
 *
 * Ops outside {@link KERAS3_OPS} / {@link TF_OPS} are refused by name
 * ({@link UnsupportedLayerError}); nothing from a file is ever executed.
 *
 * @module
 */
import { isRecord } from "../spec.ts";
import { ModelConfigError, UnsupportedLayerError } from "../errors.ts";
import type { Layer, LayerBuildOptions } from "../layer.ts";
import type { LayerTraining } from "../layer_training.ts";
import { registerTraining } from "../registry.ts";
import {
  type ArgValue,
  bindArgs,
  type DecodedCall,
  decodeKeras2Node,
  decodeKeras3Node,
  type OpTensorRef,
  TensorArg,
} from "./args.ts";
import {
  BINARY_FNS,
  type ElementwiseFn,
  ElementwiseOp,
  type Operand,
  UNARY_FNS,
} from "./elementwise.ts";
import type { OpLayer } from "./op_layer.ts";
import { type ReduceFn, ReduceOp } from "./reduce.ts";
import { ExpandDimsOp, JoinOp, ReshapeOp, SqueezeOp, TransposeOp } from "./shape.ts";
import { GetItemOp } from "./slice.ts";
import { type ActivationFn, ActivationOp } from "./activation.ts";

export { OpLayer } from "./op_layer.ts";
export type { OpTensorRef } from "./args.ts";

/** What an op builder receives. */
interface OpBuild {
  /** The op as the file names it (for messages). */
  label: string;
  /** The entry's layer name. */
  name: string;
  /** The decoded call. */
  call: DecodedCall;
  /** The entry's config (Keras 3: the op's constructor arguments). */
  config: Record<string, unknown>;
  options: LayerBuildOptions;
}

type OpBuilder = (b: OpBuild) => OpLayer;

function operand(b: OpBuild, v: ArgValue | undefined, what: string): Operand {
  if (v instanceof TensorArg) return { tensor: v.index };
  if (typeof v === "number") return { value: v };
  if (typeof v === "boolean") return { value: v ? 1 : 0 };
  throw new UnsupportedLayerError(
    b.label,
    b.name,
    `operand ${what} is ${JSON.stringify(v ?? null)}: only tensors and numbers are supported`,
  );
}

function tensorList(b: OpBuild, v: ArgValue | undefined): number {
  if (!Array.isArray(v) || v.length === 0 || !v.every((t) => t instanceof TensorArg)) {
    throw new UnsupportedLayerError(
      b.label,
      b.name,
      "expected a list of tensors (constants in the list are not supported)",
    );
  }
  return v.length;
}

/** A plain config or argument value (slices and tensors are not allowed here). */
function plain(v: unknown): unknown {
  return v instanceof TensorArg ? undefined : v;
}

function elementwise(fn: ElementwiseFn, params: readonly string[]): OpBuilder {
  return (b) => {
    const bound = bindArgs(b.call, params);
    const operands = params.slice(0, UNARY_FNS.includes(fn as never) ? 1 : 2)
      .map((p) => operand(b, bound[p], p));
    if (fn === "power" && "tensor" in operands[1]) {
      throw new UnsupportedLayerError(b.label, b.name, "power with a tensor exponent");
    }
    if (!operands.some((o) => "tensor" in o)) {
      throw new UnsupportedLayerError(b.label, b.name, "an operation without tensor operands");
    }
    return new ElementwiseOp(fn, b.label, b.name, operands, b.options);
  };
}

/** Keras 3 element-wise classes of `keras.src.ops.numpy` and their engine function. */
const KERAS3_ELEMENTWISE: Record<string, ElementwiseFn> = {
  Add: "add",
  Subtract: "subtract",
  Multiply: "multiply",
  Divide: "divide",
  TrueDivide: "divide",
  Maximum: "maximum",
  Minimum: "minimum",
  Power: "power",
  Negative: "negative",
  Absolute: "abs",
  Abs: "abs",
  Square: "square",
  Sqrt: "sqrt",
  Exp: "exp",
  Log: "log",
};

/** A Keras 3 op parameter: from the call's arguments, else the op's config. */
function k3(b: OpBuild, params: readonly string[], key: string, ...aliases: string[]): unknown {
  const bound = bindArgs(b.call, params);
  for (const k of [key, ...aliases]) {
    if (bound[k] !== undefined) return plain(bound[k]);
    if (b.config[k] !== undefined) return b.config[k];
  }
  return undefined;
}

function keras3Reduce(fn: ReduceFn): OpBuilder {
  return (b) => {
    const initial = k3(b, ["x"], "initial");
    if (initial !== undefined && initial !== null) {
      throw new UnsupportedLayerError(b.label, b.name, "a reduction with an initial value");
    }
    return new ReduceOp(
      fn,
      b.label,
      b.name,
      k3(b, ["x", "axis", "keepdims"], "axis"),
      k3(b, ["x", "axis", "keepdims"], "keepdims"),
      b.options,
    );
  };
}

function activation(fn: ActivationFn, params: readonly string[]): OpBuilder {
  return (b) => {
    const bound = bindArgs(b.call, params);
    if (!(bound[params[0]] instanceof TensorArg)) {
      throw new UnsupportedLayerError(b.label, b.name, "an activation of a constant");
    }
    const axis = fn === "softmax" ? (plain(bound.axis) ?? b.config.axis ?? -1) : undefined;
    return new ActivationOp(fn, b.label, b.name, axis, b.options);
  };
}

/**
 * The Keras 3 operation classes the engine runs, keyed `<ops module>.<class>`
 * (`numpy.Add` is `keras.src.ops.numpy.Add`).
 */
const KERAS3_OPS: Record<string, OpBuilder> = {
  ...Object.fromEntries(
    Object.entries(KERAS3_ELEMENTWISE).map(([cls, fn]) => [
      `numpy.${cls}`,
      elementwise(fn, UNARY_FNS.includes(fn as never) ? ["x"] : ["x1", "x2"]),
    ]),
  ),
  "numpy.Tanh": activation("tanh", ["x"]),
  "nn.Relu": activation("relu", ["x"]),
  "nn.Sigmoid": activation("sigmoid", ["x"]),
  "nn.Softmax": activation("softmax", ["x", "axis"]),
  "numpy.Reshape": (b) =>
    new ReshapeOp(b.label, b.name, k3(b, ["x", "newshape"], "newshape", "new_shape"), b.options),
  "numpy.Transpose": (b) => {
    const axes = k3(b, ["x", "axes"], "axes");
    if (axes === null || axes === undefined) {
      throw new UnsupportedLayerError(
        b.label,
        b.name,
        "transpose without axes reverses every axis, the batch included",
      );
    }
    return new TransposeOp(b.label, b.name, axes, b.options);
  },
  "numpy.ExpandDims": (b) =>
    new ExpandDimsOp(b.label, b.name, k3(b, ["x", "axis"], "axis"), b.options),
  "numpy.Squeeze": (b) => new SqueezeOp(b.label, b.name, k3(b, ["x", "axis"], "axis"), b.options),
  "numpy.Concatenate": (b) =>
    new JoinOp(
      false,
      b.label,
      b.name,
      tensorList(b, bindArgs(b.call, ["xs"]).xs),
      k3(b, ["xs", "axis"], "axis") ?? 0,
      b.options,
    ),
  "numpy.Stack": (b) =>
    new JoinOp(
      true,
      b.label,
      b.name,
      tensorList(b, bindArgs(b.call, ["x"]).x),
      k3(b, ["x", "axis"], "axis") ?? 0,
      b.options,
    ),
  "numpy.Mean": keras3Reduce("mean"),
  "numpy.Sum": keras3Reduce("sum"),
  "numpy.Max": keras3Reduce("max"),
  "numpy.Amax": keras3Reduce("max"),
  "numpy.Min": keras3Reduce("min"),
  "numpy.Amin": keras3Reduce("min"),
  "numpy.GetItem": (b) =>
    new GetItemOp(b.label, b.name, bindArgs(b.call, ["x", "key"]).key, b.options),
};

/** A TF function's argument (bound by its parameter name). */
function tfArg(b: OpBuild, params: readonly string[], key: string): unknown {
  return plain(bindArgs(b.call, params)[key]);
}

function tfReduce(fn: ReduceFn): OpBuilder {
  const params = ["input_tensor", "axis", "keepdims"];
  return (b) =>
    new ReduceOp(
      fn,
      b.label,
      b.name,
      tfArg(b, params, "axis"),
      tfArg(b, params, "keepdims"),
      b.options,
    );
}

/** tf.keras 2 `TFOpLambda` functions (`config.function`) the engine runs. */
const TF_OPS: Record<string, OpBuilder> = {};
const tfAliases: [ElementwiseFn, string[]][] = [
  ["add", ["__operators__.add", "math.add", "add"]],
  ["subtract", ["math.subtract", "subtract"]],
  ["multiply", ["math.multiply", "multiply"]],
  ["divide", ["math.truediv", "math.divide", "truediv", "divide"]],
  ["maximum", ["math.maximum", "maximum"]],
  ["minimum", ["math.minimum", "minimum"]],
  ["power", ["math.pow", "pow"]],
  ["negative", ["math.negative", "negative"]],
  ["abs", ["math.abs", "abs"]],
  ["square", ["math.square", "square"]],
  ["sqrt", ["math.sqrt", "sqrt"]],
  ["exp", ["math.exp", "exp"]],
  ["log", ["math.log", "log"]],
];
for (
  const [fn, params, names] of [
    ["relu", ["features"], ["nn.relu"]],
    ["sigmoid", ["x"], ["math.sigmoid", "sigmoid", "nn.sigmoid"]],
    ["tanh", ["x"], ["math.tanh", "tanh", "nn.tanh"]],
    ["softmax", ["logits", "axis"], ["nn.softmax", "math.softmax"]],
  ] as [ActivationFn, string[], string[]][]
) {
  for (const n of names) TF_OPS[n] = activation(fn, params);
}
for (const [fn, names] of tfAliases) {
  const params = UNARY_FNS.includes(fn as never) ? ["x"] : ["x", "y"];
  for (const n of names) TF_OPS[n] = elementwise(fn, params);
}
Object.assign(TF_OPS, {
  reshape: (b: OpBuild) =>
    new ReshapeOp(b.label, b.name, tfArg(b, ["tensor", "shape"], "shape"), b.options),
  transpose: (b: OpBuild) => {
    const params = ["a", "perm", "conjugate"];
    const perm = tfArg(b, params, "perm");
    if (perm === null || perm === undefined) {
      throw new UnsupportedLayerError(
        b.label,
        b.name,
        "transpose without perm reverses every axis, the batch included",
      );
    }
    return new TransposeOp(b.label, b.name, perm, b.options);
  },
  expand_dims: (b: OpBuild) =>
    new ExpandDimsOp(b.label, b.name, tfArg(b, ["input", "axis"], "axis"), b.options),
  squeeze: (b: OpBuild) =>
    new SqueezeOp(b.label, b.name, tfArg(b, ["input", "axis"], "axis"), b.options),
  concat: (b: OpBuild) =>
    new JoinOp(
      false,
      b.label,
      b.name,
      tensorList(b, bindArgs(b.call, ["values"]).values),
      tfArg(b, ["values", "axis"], "axis"),
      b.options,
    ),
  stack: (b: OpBuild) =>
    new JoinOp(
      true,
      b.label,
      b.name,
      tensorList(b, bindArgs(b.call, ["values"]).values),
      tfArg(b, ["values", "axis"], "axis") ?? 0,
      b.options,
    ),
  "math.reduce_mean": tfReduce("mean"),
  reduce_mean: tfReduce("mean"),
  "math.reduce_sum": tfReduce("sum"),
  reduce_sum: tfReduce("sum"),
  "math.reduce_max": tfReduce("max"),
  reduce_max: tfReduce("max"),
  "math.reduce_min": tfReduce("min"),
  reduce_min: tfReduce("min"),
});

/** SlicingOpLambda functions. */
const TF_SLICING_OPS: Record<string, OpBuilder> = {
  "__operators__.getitem": (b) =>
    new GetItemOp(
      b.label,
      b.name,
      bindArgs(b.call, ["tensor", "slice_spec"]).slice_spec,
      b.options,
    ),
};

/** A layer entry of a model config, as far as op detection reads it. */
export interface OpEntryObject {
  class_name: string;
  module?: unknown;
  config?: unknown;
}

const KERAS3_OPS_MODULE = /^keras(\.src)?\.ops(\.|$)/;

/** Whether a config entry is an operation node (Keras 3 op, TFOpLambda or SlicingOpLambda). */
export function isOperationEntry(raw: OpEntryObject): boolean {
  if (typeof raw.module === "string" && KERAS3_OPS_MODULE.test(raw.module)) return true;
  return raw.class_name === "TFOpLambda" || raw.class_name === "SlicingOpLambda";
}

/** The builder of an operation entry and its label, or why it is refused. */
function lookup(raw: OpEntryObject): { builder: OpBuilder; label: string } | { refused: string } {
  const config = isRecord(raw.config) ? raw.config : {};
  if (typeof raw.module === "string" && KERAS3_OPS_MODULE.test(raw.module)) {
    const key = `${raw.module.replace(/^keras(\.src)?\.ops\.?/, "")}.${raw.class_name}`;
    const builder = Object.hasOwn(KERAS3_OPS, key) ? KERAS3_OPS[key] : undefined;
    if (builder) return { builder, label: raw.class_name };
    return {
      refused: `a Keras operation (${raw.module}.${raw.class_name}) the engine does not run; ` +
        `supported (keras.src.ops.…): ${Object.keys(KERAS3_OPS).join(", ")}`,
    };
  }
  const fn = config.function;
  const table = raw.class_name === "SlicingOpLambda" ? TF_SLICING_OPS : TF_OPS;
  if (typeof fn === "string" && Object.hasOwn(table, fn)) {
    return { builder: table[fn], label: `${raw.class_name}(${fn})` };
  }
  return {
    refused: `${raw.class_name} of TF function ${JSON.stringify(fn ?? null)}, which the engine ` +
      `does not run; supported: ${Object.keys(table).join(", ")}`,
  };
}

/**
 * Why an operation entry cannot run (undefined when its op is supported). Only the op is checked
 * here; its arguments are checked when the model is built.
 */
export function unsupportedOperation(raw: OpEntryObject): string | undefined {
  const found = lookup(raw);
  return "refused" in found ? found.refused : undefined;
}

/** One call of an operation entry as a layer, and the tensors it reads (in input order). */
export interface OpCall {
  layer: Layer;
  inputs: OpTensorRef[];
}

/**
 * Creates the layer for call `node` (the raw inbound node: Keras 3 `{args, kwargs}` or a Keras 2
 * `[layer, node, index, kwargs]` item / list of items) of an operation entry. Throws
 * {@link UnsupportedLayerError} naming the op and the node for an op or an argument the engine
 * does not run, {@link ModelConfigError} for a malformed node.
 */
export function createOpLayer(
  raw: OpEntryObject,
  name: string,
  node: unknown,
  options: LayerBuildOptions = {},
): OpCall {
  const found = lookup(raw);
  if ("refused" in found) throw new UnsupportedLayerError(raw.class_name, name, found.refused);
  const keras3 = typeof raw.module === "string" && KERAS3_OPS_MODULE.test(raw.module);
  const call = keras3
    ? decodeKeras3Node(node, found.label, name)
    : decodeKeras2Node(node, found.label, name);
  const config = isRecord(raw.config) ? raw.config : {};
  const layer = found.builder({ label: found.label, name, call, config, options });
  if (layer.inputCount !== call.inputs.length) {
    throw new UnsupportedLayerError(
      found.label,
      name,
      `the call passes ${call.inputs.length} tensors where the op takes ${layer.inputCount}`,
    );
  }
  if (call.inputs.length === 0) {
    throw new ModelConfigError(`operation "${name}" (${found.label}) reads no tensor`);
  }
  return { layer, inputs: call.inputs };
}

/**
 * The Keras 3 op classes (`<ops module>.<class>`, e.g. `numpy.Add`, `nn.Relu`) and TF functions
 * the engine runs (for documentation and messages).
 */
export const SUPPORTED_OPERATIONS: {
  readonly keras3: readonly string[];
  readonly tfOpLambda: readonly string[];
  readonly slicingOpLambda: readonly string[];
} = {
  keras3: Object.keys(KERAS3_OPS),
  tfOpLambda: Object.keys(TF_OPS),
  slicingOpLambda: Object.keys(TF_SLICING_OPS),
};

const OP_TRAINING: LayerTraining<OpLayer> = {
  backward: (layer, args) => layer.backwardInputs(args),
  // A softmax / sigmoid op as the model output lets the loss fuse it, as for a Dense's.
  outputActivation: (layer) => (layer instanceof ActivationOp ? layer.outputKind : null),
};

for (
  const op of [
    ...UNARY_FNS,
    ...BINARY_FNS,
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "reshape",
    "transpose",
    "expand_dims",
    "squeeze",
    "concatenate",
    "stack",
    "mean",
    "sum",
    "max",
    "min",
    "getitem",
  ]
) {
  registerTraining<OpLayer>(`op:${op}`, OP_TRAINING);
}
