/**
 * Helpers for the text-layer tests: an id-sequence model spec with random weights shaped by the
 * engine's own weight specs, post-padded id batches, and an engine-vs-TF.js comparison.
 */
import {
  buildModel,
  LayerConfigError,
  ModelConfigError,
  type ModelSpec,
  type Shape,
  Tensor,
  type WeightTensor,
} from "../mod.ts";
import { layerFactory } from "../src/registry.ts";
import { maxAbsDiff, Rng } from "./random.ts";
import { tfjsModelFromSpec, tfjsPredict } from "./tfjs_reference.ts";

/** A layer of a test model as Keras serializes it. */
export interface LayerObject {
  class_name: string;
  config: Record<string, unknown>;
}

/** Options of {@link textModelSpec}. */
export interface TextModelOptions {
  time: number;
  vocab: number;
  embeddingDim: number;
  maskZero?: boolean;
  /** Input dtype: int32 ids (default) or float32 ids. */
  dtype?: "int32" | "float32";
  kerasVersion?: string;
}

/**
 * InputLayer (batch, time) → Embedding → `layers`, with random weights for every layer: glorot-like
 * uniform for matrices, ±0.3 for vectors and bias rows, ±1 for the embeddings.
 */
export function textModelSpec(rng: Rng, o: TextModelOptions, layers: LayerObject[]): ModelSpec {
  const objs: LayerObject[] = [
    {
      class_name: "InputLayer",
      config: { name: "ids", batch_shape: [null, o.time], dtype: o.dtype ?? "int32" },
    },
    {
      class_name: "Embedding",
      config: {
        name: "embedding",
        input_dim: o.vocab,
        output_dim: o.embeddingDim,
        mask_zero: o.maskZero ?? true,
      },
    },
    ...layers,
  ];
  const weights: Record<string, WeightTensor[]> = {};
  let shape: Shape = [o.time];
  for (const obj of objs.slice(1)) {
    const layer = layerFactory(obj.class_name)!(obj.config, { kerasVersion: o.kerasVersion });
    const specs = layer.weightSpecs(shape);
    weights[layer.name] = specs.map((s) => {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const limit = obj.class_name === "Embedding"
        ? 1
        : s.name.endsWith("bias")
        ? 0.3
        : Math.sqrt(6 / (s.shape[0] + s.shape[s.shape.length - 1]));
      return { name: s.name.split("/").pop()!, shape: s.shape, data: rng.floats(n, -limit, limit) };
    });
    shape = layer.computeOutputShape(shape);
  }
  return {
    config: { class_name: "Sequential", config: { name: "text_case", layers: objs } },
    weights,
    kerasVersion: o.kerasVersion,
  };
}

/**
 * `batch` post-padded rows of ids in [1, vocab): random lengths 1..time, then zeros. With
 * `emptyRow`, the last row is all padding; with `fullRow`, the first has no padding.
 */
export function postPaddedIds(
  rng: Rng,
  batch: number,
  time: number,
  vocab: number,
  { emptyRow = false, fullRow = false } = {},
): Int32Array {
  const ids = new Int32Array(batch * time);
  for (let b = 0; b < batch; b++) {
    let len = rng.int(1, time + 1);
    if (fullRow && b === 0) len = time;
    if (emptyRow && b === batch - 1 && batch > 1) len = 0;
    for (let t = 0; t < len; t++) ids[b * time + t] = rng.int(1, vocab);
  }
  return ids;
}

/**
 * Keras zeroes the masked steps of a Bidirectional return_sequences output
 * (`zero_output_for_mask`); TF.js repeats the previous output there. This applies Keras's rule to
 * a TF.js [batch, time, width] output, with the mask `ids != 0`.
 */
export function zeroMaskedSteps(
  y: Float32Array,
  ids: ArrayLike<number>,
  width: number,
): Float32Array {
  const out = Float32Array.from(y);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] === 0) out.fill(0, i * width, (i + 1) * width);
  }
  return out;
}

/** Options of {@link expectTextModelMatchesTfjs}. */
export interface CompareOptions {
  tol?: number;
  batchSize?: number;
  /** Turns TF.js's output into what Keras gives (e.g. {@link zeroMaskedSteps}). */
  kerasFromTfjs?: (y: Float32Array, ids: ArrayLike<number>) => Float32Array;
}

/** Runs `spec` on `ids` [batch, time] in the engine and TF.js; throws past `tol`; returns max |Δ|. */
export function expectTextModelMatchesTfjs(
  spec: ModelSpec,
  ids: Int32Array | Float32Array,
  time: number,
  what: string,
  options: CompareOptions = {},
): number {
  const tol = options.tol ?? 1e-5;
  const shape = [ids.length / time, time];
  const model = buildModel(spec);
  const tfm = tfjsModelFromSpec(spec);
  try {
    const got = model.predict(new Tensor(ids, shape), { batchSize: options.batchSize ?? 8 });
    let want = tfjsPredict(tfm, ids, shape);
    if (options.kerasFromTfjs) want = options.kerasFromTfjs(want, ids);
    const d = maxAbsDiff(got.data, want);
    if (!(d <= tol)) throw new Error(`${what}: max |Δ| vs TF.js = ${d} > ${tol}`);
    return d;
  } finally {
    model.dispose();
    tfm.dispose();
  }
}

/**
 * Checks one recurrent class against TF.js on post-padded `mask_zero` id batches (1 and 17 rows,
 * one all-padding row): last output and sequences, go_backwards, no bias with other activations,
 * a stacked pair, no mask, and float32 ids. `extra` is merged into every config (e.g. GRU's
 * reset_after). Returns the largest difference seen.
 */
export function expectRecurrentVariantsMatchTfjs(
  rng: Rng,
  className: "SimpleRNN" | "LSTM" | "GRU",
  extra: Record<string, unknown> = {},
): number {
  const gated = className !== "SimpleRNN";
  const time = 11, vocab = 37;
  const cfg = (name: string, c: Record<string, unknown>) => ({
    class_name: className,
    config: { name, units: 7, ...extra, ...c },
  });
  const variants: { what: string; layers: LayerObject[]; opts?: Partial<TextModelOptions> }[] = [
    { what: "last output", layers: [cfg("rnn", {})] },
    { what: "return_sequences", layers: [cfg("rnn", { return_sequences: true })] },
    { what: "go_backwards", layers: [cfg("rnn", { go_backwards: true })] },
    {
      what: "go_backwards + return_sequences",
      layers: [cfg("rnn", { go_backwards: true, return_sequences: true, units: 9 })],
    },
    {
      what: "no bias, relu / hard_sigmoid (Keras 2)",
      layers: [cfg("rnn", {
        use_bias: false,
        activation: "relu",
        ...(gated ? { recurrent_activation: "hard_sigmoid" } : {}),
        return_sequences: true,
      })],
      opts: { kerasVersion: "2.15.0" },
    },
    {
      what: "stacked (return_sequences passes the mask on)",
      layers: [
        cfg("rnn_a", { return_sequences: true, go_backwards: true, units: 5 }),
        cfg("rnn_b", { units: 6 }),
      ],
    },
    {
      what: "no mask",
      layers: [cfg("rnn", { return_sequences: true })],
      opts: { maskZero: false },
    },
    { what: "float32 ids", layers: [cfg("rnn", {})], opts: { dtype: "float32" } },
  ];
  let worst = 0;
  for (const v of variants) {
    const spec = textModelSpec(rng, { time, vocab, embeddingDim: 5, ...v.opts }, v.layers);
    for (const batch of [1, 17]) {
      const ids = postPaddedIds(rng, batch, time, vocab, { emptyRow: true, fullRow: true });
      const input = v.opts?.dtype === "float32" ? Float32Array.from(ids) : ids;
      const d = expectTextModelMatchesTfjs(
        spec,
        input,
        time,
        `${className} ${v.what} batch ${batch}`,
      );
      worst = Math.max(worst, d);
    }
  }
  return worst;
}

/**
 * Checks that `className` refuses `stateful` and a softmax activation with a
 * {@link LayerConfigError} naming the layer and the field, and `return_state` in a Sequential with
 * a {@link ModelConfigError} naming both.
 */
export function expectUnsupportedRecurrentOptionsRefused(
  className: "SimpleRNN" | "LSTM" | "GRU",
): void {
  for (
    const [field, value] of [["stateful", true], ["return_state", true], ["activation", "softmax"]]
  ) {
    let err: unknown;
    try {
      buildModel(textModelSpec(new Rng(1), { time: 4, vocab: 9, embeddingDim: 3 }, [{
        class_name: className,
        config: { name: "my_rnn", units: 2, [field as string]: value },
      }]));
    } catch (e) {
      err = e;
    }
    // return_state is a layer option the engine runs, but not inside a Sequential (which
    // passes one tensor on): the model builder refuses it there.
    const want = field === "return_state" ? ModelConfigError : LayerConfigError;
    if (!(err instanceof want)) {
      throw new Error(`${field}: expected ${want.name}, got ${err}`);
    }
    for (const part of ["my_rnn", field as string]) {
      if (!err.message.includes(part)) throw new Error(`"${err.message}" lacks "${part}"`);
    }
  }
}

/** Builds `spec`, predicts once and frees the model's device memory. */
export function predictOnce(
  spec: ModelSpec,
  x: Int32Array | Float32Array,
  shape: number[],
  batchSize?: number,
): Float32Array {
  const model = buildModel(spec);
  try {
    return model.predict(new Tensor(x, shape), { batchSize }).data as Float32Array;
  } finally {
    model.dispose();
  }
}
