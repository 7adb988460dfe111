/**
 * Plain TypeScript LSTM step on a block of rows — the test oracle of the `lstmCellForward` /
 * `lstmCellBackward` kernels (wasm/assembly/lstm_cell.ts). Float64 arithmetic, written from the
 * Keras cell equations (gate order i, f, c, o).
 *
 * @module
 */
import { activateReference, type ActivationCode } from "../activations.ts";
import { activationDerivativeReference } from "./activation_grad_reference.ts";

/** The two activations of a cell: `act` (candidate and output) and `recAct` (gates). */
export interface LstmCellActivations {
  act: ActivationCode;
  actAlpha: number;
  recAct: ActivationCode;
  recAlpha: number;
}

/**
 * One step: `z` [rows, 4u] pre-activations, `cPrev` [rows, u] → the new cell state `c` and
 * output `h` (both [rows, u]).
 */
export function lstmCellForwardReference(
  z: Float32Array,
  cPrev: Float32Array,
  rows: number,
  units: number,
  a: LstmCellActivations,
): { c: Float32Array; h: Float32Array } {
  const u = units;
  const c = new Float32Array(rows * u), h = new Float32Array(rows * u);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < u; j++) {
      const zr = r * 4 * u;
      const i = activateReference(z[zr + j], a.recAct, a.recAlpha);
      const f = activateReference(z[zr + u + j], a.recAct, a.recAlpha);
      const g = activateReference(z[zr + 2 * u + j], a.act, a.actAlpha);
      const o = activateReference(z[zr + 3 * u + j], a.recAct, a.recAlpha);
      const cn = f * cPrev[r * u + j] + i * g;
      c[r * u + j] = cn;
      h[r * u + j] = o * activateReference(cn, a.act, a.actAlpha);
    }
  }
  return { c, h };
}

/**
 * The step's backward: from `dh` (∂loss/∂h) and `dc` (∂loss/∂c from later steps), the gradients
 * of the pre-activations `dz` [rows, 4u] and of the previous cell state `dcPrev` [rows, u].
 */
export function lstmCellBackwardReference(
  z: Float32Array,
  cPrev: Float32Array,
  dh: Float32Array,
  dc: Float32Array,
  rows: number,
  units: number,
  a: LstmCellActivations,
): { dz: Float32Array; dcPrev: Float32Array } {
  const u = units;
  const dz = new Float32Array(rows * 4 * u), dcPrev = new Float32Array(rows * u);
  const rec = (v: number) => activateReference(v, a.recAct, a.recAlpha);
  const recD = (v: number) => activationDerivativeReference(v, a.recAct, a.recAlpha);
  const act = (v: number) => activateReference(v, a.act, a.actAlpha);
  const actD = (v: number) => activationDerivativeReference(v, a.act, a.actAlpha);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < u; j++) {
      const zr = r * 4 * u, k = r * u + j;
      const [pi, pf, pg, po] = [z[zr + j], z[zr + u + j], z[zr + 2 * u + j], z[zr + 3 * u + j]];
      const i = rec(pi), f = rec(pf), g = act(pg), o = rec(po);
      const cn = f * cPrev[k] + i * g;
      const dcTotal = dc[k] + dh[k] * o * actD(cn);
      dz[zr + j] = dcTotal * g * recD(pi);
      dz[zr + u + j] = dcTotal * cPrev[k] * recD(pf);
      dz[zr + 2 * u + j] = dcTotal * i * actD(pg);
      dz[zr + 3 * u + j] = dh[k] * act(cn) * recD(po);
      dcPrev[k] = dcTotal * f;
    }
  }
  return { dz, dcPrev };
}
