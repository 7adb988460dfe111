// Kernels of the Keras merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum,
// Concatenate, Dot) and their backward passes. All float32, row-major.
// - Broadcasting is by strides: `broadcastTo` materialises an input at the output's shape (a
//   stride of 0 on a broadcast dim) and `sumToShape` is its backward (sums over broadcast dims).
//   Both read a descriptor of int32s at `desc`: rank, the output's dims, then the input's strides
//   (in elements) per output dim.
// - Element-wise merges then run on equal-length flat arrays (`mergeInto`, `mergeSelect`).
// - Maximum/Minimum record per element which input won (`winner`); ties keep the earlier input,
//   as TF routes the gradient of maximum(a, b) to a where a >= b (minimum: a <= b).
// - Masks are int32 per row of the last axis (a [batch, time] mask over [batch, time, features]).
import { addFloats, copyFloats, zeroFloats } from "./floats";

/** Element-wise op codes of `mergeInto`. */
export const MERGE_ADD: i32 = 0;
export const MERGE_SUBTRACT: i32 = 1;
export const MERGE_MULTIPLY: i32 = 2;
export const MERGE_MAXIMUM: i32 = 3;
export const MERGE_MINIMUM: i32 = 4;

function broadcastDim(src: usize, dst: usize, desc: usize, rank: i32, dim: i32): usize {
  const n = load<i32>(desc + ((<usize> (1 + dim)) << 2));
  const stride = load<i32>(desc + ((<usize> (1 + rank + dim)) << 2));
  const sb = <usize> stride << 2;
  if (dim == rank - 1) {
    if (stride == 1) copyFloats(dst, src, n);
    else if (stride == 0) {
      const v = load<f32>(src);
      const s = f32x4.splat(v);
      let i = 0;
      for (; i + 4 <= n; i += 4) v128.store(dst + (<usize> i << 2), s);
      for (; i < n; i++) store<f32>(dst + (<usize> i << 2), v);
    } else {
      for (let i = 0; i < n; i++) store<f32>(dst + (<usize> i << 2), load<f32>(src + <usize> i * sb));
    }
    return dst + (<usize> n << 2);
  }
  let d = dst;
  for (let i = 0; i < n; i++) d = broadcastDim(src + <usize> i * sb, d, desc, rank, dim + 1);
  return d;
}

/**
 * dst (contiguous, the descriptor's output dims) = src read through the descriptor's strides: an
 * input broadcast to the output shape. Descriptor at `desc`: [rank, dims..., strides...].
 */
export function broadcastTo(src: usize, dst: usize, desc: usize): void {
  const rank = load<i32>(desc);
  if (rank == 0) {
    store<f32>(dst, load<f32>(src));
    return;
  }
  broadcastDim(src, dst, desc, rank, 0);
}

function sumDim(src: usize, dst: usize, desc: usize, rank: i32, dim: i32): usize {
  const n = load<i32>(desc + ((<usize> (1 + dim)) << 2));
  const stride = load<i32>(desc + ((<usize> (1 + rank + dim)) << 2));
  const db = <usize> stride << 2;
  if (dim == rank - 1) {
    if (stride == 1) {
      addFloats(dst, src, n);
    } else if (stride == 0) {
      let acc = f32x4.splat(0);
      let i = 0;
      for (; i + 4 <= n; i += 4) acc = f32x4.add(acc, v128.load(src + (<usize> i << 2)));
      let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) +
        f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
      for (; i < n; i++) s += load<f32>(src + (<usize> i << 2));
      store<f32>(dst, load<f32>(dst) + s);
    } else {
      for (let i = 0; i < n; i++) {
        const d = dst + <usize> i * db;
        store<f32>(d, load<f32>(d) + load<f32>(src + (<usize> i << 2)));
      }
    }
    return src + (<usize> n << 2);
  }
  let s = src;
  for (let i = 0; i < n; i++) s = sumDim(s, dst + <usize> i * db, desc, rank, dim + 1);
  return s;
}

/**
 * The backward of `broadcastTo`: dst (`dstFloats` floats, the input's own size) = src (contiguous,
 * the output dims) summed into the input cells the descriptor's strides map it to.
 */
export function sumToShape(src: usize, dst: usize, dstFloats: i32, desc: usize): void {
  zeroFloats(dst, dstFloats);
  const rank = load<i32>(desc);
  if (rank == 0) {
    store<f32>(dst, load<f32>(src));
    return;
  }
  sumDim(src, dst, desc, rank, 0);
}

/** acc[i] = op(acc[i], x[i]) over n floats (op: MERGE_ADD … MERGE_MINIMUM). */
export function mergeInto(op: i32, acc: usize, x: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize> i << 2;
    const a = v128.load(acc + o);
    const b = v128.load(x + o);
    let r: v128;
    switch (op) {
      case MERGE_ADD:
        r = f32x4.add(a, b);
        break;
      case MERGE_SUBTRACT:
        r = f32x4.sub(a, b);
        break;
      case MERGE_MULTIPLY:
        r = f32x4.mul(a, b);
        break;
      case MERGE_MAXIMUM:
        r = v128.bitselect(b, a, f32x4.gt(b, a));
        break;
      default:
        r = v128.bitselect(b, a, f32x4.lt(b, a));
    }
    v128.store(acc + o, r);
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    const a = load<f32>(acc + o);
    const b = load<f32>(x + o);
    let r: f32;
    switch (op) {
      case MERGE_ADD:
        r = a + b;
        break;
      case MERGE_SUBTRACT:
        r = a - b;
        break;
      case MERGE_MULTIPLY:
        r = a * b;
        break;
      case MERGE_MAXIMUM:
        r = b > a ? b : a;
        break;
      default:
        r = b < a ? b : a;
    }
    store<f32>(acc + o, r);
  }
}

/**
 * One step of a Maximum (`isMin` 0) or Minimum (`isMin` 1) merge that remembers the winner:
 * where x[i] beats acc[i] strictly, acc[i] = x[i] and winner[i] = `index` (ties keep the earlier
 * input). With masks (int32 per row of `rowLen` floats; 0 pointer = every row valid): x only
 * takes part in its valid rows, and it also wins where no earlier input was valid
 * (`anyValid`, updated here to anyValid | valid).
 */
export function mergeSelect(
  isMin: i32,
  acc: usize,
  x: usize,
  winner: usize,
  index: i32,
  n: i32,
  valid: usize,
  anyValid: usize,
  rowLen: i32,
): void {
  if (valid == 0 && anyValid == 0) {
    const idx = i32x4.splat(index);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const o = <usize> i << 2;
      const a = v128.load(acc + o);
      const b = v128.load(x + o);
      const take = isMin ? f32x4.lt(b, a) : f32x4.gt(b, a);
      v128.store(acc + o, v128.bitselect(b, a, take));
      v128.store(winner + o, v128.bitselect(idx, v128.load(winner + o), take));
    }
    for (; i < n; i++) {
      const o = <usize> i << 2;
      const a = load<f32>(acc + o);
      const b = load<f32>(x + o);
      if (isMin ? b < a : b > a) {
        store<f32>(acc + o, b);
        store<i32>(winner + o, index);
      }
    }
    return;
  }
  const rows = rowLen > 0 ? n / rowLen : 0;
  for (let r = 0; r < rows; r++) {
    const ro = <usize> r << 2;
    const v = valid == 0 || load<i32>(valid + ro) != 0;
    const any = anyValid == 0 || load<i32>(anyValid + ro) != 0;
    if (v) {
      const base = <usize> r * rowLen;
      for (let j = 0; j < rowLen; j++) {
        const o = (base + <usize> j) << 2;
        const a = load<f32>(acc + o);
        const b = load<f32>(x + o);
        if (!any || (isMin ? b < a : b > a)) {
          store<f32>(acc + o, b);
          store<i32>(winner + o, index);
        }
      }
    }
    if (anyValid != 0 && v) store<i32>(anyValid + ro, 1);
  }
}

/** dx[i] = winner[i] == index ? dy[i] : 0 (the gradient Maximum/Minimum route to one input). */
export function selectGrad(dy: usize, winner: usize, index: i32, dx: usize, n: i32): void {
  const idx = i32x4.splat(index);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize> i << 2;
    v128.store(dx + o, v128.and(v128.load(dy + o), i32x4.eq(v128.load(winner + o), idx)));
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    store<f32>(dx + o, load<i32>(winner + o) == index ? load<f32>(dy + o) : 0);
  }
}

/**
 * dst row r (`rowLen` floats) = src row r where mask[r] != 0, else `value` in every cell (in
 * place when dst == src). Multiply fills masked rows with 1 and zeroes rows no input covers.
 */
export function maskRowsFill(
  src: usize,
  dst: usize,
  mask: usize,
  rows: i32,
  rowLen: i32,
  value: f32,
): void {
  const s = f32x4.splat(value);
  for (let r = 0; r < rows; r++) {
    const o = <usize> r * rowLen << 2;
    if (load<i32>(mask + (<usize> r << 2)) != 0) {
      if (dst != src) copyFloats(dst + o, src + o, rowLen);
    } else {
      let j = 0;
      for (; j + 4 <= rowLen; j += 4) v128.store(dst + o + (<usize> j << 2), s);
      for (; j < rowLen; j++) store<f32>(dst + o + (<usize> j << 2), value);
    }
  }
}

/** dst[i] = src[i] · s over n floats (in place when dst == src). */
export function scaleFloats(src: usize, dst: usize, n: i32, s: f32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize> i << 2;
    v128.store(dst + o, f32x4.mul(v128.load(src + o), sv));
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    store<f32>(dst + o, load<f32>(src + o) * s);
  }
}

/**
 * Copies `rows` runs of `cols` floats: run r from src + r·srcStride to dst + r·dstStride (strides
 * in floats). Concatenate writes each input into its slot of the output's rows; its backward
 * reads the slots back.
 */
export function copyStrided(
  src: usize,
  srcStride: i32,
  dst: usize,
  dstStride: i32,
  rows: i32,
  cols: i32,
): void {
  const sb = <usize> srcStride << 2;
  const db = <usize> dstStride << 2;
  for (let r = 0; r < rows; r++) copyFloats(dst + <usize> r * db, src + <usize> r * sb, cols);
}

/**
 * y row r = x row r / max(‖x row r‖₂, minNorm), over `rows` rows of `cols` floats; norms[r] keeps
 * the denominator (for the backward).
 */
export function l2NormalizeRows(
  x: usize,
  y: usize,
  norms: usize,
  rows: i32,
  cols: i32,
  minNorm: f32,
): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize> r * cols << 2;
    let acc = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const v = v128.load(x + o + (<usize> j << 2));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) +
      f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
    for (; j < cols; j++) {
      const v = load<f32>(x + o + (<usize> j << 2));
      s += v * v;
    }
    const norm = max(<f32> Math.sqrt(<f64> s), minNorm);
    store<f32>(norms + (<usize> r << 2), norm);
    scaleFloats(x + o, y + o, cols, <f32> 1 / norm);
  }
}

/**
 * Backward of `l2NormalizeRows` from its output y and denominators: dx = (dy − y·(y·dy)) / norm
 * per row, or dy / norm where the norm was clamped to `minNorm`.
 */
export function l2NormalizeRowsGrad(
  y: usize,
  dy: usize,
  norms: usize,
  dx: usize,
  rows: i32,
  cols: i32,
  minNorm: f32,
): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize> r * cols << 2;
    const norm = load<f32>(norms + (<usize> r << 2));
    const inv = <f32> 1 / norm;
    if (norm <= minNorm) {
      scaleFloats(dy + o, dx + o, cols, inv);
      continue;
    }
    let acc = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const q = o + (<usize> j << 2);
      acc = f32x4.add(acc, f32x4.mul(v128.load(y + q), v128.load(dy + q)));
    }
    let d = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) +
      f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
    for (; j < cols; j++) {
      const q = o + (<usize> j << 2);
      d += load<f32>(y + q) * load<f32>(dy + q);
    }
    const dv = f32x4.splat(d);
    const iv = f32x4.splat(inv);
    j = 0;
    for (; j + 4 <= cols; j += 4) {
      const q = o + (<usize> j << 2);
      const g = f32x4.sub(v128.load(dy + q), f32x4.mul(v128.load(y + q), dv));
      v128.store(dx + q, f32x4.mul(g, iv));
    }
    for (; j < cols; j++) {
      const q = o + (<usize> j << 2);
      store<f32>(dx + q, (load<f32>(dy + q) - load<f32>(y + q) * d) * inv);
    }
  }
}
