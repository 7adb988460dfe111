/** Plain TypeScript oracle of the Embedding backward kernel (`wasm/assembly/embedding_grad.ts`). */

/**
 * ∂loss/∂table (inputDim × dim, float64) for ids [n] and the output gradient dy [n, dim]: the
 * rows of dy summed into the rows of their ids; rows of ids not looked up are zero.
 */
export function embeddingGradReference(
  ids: ArrayLike<number>,
  dy: ArrayLike<number>,
  inputDim: number,
  dim: number,
): Float64Array {
  const grad = new Float64Array(inputDim * dim);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    for (let j = 0; j < dim; j++) grad[id * dim + j] += dy[i * dim + j];
  }
  return grad;
}
