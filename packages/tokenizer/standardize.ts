/**
 * Keras `TextVectorization` standardization, byte-for-byte like TensorFlow:
 * `tf.strings.lower` without an encoding lowers ASCII `A`–`Z` only, and the
 * punctuation regex removes exactly the 32 ASCII punctuation characters.
 * Everything else (accented capitals, emoji, Unicode spaces) is left untouched.
 *
 * @module
 */

/** The 32 characters Keras strips: ``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``. */
export const ASCII_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/** Character class bit: ASCII whitespace as `tf.strings.split` sees it. */
export const CLASS_WHITESPACE = 1;
/** Character class bit: ASCII capital letter. */
export const CLASS_UPPER = 2;
/** Character class bit: one of the 32 ASCII punctuation characters. */
export const CLASS_PUNCTUATION = 4;

/**
 * Class bits for UTF-16 code units 0..127 (everything above is class 0).
 * Whitespace is space, \t, \n, \v, \f, \r — `absl::ascii_isspace`, which TF's
 * whitespace split uses; U+00A0 and other Unicode spaces are not separators.
 */
export const ASCII_CLASS: Uint8Array = (() => {
  const table = new Uint8Array(128);
  for (const c of " \t\n\v\f\r") table[c.charCodeAt(0)] |= CLASS_WHITESPACE;
  for (let c = 65; c <= 90; c++) table[c] |= CLASS_UPPER;
  for (const c of ASCII_PUNCTUATION) table[c.charCodeAt(0)] |= CLASS_PUNCTUATION;
  return table;
})();

/** Names of the built-in standardizations Keras accepts. */
export type StandardizeName = "lower_and_strip_punctuation" | "lower" | "strip_punctuation";

/** Built-in standardization names, in Keras's order. */
export const STANDARDIZE_NAMES: readonly StandardizeName[] = [
  "lower_and_strip_punctuation",
  "lower",
  "strip_punctuation",
];

const PUNCTUATION_RE = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;
const UPPER_RE = /[A-Z]/;

/** Lowers ASCII `A`–`Z` only, like `tf.strings.lower(text)` with no encoding. */
export function lowerAscii(text: string): string {
  if (!UPPER_RE.test(text)) return text;
  let out = "";
  let segmentStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 65 && c <= 90) {
      out += text.substring(segmentStart, i) + String.fromCharCode(c + 32);
      segmentStart = i + 1;
    }
  }
  return out + text.substring(segmentStart);
}

/** Removes the 32 ASCII punctuation characters and nothing else. */
export function stripAsciiPunctuation(text: string): string {
  return text.replace(PUNCTUATION_RE, "");
}

/** Applies one of the built-in standardizations to a single text. */
export function standardizeText(text: string, mode: StandardizeName): string {
  switch (mode) {
    case "lower":
      return lowerAscii(text);
    case "strip_punctuation":
      return stripAsciiPunctuation(text);
    case "lower_and_strip_punctuation":
      return stripAsciiPunctuation(lowerAscii(text));
  }
}
