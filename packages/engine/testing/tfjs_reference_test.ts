import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type { ModelSpec } from "../mod.ts";
import { Rng } from "./random.ts";
import { textModelSpec } from "./rnn_cases.ts";
import { type tf, tfjsModelFromSpec, tfjsPredict, tfReady } from "./tfjs_reference.ts";

const RECURRENT_LAYERS = [
  { class_name: "LSTM", config: { name: "lstm", units: 4, return_sequences: true } },
  {
    class_name: "Bidirectional",
    config: {
      name: "bidi",
      layer: {
        class_name: "GRU",
        config: { name: "gru", units: 3, reset_after: false, return_sequences: true },
      },
    },
  },
  { class_name: "SimpleRNN", config: { name: "rnn", units: 2 } },
];

/** Every recurrent kernel of a TF.js model, by variable name. */
function recurrentKernels(model: tf.LayersModel): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const w of model.weights) {
    if (/recurrent_kernel/.test(w.name)) out.set(w.name, w.read().dataSync() as Float32Array);
  }
  return out;
}

Deno.test("tfjs reference: zeroRecurrentInit starts every recurrent kernel from zeros", async () => {
  await tfReady();
  const spec = textModelSpec(new Rng(3), { time: 5, vocab: 9, embeddingDim: 4 }, RECURRENT_LAYERS);
  const unset: ModelSpec = { ...spec, weights: {} }; // keep TF.js's initial values
  const zeroed = tfjsModelFromSpec(unset, { zeroRecurrentInit: true });
  const drawn = tfjsModelFromSpec(unset);
  try {
    const zeroKernels = recurrentKernels(zeroed);
    // LSTM, forward and backward GRU, SimpleRNN.
    assertEquals(zeroKernels.size, 4, [...zeroKernels.keys()].join(", "));
    for (const [name, data] of zeroKernels) assert(data.every((v) => v === 0), `${name} not zero`);
    for (const [name, data] of recurrentKernels(drawn)) {
      assert(data.some((v) => v !== 0), `${name}: TF.js's orthogonal init gave zeros`);
    }
  } finally {
    zeroed.dispose();
    drawn.dispose();
  }
});

Deno.test("tfjs reference: zeroRecurrentInit does not change a model with all its weights", async () => {
  await tfReady();
  const spec = textModelSpec(new Rng(4), { time: 5, vocab: 9, embeddingDim: 4 }, RECURRENT_LAYERS);
  const ids = Int32Array.from({ length: 2 * 5 }, (_, i) => (i * 7) % 9);
  const zeroed = tfjsModelFromSpec(spec, { zeroRecurrentInit: true });
  const drawn = tfjsModelFromSpec(spec);
  try {
    const out = tfjsPredict(zeroed, ids, [2, 5]);
    assert(out.some((v) => v !== 0));
    assertEquals(Array.from(out), Array.from(tfjsPredict(drawn, ids, [2, 5])));
  } finally {
    zeroed.dispose();
    drawn.dispose();
  }
});
