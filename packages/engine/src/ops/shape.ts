/**
 * Shape operation nodes: reshape, transpose, expand_dims, squeeze (views of their input, no copy,
 * except transpose), concatenate and stack. Axes and shapes are whole-tensor ones as in
 * `keras.ops` and `tf.*` (axis 0 is the batch); an op that would move or merge the batch axis
 * is refused. Memory moves run in TypeScript over the heap (`strided.ts`).
 *
 * @module
 */
import { LayerConfigError } from "../errors.ts";
import type { CallContext, LayerBuildOptions } from "../layer.ts";
import type { BackwardArgs } from "../layer_training.ts";
import type { DeviceTensor } from "../tensor.ts";
import { type FullShape, normAxis, OpLayer } from "./op_layer.ts";
import { count, denseStrides, gather, scatter } from "./strided.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** Base of the ops whose output is their input's memory under another shape. */
abstract class ViewOp extends OpLayer {
  constructor(op: string, label: string, name: string, options: LayerBuildOptions) {
    super(op, label, name, 1, options);
  }

  forward(xs: readonly DeviceTensor[], _ctx: CallContext): DeviceTensor {
    return { ptr: xs[0].ptr, shape: this.outShape(xs), dtype: xs[0].dtype };
  }

  /** ONNX: a view is a Reshape to the output shape (batch kept as 0). */
  override emitOnnx(ctx: OnnxLayerContext): void {
    const dims = ctx.outputShape.map((d) => d ?? -1);
    if (dims.filter((d) => d === -1).length > 1) ctx.refuse("more than one unknown dimension");
    ctx.node("Reshape", [ctx.inputs[0], ctx.int64s("shape", [0, ...dims])], [ctx.output]);
  }

  backwardInputs(a: BackwardArgs): (DeviceTensor | null)[] {
    if (!(a.needInputGrads[0] ?? a.needInputGrad)) return [null];
    return [{ ptr: a.dy.ptr, shape: [...a.xs[0].shape], dtype: "float32" }];
  }
}

/**
 * `ops.reshape(x, newshape)` / `tf.reshape(x, shape)`: `newshape` is the whole shape; its
 * first entry must be -1 (or None) so the batch stays, and at most one other entry is -1.
 */
export class ReshapeOp extends ViewOp {
  readonly target: number[];

  constructor(label: string, name: string, shape: unknown, options: LayerBuildOptions = {}) {
    super("reshape", label, name, options);
    const t = Array.isArray(shape) ? shape.map((d) => (d === null ? -1 : d)) : null;
    const ok = t !== null && t.length >= 1 && t[0] === -1 &&
      t.slice(1).every((d) => Number.isInteger(d) && (d > 0 || d === -1)) &&
      t.slice(1).filter((d) => d === -1).length <= 1;
    if (!ok) {
      throw new LayerConfigError(
        name,
        "newshape",
        `${label}: expected a whole shape whose batch entry is -1 and with at most one other ` +
          `-1, got ${JSON.stringify(shape)}`,
      );
    }
    this.target = t as number[];
  }

  shapeOf(shapes: readonly FullShape[]): FullShape {
    const s = shapes[0];
    const rest = s.slice(1);
    if (rest.some((d) => d === null)) throw this.shapeError("fully known dims", shapes);
    const per = count(rest as number[]);
    const dims = this.target.slice(1);
    const known = dims.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
    const out = dims.map((d) => (d === -1 ? per / known : d));
    if (!out.every(Number.isInteger) || count(out) !== per) {
      throw this.shapeError(`${per} values per sample to fit [${this.target}]`, shapes);
    }
    return [s[0], ...out];
  }
}

/** `ops.expand_dims(x, axis)` / `tf.expand_dims`: a size-1 axis (not before the batch). */
export class ExpandDimsOp extends ViewOp {
  readonly axes: number[];

  constructor(label: string, name: string, axis: unknown, options: LayerBuildOptions = {}) {
    super("expand_dims", label, name, options);
    const list = typeof axis === "number" ? [axis] : axis;
    if (!Array.isArray(list) || list.length === 0 || !list.every(Number.isInteger)) {
      throw new LayerConfigError(name, "axis", `${label}: expected integers, got ${axis}`);
    }
    this.axes = list as number[];
  }

  shapeOf(shapes: readonly FullShape[]): FullShape {
    const s = shapes[0];
    const rank = s.length + this.axes.length;
    const at = this.axes.map((a) => normAxis(a, rank));
    if (at.some((a) => a === null || a === 0) || new Set(at).size !== at.length) {
      throw this.shapeError(`axes [${this.axes}] inside a rank-${rank} result after the batch`, [
        s,
      ]);
    }
    const out: FullShape = [];
    let k = 0;
    for (let d = 0; d < rank; d++) out.push(at.includes(d) ? 1 : s[k++]);
    return out;
  }
}

/** `ops.squeeze(x, axis)` / `tf.squeeze`: drops size-1 axes (never the batch). */
export class SqueezeOp extends ViewOp {
  readonly axes: number[] | null;

  constructor(label: string, name: string, axis: unknown, options: LayerBuildOptions = {}) {
    super("squeeze", label, name, options);
    const list = axis === null || axis === undefined
      ? null
      : typeof axis === "number"
      ? [axis]
      : axis;
    if (list !== null && (!Array.isArray(list) || !list.every(Number.isInteger))) {
      throw new LayerConfigError(name, "axis", `${label}: expected integers, got ${axis}`);
    }
    this.axes = list as number[] | null;
  }

  shapeOf(shapes: readonly FullShape[]): FullShape {
    const s = shapes[0];
    let drop: (number | null)[];
    if (this.axes === null) {
      // Keras: every axis statically of size 1 (the batch is not one).
      drop = s.map((d, i) => (i > 0 && d === 1 ? i : null)).filter((i) => i !== null);
    } else {
      drop = this.axes.map((a) => normAxis(a, s.length));
      if (drop.some((a) => a === null || a === 0 || s[a] !== 1)) {
        throw this.shapeError(`size-1 axes [${this.axes}] after the batch`, shapes);
      }
    }
    return s.filter((_, i) => !drop.includes(i));
  }
}

/**
 * `ops.transpose(x, axes)` / `tf.transpose(x, perm)`: `axes` a permutation of the whole shape
 * that keeps the batch first.
 */
export class TransposeOp extends OpLayer {
  readonly perm: number[];

  constructor(label: string, name: string, perm: unknown, options: LayerBuildOptions = {}) {
    super("transpose", label, name, 1, options);
    if (
      !Array.isArray(perm) || !perm.every(Number.isInteger) ||
      new Set(perm).size !== perm.length
    ) {
      throw new LayerConfigError(
        name,
        "axes",
        `${label}: expected a permutation of the axes that keeps the batch (0) first, got ${
          JSON.stringify(perm)
        }`,
      );
    }
    this.perm = perm as number[];
  }

  #perm(rank: number, shapes: readonly FullShape[]): number[] {
    const p = this.perm.map((a) => normAxis(a, rank));
    if (p.length !== rank || p.some((a) => a === null) || new Set(p).size !== rank || p[0] !== 0) {
      throw this.shapeError(
        `a rank-${rank} input for the permutation [${this.perm}] keeping the batch first`,
        shapes,
      );
    }
    return p as number[];
  }

  shapeOf(shapes: readonly FullShape[]): FullShape {
    const s = shapes[0];
    return this.#perm(s.length, shapes).map((a) => s[a]);
  }

  /** ONNX: Transpose with the same permutation. */
  override emitOnnx(ctx: OnnxLayerContext): void {
    const full: FullShape = [null, ...ctx.inputShapes[0]];
    const perm = this.#perm(full.length, [full]);
    ctx.node("Transpose", [ctx.inputs[0]], [ctx.output], { perm: { ints: perm } });
  }

  #move(ctx: CallContext, src: DeviceTensor, perm: number[]): DeviceTensor {
    const shape = perm.map((a) => src.shape[a]);
    const strides = denseStrides(src.shape);
    const ptr = ctx.heap.alloc(count(shape) * 4);
    gather(
      ctx.heap.f32(src.ptr, count(src.shape)),
      0,
      perm.map((a) => strides[a]),
      shape,
      ctx.heap.f32(ptr, count(shape)),
    );
    return { ptr, shape, dtype: "float32" };
  }

  forward(xs: readonly DeviceTensor[], ctx: CallContext): DeviceTensor {
    return this.#move(ctx, xs[0], this.#perm(xs[0].shape.length, [xs[0].shape]));
  }

  backwardInputs(a: BackwardArgs): (DeviceTensor | null)[] {
    if (!(a.needInputGrads[0] ?? a.needInputGrad)) return [null];
    const perm = this.#perm(a.xs[0].shape.length, [a.xs[0].shape]);
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => (inverse[p] = i));
    return [this.#move(a.ctx, a.dy, inverse)];
  }
}

/**
 * `ops.concatenate(xs, axis)` / `tf.concat(values, axis)` (`stack` false), and `ops.stack` /
 * `tf.stack` (`stack` true: a new axis of size `xs.length` at `axis` of the result).
 */
export class JoinOp extends OpLayer {
  readonly axis: number;
  readonly stack: boolean;

  constructor(
    stack: boolean,
    label: string,
    name: string,
    inputs: number,
    axis: unknown,
    options: LayerBuildOptions = {},
  ) {
    super(stack ? "stack" : "concatenate", label, name, inputs, options);
    if (!Number.isInteger(axis)) {
      throw new LayerConfigError(name, "axis", `${label}: expected an integer, got ${axis}`);
    }
    this.axis = axis as number;
    this.stack = stack;
  }

  #axis(shapes: readonly FullShape[]): number {
    const rank = shapes[0].length + (this.stack ? 1 : 0);
    const a = normAxis(this.axis, rank);
    if (a === null || a === 0) {
      throw this.shapeError(`axis ${this.axis} after the batch of a rank-${rank} result`, shapes);
    }
    return a;
  }

  /** ONNX: Concat on the axis; stack unsqueezes every input there first. */
  override emitOnnx(ctx: OnnxLayerContext): void {
    const axis = this.#axis(ctx.inputShapes.map((s) => [null, ...s]));
    const parts = !this.stack ? ctx.inputs : ctx.inputs.map((x) => {
      const out = ctx.fresh("stacked");
      ctx.node("Unsqueeze", [x, ctx.int64s("axes", [axis])], [out]);
      return out;
    });
    ctx.node("Concat", parts, [ctx.output], { axis: { int: axis } });
  }

  shapeOf(shapes: readonly FullShape[]): FullShape {
    const axis = this.#axis(shapes);
    const first = shapes[0];
    for (const s of shapes) {
      const same = s.length === first.length &&
        s.every((d, i) =>
          (!this.stack && i === axis) || i === 0 || d === null || first[i] === null ||
          d === first[i]
        );
      if (!same) {
        throw this.shapeError(
          this.stack ? "tensors of one shape" : `tensors of one shape except axis ${axis}`,
          shapes,
        );
      }
    }
    if (this.stack) return [...first.slice(0, axis), shapes.length, ...first.slice(axis)];
    const sizes = shapes.map((s) => s[axis]);
    const total = sizes.some((d) => d === null) ? null : (sizes as number[]).reduce(
      (p, d) => p + d,
      0,
    );
    return first.map((d, i) => (i === axis ? total : d));
  }

  /** Per input: its offset in the output and the output strides it is written with. */
  #layout(shapes: readonly number[][], out: number[]): { offset: number; strides: number[] }[] {
    const axis = this.#axis(shapes);
    const strides = denseStrides(out);
    let at = 0;
    return shapes.map((s) => {
      const offset = at * strides[axis];
      at += this.stack ? 1 : s[axis];
      const own = this.stack ? strides.filter((_, i) => i !== axis) : strides;
      return { offset, strides: own };
    });
  }

  forward(xs: readonly DeviceTensor[], ctx: CallContext): DeviceTensor {
    const out = this.outShape(xs);
    const y = this.allocOutput(ctx, out);
    const view = ctx.heap.f32(y.ptr, count(out));
    this.#layout(xs.map((x) => x.shape), out).forEach((l, i) => {
      const x = xs[i];
      scatter(ctx.heap.f32(x.ptr, count(x.shape)), x.shape, view, l.offset, l.strides);
    });
    return y;
  }

  backwardInputs(a: BackwardArgs): (DeviceTensor | null)[] {
    const { heap } = a.ctx;
    const out = this.outShape(a.xs);
    const ptrs = a.xs.map((x, i) =>
      (a.needInputGrads[i] ?? a.needInputGrad) ? heap.alloc(count(x.shape) * 4) : 0
    );
    const dy = heap.f32(a.dy.ptr, count(out));
    return this.#layout(a.xs.map((x) => x.shape), out).map((l, i) => {
      if (!ptrs[i]) return null;
      const x = a.xs[i];
      gather(dy, l.offset, l.strides, x.shape, heap.f32(ptrs[i], count(x.shape)));
      return { ptr: ptrs[i], shape: [...x.shape], dtype: "float32" };
    });
  }
}
