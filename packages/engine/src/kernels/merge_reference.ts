/**
 * Plain TypeScript references of the merge kernels (wasm/assembly/merge.ts), the oracle of
 * merge_test.ts, plus a literal transcription of Keras 3's masked element-wise merge loop
 * (`mergeMaskedReference`) for the layer tests. Float64 accumulation where the kernel sums.
 */

/** Row-major strides of `shape`. */
function stridesOf(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
}

/**
 * The flat index in a tensor of `shape` (with batch; a lower rank is padded with 1s after the
 * batch axis) read for each flat index of `outShape`, under broadcasting.
 */
export function broadcastIndexMap(
  shape: readonly number[],
  outShape: readonly number[],
): Int32Array {
  const rank = outShape.length;
  const padded = [shape[0], ...new Array(rank - shape.length).fill(1), ...shape.slice(1)];
  const inStrides = stridesOf(padded);
  const outStrides = stridesOf(outShape);
  const n = outShape.reduce((a, b) => a * b, 1);
  const map = new Int32Array(n);
  for (let o = 0; o < n; o++) {
    let rest = o, idx = 0;
    for (let d = 0; d < rank; d++) {
      const c = Math.floor(rest / outStrides[d]);
      rest -= c * outStrides[d];
      idx += (padded[d] === 1 ? 0 : c) * inStrides[d];
    }
    map[o] = idx;
  }
  return map;
}

/** `broadcastTo`: x of `shape` read at `outShape`. */
export function broadcastToReference(
  x: Float32Array,
  shape: readonly number[],
  outShape: readonly number[],
): Float32Array {
  const map = broadcastIndexMap(shape, outShape);
  return Float32Array.from(map, (i) => x[i]);
}

/** `sumToShape`: g of `outShape` summed into a tensor of `shape`. */
export function sumToShapeReference(
  g: Float32Array,
  shape: readonly number[],
  outShape: readonly number[],
): Float32Array {
  const map = broadcastIndexMap(shape, outShape);
  const acc = new Float64Array(shape.reduce((a, b) => a * b, 1));
  for (let o = 0; o < map.length; o++) acc[map[o]] += g[o];
  return Float32Array.from(acc);
}

/** `mergeInto` op codes: add, subtract, multiply, maximum, minimum. */
export function mergeIntoReference(op: number, acc: Float32Array, x: Float32Array): Float32Array {
  const f = [
    (a: number, b: number) => a + b,
    (a: number, b: number) => a - b,
    (a: number, b: number) => a * b,
    (a: number, b: number) => (b > a ? b : a),
    (a: number, b: number) => (b < a ? b : a),
  ][op];
  return Float32Array.from(acc, (a, i) => f(a, x[i]));
}

/** `mergeSelect`: returns the new acc, winner and anyValid (null masks: every row valid). */
export function mergeSelectReference(
  isMin: boolean,
  acc: Float32Array,
  x: Float32Array,
  winner: Int32Array,
  index: number,
  valid: Int32Array | null,
  anyValid: Int32Array | null,
  rowLen: number,
): { acc: Float32Array; winner: Int32Array; anyValid: Int32Array | null } {
  const a = acc.slice(), w = winner.slice(), any = anyValid ? anyValid.slice() : null;
  for (let i = 0; i < a.length; i++) {
    const r = Math.floor(i / rowLen);
    const v = valid ? valid[r] !== 0 : true;
    const prior = any ? any[r] !== 0 : true;
    if (v && (!prior || (isMin ? x[i] < a[i] : x[i] > a[i]))) {
      a[i] = x[i];
      w[i] = index;
    }
  }
  if (any) {
    for (let r = 0; r < any.length; r++) if (!valid || valid[r]) any[r] = 1;
  }
  return { acc: a, winner: w, anyValid: any };
}

/** `selectGrad`. */
export function selectGradReference(dy: Float32Array, winner: Int32Array, index: number) {
  return Float32Array.from(dy, (g, i) => (winner[i] === index ? g : 0));
}

/** `maskRowsFill`. */
export function maskRowsFillReference(
  x: Float32Array,
  mask: Int32Array,
  rowLen: number,
  value: number,
): Float32Array {
  return Float32Array.from(x, (v, i) => (mask[Math.floor(i / rowLen)] ? v : value));
}

/** `copyStrided`: returns `dst` with the runs written. */
export function copyStridedReference(
  src: Float32Array,
  srcStride: number,
  dst: Float32Array,
  dstStride: number,
  rows: number,
  cols: number,
): Float32Array {
  const out = dst.slice();
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * dstStride + c] = src[r * srcStride + c];
  }
  return out;
}

/** `l2NormalizeRows`: y and the per-row denominators. */
export function l2NormalizeRowsReference(
  x: Float32Array,
  rows: number,
  cols: number,
  minNorm: number,
): { y: Float32Array; norms: Float32Array } {
  const y = new Float32Array(x.length), norms = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += x[r * cols + c] ** 2;
    const n = Math.max(Math.sqrt(s), minNorm);
    norms[r] = n;
    for (let c = 0; c < cols; c++) y[r * cols + c] = x[r * cols + c] / n;
  }
  return { y, norms };
}

/** `l2NormalizeRowsGrad`, from x (not y): the exact derivative of x / max(‖x‖, minNorm). */
export function l2NormalizeRowsGradReference(
  x: Float32Array,
  dy: Float32Array,
  rows: number,
  cols: number,
  minNorm: number,
): Float32Array {
  const dx = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) {
    let s = 0, d = 0;
    for (let c = 0; c < cols; c++) s += x[r * cols + c] ** 2;
    const norm = Math.sqrt(s);
    const clamped = norm <= minNorm;
    const n = clamped ? minNorm : norm;
    for (let c = 0; c < cols; c++) d += x[r * cols + c] * dy[r * cols + c];
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      dx[i] = clamped ? dy[i] / n : dy[i] / n - (x[i] * d) / (n * n * n);
    }
  }
  return dx;
}

/**
 * Keras 3's masked element-wise merge on equal-shape inputs, transcribed from its definition
 * (row masks broadcast over the last axis; null = no mask): Maximum/Minimum replace an input's
 * masked values by the running output and the running output's masked values by the input
 * before the op; Multiply fills masked values with 1 and zeroes rows outside the OR of the masks
 * when every input has a mask.
 */
export function mergeMaskedReference(
  op: "multiply" | "maximum" | "minimum",
  xs: Float32Array[],
  masks: (Int32Array | null)[],
  rowLen: number,
): Float32Array {
  const n = xs[0].length;
  const row = (i: number) => Math.floor(i / rowLen);
  if (op === "multiply") {
    const all = masks.every((m) => m !== null);
    const out = new Float32Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      let any = false;
      xs.forEach((x, j) => {
        const m = masks[j];
        const v = m ? m[row(i)] !== 0 : true;
        any ||= v;
        out[i] *= v ? x[i] : 1;
      });
      if (all && !any) out[i] = 0;
    }
    return out;
  }
  const f = op === "maximum" ? Math.max : Math.min;
  let out = xs[0].slice();
  let outMask: Int32Array | null = masks[0] ? masks[0].slice() : null;
  for (let j = 1; j < xs.length; j++) {
    const m = masks[j];
    const x = xs[j].slice();
    if (m) { for (let i = 0; i < n; i++) if (!m[row(i)]) x[i] = out[i]; }
    if (outMask) { for (let i = 0; i < n; i++) if (!outMask[row(i)]) out[i] = x[i]; }
    if (m && outMask) outMask = Int32Array.from(outMask, (v, r) => (v || m[r] ? 1 : 0));
    else outMask = null;
    out = Float32Array.from(out, (v, i) => f(v, x[i]));
  }
  return out;
}
