// Recurrent layers (SimpleRNN, LSTM, GRU) in training: a forward that records what backprop
// through time needs, and the backward over the whole sequence.
//
// Everything recorded is indexed by (sample, time position) like x, so the layer's weight
// gradients are single GEMMs over all B·T rows (see packages/engine/src/training/backward/
// recurrent.ts): dKernel = Xᵀ·dA, dRecurrentKernel = Hprevᵀ·dA(h), dBias = Σ dA, dX = dA·Kernelᵀ,
// where dA [B, T, G·u] is the gradient of the gates' pre-activations that `rnnBackward` writes
// (zero rows at masked steps). Masking follows Keras: a masked step keeps the states, so the
// state gradient passes through it unchanged; its output repeats the state (or is zero with
// zero_output_for_mask), so its output gradient goes to the carried state (or nowhere).
// Cell codes and flags are those of rnn.ts / packages/engine/src/kernels/rnn_codes.ts.
import { activateScalar, activateV, LINEAR } from "./activations";
import { activationDerivative, activationDerivativeV } from "./activation_grad";
import { lstmCellBackward, lstmCellForward } from "./lstm_cell";
import { copyFloats, zeroFloats } from "./floats";
import { gemm, gemmStrided } from "./gemm";
import { gemmNT } from "./dense_grad";

const CELL_SIMPLE: i32 = 0;
const CELL_LSTM: i32 = 1;
const CELL_GRU: i32 = 2; // reset_after = false: hh = act(x·Wh + bh + (r*h)·Uh)
const CELL_GRU_RESET_AFTER: i32 = 3; // hh = act(x·Wh + bh_in + r*(h·Uh + bh_rec))

const FLAG_GO_BACKWARDS: i32 = 1;
const FLAG_RETURN_SEQUENCES: i32 = 2;
const FLAG_ZERO_OUTPUT_FOR_MASK: i32 = 4;
const FLAG_REVERSE_OUTPUT: i32 = 8;

// @ts-ignore: decorator
@inline function gateCount(cell: i32): i32 {
  return cell == CELL_SIMPLE ? 1 : cell == CELL_LSTM ? 4 : 3;
}

// @ts-ignore: decorator
@inline function paddedBytes(floats: f64): f64 {
  return Math.ceil(floats / 4) * 16;
}

// @ts-ignore: decorator
@inline function kept(mask: usize, b: i32, time: i32, t: i32): bool {
  return mask == 0 || load<i32>(mask + ((<usize> b * <usize> time + <usize> t) << 2)) != 0;
}

/**
 * Scratch bytes of `rnnTrainForward`: the running h and c of the batch, one projection row, and
 * the dropped-out h the recurrent projection reads under recurrent dropout.
 */
export function rnnTrainWorkspaceBytes(cell: i32, batch: i32, units: i32): f64 {
  const b = <f64> batch;
  return 3 * paddedBytes(b * <f64> units) + paddedBytes(b * <f64> (gateCount(cell) * units));
}

/**
 * out[b, t, :] = src[b, t, :] ⊙ mask[b, :] over [batch, time, dim] (in place when out == src):
 * a recurrent layer's dropout masks are drawn once per sequence and applied at every step.
 */
export function rnnMaskRows(src: usize, mask: usize, out: usize, batch: i32, time: i32, dim: i32): void {
  const rowBytes = <usize> dim << 2;
  for (let b = 0; b < batch; b++) {
    const m = mask + <usize> b * rowBytes;
    for (let t = 0; t < time; t++) {
      const off = (<usize> b * <usize> time + <usize> t) * rowBytes;
      mulRow(src + off, m, out + off, dim);
    }
  }
}

// @ts-ignore: decorator
@inline function mulRow(a: usize, m: usize, out: usize, n: i32): void {
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = <usize> j << 2;
    v128.store(out + o, f32x4.mul(v128.load(a + o), v128.load(m + o)));
  }
  for (; j < n; j++) {
    const o = <usize> j << 2;
    store<f32>(out + o, load<f32>(a + o) * load<f32>(m + o));
  }
}

/**
 * The training forward of one recurrent layer over x[batch, time, inDim]: the same output as
 * `rnnSequence` (same arguments up to `ldOut`), plus the tape, all [batch, time, ·] by position t:
 * - `pre` [.., G·u]: the gates' pre-activations (LSTM i,f,c,o; GRU z,r,h with the h gate's as the
 *   activation sees it). Rows of masked steps hold candidates the state did not take.
 * - `hPrev` [.., u]: the state before the step at t (for dRecurrentKernel and the cells).
 * - `cPrev` [.., u]: LSTM's cell state before the step (0 for other cells).
 * - `aux` [.., u]: GRU reset_after: h·Uh + bh_rec (what r multiplies); GRU: r*hPrev (the input
 *   of Uh); 0 for other cells.
 * `h0` / `c0` [batch, u]: the initial state (0: zeros); `hT` / `cT` [batch, u] receive the final
 * state (0: skip). `recMask` [batch, u] (0: none): Keras `recurrent_dropout`'s per-sequence mask
 * (already scaled by 1/(1−rate)); the recurrent projection reads h ⊙ mask, the state update the
 * undropped h (not supported for CELL_GRU). `hPrev` records the undropped state.
 * `work` holds rnnTrainWorkspaceBytes(cell, batch, units) bytes.
 */
export function rnnTrainForward(
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
  pre: usize,
  hPrev: usize,
  cPrev: usize,
  aux: usize,
  h0: usize,
  c0: usize,
  hT: usize,
  cT: usize,
  recMask: usize,
  work: usize,
): void {
  const u = units;
  const g = gateCount(cell) * u;
  const h = work;
  const c = h + <usize> paddedBytes(<f64> batch * <f64> u);
  const hm = c + <usize> paddedBytes(<f64> batch * <f64> u);
  const hp = hm + <usize> paddedBytes(<f64> batch * <f64> u);
  // What the recurrent projection reads: h, or h ⊙ recMask under recurrent dropout.
  const hIn = recMask ? hm : h;
  const uBytes = <usize> u << 2;
  const gBytes = <usize> g << 2;
  const outRow = <usize> ldOut << 2;
  const goBack = (flags & FLAG_GO_BACKWARDS) != 0;
  const retSeq = (flags & FLAG_RETURN_SEQUENCES) != 0;
  const zeroMasked = (flags & FLAG_ZERO_OUTPUT_FOR_MASK) != 0;
  const revOut = (flags & FLAG_REVERSE_OUTPUT) != 0;
  const ldPre = time * g; // floats between the rows of one timestep across the batch
  const ldU = time * u;

  // Input projection (+ input bias) of every timestep, straight into the pre-activations.
  gemm(x, kernel, bias, pre, batch * time, g, inDim, LINEAR, 0);
  if (h0) copyFloats(h, h0, batch * u);
  else zeroFloats(h, batch * u);
  if (cell == CELL_LSTM && c0) copyFloats(c, c0, batch * u);
  else zeroFloats(c, batch * u);

  for (let s = 0; s < time; s++) {
    const t = goBack ? time - 1 - s : s;
    const preT = pre + <usize> t * gBytes;
    for (let b = 0; b < batch; b++) {
      const row = (<usize> b * <usize> time + <usize> t) * uBytes;
      copyFloats(hPrev + row, h + <usize> b * uBytes, u);
      if (cell == CELL_LSTM) copyFloats(cPrev + row, c + <usize> b * uBytes, u);
      if (recMask) {
        const off = <usize> b * uBytes;
        mulRow(h + off, recMask + off, hm + off, u);
      }
    }
    // Recurrent projection of the whole batch, added to the step's pre-activation rows.
    if (cell == CELL_SIMPLE || cell == CELL_LSTM) {
      gemmStrided(hIn, u, recKernel, g, 0, preT, ldPre, batch, g, u, LINEAR, 0, 1);
    } else if (cell == CELL_GRU_RESET_AFTER) {
      gemmStrided(hIn, u, recKernel, g, recBias, hp, g, batch, g, u, LINEAR, 0, 0);
      for (let b = 0; b < batch; b++) {
        const pr = preT + <usize> b * <usize> ldPre * 4;
        const hr = hp + <usize> b * gBytes;
        const ar = aux + (<usize> b * <usize> time + <usize> t) * uBytes;
        let j = 0;
        for (; j + 4 <= u; j += 4) {
          const o = <usize> j << 2;
          v128.store(pr + o, f32x4.add(v128.load(pr + o), v128.load(hr + o)));
          const rp = f32x4.add(v128.load(pr + uBytes + o), v128.load(hr + uBytes + o));
          v128.store(pr + uBytes + o, rp);
          const r = activateV(rp, recAct, recAlpha);
          const hh = v128.load(hr + (uBytes << 1) + o);
          v128.store(ar + o, hh);
          v128.store(pr + (uBytes << 1) + o, f32x4.add(v128.load(pr + (uBytes << 1) + o), f32x4.mul(r, hh)));
        }
        for (; j < u; j++) {
          const o = <usize> j << 2;
          store<f32>(pr + o, load<f32>(pr + o) + load<f32>(hr + o));
          const rp = load<f32>(pr + uBytes + o) + load<f32>(hr + uBytes + o);
          store<f32>(pr + uBytes + o, rp);
          const r = activateScalar(rp, recAct, recAlpha);
          const hh = load<f32>(hr + (uBytes << 1) + o);
          store<f32>(ar + o, hh);
          store<f32>(pr + (uBytes << 1) + o, load<f32>(pr + (uBytes << 1) + o) + r * hh);
        }
      }
    } else {
      gemmStrided(h, u, recKernel, g, 0, preT, ldPre, batch, 2 * u, u, LINEAR, 0, 1);
      for (let b = 0; b < batch; b++) {
        const pr = preT + <usize> b * <usize> ldPre * 4;
        const hs = h + <usize> b * uBytes;
        const ar = aux + (<usize> b * <usize> time + <usize> t) * uBytes;
        let j = 0;
        for (; j + 4 <= u; j += 4) {
          const o = <usize> j << 2;
          const r = activateV(v128.load(pr + uBytes + o), recAct, recAlpha);
          v128.store(ar + o, f32x4.mul(r, v128.load(hs + o)));
        }
        for (; j < u; j++) {
          const o = <usize> j << 2;
          const r = activateScalar(load<f32>(pr + uBytes + o), recAct, recAlpha);
          store<f32>(ar + o, r * load<f32>(hs + o));
        }
      }
      const hCols = uBytes << 1;
      gemmStrided(
        aux + <usize> t * uBytes,
        ldU,
        recKernel + hCols,
        g,
        0,
        preT + hCols,
        ldPre,
        batch,
        u,
        u,
        LINEAR,
        0,
        1,
      );
    }

    for (let b = 0; b < batch; b++) {
      const keep = kept(mask, b, time, t);
      const hs = h + <usize> b * uBytes;
      if (keep) {
        const pr = preT + <usize> b * <usize> ldPre * 4;
        if (cell == CELL_SIMPLE) {
          let j = 0;
          for (; j + 4 <= u; j += 4) {
            const o = <usize> j << 2;
            v128.store(hs + o, activateV(v128.load(pr + o), act, actAlpha));
          }
          for (; j < u; j++) {
            const o = <usize> j << 2;
            store<f32>(hs + o, activateScalar(load<f32>(pr + o), act, actAlpha));
          }
        } else if (cell == CELL_LSTM) {
          lstmCellForward(pr, c + <usize> b * uBytes, hs, 1, u, act, actAlpha, recAct, recAlpha);
        } else {
          let j = 0;
          const one = f32x4.splat(1);
          for (; j + 4 <= u; j += 4) {
            const o = <usize> j << 2;
            const z = activateV(v128.load(pr + o), recAct, recAlpha);
            const hh = activateV(v128.load(pr + (uBytes << 1) + o), act, actAlpha);
            v128.store(hs + o, f32x4.add(f32x4.mul(z, v128.load(hs + o)), f32x4.mul(f32x4.sub(one, z), hh)));
          }
          for (; j < u; j++) {
            const o = <usize> j << 2;
            const z = activateScalar(load<f32>(pr + o), recAct, recAlpha);
            const hh = activateScalar(load<f32>(pr + (uBytes << 1) + o), act, actAlpha);
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
  }

  if (!retSeq) {
    const tLast = goBack ? 0 : time - 1;
    for (let b = 0; b < batch; b++) {
      const dst = out + <usize> b * outRow;
      if (kept(mask, b, time, tLast) || !zeroMasked) copyFloats(dst, h + <usize> b * uBytes, u);
      else zeroFloats(dst, u);
    }
  }
  if (hT) copyFloats(hT, h, batch * u);
  if (cT && cell == CELL_LSTM) copyFloats(cT, c, batch * u);
}

/** Scratch bytes of `rnnBackward`: four [batch, units] blocks. */
export function rnnBackwardWorkspaceBytes(batch: i32, units: i32): f64 {
  return 4 * paddedBytes(<f64> batch * <f64> units);
}

/**
 * Backprop through time of one recurrent layer from its output gradient `dOut` (laid out as the
 * forward wrote `out`: same flags and `ldOut`) and the tape of `rnnTrainForward`. Writes
 * `dA` [batch, time, G·u]: ∂loss/∂(gate pre-activations), zero at masked steps. For GRU
 * reset_after, `dAh` [batch, time, 3u] receives the gradient of the recurrent projection
 * h·U + bh_rec (its h block is r ⊙ dA's); pass 0 for other cells.
 * `dhT` / `dcT` [batch, u]: ∂loss/∂(final state) when the layer returned its state (0: none);
 * `dh0` / `dc0` [batch, u] receive ∂loss/∂(initial state) (0: skip). `recMask` as in
 * `rnnTrainForward`: the recurrent path's gradient to the previous state is multiplied by it.
 * `work` holds rnnBackwardWorkspaceBytes(batch, units) bytes.
 */
export function rnnBackward(
  cell: i32,
  batch: i32,
  time: i32,
  units: i32,
  recKernel: usize,
  mask: usize,
  act: i32,
  actAlpha: f32,
  recAct: i32,
  recAlpha: f32,
  flags: i32,
  dOut: usize,
  ldOut: i32,
  pre: usize,
  hPrev: usize,
  cPrev: usize,
  aux: usize,
  dA: usize,
  dAh: usize,
  dhT: usize,
  dcT: usize,
  dh0: usize,
  dc0: usize,
  recMask: usize,
  work: usize,
): void {
  const u = units;
  const g = gateCount(cell) * u;
  const blk = <usize> paddedBytes(<f64> batch * <f64> u);
  let dh = work; // ∂loss/∂h after the step being processed
  let dhn = work + blk; // ∂loss/∂h before it
  const dc = work + 2 * blk; // LSTM ∂loss/∂c after the step
  const tmp = work + 3 * blk; // GRU: dA(h)·Uhᵀ
  const uBytes = <usize> u << 2;
  const gBytes = <usize> g << 2;
  const outRow = <usize> ldOut << 2;
  const goBack = (flags & FLAG_GO_BACKWARDS) != 0;
  const retSeq = (flags & FLAG_RETURN_SEQUENCES) != 0;
  const zeroMasked = (flags & FLAG_ZERO_OUTPUT_FOR_MASK) != 0;
  const revOut = (flags & FLAG_REVERSE_OUTPUT) != 0;
  const ldPre = time * g;

  if (dhT) copyFloats(dh, dhT, batch * u);
  else zeroFloats(dh, batch * u);
  if (cell == CELL_LSTM && dcT) copyFloats(dc, dcT, batch * u);
  else zeroFloats(dc, batch * u);
  if (!retSeq) {
    const tLast = goBack ? 0 : time - 1;
    for (let b = 0; b < batch; b++) {
      if (kept(mask, b, time, tLast) || !zeroMasked) {
        const dhb = dh + <usize> b * uBytes;
        const src = dOut + <usize> b * outRow;
        for (let j = 0; j < u; j++) {
          const o = <usize> j << 2;
          store<f32>(dhb + o, load<f32>(dhb + o) + load<f32>(src + o));
        }
      }
    }
  }

  for (let s = time - 1; s >= 0; s--) {
    const t = goBack ? time - 1 - s : s;
    const preT = pre + <usize> t * gBytes;
    const dAT = dA + <usize> t * gBytes;
    for (let b = 0; b < batch; b++) {
      const keep = kept(mask, b, time, t);
      const dhb = dh + <usize> b * uBytes;
      const dhnb = dhn + <usize> b * uBytes;
      const rowT = (<usize> b * <usize> time + <usize> t);
      if (retSeq && (keep || !zeroMasked)) {
        const pos = revOut ? time - 1 - s : s;
        const src = dOut + (<usize> b * <usize> time + <usize> pos) * outRow;
        for (let j = 0; j < u; j++) {
          const o = <usize> j << 2;
          store<f32>(dhb + o, load<f32>(dhb + o) + load<f32>(src + o));
        }
      }
      const pr = preT + <usize> b * <usize> ldPre * 4;
      const da = dAT + <usize> b * <usize> ldPre * 4;
      if (!keep) {
        // The state skipped this step: its gradient flows to the previous step unchanged.
        zeroFloats(da, g);
        if (dAh) zeroFloats(dAh + rowT * gBytes, g);
        copyFloats(dhnb, dhb, u);
        continue;
      }
      if (cell == CELL_SIMPLE) {
        let j = 0;
        for (; j + 4 <= u; j += 4) {
          const o = <usize> j << 2;
          const a = v128.load(pr + o);
          const y = activateV(a, act, actAlpha);
          v128.store(da + o, f32x4.mul(v128.load(dhb + o), activationDerivativeV(a, y, act, actAlpha)));
        }
        for (; j < u; j++) {
          const o = <usize> j << 2;
          const a = load<f32>(pr + o);
          const y = activateScalar(a, act, actAlpha);
          store<f32>(da + o, load<f32>(dhb + o) * activationDerivative(a, y, act, actAlpha));
        }
        zeroFloats(dhnb, u);
      } else if (cell == CELL_LSTM) {
        const cp = cPrev + rowT * uBytes;
        lstmCellBackward(pr, cp, dhb, dc + <usize> b * uBytes, da, 1, u, act, actAlpha, recAct, recAlpha);
        zeroFloats(dhnb, u);
      } else {
        const hp = hPrev + rowT * uBytes;
        const ar = aux + rowT * uBytes;
        const dah = dAh ? dAh + rowT * gBytes : 0;
        let j = 0;
        const one = f32x4.splat(1);
        for (; j + 4 <= u; j += 4) {
          const o = <usize> j << 2;
          const pz = v128.load(pr + o);
          const ph = v128.load(pr + (uBytes << 1) + o);
          const z = activateV(pz, recAct, recAlpha);
          const hh = activateV(ph, act, actAlpha);
          const dhj = v128.load(dhb + o);
          const dpz = f32x4.mul(
            f32x4.mul(dhj, f32x4.sub(v128.load(hp + o), hh)),
            activationDerivativeV(pz, z, recAct, recAlpha),
          );
          const dph = f32x4.mul(f32x4.mul(dhj, f32x4.sub(one, z)), activationDerivativeV(ph, hh, act, actAlpha));
          v128.store(da + o, dpz);
          v128.store(da + (uBytes << 1) + o, dph);
          v128.store(dhnb + o, f32x4.mul(dhj, z));
          if (cell == CELL_GRU_RESET_AFTER) {
            const pr_ = v128.load(pr + uBytes + o);
            const r = activateV(pr_, recAct, recAlpha);
            const dpr = f32x4.mul(f32x4.mul(dph, v128.load(ar + o)), activationDerivativeV(pr_, r, recAct, recAlpha));
            v128.store(da + uBytes + o, dpr);
            v128.store(dah + o, dpz);
            v128.store(dah + uBytes + o, dpr);
            v128.store(dah + (uBytes << 1) + o, f32x4.mul(dph, r));
          }
        }
        for (; j < u; j++) {
          const o = <usize> j << 2;
          const pz = load<f32>(pr + o);
          const ph = load<f32>(pr + (uBytes << 1) + o);
          const z = activateScalar(pz, recAct, recAlpha);
          const hh = activateScalar(ph, act, actAlpha);
          const dhj = load<f32>(dhb + o);
          const dpz = dhj * (load<f32>(hp + o) - hh) * activationDerivative(pz, z, recAct, recAlpha);
          const dph = dhj * (1 - z) * activationDerivative(ph, hh, act, actAlpha);
          store<f32>(da + o, dpz);
          store<f32>(da + (uBytes << 1) + o, dph);
          store<f32>(dhnb + o, dhj * z);
          if (cell == CELL_GRU_RESET_AFTER) {
            const pr_ = load<f32>(pr + uBytes + o);
            const r = activateScalar(pr_, recAct, recAlpha);
            const dpr = dph * load<f32>(ar + o) * activationDerivative(pr_, r, recAct, recAlpha);
            store<f32>(da + uBytes + o, dpr);
            store<f32>(dah + o, dpz);
            store<f32>(dah + uBytes + o, dpr);
            store<f32>(dah + (uBytes << 1) + o, dph * r);
          }
        }
      }
    }
    // ∂loss/∂h_prev += (gate gradients) · Uᵀ for the whole batch (masked rows add zeros).
    if (cell == CELL_GRU) {
      // tmp = dA(h)·Uhᵀ; then dr and r ⊙ tmp, then the z and r blocks through Uz, Ur.
      gemmNT(dAT + (uBytes << 1), ldPre, recKernel + (uBytes << 1), g, tmp, u, batch, u, u, 0);
      for (let b = 0; b < batch; b++) {
        if (!kept(mask, b, time, t)) continue;
        const rowT = (<usize> b * <usize> time + <usize> t);
        const pr = preT + <usize> b * <usize> ldPre * 4;
        const da = dAT + <usize> b * <usize> ldPre * 4;
        const hp = hPrev + rowT * uBytes;
        const tb = tmp + <usize> b * uBytes;
        const dhnb = dhn + <usize> b * uBytes;
        let j = 0;
        for (; j + 4 <= u; j += 4) {
          const o = <usize> j << 2;
          const pr_ = v128.load(pr + uBytes + o);
          const r = activateV(pr_, recAct, recAlpha);
          const tj = v128.load(tb + o);
          v128.store(
            da + uBytes + o,
            f32x4.mul(f32x4.mul(tj, v128.load(hp + o)), activationDerivativeV(pr_, r, recAct, recAlpha)),
          );
          v128.store(dhnb + o, f32x4.add(v128.load(dhnb + o), f32x4.mul(tj, r)));
        }
        for (; j < u; j++) {
          const o = <usize> j << 2;
          const pr_ = load<f32>(pr + uBytes + o);
          const r = activateScalar(pr_, recAct, recAlpha);
          const tj = load<f32>(tb + o);
          store<f32>(da + uBytes + o, tj * load<f32>(hp + o) * activationDerivative(pr_, r, recAct, recAlpha));
          store<f32>(dhnb + o, load<f32>(dhnb + o) + tj * r);
        }
      }
      gemmNT(dAT, ldPre, recKernel, g, dhn, u, batch, u, 2 * u, 1);
    } else {
      const dRec = cell == CELL_GRU_RESET_AFTER ? dAh + <usize> t * gBytes : dAT;
      if (recMask) {
        // Recurrent dropout: the projection read h ⊙ mask, so its gradient to h is masked.
        gemmNT(dRec, ldPre, recKernel, g, tmp, u, batch, u, g, 0);
        for (let b = 0; b < batch; b++) {
          const off = <usize> b * uBytes;
          const dhnb = dhn + off;
          const tb = tmp + off;
          const mb = recMask + off;
          for (let j = 0; j < u; j++) {
            const o = <usize> j << 2;
            store<f32>(dhnb + o, load<f32>(dhnb + o) + load<f32>(tb + o) * load<f32>(mb + o));
          }
        }
      } else {
        gemmNT(dRec, ldPre, recKernel, g, dhn, u, batch, u, g, 1);
      }
    }
    const swap = dh;
    dh = dhn;
    dhn = swap;
  }
  if (dh0) copyFloats(dh0, dh, batch * u);
  if (dc0 && cell == CELL_LSTM) copyFloats(dc0, dc, batch * u);
}
