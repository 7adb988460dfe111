/**
 * Plain TypeScript backprop through time for SimpleRNN / LSTM / GRU (both `reset_after` forms) —
 * the oracle of `wasm/assembly/rnn_grad.ts`. Float64 throughout (so it can itself be checked
 * against central finite differences of {@link rnnForward64}), one sample, one step, one unit at a
 * time, written from the Keras cell equations with Keras masking: a masked step keeps the states,
 * and its output is the (unchanged) state, or zero with `zero_output_for_mask`.
 */
import { activateReference, ActivationCode } from "../activations.ts";
import { activationDerivativeReference } from "./activation_grad_reference.ts";
import { gateCount, RnnCell } from "./rnn_codes.ts";

/** One recurrent layer run in float64 (any numeric arrays, Keras layouts). */
export interface RnnGradReferenceArgs {
  cell: RnnCell;
  /** Input [batch, time, inDim]. */
  x: ArrayLike<number>;
  batch: number;
  time: number;
  inDim: number;
  units: number;
  /** (inDim, G·units) */
  kernel: ArrayLike<number>;
  /** (units, G·units) */
  recurrentKernel: ArrayLike<number>;
  /** (G·units), or (2, 3·units) for GRU reset_after; null = no bias. */
  bias: ArrayLike<number> | null;
  /** [batch, time], nonzero = keep; null = no mask. */
  mask?: ArrayLike<number> | null;
  activation?: ActivationCode;
  activationAlpha?: number;
  recurrentActivation?: ActivationCode;
  recurrentActivationAlpha?: number;
  goBackwards?: boolean;
  returnSequences?: boolean;
  zeroOutputForMask?: boolean;
  /** Initial state [batch, units] (Keras `initial_state`); zeros when absent. */
  h0?: ArrayLike<number> | null;
  /** LSTM's initial cell state [batch, units]; zeros when absent. */
  c0?: ArrayLike<number> | null;
  /** Keras `dropout` in training: [batch, inDim] scales multiplying x at every step. */
  inputMask?: ArrayLike<number> | null;
  /**
   * Keras `recurrent_dropout` in training: [batch, units] scales multiplying the state the
   * recurrent kernel reads (not the state the update carries), at every step.
   */
  recurrentMask?: ArrayLike<number> | null;
}

/** Gradients of a scalar loss with respect to a recurrent layer's input and weights. */
export interface RnnGradients {
  /** [batch, time, inDim] */
  dx: Float64Array;
  /** (inDim, G·units) */
  dKernel: Float64Array;
  /** (units, G·units) */
  dRecurrentKernel: Float64Array;
  /** Shaped like the bias, or null without one. */
  dBias: Float64Array | null;
}

/** What one processed step of one sample leaves for the backward pass. */
interface StepRecord {
  t: number;
  keep: boolean;
  hPrev: Float64Array;
  cPrev: Float64Array;
  /** Gate pre-activations [G·u] (GRU h gate as its activation sees it). */
  pre: Float64Array;
  /** GRU reset_after: h·Uh + bh_rec; GRU: r ⊙ hPrev. */
  aux: Float64Array;
}

function functions(a: RnnGradReferenceArgs) {
  const act = a.activation ?? ActivationCode.Tanh, actAlpha = a.activationAlpha ?? 0;
  const rec = a.recurrentActivation ?? ActivationCode.Sigmoid;
  const recAlpha = a.recurrentActivationAlpha ?? 0;
  return {
    f: (v: number) => activateReference(v, act, actAlpha),
    df: (v: number) => activationDerivativeReference(v, act, actAlpha),
    s: (v: number) => activateReference(v, rec, recAlpha),
    ds: (v: number) => activationDerivativeReference(v, rec, recAlpha),
  };
}

/** The forward pass of one sample, recording every processed step. */
function forwardSample(a: RnnGradReferenceArgs, b: number): StepRecord[] {
  const { cell, x, time, inDim, units: u, kernel, recurrentKernel: rk, bias } = a;
  const { f, s: sig } = functions(a);
  const g = gateCount(cell) * u;
  const inBias = (col: number) => (bias ? bias[col] : 0);
  const recBias = (col: number) => (cell === RnnCell.GRUResetAfter && bias ? bias[g + col] : 0);
  let h = a.h0 ? Float64Array.from({ length: u }, (_, j) => a.h0![b * u + j]) : new Float64Array(u);
  let c = a.c0 ? Float64Array.from({ length: u }, (_, j) => a.c0![b * u + j]) : new Float64Array(u);
  const inScale = (k: number) => (a.inputMask ? a.inputMask[b * inDim + k] : 1);
  const dropped = (vec: ArrayLike<number>) =>
    a.recurrentMask
      ? Float64Array.from({ length: u }, (_, j) => vec[j] * a.recurrentMask![b * u + j])
      : vec;
  const steps: StepRecord[] = [];
  for (let s = 0; s < time; s++) {
    const t = a.goBackwards ? time - 1 - s : s;
    const xw = (col: number) => {
      let v = inBias(col);
      for (let k = 0; k < inDim; k++) {
        v += x[(b * time + t) * inDim + k] * inScale(k) * kernel[k * g + col];
      }
      return v;
    };
    const hu = (vec: ArrayLike<number>, col: number) => {
      let v = recBias(col);
      for (let k = 0; k < u; k++) v += vec[k] * rk[k * g + col];
      return v;
    };
    const hIn = dropped(h);
    const pre = new Float64Array(g);
    const aux = new Float64Array(u);
    const nh = new Float64Array(u);
    const nc = new Float64Array(u);
    if (cell === RnnCell.SimpleRNN) {
      for (let j = 0; j < u; j++) {
        pre[j] = xw(j) + hu(hIn, j);
        nh[j] = f(pre[j]);
      }
    } else if (cell === RnnCell.LSTM) {
      for (let col = 0; col < g; col++) pre[col] = xw(col) + hu(hIn, col);
      for (let j = 0; j < u; j++) {
        nc[j] = sig(pre[u + j]) * c[j] + sig(pre[j]) * f(pre[2 * u + j]);
        nh[j] = sig(pre[3 * u + j]) * f(nc[j]);
      }
    } else {
      for (let col = 0; col < 2 * u; col++) pre[col] = xw(col) + hu(hIn, col);
      const r = Array.from({ length: u }, (_, j) => sig(pre[u + j]));
      for (let j = 0; j < u; j++) {
        if (cell === RnnCell.GRUResetAfter) {
          aux[j] = hu(hIn, 2 * u + j);
        } else {
          aux[j] = r[j] * h[j];
        }
      }
      for (let j = 0; j < u; j++) {
        pre[2 * u + j] = cell === RnnCell.GRUResetAfter
          ? xw(2 * u + j) + r[j] * aux[j]
          : xw(2 * u + j) + hu(aux, 2 * u + j);
        const z = sig(pre[j]);
        nh[j] = z * h[j] + (1 - z) * f(pre[2 * u + j]);
      }
    }
    const keep = !a.mask || a.mask[b * time + t] !== 0;
    steps.push({ t, keep, hPrev: h, cPrev: c, pre, aux });
    if (keep) {
      h = nh;
      if (cell === RnnCell.LSTM) c = nc;
    }
  }
  return steps;
}

/**
 * The final states in float64 (Keras `return_state`: the state after the last kept step): h and,
 * for LSTM, c, each [batch, units].
 */
export function rnnFinalStates64(a: RnnGradReferenceArgs): { h: Float64Array; c: Float64Array } {
  const u = a.units;
  const h = new Float64Array(a.batch * u), c = new Float64Array(a.batch * u);
  const { f, s: sig } = functions(a);
  for (let b = 0; b < a.batch; b++) {
    const steps = forwardSample(a, b);
    const kept = steps.filter((st) => st.keep);
    const last = kept[kept.length - 1];
    if (!last) {
      // No step was kept: the initial state carries through.
      const first = steps[0];
      h.set(first.hPrev, b * u);
      c.set(first.cPrev, b * u);
      continue;
    }
    h.set(stateAfter(a, last), b * u);
    if (a.cell === RnnCell.LSTM) {
      const p = last.pre;
      for (let j = 0; j < u; j++) {
        c[b * u + j] = sig(p[u + j]) * last.cPrev[j] + sig(p[j]) * f(p[2 * u + j]);
      }
    }
  }
  return { h, c };
}

/** The state after a processed step (recomputed from its record). */
function stateAfter(a: RnnGradReferenceArgs, st: StepRecord): Float64Array {
  if (!st.keep) return st.hPrev;
  const { f, s: sig } = functions(a);
  const u = a.units, p = st.pre;
  return Float64Array.from({ length: u }, (_, j) => {
    if (a.cell === RnnCell.SimpleRNN) return f(p[j]);
    if (a.cell === RnnCell.LSTM) {
      const c = sig(p[u + j]) * st.cPrev[j] + sig(p[j]) * f(p[2 * u + j]);
      return sig(p[3 * u + j]) * f(c);
    }
    const z = sig(p[j]);
    return z * st.hPrev[j] + (1 - z) * f(p[2 * u + j]);
  });
}

/**
 * The layer's output in float64: [batch, time, units] in processing order with
 * `returnSequences`, else [batch, units].
 */
export function rnnForward64(a: RnnGradReferenceArgs): Float64Array {
  const { batch, time, units: u } = a;
  const out = new Float64Array(a.returnSequences ? batch * time * u : batch * u);
  for (let b = 0; b < batch; b++) {
    const steps = forwardSample(a, b);
    let last: Float64Array = new Float64Array(u);
    steps.forEach((st, s) => {
      last = st.keep || !a.zeroOutputForMask ? stateAfter(a, st) : new Float64Array(u);
      if (a.returnSequences) out.set(last, (b * time + s) * u);
    });
    if (!a.returnSequences) out.set(last, b * u);
  }
  return out;
}

/**
 * Gradients of Σ dy ⊙ output (dy shaped like {@link rnnForward64}'s output) with respect to the
 * input and the weights, by backprop through time.
 */
export function rnnGradReference(a: RnnGradReferenceArgs, dy: ArrayLike<number>): RnnGradients {
  if (a.inputMask || a.recurrentMask) {
    // Its backward formulas predate the dropout scales: check those by finite differences.
    throw new Error("rnnGradReference: dropout masks are not supported (use finite differences)");
  }
  const { cell, x, batch, time, inDim, units: u, kernel, recurrentKernel: rk } = a;
  const { f, df, s: sig, ds } = functions(a);
  const g = gateCount(cell) * u;
  const dx = new Float64Array(batch * time * inDim);
  const dK = new Float64Array(inDim * g);
  const dU = new Float64Array(u * g);
  const dB = a.bias ? new Float64Array(a.bias.length) : null;
  for (let b = 0; b < batch; b++) {
    const steps = forwardSample(a, b);
    let dh = new Float64Array(u);
    let dc = new Float64Array(u);
    if (!a.returnSequences) {
      const lastKeep = steps[time - 1].keep;
      if (lastKeep || !a.zeroOutputForMask) {
        for (let j = 0; j < u; j++) dh[j] = dy[b * u + j];
      }
    }
    for (let s = time - 1; s >= 0; s--) {
      const st = steps[s];
      if (a.returnSequences && (st.keep || !a.zeroOutputForMask)) {
        for (let j = 0; j < u; j++) dh[j] += dy[(b * time + s) * u + j];
      }
      if (!st.keep) continue; // the state (and its gradient) skips the step
      const p = st.pre, hp = st.hPrev;
      // dIn: gradient of the input projection x·W + b_in; dRec: of the recurrent projection's
      // columns (h·U + b_rec, or (r⊙h)·Uh for GRU's h block); dhPrev: direct paths to hPrev.
      const dIn = new Float64Array(g);
      const dRec = new Float64Array(g);
      const dhPrev = new Float64Array(u);
      const recInput = (col: number) => cell === RnnCell.GRU && col >= 2 * u ? st.aux : hp;
      if (cell === RnnCell.SimpleRNN) {
        for (let j = 0; j < u; j++) dIn[j] = dRec[j] = dh[j] * df(p[j]);
      } else if (cell === RnnCell.LSTM) {
        const ndc = new Float64Array(u);
        for (let j = 0; j < u; j++) {
          const i = sig(p[j]), fg = sig(p[u + j]), cc = f(p[2 * u + j]), o = sig(p[3 * u + j]);
          const c = fg * st.cPrev[j] + i * cc;
          const dcT = dc[j] + dh[j] * o * df(c);
          dIn[j] = dcT * cc * ds(p[j]);
          dIn[u + j] = dcT * st.cPrev[j] * ds(p[u + j]);
          dIn[2 * u + j] = dcT * i * df(p[2 * u + j]);
          dIn[3 * u + j] = dh[j] * f(c) * ds(p[3 * u + j]);
          ndc[j] = dcT * fg;
        }
        dRec.set(dIn);
        dc = ndc;
      } else {
        for (let j = 0; j < u; j++) {
          const z = sig(p[j]), hh = f(p[2 * u + j]);
          dIn[j] = dRec[j] = dh[j] * (hp[j] - hh) * ds(p[j]);
          dIn[2 * u + j] = dh[j] * (1 - z) * df(p[2 * u + j]);
          dhPrev[j] = dh[j] * z;
        }
        if (cell === RnnCell.GRUResetAfter) {
          for (let j = 0; j < u; j++) {
            const r = sig(p[u + j]);
            dIn[u + j] = dRec[u + j] = dIn[2 * u + j] * st.aux[j] * ds(p[u + j]);
            dRec[2 * u + j] = dIn[2 * u + j] * r;
          }
        } else {
          // (r⊙hPrev)·Uh: the gradient reaching r⊙hPrev, then r and hPrev.
          for (let k = 0; k < u; k++) {
            let back = 0;
            for (let j = 0; j < u; j++) back += rk[k * g + 2 * u + j] * dIn[2 * u + j];
            const r = sig(p[u + k]);
            dIn[u + k] = dRec[u + k] = back * hp[k] * ds(p[u + k]);
            dhPrev[k] += back * r;
          }
          for (let j = 0; j < u; j++) dRec[2 * u + j] = dIn[2 * u + j];
        }
      }
      const t = st.t;
      for (let col = 0; col < g; col++) {
        for (let k = 0; k < inDim; k++) {
          dK[k * g + col] += x[(b * time + t) * inDim + k] * dIn[col];
          dx[(b * time + t) * inDim + k] += kernel[k * g + col] * dIn[col];
        }
        const rin = recInput(col);
        for (let k = 0; k < u; k++) dU[k * g + col] += rin[k] * dRec[col];
        if (dB) {
          dB[col] += dIn[col];
          if (cell === RnnCell.GRUResetAfter) dB[g + col] += dRec[col];
        }
      }
      // Through U into hPrev (GRU's h block went through r above).
      const recCols = cell === RnnCell.GRU ? 2 * u : g;
      for (let k = 0; k < u; k++) {
        let v = dhPrev[k];
        for (let col = 0; col < recCols; col++) v += rk[k * g + col] * dRec[col];
        dhPrev[k] = v;
      }
      dh = dhPrev;
    }
  }
  return { dx, dKernel: dK, dRecurrentKernel: dU, dBias: dB };
}
