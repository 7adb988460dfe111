/**
 * Plain TypeScript Keras `ConvLSTM2D` forward in float64 — the test oracle of the layer
 * (conv_lstm2d.ts) where TF.js cannot serve (dilated input convolutions have no TF.js gradient;
 * cell dropout). Written from Keras's `ConvLSTMCell.call`: per step, the input convolution (layer
 * strides / padding / dilation, plus bias) and the recurrent convolution (stride 1, `same`) of the
 * previous output, then the LSTM gates. With explicit dropout masks, gate k (i, f, c, o) convolves
 * x ⊙ inputMask_k with its kernel block and h ⊙ recurrentMask_k with its recurrent-kernel block,
 * as Keras's training mode does (`dropout_mask_count = 4`).
 *
 * @module
 */
import { activateReference, type ActivationCode } from "../activations.ts";
import { axisGeometry, type Padding } from "../conv_geometry.ts";
import { type Conv2DParams, forEachTap } from "../kernels/conv_reference.ts";

/** One ConvLSTM2D run (row-major arrays in Keras layout; any float precision). */
export interface ConvLstm2dReferenceArgs {
  /** [batch, time, h, w, c] */
  x: ArrayLike<number>;
  shape: [number, number, number, number, number];
  filters: number;
  kernelSize: [number, number];
  strides: [number, number];
  dilation: [number, number];
  padding: Padding;
  /** (kh, kw, c, 4·filters) */
  kernel: ArrayLike<number>;
  /** (kh, kw, filters, 4·filters) */
  recurrentKernel: ArrayLike<number>;
  /** (4·filters) or null */
  bias: ArrayLike<number> | null;
  act: ActivationCode;
  recAct: ActivationCode;
  returnSequences: boolean;
  goBackwards: boolean;
  /** Initial h and c, each [batch, h', w', filters] (zeros when absent). */
  h0?: ArrayLike<number>;
  c0?: ArrayLike<number>;
  /**
   * Keras `dropout` in training: per gate (i, f, c, o) a mask [batch, h, w, c] multiplying x at
   * every step before that gate's input convolution (none: no input dropout).
   */
  inputMasks?: readonly ArrayLike<number>[];
  /**
   * Keras `recurrent_dropout` in training: per gate a mask [batch, h', w', filters] multiplying
   * the state before that gate's recurrent convolution (none: no recurrent dropout).
   */
  recurrentMasks?: readonly ArrayLike<number>[];
}

/** The reference's results in float64. */
export interface ConvLstm2dReferenceResult {
  /**
   * [batch, time, h', w', filters] in processing order (reversed with `goBackwards`) when
   * `returnSequences`, else [batch, h', w', filters].
   */
  y: Float64Array;
  /** The final h and c, each [batch, h', w', filters] (Keras `return_state`). */
  h: Float64Array;
  c: Float64Array;
}

/**
 * Adds into `z` (one image's [pixels, 4f]) gate by gate the convolution of `src` (one image,
 * [h, w, c] as `g` says) times gate k's mask (`masks[k]` at `maskAt`, or no mask) with the
 * kernel's k-th column block.
 */
function addGateConvolutions(
  z: Float64Array,
  src: ArrayLike<number>,
  srcAt: number,
  kernel: ArrayLike<number>,
  g: Conv2DParams,
  masks: readonly ArrayLike<number>[] | undefined,
  maskAt: number,
): void {
  const f = g.outC / 4;
  for (let k = 0; k < 4; k++) {
    const mask = masks?.[k];
    forEachTap(g, (xBase, kBase, zBase) => {
      for (let ci = 0; ci < g.c; ci++) {
        const v = src[srcAt + xBase + ci] * (mask ? mask[maskAt + xBase + ci] : 1);
        const row = kBase + ci * g.outC + k * f;
        for (let o = 0; o < f; o++) z[zBase + k * f + o] += v * kernel[row + o];
      }
    });
  }
}

/** The layer's output and final states, in float64. */
export function convLstm2dReference64(a: ConvLstm2dReferenceArgs): ConvLstm2dReferenceResult {
  const [batch, time, h, w, c] = a.shape;
  const [kh, kw] = a.kernelSize;
  const f = a.filters;
  const gy = axisGeometry(h, kh, a.strides[0], a.dilation[0], a.padding);
  const gx = axisGeometry(w, kw, a.strides[1], a.dilation[1], a.padding);
  const p = gy.out * gx.out, unitsOut = p * f;
  const inputConv: Conv2DParams = {
    batch: 1,
    h,
    w,
    c,
    outH: gy.out,
    outW: gx.out,
    outC: 4 * f,
    kh,
    kw,
    strides: a.strides,
    dilation: a.dilation,
    padTop: gy.padBefore,
    padLeft: gx.padBefore,
  };
  const recurrentConv: Conv2DParams = {
    batch: 1,
    h: gy.out,
    w: gx.out,
    c: f,
    outH: gy.out,
    outW: gx.out,
    outC: 4 * f,
    kh,
    kw,
    strides: [1, 1],
    dilation: [1, 1],
    padTop: axisGeometry(gy.out, kh, 1, 1, "same").padBefore,
    padLeft: axisGeometry(gx.out, kw, 1, 1, "same").padBefore,
  };
  const frameIn = h * w * c;
  const y = new Float64Array(batch * (a.returnSequences ? time : 1) * unitsOut);
  const hOut = new Float64Array(batch * unitsOut), cOut = new Float64Array(batch * unitsOut);
  const z = new Float64Array(p * 4 * f);
  for (let b = 0; b < batch; b++) {
    const hState = new Float64Array(unitsOut), cState = new Float64Array(unitsOut);
    for (let j = 0; j < unitsOut; j++) {
      hState[j] = a.h0 ? a.h0[b * unitsOut + j] : 0;
      cState[j] = a.c0 ? a.c0[b * unitsOut + j] : 0;
    }
    for (let s = 0; s < time; s++) {
      const t = a.goBackwards ? time - 1 - s : s;
      for (let i = 0; i < z.length; i++) z[i] = a.bias ? a.bias[i % (4 * f)] : 0;
      const frameAt = (b * time + t) * frameIn;
      addGateConvolutions(z, a.x, frameAt, a.kernel, inputConv, a.inputMasks, b * frameIn);
      const hMasks = a.recurrentMasks;
      addGateConvolutions(z, hState, 0, a.recurrentKernel, recurrentConv, hMasks, b * unitsOut);
      for (let px = 0; px < p; px++) {
        for (let j = 0; j < f; j++) {
          const zr = px * 4 * f;
          const ig = activateReference(z[zr + j], a.recAct, 0);
          const fg = activateReference(z[zr + f + j], a.recAct, 0);
          const cg = activateReference(z[zr + 2 * f + j], a.act, 0);
          const og = activateReference(z[zr + 3 * f + j], a.recAct, 0);
          const at = px * f + j;
          cState[at] = fg * cState[at] + ig * cg;
          hState[at] = og * activateReference(cState[at], a.act, 0);
        }
      }
      if (a.returnSequences) y.set(hState, (b * time + s) * unitsOut);
    }
    if (!a.returnSequences) y.set(hState, b * unitsOut);
    hOut.set(hState, b * unitsOut);
    cOut.set(cState, b * unitsOut);
  }
  return { y, h: hOut, c: cOut };
}

/**
 * The layer's output (float32): [batch, time, h', w', filters] in processing order (reversed with
 * `goBackwards`) when `returnSequences`, else [batch, h', w', filters].
 */
export function convLstm2dReference(a: ConvLstm2dReferenceArgs): Float32Array {
  return Float32Array.from(convLstm2dReference64(a).y);
}
