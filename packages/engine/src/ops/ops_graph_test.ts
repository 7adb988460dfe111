/**
 * Operation nodes inside models: one graph written as a Keras 3 Functional config with operation
 * nodes (`x + 1.0`, `x[:, :, 1:3]`, `ops.concatenate`, `ops.reshape`, `ops.mean`, `q * q`) and as
 * a tf.keras 2 config with TFOpLambda / SlicingOpLambda for the same computation, each built with
 * `buildModel` and compared with the computation written in TF.js ops (≤ 1e-5); one training
 * step through the op graph (SGD, learning rate 1) against `tf.variableGrads` (≤ 1e-4
 * relative); refusals of unknown ops, Lambda layers and custom classes by name.
 */
import { buildModel, type ModelSpec, SGD, Tensor, type WeightTensor } from "../../mod.ts";
import {
  inputs,
  keras2Config,
  keras3Config,
  kt,
  layer3,
  NUMPY,
  op3,
  randomWeights,
  tfGraph,
} from "../../testing/op_graphs.ts";
import { ModelConfigError, UnsupportedLayerError } from "../errors.ts";
import { expectThrows } from "../../testing/assert.ts";
import { relativeError } from "../../testing/gradient_check.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { tf, tfReady } from "../../testing/tfjs_reference.ts";

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

/**
 * A nested Functional model holding operation nodes (`x * 2.0 + x` after a Dense), called on two
 * inputs, then `inner(p) - inner(q)`: each op layer runs twice (once per call of the nested
 * model) and the shared Dense's gradient sums over both calls.
 */
function nestedOpsConfig(): Record<string, unknown> {
  const inner = {
    name: "inner",
    layers: [
      {
        module: "keras.layers",
        class_name: "InputLayer",
        config: { name: "ix", batch_shape: [null, 3], dtype: "float32" },
        name: "ix",
        inbound_nodes: [],
      },
      layer3("Dense", { name: "idense", units: 3 }, [kt("ix")]),
      op3("Multiply", "multiply", {}, [kt("idense"), 2.0]),
      op3("Add", "add", {}, [kt("multiply"), kt("ix")]),
    ],
    input_layers: [["ix", 0, 0]],
    output_layers: [["add", 0, 0]],
  };
  const input = (name: string) => ({
    module: "keras.layers",
    class_name: "InputLayer",
    config: { name, batch_shape: [null, 3], dtype: "float32" },
    name,
    inbound_nodes: [],
  });
  return {
    class_name: "Functional",
    config: {
      name: "outer",
      layers: [
        input("p"),
        input("q"),
        {
          module: "keras.src.models.functional",
          class_name: "Functional",
          config: inner,
          name: "inner",
          inbound_nodes: [{ args: [kt("p")], kwargs: {} }, { args: [kt("q")], kwargs: {} }],
        },
        op3("Subtract", "subtract", {}, [kt("inner", 0), kt("inner", 1)]),
      ],
      input_layers: [["p", 0, 0], ["q", 0, 0]],
      output_layers: [["subtract", 0, 0]],
    },
  };
}

Deno.test("op graph: a nested model with operation nodes called twice predicts and trains as TF.js", async () => {
  await tfReady();
  const rng = new Rng(31);
  const kernel = rng.floats(9, -0.5, 0.5);
  const bias = rng.floats(3, -0.5, 0.5);
  const weights = {
    "inner/idense": [
      { name: "kernel", shape: [3, 3], data: kernel },
      { name: "bias", shape: [3], data: bias },
    ],
  };
  const batch = 4;
  const p = new Tensor(rng.floats(batch * 3), [batch, 3]);
  const q = new Tensor(rng.floats(batch * 3), [batch, 3]);
  const target = rng.floats(batch * 3);
  const spec = { config: nestedOpsConfig() as ModelSpec["config"], weights };
  const model = buildModel(spec);
  const w = tf.variable(tf.tensor(kernel, [3, 3]));
  const b = tf.variable(tf.tensor(bias, [3]));
  const f = (v: tf.Tensor) => tf.add(tf.mul(tf.add(tf.matMul(v, w), b), 2.0), v);
  const pt = tf.tensor(p.data, [batch, 3]);
  const qt = tf.tensor(q.data, [batch, 3]);
  try {
    const got = model.predictMany([p, q])[0];
    const want = tf.tidy(() => tf.sub(f(pt), f(qt)).dataSync().slice());
    const d = maxAbsDiff(got.data, want);
    if (!(d <= 1e-5)) throw new Error(`nested ops: max diff ${d}`);
    model.compile({ optimizer: new SGD({ learningRate: 1 }), loss: "mse" });
    model.trainOnBatch([p, q], new Tensor(target, [batch, 3]));
    const after = model.toSpec().weights["inner/idense"];
    const { grads } = tf.variableGrads(() =>
      tf.mean(tf.square(tf.sub(tf.sub(f(pt), f(qt)), tf.tensor(target, [batch, 3]))))
    );
    const pairs: [number, Float32Array, tf.Variable][] = [[0, kernel, w], [1, bias, b]];
    for (const [i, before, v] of pairs) {
      const g = Float32Array.from(before, (x, j) => x - after[i].data[j]);
      const ref = grads[v.name].dataSync();
      const e = relativeError(g, ref);
      if (!(e <= 1e-4)) throw new Error(`idense#${i}: rel err ${e}`);
    }
    Object.values(grads).forEach((g) => g.dispose());
  } finally {
    model.dispose();
    [w, b, pt, qt].forEach((t) => t.dispose());
  }
});

Deno.test("op graph: an ops.softmax output is fused with the loss; the step equals tf.variableGrads", async () => {
  await tfReady();
  const rng = new Rng(8);
  const kernel = rng.floats(12, -1, 1);
  const bias = rng.floats(3, -0.5, 0.5);
  const config = {
    class_name: "Functional",
    config: {
      name: "soft",
      layers: [
        {
          module: "keras.layers",
          class_name: "InputLayer",
          config: { name: "x", batch_shape: [null, 4] },
          name: "x",
          inbound_nodes: [],
        },
        layer3("Dense", { name: "logits", units: 3 }, [kt("x")]),
        {
          module: "keras.src.ops.nn",
          class_name: "Softmax",
          config: { name: "softmax", axis: -1 },
          registered_name: "Softmax",
          name: "softmax",
          inbound_nodes: [{ args: [kt("logits")], kwargs: {} }],
        },
      ],
      input_layers: [["x", 0, 0]],
      output_layers: [["softmax", 0, 0]],
    },
  } as ModelSpec["config"];
  const weights = {
    logits: [
      { name: "kernel", shape: [4, 3], data: kernel },
      { name: "bias", shape: [3], data: bias },
    ],
  };
  const batch = 6;
  const x = new Tensor(rng.floats(batch * 4, -2, 2), [batch, 4]);
  const labels = Float32Array.from({ length: batch }, () => rng.int(0, 3));
  const model = buildModel({ config, weights });
  let after: WeightTensor[];
  try {
    model.compile({
      optimizer: new SGD({ learningRate: 1 }),
      loss: "sparse_categorical_crossentropy",
    });
    model.trainOnBatch(x, new Tensor(labels, [batch]));
    after = model.toSpec().weights.logits;
  } finally {
    model.dispose();
  }
  const w = tf.variable(tf.tensor(kernel, [4, 3]));
  const b = tf.variable(tf.tensor(bias, [3]));
  const xt = tf.tensor(x.data, [batch, 4]);
  const { grads } = tf.variableGrads(() =>
    tf.losses.softmaxCrossEntropy(
      tf.oneHot(tf.tensor1d(labels, "int32"), 3),
      tf.add(tf.matMul(xt, w), b),
    )
  );
  const pairs: [number, Float32Array, tf.Variable][] = [[0, kernel, w], [1, bias, b]];
  for (const [i, before, v] of pairs) {
    const g = Float32Array.from(before, (q, j) => q - after[i].data[j]);
    const e = relativeError(g, grads[v.name].dataSync());
    if (!(e <= 1e-4)) throw new Error(`logits#${i}: rel err ${e}`);
  }
  Object.values(grads).forEach((g) => g.dispose());
  [w, b, xt].forEach((t) => t.dispose());
});
