// Recurrent layers (SimpleRNN, LSTM, GRU) over a whole batch and a whole sequence in one call.
//
// The input projection of every timestep is one GEMM (x[B*T, in] · kernel + bias); the loop
// then does, per step, one GEMM of the batch's states with the recurrent kernel and the fused
// gate update per row. Keras masking: a masked step keeps the states; its output repeats the
// previous output (zeros before the first real step) or, with zero_output_for_mask, is zero.
// With a mask, both GEMMs leave out rows whose result no step reads (see rnnSequence).
// Cell codes and flags must match packages/engine/src/kernels/rnn_codes.ts.
import { activateScalar, activateV, LINEAR, SIGMOID, sigmoidV, TANH, tanhV } from "./activations";
import { addFloats, copyFloats, zeroFloats } from "./floats";
import { gemm, gemmStrided, madd } from "./gemm";

const CELL_SIMPLE: i32 = 0;
const CELL_LSTM: i32 = 1;
const CELL_GRU: i32 = 2; // reset_after = false: hh = act(x·Wh + bh + (r*h)·Uh)
const CELL_GRU_RESET_AFTER: i32 = 3; // hh = act(x·Wh + bh_in + r*(h·Uh + bh_rec))

const FLAG_GO_BACKWARDS: i32 = 1;
const FLAG_RETURN_SEQUENCES: i32 = 2;
const FLAG_ZERO_OUTPUT_FOR_MASK: i32 = 4;
const FLAG_REVERSE_OUTPUT: i32 = 8; // write step s at time position T-1-s (Bidirectional's flip)
// x is already projected: x[batch, time, G*units] = input·kernel + bias (an Embedding's rows
// looked up in a table of every id's projection), so the kernel reads it in place of its own.
const FLAG_PROJECTED: i32 = 16;

// @ts-ignore: decorator
@inline function gateCount(cell: i32): i32 {
  return cell == CELL_SIMPLE ? 1 : cell == CELL_LSTM ? 4 : 3;
}

// @ts-ignore: decorator
@inline function paddedBytes(floats: f64): f64 {
  return Math.ceil(floats / 4) * 16;
}

/**
 * Bytes of scratch memory `rnnSequence` needs (16-byte aligned segments); `time` 0 for a run on
 * a projected input (FLAG_PROJECTED), which needs no projection segment.
 */
export function rnnWorkspaceBytes(cell: i32, batch: i32, time: i32, units: i32): f64 {
  const g = <f64> (gateCount(cell) * units);
  const b = <f64> batch;
  return paddedBytes(b * <f64> time * g) + paddedBytes(b * g) + 2 * paddedBytes(b * <f64> units);
}

// @ts-ignore: decorator
@inline function sigma(x: f32, code: i32, alpha: f32): f32 {
  return activateScalar(x, code, alpha);
}

/**
 * Rows a step takes one at a time through {@link rowStep} rather than through the GEMMs: the
 * row path runs each gate's activations right after that gate's columns of the product, so
 * out-of-order execution can overlap them with the next columns' multiply-adds, and skips the
 * product of rows masked at the step (batch 1, GRU / LSTM of 64 units: the kernel 3–7 %
 * faster), but streams the recurrent kernel once per row.
 */
const ROW_STEP_MAX_ROWS: i32 = 2;

/**
 * The most units the row path takes: gemm sums k in blocks of GEMM_KC (256, gemm.ts) and adds
 * the blocks' sums, the row path in one chain, which is the same sum only up to one block.
 */
const ROW_STEP_MAX_UNITS: i32 = 256;

/** Whether a step of `rows` rows of `units` units runs row by row ({@link rowStep}). */
// @ts-ignore: decorator
@inline function stepsByRow(rows: i32, units: i32): bool {
  return rows <= ROW_STEP_MAX_ROWS && (units & 3) == 0 && units <= ROW_STEP_MAX_UNITS;
}

/**
 * Copies columns [j0, j0 + n) of the recurrent kernel (rows `sb` bytes apart, `k` rows) into
 * `dst` as the blocks {@link rowProductBlock} reads, in its order: each block of 32 (then 4)
 * columns is its k rows of 32 (4) floats, one after the other. The block of columns starting at
 * column j then begins at dst + j·k floats, which {@link rowProductBlock} relies on.
 */
function packRowColumns(src: usize, sb: usize, k: i32, j0: i32, n: i32, dst: usize): void {
  for (let j = 0; j < n;) {
    const width = j + 32 <= n ? 32 : 4;
    let from = src + (<usize> (j0 + j) << 2);
    let to = dst + ((<usize> (j0 + j) * <usize> k) << 2);
    if (width == 32) {
      for (let r = 0; r < k; r++) {
        v128.store(to, v128.load(from));
        v128.store(to, v128.load(from, 16), 16);
        v128.store(to, v128.load(from, 32), 32);
        v128.store(to, v128.load(from, 48), 48);
        v128.store(to, v128.load(from, 64), 64);
        v128.store(to, v128.load(from, 80), 80);
        v128.store(to, v128.load(from, 96), 96);
        v128.store(to, v128.load(from, 112), 112);
        from += sb;
        to += 128;
      }
    } else {
      for (let r = 0; r < k; r++) {
        v128.store(to, v128.load(from));
        from += sb;
        to += 16;
      }
    }
    j += width;
  }
}

/**
 * Bytes of the recurrent kernel of a `units`-unit cell in the row path's blocks
 * ({@link rnnPackRowKernel}); 0 when the row path does not take that many units.
 */
export function rnnRowKernelBytes(cell: i32, units: i32): f64 {
  if (!stepsByRow(1, units)) return 0;
  return paddedBytes(<f64> units * <f64> (gateCount(cell) * units));
}

/**
 * The recurrent kernel [u, g] in the blocks {@link rowStep} reads (units a multiple of 4, at most
 * ROW_STEP_MAX_UNITS), into `dst` of rnnRowKernelBytes(cell, units) bytes: the column ranges
 * rowStep blocks separately (GRU: z and r, then h; the other cells all gate columns at once),
 * each by {@link packRowColumns}. A product then reads each block of columns as one contiguous
 * stream instead of 32 or 4 floats out of every row of the kernel (a 128-unit GRU's rows are
 * 1,536 bytes): the batch-1 matrix-vector product runs at ~44 GFLOP/s instead of ~36.
 */
export function rnnPackRowKernel(cell: i32, recKernel: usize, units: i32, dst: usize): void {
  const u = units;
  const g = gateCount(cell) * u;
  const sb = <usize> g << 2;
  if (cell == CELL_GRU) {
    packRowColumns(recKernel, sb, u, 0, 2 * u, dst);
    packRowColumns(recKernel, sb, u, 2 * u, u, dst);
  } else {
    packRowColumns(recKernel, sb, u, 0, g, dst);
  }
}

/**
 * c[0..n) = a·B for one row `a` of k floats, B's n columns packed as one range by
 * {@link rnnPackRowKernel} (an LSTM's or SimpleRNN's recurrent kernel: k = units, n = its gate
 * columns): the recurrent product a batch-1 step of those cells runs ({@link rowStep}, before its
 * gates), exported so the bench times the engine's matrix-vector product as a step runs it. The
 * sums are gemm's for m = 1, bit for bit (k ≤ ROW_STEP_MAX_UNITS).
 */
export function rnnRowProduct(a: usize, packed: usize, k: i32, n: i32, c: usize): void {
  for (let j0 = 0; j0 < n;) j0 = rowProductBlock(a, k, 0, 0, packed, c, 0, j0, n);
}

/**
 * c[0..32) = a·B[:, 0..32) over k rows of B (`sb` bytes apart) + bias[0..32) (bias 0: none):
 * each column is the one chain gemm's tile1x32 / tile1x4 sum (madd in k order from zero, then
 * the bias), so a row's result is the GEMM's bit for bit.
 */
function rowProduct32(a: usize, k: i32, b: usize, sb: usize, c: usize, bias: usize): void {
  let x0 = f32x4.splat(0), x1 = f32x4.splat(0), x2 = f32x4.splat(0), x3 = f32x4.splat(0);
  let x4 = f32x4.splat(0), x5 = f32x4.splat(0), x6 = f32x4.splat(0), x7 = f32x4.splat(0);
  let bp = b;
  const end = a + (<usize> k << 2);
  let p = a;
  // Two k steps an iteration (each chain still in k order): 5-10 % faster than one.
  for (; p + 8 <= end; p += 8) {
    let v = v128.load32_splat(p);
    x0 = madd(x0, v, v128.load(bp));
    x1 = madd(x1, v, v128.load(bp, 16));
    x2 = madd(x2, v, v128.load(bp, 32));
    x3 = madd(x3, v, v128.load(bp, 48));
    x4 = madd(x4, v, v128.load(bp, 64));
    x5 = madd(x5, v, v128.load(bp, 80));
    x6 = madd(x6, v, v128.load(bp, 96));
    x7 = madd(x7, v, v128.load(bp, 112));
    bp += sb;
    v = v128.load32_splat(p, 4);
    x0 = madd(x0, v, v128.load(bp));
    x1 = madd(x1, v, v128.load(bp, 16));
    x2 = madd(x2, v, v128.load(bp, 32));
    x3 = madd(x3, v, v128.load(bp, 48));
    x4 = madd(x4, v, v128.load(bp, 64));
    x5 = madd(x5, v, v128.load(bp, 80));
    x6 = madd(x6, v, v128.load(bp, 96));
    x7 = madd(x7, v, v128.load(bp, 112));
    bp += sb;
  }
  for (; p < end; p += 4) {
    const v = v128.load32_splat(p);
    x0 = madd(x0, v, v128.load(bp));
    x1 = madd(x1, v, v128.load(bp, 16));
    x2 = madd(x2, v, v128.load(bp, 32));
    x3 = madd(x3, v, v128.load(bp, 48));
    x4 = madd(x4, v, v128.load(bp, 64));
    x5 = madd(x5, v, v128.load(bp, 80));
    x6 = madd(x6, v, v128.load(bp, 96));
    x7 = madd(x7, v, v128.load(bp, 112));
    bp += sb;
  }
  if (bias) {
    x0 = f32x4.add(x0, v128.load(bias));
    x1 = f32x4.add(x1, v128.load(bias, 16));
    x2 = f32x4.add(x2, v128.load(bias, 32));
    x3 = f32x4.add(x3, v128.load(bias, 48));
    x4 = f32x4.add(x4, v128.load(bias, 64));
    x5 = f32x4.add(x5, v128.load(bias, 80));
    x6 = f32x4.add(x6, v128.load(bias, 96));
    x7 = f32x4.add(x7, v128.load(bias, 112));
  }
  v128.store(c, x0);
  v128.store(c, x1, 16);
  v128.store(c, x2, 32);
  v128.store(c, x3, 48);
  v128.store(c, x4, 64);
  v128.store(c, x5, 80);
  v128.store(c, x6, 96);
  v128.store(c, x7, 112);
}

/** {@link rowProduct32} for 4 columns. */
function rowProduct4(a: usize, k: i32, b: usize, sb: usize, c: usize, bias: usize): void {
  let x0 = f32x4.splat(0);
  let bp = b;
  const end = a + (<usize> k << 2);
  for (let p = a; p < end; p += 4) {
    x0 = madd(x0, v128.load32_splat(p), v128.load(bp));
    bp += sb;
  }
  if (bias) x0 = f32x4.add(x0, v128.load(bias));
  v128.store(c, x0);
}

/**
 * Columns [j0, j0 + 32) or [j0, j0 + 4) of one row's product a·B + bias into c (all offsets in
 * columns); returns the next j0. B's rows are `sb` bytes apart; or, with `packed` (not 0), B's
 * columns from j0 are packed's block there ({@link packRowColumns} of the same columns).
 */
// @ts-ignore: decorator
@inline function rowProductBlock(
  a: usize,
  k: i32,
  b: usize,
  sb: usize,
  packed: usize,
  c: usize,
  bias: usize,
  j0: i32,
  n: i32,
): i32 {
  const o = <usize> j0 << 2;
  const biasAt = bias ? bias + o : 0;
  const wide = j0 + 32 <= n;
  const block = packed ? packed + ((<usize> j0 * <usize> k) << 2) : b + o;
  const rowBytes: usize = packed ? (wide ? 128 : 16) : sb;
  if (wide) {
    rowProduct32(a, k, block, rowBytes, c + o, biasAt);
    return j0 + 32;
  }
  rowProduct4(a, k, block, rowBytes, c + o, biasAt);
  return j0 + 4;
}

/**
 * {@link rowStep} of an LSTM with Keras's default activations (sigmoid gates, tanh cell): the
 * same operations with sigmoidV / tanhV called directly, as activateV would for those codes, so
 * the results are the same bit for bit; each vector skips activateV's tests of the code.
 */
function lstmRowStepSigmoidTanh(
  xr: usize,
  hs: usize,
  aux: usize,
  hr: usize,
  recKernel: usize,
  packed: usize,
  u: i32,
): void {
  const g = u << 2;
  const sb = <usize> g << 2;
  const c0 = u << 1, c1 = 3 * u; // the cell gate's columns
  for (let j0 = 0; j0 < g;) {
    const j1 = rowProductBlock(hs, u, recKernel, sb, packed, hr, 0, j0, g);
    for (let j = j0; j < j1; j += 4) {
      const o = <usize> j << 2;
      const v = f32x4.add(v128.load(hr + o), v128.load(xr + o));
      v128.store(hr + o, j >= c0 && j < c1 ? tanhV(v) : sigmoidV(v));
    }
    j0 = j1;
  }
  lstmRowState(hr, aux, hs, u, TANH, 0);
}

/**
 * The LSTM state update of a row step, from the activated gates i, f, c, o in `hr`: the cell
 * state c = f·c + i·g (in `aux`) and h = o·act(c) (in `hs`). `act` TANH calls tanhV directly
 * (what activateV computes for it, bit for bit).
 */
// @ts-ignore: decorator
@inline function lstmRowState(hr: usize, aux: usize, hs: usize, u: i32, act: i32, actAlpha: f32): void {
  const uBytes = <usize> u << 2;
  for (let j = 0; j < u; j += 4) {
    const o = <usize> j << 2;
    const ig = v128.load(hr + o);
    const fg = v128.load(hr + uBytes + o);
    const cg = v128.load(hr + (uBytes << 1) + o);
    const og = v128.load(hr + 3 * uBytes + o);
    const c = f32x4.add(f32x4.mul(fg, v128.load(aux + o)), f32x4.mul(ig, cg));
    v128.store(aux + o, c);
    v128.store(hs + o, f32x4.mul(og, act == TANH ? tanhV(c) : activateV(c, act, actAlpha)));
  }
}

/**
 * {@link rowStep} of a GRU with reset_after (Keras's default) and the default activations
 * (sigmoid z and r, tanh h): as {@link lstmRowStepSigmoidTanh}, activateV's operations for those
 * codes called directly, bit for bit the same.
 */
function gruRowStepSigmoidTanh(
  xr: usize,
  hs: usize,
  hr: usize,
  recKernel: usize,
  packed: usize,
  recBias: usize,
  u: i32,
): void {
  const g = 3 * u;
  const sb = <usize> g << 2;
  for (let j0 = 0; j0 < g;) {
    const j1 = rowProductBlock(hs, u, recKernel, sb, packed, hr, recBias, j0, g);
    for (let j = j0; j < min(j1, 2 * u); j += 4) {
      const o = <usize> j << 2;
      v128.store(hr + o, sigmoidV(f32x4.add(v128.load(xr + o), v128.load(hr + o))));
    }
    j0 = j1;
  }
  gruRowState(xr, hs, hr, u, TANH, 0);
}

/**
 * The state update of a reset_after GRU row step, from the activated z and r in `hr` and
 * h·U[:, 2u..3u) + bias after them: hh = act(x_h + r·(h·U_h)), h = z·h + (1 − z)·hh (in `hs`).
 * `act` TANH calls tanhV directly (what activateV computes for it, bit for bit).
 */
// @ts-ignore: decorator
@inline function gruRowState(xr: usize, hs: usize, hr: usize, u: i32, act: i32, actAlpha: f32): void {
  const uBytes = <usize> u << 2;
  const one = f32x4.splat(1);
  for (let j = 0; j < u; j += 4) {
    const o = <usize> j << 2;
    const z = v128.load(hr + o);
    const r = v128.load(hr + uBytes + o);
    const v = f32x4.add(v128.load(xr + (uBytes << 1) + o), f32x4.mul(r, v128.load(hr + (uBytes << 1) + o)));
    const hh = act == TANH ? tanhV(v) : activateV(v, act, actAlpha);
    v128.store(hs + o, f32x4.add(f32x4.mul(z, v128.load(hs + o)), f32x4.mul(f32x4.sub(one, z), hh)));
  }
}

/**
 * One step of one row kept at this step, through {@link rowProductBlock} (units a multiple of 4,
 * at most ROW_STEP_MAX_UNITS: the columns and sums are then the GEMM's, so the step's result is the GEMM
 * path's bit for bit, with the same float operations in the same order). Each block of gate
 * columns is activated as soon as it is summed. `xr` [g] is the row's input projection at this
 * step, `hs` / `aux` [u] its state and LSTM cell state (GRU: r*h), `hr` [g] scratch. `packed`:
 * the recurrent kernel in blocks ({@link rnnPackRowKernel}), read instead of recKernel; or 0.
 */
function rowStep(
  cell: i32,
  xr: usize,
  hs: usize,
  aux: usize,
  hr: usize,
  recKernel: usize,
  packed: usize,
  recBias: usize,
  u: i32,
  act: i32,
  actAlpha: f32,
  recAct: i32,
  recAlpha: f32,
): void {
  const g = gateCount(cell) * u;
  const uBytes = <usize> u << 2;
  const sb = <usize> g << 2;
  if (cell == CELL_GRU) {
    // z and r: hr[0..2u) = recAct(x + h·U[:, 0..2u)); aux = r*h.
    for (let j0 = 0; j0 < 2 * u;) {
      const j1 = rowProductBlock(hs, u, recKernel, sb, packed, hr, 0, j0, 2 * u);
      for (let j = j0; j < j1; j += 4) {
        const o = <usize> j << 2;
        const v = activateV(f32x4.add(v128.load(hr + o), v128.load(xr + o)), recAct, recAlpha);
        if (j < u) v128.store(hr + o, v); // z
        else v128.store(aux + o - uBytes, f32x4.mul(v, v128.load(hs + o - uBytes)));
      }
      j0 = j1;
    }
    // h: hh = act(x + (r*h)·U[:, 2u..3u)); h = z*h + (1-z)*hh (the product reads r*h, not h).
    const hCols = uBytes << 1;
    const hPacked = packed ? packed + <usize> u * hCols : 0; // the h columns' blocks
    const one = f32x4.splat(1);
    for (let j0 = 0; j0 < u;) {
      const j1 = rowProductBlock(aux, u, recKernel + hCols, sb, hPacked, hr + hCols, 0, j0, u);
      for (let j = j0; j < j1; j += 4) {
        const o = <usize> j << 2;
        const z = v128.load(hr + o);
        const hh = activateV(
          f32x4.add(v128.load(xr + hCols + o), v128.load(hr + hCols + o)),
          act,
          actAlpha,
        );
        v128.store(hs + o, f32x4.add(f32x4.mul(z, v128.load(hs + o)), f32x4.mul(f32x4.sub(one, z), hh)));
      }
      j0 = j1;
    }
  } else if (cell == CELL_LSTM) {
    if (recAct == SIGMOID && act == TANH) {
      lstmRowStepSigmoidTanh(xr, hs, aux, hr, recKernel, packed, u);
      return;
    }
    // Gates i, f, c, o activated per block; c and h once every column read h.
    for (let j0 = 0; j0 < g;) {
      const j1 = rowProductBlock(hs, u, recKernel, sb, packed, hr, 0, j0, g);
      for (let j = j0; j < j1; j += 4) {
        const o = <usize> j << 2;
        const v = f32x4.add(v128.load(hr + o), v128.load(xr + o));
        const cGate = j >= 2 * u && j < 3 * u;
        v128.store(hr + o, cGate ? activateV(v, act, actAlpha) : activateV(v, recAct, recAlpha));
      }
      j0 = j1;
    }
    lstmRowState(hr, aux, hs, u, act, actAlpha);
  } else if (cell == CELL_SIMPLE) {
    for (let j0 = 0; j0 < u;) {
      const j1 = rowProductBlock(hs, u, recKernel, sb, packed, hr, 0, j0, u);
      for (let j = j0; j < j1; j += 4) {
        const o = <usize> j << 2;
        v128.store(hr + o, activateV(f32x4.add(v128.load(hr + o), v128.load(xr + o)), act, actAlpha));
      }
      j0 = j1;
    }
    copyFloats(hs, hr, u);
  } else if (recAct == SIGMOID && act == TANH) {
    gruRowStepSigmoidTanh(xr, hs, hr, recKernel, packed, recBias, u);
  } else {
    // GRU reset_after: hr = h·U + bias_rec; z, r activated per block; hh and h once every
    // column read h.
    for (let j0 = 0; j0 < g;) {
      const j1 = rowProductBlock(hs, u, recKernel, sb, packed, hr, recBias, j0, g);
      for (let j = j0; j < min(j1, 2 * u); j += 4) {
        const o = <usize> j << 2;
        v128.store(hr + o, activateV(f32x4.add(v128.load(xr + o), v128.load(hr + o)), recAct, recAlpha));
      }
      j0 = j1;
    }
    gruRowState(xr, hs, hr, u, act, actAlpha);
  }
}

/**
 * Spins until the i32 at `counter` reaches `need` or is -1 (the writer failed); returns it (at
 * most `time`). A spin, not `memory.atomic.wait`: the waits are microseconds long, and a browser
 * page's main thread may not block.
 */
function awaitRows(counter: usize, need: i32, time: i32): i32 {
  let ready = atomic.load<i32>(counter);
  while (ready >= 0 && ready < need) ready = atomic.load<i32>(counter);
  return min(ready, time);
}

/** 1 + the last row of mask int32 [batch, time] kept at step t; 0 when every row is masked. */
function activeRows(mask: usize, batch: i32, time: i32, t: i32): i32 {
  let b = batch;
  while (b > 0 && load<i32>(mask + ((<usize> (b - 1) * <usize> time + <usize> t) << 2)) == 0) b--;
  return b;
}

/**
 * Runs one recurrent layer over x[batch, time, inDim].
 *
 * kernel (inDim, G*units), recKernel (units, G*units), bias (G*units) or 0, recBias (G*units,
 * GRU reset_after only) or 0; mask int32 [batch, time] (1 = keep) or 0. Gate order: LSTM i,f,c,o;
 * GRU z,r,h. `out` rows are `ldOut` floats apart: [batch, time, ldOut] with return_sequences
 * (step s at position s, or T-1-s with FLAG_REVERSE_OUTPUT), else [batch, ldOut].
 * `h0` / `c0` [batch, units]: the initial state (Keras `initial_state`; LSTM's cell state in
 * `c0`), 0 for zeros. `hT` / `cT` [batch, units] receive the final state (`return_state`; a
 * masked step keeps the state, so it is the state after the last kept step), 0 to skip.
 * `work` holds rnnWorkspaceBytes(cell, batch, time, units) bytes. With FLAG_PROJECTED, x is
 * [batch, time, G*units], the input projection with the bias added (inDim, kernel and bias are
 * not read), and `work` needs only rnnWorkspaceBytes(cell, batch, 0, units) bytes. `rowKernel`:
 * recKernel in the row path's blocks (rnnPackRowKernel), which steps of at most
 * ROW_STEP_MAX_ROWS rows then read instead (the same sums, so the same results); or 0.
 *
 * Two layers of a stack can run at once, one per thread, the upper one steps behind (a
 * wavefront): `outputReady` (or 0) is an i32 this run stores s + 1 into once step s's outputs are
 * written (return_sequences, not FLAG_REVERSE_OUTPUT: output row s is then step s's); `inputReady`
 * (or 0) is the lower layer's, and step s then waits until the x rows it reads are written (all
 * of them under go_backwards), projecting x in chunks as rows arrive instead of all at once (the
 * same gemm rows, so the same sums). A counter of -1 means the writer failed: the run stops and
 * stores -1 into its own `outputReady`, so a failure never leaves a reader waiting.
 */
export function rnnSequence(
  cell: i32,
  x: usize,
  batch: i32,
  time: i32,
  inDim: i32,
  units: i32,
  kernel: usize,
  recKernel: usize,
  bias: usize,
  recBias: usize,
  mask: usize,
  act: i32,
  actAlpha: f32,
  recAct: i32,
  recAlpha: f32,
  flags: i32,
  out: usize,
  ldOut: i32,
  h0: usize,
  c0: usize,
  hT: usize,
  cT: usize,
  work: usize,
  rowKernel: usize,
  inputReady: usize,
  outputReady: usize,
): void {
  const u = units;
  const g = gateCount(cell) * u;
  const projected = (flags & FLAG_PROJECTED) != 0;
  const xp = projected ? x : work;
  const hp = projected ? work : work + <usize> paddedBytes(<f64> batch * <f64> time * <f64> g);
  const h = hp + <usize> paddedBytes(<f64> batch * <f64> g);
  const aux = h + <usize> paddedBytes(<f64> batch * <f64> u); // LSTM c; GRU r*h
  const uBytes = <usize> u << 2;
  const gBytes = <usize> g << 2;
  const outRow = <usize> ldOut << 2;
  const goBack = (flags & FLAG_GO_BACKWARDS) != 0;
  const retSeq = (flags & FLAG_RETURN_SEQUENCES) != 0;
  const zeroMasked = (flags & FLAG_ZERO_OUTPUT_FOR_MASK) != 0;
  const revOut = (flags & FLAG_REVERSE_OUTPUT) != 0;

  // Input projection of every timestep at once; with a mask, of each sequence's steps from its
  // first kept one to its last only: the steps outside are masked, and the update never reads a
  // masked step's projection (ONNX Runtime, by contrast, projects the padding too).
  const waits = inputReady != 0;
  if (projected || waits) {
    // xp is x, or projected as x's rows arrive (below).
  } else if (mask == 0) gemm(x, kernel, bias, xp, batch * time, g, inDim, LINEAR, 0);
  else {
    for (let b = 0; b < batch; b++) {
      const row = mask + ((<usize> b * <usize> time) << 2);
      let first = 0;
      while (first < time && load<i32>(row + (<usize> first << 2)) == 0) first++;
      let end = time;
      while (end > first && load<i32>(row + (<usize> (end - 1) << 2)) == 0) end--;
      const at = <usize> b * <usize> time + <usize> first;
      gemm(x + at * (<usize> inDim << 2), kernel, bias, xp + at * gBytes, end - first, g, inDim, LINEAR, 0);
    }
  }
  if (h0) copyFloats(h, h0, batch * u);
  else zeroFloats(h, batch * u);
  if (cell == CELL_LSTM && c0) copyFloats(aux, c0, batch * u);
  else zeroFloats(aux, batch * u);

  let arrived = 0; // with inputReady: x rows [0, arrived) are written (and projected)
  for (let s = 0; s < time; s++) {
    const t = goBack ? time - 1 - s : s;
    const need = goBack ? time : t + 1;
    if (waits && arrived < need) {
      const ready = awaitRows(inputReady, need, time);
      if (ready < 0) {
        if (outputReady) atomic.store<i32>(outputReady, -1);
        return;
      }
      if (!projected) {
        for (let b = 0; b < batch; b++) {
          const at = <usize> b * <usize> time + <usize> arrived;
          gemm(x + at * (<usize> inDim << 2), kernel, bias, xp + at * gBytes, ready - arrived, g, inDim, LINEAR, 0);
        }
      }
      arrived = ready;
    }
    // Recurrent projection of rows [0, active) only: the rows after the last one kept at t are
    // masked there, so the update below never reads their projection (with no row kept, the
    // GEMMs get m = 0 and do nothing). The caller orders the rows by their last kept step,
    // latest first, which makes these the rows still running; any other order stays exact (a
    // GEMM row's result does not depend on how many rows it is given), it only skips less.
    const active = mask == 0 ? batch : activeRows(mask, batch, time, t);
    // A few rows go one at a time (see ROW_STEP_MAX_ROWS), their gates updated in rowStep.
    const byRow = stepsByRow(active, u);
    if (byRow) {
      for (let b = 0; b < active; b++) {
        if (mask && load<i32>(mask + ((<usize> b * <usize> time + <usize> t) << 2)) == 0) continue;
        rowStep(
          cell,
          xp + (<usize> b * <usize> time + <usize> t) * gBytes,
          h + <usize> b * uBytes,
          aux + <usize> b * uBytes,
          hp + <usize> b * gBytes,
          recKernel,
          rowKernel,
          recBias,
          u,
          act,
          actAlpha,
          recAct,
          recAlpha,
        );
      }
    } else if (cell == CELL_GRU) {
      gemmStrided(h, u, recKernel, g, 0, hp, g, active, 2 * u, u, LINEAR, 0, 0);
      for (let b = 0; b < active; b++) {
        // A row masked at t keeps its state: its gates are not needed (nor its projection made).
        if (mask && load<i32>(mask + ((<usize> b * <usize> time + <usize> t) << 2)) == 0) continue;
        const xr = xp + (<usize> b * <usize> time + <usize> t) * gBytes;
        const hr = hp + <usize> b * gBytes;
        const hs = h + <usize> b * uBytes;
        const rh = aux + <usize> b * uBytes;
        addFloats(hr, xr, 2 * u);
        let j = 0;
        for (; j + 4 <= u; j += 4) {
          const o = <usize> j << 2;
          v128.store(hr + o, activateV(v128.load(hr + o), recAct, recAlpha)); // z
          const r = activateV(v128.load(hr + uBytes + o), recAct, recAlpha);
          v128.store(rh + o, f32x4.mul(r, v128.load(hs + o)));
        }
        for (; j < u; j++) {
          const o = <usize> j << 2;
          store<f32>(hr + o, sigma(load<f32>(hr + o), recAct, recAlpha)); // z
          const r = sigma(load<f32>(hr + uBytes + o), recAct, recAlpha);
          store<f32>(rh + o, r * load<f32>(hs + o));
        }
      }
      const hCols = uBytes << 1; // the h gate's columns start at 2u
      gemmStrided(aux, u, recKernel + hCols, g, 0, hp + hCols, g, active, u, u, LINEAR, 0, 0);
    } else {
      gemm(h, recKernel, recBias, hp, active, g, u, LINEAR, 0);
    }

    for (let b = 0; b < batch; b++) {
      const keep = mask == 0 ||
        load<i32>(mask + ((<usize> b * <usize> time + <usize> t) << 2)) != 0;
      const hs = h + <usize> b * uBytes;
      if (keep && !byRow) {
        const xr = xp + (<usize> b * <usize> time + <usize> t) * gBytes;
        const hr = hp + <usize> b * gBytes;
        if (cell == CELL_SIMPLE) {
          addFloats(hr, xr, u);
          let j = 0;
          for (; j + 4 <= u; j += 4) {
            const o = <usize> j << 2;
            v128.store(hs + o, activateV(v128.load(hr + o), act, actAlpha));
          }
          for (; j < u; j++) {
            const o = <usize> j << 2;
            store<f32>(hs + o, activateScalar(load<f32>(hr + o), act, actAlpha));
          }
        } else if (cell == CELL_LSTM) {
          const cs = aux + <usize> b * uBytes;
          addFloats(hr, xr, g);
          let j = 0;
          for (; j + 4 <= u; j += 4) {
            const o = <usize> j << 2;
            const ig = activateV(v128.load(hr + o), recAct, recAlpha);
            const fg = activateV(v128.load(hr + uBytes + o), recAct, recAlpha);
            const cg = activateV(v128.load(hr + (uBytes << 1) + o), act, actAlpha);
            const og = activateV(v128.load(hr + 3 * uBytes + o), recAct, recAlpha);
            const c = f32x4.add(f32x4.mul(fg, v128.load(cs + o)), f32x4.mul(ig, cg));
            v128.store(cs + o, c);
            v128.store(hs + o, f32x4.mul(og, activateV(c, act, actAlpha)));
          }
          for (; j < u; j++) {
            const o = <usize> j << 2;
            const ig = sigma(load<f32>(hr + o), recAct, recAlpha);
            const fg = sigma(load<f32>(hr + uBytes + o), recAct, recAlpha);
            const cg = activateScalar(load<f32>(hr + (uBytes << 1) + o), act, actAlpha);
            const og = sigma(load<f32>(hr + 3 * uBytes + o), recAct, recAlpha);
            const c = fg * load<f32>(cs + o) + ig * cg;
            store<f32>(cs + o, c);
            store<f32>(hs + o, og * activateScalar(c, act, actAlpha));
          }
        } else if (cell == CELL_GRU) {
          // z is already in hr[0..u); (r*h)·Uh in hr[2u..3u).
          const one = f32x4.splat(1);
          let j = 0;
          for (; j + 4 <= u; j += 4) {
            const o = <usize> j << 2;
            const z = v128.load(hr + o);
            const hh = activateV(
              f32x4.add(v128.load(xr + (uBytes << 1) + o), v128.load(hr + (uBytes << 1) + o)),
              act,
              actAlpha,
            );
            v128.store(hs + o, f32x4.add(f32x4.mul(z, v128.load(hs + o)), f32x4.mul(f32x4.sub(one, z), hh)));
          }
          for (; j < u; j++) {
            const o = <usize> j << 2;
            const z = load<f32>(hr + o);
            const hh = activateScalar(
              load<f32>(xr + (uBytes << 1) + o) + load<f32>(hr + (uBytes << 1) + o),
              act,
              actAlpha,
            );
            store<f32>(hs + o, z * load<f32>(hs + o) + (1 - z) * hh);
          }
        } else {
          const one = f32x4.splat(1);
          let j = 0;
          for (; j + 4 <= u; j += 4) {
            const o = <usize> j << 2;
            const z = activateV(f32x4.add(v128.load(xr + o), v128.load(hr + o)), recAct, recAlpha);
            const r = activateV(
              f32x4.add(v128.load(xr + uBytes + o), v128.load(hr + uBytes + o)),
              recAct,
              recAlpha,
            );
            const hh = activateV(
              f32x4.add(v128.load(xr + (uBytes << 1) + o), f32x4.mul(r, v128.load(hr + (uBytes << 1) + o))),
              act,
              actAlpha,
            );
            v128.store(hs + o, f32x4.add(f32x4.mul(z, v128.load(hs + o)), f32x4.mul(f32x4.sub(one, z), hh)));
          }
          for (; j < u; j++) {
            const o = <usize> j << 2;
            const z = sigma(load<f32>(xr + o) + load<f32>(hr + o), recAct, recAlpha);
            const r = sigma(load<f32>(xr + uBytes + o) + load<f32>(hr + uBytes + o), recAct, recAlpha);
            const hh = activateScalar(
              load<f32>(xr + (uBytes << 1) + o) + r * load<f32>(hr + (uBytes << 1) + o),
              act,
              actAlpha,
            );
            store<f32>(hs + o, z * load<f32>(hs + o) + (1 - z) * hh);
          }
        }
      }
      if (retSeq) {
        const pos = revOut ? time - 1 - s : s;
        const dst = out + (<usize> b * <usize> time + <usize> pos) * outRow;
        if (keep || !zeroMasked) copyFloats(dst, hs, u);
        else zeroFloats(dst, u);
      }
    }
    if (outputReady) atomic.store<i32>(outputReady, s + 1);
  }

  if (!retSeq) {
    const tLast = goBack ? 0 : time - 1;
    for (let b = 0; b < batch; b++) {
      const keep = mask == 0 ||
        load<i32>(mask + ((<usize> b * <usize> time + <usize> tLast) << 2)) != 0;
      const dst = out + <usize> b * outRow;
      if (keep || !zeroMasked) copyFloats(dst, h + <usize> b * uBytes, u);
      else zeroFloats(dst, u);
    }
  }
  if (hT) copyFloats(hT, h, batch * u);
  if (cT && cell == CELL_LSTM) copyFloats(cT, aux, batch * u);
}

/** In place a = merge(a, b) over n floats: 1 sum, 2 mul, 3 ave (Bidirectional merge modes). */
export function rnnMerge(a: usize, b: usize, n: i32, mode: i32): void {
  const half = f32x4.splat(0.5);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = <usize> j << 2;
    const x = v128.load(a + o);
    const y = v128.load(b + o);
    let v = mode == 2 ? f32x4.mul(x, y) : f32x4.add(x, y);
    if (mode == 3) v = f32x4.mul(v, half);
    v128.store(a + o, v);
  }
  for (; j < n; j++) {
    const o = <usize> j << 2;
    const x = load<f32>(a + o);
    const y = load<f32>(b + o);
    let v: f32 = mode == 2 ? x * y : x + y;
    if (mode == 3) v *= 0.5;
    store<f32>(a + o, v);
  }
}
