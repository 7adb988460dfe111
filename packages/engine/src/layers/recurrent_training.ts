/**
 * SimpleRNN, LSTM and GRU (both `reset_after` forms) in training. The forward runs
 * `rnnTrainForward`, which writes the same output as inference and records, per (sample, time),
 * the gates' pre-activations and the states before the step; backward runs backprop through time
 * (`rnnBackward`) to get dA, the gradient of the gate pre-activations of every timestep at once,
 * then the weight gradients as GEMMs over all batch·time rows:
 * dKernel = Xᵀ·dA, dRecurrentKernel = Hprevᵀ·dA, dBias = Σ dA, dX = dA·Kernelᵀ.
 * Bidirectional (`bidirectional.ts`) drives the same two functions for its inner layers.
 *
 * @module
 */
import { InputShapeError, LayerConfigError } from "../errors.ts";
import { UntrainableLayerError } from "../training/errors.ts";
import type { CallContext, Layer } from "../layer.ts";
import { gateCount, RnnCell, RnnFlag } from "../kernels/rnn_codes.ts";
import {
  NO_STATES,
  paddingWindow,
  type RecurrentLayer,
  type RecurrentOutput,
  type RecurrentStates,
  scatterWindow,
  type TimeWindow,
  windowSteps,
} from "./recurrent.ts";
import type { DeviceTensor } from "../tensor.ts";
import type { LayerTraining, TrainContext } from "../layer_training.ts";
import { dropoutScales } from "./dropout.ts";

type Runtime = Pick<CallContext, "kernels" | "heap">;

/** What one training run of a recurrent layer leaves for its backward (device pointers). */
export interface RecurrentTape {
  /** How the output was written (the output gradient arrives in the same layout). */
  out: RecurrentOutput;
  /** [batch, time, G·units] gate pre-activations. */
  pre: number;
  /** [batch, time, units] state before each step. */
  hPrev: number;
  /** [batch, time, units] LSTM cell state before each step (0 for other cells). */
  cPrev: number;
  /** [batch, time, units] GRU: what the reset gate multiplies (0 for other cells). */
  aux: number;
  /** Keras `dropout`: [batch, features] mask drawn once per sequence (0: none). */
  inputMask: number;
  /** x ⊙ `inputMask` at every step, what the kernel multiplied (0 without input dropout). */
  xDropped: number;
  /** Keras `recurrent_dropout`: [batch, units] mask on the recurrent projection's h (0: none). */
  recurrentMask: number;
  /**
   * The timesteps the run covered when it skipped padding (see `RecurrentLayer.sequenceJobs`):
   * the tape's rows are the window's, `x` and `mask` its copies of the input and mask; null when
   * it ran over the whole sequence.
   */
  window: (TimeWindow & { x: number; mask: number }) | null;
}

/** The device buffers of a tape, to free or to register with the step. */
export function tapeBuffers(tape: RecurrentTape): number[] {
  return [
    tape.pre,
    tape.hPrev,
    tape.cPrev,
    tape.aux,
    tape.inputMask,
    tape.xDropped,
    tape.recurrentMask,
    tape.window?.x ?? 0,
    tape.window?.mask ?? 0,
  ].filter((p) => p !== 0);
}

/** Gradients of a recurrent run's states (device pointers, each [batch, units]; 0: none). */
export interface RecurrentStateGrads {
  /** ∂loss/∂(final h) and LSTM ∂loss/∂(final c), when the layer returned its state. */
  dhT: number;
  dcT: number;
  /** Receive ∂loss/∂(initial h) and LSTM ∂loss/∂(initial c) (for a given `initial_state`). */
  dh0: number;
  dc0: number;
}

const NO_STATE_GRADS: Readonly<RecurrentStateGrads> = Object.freeze({
  dhT: 0,
  dcT: 0,
  dh0: 0,
  dc0: 0,
});

/** The seeds of one training run's dropout masks (Keras draws them once per sequence). */
export interface RecurrentNoise {
  seed: number;
  /** Index of the run's first sample in the whole batch (workers draw the same masks). */
  sampleOffset: number;
}

/**
 * A recurrent cell's `dropout` / `recurrent_dropout` rate, validated (Keras accepts [0, 1)); also
 * ConvLSTM2D's.
 */
export function dropoutRate(layer: Pick<Layer, "name" | "config">, field: string): number {
  const rate = layer.config[field] ?? 0;
  if (typeof rate !== "number" || !(rate >= 0 && rate < 1)) {
    throw new LayerConfigError(layer.name, field, `expected a number in [0, 1), got ${rate}`);
  }
  return rate;
}

function flagsOf(layer: RecurrentLayer, out: RecurrentOutput): number {
  return (layer.goBackwards ? RnnFlag.GoBackwards : 0) |
    (layer.returnSequences ? RnnFlag.ReturnSequences : 0) |
    (out.zeroOutputForMask ? RnnFlag.ZeroOutputForMask : 0) |
    (out.reverse ? RnnFlag.ReverseOutput : 0);
}

function checkInput(layer: RecurrentLayer, x: DeviceTensor, mask: DeviceTensor | null): void {
  if (layer.cell === RnnCell.GRU && dropoutRate(layer, "recurrent_dropout") > 0) {
    // The reset gate multiplies the dropped state before Uh there: a kernel path not written.
    throw new UntrainableLayerError(
      layer.className,
      layer.name,
      "recurrent_dropout with reset_after=False is not implemented; use reset_after=True " +
        "(the Keras default)",
    );
  }
  if (x.dtype !== "float32" || x.shape.length !== 3) {
    throw new InputShapeError(
      layer.name,
      "float32 (batch, time, features)",
      `${x.dtype} [${x.shape.join(", ")}]`,
    );
  }
  const [batch, time] = x.shape;
  if (time < 1) throw new InputShapeError(layer.name, "at least 1 timestep", "0 timesteps");
  if (mask && (mask.shape.length !== 2 || mask.shape[0] !== batch || mask.shape[1] !== time)) {
    throw new InputShapeError(
      layer.name,
      `a mask of shape [${batch}, ${time}]`,
      `[${mask.shape.join(", ")}]`,
    );
  }
}

/**
 * Runs `layer` on x [batch, time, features] in training mode, writing its output as `out` says
 * (as `RecurrentLayer.runInto` does) and its states as `states` says, and returns the tape. The
 * caller owns the tape's buffers. With `noise`, the cell's `dropout` / `recurrent_dropout` are
 * active (Keras's training mode): one mask per sequence, the same at every step.
 */
export function recurrentTrainForward(
  layer: RecurrentLayer,
  x: DeviceTensor,
  mask: DeviceTensor | null,
  rt: Runtime,
  out: RecurrentOutput,
  states: Readonly<RecurrentStates> = NO_STATES,
  noise: RecurrentNoise | null = null,
): RecurrentTape {
  checkInput(layer, x, mask);
  const { kernels, heap } = rt;
  const [batch, time, inDim] = x.shape;
  const u = layer.units, cell = layer.cell;
  const g = gateCount(cell) * u;
  const w = layer.deviceWeights();
  const bias = layer.useBias ? w[2] : 0;
  const recBias = cell === RnnCell.GRUResetAfter && bias ? bias + g * 4 : 0;
  const tape: RecurrentTape = {
    out: { ...out },
    pre: 0,
    hPrev: 0,
    cPrev: 0,
    aux: 0,
    inputMask: 0,
    xDropped: 0,
    recurrentMask: 0,
    window: null,
  };
  let work = 0, outWindow = 0, hTWindow = 0;
  const windowBuffers: number[] = [];
  try {
    // Timesteps that are padding for the whole batch change nothing: run over the others only.
    tape.window = paddingWindow(
      heap,
      x.ptr,
      mask ? mask.ptr : 0,
      x.shape,
      layer.returnSequences,
      out.zeroOutputForMask,
      (bytes) => {
        const p = heap.alloc(bytes);
        windowBuffers.push(p);
        return p;
      },
    );
    const win = tape.window;
    const steps = win ? win.t1 - win.t0 : time;
    const rows = batch * steps;
    const xRun = win ? win.x : x.ptr, maskRun = win ? win.mask : mask ? mask.ptr : 0;
    if (win && layer.returnSequences) {
      outWindow = heap.alloc(rows * u * 4);
      if (!states.hT && !out.zeroOutputForMask) hTWindow = heap.alloc(batch * u * 4);
    }
    const inRate = dropoutRate(layer, "dropout");
    const recRate = dropoutRate(layer, "recurrent_dropout");
    if (noise && inRate > 0) {
      tape.inputMask = dropoutScales(rt, batch, inDim, inRate, noise.seed, noise.sampleOffset);
      tape.xDropped = heap.alloc(rows * inDim * 4);
      kernels.rnnMaskRows(xRun, tape.inputMask, tape.xDropped, batch, steps, inDim);
    }
    if (noise && recRate > 0) {
      // Another stream than the input mask's.
      const seed = (noise.seed ^ 0x5bd1e995) >>> 0;
      tape.recurrentMask = dropoutScales(rt, batch, u, recRate, seed, noise.sampleOffset);
    }
    tape.pre = heap.alloc(rows * g * 4);
    tape.hPrev = heap.alloc(rows * u * 4);
    if (cell === RnnCell.LSTM) tape.cPrev = heap.alloc(rows * u * 4);
    if (cell === RnnCell.GRU || cell === RnnCell.GRUResetAfter) tape.aux = heap.alloc(rows * u * 4);
    work = heap.alloc(kernels.rnnTrainWorkspaceBytes(cell, batch, u));
    kernels.rnnTrainForward(
      cell,
      tape.xDropped || xRun,
      batch,
      steps,
      inDim,
      u,
      w[0],
      w[1],
      bias,
      recBias,
      maskRun,
      layer.activation.code,
      layer.activation.alpha,
      layer.recurrentActivation.code,
      layer.recurrentActivation.alpha,
      flagsOf(layer, out),
      outWindow || out.ptr,
      outWindow ? u : out.rowStride,
      tape.pre,
      tape.hPrev,
      tape.cPrev,
      tape.aux,
      states.h0,
      states.c0,
      states.hT || hTWindow,
      states.cT,
      tape.recurrentMask,
      work,
    );
    if (win && outWindow) {
      scatterWindow(heap, layer.goBackwards, u, {
        batch,
        time,
        t0: win.t0,
        t1: win.t1,
        window: outWindow,
        out: out.ptr,
        rowStride: out.rowStride,
        reverse: out.reverse,
        zeroOutputForMask: out.zeroOutputForMask,
        h0: states.h0,
        hT: states.hT || hTWindow,
      });
    }
  } catch (e) {
    // A window whose copies were made but not yet recorded on the tape is freed on its own.
    for (const p of tape.window ? tapeBuffers(tape) : [...tapeBuffers(tape), ...windowBuffers]) {
      heap.free(p);
    }
    throw e;
  } finally {
    for (const p of [work, outWindow, hTWindow]) if (p) heap.free(p);
  }
  return tape;
}

/** Where {@link recurrentBackward} writes ∂loss/∂x. */
export interface InputGradient {
  /** Device pointer of dx [batch, time, features]. */
  ptr: number;
  /** Add into dx instead of overwriting it (Bidirectional's second layer). */
  accumulate: boolean;
}

/**
 * Backprop through time of one recurrent run: from the output gradient `dOut` (laid out as the
 * forward wrote the output: `tape.out`'s reverse flag, `ldOut` floats between rows) writes the
 * weight gradients into `grads` (aligned with the layer's weights; 0 skips one) and, when `dx` is
 * given, ∂loss/∂x; `stateGrads` brings the final states' gradients and takes the initial ones'.
 */
export function recurrentBackward(
  layer: RecurrentLayer,
  x: DeviceTensor,
  mask: DeviceTensor | null,
  tape: RecurrentTape,
  dOut: number,
  ldOut: number,
  grads: readonly number[],
  rt: Runtime,
  dx: InputGradient | null,
  stateGrads: Readonly<RecurrentStateGrads> = NO_STATE_GRADS,
): void {
  const { kernels, heap } = rt;
  const [batch, time, inDim] = x.shape;
  const u = layer.units, cell = layer.cell;
  const g = gateCount(cell) * u;
  const win = tape.window;
  const steps = win ? win.t1 - win.t0 : time;
  const rows = batch * steps;
  const w = layer.deviceWeights();
  const resetAfter = cell === RnnCell.GRUResetAfter;
  const owned: number[] = [];
  const alloc = (bytes: number) => {
    const p = heap.alloc(bytes);
    owned.push(p);
    return p;
  };
  try {
    const dA = alloc(rows * g * 4);
    const dAh = resetAfter ? alloc(rows * g * 4) : 0;
    const work = alloc(kernels.rnnBackwardWorkspaceBytes(batch, u));
    let dOutRun = dOut, ldOutRun = ldOut, dhT = stateGrads.dhT;
    // Outputs outside a window were copies of the state before or after it (or zeros).
    let before: Float32Array | null = null;
    if (win && layer.returnSequences) {
      dOutRun = alloc(rows * u * 4);
      ldOutRun = u;
      const sequence = windowOutputGradients(
        win,
        layer.goBackwards,
        tape.out,
        u,
        heap.f32(dOut, (batch * time - 1) * ldOut + u),
        ldOut,
        heap.f32(dOutRun, rows * u),
      );
      if (sequence.after) {
        dhT = alloc(batch * u * 4);
        const d = heap.f32(dhT, batch * u);
        d.set(sequence.after);
        if (stateGrads.dhT) {
          const given = heap.f32(stateGrads.dhT, batch * u);
          for (let i = 0; i < d.length; i++) d[i] += given[i];
        }
      }
      before = sequence.before;
    }
    kernels.rnnBackward(
      cell,
      batch,
      steps,
      u,
      w[1],
      win ? win.mask : mask ? mask.ptr : 0,
      layer.activation.code,
      layer.activation.alpha,
      layer.recurrentActivation.code,
      layer.recurrentActivation.alpha,
      flagsOf(layer, tape.out),
      dOutRun,
      ldOutRun,
      tape.pre,
      tape.hPrev,
      tape.cPrev,
      tape.aux,
      dA,
      dAh,
      dhT,
      stateGrads.dcT,
      stateGrads.dh0,
      stateGrads.dc0,
      tape.recurrentMask,
      work,
    );
    if (before && stateGrads.dh0) {
      const d = heap.f32(stateGrads.dh0, batch * u);
      for (let i = 0; i < d.length; i++) d[i] += before[i];
    }
    const [gKernel, gRecurrent, gBias] = grads;
    // The kernel multiplied x ⊙ inputMask; the recurrent kernel h ⊙ recurrentMask.
    const xSeen = tape.xDropped || win?.x || x.ptr;
    if (gKernel) kernels.gemmTN(xSeen, inDim, dA, g, gKernel, g, inDim, g, rows, 0);
    if (gRecurrent) {
      let hSeen = tape.hPrev;
      if (tape.recurrentMask) {
        hSeen = alloc(rows * u * 4);
        kernels.rnnMaskRows(tape.hPrev, tape.recurrentMask, hSeen, batch, steps, u);
      }
      if (cell === RnnCell.GRU) {
        // z and r blocks see h; the h block sees r ⊙ h (recorded in aux).
        kernels.gemmTN(hSeen, u, dA, g, gRecurrent, g, u, 2 * u, rows, 0);
        kernels.gemmTN(tape.aux, u, dA + 8 * u, g, gRecurrent + 8 * u, g, u, u, rows, 0);
      } else {
        kernels.gemmTN(hSeen, u, resetAfter ? dAh : dA, g, gRecurrent, g, u, g, rows, 0);
      }
    }
    if (layer.useBias && gBias) {
      kernels.columnSums(dA, gBias, rows, g, 0);
      if (resetAfter) kernels.columnSums(dAh, gBias + g * 4, rows, g, 0);
    }
    if (dx && (tape.inputMask || win)) {
      const part = alloc(rows * inDim * 4);
      kernels.gemmNT(dA, g, w[0], g, part, inDim, rows, inDim, g, 0);
      if (tape.inputMask) {
        kernels.rnnMaskRows(part, tape.inputMask, part, batch, steps, inDim);
      }
      if (!win) kernels.addInto(part, dx.ptr, rows * inDim, dx.accumulate ? 1 : 0);
      else {
        // The window's rows into their places; the skipped steps' gradient is zero.
        const span = (win.t1 - win.t0) * inDim;
        if (!dx.accumulate) heap.f32(dx.ptr, batch * time * inDim).fill(0);
        for (let b = 0; b < batch; b++) {
          const at = dx.ptr + (b * time + win.t0) * inDim * 4;
          kernels.addInto(part + b * span * 4, at, span, 1);
        }
      }
    } else if (dx) {
      kernels.gemmNT(dA, g, w[0], g, dx.ptr, inDim, rows, inDim, g, dx.accumulate ? 1 : 0);
    }
  } finally {
    for (const p of owned) heap.free(p);
  }
}

/**
 * The training forward of one call `[sequence, h0?, c0?]`: the output, then (with
 * `return_state`) the final states. The tape goes to `ctx.tape`.
 */
function trainCall(
  layer: RecurrentLayer,
  xs: readonly DeviceTensor[],
  mask: DeviceTensor | null,
  ctx: TrainContext,
): DeviceTensor[] {
  const x = xs[0];
  const [batch, time] = x.shape;
  const shape = layer.returnSequences ? [batch, time, layer.units] : [batch, layer.units];
  const alloc = (dims: number[]): DeviceTensor => ({
    ptr: ctx.heap.alloc(dims.reduce((a, b) => a * b, 1) * 4),
    shape: dims,
    dtype: "float32",
  });
  const outs = [alloc(shape)];
  try {
    if (layer.returnState) {
      for (let k = 0; k < layer.stateCount; k++) outs.push(alloc([batch, layer.units]));
    }
    const tape = recurrentTrainForward(
      layer,
      x,
      mask,
      ctx,
      {
        ptr: outs[0].ptr,
        rowStride: layer.units,
        reverse: false,
        zeroOutputForMask: layer.zeroOutputForMask,
      },
      { ...layer.initialStates(xs), hT: outs[1]?.ptr ?? 0, cT: outs[2]?.ptr ?? 0 },
      ctx.training ? { seed: ctx.seedFor(layer), sampleOffset: ctx.sampleOffset } : null,
    );
    for (const p of tapeBuffers(tape)) ctx.keep(p);
    ctx.tape.set(layer, tape);
  } catch (e) {
    for (const t of outs) ctx.heap.free(t.ptr);
    throw e;
  }
  return outs;
}

/** The training of SimpleRNN, LSTM and GRU (their definitions carry it). */
export const RECURRENT_TRAINING: LayerTraining<RecurrentLayer> = {
  forward(layer, x, mask, ctx) {
    return trainCall(layer, [x], mask, ctx)[0];
  },

  forwardInputs(layer, xs, masks, ctx) {
    const outs = trainCall(layer, xs, masks[0] ?? null, ctx);
    return layer.returnState ? outs : outs[0];
  },

  backward(layer, a) {
    const { ctx, x } = a;
    const tape = ctx.tape.get(layer) as RecurrentTape;
    const heap = ctx.heap;
    const alloc = (dims: readonly number[]): DeviceTensor => ({
      ptr: heap.alloc(dims.reduce((p, d) => p * d, 1) * 4),
      shape: [...dims],
      dtype: "float32",
    });
    const states = a.xs.length - 1;
    const made: DeviceTensor[] = [];
    const make = (need: boolean, dims: readonly number[]) => {
      if (!need) return null;
      const t = alloc(dims);
      made.push(t);
      return t;
    };
    try {
      const dx = make(a.needInputGrad, x.shape);
      const dh0 = make(states >= 1 && a.needInputGrads[1], [x.shape[0], layer.units]);
      const dc0 = make(states >= 2 && a.needInputGrads[2], [x.shape[0], layer.units]);
      recurrentBackward(
        layer,
        x,
        a.mask,
        tape,
        a.dy.ptr,
        layer.units,
        a.grads,
        ctx,
        dx && { ptr: dx.ptr, accumulate: false },
        {
          dhT: a.dys[1]?.ptr ?? 0,
          dcT: a.dys[2]?.ptr ?? 0,
          dh0: dh0?.ptr ?? 0,
          dc0: dc0?.ptr ?? 0,
        },
      );
      return states ? [dx, dh0, dc0].slice(0, 1 + states) : dx;
    } catch (e) {
      for (const t of made) heap.free(t.ptr);
      throw e;
    }
  },
};

/**
 * The output gradient of a window run with `return_sequences` (see {@link RecurrentTape.window}):
 * writes the window's rows `[batch, t1 − t0, units]` into `window` as the kernel's backward reads
 * them, and returns, unless
 * masked steps output zeros, the sums of the gradients of the outputs outside the window, which
 * were copies of the state before it (`before`, for ∂h0) and after it (`after`, for ∂hT).
 */
function windowOutputGradients(
  win: TimeWindow,
  goBackwards: boolean,
  out: RecurrentOutput,
  u: number,
  dOut: Float32Array,
  ldOut: number,
  window: Float32Array,
): { before: Float32Array | null; after: Float32Array | null } {
  const { batch, time } = win;
  const steps = win.t1 - win.t0;
  const { s0, s1, shift } = windowSteps(win, goBackwards, out.reverse);
  const carried = !out.zeroOutputForMask;
  const before = carried && s0 > 0 ? new Float32Array(batch * u) : null;
  const after = carried && s1 < time ? new Float32Array(batch * u) : null;
  for (let b = 0; b < batch; b++) {
    for (let p = 0; p < steps; p++) {
      const from = (b * time + shift + p) * ldOut;
      window.set(dOut.subarray(from, from + u), (b * steps + p) * u);
    }
    for (let s = 0; s < time; s++) {
      const sum = s < s0 ? before : s >= s1 ? after : null;
      if (!sum) continue;
      const from = (b * time + (out.reverse ? time - 1 - s : s)) * ldOut;
      for (let j = 0; j < u; j++) sum[b * u + j] += dOut[from + j];
    }
  }
  return { before, after };
}
