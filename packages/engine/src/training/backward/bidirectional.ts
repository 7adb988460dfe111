/**
 * Bidirectional in training: both inner layers run the recurrent training forward (the backward
 * one's sequence output flipped back in time, masked steps zeroed as Keras forces), then the merge;
 * backward splits the output gradient by merge mode (concat: column slices; sum: the same; ave:
 * halves; mul: times the other direction's output), runs backprop through time for each, and sums
 * their input gradients. Weights: the forward layer's, then the backward layer's.
 */
import type { Bidirectional } from "../../layers/bidirectional.ts";
import { MERGE_CODES } from "../../kernels/rnn_codes.ts";
import { type DeviceTensor, sizeOf } from "../../tensor.ts";
import {
  recurrentBackward,
  type RecurrentTape,
  recurrentTrainForward,
  tapeBuffers,
} from "./recurrent.ts";
import { registerTraining } from "./registry.ts";

interface BidirectionalTape {
  forward: RecurrentTape;
  backward: RecurrentTape;
  /** Each direction's own output (merge modes other than concat), for `mul`'s gradient. */
  yForward: number;
  yBackward: number;
}

registerTraining<Bidirectional>("Bidirectional", {
  forward(layer, x, mask, ctx) {
    const { heap, kernels } = ctx;
    const [batch, time] = x.shape;
    const seq = layer.returnSequences;
    const uf = layer.forward.units, ub = layer.backward.units;
    const width = layer.mergeMode === "concat" ? uf + ub : uf;
    const shape = seq ? [batch, time, width] : [batch, width];
    const n = sizeOf(shape);
    const y: DeviceTensor = { ptr: heap.alloc(n * 4), shape, dtype: "float32" };
    try {
      const concat = layer.mergeMode === "concat";
      const yForward = concat ? 0 : ctx.keep(heap.alloc(n * 4));
      const yBackward = concat ? 0 : ctx.keep(heap.alloc(n * 4));
      const forward = recurrentTrainForward(layer.forward, x, mask, ctx, {
        ptr: concat ? y.ptr : yForward,
        rowStride: concat ? width : uf,
        reverse: false,
        zeroOutputForMask: seq,
      });
      for (const p of tapeBuffers(forward)) ctx.keep(p);
      const backward = recurrentTrainForward(layer.backward, x, mask, ctx, {
        ptr: concat ? y.ptr + uf * 4 : yBackward,
        rowStride: concat ? width : ub,
        reverse: seq,
        zeroOutputForMask: seq,
      });
      for (const p of tapeBuffers(backward)) ctx.keep(p);
      if (!concat) {
        heap.f32(y.ptr, n).set(heap.f32(yForward, n));
        kernels.rnnMerge(y.ptr, yBackward, n, MERGE_CODES[layer.mergeMode]);
      }
      const tape: BidirectionalTape = { forward, backward, yForward, yBackward };
      ctx.tape.set(layer, tape);
    } catch (e) {
      heap.free(y.ptr);
      throw e;
    }
    return y;
  },

  backward(layer, a) {
    const { ctx, x } = a;
    const { heap, kernels } = ctx;
    const tape = ctx.tape.get(layer) as BidirectionalTape;
    const uf = layer.forward.units, ub = layer.backward.units;
    const n = sizeOf(a.dy.shape);
    const nf = layer.forward.deviceWeights().length;
    const owned: number[] = [];
    let dOutF = a.dy.ptr, dOutB = a.dy.ptr, ldF = uf, ldB = ub;
    const dx: DeviceTensor | null = a.needInputGrad
      ? { ptr: heap.alloc(sizeOf(x.shape) * 4), shape: [...x.shape], dtype: "float32" }
      : null;
    try {
      switch (layer.mergeMode) {
        case "concat":
          dOutB = a.dy.ptr + uf * 4;
          ldF = ldB = uf + ub;
          break;
        case "sum":
          break;
        case "ave":
          kernels.scaleInPlace(a.dy.ptr, n, 0.5);
          break;
        case "mul":
          dOutF = heap.alloc(n * 4);
          owned.push(dOutF);
          dOutB = heap.alloc(n * 4);
          owned.push(dOutB);
          kernels.multiplyElementwise(a.dy.ptr, tape.yBackward, dOutF, n);
          kernels.multiplyElementwise(a.dy.ptr, tape.yForward, dOutB, n);
          break;
      }
      recurrentBackward(
        layer.forward,
        x,
        a.mask,
        tape.forward,
        dOutF,
        ldF,
        a.grads.slice(0, nf),
        ctx,
        dx && { ptr: dx.ptr, accumulate: false },
      );
      recurrentBackward(
        layer.backward,
        x,
        a.mask,
        tape.backward,
        dOutB,
        ldB,
        a.grads.slice(nf),
        ctx,
        dx && { ptr: dx.ptr, accumulate: true },
      );
    } catch (e) {
      if (dx) heap.free(dx.ptr);
      throw e;
    } finally {
      for (const p of owned) heap.free(p);
    }
    return dx;
  },

  params: (layer) => [layer.forward, layer.backward],
});
