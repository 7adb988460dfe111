/**
 * Reading and writing the Keras 3 `config.json` entry of a `TextVectorization`
 * layer (`layers[i].config` of a `.keras` file, as `get_config()` writes it).
 *
 * @module
 */

import { TokenizerConfigError } from "./errors.ts";
import type { SplitName } from "./split.ts";
import type { StandardizeName } from "./standardize.ts";

/** A custom standardization: receives one text, returns the standardized text. */
export type StandardizeFunction = (text: string) => string;
/** A custom split: receives one standardized text, returns its tokens. */
export type SplitFunction = (text: string) => string[];

/** A serialized Python callable, as Keras writes a registered function into a config. */
export interface KerasSerializedFunction {
  /** Python module of the function (may be null). */
  module?: string | null;
  /** Always `"function"` for a plain function. */
  class_name: string;
  /** The function's `__name__`. */
  config: string;
  /** `package>name` when registered with `register_keras_serializable`. */
  registered_name?: string | null;
}

/**
 * The `config` object of a `TextVectorization` layer exactly as Keras 3 writes
 * it in `config.json` (Keras 2 writes the same fields). Unknown fields are refused.
 */
export interface KerasTextVectorizationConfig {
  /** Layer name. */
  name?: string;
  /** Ignored (preprocessing has no trainable weights). */
  trainable?: boolean;
  /** Ignored (the layer's dtype policy). */
  dtype?: unknown;
  /** Vocabulary cap counting special tokens, or null. */
  max_tokens?: number | null;
  /** Built-in standardization name, null, or a serialized custom function. */
  standardize?: StandardizeName | KerasSerializedFunction | null;
  /** Built-in split name, null, or a serialized custom function. */
  split?: SplitName | KerasSerializedFunction | null;
  /** null, n (widths 1..n), or a list of widths. */
  ngrams?: number | number[] | null;
  /** `"int"`, `"multi_hot"`, `"count"` or `"tf_idf"` (also `"binary"`, `"tf-idf"`). */
  output_mode?: string;
  /** `int` mode sequence length, or null. */
  output_sequence_length?: number | null;
  /** Bag modes: output width `max_tokens`. */
  pad_to_max_tokens?: boolean;
  /** Sparse output in Keras; the dense values here are the same. */
  sparse?: boolean;
  /** Must be false: ragged output is not supported. */
  ragged?: boolean;
  /** A vocabulary passed to the Keras constructor (adapted ones are assets). */
  vocabulary?: string[] | null;
  /** `tf_idf` weights passed to the Keras constructor. */
  idf_weights?: number[] | null;
  /** Must be UTF-8. */
  encoding?: string;
  /** Vocabulary size when saved, including special tokens; checked on load. */
  vocabulary_size?: number | null;
  /** Ignored input-shape field of older configs. */
  batch_input_shape?: unknown;
  /** Ignored input-shape field. */
  batch_shape?: unknown;
}

/** The pieces of a Keras config that `TextVectorization.fromConfig` needs. */
export interface ParsedKerasConfig {
  /** Layer name, if any. */
  name: string | undefined;
  /** `max_tokens`. */
  maxTokens: number | null;
  /** `standardize`, custom functions resolved. */
  standardize: StandardizeName | StandardizeFunction | null;
  /** `split`, custom functions resolved. */
  split: SplitName | SplitFunction | null;
  /** `ngrams`. */
  ngrams: number | number[] | null;
  /** `output_mode`, not yet validated. */
  outputMode: string;
  /** `output_sequence_length`. */
  outputSequenceLength: number | null;
  /** `pad_to_max_tokens`. */
  padToMaxTokens: boolean;
  /** `vocabulary` (constructor vocabulary), or null. */
  vocabulary: string[] | null;
  /** `idf_weights`, or null. */
  idfWeights: number[] | null;
  /** `vocabulary_size`, or null. */
  vocabularySize: number | null;
}

const KNOWN_FIELDS = new Set([
  "name",
  "trainable",
  "dtype",
  "max_tokens",
  "standardize",
  "split",
  "ngrams",
  "output_mode",
  "output_sequence_length",
  "pad_to_max_tokens",
  "sparse",
  "ragged",
  "vocabulary",
  "idf_weights",
  "encoding",
  "vocabulary_size",
  "batch_input_shape",
  "batch_shape",
]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function resolveFunction<T>(
  field: string,
  value: unknown,
  customFunctions: Readonly<Record<string, (text: string) => unknown>>,
): T {
  if (!isRecord(value) || typeof value.config !== "string") {
    throw new TokenizerConfigError(field, "a built-in name, null or a serialized function", value);
  }
  const candidates = [value.registered_name, value.config].filter(
    (key): key is string => typeof key === "string",
  );
  for (const key of candidates) {
    if (Object.hasOwn(customFunctions, key)) return customFunctions[key] as T;
  }
  throw new TokenizerConfigError(
    field,
    "a built-in name, or a custom function supplied in options.customFunctions",
    value,
    `pass { customFunctions: { ${JSON.stringify(candidates[0])}: fn } } to fromConfig`,
  );
}

/**
 * Checks a Keras `TextVectorization` config and turns it into constructor
 * arguments. Accepts the layer's `config` object, or the whole layer entry
 * (`{ class_name: "TextVectorization", config: {...} }`).
 */
export function parseKerasConfig(
  input: unknown,
  customFunctions: Readonly<Record<string, (text: string) => unknown>> = {},
): ParsedKerasConfig {
  let config = input;
  if (isRecord(config) && "class_name" in config && isRecord(config.config)) {
    if (config.class_name !== "TextVectorization") {
      throw new TokenizerConfigError(
        "class_name",
        '"TextVectorization"',
        config.class_name,
        "fromConfig reads TextVectorization layers only",
      );
    }
    config = config.config;
  }
  if (!isRecord(config)) {
    throw new TokenizerConfigError("config", "a TextVectorization config object", config);
  }
  const unknown = Object.keys(config).filter((key) => !KNOWN_FIELDS.has(key));
  if (unknown.length > 0) {
    throw new TokenizerConfigError(
      "config",
      `an object with only TextVectorization fields (${[...KNOWN_FIELDS].join(", ")})`,
      unknown,
      "unknown fields could change the behaviour, so they are refused",
    );
  }
  const c = config as KerasTextVectorizationConfig;

  if (c.ragged !== undefined && c.ragged !== false) {
    throw new TokenizerConfigError(
      "ragged",
      "false (ragged output is not supported; outputs are padded dense arrays)",
      c.ragged,
    );
  }
  if (c.sparse !== undefined && typeof c.sparse !== "boolean") {
    throw new TokenizerConfigError("sparse", "a boolean", c.sparse);
  }
  // sparse=true only changes the tensor representation; the dense values are equal.
  const encoding = c.encoding ?? "utf-8";
  if (typeof encoding !== "string" || !/^utf-?8$/i.test(encoding)) {
    throw new TokenizerConfigError("encoding", '"utf-8"', encoding);
  }
  if (c.name !== undefined && typeof c.name !== "string") {
    throw new TokenizerConfigError("name", "a string", c.name);
  }

  const standardize = c.standardize === undefined
    ? "lower_and_strip_punctuation"
    : typeof c.standardize === "string" || c.standardize === null
    ? c.standardize
    : resolveFunction<StandardizeFunction>("standardize", c.standardize, customFunctions);
  const split = c.split === undefined
    ? "whitespace"
    : typeof c.split === "string" || c.split === null
    ? c.split
    : resolveFunction<SplitFunction>("split", c.split, customFunctions);

  const vocabulary = c.vocabulary ?? null;
  if (vocabulary !== null && !Array.isArray(vocabulary)) {
    throw new TokenizerConfigError("vocabulary", "null or a list of strings", vocabulary);
  }
  const idfWeights = c.idf_weights ?? null;
  if (idfWeights !== null && !Array.isArray(idfWeights)) {
    throw new TokenizerConfigError("idf_weights", "null or a list of numbers", idfWeights);
  }
  const vocabularySize = c.vocabulary_size ?? null;
  if (vocabularySize !== null && (!Number.isInteger(vocabularySize) || vocabularySize < 0)) {
    throw new TokenizerConfigError(
      "vocabulary_size",
      "null or a non-negative integer",
      vocabularySize,
    );
  }
  if (c.pad_to_max_tokens !== undefined && typeof c.pad_to_max_tokens !== "boolean") {
    throw new TokenizerConfigError("pad_to_max_tokens", "a boolean", c.pad_to_max_tokens);
  }

  return {
    name: c.name,
    maxTokens: c.max_tokens ?? null,
    standardize: standardize as StandardizeName | StandardizeFunction | null,
    split: split as SplitName | SplitFunction | null,
    ngrams: c.ngrams ?? null,
    outputMode: c.output_mode ?? "int",
    outputSequenceLength: c.output_sequence_length ?? null,
    padToMaxTokens: c.pad_to_max_tokens ?? false,
    vocabulary,
    idfWeights,
    vocabularySize,
  };
}

/** Serializes a custom function the way Keras does, so a config names it. */
export function serializeFunction(fn: (text: string) => unknown): KerasSerializedFunction {
  const name = fn.name || "anonymous";
  return { module: null, class_name: "function", config: name, registered_name: name };
}
