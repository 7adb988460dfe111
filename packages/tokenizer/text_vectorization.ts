/**
 * `TextVectorization`: a clone of the Keras 3 preprocessing layer of that name.
 *
 * Pipeline per text, as in `keras/src/layers/preprocessing/text_vectorization.py`:
 * standardize → split → n-grams → look up in the vocabulary → shape the output.
 * Vocabulary rules follow Keras's `IndexLookup` with `mask_token=""`,
 * `oov_token="[UNK]"`, one OOV index:
 * - `int` mode: index 0 is `""` (padding, and any empty token), 1 is `[UNK]`;
 * - other modes: the mask token is not in the vocabulary, index 0 is `[UNK]`, and
 *   empty tokens are dropped;
 * - `adapt` orders tokens by count descending, ties by UTF-8 bytes descending,
 *   and keeps `max_tokens` entries counting the special ones.
 *
 * @module
 */

import {
  describeValue,
  TokenizerConfigError,
  TokenizerError,
  TokenizerInputError,
  TokenizerStateError,
  VocabularyError,
} from "./errors.ts";
import {
  type KerasTextVectorizationConfig,
  parseKerasConfig,
  serializeFunction,
  type SplitFunction,
  type StandardizeFunction,
} from "./keras_config.ts";
import { makeNgrams, ngramWidths } from "./ngrams.ts";
import {
  SPLIT_NAMES,
  splitCharacters,
  type SplitName,
  splitWhitespace,
  splitWhitespaceStandardized,
} from "./split.ts";
import { STANDARDIZE_NAMES, type StandardizeName, standardizeText } from "./standardize.ts";
import { loadVocabularyFile, sortByCountThenBytesDescending } from "./vocabulary.ts";

/** The padding / mask token, index 0 in `int` mode. */
export const MASK_TOKEN = "";
/** The out-of-vocabulary token: index 1 in `int` mode, 0 in the other modes. */
export const OOV_TOKEN = "[UNK]";

/**
 * Most values one `call` may return (2^28: 1 GiB of float32). A config's `max_tokens` (with
 * `pad_to_max_tokens`) or `output_sequence_length` times the batch size must stay below it.
 */
export const MAX_OUTPUT_ELEMENTS = 2 ** 28;

/**
 * Widest n-gram accepted in `ngrams`. Keras takes any integer, but `ngrams: n` means every
 * width 1..n; a config asking for millions would only make the layer allocate them.
 */
export const MAX_NGRAM_WIDTH = 64;

/** Output modes: `int` ids, or one vector per text of vocabulary size. */
export type OutputMode = "int" | "multi_hot" | "count" | "tf_idf";

/** Constructor options; names and defaults are Keras's, in camelCase. */
export interface TextVectorizationOptions {
  /** Maximum vocabulary size, counting `""` (int mode) and `[UNK]`. Default `null` (no cap). */
  maxTokens?: number | null;
  /** Default `"lower_and_strip_punctuation"`; `null` for none; or a function of one text. */
  standardize?: StandardizeName | StandardizeFunction | null;
  /** Default `"whitespace"`; `"character"`; `null` (the whole text is one token); or a function. */
  split?: SplitName | SplitFunction | null;
  /** `n` for widths 1..n, a list of widths, or `null` (default) for plain tokens. */
  ngrams?: number | readonly number[] | null;
  /** Default `"int"`. The deprecated Keras names `"binary"` and `"tf-idf"` are accepted. */
  outputMode?: OutputMode | "binary" | "tf-idf";
  /** `int` mode only: pad with 0 / truncate at the end to this length. Default: longest in batch. */
  outputSequenceLength?: number | null;
  /** Non-`int` modes: make the output `maxTokens` wide. Needs `maxTokens`. Default false. */
  padToMaxTokens?: boolean;
  /** A fixed vocabulary (with or without the leading special tokens); disables `adapt`. */
  vocabulary?: readonly string[] | null;
  /** `tf_idf` with a fixed vocabulary: the inverse document frequency weights. */
  idfWeights?: ArrayLike<number> | null;
  /** Layer name, kept for `getConfig`. Default `"text_vectorization"`. */
  name?: string;
}

/** Extra inputs of {@linkcode TextVectorization.fromConfig}. */
export interface FromConfigOptions {
  /** `tf_idf` layers: the `idf_weights` variable from the weights file. */
  idfWeights?: ArrayLike<number> | null;
  /** Custom standardize/split functions by their Keras registered name or function name. */
  customFunctions?: Readonly<Record<string, StandardizeFunction | SplitFunction>>;
}

/**
 * Result of {@linkcode TextVectorization.call}: a row-major array and its shape
 * `[batch, length]` (`int`, Int32Array) or `[batch, depth]` (other modes, Float32Array).
 */
export interface VectorizedText {
  /** Row-major values. */
  data: Int32Array | Float32Array;
  /** `[batch, sequence length]` or `[batch, vocabulary depth]`. */
  shape: number[];
}

const OUTPUT_MODE_ALIASES: Readonly<Record<string, OutputMode>> = {
  int: "int",
  multi_hot: "multi_hot",
  binary: "multi_hot",
  count: "count",
  tf_idf: "tf_idf",
  "tf-idf": "tf_idf",
};

function isPositiveInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value > 0;
}

/**
 * Maps text to token ids or bag-of-words vectors exactly like Keras's
 * `TextVectorization`. Build it with options and `adapt` it on texts, give it a
 * vocabulary, or rebuild a saved Keras layer with {@linkcode TextVectorization.fromConfig}.
 *
 * @example
 * ```ts
 * const vectorizer = new TextVectorization({ maxTokens: 20000, outputSequenceLength: 4 });
 * vectorizer.adapt(["foo bar", "bar baz", "baz bada boom"]);
 * vectorizer.call(["foo qux bar", "qux baz"]); // data [4, 1, 3, 0, 1, 2, 0, 0], shape [2, 4]
 * ```
 */
export class TextVectorization {
  /** Layer name (used by `getConfig`). */
  readonly name: string;
  /** Vocabulary cap counting special tokens, or null. */
  readonly maxTokens: number | null;
  /** Standardization: a built-in name, a function, or null. */
  readonly standardize: StandardizeName | StandardizeFunction | null;
  /** Split: a built-in name, a function, or null. */
  readonly split: SplitName | SplitFunction | null;
  /** The `ngrams` argument as given. */
  readonly ngrams: number | readonly number[] | null;
  /** Output mode (deprecated aliases resolved). */
  readonly outputMode: OutputMode;
  /** Fixed sequence length in `int` mode, or null. */
  readonly outputSequenceLength: number | null;
  /** Whether non-`int` outputs are `maxTokens` wide. */
  readonly padToMaxTokens: boolean;

  readonly #ngramWidths: number[] | null;
  readonly #tokenStart: number;
  readonly #fusedWhitespace: boolean;
  readonly #lower: boolean;
  readonly #strip: boolean;
  /** The constructor's vocabulary: it makes the layer non-adaptable and goes into the config. */
  #inputVocabulary: string[] | null = null;
  #inputIdfWeights: number[] | null = null;
  #hasInputVocabulary = false;
  /** Learned or set tokens, without the special tokens; null until adapted/set. */
  #tokens: string[] | null = null;
  /** token → output index (special tokens are handled separately). */
  #index: Map<string, number> = new Map();
  /** `tf_idf`: one weight per output column. */
  #idfWeights: Float32Array | null = null;
  /** Reused token buffer, so splitting allocates no array per text. */
  #scratch: string[] = [];

  /** Validates the options like Keras's constructor and sets up the layer. */
  constructor(options: TextVectorizationOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TokenizerConfigError("options", "an object", options);
    }
    const {
      maxTokens = null,
      standardize = "lower_and_strip_punctuation",
      split = "whitespace",
      ngrams = null,
      outputMode = "int",
      outputSequenceLength = null,
      padToMaxTokens = false,
      vocabulary = null,
      idfWeights = null,
      name = "text_vectorization",
    } = options;

    if (maxTokens !== null && !(Number.isInteger(maxTokens) && maxTokens > 1)) {
      throw new TokenizerConfigError(
        "max_tokens",
        "null or an integer greater than 1 (it counts the special tokens)",
        maxTokens,
      );
    }
    if (
      standardize !== null && typeof standardize !== "function" &&
      !STANDARDIZE_NAMES.includes(standardize)
    ) {
      throw new TokenizerConfigError(
        "standardize",
        `one of ${STANDARDIZE_NAMES.map((s) => `"${s}"`).join(", ")}, null or a function`,
        standardize,
      );
    }
    if (split !== null && typeof split !== "function" && !SPLIT_NAMES.includes(split)) {
      throw new TokenizerConfigError(
        "split",
        `one of ${SPLIT_NAMES.map((s) => `"${s}"`).join(", ")}, null or a function`,
        split,
      );
    }
    const mode = typeof outputMode === "string" && Object.hasOwn(OUTPUT_MODE_ALIASES, outputMode)
      ? OUTPUT_MODE_ALIASES[outputMode]
      : undefined;
    if (mode === undefined) {
      throw new TokenizerConfigError(
        "output_mode",
        '"int", "multi_hot", "count" or "tf_idf"',
        outputMode,
        (outputMode as string) === "one_hot"
          ? "one_hot is not supported by TextVectorization here"
          : undefined,
      );
    }
    const isWidth = (n: unknown) => isPositiveInteger(n) && n <= MAX_NGRAM_WIDTH;
    const ngramsOk = ngrams === null || isWidth(ngrams) ||
      (Array.isArray(ngrams) && ngrams.length > 0 && ngrams.every(isWidth));
    if (!ngramsOk) {
      throw new TokenizerConfigError(
        "ngrams",
        `null, a positive integer, or a non-empty list of positive integers (each at most ` +
          `${MAX_NGRAM_WIDTH})`,
        ngrams,
      );
    }
    if (mode !== "int" && outputSequenceLength !== null) {
      throw new TokenizerConfigError(
        "output_sequence_length",
        `null when output_mode is "${mode}" (it applies to "int" only)`,
        outputSequenceLength,
      );
    }
    if (outputSequenceLength !== null && !isPositiveInteger(outputSequenceLength)) {
      throw new TokenizerConfigError(
        "output_sequence_length",
        "null or a positive integer",
        outputSequenceLength,
      );
    }
    if (typeof padToMaxTokens !== "boolean") {
      throw new TokenizerConfigError("pad_to_max_tokens", "a boolean", padToMaxTokens);
    }
    if (padToMaxTokens && maxTokens === null) {
      throw new TokenizerConfigError(
        "max_tokens",
        "set when pad_to_max_tokens is true",
        maxTokens,
      );
    }
    if (idfWeights !== null && mode !== "tf_idf") {
      throw new TokenizerConfigError(
        "idf_weights",
        `null unless output_mode is "tf_idf" (it is "${mode}")`,
        idfWeights,
      );
    }
    if (typeof name !== "string") throw new TokenizerConfigError("name", "a string", name);

    this.name = name;
    this.maxTokens = maxTokens;
    this.standardize = standardize;
    this.split = split;
    this.ngrams = Array.isArray(ngrams) ? Object.freeze([...ngrams]) : ngrams;
    this.outputMode = mode;
    this.outputSequenceLength = outputSequenceLength;
    this.padToMaxTokens = padToMaxTokens;
    this.#ngramWidths = ngramWidths(ngrams as number | number[] | null);
    this.#tokenStart = mode === "int" ? 2 : 1;
    this.#fusedWhitespace = split === "whitespace" &&
      (standardize === null || typeof standardize === "string");
    this.#lower = standardize === "lower" || standardize === "lower_and_strip_punctuation";
    this.#strip = standardize === "strip_punctuation" ||
      standardize === "lower_and_strip_punctuation";

    if (vocabulary !== null) {
      if (mode === "tf_idf" && idfWeights === null) {
        throw new TokenizerConfigError(
          "idf_weights",
          'given together with `vocabulary` when output_mode is "tf_idf"',
          idfWeights,
        );
      }
      this.setVocabulary(vocabulary, idfWeights);
      this.#inputVocabulary = [...vocabulary];
      this.#inputIdfWeights = idfWeights === null ? null : Array.from(idfWeights);
      this.#hasInputVocabulary = true;
    }
  }

  /**
   * Rebuilds a layer from its Keras config (the `config` object of the layer in
   * `config.json`, or the whole `{ class_name, config }` entry) and, when the
   * vocabulary was saved as an asset, that vocabulary (e.g. from
   * {@linkcode loadVocabularyFile}). A vocabulary stored in the config itself is
   * used when `vocabulary` is omitted. The config's `vocabulary_size` is checked.
   */
  static fromConfig(
    config: KerasTextVectorizationConfig | Record<string, unknown>,
    vocabulary?: readonly string[] | null,
    options: FromConfigOptions = {},
  ): TextVectorization {
    const parsed = parseKerasConfig(config, options.customFunctions ?? {});
    const idfWeights = options.idfWeights ?? parsed.idfWeights;
    const layer = new TextVectorization({
      name: parsed.name,
      maxTokens: parsed.maxTokens,
      standardize: parsed.standardize,
      split: parsed.split,
      ngrams: parsed.ngrams,
      outputMode: parsed.outputMode as OutputMode,
      outputSequenceLength: parsed.outputSequenceLength,
      padToMaxTokens: parsed.padToMaxTokens,
      vocabulary: parsed.vocabulary,
      idfWeights: parsed.vocabulary !== null ? idfWeights : null,
    });
    if (vocabulary !== undefined && vocabulary !== null) {
      if (parsed.vocabulary !== null) {
        const sameAs = (other: readonly string[]) =>
          other.length === vocabulary.length && other.every((token, i) => token === vocabulary[i]);
        if (!sameAs(parsed.vocabulary) && !sameAs(layer.getVocabulary())) {
          throw new VocabularyError(
            `${layer.name}: the config holds a vocabulary of ${parsed.vocabulary.length} ` +
              `entries and a different one of ${vocabulary.length} entries was passed`,
          );
        }
      } else {
        let weights = idfWeights;
        // Keras saves tf_idf weights already padded to max_tokens when pad_to_max_tokens.
        if (
          weights && layer.padToMaxTokens && weights.length === layer.maxTokens &&
          weights.length > vocabulary.length
        ) {
          weights = Array.from(weights).slice(0, vocabulary.length);
        }
        layer.setVocabulary(vocabulary, weights ?? null);
      }
    }
    if (parsed.vocabularySize !== null && layer.#tokens !== null) {
      if (layer.vocabularySize() !== parsed.vocabularySize) {
        throw new VocabularyError(
          `${layer.name}: the config says vocabulary_size ${parsed.vocabularySize} but the ` +
            `vocabulary gives ${layer.vocabularySize()} entries (wrong vocabulary file?)`,
        );
      }
    }
    return layer;
  }

  /**
   * Builds a layer whose vocabulary is a vocabulary file's text (one token per
   * line, CRLF tolerated; see {@linkcode loadVocabularyFile}). Like Keras's
   * `vocabulary="path"`, the vocabulary is fixed (no `adapt`).
   */
  static fromVocabularyText(
    text: string | Uint8Array,
    options: Omit<TextVectorizationOptions, "vocabulary"> = {},
  ): TextVectorization {
    const vocabulary = loadVocabularyFile(text);
    const layer = new TextVectorization({ ...options, vocabulary: null, idfWeights: null });
    if (layer.outputMode === "tf_idf") {
      throw new TokenizerConfigError(
        "output_mode",
        'not "tf_idf" when the vocabulary comes from a file (as in Keras)',
        layer.outputMode,
      );
    }
    layer.setVocabulary(vocabulary);
    layer.#hasInputVocabulary = true;
    return layer;
  }

  /**
   * Replaces the vocabulary (Keras's `set_vocabulary`). The list may start with
   * the special tokens (`["", "[UNK]"]` in `int` mode, `["[UNK]"]` otherwise) or
   * leave them out; repeated tokens, a misplaced `""` and a vocabulary larger
   * than `maxTokens` are errors. `tf_idf` needs `idfWeights` of the same length
   * as `vocabulary`; without special tokens in front, the OOV weight is their mean.
   */
  setVocabulary(vocabulary: readonly string[], idfWeights: ArrayLike<number> | null = null): void {
    if (this.outputMode === "tf_idf" && idfWeights === null) {
      throw new VocabularyError(
        `${this.name}: idf weights must be given in tf_idf mode ` +
          "(for a saved layer: fromConfig's options.idfWeights, from the weights file)",
      );
    }
    if (this.outputMode !== "tf_idf" && idfWeights !== null) {
      throw new VocabularyError(
        `${this.name}: idf weights are only used in tf_idf mode (output_mode is "${this.outputMode}")`,
      );
    }
    if (!Array.isArray(vocabulary)) {
      throw new VocabularyError(
        `${this.name}: the vocabulary must be an array of strings; received ${
          describeValue(vocabulary)
        }`,
      );
    }
    if (vocabulary.length === 0) {
      throw new VocabularyError(`${this.name}: cannot set an empty vocabulary`);
    }
    for (let i = 0; i < vocabulary.length; i++) {
      if (typeof vocabulary[i] !== "string") {
        throw new VocabularyError(
          `${this.name}: vocabulary entry ${i} must be a string; received ${
            describeValue(vocabulary[i])
          }`,
        );
      }
    }
    const special = this.#specialTokens();
    const hasSpecial = vocabulary.length >= special.length &&
      special.every((token, i) => vocabulary[i] === token);
    const tokens = hasSpecial ? vocabulary.slice(special.length) : [...vocabulary];

    const seen = new Set<string>();
    const repeated = new Set<string>();
    for (const token of tokens) (seen.has(token) ? repeated : seen).add(token);
    if (repeated.size > 0) {
      throw new VocabularyError(
        `${this.name}: the vocabulary repeats ${repeated.size} token(s): ${
          describeValue([...repeated])
        }`,
      );
    }
    if (seen.has(MASK_TOKEN)) {
      throw new VocabularyError(
        `${this.name}: the mask token "" is at vocabulary index ${
          vocabulary.lastIndexOf(MASK_TOKEN)
        }; it may only appear first, followed by ${
          describeValue(special.slice(1))
        } (or leave the special tokens out)`,
      );
    }
    const size = special.length + tokens.length;
    if (this.maxTokens !== null && size > this.maxTokens) {
      throw new VocabularyError(
        `${this.name}: the vocabulary has ${size} entries with the special tokens, ` +
          `more than max_tokens ${this.maxTokens}`,
      );
    }

    let weights: Float32Array | null = null;
    if (idfWeights !== null) {
      if (typeof idfWeights !== "object" || typeof idfWeights.length !== "number") {
        throw new VocabularyError(`${this.name}: idf weights must be an array of numbers`);
      }
      if (idfWeights.length !== vocabulary.length) {
        throw new VocabularyError(
          `${this.name}: ${idfWeights.length} idf weights for a vocabulary of ${vocabulary.length}`,
        );
      }
      let sum = 0;
      for (let i = 0; i < idfWeights.length; i++) {
        const w = idfWeights[i];
        if (typeof w !== "number" || !Number.isFinite(w)) {
          throw new VocabularyError(
            `${this.name}: idf weight ${i} must be a finite number; received ${describeValue(w)}`,
          );
        }
        sum += w;
      }
      const front = hasSpecial ? 0 : special.length;
      // Only the vocabulary's columns are stored: padded columns have weight 0 and never occur,
      // so a config's max_tokens cannot make this allocation large.
      weights = new Float32Array(size);
      weights.fill(sum / idfWeights.length, 0, front);
      for (let i = 0; i < idfWeights.length; i++) weights[front + i] = idfWeights[i];
    }
    this.#install(tokens, weights);
  }

  /**
   * Learns the vocabulary from texts (Keras's `adapt`): every text is one
   * document; counts tokens after standardize/split/n-grams, sorts by count
   * descending then UTF-8 bytes descending, keeps `maxTokens` entries counting
   * the special tokens, and in `tf_idf` mode computes
   * `idf = log(1 + documents / (1 + document frequency))`, with the OOV weight the mean.
   */
  adapt(texts: string | Iterable<string>): void {
    if (this.#hasInputVocabulary) {
      throw new TokenizerStateError(
        `${this.name}: cannot adapt a layer built with a fixed vocabulary`,
      );
    }
    const batch = typeof texts === "string" ? [texts] : texts;
    if (batch === null || typeof batch !== "object" || !(Symbol.iterator in batch)) {
      throw new TokenizerInputError(
        `${this.name}.adapt: expected a string or an iterable of strings; received ${
          describeValue(texts)
        }`,
      );
    }
    const tfIdf = this.outputMode === "tf_idf";
    const ids = new Map<string, number>();
    const tokens: string[] = [];
    const counts: number[] = [];
    const documentCounts: number[] = [];
    const lastDocument: number[] = [];
    let documents = 0;
    for (const text of batch) {
      const row = this.#tokenize(text, documents, "adapt");
      for (let k = 0; k < row.length; k++) {
        const token = row[k];
        let id = ids.get(token);
        if (id === undefined) {
          // Keras drops the mask and OOV tokens from the counts before sorting.
          if (token === MASK_TOKEN || token === OOV_TOKEN) continue;
          id = tokens.length;
          ids.set(token, id);
          tokens.push(token);
          counts.push(0);
          if (tfIdf) {
            documentCounts.push(0);
            lastDocument.push(-1);
          }
        }
        counts[id]++;
        if (tfIdf && lastDocument[id] !== documents) {
          lastDocument[id] = documents;
          documentCounts[id]++;
        }
      }
      documents++;
    }

    let order = sortByCountThenBytesDescending(tokens, counts);
    if (this.maxTokens !== null) order = order.slice(0, this.maxTokens - this.#tokenStart);
    const vocabulary = order.map((id) => tokens[id]);

    let weights: Float32Array | null = null;
    if (tfIdf) {
      if (vocabulary.length === 0) {
        throw new TokenizerInputError(
          `${this.name}.adapt: found no tokens in ${documents} text(s); tf_idf needs some`,
        );
      }
      const size = this.#tokenStart + vocabulary.length;
      weights = new Float32Array(size);
      let sum = 0;
      for (let i = 0; i < order.length; i++) {
        const idf = Math.fround(Math.log(1 + documents / (1 + documentCounts[order[i]])));
        weights[this.#tokenStart + i] = idf;
        sum += idf;
      }
      weights.fill(sum / order.length, 0, this.#tokenStart);
    }
    this.#install(vocabulary, weights);
  }

  /**
   * Vectorizes texts. `int` mode: `Int32Array` of shape `[batch, length]`, 0 for
   * padding (and for empty tokens), 1 for out-of-vocabulary tokens, padded or
   * truncated at the end to `outputSequenceLength` (default: the longest row).
   * Other modes: `Float32Array` of shape `[batch, depth]` with depth the
   * vocabulary size (or `maxTokens` with `padToMaxTokens`); column 0 counts
   * out-of-vocabulary tokens. A single string is a batch of one.
   */
  call(texts: string | readonly string[]): VectorizedText {
    if (this.#tokens === null) {
      throw new TokenizerStateError(
        `${this.name}: no vocabulary yet; call adapt() or give a vocabulary first`,
      );
    }
    const batch = typeof texts === "string" ? [texts] : texts;
    if (!Array.isArray(batch)) {
      throw new TokenizerInputError(
        `${this.name}.call: expected a string or an array of strings; received ${
          describeValue(texts)
        }`,
      );
    }
    const width = this.outputMode === "int"
      ? this.outputSequenceLength ?? 0
      : this.#depthFor(this.vocabularySize());
    if (batch.length * width > MAX_OUTPUT_ELEMENTS) {
      throw new TokenizerInputError(
        `${this.name}.call: the output would hold ${batch.length} × ${width} values, more than ` +
          `${MAX_OUTPUT_ELEMENTS}; call it on smaller batches (or check max_tokens / ` +
          `output_sequence_length)`,
      );
    }
    return this.outputMode === "int" ? this.#callInt(batch) : this.#callBag(batch);
  }

  /** Standardizes, splits and n-grams one text, returning its tokens (a new array). */
  tokenize(text: string): string[] {
    return [...this.#tokenize(text, 0, "tokenize")];
  }

  /**
   * The vocabulary, index = output index: with special tokens `["", "[UNK]", ...]`
   * in `int` mode, `["[UNK]", ...]` otherwise. Before adapt, the special tokens only.
   */
  getVocabulary(includeSpecialTokens = true): string[] {
    const tokens = this.#tokens ?? [];
    return includeSpecialTokens ? [...this.#specialTokens(), ...tokens] : [...tokens];
  }

  /** Number of vocabulary entries including the special tokens. */
  vocabularySize(): number {
    return this.#tokenStart + (this.#tokens?.length ?? 0);
  }

  /** `tf_idf` mode: a copy of the idf weight of each output column, else null. */
  getIdfWeights(): Float32Array | null {
    if (this.#idfWeights === null) return null;
    const out = new Float32Array(this.#depthFor(this.#idfWeights.length));
    out.set(this.#idfWeights);
    return out;
  }

  /**
   * The Keras config (`get_config()`), snake_case, as Keras 3 writes it into
   * `config.json`. As in Keras, an adapted vocabulary is not in the config (it is
   * an asset): pass `getVocabulary()` to `fromConfig` alongside it.
   */
  getConfig(): KerasTextVectorizationConfig {
    const serialize = <T>(option: T) =>
      typeof option === "function"
        ? serializeFunction(option as (text: string) => unknown)
        : option;
    return {
      name: this.name,
      trainable: true,
      dtype: {
        module: "keras",
        class_name: "DTypePolicy",
        config: { name: "float32" },
        registered_name: null,
      },
      max_tokens: this.maxTokens,
      standardize: serialize(this.standardize) as KerasTextVectorizationConfig["standardize"],
      split: serialize(this.split) as KerasTextVectorizationConfig["split"],
      ngrams: Array.isArray(this.ngrams) ? [...this.ngrams] : this.ngrams as number | null,
      output_mode: this.outputMode,
      output_sequence_length: this.outputSequenceLength,
      pad_to_max_tokens: this.padToMaxTokens,
      sparse: false,
      ragged: false,
      vocabulary: this.#inputVocabulary === null ? null : [...this.#inputVocabulary],
      idf_weights: this.#inputIdfWeights === null ? null : [...this.#inputIdfWeights],
      encoding: "utf-8",
      vocabulary_size: this.vocabularySize(),
    };
  }

  #specialTokens(): string[] {
    return this.outputMode === "int" ? [MASK_TOKEN, OOV_TOKEN] : [OOV_TOKEN];
  }

  /** Output width of the bag modes for a vocabulary of `size` entries. */
  #depthFor(size: number): number {
    return this.padToMaxTokens && this.maxTokens !== null ? this.maxTokens : size;
  }

  #install(tokens: string[], idfWeights: Float32Array | null): void {
    const index = new Map<string, number>();
    for (let i = 0; i < tokens.length; i++) index.set(tokens[i], this.#tokenStart + i);
    this.#tokens = tokens;
    this.#index = index;
    this.#idfWeights = idfWeights;
  }

  /** Tokens of one text; the returned array is reused by the next call. */
  #tokenize(text: unknown, position: number, caller: string): string[] {
    if (typeof text !== "string") {
      throw new TokenizerInputError(
        `${this.name}.${caller}: text ${position} must be a string; received ${
          describeValue(text)
        }`,
      );
    }
    // TF sees UTF-8 bytes; a lone surrogate cannot be encoded and becomes U+FFFD.
    const input = text.isWellFormed() ? text : text.toWellFormed();
    const scratch = this.#scratch;
    scratch.length = 0;
    let tokens: string[];
    if (this.#fusedWhitespace) {
      tokens = splitWhitespaceStandardized(input, this.#lower, this.#strip, scratch);
    } else {
      let standardized = input;
      const standardize = this.standardize;
      if (typeof standardize === "function") {
        standardized = standardize(input);
        if (typeof standardized !== "string") {
          throw new TokenizerError(
            `${this.name}: the standardize function returned ${
              describeValue(standardized)
            } for text ${position}; expected a string`,
          );
        }
      } else if (standardize !== null) {
        standardized = standardizeText(input, standardize);
      }
      const split = this.split;
      if (split === null) {
        scratch.push(standardized);
        tokens = scratch;
      } else if (split === "whitespace") {
        tokens = splitWhitespace(standardized, scratch);
      } else if (split === "character") {
        tokens = splitCharacters(standardized, scratch);
      } else {
        tokens = split(standardized);
        if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === "string")) {
          throw new TokenizerError(
            `${this.name}: the split function returned ${
              describeValue(tokens)
            } for text ${position}; expected an array of strings`,
          );
        }
      }
    }
    return this.#ngramWidths === null ? tokens : makeNgrams(tokens, this.#ngramWidths);
  }

  #callInt(batch: readonly string[]): VectorizedText {
    const index = this.#index;
    const fixed = this.outputSequenceLength;
    if (fixed !== null) {
      const data = new Int32Array(batch.length * fixed);
      for (let r = 0; r < batch.length; r++) {
        const row = this.#tokenize(batch[r], r, "call");
        const n = Math.min(row.length, fixed);
        const base = r * fixed;
        for (let k = 0; k < n; k++) {
          const token = row[k];
          data[base + k] = token === MASK_TOKEN ? 0 : index.get(token) ?? 1;
        }
      }
      return { data, shape: [batch.length, fixed] };
    }
    // Unfixed length: collect the rows first, then pad to the longest.
    let ids = new Int32Array(1024);
    const ends = new Int32Array(batch.length);
    let used = 0;
    let longest = 0;
    for (let r = 0; r < batch.length; r++) {
      const row = this.#tokenize(batch[r], r, "call");
      if (used + row.length > ids.length) {
        const grown = new Int32Array(Math.max(ids.length * 2, used + row.length));
        grown.set(ids.subarray(0, used));
        ids = grown;
      }
      for (let k = 0; k < row.length; k++) {
        const token = row[k];
        ids[used++] = token === MASK_TOKEN ? 0 : index.get(token) ?? 1;
      }
      ends[r] = used;
      if (row.length > longest) longest = row.length;
    }
    const data = new Int32Array(batch.length * longest);
    let start = 0;
    for (let r = 0; r < batch.length; r++) {
      data.set(ids.subarray(start, ends[r]), r * longest);
      start = ends[r];
    }
    return { data, shape: [batch.length, longest] };
  }

  #callBag(batch: readonly string[]): VectorizedText {
    const index = this.#index;
    const depth = this.#depthFor(this.vocabularySize());
    const data = new Float32Array(batch.length * depth);
    const multiHot = this.outputMode === "multi_hot";
    const idf = this.outputMode === "tf_idf" ? this.#idfWeights : null;
    const touched: number[] = [];
    for (let r = 0; r < batch.length; r++) {
      const row = this.#tokenize(batch[r], r, "call");
      const base = r * depth;
      touched.length = 0;
      for (let k = 0; k < row.length; k++) {
        const token = row[k];
        // Outside int mode the mask token has no column and is dropped.
        if (token === MASK_TOKEN) continue;
        const column = index.get(token) ?? 0;
        if (multiHot) {
          data[base + column] = 1;
        } else {
          if (data[base + column] === 0) touched.push(column);
          data[base + column]++;
        }
      }
      if (idf !== null) {
        for (const column of touched) data[base + column] *= idf[column];
      }
    }
    return { data, shape: [batch.length, depth] };
  }
}
