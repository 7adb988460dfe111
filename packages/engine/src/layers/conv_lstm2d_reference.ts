/**
 * Plain TypeScript Keras `ConvLSTM2D` forward — the test oracle of the layer (conv_lstm2d.ts)
 * where TF.js cannot serve (dilated input convolutions have no TF.js gradient). Written from
 * Keras's `ConvLSTMCell.call`: per step, the input convolution (layer strides / padding /
 * dilation, plus bias) and the recurrent convolution (stride 1, `same`) of the previous output,
 * then the LSTM gates; built on the Conv2D and LSTM-cell references.
 *
 * @module
 */
import type { ActivationCode } from "../activations.ts";
import { axisGeometry, type Padding } from "../conv_geometry.ts";
import { conv2dReference } from "../kernels/conv_reference.ts";
import { lstmCellForwardReference } from "../kernels/lstm_cell_reference.ts";

/** One ConvLSTM2D run (row-major float32 arrays in Keras layout). */
export interface ConvLstm2dReferenceArgs {
  /** [batch, time, h, w, c] */
  x: Float32Array;
  shape: [number, number, number, number, number];
  filters: number;
  kernelSize: [number, number];
  strides: [number, number];
  dilation: [number, number];
  padding: Padding;
  /** (kh, kw, c, 4·filters) */
  kernel: Float32Array;
  /** (kh, kw, filters, 4·filters) */
  recurrentKernel: Float32Array;
  /** (4·filters) or null */
  bias: Float32Array | null;
  act: ActivationCode;
  recAct: ActivationCode;
  returnSequences: boolean;
  goBackwards: boolean;
  /** Initial h and c, each [batch, h', w', filters] (zeros when absent). */
  h0?: Float32Array;
  c0?: Float32Array;
}

/**
 * The layer's output: [batch, time, h', w', filters] in processing order (reversed with
 * `goBackwards`) when `returnSequences`, else [batch, h', w', filters].
 */
export function convLstm2dReference(a: ConvLstm2dReferenceArgs): Float32Array {
  const [batch, time, h, w, c] = a.shape;
  const [kh, kw] = a.kernelSize;
  const f = a.filters;
  const gy = axisGeometry(h, kh, a.strides[0], a.dilation[0], a.padding);
  const gx = axisGeometry(w, kw, a.strides[1], a.dilation[1], a.padding);
  const p = gy.out * gx.out;
  const activations = { act: a.act, actAlpha: 0, recAct: a.recAct, recAlpha: 0 };
  const out = new Float32Array(batch * (a.returnSequences ? time : 1) * p * f);
  for (let b = 0; b < batch; b++) {
    let hState: Float32Array = a.h0
      ? a.h0.slice(b * p * f, (b + 1) * p * f)
      : new Float32Array(p * f);
    let cState: Float32Array = a.c0
      ? a.c0.slice(b * p * f, (b + 1) * p * f)
      : new Float32Array(p * f);
    for (let s = 0; s < time; s++) {
      const t = a.goBackwards ? time - 1 - s : s;
      const frame = a.x.subarray((b * time + t) * h * w * c, (b * time + t + 1) * h * w * c);
      const zx = conv2dReference(frame, a.kernel, a.bias, {
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
      });
      const zh = conv2dReference(hState, a.recurrentKernel, null, {
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
      });
      const z = Float32Array.from(zx, (v, i) => v + zh[i]);
      const next = lstmCellForwardReference(z, cState, p, f, activations);
      hState = next.h;
      cState = next.c;
      if (a.returnSequences) out.set(hState, (b * time + s) * p * f);
    }
    if (!a.returnSequences) out.set(hState, b * p * f);
  }
  return out;
}
