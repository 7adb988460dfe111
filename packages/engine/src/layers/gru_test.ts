import { maxAbsDiff, Rng } from "../../testing/random.ts";
import {
  expectRecurrentVariantsMatchTfjs,
  expectUnsupportedRecurrentOptionsRefused,
  postPaddedIds,
  predictOnce,
  textModelSpec,
} from "../../testing/rnn_cases.ts";
import { textModelReference } from "../../testing/rnn_host_reference.ts";
import { tf, tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("GRU matches TF.js on post-padded mask_zero ids (every variant)", async () => {
  await tfReady();
  expectRecurrentVariantsMatchTfjs(new Rng(43), "GRU", { reset_after: false });
});

Deno.test("GRU: stateful, return_state and softmax activation are refused by name", () => {
  expectUnsupportedRecurrentOptionsRefused("GRU");
});

Deno.test("GRU reset_after=true (TF.js lacks it) matches the TypeScript reference", () => {
  const rng = new Rng(44);
  const time = 10, vocab = 23;
  for (const returnSequences of [false, true]) {
    for (const goBackwards of [false, true]) {
      for (const useBias of [true, false]) {
        const spec = textModelSpec(rng, { time, vocab, embeddingDim: 5 }, [{
          class_name: "GRU",
          config: {
            name: "gru",
            units: 7,
            reset_after: true,
            return_sequences: returnSequences,
            go_backwards: goBackwards,
            use_bias: useBias,
          },
        }]);
        if (useBias && spec.weights.gru[2].shape.join() !== "2,21") throw new Error("bias shape");
        for (const batch of [1, 17]) {
          const ids = postPaddedIds(rng, batch, time, vocab, { emptyRow: true, fullRow: true });
          const got = predictOnce(spec, ids, [batch, time], 4);
          const want = textModelReference(spec, ids, time);
          const d = maxAbsDiff(got, want);
          if (!(d <= 1e-5)) {
            throw new Error(`seq=${returnSequences} back=${goBackwards} bias=${useBias}: ${d}`);
          }
        }
      }
    }
  }
});

Deno.test("GRU reset_after=true: a two-step case computed by hand", () => {
  // units = 1, one feature, x = [1, 0]; σ = sigmoid, act = tanh. Weights chosen so that every
  // pre-activation is a logarithm: σ(±ln 3) = 3/4 | 1/4, σ(0) = 1/2, tanh(ln(k)/2) = (k-1)/(k+1).
  //   kernel           [Wz, Wr, Wh] = [-ln3, 0, 0]
  //   recurrent_kernel [Uz, Ur, Uh] = [2 ln3, -2 ln3, 4 ln2 - (4/3) ln5]
  //   bias input row   [bz, br, bh] = [0, ln3, 0];  recurrent row [cz, cr, ch] = [0, 0, (2/3) ln5]
  // Step 1 (h0 = 0): z = σ(-ln3) = 1/4; r = σ(ln3) = 3/4;
  //   hh = tanh(0 + r·(0·Uh + ch)) = tanh((3/4)(2/3) ln5) = tanh(ln5 / 2) = 4/6 = 2/3;
  //   h1 = z·h0 + (1 - z)·hh = (3/4)(2/3) = 1/2.
  // Step 2 (x = 0, h1 = 1/2): z = σ(2 ln3 · 1/2) = σ(ln3) = 3/4; r = σ(ln3 - 2 ln3 · 1/2) = σ(0) = 1/2;
  //   hh = tanh(r·(Uh/2 + ch)) = tanh((1/2)(2 ln2 - (2/3) ln5 + (2/3) ln5)) = tanh(ln2) = 3/5;
  //   h2 = (3/4)(1/2) + (1/4)(3/5) = 3/8 + 3/20 = 21/40 = 0.525.
  const ln2 = Math.log(2), ln3 = Math.log(3), ln5 = Math.log(5);
  const gru = (returnSequences: boolean, reset_after = true) => ({
    config: {
      class_name: "Sequential",
      config: {
        name: "hand",
        layers: [
          { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 2, 1] } },
          {
            class_name: "GRU",
            config: { name: "gru", units: 1, reset_after, return_sequences: returnSequences },
          },
        ],
      },
    },
    weights: {
      gru: [
        { name: "kernel", shape: [1, 3], data: Float32Array.from([-ln3, 0, 0]) },
        {
          name: "recurrent_kernel",
          shape: [1, 3],
          data: Float32Array.from([2 * ln3, -2 * ln3, 4 * ln2 - (4 / 3) * ln5]),
        },
        reset_after
          ? {
            name: "bias",
            shape: [2, 3],
            data: Float32Array.from([0, ln3, 0, 0, 0, (2 / 3) * ln5]),
          }
          : { name: "bias", shape: [3], data: Float32Array.from([0, ln3, (2 / 3) * ln5]) },
      ],
    },
  });
  const x = Float32Array.from([1, 0]);
  const seq = predictOnce(gru(true), x, [1, 2, 1]);
  if (maxAbsDiff(seq, [0.5, 0.525]) > 1e-6) {
    throw new Error(`sequence ${seq}, expected [0.5, 0.525]`);
  }
  const last = predictOnce(gru(false), x, [1, 2, 1]);
  if (maxAbsDiff(last, [0.525]) > 1e-6) throw new Error(`last ${last}, expected 0.525`);
  // reset_after=false applies r before Uh and has one bias row (bh = (2/3) ln5 here), so step 1
  // gives hh = tanh((2/3) ln5), h1 = (3/4)·tanh((2/3) ln5) ≈ 0.5454 instead of 1/2.
  const before = predictOnce(gru(true, false), x, [1, 2, 1]);
  const h1 = 0.75 * Math.tanh((2 / 3) * ln5);
  if (Math.abs(before[0] - h1) > 1e-6) {
    throw new Error(`reset_after=false step 1: ${before[0]} vs ${h1}`);
  }
});

Deno.test("TF.js really lacks GRU reset_after=true (why the reference is the oracle there)", () => {
  let threw = false;
  try {
    // deno-lint-ignore no-explicit-any
    tf.layers.gru({ units: 2, resetAfter: true } as any);
  } catch {
    threw = true;
  }
  if (!threw) throw new Error("TF.js accepted resetAfter=true: compare against it instead");
});
