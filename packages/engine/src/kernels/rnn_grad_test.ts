import { ActivationCode } from "../activations.ts";
import { getRuntime } from "../wasm/kernels.ts";
import type { RecurrentLayer } from "../layers/recurrent.ts";
import {
  recurrentBackward,
  recurrentTrainForward,
  tapeBuffers,
} from "../layers/recurrent_training.ts";
import { Rng } from "../../testing/random.ts";
import { buildWithReferenceWeights, rnnLayerFor } from "../../testing/rnn_reference_layer.ts";
import { gateCount, RnnCell } from "./rnn_codes.ts";
import { rnnForward64, rnnGradReference, type RnnGradReferenceArgs } from "./rnn_grad_reference.ts";
import { reverseTimeReference } from "./rnn_reference.ts";

const CELLS = [RnnCell.SimpleRNN, RnnCell.LSTM, RnnCell.GRU, RnnCell.GRUResetAfter];

/** max |a − b| / max(1e-3, max |b|). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let d = 0, s = 1e-3;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= d)) d = Number.isNaN(e) ? Infinity : e;
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / s;
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) {
  const e = relErr(got, want);
  if (!(e <= tol)) throw new Error(`${what}: relative error ${e} > ${tol}`);
}

/** A mask with random post-padding per row (one row fully masked when batch > 2). */
function postPaddedMask(rng: Rng, batch: number, time: number): Int32Array {
  const m = new Int32Array(batch * time);
  for (let b = 0; b < batch; b++) {
    const len = b === batch - 1 && batch > 2 ? 0 : b === 0 ? time : rng.int(1, time + 1);
    m.fill(1, b * time, b * time + len);
  }
  return m;
}

/** Random (non-padded) holes in a mask: masked steps in the middle of sequences too. */
function holeyMask(rng: Rng, batch: number, time: number): Int32Array {
  return Int32Array.from({ length: batch * time }, () => (rng.next() < 0.7 ? 1 : 0));
}

interface Variant {
  goBackwards: boolean;
  returnSequences: boolean;
  zeroOutputForMask: boolean;
  mask: "none" | "post" | "holes";
  activation?: ActivationCode;
  recurrentActivation?: ActivationCode;
  useBias?: boolean;
}

const VARIANTS: Variant[] = [
  { goBackwards: false, returnSequences: false, zeroOutputForMask: false, mask: "post" },
  { goBackwards: false, returnSequences: true, zeroOutputForMask: false, mask: "post" },
  { goBackwards: true, returnSequences: false, zeroOutputForMask: false, mask: "post" },
  { goBackwards: true, returnSequences: true, zeroOutputForMask: true, mask: "holes" },
  { goBackwards: false, returnSequences: true, zeroOutputForMask: true, mask: "post" },
  { goBackwards: false, returnSequences: false, zeroOutputForMask: true, mask: "holes" },
  { goBackwards: false, returnSequences: true, zeroOutputForMask: false, mask: "none" },
  {
    goBackwards: true,
    returnSequences: true,
    zeroOutputForMask: false,
    mask: "holes",
    activation: ActivationCode.Softsign,
    recurrentActivation: ActivationCode.HardSigmoid,
    useBias: false,
  },
];

function referenceArgs(
  rng: Rng,
  cell: RnnCell,
  v: Variant,
  batch: number,
  time: number,
  inDim: number,
  units: number,
): RnnGradReferenceArgs {
  const g = gateCount(cell) * units;
  const biasLen = cell === RnnCell.GRUResetAfter ? 2 * g : g;
  return {
    cell,
    x: Float64Array.from(rng.floats(batch * time * inDim, -1.5, 1.5)),
    batch,
    time,
    inDim,
    units,
    kernel: Float64Array.from(rng.floats(inDim * g, -0.6, 0.6)),
    recurrentKernel: Float64Array.from(rng.floats(units * g, -0.6, 0.6)),
    bias: v.useBias === false ? null : Float64Array.from(rng.floats(biasLen, -0.4, 0.4)),
    mask: v.mask === "none"
      ? null
      : v.mask === "post"
      ? postPaddedMask(rng, batch, time)
      : holeyMask(rng, batch, time),
    activation: v.activation ?? ActivationCode.Tanh,
    recurrentActivation: v.recurrentActivation ?? ActivationCode.Sigmoid,
    goBackwards: v.goBackwards,
    returnSequences: v.returnSequences,
    zeroOutputForMask: v.zeroOutputForMask,
  };
}

Deno.test("BPTT reference agrees with float64 central differences (every cell, masks, flags)", () => {
  const rng = new Rng(501);
  const h = 1e-6;
  for (const cell of CELLS) {
    for (const v of VARIANTS) {
      const a = referenceArgs(rng, cell, v, 3, 5, 3, 2);
      const outLen = rnnForward64(a).length;
      const dy = Float64Array.from(rng.floats(outLen));
      const lossAt = (args: RnnGradReferenceArgs) =>
        rnnForward64(args).reduce((s, y, i) => s + y * dy[i], 0);
      const grads = rnnGradReference(a, dy);
      const fields = [
        ["x", "dx"],
        ["kernel", "dKernel"],
        ["recurrentKernel", "dRecurrentKernel"],
        ["bias", "dBias"],
      ] as const;
      for (const [field, gradField] of fields) {
        const base = a[field];
        const analytic = grads[gradField];
        if (!base || !analytic) continue;
        const fd = Float64Array.from({ length: base.length }, (_, k) => {
          const up = Float64Array.from(base), down = Float64Array.from(base);
          up[k] += h;
          down[k] -= h;
          return (lossAt({ ...a, [field]: up }) - lossAt({ ...a, [field]: down })) / (2 * h);
        });
        expectClose(analytic, fd, 1e-6, `${RnnCell[cell]} ${JSON.stringify(v)} ${field}`);
      }
    }
  }
});

function layerFor(cell: RnnCell, v: Variant, units: number): RecurrentLayer {
  const name = (a: ActivationCode | undefined, fallback: string) =>
    a === undefined ? fallback : a === ActivationCode.Softsign ? "softsign" : "hard_sigmoid";
  const config = {
    name: "rnn",
    units,
    go_backwards: v.goBackwards,
    return_sequences: v.returnSequences,
    zero_output_for_mask: v.zeroOutputForMask,
    use_bias: v.useBias !== false,
    activation: name(v.activation, "tanh"),
    recurrent_activation: name(v.recurrentActivation, "sigmoid"),
  };
  return rnnLayerFor(cell, config, { kerasVersion: "3.10.0" });
}

Deno.test("rnnTrainForward + rnnBackward match the BPTT reference (odd sizes, batch 1 and 17, strided and flipped outputs)", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(502);
  for (const cell of CELLS) {
    for (const v of VARIANTS) {
      for (const [batch, time, inDim, units] of [[1, 6, 5, 7], [17, 7, 13, 9]]) {
        // Bidirectional's backward layer writes strided rows, flipped in time.
        const pad = v.returnSequences && batch > 1 ? 3 : 0;
        const reverse = v.returnSequences && v.goBackwards;
        const a = referenceArgs(rng, cell, v, batch, time, inDim, units);
        const layer = layerFor(cell, v, units);
        buildWithReferenceWeights(layer, a, heap);
        const rows = v.returnSequences ? batch * time : batch;
        const ld = units + pad;
        const x32 = Float32Array.from(a.x);
        const px = heap.upload(x32);
        const pmask = a.mask ? heap.upload(Int32Array.from(a.mask)) : 0;
        const pout = heap.alloc(rows * ld * 4);
        const dOut = rng.floats(rows * ld);
        const pdOut = heap.upload(dOut);
        const g = gateCount(cell) * units;
        const grads = [inDim * g, units * g, ...(a.bias ? [a.bias.length] : [])].map((n) =>
          heap.upload(rng.floats(n)) // garbage: the backward must overwrite
        );
        const pdx = heap.upload(rng.floats(batch * time * inDim));
        const xT = { ptr: px, shape: [batch, time, inDim], dtype: "float32" as const };
        const maskT = pmask ? { ptr: pmask, shape: [batch, time], dtype: "int32" as const } : null;
        const what = `${RnnCell[cell]} ${JSON.stringify(v)} batch ${batch}`;
        const out = {
          ptr: pout + pad * 4,
          rowStride: ld,
          reverse,
          zeroOutputForMask: v.zeroOutputForMask,
        };
        const tape = recurrentTrainForward(layer, xT, maskT, { kernels, heap }, out);
        try {
          // Output as the reference computes it (un-flip, drop the padding columns).
          const strided = heap.f32(pout, rows * ld);
          let y: Float32Array = Float32Array.from(
            { length: rows * units },
            (_, i) => strided[Math.floor(i / units) * ld + pad + (i % units)],
          );
          if (reverse) y = reverseTimeReference(y, batch, time, units);
          expectClose(y, rnnForward64(a), 2e-5, `${what} output`);
          // The inference kernel gives the same output.
          const yInfer = layer.call(xT, maskT, { kernels, heap, training: false });
          const inferred = heap.f32(yInfer.ptr, rows * units).slice();
          heap.free(yInfer.ptr);
          expectClose(y, inferred, 1e-5, `${what} vs inference`);

          let dy: Float32Array = Float32Array.from(
            { length: rows * units },
            (_, i) => dOut[Math.floor(i / units) * ld + pad + (i % units)],
          );
          if (reverse) dy = reverseTimeReference(dy, batch, time, units);
          const want = rnnGradReference(a, dy);
          recurrentBackward(layer, xT, maskT, tape, pdOut + pad * 4, ld, grads, { kernels, heap }, {
            ptr: pdx,
            accumulate: false,
          });
          expectClose(heap.f32(pdx, batch * time * inDim), want.dx, 2e-5, `${what} dx`);
          expectClose(heap.f32(grads[0], inDim * g), want.dKernel, 2e-5, `${what} dKernel`);
          expectClose(
            heap.f32(grads[1], units * g),
            want.dRecurrentKernel,
            2e-5,
            `${what} dRecurrent`,
          );
          if (want.dBias) {
            expectClose(heap.f32(grads[2], want.dBias.length), want.dBias, 2e-5, `${what} dBias`);
          }
          // accumulate adds dx to what is there (Bidirectional's second direction).
          recurrentBackward(layer, xT, maskT, tape, pdOut + pad * 4, ld, grads, { kernels, heap }, {
            ptr: pdx,
            accumulate: true,
          });
          expectClose(
            heap.f32(pdx, batch * time * inDim),
            want.dx.map((d) => 2 * d),
            2e-5,
            `${what} dx accumulated`,
          );
        } finally {
          for (const p of [...tapeBuffers(tape), px, pout, pdOut, pdx, ...grads]) heap.free(p);
          if (pmask) heap.free(pmask);
          layer.dispose();
        }
      }
    }
  }
});
