/**
 * N-grams as `tf.strings.ngrams(tokens, ngram_width=widths, separator=" ")`
 * makes them for Keras `TextVectorization`: for each width in the order given,
 * every window of that many adjacent tokens joined by one space, left to right.
 * No padding, and a width longer than the sequence yields nothing for it.
 *
 * @module
 */

/**
 * Normalizes Keras's `ngrams` argument: an integer `n` means widths `1..n`;
 * an array keeps its widths and their order; `null` means no n-grams.
 * Validation of the values is the caller's job.
 */
export function ngramWidths(ngrams: number | readonly number[] | null): number[] | null {
  if (ngrams === null) return null;
  if (typeof ngrams === "number") return Array.from({ length: ngrams }, (_, i) => i + 1);
  return [...ngrams];
}

/** Returns the n-grams of `tokens` for each width in `widths`, in TF's order. */
export function makeNgrams(tokens: readonly string[], widths: readonly number[]): string[] {
  const out: string[] = [];
  const n = tokens.length;
  for (const width of widths) {
    if (width === 1) {
      for (let i = 0; i < n; i++) out.push(tokens[i]);
      continue;
    }
    for (let start = 0; start + width <= n; start++) {
      let gram = tokens[start];
      for (let k = 1; k < width; k++) gram += " " + tokens[start + k];
      out.push(gram);
    }
  }
  return out;
}
