/**
 * Plain TypeScript recurrent layers — the test oracle of the `rnnSequence` / `rnnMerge` kernels.
 * One sample, one step, one unit at a time in float64, written from the Keras equations
 * (Keras `layers/rnn/` cells; masking as in the backends' `rnn.py`).
 */
import { activateReference, ActivationCode } from "../activations.ts";
import { RnnCell } from "./rnn_codes.ts";

/** One recurrent layer run. Arrays are row-major float32 in Keras layout. */
export interface RnnReferenceArgs {
  cell: RnnCell;
  /** Input [batch, time, inDim]. */
  x: Float32Array;
  batch: number;
  time: number;
  inDim: number;
  units: number;
  /** (inDim, G*units) */
  kernel: Float32Array;
  /** (units, G*units) */
  recurrentKernel: Float32Array;
  /** (G*units), or (2, 3*units) for GRU reset_after (input row, then recurrent row); null = no bias. */
  bias: Float32Array | null;
  /** [batch, time], nonzero = keep; null = no mask. */
  mask?: Int32Array | null;
  activation?: ActivationCode;
  activationAlpha?: number;
  recurrentActivation?: ActivationCode;
  recurrentActivationAlpha?: number;
  goBackwards?: boolean;
  returnSequences?: boolean;
  zeroOutputForMask?: boolean;
}

/**
 * The layer's output: [batch, time, units] in processing order (reversed with go_backwards) when
 * `returnSequences`, else [batch, units] (the output of the last processed step).
 */
export function rnnReference(a: RnnReferenceArgs): Float32Array {
  const { cell, x, batch, time, inDim, units: u, kernel, recurrentKernel: rk, bias } = a;
  const act = (v: number) =>
    activateReference(v, a.activation ?? ActivationCode.Tanh, a.activationAlpha ?? 0);
  const rec = (v: number) =>
    activateReference(
      v,
      a.recurrentActivation ?? ActivationCode.Sigmoid,
      a.recurrentActivationAlpha ?? 0,
    );
  const g = (cell === RnnCell.SimpleRNN ? 1 : cell === RnnCell.LSTM ? 4 : 3) * u;
  const out = new Float32Array(a.returnSequences ? batch * time * u : batch * u);
  // Column c of (x · kernel + input bias) and of (h · recurrentKernel [+ recurrent bias]).
  const inBias = (c: number) => (bias ? bias[c] : 0);
  const recBias = (c: number) => (cell === RnnCell.GRUResetAfter && bias ? bias[g + c] : 0);
  for (let b = 0; b < batch; b++) {
    let h: Float64Array = new Float64Array(u);
    let c: Float64Array = new Float64Array(u);
    let prevOut: Float64Array = new Float64Array(u);
    for (let s = 0; s < time; s++) {
      const t = a.goBackwards ? time - 1 - s : s;
      const xt = x.subarray((b * time + t) * inDim, (b * time + t + 1) * inDim);
      const xw = (col: number) => {
        let v = inBias(col);
        for (let k = 0; k < inDim; k++) v += xt[k] * kernel[k * g + col];
        return v;
      };
      const hu = (vec: Float64Array, col: number) => {
        let v = recBias(col);
        for (let k = 0; k < u; k++) v += vec[k] * rk[k * g + col];
        return v;
      };
      const nh = new Float64Array(u);
      const nc = new Float64Array(u);
      if (cell === RnnCell.SimpleRNN) {
        for (let j = 0; j < u; j++) nh[j] = act(xw(j) + hu(h, j));
      } else if (cell === RnnCell.LSTM) {
        for (let j = 0; j < u; j++) {
          const i = rec(xw(j) + hu(h, j));
          const f = rec(xw(u + j) + hu(h, u + j));
          const cc = act(xw(2 * u + j) + hu(h, 2 * u + j));
          const o = rec(xw(3 * u + j) + hu(h, 3 * u + j));
          nc[j] = f * c[j] + i * cc;
          nh[j] = o * act(nc[j]);
        }
      } else {
        const z = new Float64Array(u);
        const r = new Float64Array(u);
        for (let j = 0; j < u; j++) {
          z[j] = rec(xw(j) + hu(h, j));
          r[j] = rec(xw(u + j) + hu(h, u + j));
        }
        const rh = Float64Array.from(h, (v, j) => r[j] * v);
        for (let j = 0; j < u; j++) {
          const hh = cell === RnnCell.GRUResetAfter
            ? act(xw(2 * u + j) + r[j] * hu(h, 2 * u + j))
            : act(xw(2 * u + j) + hu(rh, 2 * u + j));
          nh[j] = z[j] * h[j] + (1 - z[j]) * hh;
        }
      }
      const keep = !a.mask || a.mask[b * time + t] !== 0;
      let output: Float64Array;
      if (keep) {
        h = nh;
        if (cell === RnnCell.LSTM) c = nc;
        output = nh;
      } else {
        output = a.zeroOutputForMask ? new Float64Array(u) : prevOut;
      }
      prevOut = output;
      if (a.returnSequences) out.set(output, (b * time + s) * u);
    }
    if (!a.returnSequences) out.set(prevOut, b * u);
  }
  return out;
}

/** Reverses axis 1 of a [batch, time, units] array (Bidirectional flips the backward output). */
export function reverseTimeReference(
  y: Float32Array,
  batch: number,
  time: number,
  units: number,
): Float32Array {
  const out = new Float32Array(y.length);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < time; t++) {
      out.set(
        y.subarray((b * time + t) * units, (b * time + t + 1) * units),
        (b * time + time - 1 - t) * units,
      );
    }
  }
  return out;
}

/** Bidirectional merge of forward and (already flipped) backward outputs over rows. */
export function mergeReference(
  forward: Float32Array,
  backward: Float32Array,
  rows: number,
  mode: "concat" | "sum" | "mul" | "ave",
): Float32Array {
  if (mode !== "concat") {
    return Float32Array.from(forward, (v, i) => {
      const w = backward[i];
      return mode === "sum" ? v + w : mode === "mul" ? v * w : (v + w) / 2;
    });
  }
  const uf = forward.length / rows, ub = backward.length / rows;
  const out = new Float32Array(forward.length + backward.length);
  for (let r = 0; r < rows; r++) {
    out.set(forward.subarray(r * uf, (r + 1) * uf), r * (uf + ub));
    out.set(backward.subarray(r * ub, (r + 1) * ub), r * (uf + ub) + uf);
  }
  return out;
}
