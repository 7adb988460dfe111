/**
 * Recurrent layers skip the timesteps that are padding for every sequence of a batch
 * (`unmaskedWindow`): the run over the window, with the steps outside it written back as the kernel
 * writes masked steps, must equal the run over the whole sequence. The oracle is the same layer on
 * the same batch plus one sequence without padding (its window is the whole sequence, and a
 * sequence's result does not depend on its batch mates), and the float64 reference for the plain
 * cases.
 */
import { buildModel } from "../../mod.ts";
import { Rng } from "../../testing/random.ts";
import { ActivationCode } from "../activations.ts";
import { RnnCell } from "../kernels/rnn_codes.ts";
import { rnnReference } from "../kernels/rnn_reference.ts";
import type { CallContext } from "../layer.ts";
import type { DeviceTensor } from "../tensor.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { type RecurrentLayer, unmaskedWindow } from "./recurrent.ts";
import { recurrentBackward, recurrentTrainForward, tapeBuffers } from "./recurrent_training.ts";

const BATCH = 3, TIME = 11, FEATURES = 6, UNITS = 5;

/** Masks with 2 leading and 3 trailing padding steps for all, and random holes inside. */
function paddedMask(rng: Rng, batch: number): Int32Array {
  const m = new Int32Array(batch * TIME);
  for (let b = 0; b < batch; b++) {
    for (let t = 2; t < TIME - 3; t++) m[b * TIME + t] = rng.next() < 0.75 ? 1 : 0;
  }
  m[0 * TIME + 2] = 1; // the window starts at 2 and ends at 8 exactly
  m[(batch - 1) * TIME + TIME - 4] = 1;
  return m;
}

/**
 * A one-layer model around recurrent class `className` (`config` added to its own), and inputs for
 * BATCH padded sequences plus one without padding: x, mask and initial states (h, then c).
 */
function paddedCase(rng: Rng, className: string, config: Record<string, unknown>, seed: number) {
  const model = buildModel({
    config: {
      class_name: "Sequential",
      config: {
        name: "m",
        layers: [
          { class_name: "InputLayer", config: { name: "in", batch_shape: [null, TIME, FEATURES] } },
          { class_name: className, config: { name: "rnn", units: UNITS, ...config } },
        ],
      },
    },
    weights: {},
  }, { initialize: { seed } });
  const layer = model.layers.find((l) => l.name === "rnn") as RecurrentLayer;
  const states = layer.stateCount;
  const x = rng.floats((BATCH + 1) * TIME * FEATURES, -1, 1);
  const mask = new Int32Array((BATCH + 1) * TIME);
  mask.set(paddedMask(rng, BATCH));
  mask.fill(1, BATCH * TIME); // the extra sequence: no padding
  const h0 = rng.floats((BATCH + 1) * UNITS * states, -0.5, 0.5);
  return { model, layer, states, x, mask, h0 };
}

/** Uploads to the heap, remembered for freeing. */
function uploads() {
  const { heap } = getRuntime();
  const ptrs: number[] = [];
  const upload = (data: Float32Array | Int32Array) => {
    const p = heap.upload(data);
    ptrs.push(p);
    return p;
  };
  const device = (data: Float32Array | Int32Array, shape: number[]) =>
    ({
      ptr: upload(data),
      shape,
      dtype: data instanceof Int32Array ? "int32" : "float32",
    }) as DeviceTensor;
  return { upload, device, ptrs };
}

/**
 * The output modes a run is checked in: masked steps zeroed or not, Bidirectional's reversed
 * output (sequences only), with and without states; a last-step output under zeroOutputForMask
 * runs whole (nothing to compare) and is left out.
 */
function* outputModes(returnSequences: boolean) {
  for (const zeroOutputForMask of [false, true]) {
    for (const reverse of returnSequences ? [false, true] : [false]) {
      if (!returnSequences && zeroOutputForMask) continue;
      for (const withStates of [false, true]) yield { zeroOutputForMask, reverse, withStates };
    }
  }
}

Deno.test("unmaskedWindow: the span some sequence uses; all padding is empty", () => {
  const w = (rows: number[][]) =>
    unmaskedWindow(Int32Array.from(rows.flat()), rows.length, rows[0].length).join();
  const cases: [number[][], string][] = [
    [[[0, 1, 1, 0, 0], [0, 0, 1, 0, 0]], "1,3"],
    [[[1, 0, 0, 0, 0], [0, 0, 0, 0, 1]], "0,5"],
    [[[0, 0, 0], [0, 0, 0]], "0,0"],
    [[[0, 0, 1, 0, 1, 0]], "2,5"],
  ];
  for (const [rows, want] of cases) {
    if (w(rows) !== want) throw new Error(`${JSON.stringify(rows)}: ${w(rows)}, want ${want}`);
  }
});

const CELLS: [string, RnnCell, Record<string, unknown>][] = [
  ["SimpleRNN", RnnCell.SimpleRNN, {}],
  ["LSTM", RnnCell.LSTM, {}],
  ["GRU", RnnCell.GRUResetAfter, { reset_after: true }],
  ["GRU", RnnCell.GRU, { reset_after: false }],
];

Deno.test("recurrent layers over padded batches: the window run equals the whole-sequence run (every cell, direction, output mode, states)", () => {
  const { kernels, heap } = getRuntime();
  const ctx: CallContext = { kernels, heap, training: false };
  const rng = new Rng(404);
  let checked = 0;
  for (const [className, cell, extra] of CELLS) {
    for (const goBackwards of [false, true]) {
      for (const returnSequences of [false, true]) {
        const { model, layer, states, x, mask, h0 } = paddedCase(rng, className, {
          go_backwards: goBackwards,
          return_sequences: returnSequences,
          ...extra,
        }, 7);
        const { upload, device, ptrs } = uploads();
        try {
          for (const { zeroOutputForMask, reverse, withStates } of outputModes(returnSequences)) {
            const run = (batch: number) => {
              const xs = device(x.slice(0, batch * TIME * FEATURES), [batch, TIME, FEATURES]);
              const ms = device(mask.slice(0, batch * TIME), [batch, TIME]);
              // Rows wider than the output, as Bidirectional's concat writes them.
              const rowStride = UNITS + 3, rows = returnSequences ? TIME : 1;
              const out = upload(new Float32Array(batch * rows * rowStride).fill(7));
              const h = (k: number) =>
                withStates
                  ? upload(h0.slice(k * (BATCH + 1) * UNITS, (k * (BATCH + 1) + batch) * UNITS))
                  : 0;
              const hT = withStates ? upload(new Float32Array(batch * UNITS)) : 0;
              const cT = withStates && states === 2 ? upload(new Float32Array(batch * UNITS)) : 0;
              layer.runInto(xs, ms, ctx, {
                ptr: out + 4,
                rowStride,
                reverse,
                zeroOutputForMask,
              }, { h0: h(0), c0: states === 2 ? h(1) : 0, hT, cT });
              const take = (p: number, n: number) =>
                p ? heap.f32(p, n).slice() : new Float32Array(0);
              return {
                out: take(out, BATCH * rows * rowStride),
                hT: take(hT, BATCH * UNITS),
                cT: take(cT, BATCH * UNITS),
              };
            };
            const window = run(BATCH), whole = run(BATCH + 1);
            for (const key of ["out", "hT", "cT"] as const) {
              const a = window[key], b = whole[key];
              for (let i = 0; i < a.length; i++) {
                if (a[i] !== b[i]) {
                  throw new Error(
                    `${className} ${
                      JSON.stringify({
                        goBackwards,
                        returnSequences,
                        zeroOutputForMask,
                        reverse,
                        withStates,
                      })
                    } ${key}[${i}]: ${a[i]} vs ${b[i]}`,
                  );
                }
              }
            }
            checked++;
            if (!withStates && !reverse && !zeroOutputForMask) {
              // And against the float64 reference of the Keras equations.
              const [kernel, recurrentKernel, bias] = layer.getWeights().map((w) => w.data);
              const want = rnnReference({
                cell,
                x: x.slice(0, BATCH * TIME * FEATURES),
                batch: BATCH,
                time: TIME,
                inDim: FEATURES,
                units: UNITS,
                kernel,
                recurrentKernel,
                bias,
                mask: mask.slice(0, BATCH * TIME),
                activation: ActivationCode.Tanh,
                recurrentActivation: ActivationCode.Sigmoid,
                goBackwards,
                returnSequences,
              });
              const rowStride = UNITS + 3;
              want.forEach((v, i) => {
                const got = window.out[1 + Math.floor(i / UNITS) * rowStride + (i % UNITS)];
                if (!(Math.abs(got - v) <= 1e-5)) {
                  throw new Error(`${className} reference [${i}]: ${got} vs ${v}`);
                }
              });
            }
          }
        } finally {
          for (const p of ptrs) heap.free(p);
          model.dispose();
        }
      }
    }
  }
  if (checked !== 4 * 2 * (2 + 8)) throw new Error(`${checked} cases`);
});

Deno.test("recurrent training over padded batches: window forward and backward = whole-sequence ones (outputs, weight, input and state gradients, cell dropout)", () => {
  const { kernels, heap } = getRuntime();
  const rt = { kernels, heap };
  const rng = new Rng(505);
  let checked = 0, worst = 0;
  for (const [className, cell, extra] of CELLS) {
    for (const goBackwards of [false, true]) {
      for (const returnSequences of [false, true]) {
        const dropout = cell === RnnCell.LSTM || cell === RnnCell.GRUResetAfter
          ? { dropout: 0.3, recurrent_dropout: 0.2 }
          : {};
        const { model, layer, states, x, mask, h0 } = paddedCase(rng, className, {
          go_backwards: goBackwards,
          return_sequences: returnSequences,
          ...extra,
          ...dropout,
        }, 9);
        const rows = returnSequences ? TIME : 1;
        const rowStride = UNITS + 2;
        const dOut = rng.floats((BATCH + 1) * rows * rowStride, -1, 1);
        // The extra sequence's output gradient is zero: it adds nothing to any gradient.
        dOut.fill(0, BATCH * rows * rowStride);
        const dhT = rng.floats((BATCH + 1) * UNITS * states, -1, 1);
        for (let k = 0; k < states; k++) {
          dhT.fill(0, (k * (BATCH + 1) + BATCH) * UNITS, (k + 1) * (BATCH + 1) * UNITS);
        }
        const { upload, device, ptrs } = uploads();
        try {
          for (const { zeroOutputForMask, reverse, withStates } of outputModes(returnSequences)) {
            const run = (batch: number) => {
              const xs = device(x.slice(0, batch * TIME * FEATURES), [batch, TIME, FEATURES]);
              const ms = device(mask.slice(0, batch * TIME), [batch, TIME]);
              const out = upload(new Float32Array(batch * rows * rowStride));
              const part = (src: Float32Array, k: number) =>
                src.slice(k * (BATCH + 1) * UNITS, (k * (BATCH + 1) + batch) * UNITS);
              const state = (k: number) => withStates && k < states ? upload(part(h0, k)) : 0;
              const hT = withStates ? upload(new Float32Array(batch * UNITS)) : 0;
              const cT = withStates && states === 2 ? upload(new Float32Array(batch * UNITS)) : 0;
              const output = { ptr: out, rowStride, reverse, zeroOutputForMask };
              const tape = recurrentTrainForward(layer, xs, ms, rt, output, {
                h0: state(0),
                c0: state(1),
                hT,
                cT,
              }, { seed: 77, sampleOffset: 0 });
              const windowed = tape.window !== null;
              const grads = layer.getWeights().map((w) => upload(new Float32Array(w.data.length)));
              const dx = upload(new Float32Array(batch * TIME * FEATURES).fill(5));
              const dh0 = withStates ? upload(new Float32Array(batch * UNITS)) : 0;
              const dc0 = withStates && states === 2 ? upload(new Float32Array(batch * UNITS)) : 0;
              try {
                recurrentBackward(
                  layer,
                  xs,
                  ms,
                  tape,
                  upload(dOut.slice(0, batch * rows * rowStride)),
                  rowStride,
                  grads,
                  rt,
                  { ptr: dx, accumulate: false },
                  {
                    dhT: withStates ? upload(part(dhT, 0)) : 0,
                    dcT: withStates && states === 2 ? upload(part(dhT, 1)) : 0,
                    dh0,
                    dc0,
                  },
                );
              } finally {
                for (const p of tapeBuffers(tape)) heap.free(p);
              }
              const take = (p: number, n: number) =>
                p ? heap.f32(p, n).slice() : new Float32Array(0);
              return {
                windowed,
                values: {
                  out: take(out, BATCH * rows * rowStride),
                  hT: take(hT, BATCH * UNITS),
                  cT: take(cT, BATCH * UNITS),
                  dx: take(dx, BATCH * TIME * FEATURES),
                  dh0: take(dh0, BATCH * UNITS),
                  dc0: take(dc0, BATCH * UNITS),
                  ...Object.fromEntries(
                    grads.map((
                      g,
                      i,
                    ) => [`grad${i}`, take(g, layer.getWeights()[i].data.length)]),
                  ),
                } as Record<string, Float32Array>,
              };
            };
            const window = run(BATCH), whole = run(BATCH + 1);
            const what = `${className} ${
              JSON.stringify({
                goBackwards,
                returnSequences,
                zeroOutputForMask,
                reverse,
                withStates,
              })
            }`;
            if (!window.windowed || whole.windowed) {
              throw new Error(`${what}: windowed ${window.windowed} / ${whole.windowed}`);
            }
            for (const [key, a] of Object.entries(window.values)) {
              const b = whole.values[key];
              const scale = Math.max(1, ...Array.from(b, Math.abs));
              for (let i = 0; i < a.length; i++) {
                const d = Math.abs(a[i] - b[i]) / scale;
                worst = Math.max(worst, d);
                if (!(d <= 1e-5)) throw new Error(`${what} ${key}[${i}]: ${a[i]} vs ${b[i]}`);
              }
            }
            checked++;
          }
        } finally {
          for (const p of ptrs) heap.free(p);
          model.dispose();
        }
      }
    }
  }
  console.log(`${checked} training cases, worst relative difference ${worst.toExponential(2)}`);
  if (checked !== 4 * 2 * (2 + 8)) throw new Error(`${checked} cases`);
});
