/**
 * `@scratchnet/tokenizer`: a Keras `TextVectorization` clone that produces the
 * same token ids as Keras 3 (ASCII-only lowering, the 32 ASCII punctuation
 * characters, ASCII-whitespace split, count-then-bytes-descending vocabulary).
 *
 * @example
 * ```ts
 * import { TextVectorization } from "@scratchnet/tokenizer";
 *
 * const vectorizer = new TextVectorization({ maxTokens: 20000, outputSequenceLength: 64 });
 * vectorizer.adapt(trainTexts);
 * const { data, shape } = vectorizer.call(["Makanannya enak sekali!"]); // Int32Array, [1, 64]
 * ```
 *
 * @module
 */

export {
  type FromConfigOptions,
  MASK_TOKEN,
  MAX_NGRAM_WIDTH,
  MAX_OUTPUT_ELEMENTS,
  OOV_TOKEN,
  type OutputMode,
  TextVectorization,
  type TextVectorizationOptions,
  type VectorizedText,
} from "./text_vectorization.ts";
export {
  type KerasSerializedFunction,
  type KerasTextVectorizationConfig,
  type ParsedKerasConfig,
  parseKerasConfig,
  type SplitFunction,
  type StandardizeFunction,
} from "./keras_config.ts";
export { compareUtf8, loadVocabularyFile, sortByCountThenBytesDescending } from "./vocabulary.ts";
export {
  ASCII_PUNCTUATION,
  lowerAscii,
  type StandardizeName,
  standardizeText,
  stripAsciiPunctuation,
} from "./standardize.ts";
export {
  splitCharacters,
  type SplitName,
  splitWhitespace,
  splitWhitespaceStandardized,
} from "./split.ts";
export { makeNgrams } from "./ngrams.ts";
export {
  TokenizerConfigError,
  TokenizerError,
  TokenizerInputError,
  TokenizerStateError,
  VocabularyError,
} from "./errors.ts";
