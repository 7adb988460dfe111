/**
 * The web page's logic without the DOM: what input a model takes, parsing typed values, turning
 * pixels and token ids into tensors, ordering TF.js shards, and reading outputs as probabilities.
 * `app.ts` wires these to the page; the tests run them in Deno.
 *
 * @module
 */

/** Thrown for input the page cannot use; the message is shown to the user as it is. */
export class PageInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PageInputError";
  }
}

/** A shape without the batch dimension (`null` where the model accepts any size). */
export type Dims = readonly (number | null)[];

/** What the input panel offers for a model. */
export type InputKind = "ids" | "image" | "numbers";

/** The parts of an engine layer the page reads. */
export interface LayerInfo {
  className: string;
  config: Record<string, unknown>;
  outputShape: Dims;
  /** Set on InputLayer: "int32", "float32" or "string". */
  dtype?: string;
}

/** Picks the input panel: token ids for Embedding / integer inputs, images for H×W×C inputs. */
export function inputKindOf(layers: readonly LayerInfo[]): InputKind {
  const input = layers[0];
  const first = layers.find((l) => l.className !== "InputLayer");
  if (first?.className === "Embedding" || input?.dtype === "int32") return "ids";
  const shape = input?.outputShape ?? [];
  if (shape.length === 3 && shape.every((d) => d !== null) && [1, 3, 4].includes(shape[2]!)) {
    return "image";
  }
  return "numbers";
}

/** The Embedding's `input_dim` (ids must be below it), if the model starts with one. */
export function vocabularySizeOf(layers: readonly LayerInfo[]): number | undefined {
  const first = layers.find((l) => l.className !== "InputLayer");
  const dim = first?.className === "Embedding" ? first.config.input_dim : undefined;
  return typeof dim === "number" ? dim : undefined;
}

/** Parses space/comma/semicolon separated numbers. */
export function parseNumbers(text: string, what = "values"): number[] {
  const parts = text.split(/[\s,;]+/).filter((p) => p !== "");
  if (parts.length === 0) throw new PageInputError(`no ${what} given`);
  return parts.map((p, i) => {
    const value = Number(p);
    if (!Number.isFinite(value)) {
      throw new PageInputError(`${what}: item ${i + 1} "${p}" is not a number`);
    }
    return value;
  });
}

/** Parses token ids: non-negative integers, each below `vocabularySize` when known. */
export function parseIds(text: string, vocabularySize?: number): number[] {
  const ids = parseNumbers(text, "token ids");
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0) {
      throw new PageInputError(`token ids: item ${i + 1} (${id}) is not a non-negative integer`);
    }
    if (vocabularySize !== undefined && id >= vocabularySize) {
      throw new PageInputError(
        `token ids: item ${i + 1} (${id}) is not below the Embedding's input_dim ${vocabularySize}`,
      );
    }
  });
  return ids;
}

/** Pads with 0 (Keras `pad_sequences(padding="post")`) or truncates to `length`. */
export function fitSequence(ids: ArrayLike<number>, length: number | null): Int32Array {
  const out = new Int32Array(length ?? ids.length);
  for (let i = 0; i < out.length && i < ids.length; i++) out[i] = ids[i];
  return out;
}

/** Checks that `count` numbers fill a sample of shape `dims` (a `null` dimension takes the rest). */
export function sampleShape(dims: Dims, count: number): number[] {
  const known = dims.reduce<number>((n, d) => n * (d ?? 1), 1);
  const unknown = dims.filter((d) => d === null).length;
  if (unknown > 1) {
    throw new PageInputError(`input shape has ${unknown} free dimensions; cannot infer them`);
  }
  if (unknown === 1) {
    if (count % known !== 0) {
      throw new PageInputError(`${count} values do not fill whole steps of ${known}`);
    }
    return dims.map((d) => d ?? count / known);
  }
  if (count !== known) {
    throw new PageInputError(`the model takes ${known} values per sample, got ${count}`);
  }
  return dims.map((d) => d!);
}

/**
 * RGBA pixels (canvas `ImageData`) → one H×W×C sample: RGB for 3 channels, RGBA for 4,
 * luminance (ITU-R BT.601) for 1; each value divided by `divisor` (255 for 0–1 inputs).
 */
export function pixelsToSample(
  rgba: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
  divisor: number,
): Float32Array {
  if (rgba.length !== width * height * 4) {
    throw new PageInputError(`expected ${width}×${height} RGBA pixels, got ${rgba.length} bytes`);
  }
  if (![1, 3, 4].includes(channels)) {
    throw new PageInputError(`images need 1, 3 or 4 channels, the model takes ${channels}`);
  }
  const out = new Float32Array(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    const r = rgba[p * 4], g = rgba[p * 4 + 1], b = rgba[p * 4 + 2];
    if (channels === 1) {
      out[p] = (0.299 * r + 0.587 * g + 0.114 * b) / divisor;
    } else {
      for (let c = 0; c < channels; c++) out[p * channels + c] = rgba[p * 4 + c] / divisor;
    }
  }
  return out;
}

/** How the shown bars relate to the model's output. */
export type OutputReading = "probabilities" | "sigmoid" | "softmax of logits";

/** An output row read as class probabilities. */
export interface ClassScores {
  /** One value per class, summing to 1 (within rounding). */
  probabilities: number[];
  reading: OutputReading;
  /** Index of the largest probability. */
  best: number;
}

/**
 * Reads one output row as class probabilities: a softmax output as it is, one sigmoid unit as
 * [1 − p, p], anything else (logits) through a softmax, said in `reading`.
 */
export function classScores(row: ArrayLike<number>): ClassScores {
  const values = Array.from(row);
  if (values.length === 0) throw new PageInputError("the model returned no values");
  let probabilities: number[];
  let reading: OutputReading;
  const sum = values.reduce((a, b) => a + b, 0);
  if (values.length === 1 && values[0] >= 0 && values[0] <= 1) {
    probabilities = [1 - values[0], values[0]];
    reading = "sigmoid";
  } else if (values.every((v) => v >= 0 && v <= 1) && Math.abs(sum - 1) < 1e-3) {
    probabilities = values;
    reading = "probabilities";
  } else {
    const max = Math.max(...values);
    const exps = values.map((v) => Math.exp(v - max));
    const total = exps.reduce((a, b) => a + b, 0);
    probabilities = exps.map((e) => e / total);
    reading = "softmax of logits";
  }
  let best = 0;
  probabilities.forEach((p, i) => {
    if (p > probabilities[best]) best = i;
  });
  return { probabilities, reading, best };
}

/** Class names from a comma-separated list, padded with `class N`. */
export function classLabels(text: string, count: number): string[] {
  const given = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  return Array.from({ length: count }, (_, i) => given[i] ?? `class ${i}`);
}

/** A file as the page sees it (a `File` satisfies this). */
export interface NamedFile {
  name: string;
}

/** The files of one model: the model file and, for TF.js, the weight shards. */
export interface ModelFiles<F extends NamedFile> {
  main: F;
  format: "keras" | "h5" | "tfjs";
  shards: F[];
}

/** Sorts dropped files into one model file plus TF.js shards. */
export function pickModelFiles<F extends NamedFile>(files: readonly F[]): ModelFiles<F> {
  const ext = (f: F) => f.name.slice(f.name.lastIndexOf(".") + 1).toLowerCase();
  const mains = files.filter((f) => ["keras", "h5", "hdf5", "json"].includes(ext(f)));
  const shards = files.filter((f) => ext(f) === "bin");
  const others = files.filter((f) => !mains.includes(f) && !shards.includes(f));
  if (others.length > 0) {
    throw new PageInputError(
      `not a model file: ${others.map((f) => f.name).join(", ")} ` +
        `(expected .keras, .h5, model.json and .bin shards)`,
    );
  }
  if (mains.length !== 1) {
    throw new PageInputError(
      mains.length === 0
        ? "no model file among the dropped files (.keras, .h5 or model.json)"
        : `drop one model at a time (got ${mains.map((f) => f.name).join(", ")})`,
    );
  }
  const main = mains[0];
  const format = ext(main) === "keras" ? "keras" : ext(main) === "json" ? "tfjs" : "h5";
  if (format !== "tfjs" && shards.length > 0) {
    throw new PageInputError(`.bin shards belong to a TF.js model.json, not to ${main.name}`);
  }
  return { main, format, shards };
}

/** Orders TF.js shard files as the manifest of `modelJson` lists them (matched by file name). */
export function orderShards<F extends NamedFile>(modelJson: unknown, shards: readonly F[]): F[] {
  const manifest = (modelJson as { weightsManifest?: { paths?: unknown[] }[] })?.weightsManifest;
  if (!Array.isArray(manifest)) {
    throw new PageInputError("model.json has no weightsManifest (is it a TF.js layers model?)");
  }
  const byName = new Map(shards.map((f) => [f.name, f]));
  const ordered: F[] = [];
  const missing: string[] = [];
  for (const group of manifest) {
    for (const path of group.paths ?? []) {
      const base = String(path).slice(String(path).lastIndexOf("/") + 1);
      const file = byName.get(base);
      if (file) ordered.push(file);
      else missing.push(base);
    }
  }
  if (missing.length > 0) {
    throw new PageInputError(
      `model.json needs the shard file(s) ${missing.join(", ")}: select them with model.json`,
    );
  }
  return ordered;
}

/** `[null, 30]` → `(None, 30)`, the batch dimension first as Keras prints it. */
export function formatDims(dims: Dims): string {
  return `(${["None", ...dims.map((d) => d ?? "None")].join(", ")}${dims.length === 0 ? "," : ""})`;
}
