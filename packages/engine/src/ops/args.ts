/**
 * Reading the arguments of one operation call from a model config, in both dialects, into plain
 * values where the call's tensors are {@link TensorArg} placeholders (their index in the call's
 * input list) and slice keys are {@link SliceArg} / {@link EllipsisArg}:
 *
 * - Keras 3 (`inbound_nodes: [{args, kwargs}]`, keras/src/models/functional.py `serialize_node`):
 *   tensors are `{class_name: "__keras_tensor__", config: {keras_history: [name, node, index]}}`,
 *   slices `{class_name: "__slice__", config: {start, stop, step}}`, `...` is
 *   `{class_name: "__ellipsis__"}`, tuples are lists and numbers stay numbers.
 * - tf.keras 2 `TFOpLambda` / `SlicingOpLambda` (keras/engine/node.py `Node.serialize`): the
 *   first call argument is `[name, node, index, kwargs]` (a list of those for a list argument such
 *   as `tf.concat`'s), a constant first argument `["_CONSTANT_VALUE", -1, value, kwargs]`; every
 *   other argument is in `kwargs` by the TF function's parameter name, a tensor there as
 *   `[name, node, index]`; `SlicingOpLambda` writes slices as `{start, stop, step}` dicts.
 *
 * Nothing is evaluated: any other serialised object (a `__lambda__`, a NumPy array, a custom
 * class) is refused by name.
 *
 * @module
 */
import { isRecord } from "../spec.ts";
import { ModelConfigError, UnsupportedLayerError } from "../errors.ts";

/** A tensor argument: the index of the tensor in the op call's inputs. */
export class TensorArg {
  constructor(readonly index: number) {}
}

/** A Python `slice(start, stop, step)`. */
export class SliceArg {
  constructor(
    readonly start: number | null,
    readonly stop: number | null,
    readonly step: number | null,
  ) {}
}

/** Python's `...` in a slicing key. */
export class EllipsisArg {}

/** A decoded argument value. */
export type ArgValue =
  | number
  | boolean
  | string
  | null
  | TensorArg
  | SliceArg
  | EllipsisArg
  | ArgValue[]
  | { [key: string]: ArgValue };

/** A reference to the tensor another layer's call produced. */
export interface OpTensorRef {
  layer: string;
  node: number;
  index: number;
}

/** One decoded op call: its positional and keyword arguments and the tensors it reads. */
export interface DecodedCall {
  args: ArgValue[];
  kwargs: Record<string, ArgValue>;
  /** The tensors of the call, in the order of their {@link TensorArg} indices. */
  inputs: OpTensorRef[];
}

/** Marker of a constant first argument in a Keras 2 node. */
export const CONSTANT_VALUE = "_CONSTANT_VALUE";

function sliceBound(v: unknown, what: string, op: string, name: string): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "number" && Number.isInteger(v)) return v;
  throw new UnsupportedLayerError(
    op,
    name,
    `slice ${what} ${JSON.stringify(v)}: only integer slice bounds are supported`,
  );
}

/** Decodes a Keras 3 node `{args, kwargs}`. */
export function decodeKeras3Node(node: unknown, op: string, name: string): DecodedCall {
  if (!isRecord(node)) {
    throw new ModelConfigError(`operation "${name}" (${op}): inbound node is not {args, kwargs}`);
  }
  const inputs: OpTensorRef[] = [];
  const decode = (v: unknown): ArgValue => {
    if (Array.isArray(v)) return v.map(decode);
    if (!isRecord(v)) {
      if (v === undefined) return null;
      if (typeof v === "number" || typeof v === "boolean" || typeof v === "string" || v === null) {
        return v;
      }
      throw new ModelConfigError(`operation "${name}" (${op}): argument ${String(v)}`);
    }
    if (typeof v.class_name === "string") {
      const cfg = isRecord(v.config) ? v.config : {};
      switch (v.class_name) {
        case "__keras_tensor__": {
          const h = cfg.keras_history;
          if (!Array.isArray(h) || typeof h[0] !== "string") {
            throw new ModelConfigError(
              `operation "${name}" (${op}): a tensor argument without keras_history`,
            );
          }
          inputs.push({ layer: h[0], node: Number(h[1] ?? 0), index: Number(h[2] ?? 0) });
          return new TensorArg(inputs.length - 1);
        }
        case "__slice__":
          return new SliceArg(
            sliceBound(cfg.start, "start", op, name),
            sliceBound(cfg.stop, "stop", op, name),
            sliceBound(cfg.step, "step", op, name),
          );
        case "__ellipsis__":
          return new EllipsisArg();
        default:
          throw new UnsupportedLayerError(
            op,
            name,
            `argument of class ${v.class_name}: only tensors, numbers and slices are supported`,
          );
      }
    }
    const out: Record<string, ArgValue> = {};
    for (const [k, item] of Object.entries(v)) out[k] = decode(item);
    return out;
  };
  const args = Array.isArray(node.args) ? node.args.map(decode) : [];
  const kwargs: Record<string, ArgValue> = {};
  if (isRecord(node.kwargs)) {
    for (const [k, v] of Object.entries(node.kwargs)) kwargs[k] = decode(v);
  }
  return { args, kwargs, inputs };
}

/** Whether `v` is a Keras 2 tensor reference `[name, node, index]` (or with kwargs). */
function isKeras2Ref(v: unknown): v is [string, number, number, unknown?] {
  return Array.isArray(v) && (v.length === 3 || v.length === 4) && typeof v[0] === "string" &&
    typeof v[1] === "number" && typeof v[2] === "number";
}

/**
 * Decodes a Keras 2 TFOpLambda / SlicingOpLambda node: one item `[name, node, index, kwargs]`
 * (the first argument is one tensor or constant) or a list of them (the first argument is a
 * list). Returns the first argument as `args[0]` and the shared kwargs.
 */
export function decodeKeras2Node(node: unknown, op: string, name: string): DecodedCall {
  const inputs: OpTensorRef[] = [];
  const fail = (what: string): never => {
    throw new ModelConfigError(`operation "${name}" (${op}): inbound node ${what}`);
  };
  const decode = (v: unknown): ArgValue => {
    if (isKeras2Ref(v) && v[0] !== CONSTANT_VALUE) {
      inputs.push({ layer: v[0], node: v[1], index: v[2] });
      return new TensorArg(inputs.length - 1);
    }
    if (Array.isArray(v)) return v.map(decode);
    if (isRecord(v)) {
      const keys = Object.keys(v).sort().join(",");
      if (keys === "start,step,stop") {
        return new SliceArg(
          sliceBound(v.start, "start", op, name),
          sliceBound(v.stop, "stop", op, name),
          sliceBound(v.step, "step", op, name),
        );
      }
      if (v.class_name === "__ellipsis__") return new EllipsisArg();
      if (typeof v.class_name === "string") {
        throw new UnsupportedLayerError(
          op,
          name,
          `argument of class ${v.class_name}: only tensors, numbers and slices are supported`,
        );
      }
      const out: Record<string, ArgValue> = {};
      for (const [k, item] of Object.entries(v)) out[k] = decode(item);
      return out;
    }
    if (v === undefined) return null;
    return v as number | boolean | string | null;
  };
  if (!Array.isArray(node) || node.length === 0) fail("is not a list");
  const items = node as unknown[];
  const single = typeof items[0] === "string";
  const list: unknown[] = single ? [items] : items;
  let kwargsRaw: Record<string, unknown> = {};
  const first = list.map((item, k) => {
    if (!Array.isArray(item) || typeof item[0] !== "string" || item.length < 3) {
      return fail(`item ${k} is ${JSON.stringify(item)}, expected [layer, node, index, kwargs]`);
    }
    if (isRecord(item[3]) && Object.keys(kwargsRaw).length === 0) kwargsRaw = item[3];
    if (item[0] === CONSTANT_VALUE) return decode(item[2]);
    inputs.push({ layer: item[0], node: Number(item[1] ?? 0), index: Number(item[2] ?? 0) });
    return new TensorArg(inputs.length - 1) as ArgValue;
  });
  const kwargs: Record<string, ArgValue> = {};
  for (const [k, v] of Object.entries(kwargsRaw)) kwargs[k] = decode(v);
  return { args: [single ? first[0] : first], kwargs, inputs };
}

/**
 * Binds decoded arguments to parameter names (positional first, then keywords): the value of
 * each named parameter, `undefined` when absent.
 */
export function bindArgs(
  call: DecodedCall,
  params: readonly string[],
): Record<string, ArgValue | undefined> {
  const out: Record<string, ArgValue | undefined> = {};
  params.forEach((p, i) => {
    if (i < call.args.length) out[p] = call.args[i];
    else if (p in call.kwargs) out[p] = call.kwargs[p];
  });
  return out;
}
