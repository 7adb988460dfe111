/**
 * `deno task experiment imdb`: the Keras-vs-PyTorch RNN study's protocol on IMDb (issue 17).
 * 20,000 / 5,000 / 25,000 train / validation / test reviews (a seeded stratified split of the
 * 25,000 training reviews, the official test split), TextVectorization with 30,000 tokens and
 * length 400, Embedding 128, two unidirectional recurrent layers of 64 each followed by Dropout
 * 0.2, Dense(1, sigmoid), binary cross-entropy, Adam 1e-3, batch 32, 10 epochs. SimpleRNN, LSTM
 * and GRU each train under
 * - `keras`: Keras's defaults — no mask (the recurrent layers read the padding after each review),
 *   no clipping, a constant learning rate; and
 * - `study`: the study's protocol — orthogonal recurrent kernels, gradient-norm clipping at 5
 *   (Keras `clipnorm`), ReduceLROnPlateau on val_loss and `mask_zero` on the Embedding.
 * (Keras's default recurrent initializer is already orthogonal: in Keras terms the two protocols
 * differ in clipping, the schedule and masking.) The study's "dropout 0.2" is a Dropout layer after
 * each recurrent layer.
 *
 * `--bucket-by-length` trains the study's masked models on the training reviews sorted by length
 * with Keras's `shuffle="batch"` (whole batches shuffled): each batch then holds reviews of similar
 * lengths and the recurrent layers skip the padding the batch shares. Validation and test
 * predictions run in length order too (their results do not depend on the order).
 *
 * Every trained model's engine predictions are compared with the reference (TF.js, or the host
 * reference for GRU `reset_after=true`) on the first `--reference-size` test reviews. Full runs
 * take hours on 2 cores; `--quick` runs every cell on small slices in about a minute (the test
 * suite runs it on a tiny fixture).
 */
import { join } from "node:path";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadImdb, stratifiedSplit } from "@scratchnet/datasets";
import {
  Adam,
  buildModel,
  Callback,
  EarlyStopping,
  type KerasObject,
  type Logs,
  type Model,
  ReduceLROnPlateau,
  rocAucBinary,
  SeededRandom,
  Tensor,
} from "@scratchnet/engine";
import { saveKeras } from "@scratchnet/keras-importer";
import { TextVectorization } from "@scratchnet/tokenizer";
import { UsageError } from "./errors.ts";
import { kerasInitializer } from "./models.ts";
import { checkOutputDir } from "./run.ts";
import { int, list, membersOf, oneOf, splitArgs, str } from "./options.ts";
import type { ExperimentProgress } from "./progress.ts";
import { referencePredict } from "./reference.ts";
import { KERAS_VERSION } from "./train.ts";

/** The recurrent cells the study compares. */
export type ImdbCell = "rnn" | "lstm" | "gru";
/** `keras`: Keras's defaults; `study`: the study's protocol (see the module doc). */
export type ImdbProtocol = "keras" | "study";

/** What one `experiment imdb` run does. */
export interface ImdbOptions {
  cells: ImdbCell[];
  protocols: ImdbProtocol[];
  epochs: number;
  quick: boolean;
  seed: number;
  out: string;
  force: boolean;
  /** The IMDb tarball or folder (default `<repo>/../shared/data/imdb`). */
  dataDir: string | null;
  /** Test reviews the reference checks (the first N). */
  referenceSize: number;
  progress: "auto" | "epoch" | "variant" | "none";
  /** The study's masked models train on length-sorted reviews, batches shuffled whole. */
  bucketByLength: boolean;
  /**
   * `--early-stopping N`: the study's protocol adds Keras `EarlyStopping(monitor="val_loss",
   * patience=N, restore_best_weights=True)` (0: off, the study's own protocol). Not part of the
   * study: it answers whether the protocol's cells reach the aim when the last epoch's
   * overfitting is not what gets scored.
   */
  earlyStopping: number;
  /**
   * `--truncate pre|post`: which end of a review longer than the sequence length is cut. `post`
   * (default) keeps the first tokens, as TextVectorization's `output_sequence_length` does;
   * `pre` keeps the last ones, as Keras's `pad_sequences` does by default (`truncating="pre"`,
   * what a model trained on `keras.datasets.imdb` sees). Padding stays after the text.
   */
  truncate: "pre" | "post";
}

/** The protocol's sizes; `--quick` uses {@link IMDB_QUICK}. */
export const IMDB_FULL = {
  train: 20000,
  validation: 5000,
  test: 25000,
  maxTokens: 30000,
  sequenceLength: 400,
  embeddingDim: 128,
  units: 64,
  dropout: 0.2,
  batchSize: 32,
  learningRate: 1e-3,
  clipnorm: 5,
} as const;

/** `--quick`: small slices, short sequences, the same architecture. */
export const IMDB_QUICK = {
  ...IMDB_FULL,
  train: 256,
  validation: 64,
  test: 128,
  maxTokens: 2000,
  sequenceLength: 80,
} as const;

/** The study's published numbers (accuracy / F1 / AUC where given) for the report. */
export const STUDY_PUBLISHED: Record<ImdbProtocol, Record<ImdbCell, string>> = {
  keras: { rnn: "≈ 0.50 accuracy", lstm: "≈ 0.50 accuracy", gru: "≈ 0.50 accuracy" },
  study: {
    rnn: "≈ 0.51 accuracy",
    lstm: "≈ 0.51 accuracy",
    gru: "0.868 accuracy, F1 0.871, AUC 0.942",
  },
};

/** The `--help` text of `experiment imdb`. */
export const IMDB_USAGE: string = `deno task experiment imdb [options]

The Keras-vs-PyTorch RNN study's protocol on IMDb: 20,000 / 5,000 / 25,000 reviews, vocabulary
30,000, length 400, Embedding 128, 2 × (recurrent 64 → Dropout 0.2), Dense sigmoid, Adam 1e-3,
batch 32, 10 epochs; SimpleRNN, LSTM and GRU under Keras's defaults (no mask, no clipping) and
under the study's protocol (orthogonal recurrent init, clipnorm 5, ReduceLROnPlateau, mask_zero).
Full runs take hours on 2 cores.

  --cells A,B              rnn, lstm, gru (default all three)
  --protocols A,B          keras, study (default both)
  --epochs N               default 10 (--quick: 1)
  --quick                  small slices (${IMDB_QUICK.train} / ${IMDB_QUICK.validation} / ${IMDB_QUICK.test}), length ${IMDB_QUICK.sequenceLength}, vocabulary ${IMDB_QUICK.maxTokens}
  --seed N                 split, initial weights, shuffling and dropout (default 42)
  --reference-size N       test reviews the engine-vs-reference check covers (default 256)
  --data-dir PATH          the IMDb tarball (any name) or a folder holding it or aclImdb/
                           (default ../shared/data/imdb)
  --out DIR                default experiments/imdb[-quick]
  --force                  overwrite results already in --out
  --progress MODE          auto | epoch | variant | none
  --bucket-by-length       study protocol: train on reviews sorted by length, whole batches
                           shuffled (Keras shuffle="batch"), so masked layers skip shared padding
  --early-stopping N       study protocol plus EarlyStopping(val_loss, patience N,
                           restore_best_weights): not the study's, reported as "study+es"
  --truncate pre|post      reviews longer than the length keep their first tokens (post,
                           default, TextVectorization's) or their last ones (pre, Keras
                           pad_sequences' default)
`;

const CELLS: readonly ImdbCell[] = ["rnn", "lstm", "gru"];
const PROTOCOLS: readonly ImdbProtocol[] = ["keras", "study"];

/** Parses `experiment imdb` arguments (the word `imdb` included). */
export function parseImdbArgs(argv: readonly string[]): ImdbOptions {
  const { positional, flags } = splitArgs(argv, {
    value: new Set([
      "cells",
      "protocols",
      "epochs",
      "seed",
      "reference-size",
      "data-dir",
      "out",
      "progress",
      "early-stopping",
      "truncate",
    ]),
    boolean: new Set(["quick", "force", "help", "bucket-by-length"]),
  });
  if (positional.length !== 1 || positional[0] !== "imdb") {
    throw new UsageError("study", '"imdb" alone', positional.join(" "));
  }
  const pick = <T extends string>(name: string, allowed: readonly T[]): T[] => {
    const given = membersOf(
      `--${name}`,
      list(flags, name),
      allowed,
      `some of ${allowed.join(", ")}`,
    );
    return given.length ? given : [...allowed];
  };
  const quick = flags.has("quick");
  return {
    cells: pick("cells", CELLS),
    protocols: pick("protocols", PROTOCOLS),
    epochs: int(flags, "epochs", quick ? 1 : 10),
    quick,
    seed: int(flags, "seed", 42, 0),
    out: str(flags, "out") ?? `experiments/imdb${quick ? "-quick" : ""}`,
    force: flags.has("force"),
    dataDir: str(flags, "data-dir") ?? null,
    referenceSize: int(flags, "reference-size", 256),
    progress: oneOf(flags, "progress", ["auto", "epoch", "variant", "none"] as const, "auto"),
    bucketByLength: flags.has("bucket-by-length"),
    earlyStopping: int(flags, "early-stopping", 0, 0),
    truncate: oneOf(flags, "truncate", ["post", "pre"] as const, "post"),
  };
}

/** Sample indices by ascending review length (ids before the padding; stable for equal ones). */
export function lengthOrder(x: Tensor): Int32Array {
  const [n, time] = x.shape;
  const lengths = Int32Array.from({ length: n }, (_, i) => idsLength(x.data, i, time));
  return Int32Array.from({ length: n }, (_, i) => i).sort((a, b) =>
    lengths[a] - lengths[b] || a - b
  );
}

/** Tokens of row `row` of `width`-wide token ids before the padding (zeros at its end). */
function idsLength(ids: ArrayLike<number>, row: number, width: number): number {
  let len = width;
  while (len > 0 && ids[row * width + len - 1] === 0) len--;
  return len;
}

/** The rows of token ids `x` ([n, time]) in `order`. */
function reorderRows(x: Tensor, order: Int32Array): Tensor {
  const [n, time] = x.shape;
  const out = new Int32Array(n * time);
  order.forEach((from, i) => out.set(x.data.subarray(from * time, (from + 1) * time), i * time));
  return new Tensor(out, [n, time]);
}

/** The split's samples in `order`. */
function reorder(split: ImdbSplit, order: Int32Array): ImdbSplit {
  return { x: reorderRows(split.x, order), y: Int32Array.from(order, (i) => split.y[i]) };
}

/** `model.predict` of a split's probabilities, run in length order, returned in the split's. */
function predictInOrder(model: Model, x: Tensor, byLength: boolean): Float32Array {
  if (!byLength) return model.predict(x, { batchSize: 64 }).data as Float32Array;
  const order = lengthOrder(x);
  const p = model.predict(reorderRows(x, order), { batchSize: 64 }).data as Float32Array;
  const out = new Float32Array(p.length);
  order.forEach((to, i) => (out[to] = p[i]));
  return out;
}

/** One split as token ids and 0/1 labels. */
interface ImdbSplit {
  x: Tensor;
  y: Int32Array;
}

/** The vectorized splits. */
export interface ImdbData {
  train: ImdbSplit;
  validation: ImdbSplit;
  test: ImdbSplit;
  vocabularySize: number;
  source: string;
}

/** `<repo>/../shared/data/imdb` when present. */
function sharedImdb(): string | null {
  const path = fileURLToPath(new URL("../../../shared/data/imdb", import.meta.url));
  return existsSync(path) ? path : null;
}

/** The first `n` of `indices` after a seeded shuffle (all of them, shuffled, when n is larger). */
function sample(indices: Int32Array, n: number, seed: number): Int32Array {
  const order = new SeededRandom(seed).permutation(indices.length);
  return Int32Array.from(order.subarray(0, Math.min(n, indices.length)), (i) => indices[i]);
}

/** Texts vectorized per chunk in {@link keepLastTokens} (whole reviews pad to the chunk's longest). */
const PRE_TRUNCATE_CHUNK = 1000;

/**
 * Token ids `[texts, length]` keeping each text's last `length` tokens (Keras `pad_sequences`'
 * `truncating="pre"`), zeros after shorter texts. `vectorize` gives whole texts' ids padded with
 * zeros to the longest (TextVectorization without `output_sequence_length`); it runs on chunks so
 * one very long review does not pad every other.
 */
export function keepLastTokens(
  texts: readonly string[],
  length: number,
  vectorize: (texts: string[]) => { data: ArrayLike<number>; shape: readonly number[] },
): { data: Int32Array; shape: [number, number] } {
  const out = new Int32Array(texts.length * length);
  for (let c0 = 0; c0 < texts.length; c0 += PRE_TRUNCATE_CHUNK) {
    const { data, shape } = vectorize(texts.slice(c0, c0 + PRE_TRUNCATE_CHUNK));
    const [rows, width] = [shape[0], shape[1] ?? 0];
    for (let r = 0; r < rows; r++) {
      const len = idsLength(data, r, width);
      const from = Math.max(0, len - length);
      for (let t = from; t < len; t++) out[(c0 + r) * length + t - from] = data[r * width + t];
    }
  }
  return { data: out, shape: [texts.length, length] };
}

/** Loads IMDb, splits 20k / 5k (seeded, stratified) and vectorizes as the protocol says. */
export async function loadImdbData(o: ImdbOptions): Promise<ImdbData> {
  const dir = o.dataDir ?? sharedImdb();
  const imdb = await loadImdb(dir ? { dir } : {});
  const sizes = o.quick ? IMDB_QUICK : IMDB_FULL;
  const split = stratifiedSplit(imdb.train.labels, 0.2, o.seed);
  const trainIdx = sample(split.train, sizes.train, o.seed);
  const valIdx = sample(split.validation, sizes.validation, o.seed + 1);
  const testIdx = sample(
    Int32Array.from({ length: imdb.test.labels.length }, (_, i) => i),
    sizes.test,
    o.seed + 2,
  );
  const pre = o.truncate === "pre";
  const vectorizer = new TextVectorization({
    maxTokens: sizes.maxTokens,
    // `pre` cuts each review itself (below): the vectorizer then gives whole reviews.
    outputSequenceLength: pre ? null : sizes.sequenceLength,
  });
  const trainTexts = Array.from(trainIdx, (i) => imdb.train.texts[i]);
  vectorizer.adapt(trainTexts);
  const encode = (texts: string[], labels: ArrayLike<number>, idx: Int32Array): ImdbSplit => {
    const chosen = Array.from(idx, (i) => texts[i]);
    const x = pre
      ? keepLastTokens(chosen, sizes.sequenceLength, (part) => vectorizer.call(part))
      : vectorizer.call(chosen);
    return {
      x: new Tensor(x.data as Int32Array, x.shape),
      y: Int32Array.from(idx, (i) => labels[i]),
    };
  };
  return {
    train: encode(imdb.train.texts, imdb.train.labels, trainIdx),
    validation: encode(imdb.train.texts, imdb.train.labels, valIdx),
    test: encode(imdb.test.texts, imdb.test.labels, testIdx),
    vocabularySize: vectorizer.vocabularySize(),
    source: dir ?? "download cache",
  };
}

const CELL_CLASS: Record<ImdbCell, string> = { rnn: "SimpleRNN", lstm: "LSTM", gru: "GRU" };

function kerasLayer(className: string, config: Record<string, unknown>): KerasObject {
  return {
    module: "keras.layers",
    class_name: className,
    config: { trainable: true, dtype: "float32", ...config },
    registered_name: null,
  };
}

/** The study's model for `cell` under `protocol` (see the module doc). */
export function imdbConfig(
  cell: ImdbCell,
  protocol: ImdbProtocol,
  vocabularySize: number,
  sequenceLength: number,
): KerasObject {
  const s = IMDB_FULL;
  const cls = CELL_CLASS[cell];
  const layers: KerasObject[] = [
    kerasLayer("InputLayer", {
      name: "input_layer",
      batch_shape: [null, sequenceLength],
      dtype: "int32",
      sparse: false,
    }),
    kerasLayer("Embedding", {
      name: "embedding",
      input_dim: vocabularySize,
      output_dim: s.embeddingDim,
      embeddings_initializer: kerasInitializer("random_uniform"),
      mask_zero: protocol === "study",
    }),
  ];
  for (let i = 0; i < 2; i++) {
    const config: Record<string, unknown> = {
      name: `${cls.toLowerCase()}_${i}`,
      units: s.units,
      activation: "tanh",
      use_bias: true,
      return_sequences: i === 0,
      kernel_initializer: kerasInitializer("glorot_uniform"),
      recurrent_initializer: kerasInitializer("orthogonal"),
      bias_initializer: kerasInitializer("zeros"),
      dropout: 0,
      recurrent_dropout: 0,
    };
    if (cls !== "SimpleRNN") config.recurrent_activation = "sigmoid";
    if (cls === "LSTM") config.unit_forget_bias = true;
    if (cls === "GRU") config.reset_after = true;
    layers.push(kerasLayer(cls, config));
    layers.push(kerasLayer("Dropout", { name: `dropout_${i}`, rate: s.dropout }));
  }
  layers.push(kerasLayer("Dense", {
    name: "dense_output",
    units: 1,
    activation: "sigmoid",
    use_bias: true,
    kernel_initializer: kerasInitializer("glorot_uniform"),
    bias_initializer: kerasInitializer("zeros"),
  }));
  return {
    module: "keras",
    class_name: "Sequential",
    config: { name: `imdb_${cell}_${protocol}`, trainable: true, dtype: "float32", layers },
    registered_name: null,
  };
}

/** Binary scores of sigmoid outputs at threshold 0.5. */
export interface BinaryScores {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  auc: number;
}

/** Accuracy, precision, recall and F1 of the positive class at 0.5, and ROC AUC. */
export function binaryScores(y: ArrayLike<number>, p: ArrayLike<number>): BinaryScores {
  let tp = 0, fp = 0, fn = 0, correct = 0;
  for (let i = 0; i < y.length; i++) {
    const predicted = p[i] >= 0.5 ? 1 : 0;
    if (predicted === y[i]) correct++;
    if (predicted === 1 && y[i] === 1) tp++;
    else if (predicted === 1) fp++;
    else if (y[i] === 1) fn++;
  }
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  return {
    accuracy: correct / y.length,
    precision,
    recall,
    f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0,
    auc: rocAucBinary(y, p),
  };
}

/** One trained cell × protocol. */
export interface ImdbRun {
  id: string;
  cell: ImdbCell;
  protocol: ImdbProtocol;
  /** The protocol as the table names it ({@link protocolLabel}). */
  label: string;
  /** With `--early-stopping`: the epoch (1-based) whose weights were restored and scored. */
  scoredEpoch: number | null;
  test: BinaryScores;
  validationAccuracy: number;
  history: Record<string, number[]>;
  secondsPerEpoch: number;
  params: number;
  reference: { path: string; samples: number; maxAbsDiff: number; agreement: number };
  modelFile: string;
}

/** The run's results (`results.json`). */
export interface ImdbResults {
  options: ImdbOptions;
  data: { train: number; validation: number; test: number; vocabularySize: number; source: string };
  runs: ImdbRun[];
  wallClockSeconds: number;
}

class EpochListener extends Callback {
  constructor(readonly onEpoch: (epoch: number, logs: Logs) => void) {
    super();
  }
  override onEpochEnd(epoch: number, logs: Logs): void {
    this.onEpoch(epoch, logs);
  }
}

function labelsTensor(y: Int32Array): Tensor {
  return new Tensor(Float32Array.from(y), [y.length, 1]);
}

/** The protocol as the table names it: `study+es` when `--early-stopping` adds to the study's. */
export function protocolLabel(
  protocol: ImdbProtocol,
  o: Pick<ImdbOptions, "earlyStopping">,
): string {
  return protocol === "study" && o.earlyStopping > 0 ? "study+es" : protocol;
}

/** A run's id (its model file's name). */
function runId(cell: ImdbCell, protocol: ImdbProtocol, o: ImdbOptions): string {
  return `${cell}_${protocolLabel(protocol, o).replace("+", "_")}`;
}

/** Trains, saves and scores one cell under one protocol. */
async function runOne(
  cell: ImdbCell,
  protocol: ImdbProtocol,
  data: ImdbData,
  o: ImdbOptions,
  progress: ExperimentProgress,
): Promise<ImdbRun> {
  const s = IMDB_FULL;
  const id = runId(cell, protocol, o);
  const config = imdbConfig(cell, protocol, data.vocabularySize, data.train.x.shape[1]);
  const model: Model = buildModel({ config, weights: {}, kerasVersion: KERAS_VERSION }, {
    initialize: { seed: o.seed },
  });
  try {
    const study = protocol === "study";
    const early = study && o.earlyStopping > 0
      ? new EarlyStopping({
        monitor: "val_loss",
        patience: o.earlyStopping,
        restoreBestWeights: true,
      })
      : null;
    model.compile({
      optimizer: new Adam({
        learningRate: s.learningRate,
        ...(study ? { clipnorm: s.clipnorm } : {}),
      }),
      loss: "binary_crossentropy",
      seed: o.seed,
    });
    const callbacks: Callback[] = [
      new EpochListener((epoch, logs) => progress.epoch(id, epoch, o.epochs, logs)),
    ];
    if (study) {
      callbacks.unshift(
        new ReduceLROnPlateau({ monitor: "val_loss", factor: 0.5, patience: 2, minLr: 1e-5 }),
      );
      if (early) callbacks.unshift(early);
    }
    // Only masked layers skip padding: bucketing is for the study's protocol.
    const bucket = study && o.bucketByLength;
    const train = bucket ? reorder(data.train, lengthOrder(data.train.x)) : data.train;
    const val = bucket ? reorder(data.validation, lengthOrder(data.validation.x)) : data.validation;
    const t0 = performance.now();
    const history = await model.fit(train.x, labelsTensor(train.y), {
      epochs: o.epochs,
      batchSize: s.batchSize,
      validationData: [val.x, labelsTensor(val.y)],
      callbacks,
      verbose: 0,
      seed: o.seed,
      shuffle: bucket ? "batch" : true,
    });
    const seconds = (performance.now() - t0) / 1000;
    const probs = predictInOrder(model, data.test.x, bucket);
    const valProbs = predictInOrder(model, data.validation.x, bucket);
    const spec = { ...model.toSpec(), kerasVersion: KERAS_VERSION };
    const modelFile = `models/${id}.keras`;
    await Deno.mkdir(join(o.out, "models"), { recursive: true });
    await saveKeras(spec, join(o.out, modelFile));
    const n = Math.min(o.referenceSize, data.test.y.length);
    const ref = await referencePredict(spec, data.test.x.sliceBatch(0, n), "auto");
    let maxAbsDiff = 0, agree = 0;
    for (let i = 0; i < n; i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ref.probs[i] - probs[i]));
      if ((ref.probs[i] >= 0.5) === (probs[i] >= 0.5)) agree++;
    }
    return {
      id,
      cell,
      protocol,
      label: protocolLabel(protocol, o),
      scoredEpoch: early ? early.bestEpoch + 1 : null,
      test: binaryScores(data.test.y, probs),
      validationAccuracy: binaryScores(data.validation.y, valProbs).accuracy,
      history: history.history,
      secondsPerEpoch: seconds / Math.max(1, history.epoch.length),
      params: model.countParams(),
      reference: { path: ref.path, samples: n, maxAbsDiff, agreement: agree / Math.max(1, n) },
      modelFile,
    };
  } finally {
    model.dispose();
  }
}

const f3 = (v: number) => v.toFixed(3);

/** The results table (markdown). */
export function imdbTable(runs: readonly ImdbRun[]): string {
  const rows = [
    "| cell | protocol | accuracy | precision | recall | F1 | AUC | s / epoch | study reported | engine vs reference (max \\|Δp\\|, agreement) |",
    "| ---- | -------- | -------- | --------- | ------ | -- | --- | --------- | -------------- | ------------------------------------------ |",
  ];
  for (const r of runs) {
    const t = r.test;
    rows.push(
      `| ${CELL_CLASS[r.cell]} | ${r.label}${
        r.scoredEpoch ? ` (epoch ${r.scoredEpoch} of ${r.history.loss?.length ?? "?"})` : ""
      } | ${f3(t.accuracy)} | ${f3(t.precision)} | ${f3(t.recall)} | ${f3(t.f1)} | ${f3(t.auc)} | ${
        r.secondsPerEpoch.toFixed(1)
      } | ${STUDY_PUBLISHED[r.protocol][r.cell]} | ${r.reference.maxAbsDiff.toExponential(1)}, ${
        (100 * r.reference.agreement).toFixed(1)
      }% of ${r.reference.samples} (${r.reference.path}) |`,
    );
  }
  return rows.join("\n");
}

/** `report.md`: the protocol, the table, and how far each cell is from the aim (≥ 0.87). */
export function imdbReport(r: ImdbResults): string {
  const o = r.options;
  const sizes = o.quick ? IMDB_QUICK : IMDB_FULL;
  const reached = r.runs.filter((x) => x.protocol === "study" && x.test.accuracy >= 0.87);
  return [
    "# IMDb: SimpleRNN, LSTM and GRU under Keras's defaults and the study's protocol",
    "",
    `- data: IMDb (${r.data.source}) — ${r.data.train} train / ${r.data.validation} validation / ` +
    `${r.data.test} test reviews, vocabulary ${r.data.vocabularySize}, length ${sizes.sequenceLength}`,
    `- model: Embedding ${sizes.embeddingDim} → 2 × (recurrent ${sizes.units} → Dropout ` +
    `${sizes.dropout}) → Dense(1, sigmoid); binary cross-entropy, Adam ${sizes.learningRate}, ` +
    `batch ${sizes.batchSize}, ${o.epochs} epoch${o.epochs === 1 ? "" : "s"}, seed ${o.seed}`,
    "- keras: no mask, no clipping, constant learning rate (Keras's recurrent init is orthogonal " +
    "already); study: mask_zero, clipnorm 5, ReduceLROnPlateau (val_loss, factor 0.5, patience 2)",
    "- Dropout layers after each recurrent layer stand for the study's dropout 0.2",
    o.earlyStopping > 0
      ? `- study+es: the study's protocol plus EarlyStopping(val_loss, patience ${o.earlyStopping}, ` +
        "restore_best_weights) — not part of the study; the scored weights are the best epoch's"
      : "",
    o.bucketByLength
      ? '- study protocol trained on length-sorted reviews with Keras shuffle="batch" ' +
        "(--bucket-by-length): batches of similar lengths, shared padding skipped"
      : "",
    o.truncate === "pre"
      ? `- reviews longer than ${sizes.sequenceLength} tokens keep their last ${sizes.sequenceLength} ` +
        "(--truncate pre, Keras pad_sequences' default; TextVectorization keeps the first)"
      : "",
    o.quick
      ? "- a --quick run on small slices: the numbers check the pipeline, not the models"
      : "",
    "",
    imdbTable(r.runs),
    "",
    `Aim: every cell ≥ 0.87 accuracy under the study's protocol — reached by ${
      reached.length ? reached.map((x) => `${CELL_CLASS[x.cell]} (${x.label})`).join(", ") : "none"
    } of ${r.runs.filter((x) => x.protocol === "study").length}.`,
    "",
    `Wall-clock ${r.wallClockSeconds.toFixed(0)} s.`,
    "",
  ].filter((line, i, all) => line !== "" || all[i - 1] !== "").join("\n");
}

/**
 * Runs every selected cell × protocol and writes `results.json` and `report.md`, after each cell
 * (a full run takes hours: one stopped early keeps the cells it finished).
 */
export async function runImdb(o: ImdbOptions, progress: ExperimentProgress): Promise<ImdbResults> {
  const t0 = performance.now();
  checkOutputDir(o.out, o.force);
  const data = await loadImdbData(o);
  progress.info(
    `IMDb: ${data.train.y.length} train / ${data.validation.y.length} validation / ` +
      `${data.test.y.length} test, vocabulary ${data.vocabularySize} (from ${data.source})`,
  );
  await Deno.mkdir(o.out, { recursive: true });
  const runs: ImdbRun[] = [];
  const results = (): ImdbResults => ({
    options: o,
    data: {
      train: data.train.y.length,
      validation: data.validation.y.length,
      test: data.test.y.length,
      vocabularySize: data.vocabularySize,
      source: data.source,
    },
    runs,
    wallClockSeconds: (performance.now() - t0) / 1000,
  });
  const write = async (r: ImdbResults) => {
    await Deno.writeTextFile(join(o.out, "results.json"), JSON.stringify(r, null, 2) + "\n");
    await Deno.writeTextFile(join(o.out, "report.md"), imdbReport(r));
  };
  const jobs = o.cells.flatMap((c) => o.protocols.map((p) => [c, p] as const));
  for (const [i, [cell, protocol]] of jobs.entries()) {
    const id = runId(cell, protocol, o);
    progress.variantStart(i, jobs.length, id, `${CELL_CLASS[cell]}, ${protocolLabel(protocol, o)}`);
    const r = await runOne(cell, protocol, data, o, progress);
    runs.push(r);
    progress.variantEnd(
      i,
      jobs.length,
      id,
      `accuracy ${f3(r.test.accuracy)}, F1 ${f3(r.test.f1)}, AUC ${f3(r.test.auc)}, ` +
        `${r.secondsPerEpoch.toFixed(1)} s/epoch` +
        (r.scoredEpoch ? `, epoch ${r.scoredEpoch} of ${r.history.loss.length} scored` : ""),
    );
    if (i < jobs.length - 1) await write(results());
  }
  const final = results();
  await write(final);
  return final;
}
