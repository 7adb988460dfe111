import { buildModel, modelGradients, Tensor, UntrainableLayerError } from "../../mod.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { Rng } from "../../testing/random.ts";
import { compareWithTfjs, relativeError } from "../../testing/gradient_check.ts";
import {
  type LayerObject,
  postPaddedIds,
  type TextModelOptions,
  textModelSpec,
} from "../../testing/rnn_cases.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";
import { embeddingReference } from "../kernels/embedding_reference.ts";
import { embeddingGradReference } from "../kernels/embedding_grad_reference.ts";
import { RnnCell } from "../kernels/rnn_codes.ts";
import {
  rnnForward64,
  rnnGradReference,
  type RnnGradReferenceArgs,
} from "../kernels/rnn_grad_reference.ts";
import { reverseTimeReference } from "../kernels/rnn_reference.ts";

// Gradients of every weight (Embedding table, recurrent kernels, Dense head) vs TF.js
// `tf.variableGrads` on the same weights and batch, cpu backend. compareWithTfjs's relative error
// is max |engine − TF.js| / max |TF.js| per weight tensor; the bound is 1e-4.

const TIME = 9, VOCAB = 23, CLASSES = 4;
const SCE = { name: "sparse_categorical_crossentropy" as const };

const dense = (name: string, units = CLASSES): LayerObject => ({
  class_name: "Dense",
  config: { name, units, activation: "softmax" },
});

interface Case {
  what: string;
  layers: LayerObject[];
  opts?: Partial<TextModelOptions>;
  /** Labels per timestep (the head is applied to every step; only with no mask). */
  perStep?: boolean;
}

function cases(className: "SimpleRNN" | "LSTM" | "GRU"): Case[] {
  const gated = className !== "SimpleRNN";
  const extra = className === "GRU" ? { reset_after: false } : {};
  const rnn = (name: string, c: Record<string, unknown> = {}): LayerObject => ({
    class_name: className,
    config: { name, units: 7, ...extra, ...c },
  });
  return [
    { what: "last output", layers: [rnn("rnn"), dense("head")] },
    { what: "go_backwards", layers: [rnn("rnn", { go_backwards: true, units: 5 }), dense("head")] },
    {
      what: "stacked: return_sequences (+go_backwards) passes mask and gradient on",
      layers: [
        rnn("rnn_a", { return_sequences: true, go_backwards: true, units: 6 }),
        rnn("rnn_b", { return_sequences: true, units: 5 }),
        rnn("rnn_c", { units: 3 }),
        dense("head"),
      ],
    },
    {
      what: "no bias, relu / hard_sigmoid (Keras 2)",
      layers: [
        rnn("rnn", {
          use_bias: false,
          activation: "relu",
          ...(gated ? { recurrent_activation: "hard_sigmoid" } : {}),
        }),
        dense("head"),
      ],
      opts: { kerasVersion: "2.15.0" },
    },
    {
      what: "no mask, return_sequences with a loss on every step",
      layers: [rnn("rnn", { return_sequences: true }), dense("head")],
      opts: { maskZero: false },
      perStep: true,
    },
  ];
}

function checkCell(className: "SimpleRNN" | "LSTM" | "GRU", seed: number): void {
  const rng = new Rng(seed);
  let worst = 0;
  for (const c of cases(className)) {
    const spec = textModelSpec(
      rng,
      { time: TIME, vocab: VOCAB, embeddingDim: 5, ...c.opts },
      c.layers,
    );
    for (const batch of [1, 17]) {
      const ids = c.opts?.maskZero === false
        ? Int32Array.from({ length: batch * TIME }, () => rng.int(0, VOCAB))
        : postPaddedIds(rng, batch, TIME, VOCAB, { emptyRow: true, fullRow: true });
      const labels = Float32Array.from(
        { length: c.perStep ? batch * TIME : batch },
        () => rng.int(0, CLASSES),
      );
      try {
        worst = Math.max(worst, compareWithTfjs(spec, ids, [batch, TIME], labels, { loss: SCE }));
      } catch (e) {
        throw new Error(`${className} ${c.what}, batch ${batch}: ${(e as Error).message}`);
      }
    }
  }
  console.log(`${className}: worst relative gradient error vs TF.js ${worst.toExponential(2)}`);
}

Deno.test("SimpleRNN gradients match TF.js (masks, go_backwards, stacked, per-step loss)", async () => {
  await tfReady();
  checkCell("SimpleRNN", 701);
});

Deno.test("LSTM gradients match TF.js (masks, go_backwards, stacked, per-step loss)", async () => {
  await tfReady();
  checkCell("LSTM", 702);
});

Deno.test("GRU reset_after=false gradients match TF.js (masks, go_backwards, stacked, per-step loss)", async () => {
  await tfReady();
  checkCell("GRU", 703);
});

/**
 * Engine gradients of `Embedding(mask_zero) → GRU(reset_after=True) [or Bidirectional of it]`
 * under MSE vs the float64 BPTT reference (itself checked against float64 central differences in
 * `kernels/rnn_grad_test.ts`); TF.js has no reset_after=True GRU.
 */
function checkResetAfter(
  rng: Rng,
  batch: number,
  opts: { bidirectional: boolean; goBackwards: boolean; returnSequences: boolean },
): number {
  const time = 7, vocab = 15, dim = 4, units = 5;
  const inner = {
    name: "gru",
    units,
    reset_after: true,
    go_backwards: opts.goBackwards,
    return_sequences: opts.returnSequences,
  };
  const layer: LayerObject = opts.bidirectional
    ? {
      class_name: "Bidirectional",
      config: { name: "bi", layer: { class_name: "GRU", config: inner } },
    }
    : { class_name: "GRU", config: inner };
  const spec = textModelSpec(rng, { time, vocab, embeddingDim: dim }, [layer]);
  const ids = postPaddedIds(rng, batch, time, vocab, { emptyRow: true, fullRow: true });
  const mask = Int32Array.from(ids, (v) => (v !== 0 ? 1 : 0));
  const table = spec.weights.embedding[0].data;
  const x = embeddingReference(ids, table, vocab, dim).out!;
  const w = spec.weights[opts.bidirectional ? "bi" : "gru"].map((t) => t.data);
  const args = (goBackwards: boolean, weights: Float32Array[]): RnnGradReferenceArgs => ({
    cell: RnnCell.GRUResetAfter,
    x,
    batch,
    time,
    inDim: dim,
    units,
    kernel: weights[0],
    recurrentKernel: weights[1],
    bias: weights[2],
    mask,
    goBackwards,
    returnSequences: opts.returnSequences,
    // Bidirectional forces zero_output_for_mask on sequence outputs.
    zeroOutputForMask: opts.bidirectional && opts.returnSequences,
  });
  const directions = opts.bidirectional
    ? [args(opts.goBackwards, w.slice(0, 3)), args(!opts.goBackwards, w.slice(3))]
    : [args(opts.goBackwards, w)];
  const seqRows = opts.returnSequences ? batch * time : batch;
  // Outputs in the model's layout: [rows, width], the backward direction flipped back in time.
  const flip = (a: ArrayLike<number>, d: number) =>
    d === 1 && opts.returnSequences
      ? reverseTimeReference(Float32Array.from(a), batch, time, units)
      : a;
  const outs = directions.map((a, d) => flip(rnnForward64(a), d));
  const width = units * directions.length;
  const targets = rng.floats(seqRows * width);
  // MSE over the unmasked rows (the engine's loss ignores rows the output mask drops).
  const rowKept = (r: number) => !opts.returnSequences || mask[r] !== 0;
  let count = 0;
  for (let r = 0; r < seqRows; r++) count += rowKept(r) ? 1 : 0;
  const grads = directions.map((a, d) => {
    const dOut = new Float64Array(seqRows * units);
    for (let r = 0; r < seqRows; r++) {
      if (!rowKept(r)) continue;
      for (let j = 0; j < units; j++) {
        const y = outs[d][r * units + j];
        dOut[r * units + j] = (2 * (y - targets[r * width + d * units + j])) / (width * count);
      }
    }
    return rnnGradReference(a, flip(dOut, d));
  });
  const dx = grads.reduce((s, g) => s.map((v, i) => v + g.dx[i]), new Float64Array(x.length));
  const want = [
    embeddingGradReference(ids, dx, vocab, dim),
    ...grads.flatMap((g) => [g.dKernel, g.dRecurrentKernel, g.dBias!]),
  ];
  const model = buildModel(spec);
  try {
    const { grads: got } = modelGradients(
      model,
      new Tensor(ids, [batch, time]),
      new Tensor(targets, [batch, ...(opts.returnSequences ? [time] : []), width]),
      { loss: "mse" },
    );
    if (got.length !== want.length) throw new Error(`${got.length} gradients, want ${want.length}`);
    let worst = 0;
    got.forEach((g, i) => {
      const e = relativeError(g.data, want[i]);
      if (!(e <= 1e-4)) throw new Error(`${JSON.stringify(opts)} ${g.name}: relative error ${e}`);
      worst = Math.max(worst, e);
    });
    return worst;
  } finally {
    model.dispose();
  }
}

Deno.test("GRU reset_after=true gradients match the float64 BPTT reference (masked, uni- and bidirectional)", () => {
  const rng = new Rng(704);
  let worst = 0;
  for (const bidirectional of [false, true]) {
    for (const [goBackwards, returnSequences] of [[false, false], [true, true], [false, true]]) {
      for (const batch of [1, 17]) {
        worst = Math.max(
          worst,
          checkResetAfter(rng, batch, { bidirectional, goBackwards, returnSequences }),
        );
      }
    }
  }
  console.log(`GRU reset_after: worst relative error vs the reference ${worst.toExponential(2)}`);
});

Deno.test("recurrent training steps do not grow the heap, cell dropout included", () => {
  const { heap } = getRuntime();
  const rng = new Rng(705);
  const bi = (name: string, inner: string, mode: string, c: Record<string, unknown> = {}) => ({
    class_name: "Bidirectional",
    config: {
      name,
      merge_mode: mode,
      layer: { class_name: inner, config: { name: "r", units: 3, ...c } },
    },
  });
  const spec = textModelSpec(rng, { time: TIME, vocab: VOCAB, embeddingDim: 4 }, [
    bi("bi_a", "GRU", "mul", { return_sequences: true, dropout: 0.2 }),
    bi("bi_b", "SimpleRNN", "ave", { return_sequences: true, recurrent_dropout: 0.3 }),
    bi("bi_c", "LSTM", "sum", { return_sequences: true }),
    {
      class_name: "GRU",
      config: { name: "gru", units: 4, reset_after: false, return_sequences: true, dropout: 0.1 },
    },
    {
      class_name: "LSTM",
      config: { name: "lstm", units: 4, dropout: 0.2, recurrent_dropout: 0.2 },
    },
    dense("head"),
  ]);
  const model = buildModel(spec);
  const baseline = heap.liveCount;
  const ids = new Tensor(postPaddedIds(rng, 5, TIME, VOCAB, { emptyRow: true }), [5, TIME]);
  const labels = new Tensor(Float32Array.from([0, 1, 2, 3, 0]), [5]);
  model.compile({ optimizer: "adam", loss: "sparse_categorical_crossentropy" });
  model.trainOnBatch(ids, labels);
  const live = heap.liveCount, bytes = heap.memoryBytes;
  for (let i = 0; i < 3; i++) model.trainOnBatch(ids, labels);
  if (heap.liveCount !== live) throw new Error(`leaked ${heap.liveCount - live} blocks`);
  if (heap.memoryBytes !== bytes) throw new Error(`memory grew ${bytes} → ${heap.memoryBytes}`);
  model.dispose();
  if (heap.liveCount >= baseline) throw new Error("dispose did not free the model");

  // GRU reset_after=False multiplies the dropped state inside the candidate: not implemented.
  const drop = buildModel(textModelSpec(rng, { time: TIME, vocab: VOCAB, embeddingDim: 4 }, [
    {
      class_name: "GRU",
      config: { name: "my_gru", units: 3, reset_after: false, recurrent_dropout: 0.25 },
    },
    dense("head"),
  ]));
  let err: unknown;
  try {
    drop.compile({ loss: "sparse_categorical_crossentropy" });
    drop.trainOnBatch(ids, labels);
  } catch (e) {
    err = e;
  } finally {
    drop.dispose();
  }
  if (!(err instanceof UntrainableLayerError) || !/my_gru.*recurrent_dropout/.test(err.message)) {
    throw new Error(`expected UntrainableLayerError naming the layer, got ${err}`);
  }
});
