/**
 * Small Keras 3-style model specs with seeded random weights covering every layer class the
 * engine supports, for the format tests (write → read → run → compare with TF.js).
 *
 * @module
 */
import type { KerasObject, ModelSpec, WeightTensor } from "@scratchnet/engine";

/** mulberry32: deterministic weights without depending on another package's test helpers. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function layer(className: string, config: Record<string, unknown>): KerasObject {
  return { module: "keras.layers", class_name: className, config, registered_name: null };
}

function input(name: string, batchShape: (number | null)[], dtype = "float32"): KerasObject {
  return layer("InputLayer", { batch_shape: batchShape, dtype, sparse: false, name });
}

function sequential(name: string, layers: KerasObject[]): KerasObject {
  return {
    module: "keras",
    class_name: "Sequential",
    config: { name, trainable: true, layers },
    registered_name: null,
  };
}

class WeightMaker {
  #next: () => number;
  constructor(seed: number) {
    this.#next = rng(seed);
  }
  tensor(name: string, shape: number[], lo = -0.5, hi = 0.5): WeightTensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = lo + (hi - lo) * this.#next();
    return { name, shape, data };
  }
  rnn(className: string, inDim: number, units: number, resetAfter = false): WeightTensor[] {
    const gates = className === "LSTM" ? 4 : className === "GRU" ? 3 : 1;
    const biasShape = className === "GRU" && resetAfter ? [2, 3 * units] : [gates * units];
    return [
      this.tensor("kernel", [inDim, gates * units]),
      this.tensor("recurrent_kernel", [units, gates * units]),
      this.tensor("bias", biasShape, -0.1, 0.1),
    ];
  }
}

function rnnLayer(
  className: string,
  name: string,
  units: number,
  extra: Record<string, unknown> = {},
): KerasObject {
  return layer(className, {
    name,
    units,
    activation: "tanh",
    ...(className === "SimpleRNN" ? {} : { recurrent_activation: "sigmoid" }),
    use_bias: true,
    return_sequences: false,
    return_state: false,
    go_backwards: false,
    stateful: false,
    unroll: false,
    ...(className === "GRU" ? { reset_after: false } : {}),
    ...extra,
  });
}

function bidirectional(name: string, inner: KerasObject, mergeMode = "concat"): KerasObject {
  const innerName = String(inner.config.name);
  const forward = { ...inner, config: { ...inner.config, name: `forward_${innerName}` } };
  const backward = {
    ...inner,
    config: { ...inner.config, name: `backward_${innerName}`, go_backwards: true },
  };
  return layer("Bidirectional", {
    name,
    merge_mode: mergeMode,
    layer: forward,
    backward_layer: backward,
  });
}

/** A named test model with how to make inputs for it. */
export interface TestModel {
  name: string;
  spec: ModelSpec;
  /** Per-sample input shape (no batch dimension). */
  inputShape: number[];
  /** `int` inputs are token ids in [1, vocab); `float` inputs are uniform in [-1, 1). */
  input: { kind: "float" } | { kind: "int"; vocab: number };
  /** Whether TF.js implements every layer of the model (GRU reset_after=True it does not). */
  tfjsComparable: boolean;
}

/** Dense stack with every activation-style layer: Dense, Activation, ReLU, LeakyReLU, Softmax, Dropout. */
export function denseModel(seed = 1): TestModel {
  const w = new WeightMaker(seed);
  const config = sequential("mlp", [
    input("mlp_input", [null, 8]),
    layer("Dense", { name: "dense", units: 12, activation: "relu", use_bias: true }),
    layer("Dropout", { name: "dropout", rate: 0.3 }),
    layer("Dense", { name: "dense_1", units: 10, activation: "linear", use_bias: true }),
    layer("Activation", { name: "activation", activation: "tanh" }),
    layer("Dense", { name: "dense_2", units: 8, activation: "linear", use_bias: false }),
    layer("ReLU", { name: "re_lu" }),
    layer("Dense", { name: "dense_3", units: 6, activation: "linear", use_bias: true }),
    layer("LeakyReLU", { name: "leaky_re_lu", negative_slope: 0.2 }),
    layer("Dense", { name: "dense_4", units: 4, activation: "linear", use_bias: true }),
    layer("Softmax", { name: "softmax", axis: -1 }),
  ]);
  return {
    name: "dense",
    spec: {
      config,
      weights: {
        dense: [w.tensor("kernel", [8, 12]), w.tensor("bias", [12])],
        dense_1: [w.tensor("kernel", [12, 10]), w.tensor("bias", [10])],
        dense_2: [w.tensor("kernel", [10, 8])],
        dense_3: [w.tensor("kernel", [8, 6]), w.tensor("bias", [6])],
        dense_4: [w.tensor("kernel", [6, 4]), w.tensor("bias", [4])],
      },
      kerasVersion: "3.10.0",
    },
    inputShape: [8],
    input: { kind: "float" },
    tfjsComparable: true,
  };
}

/**
 * CNN with Conv2D (same/valid, strided), BatchNormalization, Max/AveragePooling2D,
 * GlobalMax/GlobalAveragePooling2D via two branches is not Sequential, so this model uses
 * Reshape → Conv2D → … → Flatten → Dense.
 */
export function cnnModel(seed = 2): TestModel {
  const w = new WeightMaker(seed);
  const conv = (name: string, filters: number, kernel: number, extra: Record<string, unknown>) =>
    layer("Conv2D", {
      name,
      filters,
      kernel_size: [kernel, kernel],
      strides: [1, 1],
      padding: "valid",
      data_format: "channels_last",
      dilation_rate: [1, 1],
      groups: 1,
      activation: "linear",
      use_bias: true,
      ...extra,
    });
  const config = sequential("cnn", [
    input("cnn_input", [null, 10, 10, 3]),
    conv("conv2d", 8, 3, { padding: "same", activation: "relu" }),
    layer("BatchNormalization", {
      name: "batch_normalization",
      axis: -1,
      momentum: 0.99,
      epsilon: 0.001,
      center: true,
      scale: true,
    }),
    layer("MaxPooling2D", {
      name: "max_pooling2d",
      pool_size: [2, 2],
      padding: "valid",
      strides: [2, 2],
      data_format: "channels_last",
    }),
    // 8 → 8 channels, 3×3, stride 1: the engine runs this one by Winograd F(6×6, 3×3).
    conv("conv2d_1", 8, 3, { strides: [1, 1] }),
    layer("ReLU", { name: "re_lu" }),
    layer("AveragePooling2D", {
      name: "average_pooling2d",
      pool_size: [2, 2],
      padding: "same",
      strides: [2, 2],
      data_format: "channels_last",
    }),
    layer("Flatten", { name: "flatten", data_format: "channels_last" }),
    layer("Dense", { name: "dense", units: 3, activation: "softmax", use_bias: true }),
  ]);
  const bn = [
    w.tensor("gamma", [8], 0.5, 1.5),
    w.tensor("beta", [8]),
    w.tensor("moving_mean", [8]),
    w.tensor("moving_variance", [8], 0.5, 2),
  ];
  return {
    name: "cnn",
    spec: {
      config,
      weights: {
        conv2d: [w.tensor("kernel", [3, 3, 3, 8]), w.tensor("bias", [8])],
        batch_normalization: bn,
        conv2d_1: [w.tensor("kernel", [3, 3, 8, 8]), w.tensor("bias", [8])],
        // 10 →(same) 10 →(pool 2) 5 →(valid 3) 3 →(avg same 2) 2: 2·2·8 = 32 features.
        dense: [w.tensor("kernel", [32, 3]), w.tensor("bias", [3])],
      },
      kerasVersion: "3.10.0",
    },
    inputShape: [10, 10, 3],
    input: { kind: "float" },
    tfjsComparable: true,
  };
}

/** Reshape → Conv2D → GlobalMaxPooling2D / GlobalAveragePooling2D heads on a flat input. */
export function globalPoolModel(seed = 3, pooling: "max" | "average" = "max"): TestModel {
  const w = new WeightMaker(seed);
  const config = sequential(`global_${pooling}`, [
    input("flat_input", [null, 48]),
    layer("Reshape", { name: "reshape", target_shape: [4, 6, 2] }),
    layer("Conv2D", {
      name: "conv2d",
      filters: 3,
      kernel_size: [2, 3],
      strides: [1, 2],
      padding: "valid",
      data_format: "channels_last",
      dilation_rate: [1, 1],
      groups: 1,
      activation: "tanh",
      use_bias: true,
    }),
    layer(pooling === "max" ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D", {
      name: `global_${pooling}_pooling2d`,
      data_format: "channels_last",
      keepdims: false,
    }),
    layer("Dense", { name: "dense", units: 2, activation: "sigmoid", use_bias: true }),
  ]);
  return {
    name: `global_${pooling}`,
    spec: {
      config,
      weights: {
        conv2d: [w.tensor("kernel", [2, 3, 2, 3]), w.tensor("bias", [3])],
        dense: [w.tensor("kernel", [3, 2]), w.tensor("bias", [2])],
      },
      kerasVersion: "3.10.0",
    },
    inputShape: [48],
    input: { kind: "float" },
    tfjsComparable: true,
  };
}

/**
 * Embedding → stacked Bidirectional(LSTM) / Bidirectional(GRU) / Bidirectional(SimpleRNN),
 * then LSTM → GRU → SimpleRNN → Dense.
 */
export function rnnModel(seed = 4, gruResetAfter = false): TestModel {
  const w = new WeightMaker(seed);
  const vocab = 20, seq = 7;
  const config = sequential(gruResetAfter ? "rnn_reset_after" : "rnn", [
    input("ids", [null, seq], "int32"),
    layer("Embedding", { name: "embedding", input_dim: vocab, output_dim: 5, mask_zero: false }),
    bidirectional("bidirectional", rnnLayer("LSTM", "lstm", 4, { return_sequences: true })),
    bidirectional(
      "bidirectional_1",
      rnnLayer("GRU", "gru", 3, { return_sequences: true, reset_after: gruResetAfter }),
    ),
    bidirectional(
      "bidirectional_2",
      rnnLayer("SimpleRNN", "simple_rnn", 3, {
        return_sequences: true,
      }),
      "sum",
    ),
    rnnLayer("LSTM", "lstm_1", 4, { return_sequences: true }),
    rnnLayer("GRU", "gru_1", 3, { return_sequences: true, reset_after: gruResetAfter }),
    rnnLayer("SimpleRNN", "simple_rnn_1", 3),
    layer("Dense", { name: "dense", units: 3, activation: "softmax", use_bias: true }),
  ]);
  return {
    name: config.config.name as string,
    spec: {
      config,
      weights: {
        embedding: [w.tensor("embeddings", [vocab, 5])],
        bidirectional: [...w.rnn("LSTM", 5, 4), ...w.rnn("LSTM", 5, 4)],
        bidirectional_1: [
          ...w.rnn("GRU", 8, 3, gruResetAfter),
          ...w.rnn("GRU", 8, 3, gruResetAfter),
        ],
        bidirectional_2: [...w.rnn("SimpleRNN", 6, 3), ...w.rnn("SimpleRNN", 6, 3)],
        lstm_1: w.rnn("LSTM", 3, 4),
        gru_1: w.rnn("GRU", 4, 3, gruResetAfter),
        simple_rnn_1: w.rnn("SimpleRNN", 3, 3),
        dense: [w.tensor("kernel", [3, 3]), w.tensor("bias", [3])],
      },
      kerasVersion: "3.10.0",
    },
    inputShape: [seq],
    input: { kind: "int", vocab },
    tfjsComparable: !gruResetAfter,
  };
}

/** Every test model. */
export function allTestModels(): TestModel[] {
  return [
    denseModel(),
    cnnModel(),
    globalPoolModel(3, "max"),
    globalPoolModel(5, "average"),
    rnnModel(),
    rnnModel(6, true),
  ];
}
