/**
 * The recurrent training path with initial states, final states and cell dropout, checked against
 * the float64 reference (`kernels/rnn_grad_reference.ts`): the forward (`rnnTrainForward`: output,
 * hT, cT) with the masks the engine drew, and every gradient (`rnnBackward` + the weight GEMMs:
 * x, kernel, recurrent kernel, bias, h0, c0) against central finite differences of the reference's
 * loss Σ dy⊙output + Σ dhT⊙hT + Σ dcT⊙cT. Odd sizes, batch 1 and 5, masks with holes, both
 * directions. The dropout masks themselves: one per sequence, drawn by the Dropout layer's hash.
 */
import { getRuntime } from "../wasm/kernels.ts";
import { recurrentBackward, recurrentTrainForward, tapeBuffers } from "./recurrent_training.ts";
import { Rng } from "../../testing/random.ts";
import { buildWithReferenceWeights, rnnLayerFor } from "../../testing/rnn_reference_layer.ts";
import { dropoutScaleReference } from "../kernels/activation_grad_reference.ts";
import { gateCount, RnnCell } from "../kernels/rnn_codes.ts";
import {
  rnnFinalStates64,
  rnnForward64,
  type RnnGradReferenceArgs,
} from "../kernels/rnn_grad_reference.ts";

const RATE_IN = 0.3, RATE_REC = 0.4, SEED = 912;

/** Σ a⊙b in float64. */
function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

const CASES: { cell: RnnCell; goBackwards: boolean; returnSequences: boolean; dropout: boolean }[] =
  [
    { cell: RnnCell.LSTM, goBackwards: false, returnSequences: true, dropout: true },
    { cell: RnnCell.LSTM, goBackwards: true, returnSequences: false, dropout: false },
    { cell: RnnCell.GRUResetAfter, goBackwards: false, returnSequences: false, dropout: true },
    { cell: RnnCell.GRU, goBackwards: true, returnSequences: true, dropout: false },
    { cell: RnnCell.SimpleRNN, goBackwards: false, returnSequences: true, dropout: true },
  ];

Deno.test("recurrent training with h0/c0, hT/cT and cell dropout: forward and every gradient vs the float64 reference", () => {
  const rt = getRuntime();
  const { heap } = rt;
  const rng = new Rng(913);
  let worst = 0;
  for (const c of CASES) {
    for (const batch of [1, 5]) {
      const [time, inDim, units] = [6, 3, 5];
      const g = gateCount(c.cell) * units;
      const lstm = c.cell === RnnCell.LSTM;
      const what = `${RnnCell[c.cell]} ${JSON.stringify(c)} batch ${batch}`;
      const layer = rnnLayerFor(c.cell, {
        name: `l${c.cell}`,
        units,
        go_backwards: c.goBackwards,
        return_sequences: c.returnSequences,
        ...(c.dropout ? { dropout: RATE_IN, recurrent_dropout: RATE_REC } : {}),
      });
      const biasLen = c.cell === RnnCell.GRUResetAfter ? 2 * g : g;
      const a: RnnGradReferenceArgs = {
        cell: c.cell,
        x: Float64Array.from(rng.floats(batch * time * inDim, -1.5, 1.5)),
        batch,
        time,
        inDim,
        units,
        kernel: Float64Array.from(rng.floats(inDim * g, -0.6, 0.6)),
        recurrentKernel: Float64Array.from(rng.floats(units * g, -0.6, 0.6)),
        bias: Float64Array.from(rng.floats(biasLen, -0.4, 0.4)),
        mask: Int32Array.from({ length: batch * time }, (_, i) => (i % 7 === 3 ? 0 : 1)),
        goBackwards: c.goBackwards,
        returnSequences: c.returnSequences,
        h0: Float64Array.from(rng.floats(batch * units, -0.8, 0.8)),
        c0: lstm ? Float64Array.from(rng.floats(batch * units, -0.8, 0.8)) : null,
      };
      buildWithReferenceWeights(layer, a, heap);
      const owned: number[] = [];
      const up = (d: ArrayLike<number>) => {
        const p = heap.upload(Float32Array.from(d));
        owned.push(p);
        return p;
      };
      const alloc = (n: number) => {
        const p = heap.alloc(n * 4);
        owned.push(p);
        return p;
      };
      try {
        const outRows = c.returnSequences ? batch * time : batch;
        const x = { ptr: up(a.x), shape: [batch, time, inDim], dtype: "float32" as const };
        const mask = {
          ptr: heap.upload(Int32Array.from(a.mask!)),
          shape: [batch, time],
          dtype: "int32" as const,
        };
        owned.push(mask.ptr);
        const out = alloc(outRows * units);
        const hT = alloc(batch * units), cT = lstm ? alloc(batch * units) : 0;
        const tape = recurrentTrainForward(
          layer,
          x,
          mask,
          rt,
          { ptr: out, rowStride: units, reverse: false, zeroOutputForMask: false },
          { h0: up(a.h0!), c0: lstm ? up(a.c0!) : 0, hT, cT },
          { seed: SEED, sampleOffset: 0 },
        );
        owned.push(...tapeBuffers(tape));
        if (c.dropout) {
          // One mask per sequence (batch × features), as the Dropout layer's hash draws it.
          const inMask = heap.f32(tape.inputMask, batch * inDim).slice();
          const recMask = heap.f32(tape.recurrentMask, batch * units).slice();
          inMask.forEach((v, k) => {
            if (v !== dropoutScaleReference(SEED, k, RATE_IN)) {
              throw new Error(`${what}: input mask[${k}] = ${v}`);
            }
          });
          const recSeed = (SEED ^ 0x5bd1e995) >>> 0;
          recMask.forEach((v, k) => {
            if (v !== dropoutScaleReference(recSeed, k, RATE_REC)) {
              throw new Error(`${what}: recurrent mask[${k}] = ${v}`);
            }
          });
          a.inputMask = Float64Array.from(inMask);
          a.recurrentMask = Float64Array.from(recMask);
        } else if (tape.inputMask || tape.recurrentMask) {
          throw new Error(`${what}: masks drawn without dropout`);
        }
        const check = (
          got: ArrayLike<number>,
          want: ArrayLike<number>,
          tol: number,
          name: string,
        ) => {
          let d = 0, s = 1e-3;
          for (let i = 0; i < want.length; i++) {
            d = Math.max(d, Math.abs(got[i] - want[i]));
            s = Math.max(s, Math.abs(want[i]));
          }
          if (!(d / s <= tol)) throw new Error(`${what}: ${name} relative error ${d / s}`);
          worst = Math.max(worst, d / s);
        };
        // ---- forward ----
        const finals = rnnFinalStates64(a);
        check(heap.f32(out, outRows * units), rnnForward64(a), 1e-5, "output");
        check(heap.f32(hT, batch * units), finals.h, 1e-5, "hT");
        if (lstm) check(heap.f32(cT, batch * units), finals.c, 1e-5, "cT");
        // ---- backward vs finite differences of the reference ----
        const dy = Float64Array.from(rng.floats(outRows * units));
        const dhT = Float64Array.from(rng.floats(batch * units));
        const dcT = lstm ? Float64Array.from(rng.floats(batch * units)) : null;
        const lossOf = (args: RnnGradReferenceArgs) => {
          const f = rnnFinalStates64(args);
          return dot(dy, rnnForward64(args)) + dot(dhT, f.h) + (dcT ? dot(dcT, f.c) : 0);
        };
        const grads = [inDim * g, units * g, biasLen].map((n) => up(rng.floats(n)));
        const dx = alloc(batch * time * inDim);
        const dh0 = alloc(batch * units), dc0 = lstm ? alloc(batch * units) : 0;
        recurrentBackward(
          layer,
          x,
          mask,
          tape,
          up(dy),
          units,
          grads,
          rt,
          { ptr: dx, accumulate: false },
          { dhT: up(dhT), dcT: dcT ? up(dcT) : 0, dh0, dc0 },
        );
        const fields: [keyof RnnGradReferenceArgs, number, number][] = [
          ["x", dx, batch * time * inDim],
          ["kernel", grads[0], inDim * g],
          ["recurrentKernel", grads[1], units * g],
          ["bias", grads[2], biasLen],
          ["h0", dh0, batch * units],
          ...(lstm
            ? [["c0", dc0, batch * units] as [keyof RnnGradReferenceArgs, number, number]]
            : []),
        ];
        for (const [field, ptr, n] of fields) {
          const got = heap.f32(ptr, n).slice();
          const fd = new Float64Array(n);
          const base = a[field] as Float64Array;
          const eps = 1e-6;
          for (let k = 0; k < n; k++) {
            const orig = base[k];
            base[k] = orig + eps;
            const upL = lossOf(a);
            base[k] = orig - eps;
            const downL = lossOf(a);
            base[k] = orig;
            fd[k] = (upL - downL) / (2 * eps);
          }
          if (!(Math.max(...Array.from(fd, Math.abs)) > 1e-6)) {
            throw new Error(`${what}: ∂/∂${field} is ~0: the check is blind`);
          }
          check(got, fd, 2e-4, `∂/∂${field}`);
        }
      } finally {
        for (const p of owned) heap.free(p);
        layer.dispose();
      }
    }
  }
  console.log(`recurrent states + dropout: worst relative error ${worst.toExponential(2)}`);
});
