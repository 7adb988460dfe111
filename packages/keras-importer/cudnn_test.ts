/**
 * Keras 2 CuDNNLSTM / CuDNNGRU in a hand-written legacy `.h5`: the CuDNN weights are made from
 * known LSTM / GRU weights by the inverse of Keras's conversion, and the loaded model (LSTM /
 * GRU(reset_after=True)) must predict exactly what the plain layers with the known weights do.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { buildModel, type KerasObject, Tensor, type WeightTensor } from "../engine/mod.ts";
import { cudnnToPlainWeights } from "./cudnn.ts";
import { WeightMismatchError } from "./errors.ts";
import { ensureGroup, h5Group, putDataset, writeHdf5 } from "./hdf5_write.ts";
import { loadModel, loadModelSpec } from "./mod.ts";

/** A small deterministic stream of floats in [-0.6, 0.6). */
function floats(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 4294967296 - 0.5) * 1.2;
  });
}

/**
 * Known plain weights → CuDNN weights (the inverse of Keras's loader): each gate's kernel block
 * stored as its transpose's row-major values, recurrent blocks transposed, the bias split into
 * an input half and a recurrent half. Returns the CuDNN triple and the plain triple it loads as
 * (the LSTM bias is the float32 sum of the halves, as the loader computes it).
 */
function cudnnPair(
  cls: "CuDNNLSTM" | "CuDNNGRU",
  input: number,
  units: number,
  seed: number,
): { cudnn: WeightTensor[]; plain: WeightTensor[] } {
  const gates = cls === "CuDNNLSTM" ? 4 : 3;
  const width = gates * units;
  const k = floats(input * width, seed);
  const r = floats(units * width, seed + 1);
  const ck = new Float32Array(k.length), cr = new Float32Array(r.length);
  for (let g = 0; g < gates; g++) {
    const col = g * units;
    for (let i = 0; i < input; i++) {
      for (let u = 0; u < units; u++) {
        const n = i + input * u; // column-major position of (i, u) in the block
        ck[Math.floor(n / units) * width + col + (n % units)] = k[i * width + col + u];
      }
    }
    for (let a = 0; a < units; a++) {
      for (let b = 0; b < units; b++) cr[b * width + col + a] = r[a * width + col + b];
    }
  }
  const halves = floats(2 * width, seed + 2);
  const plainBias = cls === "CuDNNLSTM"
    ? Float32Array.from({ length: width }, (_, j) => halves[j] + halves[width + j])
    : halves.slice();
  return {
    cudnn: [
      { name: "kernel", shape: [input, width], data: ck },
      { name: "recurrent_kernel", shape: [units, width], data: cr },
      { name: "bias", shape: [2 * width], data: halves },
    ],
    plain: [
      { name: "kernel", shape: [input, width], data: k },
      { name: "recurrent_kernel", shape: [units, width], data: r },
      { name: "bias", shape: cls === "CuDNNLSTM" ? [width] : [2, width], data: plainBias },
    ],
  };
}

const T = 6, F = 3;

/** Keras 2 Sequential config: CuDNNLSTM(seq) → Bidirectional(CuDNNGRU) → Dense softmax. */
function config(lstm: string, gru: string, extra: Record<string, unknown> = {}): KerasObject {
  return {
    class_name: "Sequential",
    config: {
      name: "sequential",
      layers: [
        {
          class_name: lstm,
          config: {
            name: "cu_dnnlstm",
            batch_input_shape: [null, T, F],
            units: 5,
            return_sequences: true,
            unit_forget_bias: true,
            ...(lstm === "LSTM" ? { activation: "tanh", recurrent_activation: "sigmoid" } : {}),
          },
        },
        {
          class_name: "Bidirectional",
          config: {
            name: "bidirectional",
            merge_mode: "concat",
            layer: {
              class_name: gru,
              config: {
                name: "cu_dnngru",
                units: 4,
                ...(gru === "GRU" ? { reset_after: true, recurrent_activation: "sigmoid" } : {}),
                ...extra,
              },
            },
          },
        },
        { class_name: "Dense", config: { name: "dense", units: 3, activation: "softmax" } },
      ],
    },
  };
}

/** A Keras 2 `model.save("x.h5")` file with the given config and per-layer weights. */
async function legacyH5(
  model: KerasObject,
  layers: { name: string; weights: { path: string; tensor: WeightTensor }[] }[],
): Promise<Uint8Array> {
  const root = h5Group({
    backend: "tensorflow",
    keras_version: "2.2.4",
    model_config: JSON.stringify(model),
  });
  const mw = ensureGroup(root, "model_weights");
  mw.attrs = {
    backend: "tensorflow",
    keras_version: "2.2.4",
    layer_names: { strings: layers.map((l) => l.name) },
  };
  for (const l of layers) {
    const g = ensureGroup(mw, l.name);
    g.attrs = { weight_names: { strings: l.weights.map((w) => w.path) } };
    for (const w of l.weights) putDataset(g, w.path, w.tensor.shape, w.tensor.data);
  }
  return await writeHdf5(root);
}

const named = (prefix: string, ws: WeightTensor[]) =>
  ws.map((tensor) => ({ path: `${prefix}/${tensor.name}:0`, tensor }));

Deno.test("CuDNNLSTM / Bidirectional(CuDNNGRU) in a Keras 2 .h5 load as LSTM / GRU(reset_after) and predict like them", async () => {
  const lstm = cudnnPair("CuDNNLSTM", F, 5, 11);
  const fwd = cudnnPair("CuDNNGRU", 5, 4, 21);
  const bwd = cudnnPair("CuDNNGRU", 5, 4, 31);
  const dense: WeightTensor[] = [
    { name: "kernel", shape: [8, 3], data: floats(24, 41) },
    { name: "bias", shape: [3], data: floats(3, 42) },
  ];
  const bytes = await legacyH5(config("CuDNNLSTM", "CuDNNGRU"), [
    { name: "cu_dnnlstm", weights: named("cu_dnnlstm", lstm.cudnn) },
    {
      name: "bidirectional",
      weights: [
        ...named("bidirectional/forward_cu_dnngru", fwd.cudnn),
        ...named("bidirectional/backward_cu_dnngru", bwd.cudnn),
      ],
    },
    { name: "dense", weights: named("dense", dense) },
  ]);

  const spec = await loadModelSpec(bytes);
  const layers = (spec.config.config as { layers: KerasObject[] }).layers;
  assertEquals(layers[0].class_name, "LSTM");
  const inner = layers[1].config.layer as KerasObject;
  assertEquals([inner.class_name, inner.config.reset_after], ["GRU", true]);
  assertEquals(spec.weights.bidirectional.map((w) => w.shape), [
    [5, 12],
    [4, 12],
    [2, 12],
    [5, 12],
    [4, 12],
    [2, 12],
  ]);

  const plain = buildModel({
    config: config("LSTM", "GRU"),
    weights: {
      cu_dnnlstm: lstm.plain,
      bidirectional: [...fwd.plain, ...bwd.plain],
      dense,
    },
  });
  const { model } = await loadModel(bytes);
  for (const batch of [1, 5]) {
    const x = new Tensor(floats(batch * T * F, 50 + batch), [batch, T, F]);
    const want = plain.predict(x).data;
    const got = model!.predict(x).data;
    assertEquals([...got], [...want]);
  }
  // The plain weights differ from the stored CuDNN arrays (the conversion did something).
  assert(lstm.cudnn[0].data.some((v, i) => v !== lstm.plain[0].data[i]));
  plain.dispose();
  model!.dispose();
});

Deno.test("CuDNN kernel blocks: hand-computed 3×2 block, transposed recurrent blocks, summed LSTM bias", () => {
  // One LSTM with input 3, units 2: gate g's stored kernel block is [[a,c],[e,b],[d,f]] + 10g
  // for the Keras block [[a,b],[c,d],[e,f]] = [[1,2],[3,4],[5,6]] + 10g.
  const stored = [[1, 3], [5, 2], [4, 6]];
  const kernel = new Float32Array(3 * 8);
  for (let g = 0; g < 4; g++) {
    for (let i = 0; i < 3; i++) {
      for (let u = 0; u < 2; u++) kernel[i * 8 + g * 2 + u] = stored[i][u] + 10 * g;
    }
  }
  const recurrent = Float32Array.from({ length: 16 }, (_, n) => n);
  const bias = Float32Array.from({ length: 16 }, (_, n) => (n < 8 ? n : 100 * (n - 8)));
  const [k, r, b] = cudnnToPlainWeights(
    "CuDNNLSTM",
    [
      { name: "kernel", shape: [3, 8], data: kernel },
      { name: "recurrent_kernel", shape: [2, 8], data: recurrent },
      { name: "bias", shape: [16], data: bias },
    ],
    "lstm",
    "test.h5",
  );
  const row = (i: number) => [...k.data.slice(i * 8, i * 8 + 8)];
  assertEquals(row(0), [1, 2, 11, 12, 21, 22, 31, 32]);
  assertEquals(row(1), [3, 4, 13, 14, 23, 24, 33, 34]);
  assertEquals(row(2), [5, 6, 15, 16, 25, 26, 35, 36]);
  // Recurrent [2, 8]: row 0 = 0..7, row 1 = 8..15; each 2×2 gate block transposed.
  assertEquals([...r.data], [0, 8, 2, 10, 4, 12, 6, 14, 1, 9, 3, 11, 5, 13, 7, 15]);
  assertEquals([...b.data], [0, 101, 202, 303, 404, 505, 606, 707]);
  assertEquals(b.shape, [8]);
});

Deno.test("CuDNN weights of the wrong shape are refused naming the layer, expected and received", async () => {
  const lstm = cudnnPair("CuDNNLSTM", F, 5, 61);
  const bad = [...lstm.cudnn.slice(0, 2), lstm.plain[2]]; // a plain [20] bias, not [40]
  const bytes = await legacyH5(
    {
      class_name: "Sequential",
      config: {
        name: "sequential",
        layers: [{
          class_name: "CuDNNLSTM",
          config: { name: "cu_dnnlstm", batch_input_shape: [null, T, F], units: 5 },
        }],
      },
    },
    [{ name: "cu_dnnlstm", weights: named("cu_dnnlstm", bad) }],
  );
  let error: unknown;
  try {
    await loadModelSpec(bytes);
  } catch (e) {
    error = e;
  }
  assert(error instanceof WeightMismatchError, `expected WeightMismatchError, got ${error}`);
  assert(
    /cu_dnnlstm/.test(error.message) && /\[40\]/.test(error.message) &&
      /\[20\]/.test(error.message),
    error.message,
  );
});
