import {
  buildModel,
  InputShapeError,
  ModelConfigError,
  SUPPORTED_LAYER_CLASSES,
  Tensor,
  UnsupportedLayerError,
  WeightShapeError,
} from "../mod.ts";
import { maxAbsDiff, Rng } from "../testing/random.ts";
import { expectThrows } from "../testing/assert.ts";

const dense = (name: string, units: number, inbound?: unknown) => ({
  class_name: "Dense",
  config: { name, units, activation: "linear" },
  ...(inbound ? { inbound_nodes: inbound } : {}),
});

Deno.test("unsupported layers are refused by class and layer name", () => {
  expectThrows(
    () =>
      buildModel({
        config: {
          class_name: "Sequential",
          config: { name: "s", layers: [{ class_name: "Lambda", config: { name: "my_lambda" } }] },
        },
        weights: {},
      }),
    UnsupportedLayerError,
    "Lambda",
    "my_lambda",
  );
  if (SUPPORTED_LAYER_CLASSES.includes("Lambda")) throw new Error("Lambda must not be supported");
});

Deno.test("Functional chains (Keras 3 and Keras 2 inbound forms) run like the Sequential model", () => {
  const rng = new Rng(8);
  const w = {
    a: [{ name: "kernel", shape: [4, 3], data: rng.floats(12) }, {
      name: "bias",
      shape: [3],
      data: rng.floats(3),
    }],
    b: [{ name: "kernel", shape: [3, 2], data: rng.floats(6) }, {
      name: "bias",
      shape: [2],
      data: rng.floats(2),
    }],
  };
  const k3 = (
    n: string,
  ) => [{
    args: [{
      class_name: "__keras_tensor__",
      config: { shape: [null, 4], keras_history: [n, 0, 0] },
    }],
    kwargs: {},
  }];
  const functional = {
    class_name: "Functional",
    config: {
      name: "f",
      layers: [
        dense("b", 2, k3("a")),
        {
          class_name: "InputLayer",
          config: { name: "inp", batch_shape: [null, 4] },
          inbound_nodes: [],
        },
        dense("a", 3, k3("inp")),
      ],
    },
  };
  const keras2 = {
    class_name: "Model",
    config: {
      name: "m",
      layers: [
        {
          class_name: "InputLayer",
          config: { name: "inp", batch_input_shape: [null, 4] },
          inbound_nodes: [],
        },
        dense("a", 3, [[["inp", 0, 0, {}]]]),
        dense("b", 2, [[["a", 0, 0, {}]]]),
      ],
    },
  };
  const seq = {
    class_name: "Sequential",
    config: {
      name: "s",
      layers: [
        { class_name: "InputLayer", config: { name: "inp", batch_shape: [null, 4] } },
        dense("a", 3),
        dense("b", 2),
      ],
    },
  };
  const x = new Tensor(rng.floats(12), [3, 4]);
  const ys = [functional, keras2, seq].map((config) =>
    buildModel({ config, weights: w }).predict(x)
  );
  if (maxAbsDiff(ys[0].data, ys[2].data) > 0 || maxAbsDiff(ys[1].data, ys[2].data) > 0) {
    throw new Error("functional and sequential disagree");
  }
  // A branch: "a" feeds "b" and "c"; without output_layers both unread layers are outputs.
  const branching = structuredClone(keras2);
  branching.config.layers.push(dense("c", 2, [[["a", 0, 0, {}]]]));
  const withC = { ...w, c: w.b.map((t) => ({ ...t, data: t.data.map((v) => -v) })) };
  const branched = buildModel({ config: branching, weights: withC });
  expectThrows(() => branched.predict(x), ModelConfigError, "predictMany");
  const [yb, yc] = branched.predictMany([x]);
  if (maxAbsDiff(yb.data, ys[2].data) > 0) throw new Error("branch b differs from the chain");
  if (maxAbsDiff(yb.data, yc.data) === 0) throw new Error("branch c computed b's weights");
  // The branch c has no weights given: a typed error names it.
  expectThrows(() => buildModel({ config: branching, weights: w }), WeightShapeError, '"c"');
});

Deno.test("predict refuses wrong shapes and non-finite input, and stays usable after", () => {
  const rng = new Rng(1);
  const model = buildModel({
    config: {
      class_name: "Sequential",
      config: {
        name: "s",
        layers: [
          { class_name: "InputLayer", config: { name: "inp", batch_shape: [64, 4] } },
          dense("a", 2),
        ],
      },
    },
    weights: {
      a: [{ name: "kernel", shape: [4, 2], data: rng.floats(8) }, {
        name: "bias",
        shape: [2],
        data: rng.floats(2),
      }],
    },
  });
  expectThrows(
    () => model.predict(new Tensor(rng.floats(15), [3, 5])),
    InputShapeError,
    "inp",
    "(None, 4)",
    "(3, 5)",
  );
  const bad = rng.floats(8);
  bad[5] = NaN;
  expectThrows(() => model.predict(new Tensor(bad, [2, 4])), InputShapeError, "finite");
  // A fixed batch size in the file does not constrain the batch.
  const y = model.predict(new Tensor(rng.floats(12), [3, 4]));
  if (y.shape.join() !== "3,2") throw new Error(`shape ${y.shape}`);
});

Deno.test("a Keras 2 Sequential without an InputLayer takes batch_input_shape from its first layer", () => {
  const rng = new Rng(6);
  const model = buildModel({
    config: {
      class_name: "Sequential",
      config: {
        name: "s",
        layers: [{
          class_name: "Dense",
          config: { name: "a", units: 2, batch_input_shape: [null, 3] },
        }],
      },
    },
    weights: {
      a: [{ name: "kernel", shape: [3, 2], data: rng.floats(6) }, {
        name: "bias",
        shape: [2],
        data: rng.floats(2),
      }],
    },
    kerasVersion: "2.15.0",
  });
  if (model.predict(new Tensor(rng.floats(3), [1, 3])).shape.join() !== "1,2") {
    throw new Error("shape");
  }
  if (!model.summary().includes("Total params: 8")) throw new Error(model.summary());
});

Deno.test("buildModel refuses an unknown convAlgorithm with a typed error naming it", () => {
  const spec = {
    config: {
      class_name: "Sequential",
      config: {
        name: "m",
        layers: [{ class_name: "InputLayer", config: { name: "in", batch_shape: [null, 2] } }],
      },
    },
    weights: {},
  };
  expectThrows(
    () => buildModel(spec, { convAlgorithm: "fft" as "auto" }),
    ModelConfigError,
    "convAlgorithm",
    "auto, direct, winograd",
    '"fft"',
  );
});

Deno.test("predict frees each activation after its last reader: a deep residual graph's peak is a few tensors, not all", () => {
  const rng = new Rng(21);
  const width = 24, depth = 12, batch = 8;
  const layers: Record<string, unknown>[] = [{
    class_name: "InputLayer",
    config: { name: "x", batch_input_shape: [null, width] },
    inbound_nodes: [],
  }];
  const weights: Record<string, { name: string; shape: number[]; data: Float32Array }[]> = {};
  let prev = "x";
  for (let i = 0; i < depth; i++) {
    const d = `d${i}`, a = `add${i}`;
    layers.push(dense(d, width, [[[prev, 0, 0, {}]]]));
    layers.push({
      class_name: "Add",
      config: { name: a },
      inbound_nodes: [[[prev, 0, 0, {}], [d, 0, 0, {}]]],
    });
    weights[d] = [
      {
        name: "kernel",
        shape: [width, width],
        data: rng.floats(width * width).map((v) => v * 0.1),
      },
      { name: "bias", shape: [width], data: rng.floats(width) },
    ];
    prev = a;
  }
  const config = {
    class_name: "Functional",
    config: { name: "deep", layers, input_layers: [["x", 0, 0]], output_layers: [[prev, 0, 0]] },
  };
  const model = buildModel({ config, weights });
  model.predict(new Tensor(rng.floats(batch * width), [batch, width]), { batchSize: batch });
  const tensor = batch * width * 4;
  const { peakBytes, totalBytes } = model.lastPredictMemory;
  if (totalBytes !== (2 * depth + 1) * tensor) throw new Error(`total ${totalBytes}`);
  // Alive at once: the running sum, the Dense output and the new sum.
  if (peakBytes > 3 * tensor) throw new Error(`peak ${peakBytes} > 3 tensors (${3 * tensor})`);
  model.dispose();
});

Deno.test("a Keras 3 operation node (x + y recorded as keras.src.ops.numpy Add) runs as the operation, not as the Add layer; an unsupported op is refused by name", () => {
  const tensor = (name: string) => ({
    class_name: "__keras_tensor__",
    config: { shape: [null, 3], dtype: "float32", keras_history: [name, 0, 0] },
  });
  const config = {
    class_name: "Functional",
    config: {
      name: "ops",
      layers: [
        {
          class_name: "InputLayer",
          config: { name: "a", batch_shape: [null, 3] },
          inbound_nodes: [],
        },
        {
          class_name: "InputLayer",
          config: { name: "b", batch_shape: [null, 3] },
          inbound_nodes: [],
        },
        {
          module: "keras.src.ops.numpy",
          class_name: "Add",
          config: { name: "add" },
          registered_name: "Add",
          name: "add",
          inbound_nodes: [{ args: [tensor("a"), tensor("b")], kwargs: {} }],
        },
      ],
      input_layers: [["a", 0, 0], ["b", 0, 0]],
      output_layers: [["add", 0, 0]],
    },
  };
  const model = buildModel({ config, weights: {} });
  const a = new Tensor(new Float32Array([1, 2, 3]), [1, 3]);
  const b = new Tensor(new Float32Array([10, 20, 30]), [1, 3]);
  const sum = model.predictMany([a, b])[0];
  model.dispose();
  if (sum.data.join() !== "11,22,33") throw new Error(`a + b = ${sum.data}`);
  if (model.layers[2].className !== "op:add") throw new Error(model.layers[2].className);
  const op = config.config.layers[2];
  Object.assign(op, { class_name: "Einsum", registered_name: "Einsum" });
  expectThrows(
    () => buildModel({ config, weights: {} }),
    UnsupportedLayerError,
    "keras.src.ops.numpy.Einsum",
    "add",
  );
});
