/**
 * Backward of the merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate,
 * Dot). They have no weights; each returns one gradient per input (null where not needed).
 * Stateless: what a backward needs beyond the inputs (Maximum/Minimum's winners, Dot's moved and
 * normalised operands) is recomputed from `args.xs`, which is cheaper than a tape here.
 * - Add: dy to every input; Average: dy / n; Subtract: dy and −dy.
 * - Multiply: dy times the product of the other inputs (masked rows count as 1 and get no
 *   gradient, Keras 3).
 * - Maximum/Minimum: dy to the input that supplied each element (ties: the earlier input).
 * - A broadcast input's gradient is summed over its broadcast dims.
 * - Concatenate: each input's slot of dy. Dot: dX = dOut·Y, dY = dOutᵀ·X per sample, through the
 *   L2 normalisation when `normalize`.
 */
import type { Concatenate } from "../../layers/concatenate.ts";
import type { Dot } from "../../layers/dot.ts";
import { broadcastDescriptor, type ElementwiseMerge, MERGE_OP_CODES } from "../../layers/merge.ts";
import { type DeviceTensor, sizeOf } from "../../tensor.ts";
import { type BackwardArgs, registerTraining, type TrainContext } from "./registry.ts";

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A fresh gradient of x's shape: `g` (at the output shape) summed over x's broadcast dims. */
function sumToInput(
  ctx: TrainContext,
  g: DeviceTensor,
  x: DeviceTensor,
  outShape: number[],
): DeviceTensor {
  const { kernels, heap } = ctx;
  const n = sizeOf(x.shape);
  const ptr = heap.alloc(n * 4);
  const desc = heap.upload(broadcastDescriptor(x.shape, outShape));
  kernels.sumToShape(g.ptr, ptr, n, desc);
  heap.free(desc);
  return { ptr, shape: [...x.shape], dtype: "float32" };
}

/**
 * The gradient of input i from its full-size gradient `g`: `g` itself when the input was not
 * broadcast, else a reduced copy (`g` is then freed unless it is `args.dy`).
 */
function toInput(
  a: BackwardArgs,
  g: DeviceTensor,
  i: number,
  outShape: number[],
): DeviceTensor {
  const x = a.xs[i];
  if (sameShape(x.shape, outShape)) return g;
  const dx = sumToInput(a.ctx, g, x, outShape);
  if (g.ptr !== a.dy.ptr) a.ctx.heap.free(g.ptr);
  return dx;
}

function elementwiseBackward(layer: ElementwiseMerge, a: BackwardArgs): (DeviceTensor | null)[] {
  const { kernels, heap } = a.ctx;
  const xs = a.xs;
  const outShape = layer.outputShapeOf(xs);
  const n = sizeOf(outShape);
  const need = xs.map((_, i) => a.needInputGrads[i] ?? a.needInputGrad);
  const fresh = (): DeviceTensor => ({
    ptr: heap.alloc(n * 4),
    shape: [...outShape],
    dtype: "float32",
  });
  const out: (DeviceTensor | null)[] = xs.map(() => null);
  switch (layer.op) {
    case "average":
      kernels.scaleFloats(a.dy.ptr, a.dy.ptr, n, 1 / xs.length);
      // falls through
    case "add":
      xs.forEach((_, i) => {
        if (need[i]) out[i] = toInput(a, a.dy, i, outShape);
      });
      return out;
    case "subtract":
      if (need[1]) {
        const g = fresh();
        kernels.scaleFloats(a.dy.ptr, g.ptr, n, -1);
        out[1] = toInput(a, g, 1, outShape);
      }
      if (need[0]) out[0] = toInput(a, a.dy, 0, outShape);
      return out;
    case "maximum":
    case "minimum": {
      if (!need.some(Boolean)) return out;
      const run = layer.run(xs, a.masks, a.ctx, true);
      heap.free(run.y.ptr);
      const winner = run.winner as number;
      try {
        xs.forEach((_, i) => {
          if (!need[i]) return;
          const g = fresh();
          kernels.selectGrad(a.dy.ptr, winner, i, g.ptr, n);
          out[i] = toInput(a, g, i, outShape);
        });
      } finally {
        heap.free(winner);
      }
      return out;
    }
    case "multiply": {
      if (!need.some(Boolean)) return out;
      const rowLen = outShape.length > 1 ? outShape[outShape.length - 1] : 1;
      const rows = n / Math.max(rowLen, 1);
      const vm = layer.valueMasks(a.masks, outShape, xs.length);
      const temps: number[] = [];
      try {
        const es = layer.expandInputs(xs, outShape, kernels, heap, temps);
        const filled = es.map((e, j) => {
          const m = vm[j];
          if (!m) return e.ptr;
          const p = heap.alloc(n * 4);
          temps.push(p);
          kernels.maskRowsFill(e.ptr, p, m.ptr, rows, rowLen, 1);
          return p;
        });
        xs.forEach((_, i) => {
          if (!need[i]) return;
          const g = fresh();
          kernels.addInto(a.dy.ptr, g.ptr, n, 0);
          filled.forEach((f, j) => {
            if (j !== i) kernels.mergeInto(MERGE_OP_CODES.multiply, g.ptr, f, n);
          });
          const m = vm[i];
          if (m) kernels.maskRowsFill(g.ptr, g.ptr, m.ptr, rows, rowLen, 0);
          out[i] = toInput(a, g, i, outShape);
        });
      } finally {
        for (const p of temps) heap.free(p);
      }
      return out;
    }
  }
}

for (const cls of ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]) {
  registerTraining<ElementwiseMerge>(cls, { backward: elementwiseBackward });
}

registerTraining<Concatenate>("Concatenate", {
  backward(layer, a) {
    const { kernels, heap } = a.ctx;
    const l = layer.layoutOf(a.xs);
    return a.xs.map((x, i) => {
      if (!(a.needInputGrads[i] ?? a.needInputGrad)) return null;
      const ptr = heap.alloc(sizeOf(x.shape) * 4);
      kernels.copyStrided(
        a.dy.ptr + l.offsets[i] * 4,
        l.outChunk,
        ptr,
        l.chunks[i],
        l.outer,
        l.chunks[i],
      );
      return { ptr, shape: [...x.shape], dtype: "float32" };
    });
  },
});

registerTraining<Dot>("Dot", {
  backward(layer, a) {
    const { kernels, heap } = a.ctx;
    const need = [0, 1].map((i) => a.needInputGrads[i] ?? a.needInputGrad);
    if (!need[0] && !need[1]) return [null, null];
    const ops = layer.prepare(a.xs, a.ctx);
    const { p, q, k, batch } = ops.layout;
    const dy = a.dy.ptr;
    const out: (DeviceTensor | null)[] = [null, null];
    try {
      const grads = [0, 1].map((i) => {
        if (!need[i]) return 0;
        const rows = i === 0 ? p : q;
        const g = heap.alloc(Math.max(batch * rows * k, 1) * 4);
        for (let s = 0; s < batch; s++) {
          const dOut = dy + s * p * q * 4;
          if (i === 0) {
            // dX[p×k] = dOut[p×q] · Y[q×k]
            kernels.gemmStrided(
              dOut,
              q,
              ops.ym + s * q * k * 4,
              k,
              0,
              g + s * p * k * 4,
              k,
              p,
              k,
              q,
              0,
              0,
              0,
            );
          } else {
            // dY[q×k] = dOutᵀ · X[p×k]
            kernels.gemmTN(dOut, q, ops.xm + s * p * k * 4, k, g + s * q * k * 4, k, q, k, p, 0);
          }
        }
        if (layer.normalize) {
          const [m, norms] = i === 0 ? [ops.xm, ops.xNorms] : [ops.ym, ops.yNorms];
          kernels.l2NormalizeRowsGrad(m, g, norms, g, batch * rows, k, layer.minNorm);
        }
        return g;
      });
      [0, 1].forEach((i) => {
        if (!need[i]) return;
        const x = a.xs[i];
        const after = ops.layout.after[i];
        let ptr = grads[i];
        if (after !== 1) {
          // Move the dot axis back from last to its place: per block [after, k] → [k, after].
          ptr = heap.alloc(sizeOf(x.shape) * 4);
          const block = k * after;
          for (let s = 0; s < batch * ops.layout.before[i]; s++) {
            kernels.transposeMatrix(grads[i] + s * block * 4, k, ptr + s * block * 4, after, k);
          }
          heap.free(grads[i]);
        }
        out[i] = { ptr, shape: [...x.shape], dtype: "float32" };
      });
    } finally {
      for (const t of ops.temps) heap.free(t);
    }
    return out;
  },
});
