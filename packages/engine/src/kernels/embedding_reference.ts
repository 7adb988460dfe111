/** Plain TypeScript Embedding gather and `mask_zero` mask — the oracle of the embedding kernels. */

/**
 * Rows of `table` (inputDim, dim) for each id; `badIndex` is the position of the first id that is
 * not an integer in [0, inputDim) (then `out` is null), else -1.
 */
export function embeddingReference(
  ids: Float32Array | Int32Array,
  table: Float32Array,
  inputDim: number,
  dim: number,
): { out: Float32Array | null; badIndex: number } {
  const badIndex = ids.findIndex((v) => !(Number.isInteger(v) && v >= 0 && v < inputDim));
  if (badIndex >= 0) return { out: null, badIndex };
  const out = new Float32Array(ids.length * dim);
  ids.forEach((id, i) => out.set(table.subarray(id * dim, (id + 1) * dim), i * dim));
  return { out, badIndex: -1 };
}

/** Keras `mask_zero`: 1 where the id is not 0. */
export function embeddingMaskReference(ids: Float32Array | Int32Array): Int32Array {
  return Int32Array.from(ids, (v) => (v !== 0 ? 1 : 0));
}
