// Embedding gather and the `mask_zero` mask. Ids arrive as int32 or float32 (integral values).

// @ts-ignore: decorator
@inline function loadId(ids: usize, i: i32, idsAreInt: i32): f64 {
  const p = ids + (<usize> i << 2);
  return idsAreInt ? <f64> load<i32>(p) : <f64> load<f32>(p);
}

/**
 * out[i, :] = table[ids[i], :] for n ids; the table is (inputDim, dim).
 * Validates every id first and returns the index of the first id that is not an integer in
 * [0, inputDim) (nothing is written then), or -1 when all are valid.
 */
export function embeddingGather(
  ids: usize,
  idsAreInt: i32,
  table: usize,
  out: usize,
  n: i32,
  inputDim: i32,
  dim: i32,
): i32 {
  const limit = <f64> inputDim;
  for (let i = 0; i < n; i++) {
    const v = loadId(ids, i, idsAreInt);
    if (!(v >= 0 && v < limit && v == Math.floor(v))) return i;
  }
  const rowBytes = <usize> dim << 2;
  for (let i = 0; i < n; i++) {
    const id = <i32> loadId(ids, i, idsAreInt);
    const src = table + <usize> id * rowBytes;
    const dst = out + <usize> i * rowBytes;
    let j = 0;
    for (; j + 4 <= dim; j += 4) {
      const off = <usize> j << 2;
      v128.store(dst + off, v128.load(src + off));
    }
    for (; j < dim; j++) {
      const off = <usize> j << 2;
      store<f32>(dst + off, load<f32>(src + off));
    }
  }
  return -1;
}

/** mask[i] = ids[i] != 0 ? 1 : 0 (int32), for n ids. */
export function embeddingMask(ids: usize, idsAreInt: i32, mask: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    store<i32>(mask + (<usize> i << 2), loadId(ids, i, idsAreInt) != 0 ? 1 : 0);
  }
}
