import { Adam, buildModel, macroF1, type ModelSpec, Tensor } from "../../mod.ts";
import { loadNusaxSentiment } from "@scratchnet/datasets";
import { TextVectorization } from "@scratchnet/tokenizer";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { postPaddedIds, textModelSpec } from "../../testing/rnn_cases.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";
import { type TfBatch, tfjsKerasAdam } from "../../testing/tfjs_training.ts";

const TIME = 10, VOCAB = 40, CLASSES = 3, LR = 5e-3;

/** Embedding(mask_zero) → Bidirectional(LSTM) → Dense softmax, random weights. */
function biLstmSpec(rng: Rng): ModelSpec {
  return textModelSpec(rng, { time: TIME, vocab: VOCAB, embeddingDim: 6 }, [
    {
      class_name: "Bidirectional",
      config: { name: "bi", layer: { class_name: "LSTM", config: { name: "lstm", units: 7 } } },
    },
    { class_name: "Dense", config: { name: "head", units: CLASSES, activation: "softmax" } },
  ]);
}

function engineTrain(spec: ModelSpec, data: TfBatch[]): Float32Array[][] {
  const model = buildModel(spec);
  model.compile({
    optimizer: new Adam({ learningRate: LR }),
    loss: "sparse_categorical_crossentropy",
  });
  const after: Float32Array[][] = [];
  try {
    for (const b of data) {
      model.trainOnBatch(new Tensor(b.x, b.xShape), new Tensor(b.y, [b.y.length]));
      after.push(model.getWeights().map((t) => t.data));
    }
  } finally {
    model.dispose();
  }
  return after;
}

Deno.test("20 Adam steps on a masked BiLSTM text model: engine and TF.js end ≤ 1e-4 apart", async () => {
  await tfReady();
  const rng = new Rng(1201);
  const spec = biLstmSpec(rng);
  const data: TfBatch[] = Array.from({ length: 20 }, () => ({
    // Ids below 30 only: rows 30..39 of the table are never looked up.
    x: postPaddedIds(rng, 8, TIME, 30, { fullRow: true }),
    xShape: [8, TIME],
    y: Float32Array.from({ length: 8 }, () => rng.int(0, CLASSES)),
  }));
  const steps = engineTrain(spec, data);
  const got = steps[steps.length - 1];
  const want = tfjsKerasAdam(spec, data, { name: "sparse_categorical_crossentropy" }, { lr: LR });
  if (got.length !== want.length) throw new Error(`${got.length} weights vs ${want.length}`);
  const d = Math.max(...got.map((g, i) => maxAbsDiff(g, want[i])));
  const start = Object.values(spec.weights).flat().map((w) => w.data);
  const moved = Math.max(...got.map((g, i) => maxAbsDiff(g, start[i])));
  console.log(`BiLSTM 20 Adam steps: max |Δw| vs TF.js ${d.toExponential(2)}, moved ${moved}`);
  if (!(d <= 1e-4)) throw new Error(`weights differ from TF.js by ${d} > 1e-4`);
  if (!(moved > 1e-2)) throw new Error(`weights barely moved: ${moved}`);
  // Dense Adam on the table (as TF.js): a row used earlier but absent from the last batch
  // still moves in the last step (its first moment is non-zero), a row never used does not.
  const dim = 6;
  const used = new Set<number>(data.slice(0, -1).flatMap((b) => Array.from(b.x)));
  const last = new Set<number>(Array.from(data[data.length - 1].x));
  const before = steps[steps.length - 2][0], after = got[0];
  const rowMoved = (r: number) =>
    maxAbsDiff(before.subarray(r * dim, (r + 1) * dim), after.subarray(r * dim, (r + 1) * dim));
  // Row 0 is padding: masked steps send it no gradient, so it never moves.
  const stale = [...used].filter((r) => r !== 0 && !last.has(r));
  const never = Array.from({ length: VOCAB }, (_, r) => r).filter((r) =>
    !used.has(r) && !last.has(r)
  );
  if (!stale.length || !stale.every((r) => rowMoved(r) > 0)) {
    throw new Error(`rows absent from the last batch should still move (rows ${stale})`);
  }
  if (never.length !== 10 || never.some((r) => rowMoved(r) !== 0)) {
    throw new Error(`never-used rows moved (${never})`);
  }
});

const NUSAX_DIR = new URL("../../../../../shared/data/nusax-sentiment", import.meta.url);
const SEQ = 64;

Deno.test("BiLSTM trained on NusaX Indonesian: validation loss falls, test macro-F1 beats the majority class", async () => {
  const data = await loadNusaxSentiment({ dir: NUSAX_DIR });
  const vectorizer = new TextVectorization({ maxTokens: 3000, outputSequenceLength: SEQ });
  vectorizer.adapt(data.train.texts);
  const vocab = vectorizer.vocabularySize();
  const ids = (texts: string[]) => {
    const v = vectorizer.call(texts);
    return new Tensor(v.data as Int32Array, v.shape);
  };
  const labels = (l: Int32Array) => new Tensor(Float32Array.from(l), [l.length]);
  const spec: ModelSpec = {
    config: {
      class_name: "Sequential",
      config: {
        name: "nusax_bilstm",
        layers: [
          {
            class_name: "InputLayer",
            config: { name: "ids", batch_shape: [null, SEQ], dtype: "int32" },
          },
          {
            class_name: "Embedding",
            config: { name: "embedding", input_dim: vocab, output_dim: 32, mask_zero: true },
          },
          {
            class_name: "Bidirectional",
            config: {
              name: "bi",
              layer: { class_name: "LSTM", config: { name: "lstm", units: 16 } },
            },
          },
          { class_name: "Dense", config: { name: "head", units: 3, activation: "softmax" } },
        ],
      },
    },
    weights: {},
    kerasVersion: "3.10.0",
  };
  const model = buildModel(spec, { initialize: { seed: 7 } });
  try {
    model.compile({
      optimizer: new Adam({ learningRate: 5e-3 }),
      loss: "sparse_categorical_crossentropy",
      metrics: ["accuracy"],
      seed: 3,
    });
    const valX = ids(data.valid.texts), valY = labels(data.valid.labels);
    const initial = model.evaluate(valX, valY).loss;
    const history = await model.fit(ids(data.train.texts), labels(data.train.labels), {
      epochs: 4,
      batchSize: 32,
      validationData: [valX, valY],
      verbose: 0,
    });
    const valLoss = history.history.val_loss;
    const probs = model.predict(ids(data.test.texts)).data;
    const predicted = Int32Array.from({ length: data.test.labels.length }, (_, i) => {
      let best = 0;
      for (let c = 1; c < 3; c++) if (probs[i * 3 + c] > probs[i * 3 + best]) best = c;
      return best;
    });
    const f1 = macroF1(data.test.labels, predicted, 3);
    // Always predicting the majority class of the test split scores this macro-F1.
    const counts = [0, 1, 2].map((c) => data.test.labels.filter((l) => l === c).length);
    const p = Math.max(...counts) / data.test.labels.length;
    const majorityF1 = (2 * p / (1 + p)) / 3;
    console.log(
      `NusaX BiLSTM (vocab ${vocab}): val loss ${initial.toFixed(3)} → ${
        valLoss.map((v) => v.toFixed(3)).join(", ")
      }; test macro-F1 ${f1.toFixed(3)} (majority class ${majorityF1.toFixed(3)})`,
    );
    if (!(Math.min(...valLoss) < 0.8 * initial)) {
      throw new Error(`validation loss did not fall: ${initial} → ${valLoss}`);
    }
    if (!(f1 >= 0.55 && f1 > 2 * majorityF1)) {
      throw new Error(`test macro-F1 ${f1} (majority class ${majorityF1})`);
    }
  } finally {
    model.dispose();
  }
});
