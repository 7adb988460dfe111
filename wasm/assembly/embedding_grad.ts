// Backward of Embedding: the table's gradient is a scatter-add of the output gradient rows into
// the rows of the ids that were looked up (ids carry no gradient). The gradient buffer is dense
// (inputDim × dim, what the dense optimizers update), but the work is proportional to the ids.
import { addFloats } from "./floats";

// @ts-ignore: decorator
@inline function loadId(ids: usize, i: i32, idsAreInt: i32): i32 {
  const p = ids + (<usize> i << 2);
  return idsAreInt ? load<i32>(p) : <i32> load<f32>(p);
}

/**
 * grad[ids[i], :] += dy[i, :] for n ids (rows of `dim` floats), in id order. With `overwrite`,
 * the whole (inputDim × dim) buffer is zeroed first (the trainer's OVERWRITE contract). Ids must
 * have been validated by the forward gather (integers in [0, inputDim)).
 */
export function embeddingGrad(
  ids: usize,
  idsAreInt: i32,
  dy: usize,
  grad: usize,
  n: i32,
  inputDim: i32,
  dim: i32,
  overwrite: i32,
): void {
  const rowBytes = <usize> dim << 2;
  if (overwrite) memory.fill(grad, 0, <usize> inputDim * rowBytes);
  for (let i = 0; i < n; i++) {
    const dst = grad + <usize> loadId(ids, i, idsAreInt) * rowBytes;
    const src = dy + <usize> i * rowBytes;
    addFloats(dst, src, dim);
  }
}
