/**
 * Strided memory moves in TypeScript for the operation nodes (`ops/`): reading a strided view of
 * a tensor into a dense one (transpose, slicing, broadcasting, concatenation backward) and
 * adding a dense tensor into a strided view (slicing backward, summing a broadcast gradient, the
 * reductions). Shapes here are whole shapes, batch included.
 *
 * @module
 */

/** Row-major strides (in elements) of a dense tensor of `shape`. */
export function denseStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

/** Product of the dims. */
export function count(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * `dst[i] = src[offset + Σ_d c_d·strides[d]]` for every index `c` of `shape` in row-major order
 * (`i` its flat index in `dst`). Strides may be 0 (broadcast) or negative (reversed slices).
 */
export function gather(
  src: Float32Array,
  offset: number,
  strides: readonly number[],
  shape: readonly number[],
  dst: Float32Array,
): void {
  const inner = shape.length ? shape[shape.length - 1] : 1;
  const s = shape.length ? strides[strides.length - 1] : 0;
  rows(shape, strides, offset, (i, j) => {
    if (s === 1) dst.set(src.subarray(j, j + inner), i);
    else for (let k = 0; k < inner; k++) dst[i + k] = src[j + k * s];
  });
}

/** `dst[offset + Σ_d c_d·strides[d]] += src[i]` (the adjoint of {@link gather}). */
export function scatterAdd(
  src: Float32Array,
  shape: readonly number[],
  dst: Float32Array,
  offset: number,
  strides: readonly number[],
): void {
  const inner = shape.length ? shape[shape.length - 1] : 1;
  const s = shape.length ? strides[strides.length - 1] : 0;
  rows(shape, strides, offset, (i, j) => {
    for (let k = 0; k < inner; k++) dst[j + k * s] += src[i + k];
  });
}

/** `dst[offset + Σ_d c_d·strides[d]] = src[i]` (a strided copy into a region). */
export function scatter(
  src: Float32Array,
  shape: readonly number[],
  dst: Float32Array,
  offset: number,
  strides: readonly number[],
): void {
  const inner = shape.length ? shape[shape.length - 1] : 1;
  const s = shape.length ? strides[strides.length - 1] : 0;
  rows(shape, strides, offset, (i, j) => {
    if (s === 1) dst.set(src.subarray(i, i + inner), j);
    else for (let k = 0; k < inner; k++) dst[j + k * s] = src[i + k];
  });
}

/**
 * Calls `row(i, j)` for every row (all dims but the last) of `shape` in row-major order: `i` the
 * flat index of the row's first element, `j` `offset + Σ c_d·strides[d]` over the outer dims.
 */
function rows(
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
  row: (i: number, j: number) => void,
): void {
  const rank = shape.length;
  const total = count(shape);
  if (total === 0) return;
  if (rank <= 1) {
    row(0, offset);
    return;
  }
  const inner = shape[rank - 1];
  const idx = new Array<number>(rank).fill(0);
  let base = offset;
  for (let i = 0; i < total; i += inner) {
    row(i, base);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      base += strides[d];
      if (idx[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

/**
 * Calls `visit(i, j)` for every index of `shape` in row-major order: `i` its flat index, `j`
 * `offset + Σ c_d·strides[d]`. The innermost dim runs as a plain loop.
 */
export function walk(
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
  visit: (i: number, j: number) => void,
): void {
  const rank = shape.length;
  const total = count(shape);
  if (total === 0) return;
  if (rank === 0) {
    visit(0, offset);
    return;
  }
  const inner = shape[rank - 1];
  const innerStride = strides[rank - 1];
  const idx = new Array<number>(rank).fill(0);
  let base = offset;
  for (let i = 0; i < total; i += inner) {
    let j = base;
    for (let k = 0; k < inner; k++) {
      visit(i + k, j);
      j += innerStride;
    }
    // Advance the outer dims (odometer).
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      base += strides[d];
      if (idx[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

/**
 * NumPy broadcasting of whole shapes (aligned from the right, a 1 stretches; `null` unknown).
 * Returns null when two known dims differ and neither is 1.
 */
export function broadcastFull(
  a: readonly (number | null)[],
  b: readonly (number | null)[],
): (number | null)[] | null {
  const rank = Math.max(a.length, b.length);
  const out: (number | null)[] = [];
  for (let k = 0; k < rank; k++) {
    const p = k < rank - a.length ? 1 : a[k - (rank - a.length)];
    const q = k < rank - b.length ? 1 : b[k - (rank - b.length)];
    if (p === null || q === null) out.push(p === 1 ? q : q === 1 ? p : (p ?? q));
    else if (p === 1) out.push(q);
    else if (q === 1 || p === q) out.push(p);
    else return null;
  }
  return out;
}

/**
 * Strides reading a dense tensor of `shape` at the broadcast shape `out` (0 on stretched dims
 * and on the leading dims `shape` lacks).
 */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const own = denseStrides(shape);
  const lead = out.length - shape.length;
  return out.map((d, k) => {
    if (k < lead) return 0;
    const s = shape[k - lead];
    return s === 1 && d !== 1 ? 0 : own[k - lead];
  });
}

/** Same dims in the same order. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
