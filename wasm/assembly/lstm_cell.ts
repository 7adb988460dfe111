// The element-wise part of one LSTM step on a block of rows, for recurrent layers whose gate
// pre-activations come from elsewhere (ConvLSTM2D: two convolutions per step, see
// packages/engine/src/layers/conv_lstm2d.ts). A row is one pixel of one sample: its `4·units`
// pre-activations in gate order i, f, c, o (Keras), its cell state and its output.
// Reference: packages/engine/src/kernels/lstm_cell_reference.ts.
import { activateScalar, activateV } from "./activations";
import { activationDerivative, activationDerivativeV } from "./activation_grad";

/**
 * One LSTM step over `rows` rows: with z [rows, 4u] the gates' pre-activations,
 * i = recAct(z_i), f = recAct(z_f), g = act(z_c), o = recAct(z_o),
 * c ← f·c + i·g (`c` [rows, u] holds the previous cell state and receives the new one) and
 * h = o·act(c) (`h` [rows, u], OVERWRITTEN).
 */
export function lstmCellForward(
  z: usize,
  c: usize,
  h: usize,
  rows: i32,
  units: i32,
  act: i32,
  actAlpha: f32,
  recAct: i32,
  recAlpha: f32,
): void {
  const uBytes = <usize> units << 2;
  const gBytes = uBytes << 2;
  for (let r = 0; r < rows; r++) {
    const zr = z + <usize> r * gBytes;
    const cr = c + <usize> r * uBytes;
    const hr = h + <usize> r * uBytes;
    let j = 0;
    for (; j + 4 <= units; j += 4) {
      const o = <usize> j << 2;
      const ig = activateV(v128.load(zr + o), recAct, recAlpha);
      const fg = activateV(v128.load(zr + uBytes + o), recAct, recAlpha);
      const cg = activateV(v128.load(zr + (uBytes << 1) + o), act, actAlpha);
      const og = activateV(v128.load(zr + 3 * uBytes + o), recAct, recAlpha);
      const cn = f32x4.add(f32x4.mul(fg, v128.load(cr + o)), f32x4.mul(ig, cg));
      v128.store(cr + o, cn);
      v128.store(hr + o, f32x4.mul(og, activateV(cn, act, actAlpha)));
    }
    for (; j < units; j++) {
      const o = <usize> j << 2;
      const ig = activateScalar(load<f32>(zr + o), recAct, recAlpha);
      const fg = activateScalar(load<f32>(zr + uBytes + o), recAct, recAlpha);
      const cg = activateScalar(load<f32>(zr + (uBytes << 1) + o), act, actAlpha);
      const og = activateScalar(load<f32>(zr + 3 * uBytes + o), recAct, recAlpha);
      const cn = fg * load<f32>(cr + o) + ig * cg;
      store<f32>(cr + o, cn);
      store<f32>(hr + o, og * activateScalar(cn, act, actAlpha));
    }
  }
}

/**
 * The backward of {@link lstmCellForward} for `rows` rows, from the step's pre-activations `z`
 * [rows, 4u] and previous cell state `cPrev` [rows, u]: `dh` [rows, u] is ∂loss/∂h of the step
 * (read), `dc` [rows, u] holds ∂loss/∂c of the step from later steps and receives ∂loss/∂cPrev,
 * `dz` [rows, 4u] receives ∂loss/∂z (OVERWRITTEN).
 */
export function lstmCellBackward(
  z: usize,
  cPrev: usize,
  dh: usize,
  dc: usize,
  dz: usize,
  rows: i32,
  units: i32,
  act: i32,
  actAlpha: f32,
  recAct: i32,
  recAlpha: f32,
): void {
  const uBytes = <usize> units << 2;
  const gBytes = uBytes << 2;
  for (let r = 0; r < rows; r++) {
    const zr = z + <usize> r * gBytes;
    const dzr = dz + <usize> r * gBytes;
    const cp = cPrev + <usize> r * uBytes;
    const dhr = dh + <usize> r * uBytes;
    const dcr = dc + <usize> r * uBytes;
    let j = 0;
    // Four units at a time; the gates are recomputed with the forward's vector activations.
    for (; j + 4 <= units; j += 4) {
      const o = <usize> j << 2;
      const pi = v128.load(zr + o);
      const pf = v128.load(zr + uBytes + o);
      const pg = v128.load(zr + (uBytes << 1) + o);
      const po = v128.load(zr + 3 * uBytes + o);
      const ig = activateV(pi, recAct, recAlpha);
      const fg = activateV(pf, recAct, recAlpha);
      const cg = activateV(pg, act, actAlpha);
      const og = activateV(po, recAct, recAlpha);
      const cPrevJ = v128.load(cp + o);
      const cn = f32x4.add(f32x4.mul(fg, cPrevJ), f32x4.mul(ig, cg));
      const ac = activateV(cn, act, actAlpha);
      const dhj = v128.load(dhr + o);
      const dcj = f32x4.add(
        v128.load(dcr + o),
        f32x4.mul(f32x4.mul(dhj, og), activationDerivativeV(cn, ac, act, actAlpha)),
      );
      v128.store(dzr + o, f32x4.mul(f32x4.mul(dcj, cg), activationDerivativeV(pi, ig, recAct, recAlpha)));
      v128.store(dzr + uBytes + o, f32x4.mul(f32x4.mul(dcj, cPrevJ), activationDerivativeV(pf, fg, recAct, recAlpha)));
      v128.store(dzr + (uBytes << 1) + o, f32x4.mul(f32x4.mul(dcj, ig), activationDerivativeV(pg, cg, act, actAlpha)));
      v128.store(dzr + 3 * uBytes + o, f32x4.mul(f32x4.mul(dhj, ac), activationDerivativeV(po, og, recAct, recAlpha)));
      v128.store(dcr + o, f32x4.mul(dcj, fg));
    }
    for (; j < units; j++) {
      const o = <usize> j << 2;
      const pi = load<f32>(zr + o);
      const pf = load<f32>(zr + uBytes + o);
      const pg = load<f32>(zr + (uBytes << 1) + o);
      const po = load<f32>(zr + 3 * uBytes + o);
      const ig = activateScalar(pi, recAct, recAlpha);
      const fg = activateScalar(pf, recAct, recAlpha);
      const cg = activateScalar(pg, act, actAlpha);
      const og = activateScalar(po, recAct, recAlpha);
      const cPrevJ = load<f32>(cp + o);
      const cn = fg * cPrevJ + ig * cg;
      const ac = activateScalar(cn, act, actAlpha);
      const dhj = load<f32>(dhr + o);
      const dcj = load<f32>(dcr + o) + dhj * og * activationDerivative(cn, ac, act, actAlpha);
      store<f32>(dzr + o, dcj * cg * activationDerivative(pi, ig, recAct, recAlpha));
      store<f32>(dzr + uBytes + o, dcj * cPrevJ * activationDerivative(pf, fg, recAct, recAlpha));
      store<f32>(dzr + (uBytes << 1) + o, dcj * ig * activationDerivative(pg, cg, act, actAlpha));
      store<f32>(dzr + 3 * uBytes + o, dhj * ac * activationDerivative(po, og, recAct, recAlpha));
      store<f32>(dcr + o, dcj * fg);
    }
  }
}
