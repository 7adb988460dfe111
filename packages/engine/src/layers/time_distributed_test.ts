import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  buildModel,
  InputShapeError,
  type KerasObject,
  LayerConfigError,
  Tensor,
  UnsupportedLayerError,
  UntrainableLayerError,
} from "../../mod.ts";
import { expectThrows } from "../../testing/assert.ts";
import { compareWithTfjs, randomSpec, relativeError } from "../../testing/gradient_check.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import {
  tf,
  TFJS_LAYER_BUILDERS,
  tfjsModelFromSpec,
  tfjsPredict,
  tfReady,
} from "../../testing/tfjs_reference.ts";
import { layerVarGroups, layerWeightNames } from "../registry.ts";

// TimeDistributed vs TF.js `tf.layers.timeDistributed` around the same inner layer and weights:
// forward ≤ 1e-5 absolute, every weight gradient ≤ 1e-4 relative (`compareWithTfjs`), batch 1
// and 17. The TF.js builder for the wrapper is registered here, next to the only tests using it.

TFJS_LAYER_BUILDERS.set("TimeDistributed", (c, base, kerasVersion, options) => {
  const inner = c.layer as { class_name: string; config: Record<string, unknown> };
  const build = TFJS_LAYER_BUILDERS.get(inner.class_name);
  if (!build) throw new Error(`tfjs reference: no builder for ${inner.class_name}`);
  return tf.layers.timeDistributed({
    ...base,
    // deno-lint-ignore no-explicit-any
    layer: build(inner.config, {}, kerasVersion, options) as any,
  });
});

function td(name: string, className: string, config: Record<string, unknown>): KerasObject {
  return {
    class_name: "TimeDistributed",
    config: { name, layer: { class_name: className, config } },
  };
}

const CCE = { name: "categorical_crossentropy" as const };
const SCE = { name: "sparse_categorical_crossentropy" as const };

/** Forward vs TF.js and gradients vs TF.js for batches 1 and 17; returns the worst errors. */
function check(
  rng: Rng,
  layers: KerasObject[],
  stepShape: number[],
  targets: (batch: number) => Float32Array,
  loss: typeof CCE | typeof SCE,
): { forward: number; grad: number } {
  const spec = randomSpec(layers, stepShape, rng);
  const engine = buildModel(spec);
  const ref = tfjsModelFromSpec(spec);
  let forward = 0, grad = 0;
  try {
    for (const batch of [1, 17]) {
      const shape = [batch, ...stepShape];
      const x = rng.floats(shape.reduce((a, b) => a * b, 1), -1, 1);
      const mine = engine.predict(new Tensor(x, shape));
      const theirs = tfjsPredict(ref, x, shape);
      assertEquals(mine.data.length, theirs.length);
      forward = Math.max(forward, maxAbsDiff(mine.data, theirs));
      grad = Math.max(grad, compareWithTfjs(spec, x, shape, targets(batch), { loss }));
    }
  } finally {
    engine.dispose();
    ref.dispose();
  }
  assert(forward <= 1e-5, `forward differs from TF.js by ${forward}`);
  return { forward, grad };
}

Deno.test("TimeDistributed(Dense) matches TF.js forward and gradients (per-timestep softmax output)", async () => {
  await tfReady();
  const rng = new Rng(1701);
  const T = 5, F = 6, H = 7, C = 3;
  const oneHot = (batch: number) => {
    const y = new Float32Array(batch * T * C);
    for (let i = 0; i < batch * T; i++) y[i * C + rng.int(0, C)] = 1;
    return y;
  };
  const r = check(
    rng,
    [
      td("td_hidden", "Dense", { name: "hidden", units: H, activation: "tanh" }),
      td("td_probs", "Dense", { name: "probs", units: C, activation: "softmax" }),
    ],
    [T, F],
    oneHot,
    CCE,
  );
  console.log(
    `TimeDistributed(Dense): forward ${r.forward.toExponential(2)}, gradients ${
      r.grad.toExponential(2)
    } relative`,
  );
});

Deno.test("TimeDistributed(Conv2D) → pooling → Flatten → LSTM video classifier matches TF.js", async () => {
  await tfReady();
  const rng = new Rng(1702);
  const T = 3, H = 7, W = 6, CH = 2, C = 4;
  const labels = (batch: number) => Float32Array.from({ length: batch }, () => rng.int(0, C));
  const r = check(
    rng,
    [
      td("td_conv", "Conv2D", {
        name: "conv",
        filters: 3,
        kernel_size: [3, 2],
        padding: "valid",
        activation: "relu",
      }),
      td("td_pool", "MaxPooling2D", { name: "pool", pool_size: [2, 2] }),
      td("td_flat", "Flatten", { name: "flat" }),
      { class_name: "LSTM", config: { name: "rnn", units: 5 } },
      { class_name: "Dense", config: { name: "head", units: C, activation: "softmax" } },
    ],
    [T, H, W, CH],
    labels,
    SCE,
  );
  const conv = check(
    rng,
    [
      td("td_conv", "Conv2D", {
        name: "conv",
        filters: 4,
        kernel_size: 3,
        padding: "same",
        strides: 2,
      }),
      { class_name: "Flatten", config: { name: "flat" } },
      { class_name: "Dense", config: { name: "head", units: C, activation: "softmax" } },
    ],
    [T, H, W, CH],
    labels,
    SCE,
  );
  console.log(
    `TimeDistributed(Conv2D) stacks: forward ${
      Math.max(r.forward, conv.forward).toExponential(2)
    }, gradients ${Math.max(r.grad, conv.grad).toExponential(2)} relative`,
  );
});

Deno.test("TimeDistributed weights, .keras layout, shapes and mask", () => {
  const dense = { class_name: "Dense", config: { name: "proj", units: 4 } };
  assertEquals(layerWeightNames("TimeDistributed", { name: "td", layer: dense }), [
    "kernel",
    "bias",
  ]);
  assertEquals(layerVarGroups("TimeDistributed", { name: "td", layer: dense }), [
    { path: "vars", start: 0, count: 0 },
    { path: "layer/vars", start: 0, count: 2, objectName: "proj" },
  ]);
  const rng = new Rng(1703);
  const spec = randomSpec([td("td", "Dense", dense.config)], [3, 5], rng);
  const model = buildModel(spec);
  try {
    const layer = model.getLayer("td");
    assertEquals(layer.outputShape, [3, 4]);
    assertEquals(layer.countParams(), 5 * 4 + 4);
    // Every timestep runs the same Dense: row (b, t) of the output is x[b, t] · W + b.
    const x = rng.floats(2 * 3 * 5, -1, 1);
    const y = model.predict(new Tensor(x, [2, 3, 5]));
    assertEquals(y.shape, [2, 3, 4]);
    const [k, b] = spec.weights.td;
    const ref = new Float32Array(2 * 3 * 4);
    for (let r = 0; r < 6; r++) {
      for (let j = 0; j < 4; j++) {
        let s = b.data[j];
        for (let i = 0; i < 5; i++) s += x[r * 5 + i] * k.data[i * 4 + j];
        ref[r * 4 + j] = s;
      }
    }
    assert(relativeError(y.data, ref) < 1e-6);
    // setWeights reaches the wrapped layer.
    model.setWeights(model.getWeights().map((w) => ({ ...w, data: w.data.map(() => 0) })));
    assert(model.predict(new Tensor(x, [2, 3, 5])).data.every((v) => v === 0));
  } finally {
    model.dispose();
  }
});

Deno.test("TimeDistributed passes an Embedding mask on to a masked LSTM", () => {
  const rng = new Rng(1704);
  const layers: KerasObject[] = [
    {
      class_name: "Embedding",
      config: { name: "emb", input_dim: 9, output_dim: 4, mask_zero: true },
    },
    td("td", "Dense", { name: "proj", units: 3, activation: "relu" }),
    { class_name: "LSTM", config: { name: "rnn", units: 2 } },
  ];
  const spec = randomSpec(layers, [null], rng, { inputDtype: "int32" });
  const model = buildModel(spec);
  try {
    // Trailing padding is skipped by the LSTM only when the mask reaches it through
    // TimeDistributed: the padded sequence gives the unpadded one's output.
    const ids = (v: number[]) => new Tensor(Int32Array.from(v), [1, v.length]);
    const padded = model.predict(ids([3, 1, 4, 0, 0])).data;
    const other = model.predict(ids([3, 1, 4, 7, 8])).data;
    const short = model.predict(ids([3, 1, 4])).data;
    assert(maxAbsDiff(padded, other) > 1e-4, "unmasked steps change the output");
    const d = maxAbsDiff(padded, short);
    assert(d < 1e-6, `masked run differs from the unpadded one by ${d}`);
  } finally {
    model.dispose();
  }
});

Deno.test("TimeDistributed refuses bad configs and inputs by name", () => {
  const wrap = (layer: unknown, shape: number[]) => ({
    config: {
      class_name: "Sequential",
      config: {
        name: "m",
        layers: [
          { class_name: "InputLayer", config: { name: "in", batch_shape: [null, ...shape] } },
          { class_name: "TimeDistributed", config: { name: "td", layer } },
        ],
      },
    },
    weights: {},
  });
  expectThrows(
    () => buildModel(wrap("dense", [3, 4]), { initialize: { seed: 1 } }),
    LayerConfigError,
    "td",
    "layer",
    "{class_name, config}",
  );
  expectThrows(
    () =>
      buildModel(wrap({ class_name: "Lambda", config: { name: "f" } }, [3, 4]), {
        initialize: { seed: 1 },
      }),
    UnsupportedLayerError,
    "Lambda",
  );
  expectThrows(
    () =>
      buildModel(wrap({ class_name: "Dense", config: { name: "d", units: 2 } }, [4]), {
        initialize: { seed: 1 },
      }),
    InputShapeError,
    "td",
    "rank ≥ 3",
  );
});

Deno.test("TimeDistributed(BatchNormalization) predicts with moving statistics and refuses batch-statistics training", () => {
  const rng = new Rng(1705);
  const spec = randomSpec([td("td_bn", "BatchNormalization", { name: "bn" })], [3, 4], rng);
  // Positive variances for the moving statistics.
  spec.weights.td_bn[3] = {
    ...spec.weights.td_bn[3],
    data: spec.weights.td_bn[3].data.map((v) => 1 + Math.abs(v)),
  };
  const model = buildModel(spec);
  try {
    const x = rng.floats(2 * 3 * 4, -1, 1);
    const y = model.predict(new Tensor(x, [2, 3, 4])).data;
    const [gamma, beta, mean, variance] = spec.weights.td_bn.map((w) => w.data);
    const ref = x.map((v, i) => {
      const c = i % 4;
      return (v - mean[c]) / Math.sqrt(variance[c] + 1e-3) * gamma[c] + beta[c];
    });
    assert(maxAbsDiff(y, ref) < 1e-5);
    model.compile({ optimizer: "sgd", loss: "mse" });
    expectThrows(
      () => model.trainOnBatch(new Tensor(x, [2, 3, 4]), new Tensor(x, [2, 3, 4])),
      UntrainableLayerError,
      "td_bn/bn",
      "per timestep",
    );
  } finally {
    model.dispose();
  }
});
