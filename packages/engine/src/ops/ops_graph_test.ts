/**
 * Operation nodes inside models: one graph written as a Keras 3 Functional config with operation
 * nodes (`x + 1.0`, `x[:, :, 1:3]`, `ops.concatenate`, `ops.reshape`, `ops.mean`, `q * q`) and as
 * a tf.keras 2 config with TFOpLambda / SlicingOpLambda for the same computation, each built with
 * `buildModel` and compared with the computation written in TF.js ops (≤ 1e-5); one training
 * step through the op graph (SGD, learning rate 1) against `tf.variableGrads` (≤ 1e-4
 * relative); refusals of unknown ops, Lambda layers and custom classes by name.
 */
import { buildModel, type ModelSpec, SGD, Tensor, type WeightTensor } from "../../mod.ts";
import { ModelConfigError, UnsupportedLayerError } from "../errors.ts";
import { expectThrows } from "../../testing/assert.ts";
import { relativeError } from "../../testing/gradient_check.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { tf, tfReady } from "../../testing/tfjs_reference.ts";

const NUMPY = "keras.src.ops.numpy";

function kt(name: string, node = 0): Record<string, unknown> {
  return {
    class_name: "__keras_tensor__",
    config: { shape: null, dtype: "float32", keras_history: [name, node, 0] },
  };
}

function sl(start: number | null, stop: number | null, step: number | null = null) {
  return { class_name: "__slice__", config: { start, stop, step } };
}

/** A Keras 3 operation entry. */
function op3(
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

function layer3(cls: string, config: Record<string, unknown>, args: unknown[]) {
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
function keras3Config(): Record<string, unknown> {
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
function op2(fn: string, name: string, node: unknown, slicing = false): Record<string, unknown> {
  return {
    class_name: slicing ? "SlicingOpLambda" : "TFOpLambda",
    config: { name, trainable: true, dtype: "float32", function: fn },
    name,
    inbound_nodes: [node],
  };
}

/** The same graph as tf.keras 2.x writes it. */
function keras2Config(): Record<string, unknown> {
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

function randomWeights(rng: Rng): Record<string, WeightTensor[]> {
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
function tfGraph(
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

function inputs(rng: Rng, batch: number): [Tensor, Tensor] {
  return [
    new Tensor(rng.floats(batch * 24), [batch, 4, 6]),
    new Tensor(rng.floats(batch * 8), [batch, 4, 2]),
  ];
}

const DIALECTS = { "Keras 3 operation nodes": keras3Config, "tf.keras 2 TFOpLambda": keras2Config };

for (const [dialect, config] of Object.entries(DIALECTS)) {
  Deno.test(`op graph (${dialect}): buildModel predicts as the TF.js ops, batch 1 and 17`, async () => {
    await tfReady();
    const rng = new Rng(1414);
    const weights = randomWeights(rng);
    const model = buildModel({ config: config() as ModelSpec["config"], weights });
    try {
      for (const batch of [1, 17]) {
        const [x, y] = inputs(rng, batch);
        const got = model.predictMany([x, y])[0];
        const want = tf.tidy(() =>
          tfGraph(tf.tensor(x.data, x.shape as number[]), tf.tensor(y.data, y.shape as number[]), {
            dk: tf.tensor(weights.dense[0].data, [6, 6]),
            db: tf.tensor(weights.dense[1].data, [6]),
            hk: tf.tensor(weights.head[0].data, [28, 3]),
            hb: tf.tensor(weights.head[1].data, [3]),
          })
        );
        if (got.shape.join() !== want.shape.join()) {
          throw new Error(`shape ${got.shape} vs ${want.shape}`);
        }
        const d = maxAbsDiff(got.data, want.dataSync());
        want.dispose();
        if (!(d <= 1e-5)) throw new Error(`${dialect} batch ${batch}: max diff ${d}`);
      }
      const summary = model.summary();
      if (!summary.includes("get_item") && !summary.includes("getitem")) {
        throw new Error(`summary lacks the slicing node:\n${summary}`);
      }
    } finally {
      model.dispose();
    }
  });

  Deno.test(`op graph (${dialect}): one SGD step's weight gradients equal tf.variableGrads`, async () => {
    await tfReady();
    const rng = new Rng(99);
    const weights = randomWeights(rng);
    const batch = 5;
    const [x, y] = inputs(rng, batch);
    const labels = Float32Array.from({ length: batch }, () => rng.int(0, 3));
    const model = buildModel({ config: config() as ModelSpec["config"], weights });
    let after: Record<string, WeightTensor[]>;
    try {
      model.compile({
        optimizer: new SGD({ learningRate: 1 }),
        loss: "sparse_categorical_crossentropy",
      });
      model.trainOnBatch([x, y], new Tensor(labels, [batch]));
      after = model.toSpec().weights;
    } finally {
      model.dispose();
    }
    const vars = {
      dk: tf.variable(tf.tensor(weights.dense[0].data, [6, 6])),
      db: tf.variable(tf.tensor(weights.dense[1].data, [6])),
      hk: tf.variable(tf.tensor(weights.head[0].data, [28, 3])),
      hb: tf.variable(tf.tensor(weights.head[1].data, [3])),
    };
    const xt = tf.tensor(x.data, x.shape as number[]);
    const yt = tf.tensor(y.data, y.shape as number[]);
    const { grads, value } = tf.variableGrads(() => {
      const probs = tfGraph(xt, yt, vars);
      const oneHot = tf.oneHot(tf.tensor1d(labels, "int32"), 3);
      return tf.mean(tf.neg(tf.sum(tf.mul(oneHot, tf.log(probs)), -1)));
    });
    const pairs: [string, number, tf.Variable][] = [
      ["dense", 0, vars.dk],
      ["dense", 1, vars.db],
      ["head", 0, vars.hk],
      ["head", 1, vars.hb],
    ];
    for (const [key, i, v] of pairs) {
      const before = weights[key][i].data;
      const got = Float32Array.from(before, (b, j) => b - after[key][i].data[j]);
      const ref = grads[v.name].dataSync();
      const e = relativeError(got, ref);
      if (!(e <= 1e-4)) throw new Error(`${dialect}: gradient of ${key}#${i}: rel err ${e}`);
      if (!(Math.max(...Array.from(ref, Math.abs)) > 1e-6)) throw new Error(`${key}#${i} is ~0`);
    }
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
    Object.values(vars).forEach((v) => v.dispose());
    xt.dispose();
    yt.dispose();
  });
}

/** A Keras 3 model whose only computation is the given entry reading input "x". */
function withEntry(entry: Record<string, unknown>): ModelSpec {
  return {
    config: {
      class_name: "Functional",
      config: {
        name: "m",
        layers: [
          {
            module: "keras.layers",
            class_name: "InputLayer",
            config: { name: "x", batch_shape: [null, 4] },
            name: "x",
            inbound_nodes: [],
          },
          entry,
        ],
        input_layers: [["x", 0, 0]],
        output_layers: [[entry.name as string, 0, 0]],
      },
    } as ModelSpec["config"],
    weights: {},
  };
}

Deno.test("op graph: an unknown op, a Lambda and a custom class are refused by name", () => {
  expectThrows(
    () => buildModel(withEntry(op3("Cumsum", "cumsum", { axis: 1 }, [kt("x")]))),
    UnsupportedLayerError,
    "cumsum",
    "Cumsum",
  );
  expectThrows(
    () =>
      buildModel(withEntry({
        class_name: "TFOpLambda",
        config: { name: "tf.math.cumsum", function: "math.cumsum" },
        name: "tf.math.cumsum",
        inbound_nodes: [["x", 0, 0, { axis: 1 }]],
      })),
    UnsupportedLayerError,
    "tf.math.cumsum",
    "math.cumsum",
  );
  expectThrows(
    () =>
      buildModel(withEntry({
        module: "keras.layers",
        class_name: "Lambda",
        config: {
          name: "lam",
          function: { class_name: "__lambda__", config: { value: "ZGVmIGY6IHBhc3M=" } },
        },
        name: "lam",
        inbound_nodes: [{ args: [kt("x")], kwargs: {} }],
      })),
    UnsupportedLayerError,
    "lam",
    "Lambda",
  );
  expectThrows(
    () =>
      buildModel(withEntry({
        module: "my_package.layers",
        class_name: "MyLayer",
        config: { name: "mine" },
        registered_name: "my_package>MyLayer",
        name: "mine",
        inbound_nodes: [{ args: [kt("x")], kwargs: {} }],
      })),
    UnsupportedLayerError,
    "mine",
    "MyLayer",
  );
  // A Keras 3 operation named like a layer class runs as the operation, not as the layer.
  const model = buildModel(withEntry(op3("Add", "add", {}, [kt("x"), kt("x")])));
  try {
    const x = new Tensor(new Float32Array([1, 2, 3, 4]), [1, 4]);
    const y = model.predict(x);
    if (maxAbsDiff(y.data, [2, 4, 6, 8]) !== 0) throw new Error(`x + x gave ${y.data}`);
    if (model.layers[1].className !== "op:add") throw new Error(model.layers[1].className);
  } finally {
    model.dispose();
  }
  // An operation node in a Sequential is not a Keras config.
  expectThrows(
    () =>
      buildModel({
        config: {
          class_name: "Sequential",
          config: {
            name: "s",
            layers: [
              { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 4] } },
              { module: NUMPY, class_name: "Add", config: { name: "add" } },
            ],
          },
        } as ModelSpec["config"],
        weights: {},
      }),
    ModelConfigError,
    "add",
  );
});
