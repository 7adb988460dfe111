import {
  buildModel,
  LayerConfigError,
  ModelConfigError,
  UnsupportedLayerError,
  WeightShapeError,
} from "../../mod.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { expectThrows } from "../../testing/assert.ts";
import {
  expectTextModelMatchesTfjs,
  type LayerObject,
  postPaddedIds,
  predictOnce,
  textModelSpec,
  zeroMaskedSteps,
} from "../../testing/rnn_cases.ts";
import { textModelReference } from "../../testing/rnn_host_reference.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

const TIME = 9, VOCAB = 29;
const CELLS = ["SimpleRNN", "LSTM", "GRU"] as const;
const MODES = ["concat", "sum", "mul", "ave"] as const;

function bi(
  cell: string,
  mode: string | null,
  layer: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): LayerObject {
  return {
    class_name: "Bidirectional",
    config: {
      name: "bi",
      merge_mode: mode,
      layer: {
        class_name: cell,
        config: { name: cell.toLowerCase(), reset_after: false, ...layer },
      },
      ...extra,
    },
  };
}

Deno.test("Bidirectional matches TF.js: every cell × merge mode, last output and sequences", async () => {
  await tfReady();
  const rng = new Rng(61);
  for (const cell of CELLS) {
    for (const mode of MODES) {
      for (const seq of [false, true]) {
        const units = 5;
        const spec = textModelSpec(rng, { time: TIME, vocab: VOCAB, embeddingDim: 6 }, [
          bi(cell, mode, { units, return_sequences: seq }),
        ]);
        const width = mode === "concat" ? 2 * units : units;
        for (const batch of [1, 17]) {
          const ids = postPaddedIds(rng, batch, TIME, VOCAB, { emptyRow: true, fullRow: true });
          expectTextModelMatchesTfjs(spec, ids, TIME, `${cell} ${mode} seq=${seq} batch ${batch}`, {
            // Keras zeroes masked steps of a Bidirectional sequence output; TF.js does not.
            kerasFromTfjs: seq ? (y, i) => zeroMaskedSteps(y, i, width) : undefined,
          });
        }
      }
    }
  }
});

Deno.test("stacked Bidirectional (return_sequences passes the mask) → Bidirectional → Dense matches TF.js", async () => {
  await tfReady();
  const rng = new Rng(62);
  for (const cell of CELLS) {
    const spec = textModelSpec(rng, { time: 13, vocab: VOCAB, embeddingDim: 7 }, [
      bi(cell, "concat", { units: 5, return_sequences: true }),
      {
        ...bi(cell, "ave", { units: 3 }),
        config: { ...bi(cell, "ave", { units: 3 }).config, name: "bi2" },
      },
      { class_name: "Dropout", config: { name: "drop", rate: 0.3 } },
      { class_name: "Dense", config: { name: "out", units: 4, activation: "softmax" } },
    ]);
    for (const batch of [1, 17]) {
      const ids = postPaddedIds(rng, batch, 13, VOCAB, { emptyRow: true, fullRow: true });
      expectTextModelMatchesTfjs(spec, ids, 13, `stacked ${cell} batch ${batch}`);
    }
  }
});

Deno.test("Bidirectional with return_sequences outputs exactly zero at masked steps", () => {
  const rng = new Rng(63);
  const spec = textModelSpec(rng, { time: TIME, vocab: VOCAB, embeddingDim: 4 }, [
    bi("LSTM", "concat", { units: 3, return_sequences: true }),
  ]);
  const ids = Int32Array.from([5, 0, 7, 0, 0, 3, 2, 0, 0]);
  const y = predictOnce(spec, ids, [1, TIME]);
  ids.forEach((id, t) => {
    const row = y.subarray(t * 6, t * 6 + 6);
    if (id === 0 && row.some((v) => v !== 0)) throw new Error(`step ${t} is masked but not zero`);
    if (id !== 0 && row.every((v) => v === 0)) throw new Error(`step ${t} is real but zero`);
  });
});

Deno.test("Keras 3 configs with backward_layer, GRU reset_after=true and unequal halves match the reference", async () => {
  await tfReady();
  const rng = new Rng(64);
  for (const cell of CELLS) {
    for (const seq of [false, true]) {
      // Keras 3 serializes both halves; with mirrored halves TF.js is still an oracle.
      const fwd = { name: `forward_${cell}`, units: 4, return_sequences: seq, reset_after: false };
      const spec = textModelSpec(rng, { time: TIME, vocab: VOCAB, embeddingDim: 5 }, [
        bi(cell, "concat", fwd, {
          backward_layer: {
            class_name: cell,
            config: { ...fwd, name: `backward_${cell}`, go_backwards: true },
          },
        }),
      ]);
      const ids = postPaddedIds(rng, 17, TIME, VOCAB, { emptyRow: true });
      expectTextModelMatchesTfjs(spec, ids, TIME, `keras3 ${cell} seq=${seq}`, {
        kerasFromTfjs: seq ? (y, i) => zeroMaskedSteps(y, i, 8) : undefined,
      });
      const want = textModelReference(spec, ids, TIME);
      const got = predictOnce(spec, ids, [17, TIME]);
      if (!(maxAbsDiff(got, want) <= 1e-5)) {
        throw new Error(`reference ${cell}: ${maxAbsDiff(got, want)}`);
      }
    }
  }
  // Beyond TF.js: reset_after GRU, a backward half with other units / activation, every mode.
  for (const mode of MODES) {
    for (const seq of [false, true]) {
      const gru = { name: "forward_gru", units: 5, return_sequences: seq, reset_after: true };
      const backward = mode === "concat"
        ? { ...gru, name: "backward_gru", units: 3, go_backwards: true, activation: "softsign" }
        : {
          ...gru,
          name: "backward_gru",
          go_backwards: true,
          recurrent_activation: "hard_sigmoid",
        };
      const spec = textModelSpec(rng, { time: TIME, vocab: VOCAB, embeddingDim: 6 }, [
        bi("GRU", mode, gru, { backward_layer: { class_name: "GRU", config: backward } }),
      ]);
      for (const batch of [1, 17]) {
        const ids = postPaddedIds(rng, batch, TIME, VOCAB, { emptyRow: true, fullRow: true });
        const want = textModelReference(spec, ids, TIME);
        const got = predictOnce(spec, ids, [batch, TIME], 5);
        const d = maxAbsDiff(got, want);
        if (!(d <= 1e-5)) {
          throw new Error(`GRU reset_after ${mode} seq=${seq} batch ${batch}: ${d}`);
        }
      }
    }
  }
});

Deno.test("Bidirectional refuses merge_mode None in a Sequential, equal go_backwards, non-RNN layers and bad weights", () => {
  const rng = new Rng(65);
  const spec = (layer: LayerObject) =>
    textModelSpec(rng, { time: 4, vocab: 9, embeddingDim: 3 }, [layer]);
  // merge_mode None returns two tensors: a Sequential cannot pass them on.
  expectThrows(
    () => buildModel(spec(bi("LSTM", null, { units: 2 }))),
    ModelConfigError,
    "bi",
    "2 tensors",
  );
  expectThrows(
    () =>
      buildModel(spec(bi("LSTM", "concat", { units: 2 }, {
        backward_layer: { class_name: "LSTM", config: { name: "b", units: 2 } },
      }))),
    LayerConfigError,
    "bi",
    "go_backwards",
  );
  expectThrows(
    () =>
      buildModel(spec({
        class_name: "Bidirectional",
        config: { name: "bi", layer: { class_name: "Dense", config: { name: "d", units: 2 } } },
      })),
    UnsupportedLayerError,
    "Dense",
  );
  const good = spec(bi("LSTM", "sum", { units: 2 }));
  const fewer = { ...good, weights: { ...good.weights, bi: good.weights.bi.slice(0, 5) } };
  expectThrows(() => buildModel(fewer), WeightShapeError, "bi", "6 arrays", "5 arrays");
  const w = [...good.weights.bi];
  w[3] = { name: "kernel", shape: [3, 9], data: new Float32Array(27) };
  expectThrows(
    () => buildModel({ ...good, weights: { ...good.weights, bi: w } }),
    WeightShapeError,
    "bi/backward_lstm",
    "kernel",
    "[3, 8]",
    "[3, 9]",
  );
});
