/**
 * Vocabulary ordering and vocabulary files.
 *
 * Keras sorts adapted tokens with `np.lexsort((tokens, counts))[::-1]`: count
 * descending, ties broken by the token's UTF-8 bytes descending. JavaScript's
 * `<` compares UTF-16 code units, which disagrees with UTF-8 byte order when one
 * side is a supplementary character (surrogate pair, e.g. an emoji) and the other
 * a BMP character at or above U+E000; {@linkcode compareUtf8} corrects for that.
 *
 * @module
 */

import { VocabularyError } from "./errors.ts";

/**
 * Compares two strings in the order of their UTF-8 bytes (which is code point
 * order). Returns a negative number, zero or a positive number.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca >= 0xd800 && cb >= 0xd800) {
      // Surrogates (0xD800–0xDFFF) encode code points above 0xFFFF, so they must
      // sort after 0xE000–0xFFFF: shift them up and the high BMP range down.
      ca += ca < 0xe000 ? 0x2000 : -0x800;
      cb += cb < 0xe000 ? 0x2000 : -0x800;
    }
    return ca - cb;
  }
  return a.length - b.length;
}

/**
 * Orders token ids the way Keras's `adapt` does: by count descending, ties by
 * the token's UTF-8 bytes descending. Returns the ids in vocabulary order.
 */
export function sortByCountThenBytesDescending(
  tokens: readonly string[],
  counts: ArrayLike<number>,
): number[] {
  const order = Array.from({ length: tokens.length }, (_, i) => i);
  order.sort((x, y) => counts[y] - counts[x] || compareUtf8(tokens[y], tokens[x]));
  return order;
}

/**
 * Reads a vocabulary file: one token per line, as Keras writes
 * `assets/.../vocabulary.txt` (`"\n".join(vocabulary)`, which on Windows comes
 * out with CRLF line ends). Lines end at `\r\n`, `\n` or `\r`; a UTF-8 byte-order
 * mark is dropped; trailing empty lines are dropped as Keras's `load_assets` does.
 * The first line of a Keras asset is the empty mask token and is kept: pass the
 * result to `TextVectorization`, which recognizes a leading `["", "[UNK]"]`
 * (or `["[UNK]"]` outside `int` mode) and accepts files without them.
 *
 * @param content the file as text, or as raw bytes (decoded as strict UTF-8)
 * @param source a name for the file used in error messages
 */
export function loadVocabularyFile(content: string | Uint8Array, source = "vocabulary"): string[] {
  let text: string;
  if (typeof content === "string") {
    text = content;
  } else if (content instanceof Uint8Array) {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(content);
    } catch (cause) {
      throw new VocabularyError(
        `${source}: the vocabulary file is not valid UTF-8; decode it yourself ` +
          `(e.g. TextDecoder("windows-1252")) and pass the text`,
        { cause },
      );
    }
  } else {
    throw new VocabularyError(
      `${source}: expected the vocabulary file as a string or Uint8Array; received ${typeof content}`,
    );
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r\n|\n|\r/);
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  if (lines.length === 0) {
    throw new VocabularyError(`${source}: the vocabulary file has no tokens`);
  }
  return lines;
}
