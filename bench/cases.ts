/**
 * The benchmarked models: the seeds' CNNs (conv-layer count, filter combinations, kernel sizes)
 * and text models (SimpleRNN / LSTM / GRU, uni- or bidirectional, 1–3 layers, 64 or 128 units,
 * length 100), and a residual CNN (a Keras Functional graph with Add merges), with seeded inputs
 * and forward FLOP counts. Shared by the `deno bench` suites and `scripts/bench_report.ts`.
 */
import type { ModelSpec } from "../packages/engine/mod.ts";
import { Tensor } from "../packages/engine/mod.ts";
import { tf } from "../packages/engine/testing/tfjs_reference.ts";
import { randomizeWeights, specFromTfjs } from "../packages/engine/testing/tfjs_graphs.ts";
import {
  applicationFamily,
  applicationInputs,
} from "../packages/engine/testing/tfjs_applications.ts";
import {
  randomIdBatch,
  seedsCnnSpec,
  seedsTextSpec,
} from "../packages/engine/testing/seeds_models.ts";
import { Rng } from "../packages/engine/testing/random.ts";

/** One benchmarked model. */
export interface ModelCase {
  /** Short stable id, e.g. `cnn-3x3-32.64.64` or `text-bi-lstm-1x64`. */
  id: string;
  family: "cnn" | "text" | "graph" | "application";
  /** Human-readable description for tables. */
  label: string;
  spec: ModelSpec;
  /**
   * Builds the same model (same weights) in TF.js on the active backend — graphs, which the
   * Sequential reference builder (`tfjsModelFromSpec`) cannot build; chains leave it out.
   */
  tfjsModel?: (backend: "wasm" | "cpu") => tf.LayersModel | Promise<tf.LayersModel>;
  /** Largest |engine − TF.js wasm| output difference accepted before timing (graphs: 1e-4). */
  tolerance?: number;
  /** Batch sizes it runs at (default: every one of `BATCHES` in `models_section.ts`). */
  batches?: number[];
  /**
   * Samples of the TF.js cpu slice when a call would be too slow (default `CPU_SLICE`); 1 for the
   * full-size applications, whose one TF.js cpu image takes seconds.
   */
  cpuSlice?: number;
  /** Square input side of image models (the applications' table shows it). */
  inputSize?: number;
  /** A seeded input batch of `batch` samples. */
  input(batch: number): Tensor;
  /** Forward multiply-add FLOPs (2 per MAC) per sample of the GEMM-shaped layers. */
  flopsPerSample: number;
}

/** Image side, channels and classes of the seeds' CNNs (CIFAR-10-like). */
const IMAGE = 32, CHANNELS = 3;
/** Vocabulary, embedding width and sequence length of the seeds' text models. */
const VOCAB = 3000, EMBED = 64, LENGTH = 100;

/** A seeds CNN: Conv(k×k, same, relu) + MaxPool 2×2 per entry of `filters`, Flatten, Dense. */
export function cnnCase(filters: number[], kernelSize: number): ModelCase {
  const spec = seedsCnnSpec({ filters, kernelSize, imageSize: IMAGE, channels: CHANNELS });
  let flops = 0, size = IMAGE, c = CHANNELS;
  for (const f of filters) {
    flops += 2 * size * size * f * kernelSize * kernelSize * c;
    size = Math.floor(size / 2);
    c = f;
  }
  flops += 2 * size * size * c * 10;
  const rng = new Rng(1000 + filters.length * 100 + kernelSize);
  return {
    id: `cnn-${kernelSize}x${kernelSize}-${filters.join(".")}`,
    family: "cnn",
    label: `CNN ${filters.length} conv ${filters.join("-")} k${kernelSize}`,
    spec,
    input: (b) =>
      new Tensor(rng.floats(b * IMAGE * IMAGE * CHANNELS, 0, 1), [b, IMAGE, IMAGE, CHANNELS]),
    flopsPerSample: flops,
  };
}

/** Layer names and sizes of {@link residualCnnModel}. */
export interface ResidualCnnShape {
  /** Residual blocks (default 2). */
  blocks?: number;
  /** Filters of every conv (default 32). */
  filters?: number;
  /** Weight seed (default 7). */
  seed?: number;
}

/**
 * A residual CNN as a TF.js Functional model with seeded random weights, on the active TF.js
 * backend: 32×32×3 → Conv2D(filters, 3×3, same, relu) `stem` → `blocks` × [Conv2D(3×3, same,
 * relu) `res{i}_a` → Conv2D(3×3, same) `res{i}_b` → Add(with the block input) `res{i}_add` →
 * ReLU `res{i}_relu`] → MaxPooling2D 2×2 `pool` → GlobalAveragePooling2D `gap` → Dense(10,
 * softmax) `out`. The same seed gives the same weights on every backend.
 */
export function residualCnnModel(
  { blocks = 2, filters = 32, seed = 7 }: ResidualCnnShape = {},
): tf.LayersModel {
  type Sym = tf.SymbolicTensor;
  const conv = (name: string, activation?: "relu") =>
    tf.layers.conv2d({ name, filters, kernelSize: 3, padding: "same", activation });
  const input = tf.input({ name: "image", shape: [IMAGE, IMAGE, CHANNELS] });
  let h = conv("stem", "relu").apply(input) as Sym;
  for (let i = 1; i <= blocks; i++) {
    let r = conv(`res${i}_a`, "relu").apply(h) as Sym;
    r = conv(`res${i}_b`).apply(r) as Sym;
    h = tf.layers.add({ name: `res${i}_add` }).apply([r, h]) as Sym;
    h = tf.layers.activation({ name: `res${i}_relu`, activation: "relu" }).apply(h) as Sym;
  }
  h = tf.layers.maxPooling2d({ name: "pool", poolSize: 2 }).apply(h) as Sym;
  h = tf.layers.globalAveragePooling2d({ name: "gap" }).apply(h) as Sym;
  const out = tf.layers.dense({ name: "out", units: 10, activation: "softmax" }).apply(h) as Sym;
  const model = tf.model({ name: `residual_cnn_${blocks}`, inputs: input, outputs: out });
  randomizeWeights(model, new Rng(seed));
  return model;
}

/** The engine spec of {@link residualCnnModel} (config `model.toJSON(null, false)`). */
export function residualCnnSpec(shape: ResidualCnnShape = {}): ModelSpec {
  const model = residualCnnModel(shape);
  try {
    return specFromTfjs(model);
  } finally {
    model.dispose();
  }
}

/**
 * The residual CNN of issue 14 as a report case: {@link residualCnnModel} with 32 filters. Needs
 * an initialised TF.js backend (its weights are drawn in TF.js).
 */
export function residualCnnCase(blocks = 2): ModelCase {
  const filters = 32, seed = 7;
  const spec = residualCnnSpec({ blocks, filters, seed });
  const conv = (c: number) => 2 * IMAGE * IMAGE * filters * 9 * c;
  const flops = conv(CHANNELS) + 2 * blocks * conv(filters) + 2 * filters * 10;
  const rng = new Rng(3000 + blocks);
  return {
    id: `graph-rescnn-${blocks}x${filters}`,
    family: "graph",
    label: `Residual CNN ${blocks} blocks ${filters} k3`,
    spec,
    tfjsModel: () => residualCnnModel({ blocks, filters, seed }),
    tolerance: 1e-4,
    input: (b) =>
      new Tensor(rng.floats(b * IMAGE * IMAGE * CHANNELS, 0, 1), [b, IMAGE, IMAGE, CHANNELS]),
    flopsPerSample: flops,
  };
}

/** The keras.applications families the report runs (issue 15). */
export const APPLICATION_CASES = ["MobileNetV2", "ResNet50", "InceptionV3"] as const;

/** Input side of the applications under `--quick` (Keras's defaults otherwise). */
export const QUICK_APPLICATION_SIZE = 96;

/**
 * Forward multiply-add FLOPs per sample of `model`'s convolutions (Conv2D, DepthwiseConv2D) and
 * Dense layers: 2 · output pixels · kernel elements for a rank-4 kernel, 2 · kernel elements for
 * a Dense one.
 */
export function tfjsModelFlops(model: tf.LayersModel): number {
  let flops = 0;
  for (const layer of model.layers) {
    const kernel = layer.weights.find((w) => /kernel$/.test(w.originalName ?? w.name));
    if (!kernel) continue;
    const size = (kernel.shape as number[]).reduce((a, b) => a * b, 1);
    const out = layer.outputShape as number[];
    flops += kernel.shape.length === 4 ? 2 * out[1] * out[2] * size : 2 * size;
  }
  return flops;
}

/**
 * A keras.applications replica (`packages/engine/testing/tfjs_applications.ts`: width 1, full
 * depth, 1000 classes, random weights with calibrated BatchNormalization statistics) at
 * `inputSize` (default: the family's Keras default, 224 or 299) as a report case at batch 1 and
 * 8. The replica is built once in TF.js wasm (needs the backend initialised); the engine runs
 * its `specFromTfjs` config and weights, TF.js cpu a copy rebuilt from the same config with the
 * same weights (so the calibration runs once, not on the slow backend).
 */
export function applicationCase(name: string, inputSize?: number): ModelCase {
  const family = applicationFamily(name);
  const size = inputSize ?? family.defaultSize;
  const ref = family.build({ inputSize: size, seed: 1 });
  const spec = specFromTfjs(ref);
  const topology = ref.toJSON(null, false);
  const weights = ref.getWeights().map((w) => ({
    shape: w.shape,
    data: (w.dataSync() as Float32Array).slice(),
  }));
  const flops = tfjsModelFlops(ref);
  let used = false;
  const rng = new Rng(4000 + size);
  return {
    id: `app-${name.toLowerCase()}-${size}`,
    family: "application",
    label: `${name} ${size}×${size}`,
    spec,
    tfjsModel: async (backend) => {
      // The first wasm build is the calibrated replica itself; other builds copy it.
      if (backend === "wasm" && !used) {
        used = true;
        return ref;
      }
      const model = await tf.models.modelFromJSON(topology as unknown as tf.io.ModelJSON);
      model.setWeights(weights.map((w) => tf.tensor(w.data, w.shape)));
      return model;
    },
    tolerance: 1e-4,
    batches: [1, 8],
    cpuSlice: 1,
    inputSize: size,
    input: (b) => {
      const h = applicationInputs(rng, b, size, family.pixelRange);
      return new Tensor(h.data, h.shape);
    },
    flopsPerSample: flops,
  };
}

/** Cell names as Keras spells them. */
export type Cell = "SimpleRNN" | "LSTM" | "GRU";

/** A seeds text model: Embedding(mask_zero) → [Bi](cell)×layers → Dropout → Dense. */
export function textCase(
  cell: Cell,
  bidirectional: boolean,
  layers: number,
  units: number,
): ModelCase {
  const spec = seedsTextSpec({
    cell,
    bidirectional,
    units: new Array(layers).fill(units),
    vocabSize: VOCAB,
    embeddingDim: EMBED,
    sequenceLength: LENGTH,
  });
  const gates = cell === "LSTM" ? 4 : cell === "GRU" ? 3 : 1;
  const dirs = bidirectional ? 2 : 1;
  let flops = 0, inDim = EMBED;
  for (let i = 0; i < layers; i++) {
    flops += dirs * LENGTH * 2 * (inDim + units) * gates * units;
    inDim = dirs * units;
  }
  const rng = new Rng(2000 + layers * 10 + units);
  const kind = `${bidirectional ? "bi" : "uni"}-${cell.toLowerCase()}`;
  return {
    id: `text-${kind}-${layers}x${units}`,
    family: "text",
    label: `${bidirectional ? "Bi" : ""}${cell} ${layers}×${units}`,
    spec,
    input: (b) => new Tensor(randomIdBatch(rng, b, LENGTH, VOCAB), [b, LENGTH]),
    flopsPerSample: flops,
  };
}

/**
 * The report's models. Default: each CNN dimension varied around the seeds' default
 * (3 conv 32-64-64 k3) and, per cell, uni/bi × 1–3 layers × 64/128 units in 4 combinations.
 * `full`: every combination (27 CNNs, 36 text models).
 */
export function reportCases(full = false): ModelCase[] {
  const combos = [[16, 32, 64], [32, 64, 128], [64, 64, 64]];
  const cnn: ModelCase[] = [];
  if (full) {
    for (const f of combos) {
      for (const k of [3, 5, 7]) for (const n of [1, 2, 3]) cnn.push(cnnCase(f.slice(0, n), k));
    }
  } else {
    cnn.push(cnnCase([32], 3), cnnCase([32, 64], 3), cnnCase([32, 64, 64], 3));
    for (const f of combos) cnn.push(cnnCase(f, 3));
    cnn.push(cnnCase([32, 64, 64], 5), cnnCase([32, 64, 64], 7));
  }
  const text: ModelCase[] = [];
  for (const cell of ["SimpleRNN", "LSTM", "GRU"] as Cell[]) {
    if (full) {
      for (const bi of [false, true]) {
        for (const layers of [1, 2, 3]) {
          for (const units of [64, 128]) text.push(textCase(cell, bi, layers, units));
        }
      }
    } else {
      text.push(
        textCase(cell, false, 1, 64),
        textCase(cell, true, 1, 64),
        textCase(cell, true, 2, 128),
        textCase(cell, false, 3, 64),
      );
    }
  }
  return [...cnn, ...text];
}

/** The two models `deno bench` compares by default: the seeds' CNN and text model. */
export function seedsDefaultCases(): ModelCase[] {
  return [cnnCase([32, 64, 64], 3), textCase("LSTM", true, 1, 64)];
}
