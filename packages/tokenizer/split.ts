/**
 * Keras `TextVectorization` splitting: `"whitespace"` is `tf.strings.split` (runs
 * of ASCII whitespace separate tokens, empty tokens dropped) and `"character"` is
 * `tf.strings.unicode_split(text, "UTF-8")` (one token per Unicode code point).
 *
 * The fused {@linkcode splitWhitespaceStandardized} does the built-in
 * standardization and the whitespace split in one scan, which is what makes
 * `adapt`/`call` fast: most tokens need no copy beyond one `substring`.
 *
 * @module
 */

import { ASCII_CLASS, CLASS_PUNCTUATION, CLASS_UPPER, CLASS_WHITESPACE } from "./standardize.ts";

/** Names of the built-in splits Keras accepts. */
export type SplitName = "whitespace" | "character";

/** Built-in split names, in Keras's order. */
export const SPLIT_NAMES: readonly SplitName[] = ["whitespace", "character"];

function isAsciiWhitespace(c: number): boolean {
  return c < 128 && (ASCII_CLASS[c] & CLASS_WHITESPACE) !== 0;
}

/**
 * Splits on runs of ASCII whitespace (space, \t, \n, \v, \f, \r); leading and
 * trailing whitespace yield no empty tokens. Appends to `out` and returns it.
 */
export function splitWhitespace(text: string, out: string[] = []): string[] {
  const n = text.length;
  let i = 0;
  while (i < n) {
    while (i < n && isAsciiWhitespace(text.charCodeAt(i))) i++;
    if (i >= n) break;
    const start = i;
    while (i < n && !isAsciiWhitespace(text.charCodeAt(i))) i++;
    out.push(text.substring(start, i));
  }
  return out;
}

/**
 * Splits into Unicode code points (a surrogate pair stays one token; whitespace
 * characters are tokens too). Appends to `out` and returns it.
 */
export function splitCharacters(text: string, out: string[] = []): string[] {
  for (const codePoint of text) out.push(codePoint);
  return out;
}

/**
 * Standardizes and whitespace-splits in one pass. Equivalent to
 * `splitWhitespace(standardizeText(text, mode))`: stripping punctuation never
 * adds or removes whitespace, so each whitespace-delimited run of the raw text is
 * standardized on its own and dropped if nothing is left (e.g. a lone `"-"`).
 *
 * @param lower lower ASCII capitals
 * @param strip strip the 32 ASCII punctuation characters
 */
export function splitWhitespaceStandardized(
  text: string,
  lower: boolean,
  strip: boolean,
  out: string[] = [],
): string[] {
  const dirtyBits = (lower ? CLASS_UPPER : 0) | (strip ? CLASS_PUNCTUATION : 0);
  const n = text.length;
  let i = 0;
  while (i < n) {
    let c = text.charCodeAt(i);
    while (c < 128 && (ASCII_CLASS[c] & CLASS_WHITESPACE) !== 0) {
      if (++i >= n) return out;
      c = text.charCodeAt(i);
    }
    const start = i;
    let dirty = false;
    while (true) {
      if (c < 128) {
        const cls = ASCII_CLASS[c];
        if ((cls & CLASS_WHITESPACE) !== 0) break;
        if ((cls & dirtyBits) !== 0) dirty = true;
      }
      if (++i >= n) break;
      c = text.charCodeAt(i);
    }
    if (!dirty) {
      out.push(text.substring(start, i));
      continue;
    }
    const token = cleanRun(text, start, i, dirtyBits);
    if (token.length > 0) out.push(token);
  }
  return out;
}

/** Standardizes `text[start, end)`, known to hold at least one dirty character. */
function cleanRun(text: string, start: number, end: number, dirtyBits: number): string {
  let token = "";
  let segmentStart = start;
  for (let j = start; j < end; j++) {
    const c = text.charCodeAt(j);
    if (c >= 128) continue;
    const cls = ASCII_CLASS[c] & dirtyBits;
    if (cls === 0) continue;
    if (segmentStart < j) token += text.substring(segmentStart, j);
    // An upper-case letter is never punctuation, so the bits are exclusive.
    if (cls === CLASS_UPPER) token += String.fromCharCode(c + 32);
    segmentStart = j + 1;
  }
  if (segmentStart < end) token += text.substring(segmentStart, end);
  return token;
}
