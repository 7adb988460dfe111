import { buildModel, Tensor } from "../../mod.ts";
import { Rng } from "../../testing/random.ts";
import { keras3Functional as functional, kerasTensor as kt } from "../../testing/keras3_nodes.ts";
import { assertClose, expectThrows } from "../../testing/assert.ts";
import { compareWithFiniteDifferences, randomWeights } from "../../testing/gradient_check.ts";

const E = Math.E;

Deno.test("Attention (dot): a 2-query, 3-key case written out by hand, with and without the value's mask", () => {
  // query [1,0], [0,1]; value = key = [1,0], [0,1], [1,1]. Scores q·k: row 0 [1, 0, 1], row 1
  // [0, 1, 1]; the value mask [1, 1, 0] (ids 5, 6, 0 with mask_zero) drops the third key.
  const eye3 = { name: "embeddings", shape: [7, 2], data: new Float32Array(14) };
  eye3.data.set([1, 0], 5 * 2);
  eye3.data.set([0, 1], 6 * 2);
  eye3.data.set([1, 1], 3 * 2);
  for (const masked of [false, true]) {
    const config = functional(
      [
        { class_name: "InputLayer", config: { name: "q", batch_shape: [null, 2, 2] } },
        {
          class_name: "InputLayer",
          config: { name: "ids", batch_shape: [null, 3], dtype: "int32" },
        },
        {
          class_name: "Embedding",
          config: { name: "emb", input_dim: 7, output_dim: 2, mask_zero: true },
          args: [kt("ids")],
        },
        { class_name: "Attention", config: { name: "att" }, args: [[kt("q"), kt("emb")]] },
      ],
      ["q", "ids"],
      "att",
    );
    const model = buildModel({ config, weights: { emb: [eye3] } });
    const ids = masked ? Int32Array.of(5, 6, 0) : Int32Array.of(5, 6, 3);
    const got = model.predictMany([
      new Tensor(Float32Array.of(1, 0, 0, 1), [1, 2, 2]),
      new Tensor(ids, [1, 3]),
    ])[0]
      .data;
    const a = 2 * E + 1;
    const want = masked
      ? [E / (E + 1), 1 / (E + 1), 1 / (1 + E), E / (1 + E)]
      : [2 * E / a, (1 + E) / a, (1 + E) / a, 2 * E / a];
    assertClose(got, want, 1e-6, `hand case, value masked ${masked}`);
    model.dispose();
  }
});

/** Independent scores for one (query row, key row) straight from Keras's formulas. */
function scoreOf(
  mode: string,
  q: number[],
  k: number[],
  scale: number[] | null,
  c: number,
): number {
  if (mode === "dot") return q.reduce((s, v, i) => s + v * k[i], 0) * (scale ? scale[0] : 1);
  if (mode === "concat") {
    return c * q.reduce((s, v, i) => s + Math.tanh((scale ? scale[0] : 1) * (v + k[i])), 0);
  }
  return q.reduce((s, v, i) => s + (scale ? scale[i] : 1) * Math.tanh(v + k[i]), 0);
}

const VARIANTS: { cls: string; cfg: Record<string, unknown>; mode: string }[] = [
  { cls: "Attention", cfg: {}, mode: "dot" },
  { cls: "Attention", cfg: { use_scale: true }, mode: "dot" },
  { cls: "Attention", cfg: { score_mode: "concat" }, mode: "concat" },
  { cls: "Attention", cfg: { score_mode: "concat", use_scale: true }, mode: "concat" },
  { cls: "AdditiveAttention", cfg: {}, mode: "additive" },
  { cls: "AdditiveAttention", cfg: { use_scale: false }, mode: "additive" },
];

Deno.test("Attention / AdditiveAttention vs Keras's formulas: score modes, scales, key, masks from Embedding, causal", () => {
  const rng = new Rng(1730);
  for (const v of VARIANTS) {
    for (const causal of [false, true]) {
      const config = functional(
        [
          {
            class_name: "InputLayer",
            config: { name: "qi", batch_shape: [null, 3], dtype: "int32" },
          },
          {
            class_name: "InputLayer",
            config: { name: "vi", batch_shape: [null, 4], dtype: "int32" },
          },
          { class_name: "InputLayer", config: { name: "k", batch_shape: [null, 4, 3] } },
          {
            class_name: "Embedding",
            config: { name: "qe", input_dim: 6, output_dim: 3, mask_zero: true },
            args: [kt("qi")],
          },
          {
            class_name: "Embedding",
            config: { name: "ve", input_dim: 6, output_dim: 2, mask_zero: true },
            args: [kt("vi")],
          },
          {
            class_name: v.cls,
            config: { name: "att", ...v.cfg },
            args: [[kt("qe"), kt("ve"), kt("k")]],
            kwargs: { use_causal_mask: causal },
          },
        ],
        ["qi", "vi", "k"],
        "att",
      );
      const weights = randomWeights(config, rng, -1, 1);
      const model = buildModel({ config, weights });
      const b = 5;
      const qi = Int32Array.from(
        { length: b * 3 },
        (_, i) => (i % 3 === 2 && i > 5 ? 0 : rng.int(1, 6)),
      );
      const vi = Int32Array.from({ length: b * 4 }, (_, i) => (i % 4 === 3 ? 0 : rng.int(1, 6)));
      const kIn = rng.floats(b * 12, -1, 1);
      const got = model.predictMany([
        new Tensor(qi, [b, 3]),
        new Tensor(vi, [b, 4]),
        new Tensor(kIn, [b, 4, 3]),
      ])[0]
        .data;
      const qe = weights.qe[0].data, ve = weights.ve[0].data;
      const att = weights.att ?? [];
      const names = model.getLayer("att").getWeights().map((w) => w.name);
      const scale = names.includes("scale") ? Array.from(att[names.indexOf("scale")].data) : null;
      const c = names.includes("concat_score_weight")
        ? att[names.indexOf("concat_score_weight")].data[0]
        : 1;
      const want: number[] = [];
      for (let bi = 0; bi < b; bi++) {
        for (let t = 0; t < 3; t++) {
          const q = Array.from(qe.subarray(qi[bi * 3 + t] * 3, qi[bi * 3 + t] * 3 + 3));
          const s = [0, 1, 2, 3].map((j) => {
            const k = Array.from(kIn.subarray((bi * 4 + j) * 3, (bi * 4 + j) * 3 + 3));
            const masked = vi[bi * 4 + j] === 0 || (causal && j > t);
            return Math.fround(scoreOf(v.mode, q, k, scale, c)) - (masked ? 1e9 : 0);
          });
          const m = Math.max(...s);
          const e = s.map((x) => Math.exp(x - m));
          const z = e.reduce((p, x) => p + x, 0);
          for (let d = 0; d < 2; d++) {
            let acc = 0;
            for (let j = 0; j < 4; j++) acc += (e[j] / z) * ve[vi[bi * 4 + j] * 2 + d];
            want.push(qi[bi * 3 + t] === 0 ? 0 : acc);
          }
        }
      }
      assertClose(got, want, 1e-5, `${v.cls} ${JSON.stringify(v.cfg)} causal ${causal}`);
      model.dispose();
    }
  }
});

Deno.test("Attention / AdditiveAttention gradients (weights, query, value) vs finite differences, with dropout", () => {
  const rng = new Rng(1731);
  let worst = 0;
  for (const v of VARIANTS) {
    for (const dropout of [0, 0.3]) {
      const config = functional(
        [
          { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 4, 3] } },
          {
            class_name: "Dense",
            config: { name: "q", units: 3, activation: "tanh" },
            args: [kt("x")],
          },
          {
            class_name: "Dense",
            config: { name: "v", units: 3, activation: "tanh" },
            args: [kt("x")],
          },
          {
            class_name: v.cls,
            config: { name: "att", dropout, ...v.cfg },
            args: [[kt("q"), kt("v")]],
          },
          { class_name: "Flatten", config: { name: "f" }, args: [kt("att")] },
          {
            class_name: "Dense",
            config: { name: "out", units: 3, activation: "softmax" },
            args: [kt("f")],
          },
        ],
        ["x"],
        "out",
      );
      const weights = randomWeights(config, rng, -0.9, 0.9);
      for (const b of [1, 17]) {
        const x = rng.floats(b * 12, -1.5, 1.5);
        const y = Float32Array.from({ length: b }, () => rng.int(0, 3));
        worst = Math.max(
          worst,
          compareWithFiniteDifferences(
            { config, weights, kerasVersion: "3.10.0" },
            x,
            [b, 4, 3],
            y,
            {
              name: "sparse_categorical_crossentropy",
            },
            { samples: 8, h: 1e-2 },
          ),
        );
      }
    }
  }
  console.log(`Attention gradients vs finite differences: worst ${worst.toExponential(2)}`);
});

Deno.test("Attention refuses a bad score_mode by name", () => {
  const cfg = (kwargs: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    functional(
      [
        { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 4, 3] } },
        {
          class_name: "Attention",
          config: { name: "att", ...extra },
          args: [[kt("x"), kt("x")]],
          kwargs,
        },
      ],
      ["x"],
      "att",
    );
  expectThrows(
    () => buildModel({ config: cfg({}, { score_mode: "general" }), weights: {} }),
    Error,
    "att",
    "score_mode",
  );
});

Deno.test("Attention / AdditiveAttention return_attention_scores: weights that sum to 1, respect the causal mask and make the output; gradients through both outputs (with dropout) vs finite differences", () => {
  const rng = new Rng(1741);
  let worst = 0;
  for (const v of VARIANTS) {
    // Inference: the output is the weights times the value (query = value = x here).
    const config = functional(
      [
        { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 4, 3] } },
        {
          class_name: v.cls,
          config: { name: "att", ...v.cfg },
          args: [[kt("x"), kt("x")]],
          kwargs: { return_attention_scores: true, use_causal_mask: true },
        },
      ],
      ["x"],
      "att",
    );
    (config.config as Record<string, unknown>).output_layers = [["att", 0, 0], ["att", 0, 1]];
    const weights = randomWeights(config, rng, 0.5, 1.5);
    const model = buildModel({ config, weights, kerasVersion: "3.10.0" });
    try {
      const b = 3;
      const x = rng.floats(b * 12, -1.5, 1.5);
      const [out, scores] = model.predictMany([new Tensor(x, [b, 4, 3])]);
      if (scores.shape.join() !== "3,4,4") throw new Error(`${v.cls}: scores [${scores.shape}]`);
      const want = new Float32Array(b * 12);
      for (let bi = 0; bi < b; bi++) {
        for (let t = 0; t < 4; t++) {
          let sum = 0;
          for (let s = 0; s < 4; s++) {
            const p = scores.data[(bi * 4 + t) * 4 + s];
            sum += p;
            if (s > t && p !== 0) throw new Error(`${v.cls}: weight ${p} on a future step`);
            for (let c = 0; c < 3; c++) want[(bi * 4 + t) * 3 + c] += p * x[(bi * 4 + s) * 3 + c];
          }
          if (Math.abs(sum - 1) > 1e-6) throw new Error(`${v.cls}: weights sum to ${sum}`);
        }
      }
      assertClose(out.data, want, 1e-5, `${v.cls} output = weights · value`);
    } finally {
      model.dispose();
    }
    // Training: the loss reads both outputs.
    for (const dropout of [0, 0.3]) {
      const train = functional(
        [
          { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 4, 3] } },
          {
            class_name: "Dense",
            config: { name: "q", units: 3, activation: "tanh" },
            args: [kt("x")],
          },
          {
            class_name: v.cls,
            config: { name: "att", dropout, ...v.cfg },
            args: [[kt("q"), kt("x")]],
            kwargs: { return_attention_scores: true },
          },
          { class_name: "Flatten", config: { name: "f_out" }, args: [kt("att", 0)] },
          { class_name: "Flatten", config: { name: "f_w" }, args: [kt("att", 1)] },
          {
            class_name: "Concatenate",
            config: { name: "cat" },
            args: [[kt("f_out"), kt("f_w")]],
          },
          {
            class_name: "Dense",
            config: { name: "out", units: 3, activation: "softmax" },
            args: [kt("cat")],
          },
        ],
        ["x"],
        "out",
      );
      const all = randomWeights(train, rng, -0.9, 0.9);
      worst = Math.max(
        worst,
        compareWithFiniteDifferences(
          { config: train, weights: all, kerasVersion: "3.10.0" },
          rng.floats(5 * 12, -1.5, 1.5),
          [5, 4, 3],
          Float32Array.from([0, 1, 2, 1, 0]),
          { name: "sparse_categorical_crossentropy" },
          { samples: 8, h: 1e-2 },
        ),
      );
    }
  }
  console.log(
    `Attention with weights returned: gradients vs finite differences, worst ${
      worst.toExponential(2)
    }`,
  );
});
