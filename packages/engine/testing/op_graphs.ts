/**
 * One model graph with operation nodes in both config dialects, for the engine's and the
 * importer's tests: a Keras 3 Functional config with `keras.src.ops.numpy` nodes and the same
 * graph as tf.keras 2 writes it with TFOpLambda / SlicingOpLambda, random weights, and the
 * computation in TF.js ops.
 */
import { Tensor, type WeightTensor } from "../mod.ts";
import type { Rng } from "./random.ts";
import { tf } from "./tfjs_reference.ts";

/** The module of Keras 3 NumPy operations. */
export const NUMPY = "keras.src.ops.numpy";

/** A Keras 3 tensor argument. */
export function kt(name: string, node = 0): Record<string, unknown> {
  return {
    class_name: "__keras_tensor__",
    config: { shape: null, dtype: "float32", keras_history: [name, node, 0] },
  };
}

/** A Keras 3 slice argument. */
export function sl(start: number | null, stop: number | null, step: number | null = null) {
  return { class_name: "__slice__", config: { start, stop, step } };
}

/** A Keras 3 operation entry. */
export function op3(
  cls: string,
  name: string,
  config: Record<string, unknown>,
  args: unknown[],
): Record<string, unknown> {
  return {
    module: NUMPY,
    class_name: cls,
    config: { name, ...config },
    registered_name: cls,
    name,
    inbound_nodes: [{ args, kwargs: {} }],
  };
}

/** A Keras 3 layer entry called once. */
export function layer3(cls: string, config: Record<string, unknown>, args: unknown[]) {
  return {
    module: "keras.layers",
    class_name: cls,
    config,
    registered_name: null,
    name: config.name,
    inbound_nodes: [{ args, kwargs: {} }],
  };
}

/**
 * The graph: x [B,4,6], y [B,4,2]; d = Dense(6)(x); p = d + 1.0; c = concat([p[:, :, 1:3], y]);
 * r = reshape(c, (-1, 16)); q = mean(p, axis=1); z = concat([r, q * q, 2.0 - q]) (28 features);
 * out = Dense(3, softmax)(z).
 */
export function keras3Config(): Record<string, unknown> {
  return {
    class_name: "Functional",
    config: {
      name: "ops_graph",
      layers: [
        {
          module: "keras.layers",
          class_name: "InputLayer",
          config: { name: "x", batch_shape: [null, 4, 6], dtype: "float32" },
          name: "x",
          inbound_nodes: [],
        },
        {
          module: "keras.layers",
          class_name: "InputLayer",
          config: { name: "y", batch_shape: [null, 4, 2], dtype: "float32" },
          name: "y",
          inbound_nodes: [],
        },
        layer3("Dense", { name: "dense", units: 6 }, [kt("x")]),
        op3("Add", "add", {}, [kt("dense"), 1.0]),
        op3("GetItem", "get_item", {}, [kt("add"), [sl(null, null), sl(null, null), sl(1, 3)]]),
        op3("Concatenate", "concatenate", { axis: -1 }, [[kt("get_item"), kt("y")]]),
        op3("Reshape", "reshape", { newshape: [-1, 16] }, [kt("concatenate")]),
        op3("Mean", "mean", { axis: [1], keepdims: false }, [kt("add")]),
        op3("Multiply", "multiply", {}, [kt("mean"), kt("mean")]),
        op3("Subtract", "subtract", {}, [2.0, kt("mean")]),
        op3("Concatenate", "concatenate_1", { axis: -1 }, [[
          kt("reshape"),
          kt("multiply"),
          kt("subtract"),
        ]]),
        layer3("Dense", { name: "head", units: 3, activation: "softmax" }, [kt("concatenate_1")]),
      ],
      input_layers: [["x", 0, 0], ["y", 0, 0]],
      output_layers: [["head", 0, 0]],
    },
  };
}

/** A tf.keras 2 op entry: TFOpLambda (or SlicingOpLambda) with its one inbound node. */
export function op2(
  fn: string,
  name: string,
  node: unknown,
  slicing = false,
): Record<string, unknown> {
  return {
    class_name: slicing ? "SlicingOpLambda" : "TFOpLambda",
    config: { name, trainable: true, dtype: "float32", function: fn },
    name,
    inbound_nodes: [node],
  };
}

/** The same graph as tf.keras 2.x writes it. */
export function keras2Config(): Record<string, unknown> {
  const ref = (n: string, kwargs: Record<string, unknown> = {}) => [n, 0, 0, kwargs];
  return {
    class_name: "Functional",
    config: {
      name: "ops_graph",
      layers: [
        {
          class_name: "InputLayer",
          config: { name: "x", batch_input_shape: [null, 4, 6], dtype: "float32" },
          name: "x",
          inbound_nodes: [],
        },
        {
          class_name: "InputLayer",
          config: { name: "y", batch_input_shape: [null, 4, 2], dtype: "float32" },
          name: "y",
          inbound_nodes: [],
        },
        {
          class_name: "Dense",
          config: { name: "dense", units: 6 },
          name: "dense",
          inbound_nodes: [[ref("x")]],
        },
        op2("__operators__.add", "tf.__operators__.add", ref("dense", { y: 1.0, name: null })),
        op2(
          "__operators__.getitem",
          "tf.__operators__.getitem",
          ref("tf.__operators__.add", {
            slice_spec: [
              { start: null, stop: null, step: null },
              { start: null, stop: null, step: null },
              { start: 1, stop: 3, step: null },
            ],
          }),
          true,
        ),
        op2("concat", "tf.concat", [
          ref("tf.__operators__.getitem", { axis: -1, name: "concat" }),
          ref("y", { axis: -1, name: "concat" }),
        ]),
        op2("reshape", "tf.reshape", ref("tf.concat", { shape: [-1, 16], name: null })),
        op2(
          "math.reduce_mean",
          "tf.math.reduce_mean",
          ref("tf.__operators__.add", { axis: 1, keepdims: false, name: null }),
        ),
        op2(
          "math.multiply",
          "tf.math.multiply",
          ref("tf.math.reduce_mean", { y: ["tf.math.reduce_mean", 0, 0], name: null }),
        ),
        op2("math.subtract", "tf.math.subtract", [
          "_CONSTANT_VALUE",
          -1,
          2.0,
          { y: ["tf.math.reduce_mean", 0, 0], name: null },
        ]),
        op2("concat", "tf.concat_1", [
          ref("tf.reshape", { axis: -1, name: null }),
          ref("tf.math.multiply", { axis: -1, name: null }),
          ref("tf.math.subtract", { axis: -1, name: null }),
        ]),
        {
          class_name: "Dense",
          config: { name: "head", units: 3, activation: "softmax" },
          name: "head",
          inbound_nodes: [[ref("tf.concat_1")]],
        },
      ],
      input_layers: [["x", 0, 0], ["y", 0, 0]],
      output_layers: [["head", 0, 0]],
    },
  };
}

/** Random weights of the graph's two Dense layers. */
export function randomWeights(rng: Rng): Record<string, WeightTensor[]> {
  const w = (name: string, shape: number[]) => ({
    name,
    shape,
    data: rng.floats(shape.reduce((a, b) => a * b, 1), -0.5, 0.5),
  });
  return {
    dense: [w("kernel", [6, 6]), w("bias", [6])],
    head: [w("kernel", [28, 3]), w("bias", [3])],
  };
}

/** The graph in TF.js ops. */
export function tfGraph(
  x: tf.Tensor,
  y: tf.Tensor,
  w: { dk: tf.Tensor; db: tf.Tensor; hk: tf.Tensor; hb: tf.Tensor },
): tf.Tensor {
  const b = x.shape[0];
  const d = tf.add(tf.matMul(x.reshape([-1, 6]), w.dk).reshape([b, 4, 6]), w.db);
  const p = tf.add(d, 1.0);
  const c = tf.concat([tf.slice(p, [0, 0, 1], [-1, -1, 2]), y], -1);
  const r = tf.reshape(c, [-1, 16]);
  const q = tf.mean(p, 1);
  const z = tf.concat([r, tf.mul(q, q), tf.sub(2.0, q)], -1);
  return tf.softmax(tf.add(tf.matMul(z, w.hk), w.hb));
}

/** Random inputs x [batch, 4, 6] and y [batch, 4, 2]. */
export function inputs(rng: Rng, batch: number): [Tensor, Tensor] {
  return [
    new Tensor(rng.floats(batch * 24), [batch, 4, 6]),
    new Tensor(rng.floats(batch * 8), [batch, 4, 2]),
  ];
}
