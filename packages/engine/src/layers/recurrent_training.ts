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
import { InputShapeError } from "../errors.ts";
import { UntrainableLayerError } from "../training/errors.ts";
import type { CallContext } from "../layer.ts";
import { gateCount, RnnCell, RnnFlag } from "../kernels/rnn_codes.ts";
import type { RecurrentLayer, RecurrentOutput } from "./recurrent.ts";
import type { DeviceTensor } from "../tensor.ts";
import type { LayerTraining } from "../layer_training.ts";

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
}

/** The device buffers of a tape, to free or to register with the step. */
export function tapeBuffers(tape: RecurrentTape): number[] {
  return [tape.pre, tape.hPrev, tape.cPrev, tape.aux].filter((p) => p !== 0);
}

function flagsOf(layer: RecurrentLayer, out: RecurrentOutput): number {
  return (layer.goBackwards ? RnnFlag.GoBackwards : 0) |
    (layer.returnSequences ? RnnFlag.ReturnSequences : 0) |
    (out.zeroOutputForMask ? RnnFlag.ZeroOutputForMask : 0) |
    (out.reverse ? RnnFlag.ReverseOutput : 0);
}

function checkInput(layer: RecurrentLayer, x: DeviceTensor, mask: DeviceTensor | null): void {
  // Keras drops cell inputs / states in training with these; silently skipping them would train
  // a different model.
  for (const field of ["dropout", "recurrent_dropout"]) {
    const rate = layer.config[field] ?? 0;
    if (rate !== 0) {
      throw new UntrainableLayerError(
        layer.className,
        layer.name,
        `${field}=${JSON.stringify(rate)} inside the cell is not implemented; ` +
          "use 0 and a Dropout layer",
      );
    }
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
 * (as `RecurrentLayer.runInto` does), and returns the tape. The caller owns the tape's buffers.
 */
export function recurrentTrainForward(
  layer: RecurrentLayer,
  x: DeviceTensor,
  mask: DeviceTensor | null,
  rt: Runtime,
  out: RecurrentOutput,
): RecurrentTape {
  checkInput(layer, x, mask);
  const { kernels, heap } = rt;
  const [batch, time, inDim] = x.shape;
  const u = layer.units, cell = layer.cell;
  const g = gateCount(cell) * u;
  const w = layer.deviceWeights();
  const bias = layer.useBias ? w[2] : 0;
  const recBias = cell === RnnCell.GRUResetAfter && bias ? bias + g * 4 : 0;
  const rows = batch * time;
  const tape: RecurrentTape = { out: { ...out }, pre: 0, hPrev: 0, cPrev: 0, aux: 0 };
  let work = 0;
  try {
    tape.pre = heap.alloc(rows * g * 4);
    tape.hPrev = heap.alloc(rows * u * 4);
    if (cell === RnnCell.LSTM) tape.cPrev = heap.alloc(rows * u * 4);
    if (cell === RnnCell.GRU || cell === RnnCell.GRUResetAfter) tape.aux = heap.alloc(rows * u * 4);
    work = heap.alloc(kernels.rnnTrainWorkspaceBytes(cell, batch, u));
    kernels.rnnTrainForward(
      cell,
      x.ptr,
      batch,
      time,
      inDim,
      u,
      w[0],
      w[1],
      bias,
      recBias,
      mask ? mask.ptr : 0,
      layer.activation.code,
      layer.activation.alpha,
      layer.recurrentActivation.code,
      layer.recurrentActivation.alpha,
      flagsOf(layer, out),
      out.ptr,
      out.rowStride,
      tape.pre,
      tape.hPrev,
      tape.cPrev,
      tape.aux,
      work,
    );
  } catch (e) {
    for (const p of tapeBuffers(tape)) heap.free(p);
    throw e;
  } finally {
    if (work) heap.free(work);
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
 * given, ∂loss/∂x.
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
): void {
  const { kernels, heap } = rt;
  const [batch, time, inDim] = x.shape;
  const u = layer.units, cell = layer.cell;
  const g = gateCount(cell) * u;
  const rows = batch * time;
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
    kernels.rnnBackward(
      cell,
      batch,
      time,
      u,
      w[1],
      mask ? mask.ptr : 0,
      layer.activation.code,
      layer.activation.alpha,
      layer.recurrentActivation.code,
      layer.recurrentActivation.alpha,
      flagsOf(layer, tape.out),
      dOut,
      ldOut,
      tape.pre,
      tape.hPrev,
      tape.cPrev,
      tape.aux,
      dA,
      dAh,
      work,
    );
    const [gKernel, gRecurrent, gBias] = grads;
    if (gKernel) kernels.gemmTN(x.ptr, inDim, dA, g, gKernel, g, inDim, g, rows, 0);
    if (gRecurrent) {
      if (cell === RnnCell.GRU) {
        // z and r blocks see h; the h block sees r ⊙ h (recorded in aux).
        kernels.gemmTN(tape.hPrev, u, dA, g, gRecurrent, g, u, 2 * u, rows, 0);
        kernels.gemmTN(tape.aux, u, dA + 8 * u, g, gRecurrent + 8 * u, g, u, u, rows, 0);
      } else {
        kernels.gemmTN(tape.hPrev, u, resetAfter ? dAh : dA, g, gRecurrent, g, u, g, rows, 0);
      }
    }
    if (layer.useBias && gBias) {
      kernels.columnSums(dA, gBias, rows, g, 0);
      if (resetAfter) kernels.columnSums(dAh, gBias + g * 4, rows, g, 0);
    }
    if (dx) kernels.gemmNT(dA, g, w[0], g, dx.ptr, inDim, rows, inDim, g, dx.accumulate ? 1 : 0);
  } finally {
    for (const p of owned) heap.free(p);
  }
}

/** The training of SimpleRNN, LSTM and GRU (their definitions carry it). */
export const RECURRENT_TRAINING: LayerTraining<RecurrentLayer> = {
  forward(layer, x, mask, ctx) {
    const [batch, time] = x.shape;
    const shape = layer.returnSequences ? [batch, time, layer.units] : [batch, layer.units];
    const y: DeviceTensor = {
      ptr: ctx.heap.alloc(shape.reduce((a, b) => a * b, 1) * 4),
      shape,
      dtype: "float32",
    };
    try {
      const tape = recurrentTrainForward(layer, x, mask, ctx, {
        ptr: y.ptr,
        rowStride: layer.units,
        reverse: false,
        zeroOutputForMask: layer.zeroOutputForMask,
      });
      for (const p of tapeBuffers(tape)) ctx.keep(p);
      ctx.tape.set(layer, tape);
    } catch (e) {
      ctx.heap.free(y.ptr);
      throw e;
    }
    return y;
  },

  backward(layer, a) {
    const { ctx, x } = a;
    const tape = ctx.tape.get(layer) as RecurrentTape;
    const dx: DeviceTensor | null = a.needInputGrad
      ? {
        ptr: ctx.heap.alloc(x.shape.reduce((p, d) => p * d, 1) * 4),
        shape: [...x.shape],
        dtype: "float32",
      }
      : null;
    try {
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
      );
    } catch (e) {
      if (dx) ctx.heap.free(dx.ptr);
      throw e;
    }
    return dx;
  },
};
