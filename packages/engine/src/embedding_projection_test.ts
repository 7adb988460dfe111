/**
 * Embedding → recurrent fusion (`embedding_projection.ts`): `predict` with the Embedding's rows
 * looked up in a projection table equals the unfused run (`fuse: false`) bit for bit, for every
 * cell, uni- and bidirectional, masked (post- and pre-padded) or not, at batch 1 and several;
 * the tables follow `setWeights` and `fit`; bad ids fail as the Embedding fails.
 */
import { buildModel, type Model } from "./model.ts";
import { Tensor } from "./tensor.ts";
import type { KerasObject } from "./spec.ts";
import { InputShapeError } from "./errors.ts";
import { expectThrows } from "../testing/assert.ts";
import { maxAbsDiff, Rng } from "../testing/random.ts";
import { PROJECTION_TABLE_MAX_BYTES, projectsEmbedding } from "./embedding_projection.ts";
import type { GraphNode } from "./graph.ts";
import { Embedding } from "./layers/embedding.ts";
import { GRU } from "./layers/gru.ts";

const layer = (class_name: string, config: Record<string, unknown>) => ({ class_name, config });

interface TextOptions {
  cell: "SimpleRNN" | "LSTM" | "GRU";
  bidirectional: false | "concat" | "sum";
  maskZero: boolean;
  returnSequences: boolean;
  goBackwards: boolean;
  resetAfter: boolean;
  useBias: boolean;
  vocab: number;
  embed: number;
  units: number;
  time: number;
}

/**
 * Embedding → (Bidirectional) cell → a head that reads every output step (another GRU) or the
 * last one (Dense).
 */
function textConfig(o: TextOptions): KerasObject {
  const cell: Record<string, unknown> = {
    name: "rnn",
    units: o.units,
    return_sequences: o.returnSequences,
    go_backwards: o.goBackwards,
    use_bias: o.useBias,
  };
  if (o.cell === "GRU") cell.reset_after = o.resetAfter;
  const rnn = o.bidirectional
    ? layer("Bidirectional", {
      name: "bi",
      merge_mode: o.bidirectional,
      layer: layer(o.cell, cell),
    })
    : layer(o.cell, cell);
  return {
    class_name: "Sequential",
    config: {
      name: "text",
      layers: [
        layer("InputLayer", { name: "ids", batch_shape: [null, o.time], dtype: "int32" }),
        layer("Embedding", {
          name: "emb",
          input_dim: o.vocab,
          output_dim: o.embed,
          mask_zero: o.maskZero,
        }),
        rnn,
        ...(o.returnSequences ? [layer("GRU", { name: "head_rnn", units: 3 })] : []),
        layer("Dense", { name: "out", units: 2 }),
      ],
    },
  };
}

/** The same model fused and unfused, with the same seeded weights. */
function models(o: TextOptions, seed: number): [Model, Model] {
  return [true, false].map((fuse) =>
    buildModel({ config: textConfig(o), weights: {}, kerasVersion: "3.10.0" }, {
      initialize: { seed },
      fuse,
    })
  ) as [Model, Model];
}

/** Ids [batch, time]: post- or pre-padded rows of random lengths (one all padding), or no zeros. */
function ids(rng: Rng, batch: number, o: TextOptions, padding: "post" | "pre" | "none"): Tensor {
  const data = new Int32Array(batch * o.time);
  for (let b = 0; b < batch; b++) {
    const len = padding === "none" ? o.time : b === 1 ? 0 : rng.int(1, o.time + 1);
    for (let k = 0; k < len; k++) {
      const t = padding === "pre" ? o.time - 1 - k : k;
      data[b * o.time + t] = rng.int(1, o.vocab);
    }
  }
  return new Tensor(data, [batch, o.time]);
}

function assertSame(a: Tensor, b: Tensor, what: string): void {
  const x = a.data as Float32Array, y = b.data as Float32Array;
  if (x.length !== y.length || !x.every((v, i) => Object.is(v, y[i]))) {
    throw new Error(`${what}: fused and unfused outputs differ (max |Δ| ${maxAbsDiff(x, y)})`);
  }
}

Deno.test("embedding projection: fused predict equals fuse:false bit for bit (every cell, uni/bidirectional, masks post/pre/none, batch 1 and 7), and the fused plan holds fewer bytes", () => {
  const rng = new Rng(31);
  let n = 0;
  for (const cell of ["SimpleRNN", "LSTM", "GRU"] as const) {
    for (const bidirectional of [false, "concat", "sum"] as const) {
      for (const returnSequences of [false, true]) {
        const o: TextOptions = {
          cell,
          bidirectional,
          maskZero: rng.next() < 0.75,
          returnSequences,
          goBackwards: rng.next() < 0.5,
          resetAfter: rng.next() < 0.5,
          useBias: rng.next() < 0.8,
          vocab: rng.int(5, 40),
          embed: [1, 3, 6, 9][rng.int(0, 4)],
          units: [1, 5, 7, 10][rng.int(0, 4)],
          time: rng.int(1, 14),
        };
        const [fused, plain] = models(o, 100 + n);
        try {
          for (const batch of [1, 7]) {
            for (const padding of ["post", "pre", "none"] as const) {
              const x = ids(rng, batch, o, o.maskZero ? padding : "none");
              const what = `${JSON.stringify(o)} batch ${batch} ${padding}`;
              assertSame(fused.predict(x), plain.predict(x), what);
              const f = fused.lastPredictMemory.totalBytes;
              const p = plain.lastPredictMemory.totalBytes;
              if (!(f < p)) throw new Error(`${what}: fused plan ${f} bytes, unfused ${p}`);
              n++;
            }
          }
        } finally {
          fused.dispose();
          plain.dispose();
        }
      }
    }
  }
  if (n !== 108) throw new Error(`${n} cases ran, expected 108`);
});

Deno.test("embedding projection: the tables follow setWeights and fit", async () => {
  const o: TextOptions = {
    cell: "GRU",
    bidirectional: "concat",
    maskZero: true,
    returnSequences: false,
    goBackwards: false,
    resetAfter: true,
    useBias: true,
    vocab: 23,
    embed: 5,
    units: 6,
    time: 9,
  };
  const [fused, plain] = models(o, 3);
  const rng = new Rng(4);
  const x = ids(rng, 8, o, "post");
  const y = new Tensor(Float32Array.from({ length: 8 }, (_, i) => i % 2), [8]);
  try {
    const before = fused.predict(x); // makes the tables
    const changed = fused.getWeights().map((w) => ({
      ...w,
      data: w.data.map((v, i) => v + (/emb|kernel/.test(w.name) ? 0.05 * Math.sin(i) : 0)),
    }));
    fused.setWeights(changed);
    plain.setWeights(changed);
    const afterSet = fused.predict(x);
    if (maxAbsDiff(afterSet.data, before.data) < 1e-4) {
      throw new Error("setWeights changed nothing");
    }
    assertSame(afterSet, plain.predict(x), "after setWeights");
    fused.compile({ optimizer: "sgd", loss: "sparse_categorical_crossentropy" });
    await fused.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0 });
    const trained = fused.predict(x);
    if (maxAbsDiff(trained.data, afterSet.data) < 1e-5) throw new Error("fit changed nothing");
    const reference = buildModel(fused.toSpec(), { fuse: false });
    try {
      assertSame(trained, reference.predict(x), "after fit");
    } finally {
      reference.dispose();
    }
  } finally {
    fused.dispose();
    plain.dispose();
  }
});

Deno.test("embedding projection: an id outside [0, input_dim) fails as the Embedding does (InputShapeError)", () => {
  const o: TextOptions = {
    cell: "LSTM",
    bidirectional: false,
    maskZero: true,
    returnSequences: false,
    goBackwards: false,
    resetAfter: false,
    useBias: true,
    vocab: 10,
    embed: 3,
    units: 4,
    time: 5,
  };
  const [fused, plain] = models(o, 5);
  const x = new Tensor(Int32Array.of(1, 2, 3, 0, 0, 4, 10, 1, 0, 0), [2, 5]);
  try {
    for (const m of [fused, plain]) {
      expectThrows(() => m.predict(x), InputShapeError, "emb", "id 10 at [1, 1]");
    }
  } finally {
    fused.dispose();
    plain.dispose();
  }
});

Deno.test("embedding projection: a pair whose tables would pass PROJECTION_TABLE_MAX_BYTES, or whose recurrent layer has initial states, is not fused", () => {
  const node = (l: Embedding | GRU, inputs: number[]): GraphNode =>
    ({ layer: l, inputs, extraOutputs: [] }) as unknown as GraphNode;
  const gru = new GRU({ name: "g", units: 16 });
  // 48 gate columns: 4 · 48 bytes per id.
  const fits = Math.floor(PROJECTION_TABLE_MAX_BYTES / (4 * 48));
  const small = new Embedding({ name: "e", input_dim: fits, output_dim: 8 });
  const large = new Embedding({ name: "e", input_dim: fits + 1, output_dim: 8 });
  if (!projectsEmbedding(node(small, [0]), node(gru, [1]))) throw new Error("small not fused");
  if (projectsEmbedding(node(large, [0]), node(gru, [1]))) throw new Error("large fused");
  if (projectsEmbedding(node(small, [0]), node(gru, [1, 2]))) throw new Error("states fused");
});

Deno.test("embedding projection: each sequence alone (batch 1: the padding window read and written in place) equals its row of a padded batch, every output step, bit for bit", () => {
  const rng = new Rng(41);
  let n = 0;
  for (const cell of ["SimpleRNN", "LSTM", "GRU"] as const) {
    for (const bidirectional of [false, "concat", "sum"] as const) {
      for (const goBackwards of [false, true]) {
        const o: TextOptions = {
          cell,
          bidirectional,
          maskZero: true,
          returnSequences: true,
          goBackwards,
          resetAfter: rng.next() < 0.5,
          useBias: true,
          vocab: 30,
          embed: 6,
          units: [4, 8][rng.int(0, 2)],
          time: 12,
        };
        const [model] = models(o, 200 + n);
        try {
          for (const padding of ["post", "pre"] as const) {
            const x = ids(rng, 5, o, padding);
            const outputs = [bidirectional ? "bi" : "rnn"];
            const whole = model.predictMany([x], { outputs })[0].data as Float32Array;
            const rowSize = whole.length / 5;
            for (let b = 0; b < 5; b++) {
              const one = model.predictMany([x.sliceBatch(b, b + 1)], { outputs })[0].data;
              const row = whole.subarray(b * rowSize, (b + 1) * rowSize);
              if (!one.every((v, i) => Object.is(v, row[i]))) {
                throw new Error(
                  `${JSON.stringify(o)} ${padding} row ${b}: alone differs (max |Δ| ${
                    maxAbsDiff(one, row)
                  })`,
                );
              }
            }
            n++;
          }
        } finally {
          model.dispose();
        }
      }
    }
  }
  if (n !== 36) throw new Error(`${n} cases ran, expected 36`);
});
