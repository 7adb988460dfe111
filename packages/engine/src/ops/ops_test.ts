/**
 * Operation nodes one by one: every supported op built from a Keras 3 node (and the TF function
 * spellings from a tf.keras 2 node), run forward vs the TF.js op (≤ 1e-5) and backward vs
 * `tf.grads` (≤ 1e-4 relative), on odd shapes at batch 1 and 17; typed errors for ops, arguments
 * and shapes the engine refuses.
 */
import { expectThrows } from "../../testing/assert.ts";
import { InputShapeError, LayerConfigError, UnsupportedLayerError } from "../errors.ts";
import type { Layer } from "../layer.ts";
import { type DeviceTensor, sizeOf } from "../tensor.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { type HostTensor, mergeGradients, trainContext } from "../../testing/merge_cases.ts";
import { relativeError } from "../../testing/gradient_check.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { tf, tfReady } from "../../testing/tfjs_reference.ts";
import { createOpLayer, type OpEntryObject, SUPPORTED_OPERATIONS } from "./mod.ts";

function assert(cond: unknown, message = "assertion failed"): asserts cond {
  if (!cond) throw new Error(message);
}

function assertEquals(got: unknown, want: unknown, message = ""): void {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new Error(`${message}: got ${g}, want ${w}`);
}

const FWD_TOL = 1e-5;
const GRAD_TOL = 1e-4;
const NUMPY = "keras.src.ops.numpy";

/** A Keras 3 tensor argument read from layer `name`. */
function kt(name: string): Record<string, unknown> {
  return {
    class_name: "__keras_tensor__",
    config: { shape: null, dtype: "float32", keras_history: [name, 0, 0] },
  };
}

/** A Keras 3 slice argument. */
function sl(start: number | null, stop: number | null, step: number | null = null) {
  return { class_name: "__slice__", config: { start, stop, step } };
}

const ELLIPSIS = { class_name: "__ellipsis__", config: {} };

interface OpCase {
  title: string;
  entry: OpEntryObject;
  /** The inbound node, given the Keras 3 tensor args of the inputs (`a`, `b`, …). */
  node: (t: Record<string, unknown>[]) => unknown;
  /** Non-batch shapes of the inputs. */
  shapes: number[][];
  tf: (xs: tf.Tensor[]) => tf.Tensor;
  /** Inputs in [0.5, 2) (sqrt, log, power). */
  positive?: boolean;
}

const k3 = (
  cls: string,
  config: Record<string, unknown>,
  args: (t: Record<string, unknown>[]) => unknown[],
  shapes: number[][],
  fn: (xs: tf.Tensor[]) => tf.Tensor,
  title = cls,
  positive = false,
): OpCase => ({
  title,
  entry: { class_name: cls, module: NUMPY, config: { name: "op", ...config } },
  node: (t) => ({ args: args(t), kwargs: {} }),
  shapes,
  tf: fn,
  positive,
});

/** tf.keras 2 TFOpLambda node: first argument item(s) with the kwargs. */
const k2 = (
  fn: string,
  first: (refs: unknown[][]) => unknown,
  kwargs: Record<string, unknown>,
  shapes: number[][],
  ref: (xs: tf.Tensor[]) => tf.Tensor,
  slicing = false,
  positive = false,
): OpCase => ({
  title: `${slicing ? "SlicingOpLambda" : "TFOpLambda"}(${fn})`,
  entry: {
    class_name: slicing ? "SlicingOpLambda" : "TFOpLambda",
    config: { name: "op", function: fn, trainable: true, dtype: "float32" },
  },
  node: () => {
    const refs = shapes.map((_, i) => [`in${i}`, 0, 0, kwargs]);
    return first(refs);
  },
  shapes,
  tf: ref,
  positive,
});

const S = [3, 5];
/** A Keras 3 `keras.src.ops.nn` entry. */
const nn = (cls: string, config: Record<string, unknown> = {}): OpEntryObject => ({
  class_name: cls,
  module: "keras.src.ops.nn",
  config: { name: "op", ...config },
});
const CASES: OpCase[] = [
  // element-wise, two tensors (with broadcasting) and numbers on either side
  k3("Add", {}, (t) => [t[0], t[1]], [S, S], ([a, b]) => tf.add(a, b), "Add x + y"),
  k3("Add", {}, (t) => [t[0], t[1]], [S, [1, 5]], ([a, b]) => tf.add(a, b), "Add broadcast"),
  k3("Add", {}, (t) => [t[0], 1.5], [S], ([a]) => tf.add(a, 1.5), "Add x + 1.5"),
  k3("Subtract", {}, (t) => [t[0], t[1]], [S, [3, 1]], ([a, b]) => tf.sub(a, b), "Subtract bcast"),
  k3("Subtract", {}, (t) => [2, t[0]], [S], ([a]) => tf.sub(2, a), "Subtract 2 - x"),
  k3("Multiply", {}, (t) => [t[0], t[1]], [S, S], ([a, b]) => tf.mul(a, b)),
  k3("TrueDivide", {}, (t) => [t[0], t[1]], [S, S], ([a, b]) => tf.div(a, b), "TrueDivide", true),
  k3("Divide", {}, (t) => [3, t[0]], [S], ([a]) => tf.div(3, a), "Divide 3 / x", true),
  k3("Maximum", {}, (t) => [t[0], t[1]], [S, S], ([a, b]) => tf.maximum(a, b)),
  k3("Minimum", {}, (t) => [t[0], t[1]], [[2, 3, 4], [2, 3, 4]], ([a, b]) => tf.minimum(a, b)),
  k3("Maximum", {}, (t) => [t[0], 0.1], [S], ([a]) => tf.maximum(a, 0.1), "Maximum x, 0.1"),
  k3("Power", {}, (t) => [t[0], 2.5], [S], ([a]) => tf.pow(a, 2.5), "Power x ** 2.5", true),
  // element-wise, one tensor
  k3("Negative", {}, (t) => [t[0]], [S], ([a]) => tf.neg(a)),
  k3("Absolute", {}, (t) => [t[0]], [S], ([a]) => tf.abs(a)),
  k3("Square", {}, (t) => [t[0]], [S], ([a]) => tf.square(a)),
  k3("Sqrt", {}, (t) => [t[0]], [S], ([a]) => tf.sqrt(a), "Sqrt", true),
  k3("Exp", {}, (t) => [t[0]], [S], ([a]) => tf.exp(a)),
  k3("Log", {}, (t) => [t[0]], [S], ([a]) => tf.log(a), "Log", true),
  // activations (WASM kernels)
  { ...k3("Relu", {}, (t) => [t[0]], [S], ([a]) => tf.relu(a)), entry: nn("Relu") },
  { ...k3("Sigmoid", {}, (t) => [t[0]], [S], ([a]) => tf.sigmoid(a)), entry: nn("Sigmoid") },
  k3("Tanh", {}, (t) => [t[0]], [S], ([a]) => tf.tanh(a)),
  {
    ...k3("Softmax", {}, (t) => [t[0]], [[3, 4]], ([a]) => tf.softmax(a)),
    entry: nn("Softmax", { axis: -1 }),
  },
  // shape
  k3("Reshape", { newshape: [-1, 5, 3] }, (t) => [t[0]], [S], ([a]) => tf.reshape(a, [-1, 5, 3])),
  k3(
    "Reshape",
    { newshape: [-1, -1] },
    (t) => [t[0]],
    [[2, 3, 2]],
    ([a]) => tf.reshape(a, [a.shape[0], -1]),
    "Reshape -1",
  ),
  k3(
    "Transpose",
    { axes: [0, 2, 3, 1] },
    (t) => [t[0]],
    [[2, 3, 4]],
    ([a]) => tf.transpose(a, [0, 2, 3, 1]),
  ),
  k3("ExpandDims", { axis: -1 }, (t) => [t[0]], [S], ([a]) => tf.expandDims(a, -1)),
  k3("ExpandDims", { axis: 1 }, (t) => [t[0]], [S], ([a]) => tf.expandDims(a, 1), "ExpandDims 1"),
  k3("Squeeze", { axis: 2 }, (t) => [t[0]], [[3, 1, 2]], ([a]) => tf.squeeze(a, [2])),
  k3(
    "Concatenate",
    { axis: -1 },
    (t) => [[t[0], t[1]]],
    [[3, 2], [3, 4]],
    ([a, b]) => tf.concat([a, b], -1),
  ),
  k3(
    "Concatenate",
    { axis: 1 },
    (t) => [[t[0], t[1], t[2]]],
    [[1, 2], [3, 2], [2, 2]],
    ([a, b, c]) => tf.concat([a, b, c], 1),
    "Concatenate axis 1",
  ),
  k3("Stack", { axis: 1 }, (t) => [[t[0], t[1]]], [S, S], ([a, b]) => tf.stack([a, b], 1)),
  k3(
    "Stack",
    { axis: -1 },
    (t) => [[t[0], t[1]]],
    [S, S],
    ([a, b]) => tf.stack([a, b], -1),
    "Stack -1",
  ),
  // reductions
  k3("Mean", { axis: [1], keepdims: false }, (t) => [t[0]], [[3, 4, 5]], ([a]) => tf.mean(a, 1)),
  k3(
    "Mean",
    { axis: [-1, 1], keepdims: true },
    (t) => [t[0]],
    [[3, 4, 5]],
    ([a]) => tf.mean(a, [1, 3], true),
    "Mean keepdims",
  ),
  k3("Sum", { axis: 2, keepdims: false }, (t) => [t[0]], [[3, 4, 5]], ([a]) => tf.sum(a, 2)),
  k3(
    "Max",
    { axis: [1], keepdims: true, initial: null },
    (t) => [t[0]],
    [S],
    ([a]) => tf.max(a, 1, true),
  ),
  k3(
    "Min",
    { axis: [1, 2], keepdims: false, initial: null },
    (t) => [t[0]],
    [[3, 4, 5]],
    ([a]) => tf.min(a, [1, 2]),
  ),
  // slicing
  k3(
    "GetItem",
    {},
    (t) => [t[0], [sl(null, null), 1]],
    S.length ? [S] : [],
    ([a]) => tf.slice(a, [0, 1, 0], [-1, 1, -1]).squeeze([1]),
    "GetItem x[:, 1]",
  ),
  k3(
    "GetItem",
    {},
    (t) => [t[0], [sl(null, null), sl(1, 3)]],
    [[6, 2]],
    ([a]) => tf.slice(a, [0, 1, 0], [-1, 2, -1]),
    "GetItem x[:, 1:3]",
  ),
  k3(
    "GetItem",
    {},
    (t) => [t[0], [sl(null, null), sl(null, null, -2), -1]],
    [[7, 3]],
    ([a]) => tf.gather(a, [6, 4, 2, 0], 1).slice([0, 0, 2], [-1, -1, 1]).squeeze([2]),
    "GetItem x[:, ::-2, -1]",
  ),
  k3(
    "GetItem",
    {},
    (t) => [t[0], [ELLIPSIS, sl(-3, -1), null]],
    [[2, 5]],
    ([a]) => tf.slice(a, [0, 0, 2], [-1, -1, 2]).expandDims(-1),
    "GetItem x[..., -3:-1, None]",
  ),
  // tf.keras 2 spellings
  k2(
    "__operators__.add",
    (r) => r[0],
    { y: ["in1", 0, 0], name: null },
    [S, S],
    ([a, b]) => tf.add(a, b),
  ),
  k2(
    "math.subtract",
    () => ["_CONSTANT_VALUE", -1, 1, { y: ["in0", 0, 0], name: null }],
    {},
    [S],
    ([a]) => tf.sub(1, a),
  ),
  k2("math.multiply", (r) => r[0], { y: 0.5, name: null }, [S], ([a]) => tf.mul(a, 0.5)),
  k2(
    "math.truediv",
    (r) => r[0],
    { y: ["in1", 0, 0], name: null },
    [S, S],
    ([a, b]) => tf.div(a, b),
    false,
    true,
  ),
  k2("math.pow", (r) => r[0], { y: 3, name: null }, [S], ([a]) => tf.pow(a, 3)),
  k2("math.sqrt", (r) => r[0], { name: null }, [S], ([a]) => tf.sqrt(a), false, true),
  k2("nn.relu", (r) => r[0], { name: null }, [S], ([a]) => tf.relu(a)),
  k2("math.sigmoid", (r) => r[0], { name: null }, [S], ([a]) => tf.sigmoid(a)),
  k2("nn.softmax", (r) => r[0], { axis: -1, name: null }, [[2, 6]], ([a]) => tf.softmax(a)),
  k2("reshape", (r) => r[0], { shape: [-1, 15] }, [S], ([a]) => tf.reshape(a, [-1, 15])),
  k2("transpose", (r) => r[0], { perm: [0, 2, 1] }, [S], ([a]) => tf.transpose(a, [0, 2, 1])),
  k2("concat", (r) => r, { axis: -1 }, [[3, 2], [3, 1]], ([a, b]) => tf.concat([a, b], -1)),
  k2("stack", (r) => r, { axis: 1 }, [S, S], ([a, b]) => tf.stack([a, b], 1)),
  k2("expand_dims", (r) => r[0], { axis: 1 }, [S], ([a]) => tf.expandDims(a, 1)),
  k2("squeeze", (r) => r[0], { axis: -1 }, [[3, 1]], ([a]) => tf.squeeze(a, [2])),
  k2(
    "math.reduce_mean",
    (r) => r[0],
    { axis: -1, keepdims: true },
    [[3, 4]],
    ([a]) => tf.mean(a, -1, true),
  ),
  k2("math.reduce_sum", (r) => r[0], { axis: [1, 2] }, [[3, 4]], ([a]) => tf.sum(a, [1, 2])),
  k2("math.reduce_max", (r) => r[0], { axis: 1 }, [[3, 4]], ([a]) => tf.max(a, 1)),
  k2(
    "__operators__.getitem",
    (r) => r[0],
    { slice_spec: [{ start: null, stop: null, step: null }, { start: 1, stop: null, step: 2 }] },
    [[5, 2]],
    ([a]) => tf.gather(a, [1, 3], 1),
    true,
  ),
  k2(
    "__operators__.getitem",
    (r) => r[0],
    { slice_spec: [{ class_name: "__ellipsis__" }, 0] },
    [[5, 2]],
    ([a]) => tf.slice(a, [0, 0, 0], [-1, -1, 1]).squeeze([2]),
    true,
  ),
];

function makeLayer(c: OpCase): Layer {
  const refs = c.shapes.map((_, i) => kt(`in${i}`));
  const { layer, inputs } = createOpLayer(c.entry, "op", c.node(refs));
  assertEquals(inputs.length, layer.multiInput ? inputs.length : 1);
  layer.buildInputs(c.shapes, [], getRuntime().heap);
  return layer;
}

/** Forward on host tensors (the output may alias an input). */
function runOp(layer: Layer, xs: HostTensor[]): HostTensor {
  const { kernels, heap } = getRuntime();
  const dx: DeviceTensor[] = xs.map((x) => ({
    ptr: heap.upload(x.data),
    shape: [...x.shape],
    dtype: "float32",
  }));
  const owned = new Set(dx.map((t) => t.ptr));
  try {
    const y = layer.callInputs(dx, dx.map(() => null), { kernels, heap, training: false });
    owned.add(y.ptr);
    return { data: heap.f32(y.ptr, sizeOf(y.shape)).slice(), shape: [...y.shape] };
  } finally {
    for (const p of owned) heap.free(p);
  }
}

for (const c of CASES) {
  Deno.test(`op ${c.title}: forward vs TF.js and gradients vs tf.grads, batch 1 and 17`, async () => {
    await tfReady();
    const layer = makeLayer(c);
    const rng = new Rng(7 + c.title.length);
    for (const batch of [1, 17]) {
      const xs: HostTensor[] = c.shapes.map((s) => {
        const shape = [batch, ...s];
        const data = c.positive
          ? rng.floats(sizeOf(shape), 0.5, 2)
          : rng.floats(sizeOf(shape), -2, 2);
        return { data, shape };
      });
      const y = runOp(layer, xs);
      const want = tf.tidy(() => c.tf(xs.map((x) => tf.tensor(x.data, x.shape))));
      assertEquals(y.shape, want.shape, `${c.title}: output shape`);
      assertEquals(
        [batch, ...(layer.computeOutputShapes(c.shapes) as number[])],
        want.shape,
        `${c.title}: static output shape`,
      );
      const fwd = maxAbsDiff(y.data, want.dataSync());
      assert(fwd <= FWD_TOL, `${c.title} batch ${batch}: forward max diff ${fwd}`);
      want.dispose();
      const dy = rng.floats(y.data.length, -1, 1);
      const got = mergeGradients(layer, xs, dy);
      const ref = tf.tidy(() => {
        const g = tf.grads((...ts: tf.Tensor[]) => c.tf(ts))(
          xs.map((x) => tf.tensor(x.data, x.shape)),
          tf.tensor(dy, y.shape),
        );
        return g.map((t) => t.dataSync().slice());
      });
      got.forEach((g, i) => {
        const err = relativeError(g!, ref[i]);
        assert(err <= GRAD_TOL, `${c.title} batch ${batch}: gradient ${i} rel err ${err}`);
      });
    }
    layer.dispose();
  });
}

Deno.test("op: the training context helper is usable by op backwards", () => {
  assert(trainContext().training);
});

Deno.test("op: every listed Keras 3 op and TF function has a case", () => {
  const covered = new Set(CASES.map((c) => c.entry.class_name));
  for (const cls of ["Add", "Subtract", "Multiply", "TrueDivide", "Maximum", "Minimum", "Power"]) {
    assert(covered.has(cls), cls);
  }
  assert(SUPPORTED_OPERATIONS.keras3.includes("numpy.GetItem"));
  assert(SUPPORTED_OPERATIONS.tfOpLambda.includes("math.reduce_mean"));
  assert(SUPPORTED_OPERATIONS.slicingOpLambda.includes("__operators__.getitem"));
});

Deno.test("op: refusals name the op and the node", () => {
  const node = { args: [kt("x")], kwargs: {} };
  expectThrows(
    () => createOpLayer({ class_name: "Cumsum", module: NUMPY, config: {} }, "cumsum_3", node),
    UnsupportedLayerError,
    "cumsum_3",
    "Cumsum",
  );
  expectThrows(
    () =>
      createOpLayer(
        { class_name: "LogSoftmax", module: "keras.src.ops.nn", config: {} },
        "softmax_op",
        node,
      ),
    UnsupportedLayerError,
    "softmax_op",
    "keras.src.ops.nn.LogSoftmax",
  );
  expectThrows(
    () =>
      createOpLayer(
        { class_name: "TFOpLambda", config: { function: "math.cumsum" } },
        "tf.math.cumsum",
        ["x", 0, 0, { axis: 1 }],
      ),
    UnsupportedLayerError,
    "tf.math.cumsum",
    "math.cumsum",
  );
  // A constant operand the engine does not read (a serialised array).
  expectThrows(
    () =>
      createOpLayer({ class_name: "Add", module: NUMPY, config: {} }, "add_9", {
        args: [kt("x"), { class_name: "__numpy__", config: { value: [1, 2] } }],
        kwargs: {},
      }),
    UnsupportedLayerError,
    "add_9",
    "__numpy__",
  );
  // A lambda smuggled in as an argument is refused, never run.
  expectThrows(
    () =>
      createOpLayer({ class_name: "Add", module: NUMPY, config: {} }, "add_l", {
        args: [kt("x"), { class_name: "__lambda__", config: { value: "ZGVmIGY=" } }],
        kwargs: {},
      }),
    UnsupportedLayerError,
    "__lambda__",
  );
  expectThrows(
    () =>
      createOpLayer({ class_name: "Power", module: NUMPY, config: {} }, "pow", {
        args: [kt("x"), kt("y")],
        kwargs: {},
      }),
    UnsupportedLayerError,
    "tensor exponent",
  );
});

Deno.test("op: batch-moving arguments and bad shapes are typed errors", () => {
  const { heap } = getRuntime();
  const build = (
    cls: string,
    config: Record<string, unknown>,
    args: unknown[],
    shape: number[],
  ) => {
    const { layer } = createOpLayer(
      { class_name: cls, module: NUMPY, config: { name: "op", ...config } },
      "op",
      { args, kwargs: {} },
    );
    layer.buildInputs([shape], [], heap);
  };
  expectThrows(() => build("Mean", { axis: null }, [kt("x")], [3]), LayerConfigError, "axis");
  expectThrows(() => build("Mean", { axis: [0] }, [kt("x")], [3]), InputShapeError, "batch");
  expectThrows(() => build("Reshape", { newshape: [4, -1] }, [kt("x")], [3]), LayerConfigError);
  expectThrows(() => build("Reshape", { newshape: [-1, 4] }, [kt("x")], [3]), InputShapeError);
  expectThrows(() => build("Transpose", { axes: [1, 0] }, [kt("x")], [3]), InputShapeError);
  expectThrows(() => build("GetItem", {}, [kt("x"), 0], [3]), InputShapeError, "batch");
  expectThrows(() => build("GetItem", {}, [kt("x"), [sl(null, null), 5]], [3]), InputShapeError);
  expectThrows(
    () => build("GetItem", {}, [kt("x"), [sl(1, null), 0]], [3]),
    InputShapeError,
    "whole batch",
  );
  expectThrows(() => build("Squeeze", { axis: 1 }, [kt("x")], [3]), InputShapeError);
  const softmax = createOpLayer(nn("Softmax", { axis: 1 }), "softmax_1", {
    args: [kt("x")],
    kwargs: {},
  }).layer;
  expectThrows(
    () => softmax.buildInputs([[3, 4]], [], heap),
    InputShapeError,
    "softmax_1",
    "last axis",
  );
  const add = createOpLayer(
    { class_name: "Add", module: NUMPY, config: { name: "add" } },
    "add",
    { args: [kt("x"), kt("y")], kwargs: {} },
  ).layer;
  expectThrows(() => add.buildInputs([[3], [4]], [], heap), InputShapeError, "broadcast");
});
