import {
  buildModel,
  LayerConfigError,
  type ModelSpec,
  Tensor,
  UnsupportedLayerError,
} from "../../mod.ts";
import { Rng } from "../../testing/random.ts";
import { assertClose, expectThrows } from "../../testing/assert.ts";
import { compareWithFiniteDifferences, randomWeights } from "../../testing/gradient_check.ts";
import { multiHeadAttentionReference } from "./multi_head_attention.ts";
import { keras3Functional as functional, kerasTensor as kt } from "../../testing/keras3_nodes.ts";

const E = Math.E;

Deno.test("MultiHeadAttention: a 2-head, 3-token attention written out by hand (plain and causal)", () => {
  // d_model 2, 2 heads of key_dim = value_dim = 1; every projection picks one feature per head
  // (kernel = identity), biases 0. Tokens [1,0], [0,1], [1,1]: head 0 sees q = k = v = [1,0,1],
  // head 1 sees [0,1,1]; scores are q_i·k_j (÷√1).
  const eye = Float32Array.of(1, 0, 0, 1);
  const zeros2 = new Float32Array(2);
  const weights = [
    { name: "query/kernel", shape: [2, 2, 1], data: eye },
    { name: "query/bias", shape: [2, 1], data: zeros2 },
    { name: "key/kernel", shape: [2, 2, 1], data: eye },
    { name: "key/bias", shape: [2, 1], data: zeros2 },
    { name: "value/kernel", shape: [2, 2, 1], data: eye },
    { name: "value/bias", shape: [2, 1], data: zeros2 },
    { name: "attention_output/kernel", shape: [2, 1, 2], data: eye },
    { name: "attention_output/bias", shape: [2], data: zeros2 },
  ];
  const x = new Tensor(Float32Array.of(1, 0, 0, 1, 1, 1), [1, 3, 2]);
  const a = 2 * E / (2 * E + 1);
  const cases: [boolean, number[]][] = [
    // Head 0, token 0: scores [1, 0, 1] → weights (e, 1, e)/(2e+1) over v = [1, 0, 1] → 2e/(2e+1);
    // token 1: scores [0, 0, 0] → 2/3. Head 1 mirrors it.
    [false, [a, 2 / 3, 2 / 3, a, a, a]],
    // Causal: token 0 sees only itself (head 0: v0 = 1, head 1: v0 = 0); token 1 sees tokens
    // 0 and 1 (head 0 scores [0, 0] → 1/2; head 1 scores [0, 1] → e/(1+e)); token 2 as above.
    [true, [1, 0, 0.5, E / (1 + E), a, a]],
  ];
  for (const [causal, want] of cases) {
    const config = functional(
      [
        { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 3, 2] } },
        {
          class_name: "MultiHeadAttention",
          config: { name: "mha", num_heads: 2, key_dim: 1 },
          args: [kt("x"), kt("x")],
          kwargs: causal ? { use_causal_mask: true } : {},
        },
      ],
      ["x"],
      "mha",
    );
    const model = buildModel({ config, weights: { mha: weights } });
    assertClose(model.predict(x).data, want, 1e-6, `hand-computed, causal ${causal}`);
    model.dispose();
  }
});

/** Cross attention with a key, masks from Embedding, an attention_mask input and causal. */
function crossSpec(rng: Rng, opts: { causal: boolean; key: boolean; dropout?: number }): ModelSpec {
  const layers = [
    { class_name: "InputLayer", config: { name: "q_ids", batch_shape: [null, 4], dtype: "int32" } },
    { class_name: "InputLayer", config: { name: "v_ids", batch_shape: [null, 5], dtype: "int32" } },
    { class_name: "InputLayer", config: { name: "k_in", batch_shape: [null, 5, 3] } },
    { class_name: "InputLayer", config: { name: "am", batch_shape: [null, 4, 5] } },
    {
      class_name: "Embedding",
      config: { name: "qe", input_dim: 7, output_dim: 6, mask_zero: true },
      args: [kt("q_ids")],
    },
    {
      class_name: "Embedding",
      config: { name: "ve", input_dim: 7, output_dim: 5, mask_zero: true },
      args: [kt("v_ids")],
    },
    {
      class_name: "MultiHeadAttention",
      config: {
        name: "mha",
        num_heads: 3,
        key_dim: 2,
        value_dim: 3,
        output_shape: 4,
        dropout: opts.dropout ?? 0,
      },
      args: [kt("qe"), kt("ve")],
      kwargs: {
        ...(opts.key ? { key: kt("k_in") } : {}),
        attention_mask: kt("am"),
        use_causal_mask: opts.causal,
      },
    },
  ];
  const config = functional(layers, ["q_ids", "v_ids", "k_in", "am"], "mha");
  const weights = randomWeights(config, rng, -0.7, 0.7);
  return { config, weights, kerasVersion: "3.10.0" };
}

Deno.test("MultiHeadAttention vs the TypeScript reference: key, value_dim, output_shape, Embedding masks, attention_mask, causal", () => {
  const rng = new Rng(1710);
  let worst = 0;
  for (const causal of [false, true]) {
    for (const useKey of [false, true]) {
      const spec = crossSpec(rng, { causal, key: useKey });
      const model = buildModel(spec);
      for (const b of [1, 17]) {
        const qIds = Int32Array.from(
          { length: b * 4 },
          (_, i) => (i % 4 === 3 ? 0 : rng.int(1, 7)),
        );
        const vIds = Int32Array.from({ length: b * 5 }, (_, i) => (i % 5 >= 3 ? 0 : rng.int(1, 7)));
        const kIn = rng.floats(b * 15, -1, 1);
        const am = Float32Array.from({ length: b * 20 }, () => (rng.int(0, 5) ? 1 : 0));
        const got = model.predictMany([
          new Tensor(qIds, [b, 4]),
          new Tensor(vIds, [b, 5]),
          new Tensor(kIn, [b, 5, 3]),
          new Tensor(am, [b, 4, 5]),
        ])[0].data;
        const qe = spec.weights.qe[0].data, ve = spec.weights.ve[0].data;
        const query = Float32Array.from(
          { length: b * 24 },
          (_, i) => qe[qIds[Math.floor(i / 6)] * 6 + (i % 6)],
        );
        const value = Float32Array.from(
          { length: b * 25 },
          (_, i) => ve[vIds[Math.floor(i / 5)] * 5 + (i % 5)],
        );
        const allowed = new Uint8Array(b * 20);
        for (let bi = 0; bi < b; bi++) {
          for (let t = 0; t < 4; t++) {
            for (let s = 0; s < 5; s++) {
              allowed[(bi * 4 + t) * 5 + s] = Number(
                qIds[bi * 4 + t] !== 0 && vIds[bi * 5 + s] !== 0 &&
                  am[(bi * 4 + t) * 5 + s] !== 0 &&
                  (!causal || s <= t),
              );
            }
          }
        }
        const ref = multiHeadAttentionReference({
          query,
          value,
          key: useKey ? kIn : undefined,
          batch: b,
          t: 4,
          s: 5,
          dq: 6,
          dv: 5,
          dk: useKey ? 3 : 5,
          numHeads: 3,
          keyDim: 2,
          valueDim: 3,
          outDim: 4,
          weights: spec.weights.mha.map((w) => w.data),
          useBias: true,
          allowed,
        }).output;
        assertClose(got, ref, 1e-5, `causal ${causal} key ${useKey} batch ${b}`);
        for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]));
      }
      model.dispose();
    }
  }
  console.log(`MultiHeadAttention vs reference: max |Δ| ${worst.toExponential(2)}`);
});

Deno.test("MultiHeadAttention gradients (every weight, through the inputs, with dropout) vs finite differences", () => {
  const rng = new Rng(1711);
  let worst = 0;
  for (
    const [useBias, causal, dropout] of [[true, false, 0], [false, true, 0], [
      true,
      false,
      0.3,
    ]] as const
  ) {
    const config = functional(
      [
        { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 3, 4] } },
        {
          class_name: "Dense",
          config: { name: "pre", units: 5, activation: "tanh" },
          args: [kt("x")],
        },
        {
          class_name: "MultiHeadAttention",
          config: {
            name: "mha",
            num_heads: 2,
            key_dim: 3,
            value_dim: 2,
            use_bias: useBias,
            dropout,
          },
          args: [kt("pre"), kt("pre")],
          kwargs: { use_causal_mask: causal },
        },
        { class_name: "Flatten", config: { name: "f" }, args: [kt("mha")] },
        {
          class_name: "Dense",
          config: { name: "out", units: 3, activation: "softmax" },
          args: [kt("f")],
        },
      ],
      ["x"],
      "out",
    );
    const weights = randomWeights(config, rng, -0.8, 0.8);
    for (const b of [1, 17]) {
      const x = rng.floats(b * 12, -1.5, 1.5);
      const y = Float32Array.from({ length: b }, () => rng.int(0, 3));
      worst = Math.max(
        worst,
        compareWithFiniteDifferences({ config, weights, kerasVersion: "3.10.0" }, x, [b, 3, 4], y, {
          name: "sparse_categorical_crossentropy",
        }, { samples: 8, h: 1e-2 }),
      );
    }
  }
  console.log(
    `MultiHeadAttention gradients vs finite differences: worst ${worst.toExponential(2)}`,
  );
});

Deno.test("MultiHeadAttention refuses attention_axes and unknown call tensors by name", () => {
  const cfg = (kwargs: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    functional(
      [
        { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 3, 4] } },
        {
          class_name: "MultiHeadAttention",
          config: { name: "attn", num_heads: 2, key_dim: 2, ...extra },
          args: [kt("x"), kt("x")],
          kwargs,
        },
      ],
      ["x"],
      "attn",
    );
  expectThrows(
    () => buildModel({ config: cfg({}, { attention_axes: [1, 2] }), weights: {} }),
    UnsupportedLayerError,
    "attn",
    "attention_axes",
  );
  expectThrows(
    () => buildModel({ config: cfg({ bias: kt("x") }), weights: {} }),
    LayerConfigError,
    "attn",
    "bias",
  );
});

Deno.test("MultiHeadAttention return_attention_scores: a second output equal to the reference's probabilities; gradients through both outputs vs finite differences", () => {
  const rng = new Rng(1717);
  const layers = (head: boolean) => [
    { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 3, 4] } },
    {
      class_name: "MultiHeadAttention",
      config: { name: "mha", num_heads: 2, key_dim: 3, value_dim: 2 },
      args: [kt("x"), kt("x")],
      kwargs: { return_attention_scores: true, use_causal_mask: true },
    },
    ...(head
      ? [
        { class_name: "Flatten", config: { name: "f_out" }, args: [kt("mha", 0)] },
        { class_name: "Flatten", config: { name: "f_scores" }, args: [kt("mha", 1)] },
        {
          class_name: "Concatenate",
          config: { name: "cat" },
          args: [[kt("f_out"), kt("f_scores")]],
        },
        {
          class_name: "Dense",
          config: { name: "out", units: 3, activation: "softmax" },
          args: [kt("cat")],
        },
      ]
      : []),
  ];
  // Inference: both outputs, against the reference (causal mask).
  const config = functional(layers(false), ["x"], "mha");
  (config.config as Record<string, unknown>).output_layers = [["mha", 0, 0], ["mha", 0, 1]];
  const probe = buildModel({ config, weights: {}, kerasVersion: "3.10.0" }, {
    initialize: { seed: 3 },
  });
  const weights = probe.getLayer("mha").getWeights().map((w) => ({
    ...w,
    data: rng.floats(w.data.length, -0.8, 0.8),
  }));
  probe.dispose();
  const model = buildModel({ config, weights: { mha: weights }, kerasVersion: "3.10.0" });
  try {
    if (model.outputShapes[1].join() !== "2,3,3") {
      throw new Error(`scores shape ${model.outputShapes[1]}`);
    }
    for (const b of [1, 5]) {
      const x = rng.floats(b * 12, -1.5, 1.5);
      const [out, scores] = model.predictMany([new Tensor(x, [b, 3, 4])]);
      const allowed = new Uint8Array(b * 9);
      for (let i = 0; i < b; i++) {
        for (let t = 0; t < 3; t++) for (let s = 0; s <= t; s++) allowed[i * 9 + t * 3 + s] = 1;
      }
      const ref = multiHeadAttentionReference({
        query: x,
        value: x,
        batch: b,
        t: 3,
        s: 3,
        dq: 4,
        dv: 4,
        numHeads: 2,
        keyDim: 3,
        valueDim: 2,
        outDim: 4,
        weights: weights.map((w) => w.data),
        useBias: true,
        allowed,
      });
      assertClose(out.data, ref.output, 1e-5, `output batch ${b}`);
      assertClose(scores.data, ref.probs, 1e-5, `scores batch ${b}`);
    }
  } finally {
    model.dispose();
  }
  // Training: the loss reads both outputs, so the scores' gradient joins the softmax backward.
  const trainConfig = functional(layers(true), ["x"], "out");
  const all = randomWeights(trainConfig, rng, -0.8, 0.8, "3.10.0");
  const worst = compareWithFiniteDifferences(
    { config: trainConfig, weights: all, kerasVersion: "3.10.0" },
    rng.floats(4 * 12, -1.5, 1.5),
    [4, 3, 4],
    Float32Array.from([0, 1, 2, 1]),
    { name: "sparse_categorical_crossentropy" },
    { samples: 8, h: 1e-2 },
  );
  console.log(
    `MultiHeadAttention with scores: gradients vs finite differences, worst ${
      worst.toExponential(2)
    }`,
  );
});
