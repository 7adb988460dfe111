/**
 * ONNX export checked by ONNX Runtime: each model is exported, run by onnxruntime-node (the
 * native build shipped in its npm package) and its outputs compared with the engine's on the same
 * inputs (≤ 1e-5). Models: the seeds' CNN, the seeds' text models (BiLSTM, BiGRU, masked), single
 * recurrent layers (GRU reset_after, SimpleRNN, go_backwards, masked sequences), a residual graph,
 * a MobileNetV2-style block (ZeroPadding2D, DepthwiseConv2D, ReLU6, BatchNormalization, Add),
 * separable / grouped / 1-D convolutions, and the typed refusal of a layer without an ONNX form.
 */
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import {
  buildModel,
  LAYER_CLASSES,
  type Model,
  type ModelSpec,
  OnnxExportError,
  Tensor,
  type WeightTensor,
} from "@scratchnet/engine";
import { randomIdBatch, seedsCnnSpec, seedsTextSpec } from "../../engine/testing/seeds_models.ts";
import {
  randomizeWeights,
  residualCnn,
  sharedDense,
  specFromTfjs,
  twoInTwoOut,
} from "../../engine/testing/tfjs_graphs.ts";
import { tf, tfReady } from "../../engine/testing/tfjs_reference.ts";
import { maxAbsDiff, Rng } from "../../engine/testing/random.ts";
import { keras3Functional as functional, kerasTensor } from "../../engine/testing/keras3_nodes.ts";
import {
  inputs as opGraphInputs,
  keras2Config,
  keras3Config,
  kt,
  layer3,
  op3,
  randomWeights,
  sl,
} from "../../engine/testing/op_graphs.ts";
import { collectGraph, exportableLayerClasses, exportOnnx } from "../mod.ts";

/** Largest |engine − ORT| accepted. */
const TOLERANCE = 1e-5;

/** Runs the exported model in onnxruntime-node on `xs`; returns every output's data. */
async function ortOutputs(model: Model, xs: Tensor[]): Promise<Float32Array[]> {
  const bytes = exportOnnx(model);
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    session.inputNames.forEach((name, i) => {
      const x = xs[i];
      feeds[name] = x.dtype === "int32"
        ? new ort.Tensor("int32", x.data as Int32Array, [...x.shape])
        : new ort.Tensor("float32", x.data as Float32Array, [...x.shape]);
    });
    const result = await session.run(feeds);
    return session.outputNames.map((name) => result[name].data as Float32Array);
  } finally {
    await session.release();
  }
}

/** Exports `spec`'s model, runs it in ORT and asserts its outputs equal the engine's. */
async function assertSameAsEngine(spec: ModelSpec, xs: Tensor[]): Promise<number> {
  const model = buildModel(spec);
  try {
    const expected = model.predictMany(xs);
    const got = await ortOutputs(model, xs);
    assert.equal(got.length, expected.length);
    let worst = 0;
    expected.forEach((y, k) => {
      assert.equal(got[k].length, y.data.length, `output ${k} size`);
      const diff = maxAbsDiff(got[k], y.data);
      assert.ok(diff <= TOLERANCE, `output ${k}: max |engine − ORT| ${diff} > ${TOLERANCE}`);
      worst = Math.max(worst, diff);
    });
    return worst;
  } finally {
    model.dispose();
  }
}

const images = (rng: Rng, n: number, size: number, c: number) =>
  new Tensor(rng.floats(n * size * size * c, 0, 1), [n, size, size, c]);

function ids(seed: number, batch: number, length: number, vocab: number): Tensor {
  return new Tensor(randomIdBatch(new Rng(seed), batch, length, vocab), [batch, length]);
}

Deno.test("ONNX export: the seeds' CNN (Conv2D, MaxPooling2D, Flatten, Dense) runs in ORT", async () => {
  for (const kernelSize of [3, 5]) {
    const spec = seedsCnnSpec({ filters: [16, 32], kernelSize, imageSize: 32, seed: kernelSize });
    await assertSameAsEngine(spec, [images(new Rng(1), 3, 32, 3)]);
  }
  const avg = seedsCnnSpec({ filters: [8], pooling: "average", imageSize: 15, seed: 3 });
  await assertSameAsEngine(avg, [images(new Rng(2), 2, 15, 3)]);
});

Deno.test("ONNX export: the seeds' text models (masked BiLSTM, BiGRU, SimpleRNN) run in ORT", async () => {
  const vocab = 400, length = 24;
  for (
    const [cell, bidirectional, units] of [
      ["LSTM", true, [16, 12]],
      ["GRU", true, [12]],
      ["SimpleRNN", false, [10, 8]],
      ["LSTM", false, [9]],
    ] as const
  ) {
    const spec = seedsTextSpec({
      vocabSize: vocab,
      embeddingDim: 8,
      units: [...units],
      cell,
      bidirectional,
      sequenceLength: length,
      seed: 5,
    });
    await assertSameAsEngine(spec, [ids(9, 6, length, vocab)]);
  }
});

/** Embedding(mask_zero) → `rnn` layers → `head` layers → Dense(3, softmax), on 20 ids. */
function sequenceSpec(rnn: Record<string, unknown>[], head: Record<string, unknown>[]): ModelSpec {
  const layers = [
    { class_name: "InputLayer", config: { name: "ids", batch_shape: [null, 20], dtype: "int32" } },
    {
      class_name: "Embedding",
      config: { name: "embedding", input_dim: 50, output_dim: 6, mask_zero: true },
    },
    ...rnn,
    ...head,
    { class_name: "Dense", config: { name: "out", units: 3, activation: "softmax" } },
  ];
  return { config: { class_name: "Sequential", config: { name: "seq", layers } }, weights: {} };
}

async function assertInitialized(spec: ModelSpec, xs: Tensor[], seed: number): Promise<void> {
  const model = buildModel(spec, { initialize: { seed } });
  const weights: Record<string, WeightTensor[]> = {};
  for (const layer of model.layers) {
    const w = layer.getWeights();
    if (w.length) weights[model.layerPath(layer)] = w.map((t) => ({ ...t, data: t.data.slice() }));
  }
  model.dispose();
  // Random biases (and attention scales), so a wrong gate order or bias row shows.
  const rng = new Rng(seed);
  for (const list of Object.values(weights)) {
    for (const w of list) {
      if (/bias|scale|concat_score/.test(w.name)) w.data.set(rng.floats(w.data.length, 0.5, 1.5));
    }
  }
  await assertSameAsEngine({ ...spec, weights }, xs);
}

Deno.test("ONNX export: GRU reset_after, go_backwards and masked sequence outputs run in ORT", async () => {
  const x = [ids(3, 5, 20, 50)];
  const gru = { class_name: "GRU", config: { name: "gru", units: 7, return_sequences: true } };
  const pool = { class_name: "GlobalAveragePooling1D", config: { name: "pool" } };
  // Masked sequence outputs: Keras repeats the last output at padded steps; the average reads
  // the mask.
  await assertInitialized(sequenceSpec([gru], [pool]), x, 1);
  const gruBefore = { ...gru, config: { ...gru.config, reset_after: false } };
  await assertInitialized(sequenceSpec([gruBefore], [pool]), x, 2);
  const back = {
    class_name: "LSTM",
    config: { name: "back", units: 5, return_sequences: true, go_backwards: true },
  };
  const maxPool = { class_name: "GlobalMaxPooling1D", config: { name: "max" } };
  await assertInitialized(sequenceSpec([back], [maxPool]), x, 3);
  const hardSigmoid = {
    class_name: "LSTM",
    config: { name: "lstm", units: 4, recurrent_activation: "hard_sigmoid", activation: "relu" },
  };
  await assertInitialized(sequenceSpec([hardSigmoid], []), x, 4);
  for (const merge of ["sum", "mul", "ave"]) {
    const bi = {
      class_name: "Bidirectional",
      config: {
        name: "bi",
        merge_mode: merge,
        layer: { class_name: "GRU", config: { name: "g", units: 4, return_sequences: true } },
      },
    };
    await assertInitialized(sequenceSpec([bi], [maxPool]), x, 5);
  }
});

Deno.test("ONNX export: a residual graph (Conv2D, BatchNormalization, ReLU, Add) runs in ORT", async () => {
  await tfReady();
  const model = residualCnn(7, { size: 12, filters: 6, blocks: 2 });
  const spec = specFromTfjs(model);
  model.dispose();
  await assertSameAsEngine(spec, [images(new Rng(4), 3, 12, 3)]);
});

/**
 * A MobileNetV2-style model: stem ZeroPadding2D + Conv2D stride 2 + BN + ReLU6, then an inverted
 * residual block (1×1 expand, BN, ReLU6, DepthwiseConv2D 3×3, BN, ReLU6, 1×1 project, BN, Add)
 * and a stride-2 block, GlobalAveragePooling2D, Dropout, Dense softmax.
 */
function mobileNetV2Block(seed: number): tf.LayersModel {
  type Sym = tf.SymbolicTensor;
  const apply = (layer: tf.layers.Layer, x: Sym | Sym[]) => layer.apply(x) as Sym;
  const bn = (name: string) => tf.layers.batchNormalization({ name, epsilon: 1e-3 });
  const relu6 = (name: string) => tf.layers.reLU({ name, maxValue: 6 });
  const conv1x1 = (name: string, filters: number) =>
    tf.layers.conv2d({ name, filters, kernelSize: 1, useBias: false });
  const input = tf.input({ name: "image", shape: [17, 17, 3] });
  let h = apply(tf.layers.zeroPadding2d({ name: "stem_pad", padding: [[0, 1], [0, 1]] }), input);
  h = apply(tf.layers.conv2d({ name: "stem", filters: 8, kernelSize: 3, strides: 2 }), h);
  h = apply(relu6("stem_relu"), apply(bn("stem_bn"), h));
  const block = (name: string, x: Sym, stride: number, out: number) => {
    let r = apply(
      relu6(`${name}_expand_relu`),
      apply(bn(`${name}_expand_bn`), apply(conv1x1(`${name}_expand`, 24), x)),
    );
    r = apply(
      tf.layers.depthwiseConv2d({
        name: `${name}_dw`,
        kernelSize: 3,
        strides: stride,
        padding: "same",
        useBias: false,
      }),
      r,
    );
    r = apply(relu6(`${name}_dw_relu`), apply(bn(`${name}_dw_bn`), r));
    r = apply(bn(`${name}_project_bn`), apply(conv1x1(`${name}_project`, out), r));
    return stride === 1 && out === x.shape[3]
      ? apply(tf.layers.add({ name: `${name}_add` }), [x, r])
      : r;
  };
  h = block("block1", h, 1, 8);
  h = block("block2", h, 2, 12);
  h = apply(tf.layers.globalAveragePooling2d({ name: "gap" }), h);
  h = apply(tf.layers.dropout({ name: "drop", rate: 0.2 }), h);
  const out = apply(tf.layers.dense({ name: "out", units: 5, activation: "softmax" }), h);
  const model = tf.model({ name: "mobilenet_v2_block", inputs: input, outputs: out });
  randomizeWeights(model, new Rng(seed));
  return model;
}

Deno.test("ONNX export: a MobileNetV2-style block (DepthwiseConv2D, ReLU6, Add) runs in ORT", async () => {
  await tfReady();
  const model = mobileNetV2Block(11);
  const spec = specFromTfjs(model);
  model.dispose();
  await assertSameAsEngine(spec, [images(new Rng(6), 4, 17, 3)]);
});

Deno.test("ONNX export: separable, grouped and 1-D convolutions, concatenation, activations", async () => {
  const image = { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 9, 9, 4] } };
  const layers = [
    image,
    {
      class_name: "SeparableConv2D",
      config: { name: "sep", filters: 6, kernel_size: 3, padding: "same", activation: "swish" },
    },
    {
      class_name: "Conv2D",
      config: { name: "grouped", filters: 6, kernel_size: 3, groups: 3, activation: "gelu" },
    },
    {
      class_name: "AveragePooling2D",
      config: { name: "avg", pool_size: 2, strides: 2, padding: "same" },
    },
    { class_name: "LeakyReLU", config: { name: "leaky", negative_slope: 0.1 } },
    { class_name: "Reshape", config: { name: "rows", target_shape: [16, 6] } },
    {
      class_name: "Conv1D",
      config: { name: "causal", filters: 5, kernel_size: 3, padding: "causal", activation: "elu" },
    },
    {
      class_name: "Conv1D",
      config: { name: "same", filters: 4, kernel_size: 4, strides: 2, padding: "same" },
    },
    { class_name: "Activation", config: { name: "hs", activation: "hard_swish" } },
    { class_name: "Flatten", config: { name: "flat" } },
    { class_name: "Dense", config: { name: "out", units: 3, activation: "tanh" } },
  ];
  const spec = {
    config: { class_name: "Sequential", config: { name: "convs", layers } },
    weights: {},
  };
  await assertInitialized(spec, [images(new Rng(8), 3, 9, 4)], 7);
});

Deno.test("ONNX export: a layer it cannot write is refused by name and class", () => {
  const build = (layers: Record<string, unknown>[]) =>
    buildModel({
      config: { class_name: "Sequential", config: { name: "m", layers } },
      weights: {},
    }, { initialize: { seed: 1 } });
  // ConvLSTM2D is unrolled over its steps, which must be known.
  const frames = build([
    { class_name: "InputLayer", config: { name: "x", batch_shape: [null, null, 5, 5, 2] } },
    { class_name: "ConvLSTM2D", config: { name: "clstm", filters: 2, kernel_size: 3 } },
  ]);
  const normalized = build([
    { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 4] } },
    { class_name: "LayerNormalization", config: { name: "norm" } },
  ]);
  const plain = build([
    { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 4] } },
    { class_name: "Dense", config: { name: "custom", units: 2 } },
  ]);
  const refused = (name: string, className: string, why: RegExp) => (e: unknown) =>
    e instanceof OnnxExportError && e.layerName === name && e.className === className &&
    e.message.includes(`"${name}" (${className})`) && why.test(e.message);
  try {
    assert.throws(() => exportOnnx(frames), refused("clstm", "ConvLSTM2D", /unknown timesteps/));
    // LayerNormalization's operator exists from opset 17 on.
    assert.throws(
      () => exportOnnx(normalized, { opset: 16 }),
      refused("norm", "LayerNormalization", /opset 17/),
    );
    assert.ok(exportOnnx(normalized, { opset: 17 }).length > 0);
    assert.throws(() => exportOnnx(normalized, { opset: 9 }), RangeError);
    // A class the engine does not list has no hook: every engine class has one, so a layer is
    // relabelled to stand for a class added without one.
    Object.defineProperty(plain.getLayer("custom"), "className", { value: "MyDense" });
    assert.throws(() => exportOnnx(plain), refused("custom", "MyDense", /no ONNX form/));
  } finally {
    frames.dispose();
    normalized.dispose();
    plain.dispose();
  }
});

Deno.test("ONNX export: graph inputs and outputs keep Keras's names, dtypes and free batch", () => {
  const spec = seedsTextSpec({ vocabSize: 30, embeddingDim: 4, units: [3], sequenceLength: 7 });
  const model = buildModel(spec);
  try {
    const graph = collectGraph(model);
    assert.deepEqual(graph.inputs, [{ name: "input_layer", type: "int32", dims: ["batch", 7] }]);
    assert.deepEqual(graph.outputs, [{ name: "dense", type: "float32", dims: ["batch", 3] }]);
    assert.equal(graph.opset, 17);
    // One bidirectional LSTM operator, not two.
    const lstm = graph.nodes.filter((n) => n.opType === "LSTM");
    assert.equal(lstm.length, 1);
    assert.deepEqual(lstm[0].attributes.direction, { string: "bidirectional" });
  } finally {
    model.dispose();
  }
});

Deno.test("ONNX export: 1-D pooling/padding/cropping/upsampling, LayerNormalization, Permute", async () => {
  const seq = [
    { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 12, 5] } },
    { class_name: "ZeroPadding1D", config: { name: "pad", padding: [2, 1] } },
    { class_name: "MaxPooling1D", config: { name: "maxp", pool_size: 2 } },
    { class_name: "UpSampling1D", config: { name: "up", size: 3 } },
    { class_name: "Cropping1D", config: { name: "crop", cropping: [1, 2] } },
    {
      class_name: "AveragePooling1D",
      config: { name: "avgp", pool_size: 3, strides: 2, padding: "same" },
    },
    { class_name: "Conv1D", config: { name: "conv", filters: 6, kernel_size: 2 } },
    { class_name: "LayerNormalization", config: { name: "norm", epsilon: 1e-3 } },
    { class_name: "Permute", config: { name: "swap", dims: [2, 1] } },
    { class_name: "Flatten", config: { name: "flat" } },
    { class_name: "Dense", config: { name: "out", units: 4, activation: "softmax" } },
  ];
  const spec = {
    config: { class_name: "Sequential", config: { name: "s", layers: seq } },
    weights: {},
  };
  const x = new Tensor(new Rng(12).floats(3 * 12 * 5, -1, 1), [3, 12, 5]);
  await assertInitialized(spec, [x], 21);
});

Deno.test("ONNX export: Cropping2D, UpSampling2D (nearest, bilinear), RepeatVector, Masking", async () => {
  const image = [
    { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 9, 9, 3] } },
    { class_name: "Cropping2D", config: { name: "crop", cropping: [[1, 0], [0, 2]] } },
    { class_name: "UpSampling2D", config: { name: "up", size: [2, 3] } },
    { class_name: "Conv2D", config: { name: "conv", filters: 4, kernel_size: 3, strides: 2 } },
    {
      class_name: "UpSampling2D",
      config: { name: "bilinear", size: 2, interpolation: "bilinear" },
    },
    { class_name: "GlobalAveragePooling2D", config: { name: "gap" } },
    { class_name: "RepeatVector", config: { name: "repeat", n: 3 } },
    { class_name: "GRU", config: { name: "gru", units: 5 } },
    { class_name: "Dense", config: { name: "out", units: 2 } },
  ];
  const spec = {
    config: { class_name: "Sequential", config: { name: "i", layers: image } },
    weights: {},
  };
  await assertInitialized(spec, [images(new Rng(13), 2, 9, 3)], 22);
  // Masking: trailing all-zero steps are masked (each row a different length).
  const masked = [
    { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 10, 4] } },
    { class_name: "Masking", config: { name: "mask", mask_value: 0 } },
    { class_name: "LSTM", config: { name: "lstm", units: 6, return_sequences: true } },
    { class_name: "GlobalAveragePooling1D", config: { name: "avg" } },
    { class_name: "Dense", config: { name: "out", units: 3 } },
  ];
  const rng = new Rng(14);
  const data = rng.floats(4 * 10 * 4, -1, 1);
  [10, 7, 3, 1].forEach((len, b) => data.fill(0, (b * 10 + len) * 4, (b + 1) * 10 * 4));
  const maskSpec = {
    config: { class_name: "Sequential", config: { name: "m", layers: masked } },
    weights: {},
  };
  await assertInitialized(maskSpec, [new Tensor(data, [4, 10, 4])], 23);
});

Deno.test("ONNX export: PReLU (shared axes) and inference-time identities (augmentation)", async () => {
  const layers = [
    { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 6, 6, 2] } },
    { class_name: "RandomFlip", config: { name: "flip", mode: "horizontal" } },
    { class_name: "Conv2D", config: { name: "conv", filters: 3, kernel_size: 3 } },
    { class_name: "PReLU", config: { name: "prelu", shared_axes: [1, 2] } },
    { class_name: "ActivityRegularization", config: { name: "reg", l1: 0.01 } },
    { class_name: "Flatten", config: { name: "flat" } },
    { class_name: "PReLU", config: { name: "prelu2" } },
  ];
  const spec = { config: { class_name: "Sequential", config: { name: "p", layers } }, weights: {} };
  const model = buildModel(spec, { initialize: { seed: 31 } });
  // Alphas away from PReLU's zero initializer, so a negative slope is exercised.
  for (const name of ["prelu", "prelu2"]) {
    const layer = model.getLayer(name);
    const [alpha] = layer.getWeights();
    layer.setWeights([{ ...alpha, data: new Rng(32).floats(alpha.data.length, 0.1, 0.5) }]);
  }
  try {
    const x = new Tensor(new Rng(33).floats(2 * 6 * 6 * 2, -1, 1), [2, 6, 6, 2]);
    const got = await ortOutputs(model, [x]);
    assert.ok(maxAbsDiff(got[0], model.predict(x).data) <= TOLERANCE);
  } finally {
    model.dispose();
  }
});

Deno.test("ONNX export: Normalization (config statistics, kept axes, invert)", async () => {
  const x = new Tensor(new Rng(41).floats(3 * 4 * 5, -2, 2), [3, 4, 5]);
  for (
    const config of [
      { axis: -1, mean: [0.1, -0.2, 0.3, 0, 1], variance: [1, 2, 0.5, 4, 0.25] },
      { axis: 1, mean: [1, 2, 3, 4], variance: [2, 2, 1, 0.5], invert: true },
      { axis: null, mean: 0.5, variance: 3 },
    ]
  ) {
    const layers = [
      { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 4, 5] } },
      { class_name: "Normalization", config: { name: "norm", ...config } },
      { class_name: "Dense", config: { name: "out", units: 2 } },
    ];
    const spec = {
      config: { class_name: "Sequential", config: { name: "n", layers } },
      weights: {},
    };
    await assertInitialized(spec, [x], 42);
  }
});

Deno.test("packages/onnx README names every exported layer class and every class not yet exported", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const [exported, notYet = ""] = readme.split("Not yet:");
  // "MaxPooling1D/2D" names MaxPooling1D and MaxPooling2D.
  const expanded = exported.replace(/(\w+)1D\/2D/g, "$11D $12D");
  const named = (c: string) => new RegExp(`\\b${c}\\b`).test(expanded);
  const yes = new Set(exportableLayerClasses());
  assert.ok(yes.has("LSTM") && yes.has("Conv2D") && yes.has("ConvLSTM2D"));
  for (const c of yes) assert.ok(named(c), `README does not list exported ${c}`);
  for (const c of LAYER_CLASSES.map((d) => d.className).filter((c) => !yes.has(c))) {
    assert.ok(notYet.includes(c), `README's "Not yet" does not name ${c}`);
  }
});

Deno.test("ONNX export: Conv2DTranspose (valid, same, stride above the kernel, output_padding)", async () => {
  const x = images(new Rng(51), 2, 5, 3);
  for (
    const config of [
      { kernel_size: 3, strides: 2, padding: "valid" },
      { kernel_size: 3, strides: 2, padding: "same", activation: "relu" },
      { kernel_size: 2, strides: 2, padding: "same" },
      { kernel_size: 2, strides: 3, padding: "valid" },
      { kernel_size: 3, strides: 2, padding: "same", output_padding: 0 },
      { kernel_size: 3, strides: 1, padding: "same", dilation_rate: 2 },
      { kernel_size: [3, 2], strides: [2, 1], padding: "valid", output_padding: [1, 0] },
    ]
  ) {
    const layers = [
      { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 5, 5, 3] } },
      { class_name: "Conv2DTranspose", config: { name: "up", filters: 4, ...config } },
    ];
    const spec = {
      config: { class_name: "Sequential", config: { name: "t", layers } },
      weights: {},
    };
    await assertInitialized(spec, [x], 52);
  }
});

Deno.test("ONNX export: 3-D poolings (max, average same, global with keepdims)", async () => {
  const x = new Tensor(new Rng(61).floats(2 * 5 * 6 * 4 * 3, -1, 1), [2, 5, 6, 4, 3]);
  const layers = [
    { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 5, 6, 4, 3] } },
    { class_name: "MaxPooling3D", config: { name: "max", pool_size: [2, 2, 1] } },
    {
      class_name: "AveragePooling3D",
      config: { name: "avg", pool_size: 2, strides: 1, padding: "same" },
    },
    { class_name: "GlobalMaxPooling3D", config: { name: "gmax", keepdims: true } },
    { class_name: "GlobalAveragePooling3D", config: { name: "gavg" } },
    { class_name: "Dense", config: { name: "out", units: 2 } },
  ];
  const spec = { config: { class_name: "Sequential", config: { name: "v", layers } }, weights: {} };
  await assertInitialized(spec, [x], 62);
});

Deno.test("ONNX export: TimeDistributed (Conv2D and pooling per frame, Dense per step)", async () => {
  const td = (name: string, layer: Record<string, unknown>) => ({
    class_name: "TimeDistributed",
    config: { name, layer },
  });
  const layers = [
    { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 4, 7, 7, 2] } },
    td("frames_conv", {
      class_name: "Conv2D",
      config: { name: "conv", filters: 3, kernel_size: 3, activation: "relu" },
    }),
    td("frames_pool", { class_name: "GlobalAveragePooling2D", config: { name: "gap" } }),
    td("steps_dense", { class_name: "Dense", config: { name: "d", units: 5, activation: "tanh" } }),
    { class_name: "LSTM", config: { name: "lstm", units: 4 } },
  ];
  const spec = { config: { class_name: "Sequential", config: { name: "v", layers } }, weights: {} };
  const x = new Tensor(new Rng(71).floats(2 * 4 * 7 * 7 * 2, -1, 1), [2, 4, 7, 7, 2]);
  await assertInitialized(spec, [x], 72);
});

Deno.test("ONNX export: several inputs and outputs, and a shared layer written once", async () => {
  await tfReady();
  const rng = new Rng(81);
  const two = twoInTwoOut(3);
  const twoSpec = specFromTfjs(two);
  two.dispose();
  const xs = [
    new Tensor(rng.floats(4 * 6, -1, 1), [4, 6]),
    new Tensor(rng.floats(4 * 4, -1, 1), [4, 4]),
  ];
  await assertSameAsEngine(twoSpec, xs);
  const shared = sharedDense(4);
  const sharedSpec = specFromTfjs(shared);
  shared.dispose();
  const pair = [
    new Tensor(rng.floats(3 * 6, -1, 1), [3, 6]),
    new Tensor(rng.floats(3 * 6, -1, 1), [3, 6]),
  ];
  await assertSameAsEngine(sharedSpec, pair);
  const model = buildModel(sharedSpec);
  try {
    const graph = collectGraph(model);
    assert.deepEqual(graph.inputs.map((v) => v.name), ["left", "right"]);
    // "shared" is called twice but its kernel and bias are written once.
    const sharedWeights = graph.initializers.filter((t) => t.name.startsWith("shared"));
    assert.equal(sharedWeights.length, 2);
    assert.equal(graph.nodes.filter((n) => n.opType === "MatMul").length, 5);
  } finally {
    model.dispose();
  }
});

Deno.test("ONNX export: MultiHeadAttention (key, Embedding masks, attention_mask, causal) and a Transformer block", async () => {
  const rng = new Rng(91);
  const b = 3;
  const ids = (length: number) => {
    const data = new Int32Array(b * length);
    for (let i = 0; i < b; i++) {
      const n = 1 + (i * 2) % length;
      for (let t = 0; t < n; t++) data[i * length + t] = 1 + rng.int(0, 6);
    }
    return new Tensor(data, [b, length]);
  };
  for (const causal of [false, true]) {
    const layers = [
      {
        class_name: "InputLayer",
        config: { name: "q_ids", batch_shape: [null, 4], dtype: "int32" },
      },
      {
        class_name: "InputLayer",
        config: { name: "v_ids", batch_shape: [null, 5], dtype: "int32" },
      },
      { class_name: "InputLayer", config: { name: "k_in", batch_shape: [null, 5, 3] } },
      { class_name: "InputLayer", config: { name: "am", batch_shape: [null, 4, 5] } },
      {
        class_name: "Embedding",
        config: { name: "qe", input_dim: 7, output_dim: 6, mask_zero: true },
        args: [kerasTensor("q_ids")],
      },
      {
        class_name: "Embedding",
        config: { name: "ve", input_dim: 7, output_dim: 5, mask_zero: true },
        args: [kerasTensor("v_ids")],
      },
      {
        class_name: "MultiHeadAttention",
        config: { name: "mha", num_heads: 3, key_dim: 2, value_dim: 3, output_shape: 4 },
        args: [kerasTensor("qe"), kerasTensor("ve")],
        kwargs: {
          key: kerasTensor("k_in"),
          attention_mask: kerasTensor("am"),
          use_causal_mask: causal,
        },
      },
    ];
    const spec = {
      config: functional(layers, ["q_ids", "v_ids", "k_in", "am"], "mha"),
      weights: {},
    };
    const am = new Tensor(Float32Array.from({ length: b * 20 }, () => rng.int(0, 4) ? 1 : 0), [
      b,
      4,
      5,
    ]);
    const xs = [ids(4), ids(5), new Tensor(rng.floats(b * 15, -1, 1), [b, 5, 3]), am];
    await assertInitialized(spec, xs, 92);
  }
  // Self-attention block: MHA(x, x) + x → LayerNormalization → Dense FFN, masked average.
  const block = [
    { class_name: "InputLayer", config: { name: "ids", batch_shape: [null, 6], dtype: "int32" } },
    {
      class_name: "Embedding",
      config: { name: "emb", input_dim: 9, output_dim: 8, mask_zero: true },
      args: [kerasTensor("ids")],
    },
    {
      class_name: "MultiHeadAttention",
      config: { name: "self", num_heads: 2, key_dim: 4 },
      args: [kerasTensor("emb"), kerasTensor("emb")],
    },
    {
      class_name: "Add",
      config: { name: "residual" },
      args: [[kerasTensor("emb"), kerasTensor("self")]],
    },
    { class_name: "LayerNormalization", config: { name: "norm" }, args: [kerasTensor("residual")] },
    {
      class_name: "Dense",
      config: { name: "ffn", units: 8, activation: "gelu" },
      args: [kerasTensor("norm")],
    },
    { class_name: "GlobalAveragePooling1D", config: { name: "pool" }, args: [kerasTensor("ffn")] },
  ];
  await assertInitialized(
    { config: functional(block, ["ids"], "pool"), weights: {} },
    [ids(6)],
    93,
  );
});

Deno.test("ONNX export: masks through merges (Concatenate and Add of masked branches)", async () => {
  const rng = new Rng(95);
  const data = new Int32Array(4 * 7);
  [7, 5, 2, 1].forEach((n, i) => {
    for (let t = 0; t < n; t++) data[i * 7 + t] = 1 + rng.int(0, 8);
  });
  const branch = (name: string) => ({
    class_name: "GRU",
    config: { name, units: 3, return_sequences: true },
    args: [kerasTensor("emb")],
  });
  const layers = [
    { class_name: "InputLayer", config: { name: "ids", batch_shape: [null, 7], dtype: "int32" } },
    {
      class_name: "Embedding",
      config: { name: "emb", input_dim: 9, output_dim: 4, mask_zero: true },
      args: [kerasTensor("ids")],
    },
    branch("left"),
    branch("right"),
    {
      class_name: "Concatenate",
      config: { name: "cat" },
      args: [[kerasTensor("left"), kerasTensor("right")]],
    },
    {
      class_name: "Add",
      config: { name: "sum" },
      args: [[kerasTensor("left"), kerasTensor("right")]],
    },
    { class_name: "LSTM", config: { name: "read_cat", units: 2 }, args: [kerasTensor("cat")] },
    { class_name: "LSTM", config: { name: "read_sum", units: 2 }, args: [kerasTensor("sum")] },
    {
      class_name: "Concatenate",
      config: { name: "out" },
      args: [[kerasTensor("read_cat"), kerasTensor("read_sum")]],
    },
  ];
  const spec = { config: functional(layers, ["ids"], "out"), weights: {} };
  await assertInitialized(spec, [new Tensor(data, [4, 7])], 96);
});

/** A Keras 3 tensor reference to output `index` of `layer`'s first call. */
const kerasOutput = (layer: string, index: number) => ({
  class_name: "__keras_tensor__",
  config: { shape: null, dtype: "float32", keras_history: [layer, 0, index] },
});

Deno.test("ONNX export: return_state, initial_state and attention scores (several outputs per call)", async () => {
  const rng = new Rng(101);
  const b = 3;
  // Encoder LSTM's states start the decoder; a masked Bidirectional GRU's states are outputs.
  const layers = [
    { class_name: "InputLayer", config: { name: "enc_in", batch_shape: [null, 6, 3] } },
    { class_name: "InputLayer", config: { name: "dec_in", batch_shape: [null, 5, 2] } },
    { class_name: "InputLayer", config: { name: "ids", batch_shape: [null, 7], dtype: "int32" } },
    {
      class_name: "LSTM",
      config: { name: "enc", units: 4, return_state: true },
      args: [kerasTensor("enc_in")],
    },
    {
      class_name: "LSTM",
      config: { name: "dec", units: 4, return_sequences: true },
      args: [kerasTensor("dec_in")],
      kwargs: { initial_state: [kerasOutput("enc", 1), kerasOutput("enc", 2)] },
    },
    {
      class_name: "Embedding",
      config: { name: "emb", input_dim: 9, output_dim: 4, mask_zero: true },
      args: [kerasTensor("ids")],
    },
    {
      class_name: "Bidirectional",
      config: {
        name: "bi",
        merge_mode: "concat",
        layer: { class_name: "GRU", config: { name: "g", units: 3, return_state: true } },
      },
      args: [kerasTensor("emb")],
    },
    {
      class_name: "MultiHeadAttention",
      config: { name: "mha", num_heads: 2, key_dim: 2 },
      args: [kerasTensor("dec"), kerasTensor("dec")],
      kwargs: { return_attention_scores: true },
    },
  ];
  const config = functional(layers, ["enc_in", "dec_in", "ids"], "dec") as {
    config: Record<string, unknown>;
  };
  config.config.output_layers = [
    ["dec", 0, 0],
    ["bi", 0, 1],
    ["bi", 0, 2],
    ["enc", 0, 2],
    ["mha", 0, 1],
  ];
  const ids = new Int32Array(b * 7);
  [7, 4, 1].forEach((n, i) => {
    for (let t = 0; t < n; t++) ids[i * 7 + t] = 1 + rng.int(0, 8);
  });
  const xs = [
    new Tensor(rng.floats(b * 18, -1, 1), [b, 6, 3]),
    new Tensor(rng.floats(b * 10, -1, 1), [b, 5, 2]),
    new Tensor(ids, [b, 7]),
  ];
  await assertInitialized({ config: config as ModelSpec["config"], weights: {} }, xs, 102);
});

Deno.test("ONNX export: Attention (dot, concat; scale, masks, causal, scores) and AdditiveAttention", async () => {
  const rng = new Rng(111);
  const b = 3;
  const ids = (length: number) => {
    const data = new Int32Array(b * length);
    for (let i = 0; i < b; i++) {
      for (let t = 0; t < 1 + (i * 3) % length; t++) data[i * length + t] = 1 + rng.int(0, 6);
    }
    return new Tensor(data, [b, length]);
  };
  const variants = [
    { class_name: "Attention", config: { use_scale: true }, causal: false },
    { class_name: "Attention", config: { score_mode: "concat", use_scale: true }, causal: true },
    { class_name: "AdditiveAttention", config: {}, causal: false },
    { class_name: "AdditiveAttention", config: { use_scale: false }, causal: true },
  ];
  for (const v of variants) {
    const layers = [
      { class_name: "InputLayer", config: { name: "q", batch_shape: [null, 5], dtype: "int32" } },
      { class_name: "InputLayer", config: { name: "v", batch_shape: [null, 5], dtype: "int32" } },
      {
        class_name: "Embedding",
        config: { name: "qe", input_dim: 7, output_dim: 4, mask_zero: true },
        args: [kerasTensor("q")],
      },
      {
        class_name: "Embedding",
        config: { name: "ve", input_dim: 7, output_dim: 4, mask_zero: true },
        args: [kerasTensor("v")],
      },
      {
        class_name: v.class_name,
        config: { name: "att", ...v.config },
        args: [[kerasTensor("qe"), kerasTensor("ve")]],
        kwargs: { use_causal_mask: v.causal, return_attention_scores: true },
      },
    ];
    const config = functional(layers, ["q", "v"], "att") as { config: Record<string, unknown> };
    config.config.output_layers = [["att", 0, 0], ["att", 0, 1]];
    await assertInitialized(
      { config: config as ModelSpec["config"], weights: {} },
      [ids(5), ids(5)],
      112,
    );
  }
});

Deno.test("ONNX export: Dot (rank 2 and 3, every axis pairing, normalize)", async () => {
  const rng = new Rng(121);
  const cases = [
    { a: [5], b: [5], axes: 1, normalize: false },
    { a: [4, 3], b: [6, 3], axes: [2, 2], normalize: false },
    { a: [4, 3], b: [4, 6], axes: [1, 1], normalize: true },
    { a: [4, 3], b: [3, 2], axes: [2, 1], normalize: false },
  ];
  for (const c of cases) {
    const layers = [
      { class_name: "InputLayer", config: { name: "a", batch_shape: [null, ...c.a] } },
      { class_name: "InputLayer", config: { name: "b", batch_shape: [null, ...c.b] } },
      {
        class_name: "Dot",
        config: { name: "dot", axes: c.axes, normalize: c.normalize },
        args: [[kerasTensor("a"), kerasTensor("b")]],
      },
    ];
    const size = (s: number[]) => s.reduce((p, d) => p * d, 1);
    const xs = [
      new Tensor(rng.floats(2 * size(c.a), -1, 1), [2, ...c.a]),
      new Tensor(rng.floats(2 * size(c.b), -1, 1), [2, ...c.b]),
    ];
    await assertSameAsEngine({ config: functional(layers, ["a", "b"], "dot"), weights: {} }, xs);
  }
});

Deno.test("ONNX export: Resizing (bilinear, nearest, crop_to_aspect_ratio) and CenterCrop", async () => {
  const x = images(new Rng(131), 2, 9, 3);
  const cases = [
    { class_name: "Resizing", config: { height: 5, width: 13 } },
    { class_name: "Resizing", config: { height: 4, width: 6, interpolation: "nearest" } },
    { class_name: "Resizing", config: { height: 18, width: 7, interpolation: "nearest" } },
    { class_name: "Resizing", config: { height: 4, width: 8, crop_to_aspect_ratio: true } },
    { class_name: "CenterCrop", config: { height: 5, width: 4 } },
    { class_name: "CenterCrop", config: { height: 12, width: 6 } },
  ];
  for (const c of cases) {
    const layers = [
      { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 9, 9, 3] } },
      { class_name: c.class_name, config: { name: "resample", ...c.config } },
    ];
    const spec = {
      config: { class_name: "Sequential", config: { name: "r", layers } },
      weights: {},
    };
    await assertSameAsEngine(spec, [x]);
  }
});

Deno.test("ONNX export: ConvLSTM2D unrolled (same / valid, strides, go_backwards, sequences)", async () => {
  const x = new Tensor(new Rng(141).floats(2 * 4 * 6 * 6 * 2, -1, 1), [2, 4, 6, 6, 2]);
  const cases = [
    { filters: 3, kernel_size: 3, padding: "same", return_sequences: true },
    { filters: 2, kernel_size: 3, strides: 2, padding: "valid" },
    { filters: 2, kernel_size: 2, padding: "same", go_backwards: true, return_sequences: true },
    { filters: 2, kernel_size: 3, padding: "same", recurrent_activation: "hard_sigmoid" },
  ];
  for (const config of cases) {
    const layers = [
      { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 4, 6, 6, 2] } },
      { class_name: "ConvLSTM2D", config: { name: "clstm", ...config } },
    ];
    const spec = {
      config: { class_name: "Sequential", config: { name: "c", layers } },
      weights: {},
    };
    await assertInitialized(spec, [x], 142);
  }
});

Deno.test("ONNX export: operation nodes (element-wise with numbers, reductions, activations)", async () => {
  const keras3 = (
    cls: string,
    module: string,
    config: Record<string, unknown>,
    args: unknown[],
  ) => ({
    module,
    class_name: cls,
    config,
    registered_name: cls,
    name: config.name,
    inbound_nodes: [{ args, kwargs: {} }],
  });
  const op = (cls: string, name: string, args: unknown[], config: Record<string, unknown> = {}) =>
    keras3(cls, "keras.src.ops.numpy", { name, ...config }, args);
  const layers = [
    keras3("InputLayer", "keras.layers", { name: "x", batch_shape: [null, 4, 6] }, []),
    keras3("Dense", "keras.layers", { name: "d", units: 5 }, [kerasTensor("x")]),
    op("Add", "plus", [kerasTensor("d"), 1.5]),
    op("Multiply", "times", [kerasTensor("plus"), kerasTensor("d")]),
    op("Subtract", "minus", [2.0, kerasTensor("times")]),
    op("Abs", "abs", [kerasTensor("minus")]),
    op("Sqrt", "root", [kerasTensor("abs")]),
    op("Divide", "ratio", [kerasTensor("root"), 3.0]),
    op("Maximum", "most", [kerasTensor("ratio"), kerasTensor("d")]),
    op("Square", "sq", [kerasTensor("most")]),
    op("Negative", "neg", [kerasTensor("sq")]),
    op("Exp", "e", [kerasTensor("neg")]),
    op("Mean", "mean", [kerasTensor("e")], { axis: [1], keepdims: false }),
    op("Max", "max", [kerasTensor("sq")], { axis: 2, keepdims: true }),
    keras3("Relu", "keras.src.ops.nn", { name: "relu" }, [kerasTensor("max")]),
    op("Sum", "sum", [kerasTensor("relu")], { axis: [1, 2] }),
    keras3("Softmax", "keras.src.ops.nn", { name: "soft", axis: -1 }, [kerasTensor("mean")]),
  ];
  const config = {
    class_name: "Functional",
    config: {
      name: "ops",
      layers,
      input_layers: [["x", 0, 0]],
      output_layers: [["soft", 0, 0], ["sum", 0, 0]],
    },
  };
  const x = new Tensor(new Rng(151).floats(3 * 24, -1, 1), [3, 4, 6]);
  await assertInitialized({ config: config as ModelSpec["config"], weights: {} }, [x], 152);
});

Deno.test("ONNX export: shape and slicing operation nodes (Keras 3 ops and tf.keras TFOpLambda graphs)", async () => {
  const rng = new Rng(161);
  for (const config of [keras3Config(), keras2Config()]) {
    const weights = randomWeights(rng);
    await assertSameAsEngine(
      { config: config as ModelSpec["config"], weights },
      opGraphInputs(rng, 3),
    );
  }
  // Reversed, indexed and new axes; transpose, expand_dims, squeeze, stack.
  const layers = [
    layer3("InputLayer", { name: "x", batch_shape: [null, 4, 5] }, []),
    op3("GetItem", "rev", {}, [kt("x"), [sl(null, null), sl(null, null, -1), sl(1, 4)]]),
    op3("GetItem", "last", {}, [kt("rev"), [
      Object({ class_name: "__ellipsis__", config: {} }),
      -1,
    ]]),
    op3("GetItem", "newaxis", {}, [kt("last"), [sl(null, null), null, sl(null, null, 2)]]),
    op3("Transpose", "swap", { axes: [0, 2, 1] }, [kt("newaxis")]),
    op3("Squeeze", "squeeze", { axis: -1 }, [kt("swap")]),
    op3("ExpandDims", "expand", { axis: 1 }, [kt("squeeze")]),
    op3("Stack", "stack", { axis: 2 }, [[kt("expand"), kt("expand")]]),
  ];
  const graph = {
    class_name: "Functional",
    config: { name: "g", layers, input_layers: [["x", 0, 0]], output_layers: [["stack", 0, 0]] },
  };
  const x = new Tensor(rng.floats(2 * 20, -1, 1), [2, 4, 5]);
  await assertSameAsEngine({ config: graph as ModelSpec["config"], weights: {} }, [x]);
});
