/**
 * The course project's ("seeds'") model shapes as engine specs with seeded random weights, shared by
 * the demo, the benches and the end-to-end tests.
 */
import type { ModelSpec, WeightTensor } from "../mod.ts";
import { Rng } from "./random.ts";

/** Glorot-uniform random weights, so activations stay in a realistic range. */
function glorot(
  rng: Rng,
  name: string,
  shape: number[],
  fanIn: number,
  fanOut: number,
): WeightTensor {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return { name, shape, data: rng.floats(shape.reduce((a, b) => a * b, 1), -limit, limit) };
}

function small(rng: Rng, name: string, shape: number[]): WeightTensor {
  return { name, shape, data: rng.floats(shape.reduce((a, b) => a * b, 1), -0.1, 0.1) };
}

/** Options of {@link seedsCnnSpec}. */
export interface SeedsCnnOptions {
  filters?: number[];
  kernelSize?: number;
  pooling?: "max" | "average";
  imageSize?: number;
  channels?: number;
  classes?: number;
  seed?: number;
}

/** Conv-Pool × len(filters) → Flatten → Dense softmax, on `imageSize`² × `channels` images. */
export function seedsCnnSpec(options: SeedsCnnOptions = {}): ModelSpec {
  const {
    filters = [32, 64, 64],
    kernelSize = 3,
    pooling = "max",
    imageSize = 32,
    channels = 3,
    classes = 10,
    seed = 1,
  } = options;
  const rng = new Rng(seed);
  const layers: unknown[] = [{
    class_name: "InputLayer",
    config: {
      name: "input_layer",
      batch_shape: [null, imageSize, imageSize, channels],
      dtype: "float32",
    },
  }];
  const weights: Record<string, WeightTensor[]> = {};
  let c = channels, size = imageSize;
  filters.forEach((f, i) => {
    const conv = `conv2d_${i}`;
    layers.push({
      class_name: "Conv2D",
      config: {
        name: conv,
        filters: f,
        kernel_size: [kernelSize, kernelSize],
        strides: [1, 1],
        padding: "same",
        dilation_rate: [1, 1],
        activation: "relu",
        use_bias: true,
      },
    });
    const fan = kernelSize * kernelSize;
    weights[conv] = [
      glorot(rng, "kernel", [kernelSize, kernelSize, c, f], fan * c, fan * f),
      small(rng, "bias", [f]),
    ];
    const pool = `${pooling}_pooling2d_${i}`;
    layers.push({
      class_name: pooling === "max" ? "MaxPooling2D" : "AveragePooling2D",
      config: { name: pool, pool_size: [2, 2], strides: [2, 2], padding: "valid" },
    });
    c = f;
    size = Math.floor(size / 2);
  });
  layers.push({ class_name: "Flatten", config: { name: "flatten" } });
  const flat = size * size * c;
  layers.push({
    class_name: "Dense",
    config: { name: "dense", units: classes, activation: "softmax" },
  });
  weights.dense = [
    glorot(rng, "kernel", [flat, classes], flat, classes),
    small(rng, "bias", [classes]),
  ];
  return { config: { class_name: "Sequential", config: { name: "seeds_cnn", layers } }, weights };
}

/** Options of {@link seedsTextSpec}. */
export interface SeedsTextOptions {
  vocabSize?: number;
  embeddingDim?: number;
  units?: number[];
  cell?: "SimpleRNN" | "LSTM" | "GRU";
  bidirectional?: boolean;
  sequenceLength?: number;
  classes?: number;
  seed?: number;
}

/**
 * Embedding(mask_zero) → [Bidirectional](cell units[i], return_sequences except the last) → Dropout
 * → Dense softmax.
 */
export function seedsTextSpec(options: SeedsTextOptions = {}): ModelSpec {
  const {
    vocabSize = 3000,
    embeddingDim = 64,
    units = [64],
    cell = "LSTM",
    bidirectional = true,
    sequenceLength = 100,
    classes = 3,
    seed = 1,
  } = options;
  const rng = new Rng(seed);
  const gates = cell === "LSTM" ? 4 : cell === "GRU" ? 3 : 1;
  const layers: unknown[] = [
    {
      class_name: "InputLayer",
      config: { name: "input_layer", batch_shape: [null, sequenceLength], dtype: "int32" },
    },
    {
      class_name: "Embedding",
      config: {
        name: "embedding",
        input_dim: vocabSize,
        output_dim: embeddingDim,
        mask_zero: true,
      },
    },
  ];
  const weights: Record<string, WeightTensor[]> = {
    embedding: [{
      name: "embeddings",
      shape: [vocabSize, embeddingDim],
      data: rng.floats(vocabSize * embeddingDim, -0.05, 0.05),
    }],
  };
  let inDim = embeddingDim;
  const snake = cell === "SimpleRNN" ? "simple_rnn" : cell.toLowerCase();
  units.forEach((u, i) => {
    const rnnConfig: Record<string, unknown> = {
      name: `${snake}_${i}`,
      units: u,
      activation: "tanh",
      return_sequences: i < units.length - 1,
      use_bias: true,
    };
    if (cell !== "SimpleRNN") rnnConfig.recurrent_activation = "sigmoid";
    if (cell === "GRU") rnnConfig.reset_after = false;
    const cellWeights = () => [
      glorot(rng, "kernel", [inDim, gates * u], inDim, gates * u),
      glorot(rng, "recurrent_kernel", [u, gates * u], u, gates * u),
      small(rng, "bias", [gates * u]),
    ];
    if (bidirectional) {
      const name = `bidirectional_${i}`;
      layers.push({
        class_name: "Bidirectional",
        config: { name, merge_mode: "concat", layer: { class_name: cell, config: rnnConfig } },
      });
      weights[name] = [...cellWeights(), ...cellWeights()];
      inDim = 2 * u;
    } else {
      layers.push({ class_name: cell, config: rnnConfig });
      weights[rnnConfig.name as string] = cellWeights();
      inDim = u;
    }
  });
  layers.push({ class_name: "Dropout", config: { name: "dropout", rate: 0.5 } });
  layers.push({
    class_name: "Dense",
    config: { name: "dense", units: classes, activation: "softmax" },
  });
  weights.dense = [
    glorot(rng, "kernel", [inDim, classes], inDim, classes),
    small(rng, "bias", [classes]),
  ];
  return { config: { class_name: "Sequential", config: { name: "seeds_text", layers } }, weights };
}

/** Random post-padded id sequences: each row has 1..length real ids in [1, vocab), then zeros. */
export function randomIdBatch(rng: Rng, batch: number, length: number, vocab: number): Int32Array {
  const ids = new Int32Array(batch * length);
  for (let b = 0; b < batch; b++) {
    const n = rng.int(1, length + 1);
    for (let t = 0; t < n; t++) ids[b * length + t] = rng.int(1, vocab);
  }
  return ids;
}
