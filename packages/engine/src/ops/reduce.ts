/**
 * Reduction operation nodes: `ops.mean` / `ops.sum` / `ops.max` / `ops.min` and
 * `tf.reduce_mean` / `reduce_sum` / `reduce_max` / `reduce_min` over some axes after the batch,
 * with or without `keepdims`. Runs in TypeScript over the heap. Backward: mean and sum spread
 * the gradient over the reduced elements (mean divided by their count); max and min give it to
 * the elements equal to the result, split evenly between ties (TensorFlow's rule).
 *
 * @module
 */
import { LayerConfigError } from "../errors.ts";
import type { CallContext, LayerBuildOptions } from "../layer.ts";
import type { BackwardArgs } from "../layer_training.ts";
import type { DeviceTensor } from "../tensor.ts";
import { type FullShape, normAxis, OpLayer } from "./op_layer.ts";
import { count, denseStrides, walk } from "./strided.ts";
import { emitReduce, type OnnxLayerContext } from "../onnx_emit.ts";

/** A reduction. */
export type ReduceFn = "mean" | "sum" | "max" | "min";

/** A reduction operation node. */
export class ReduceOp extends OpLayer {
  readonly fn: ReduceFn;
  readonly axes: number[];
  readonly keepdims: boolean;

  constructor(
    fn: ReduceFn,
    label: string,
    name: string,
    axis: unknown,
    keepdims: unknown,
    options: LayerBuildOptions = {},
  ) {
    super(fn, label, name, 1, options);
    const list = typeof axis === "number" ? [axis] : axis;
    if (!Array.isArray(list) || list.length === 0 || !list.every(Number.isInteger)) {
      throw new LayerConfigError(
        name,
        "axis",
        `${label}: expected axes after the batch (a reduction over every axis, axis=None, ` +
          `would reduce the batch), got ${JSON.stringify(axis ?? null)}`,
      );
    }
    if (keepdims !== undefined && keepdims !== null && typeof keepdims !== "boolean") {
      throw new LayerConfigError(name, "keepdims", `${label}: expected true or false`);
    }
    this.fn = fn;
    this.axes = list as number[];
    this.keepdims = keepdims === true;
  }

  #axes(rank: number, shapes: readonly FullShape[]): number[] {
    const at = this.axes.map((a) => normAxis(a, rank));
    if (at.some((a) => a === null || a === 0)) {
      throw this.shapeError(`axes [${this.axes}] after the batch of a rank-${rank} input`, shapes);
    }
    return [...new Set(at as number[])];
  }

  /** ONNX: ReduceMean / ReduceSum / ReduceMax / ReduceMin over the same axes. */
  override emitOnnx(ctx: OnnxLayerContext): void {
    const full: FullShape = [null, ...ctx.inputShapes[0]];
    const axes = this.#axes(full.length, [full]);
    const op =
      ({ mean: "ReduceMean", sum: "ReduceSum", max: "ReduceMax", min: "ReduceMin" } as const)[
        this.fn
      ];
    emitReduce(ctx, op, ctx.inputs[0], axes, this.keepdims, ctx.output);
  }

  shapeOf(shapes: readonly FullShape[]): FullShape {
    const s = shapes[0];
    const axes = this.#axes(s.length, shapes);
    if (this.keepdims) return s.map((d, i) => (axes.includes(i) ? 1 : d));
    return s.filter((_, i) => !axes.includes(i));
  }

  /** Strides mapping an input index to its output element (0 along reduced axes). */
  #outStrides(x: readonly number[]): number[] {
    const axes = this.#axes(x.length, [[...x]]);
    const kept = x.map((d, i) => (axes.includes(i) ? 1 : d));
    const s = denseStrides(kept);
    return x.map((_, i) => (axes.includes(i) ? 0 : s[i]));
  }

  forward(xs: readonly DeviceTensor[], ctx: CallContext): DeviceTensor {
    const x = xs[0];
    const shape = this.outShape(xs);
    const n = count(shape);
    const y = this.allocOutput(ctx, shape);
    const out = ctx.heap.f32(y.ptr, n);
    const src = ctx.heap.f32(x.ptr, count(x.shape));
    const acc = new Float64Array(n);
    const fn = this.fn;
    if (fn === "max") acc.fill(-Infinity);
    else if (fn === "min") acc.fill(Infinity);
    const strides = this.#outStrides(x.shape);
    if (fn === "max") walk(x.shape, strides, 0, (i, j) => (acc[j] = Math.max(acc[j], src[i])));
    else if (fn === "min") {
      walk(x.shape, strides, 0, (i, j) => (acc[j] = Math.min(acc[j], src[i])));
    } else walk(x.shape, strides, 0, (i, j) => (acc[j] += src[i]));
    const scale = fn === "mean" ? n / Math.max(1, count(x.shape)) : 1;
    for (let j = 0; j < n; j++) out[j] = acc[j] * scale;
    return y;
  }

  backwardInputs(a: BackwardArgs): (DeviceTensor | null)[] {
    if (!(a.needInputGrads[0] ?? a.needInputGrad)) return [null];
    const { heap } = a.ctx;
    const x = a.xs[0];
    const nx = count(x.shape);
    const ny = count(a.dy.shape);
    const ptr = heap.alloc(nx * 4);
    const dx = heap.f32(ptr, nx);
    const dy = heap.f32(a.dy.ptr, ny);
    const strides = this.#outStrides(x.shape);
    if (this.fn === "mean" || this.fn === "sum") {
      const scale = this.fn === "mean" ? ny / Math.max(1, nx) : 1;
      walk(x.shape, strides, 0, (i, j) => (dx[i] = dy[j] * scale));
    } else {
      const src = heap.f32(x.ptr, nx);
      const y = heap.f32(a.y.ptr, ny);
      const ties = new Float64Array(ny);
      walk(x.shape, strides, 0, (i, j) => {
        if (src[i] === y[j]) ties[j]++;
      });
      walk(x.shape, strides, 0, (i, j) => (dx[i] = src[i] === y[j] ? dy[j] / ties[j] : 0));
    }
    return [{ ptr, shape: [...x.shape], dtype: "float32" }];
  }
}
