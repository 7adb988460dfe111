import { buildModel, type KerasObject, type ModelSpec, sizeOf, Tensor } from "../../mod.ts";
import { ActivationCode } from "../activations.ts";
import { InputShapeError, LayerConfigError, UnsupportedLayerError } from "../errors.ts";
import { expectThrows } from "../../testing/assert.ts";
import {
  compareWithFiniteDifferences,
  compareWithTfjs,
  randomSpec,
  randomWeights,
  relativeError,
} from "../../testing/gradient_check.ts";
import { keras3Functional, kerasTensor } from "../../testing/keras3_nodes.ts";
import { Rng } from "../../testing/random.ts";
import { randomizeWeights, specFromTfjs, tfjsPredictMany } from "../../testing/tfjs_graphs.ts";
import {
  tf,
  TFJS_LAYER_BUILDERS,
  tfjsModelFromSpec,
  tfjsPredict,
  tfReady,
} from "../../testing/tfjs_reference.ts";
import { tfActivation } from "../../testing/tfjs_layers_core.ts";
import { CONV_LSTM2D } from "./conv_lstm2d.ts";
import { convLstm2dReference } from "./conv_lstm2d_reference.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

// TF.js's ConvLSTM2D from a Keras config. The spec's weights replace the initial values, so the
// initializers are zeros (TF.js's orthogonal one is slow and not what is compared).
TFJS_LAYER_BUILDERS.set("ConvLSTM2D", (c, base) =>
  tf.layers.convLstm2d({
    ...base,
    filters: c.filters as number,
    kernelSize: c.kernel_size as number[],
    strides: (c.strides ?? 1) as number[],
    padding: (c.padding ?? "valid") as "valid" | "same",
    dilationRate: (c.dilation_rate ?? 1) as [number, number],
    dataFormat: "channelsLast",
    activation: tfActivation(c.activation ?? "tanh") as Any,
    recurrentActivation: tfActivation(c.recurrent_activation ?? "sigmoid") as Any,
    useBias: c.use_bias !== false,
    returnSequences: c.return_sequences === true,
    goBackwards: c.go_backwards === true,
    kernelInitializer: "zeros",
    recurrentInitializer: "zeros",
    biasInitializer: "zeros",
    unitForgetBias: false,
  }));

const convLstm = (config: Record<string, unknown>): KerasObject => ({
  class_name: "ConvLSTM2D",
  config: { name: "clstm", ...config },
});
const HEAD: KerasObject[] = [
  { class_name: "Flatten", config: { name: "flat" } },
  { class_name: "Dense", config: { name: "probs", units: 3, activation: "softmax" } },
];
const SPARSE = { name: "sparse_categorical_crossentropy" as const };

/** Odd frame sizes, every option TF.js shares with Keras (no dilation: TF.js has no gradient). */
const CASES: { input: number[]; config: Record<string, unknown> }[] = [
  {
    input: [3, 5, 7, 3],
    config: { filters: 4, kernel_size: [3, 3], padding: "same", return_sequences: true },
  },
  {
    input: [4, 6, 5, 2],
    config: { filters: 3, kernel_size: [2, 3], strides: [2, 2], go_backwards: true },
  },
  {
    input: [2, 7, 6, 5],
    config: {
      filters: 5,
      kernel_size: [3, 2],
      strides: [2, 1],
      padding: "same",
      return_sequences: true,
      go_backwards: true,
      activation: "relu",
    },
  },
  {
    input: [5, 4, 4, 1],
    config: { filters: 2, kernel_size: [1, 1], use_bias: false, return_sequences: true },
  },
];

Deno.test("ConvLSTM2D forward matches TF.js ≤ 1e-5 relative: paddings, strides, go_backwards, return_sequences, batch 1 and 4", async () => {
  await tfReady();
  const rng = new Rng(1711);
  for (const { input, config } of CASES) {
    const spec = randomSpec([convLstm(config)], input, rng);
    const model = buildModel(spec);
    const ref = tfjsModelFromSpec(spec);
    try {
      for (const batch of [1, 4]) {
        const shape = [batch, ...input];
        const x = rng.floats(sizeOf(shape), -1.5, 1.5);
        const got = model.predict(new Tensor(x, shape));
        const want = tfjsPredict(ref, x, shape);
        const e = relativeError(got.data as Float32Array, want);
        if (!(e <= 1e-5)) {
          throw new Error(`${JSON.stringify(config)} batch ${batch}: relative error ${e}`);
        }
      }
    } finally {
      model.dispose();
      ref.dispose();
    }
  }
});

Deno.test("ConvLSTM2D gradients (kernel, recurrent_kernel, bias and through the input) match TF.js ≤ 1e-4 relative", async () => {
  await tfReady();
  const rng = new Rng(1712);
  for (const { input, config } of CASES) {
    // A Conv2D-free front: a Dense on the channels feeds the layer, so its input gradient counts.
    const layers: KerasObject[] = [
      { class_name: "Dense", config: { name: "front", units: 2, activation: "tanh" } },
      convLstm(config),
      ...HEAD,
    ];
    const spec = randomSpec(layers, input, rng);
    for (const batch of [1, 3]) {
      const shape = [batch, ...input];
      const x = rng.floats(sizeOf(shape), -1.5, 1.5);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, 3));
      try {
        compareWithTfjs(spec, x, shape, y, { loss: SPARSE });
      } catch (e) {
        throw new Error(`${JSON.stringify(config)} batch ${batch}: ${(e as Error).message}`);
      }
    }
  }
});

Deno.test("ConvLSTM2D with dilation: forward vs the TypeScript reference, gradients vs finite differences", () => {
  const rng = new Rng(1713);
  const input = [3, 7, 8, 2];
  const config = {
    filters: 3,
    kernel_size: [3, 2],
    dilation_rate: [2, 3],
    padding: "same",
    return_sequences: true,
    go_backwards: true,
  };
  const spec: ModelSpec = randomSpec([convLstm(config)], input, rng);
  const model = buildModel(spec);
  try {
    for (const batch of [1, 3]) {
      const shape = [batch, ...input];
      const x = rng.floats(sizeOf(shape), -1.5, 1.5);
      const [kernel, recurrentKernel, bias] = spec.weights.clstm.map((w) => w.data);
      const want = convLstm2dReference({
        x,
        shape: shape as [number, number, number, number, number],
        filters: 3,
        kernelSize: [3, 2],
        strides: [1, 1],
        dilation: [2, 3],
        padding: "same",
        kernel,
        recurrentKernel,
        bias,
        act: ActivationCode.Tanh,
        recAct: ActivationCode.Sigmoid,
        returnSequences: true,
        goBackwards: true,
      });
      const got = model.predict(new Tensor(x, shape)).data as Float32Array;
      const e = relativeError(got, want);
      if (!(e <= 1e-5)) throw new Error(`batch ${batch}: relative error ${e} vs the reference`);
    }
  } finally {
    model.dispose();
  }
  const trainSpec = randomSpec(
    [convLstm({ ...config, return_sequences: false }), ...HEAD],
    input,
    rng,
  );
  const x = rng.floats(2 * sizeOf(input), -1.5, 1.5);
  compareWithFiniteDifferences(trainSpec, x, [2, ...input], Float32Array.from([0, 2]), SPARSE, {
    samples: 5,
  });
});

Deno.test("ConvLSTM2D unit_forget_bias starts the forget gate's bias at 1, the others from bias_initializer", () => {
  const spec = randomSpec([convLstm({ filters: 3, kernel_size: 3 })], [2, 5, 5, 2], new Rng(1));
  const fresh = buildModel({ config: spec.config, weights: {} }, { initialize: { seed: 4 } });
  try {
    const layer = fresh.layers.find((l) => l.name === "clstm")!;
    const bias = layer.getWeights()[2].data;
    if (bias.length !== 12) throw new Error(`bias of ${bias.length} values`);
    const expected = [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0];
    if (bias.some((v, i) => v !== expected[i])) throw new Error(`bias ${Array.from(bias)}`);
    const shapes = layer.getWeights().map((w) => w.shape.join("x"));
    if (shapes.join(" ") !== "3x3x2x12 3x3x3x12 12") throw new Error(`shapes ${shapes}`);
  } finally {
    fresh.dispose();
  }
});

Deno.test("ConvLSTM2D refuses channels_first, stateful and strides with dilation by name", () => {
  const create = (config: Record<string, unknown>) =>
    CONV_LSTM2D.create({ name: "video", filters: 2, kernel_size: 3, ...config }, {});
  expectThrows(() => create({ data_format: "channels_first" }), UnsupportedLayerError, "video");
  expectThrows(() => create({ stateful: true }), LayerConfigError, "video", "stateful");
  expectThrows(
    () => create({ strides: 2, dilation_rate: 2 }),
    LayerConfigError,
    "video",
    "dilation_rate",
  );
  expectThrows(() => create({ activation: "softmax" }), LayerConfigError, "video", "activation");
  // Cell dropout (inference: inactive; fit: Keras's per-gate masks) is conv_lstm2d_dropout_test's.
});

Deno.test("ConvLSTM2D return_state: output, h and c equal TF.js's (both return_sequences forms); gradients through the states vs finite differences", async () => {
  await tfReady();
  const rng = new Rng(2718);
  for (const returnSequences of [false, true]) {
    const input = tf.input({ name: "frames", shape: [3, 5, 4, 2] });
    const [y, h, c] = tf.layers.convLstm2d({
      name: "clstm",
      filters: 3,
      kernelSize: 3,
      padding: "same",
      returnSequences,
      returnState: true,
      recurrentActivation: "sigmoid",
    }).apply(input) as tf.SymbolicTensor[];
    const predictRef = tf.model({ name: "states", inputs: input, outputs: [y, h, c] });
    randomizeWeights(predictRef, rng);
    const flat = (name: string, t: tf.SymbolicTensor) =>
      tf.layers.flatten({ name }).apply(t) as tf.SymbolicTensor;
    const merged = tf.layers.concatenate({ name: "cat" }).apply([
      flat("fy", y),
      flat("fh", h),
      flat("fc", c),
    ]) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: "out", units: 3, activation: "softmax" })
      .apply(merged) as tf.SymbolicTensor;
    const trainRef = tf.model({ name: "states_head", inputs: input, outputs: out });
    randomizeWeights(trainRef, rng);
    try {
      const x = { data: rng.floats(2 * 3 * 5 * 4 * 2, -1, 1), shape: [2, 3, 5, 4, 2] };
      const want = tfjsPredictMany(predictRef, [x]);
      const model = buildModel(specFromTfjs(predictRef));
      try {
        const got = model.predictMany([new Tensor(x.data, x.shape)]);
        got.forEach((t, k) => {
          const e = relativeError(t.data, want[k]);
          if (!(e <= 1e-5)) throw new Error(`output ${k} (seq ${returnSequences}): ${e}`);
        });
      } finally {
        model.dispose();
      }
      compareWithFiniteDifferences(
        specFromTfjs(trainRef),
        x.data,
        x.shape,
        Float32Array.from([0, 2]),
        SPARSE,
        { samples: 6, h: 1e-2 },
      );
    } finally {
      trainRef.dispose(); // (holds every layer of predictRef too)
    }
  }
});

Deno.test("ConvLSTM2D initial_state: forward from given h and c vs the reference; an encoder's states into a decoder: gradients (through the states) vs finite differences", () => {
  const rng = new Rng(3141);
  const input = [3, 5, 4, 2];
  const frame = [5, 4, 3]; // same padding, 3 filters
  for (const goBackwards of [false, true]) {
    for (const returnSequences of [false, true]) {
      const clstm = {
        name: "clstm",
        filters: 3,
        kernel_size: [3, 2],
        padding: "same",
        go_backwards: goBackwards,
        return_sequences: returnSequences,
      };
      const config = keras3Functional(
        [
          { class_name: "InputLayer", config: { name: "frames", batch_shape: [null, ...input] } },
          { class_name: "InputLayer", config: { name: "h0", batch_shape: [null, ...frame] } },
          { class_name: "InputLayer", config: { name: "c0", batch_shape: [null, ...frame] } },
          {
            class_name: "ConvLSTM2D",
            config: clstm,
            args: [kerasTensor("frames")],
            kwargs: { initial_state: [kerasTensor("h0"), kerasTensor("c0")] },
          },
        ],
        ["frames", "h0", "c0"],
        "clstm",
      );
      const weights = randomWeights(config, rng, -0.5, 0.5);
      const model = buildModel({ config, weights });
      try {
        for (const batch of [1, 3]) {
          const x = rng.floats(batch * sizeOf(input), -1, 1);
          const h0 = rng.floats(batch * sizeOf(frame), -1, 1);
          const c0 = rng.floats(batch * sizeOf(frame), -1, 1);
          const [kernel, recurrentKernel, bias] = weights.clstm.map((w) => w.data);
          const args = {
            x,
            shape: [batch, ...input] as [number, number, number, number, number],
            filters: 3,
            kernelSize: [3, 2] as [number, number],
            strides: [1, 1] as [number, number],
            dilation: [1, 1] as [number, number],
            padding: "same" as const,
            kernel,
            recurrentKernel,
            bias,
            act: ActivationCode.Tanh,
            recAct: ActivationCode.Sigmoid,
            returnSequences,
            goBackwards,
          };
          const got = model.predictMany([
            new Tensor(x, [batch, ...input]),
            new Tensor(h0, [batch, ...frame]),
            new Tensor(c0, [batch, ...frame]),
          ])[0].data as Float32Array;
          const e = relativeError(got, convLstm2dReference({ ...args, h0, c0 }));
          if (!(e <= 1e-5)) throw new Error(`batch ${batch} ${JSON.stringify(clstm)}: ${e}`);
          // The states matter: from zeros the output differs.
          const fromZeros = convLstm2dReference(args);
          if (!(relativeError(got, fromZeros) > 1e-3)) throw new Error("initial states ignored");
        }
      } finally {
        model.dispose();
      }
    }
  }
  // Wrong state shapes are typed errors.
  const bad = keras3Functional(
    [
      { class_name: "InputLayer", config: { name: "frames", batch_shape: [null, ...input] } },
      { class_name: "InputLayer", config: { name: "h0", batch_shape: [null, 5, 4, 2] } },
      { class_name: "InputLayer", config: { name: "c0", batch_shape: [null, 5, 4, 2] } },
      {
        class_name: "ConvLSTM2D",
        config: { name: "clstm", filters: 3, kernel_size: [3, 3], padding: "same" },
        args: [kerasTensor("frames")],
        kwargs: { initial_state: [kerasTensor("h0"), kerasTensor("c0")] },
      },
    ],
    ["frames", "h0", "c0"],
    "clstm",
  );
  expectThrows(() => buildModel({ config: bad, weights: {} }), InputShapeError, "initial states");
  // Encoder → decoder: the decoder starts from the encoder's final h and c; the encoder's
  // weights get gradients only through those states.
  for (const goBackwards of [false, true]) {
    const seq2seq = keras3Functional(
      [
        { class_name: "InputLayer", config: { name: "frames", batch_shape: [null, ...input] } },
        {
          class_name: "ConvLSTM2D",
          config: {
            name: "encoder",
            filters: 3,
            kernel_size: [3, 2],
            padding: "same",
            return_state: true,
          },
          args: [kerasTensor("frames")],
        },
        {
          class_name: "ConvLSTM2D",
          config: {
            name: "decoder",
            filters: 3,
            kernel_size: [2, 2],
            padding: "same",
            go_backwards: goBackwards,
            return_sequences: true,
          },
          args: [kerasTensor("frames")],
          kwargs: { initial_state: [kerasTensor("encoder", 1), kerasTensor("encoder", 2)] },
        },
        { class_name: "Flatten", config: { name: "flat" }, args: [kerasTensor("decoder")] },
        {
          class_name: "Dense",
          config: { name: "out", units: 3, activation: "softmax" },
          args: [kerasTensor("flat")],
        },
      ],
      ["frames"],
      "out",
    );
    const spec: ModelSpec = { config: seq2seq, weights: randomWeights(seq2seq, rng, -0.5, 0.5) };
    const x = rng.floats(2 * sizeOf(input), -1.5, 1.5);
    compareWithFiniteDifferences(spec, x, [2, ...input], Float32Array.from([0, 2]), SPARSE, {
      samples: 8,
    });
  }
});
