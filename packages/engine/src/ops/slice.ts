/**
 * Slicing operation nodes: `x[:, 0]`, `x[:, 1:3]`, `x[:, ::-1]`, `x[..., -1]`, `x[:, None]` —
 * Keras 3 `GetItem` and tf.keras 2 `SlicingOpLambda(__operators__.getitem)`. A key is integers
 * (an axis dropped), slices with start/stop/step (negative ones counting from the end, as in
 * Python), at most one `...` and `None` (a new size-1 axis). The batch axis must be taken whole
 * (`:` or covered by `...`). Runs in TypeScript: the forward reads a strided view, the backward
 * adds the gradient back into a zero tensor of the input's shape.
 *
 * @module
 */
import { LayerConfigError } from "../errors.ts";
import type { CallContext, LayerBuildOptions } from "../layer.ts";
import type { BackwardArgs } from "../layer_training.ts";
import type { DeviceTensor } from "../tensor.ts";
import { type ArgValue, EllipsisArg, SliceArg } from "./args.ts";
import { type FullShape, OpLayer } from "./op_layer.ts";
import { count, denseStrides, gather, scatterAdd } from "./strided.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** One item of a slicing key. */
export type KeyItem = number | SliceArg | EllipsisArg | null;

/** How one output axis reads the input: an input axis from `start` by `step`, or a new axis. */
interface OutAxis {
  /** The input axis read, or -1 for a new size-1 axis (`None`). */
  dim: number;
  start: number;
  step: number;
  size: number | null;
}

interface Plan {
  out: OutAxis[];
  /** Input axes fixed by an integer: [axis, index]. */
  picks: [number, number][];
}

/** Python's `slice.indices(length)` and the number of elements it selects. */
function resolveSlice(s: SliceArg, length: number): { start: number; step: number; size: number } {
  const step = s.step ?? 1;
  let start: number, stop: number;
  if (step > 0) {
    start = s.start === null ? 0 : s.start < 0 ? Math.max(0, s.start + length) : s.start;
    stop = s.stop === null ? length : s.stop < 0 ? Math.max(0, s.stop + length) : s.stop;
    start = Math.min(start, length);
    stop = Math.min(stop, length);
    return { start, step, size: Math.max(0, Math.ceil((stop - start) / step)) };
  }
  start = s.start === null ? length - 1 : s.start < 0 ? Math.max(-1, s.start + length) : s.start;
  stop = s.stop === null ? -1 : s.stop < 0 ? Math.max(-1, s.stop + length) : s.stop;
  start = Math.min(start, length - 1);
  stop = Math.min(stop, length - 1);
  return { start, step, size: Math.max(0, Math.ceil((stop - start) / step)) };
}

/** A slicing operation node. */
export class GetItemOp extends OpLayer {
  readonly key: readonly KeyItem[];

  constructor(
    label: string,
    name: string,
    key: ArgValue | undefined,
    options: LayerBuildOptions = {},
  ) {
    super("getitem", label, name, 1, options);
    const items = Array.isArray(key) ? key : [key ?? null];
    const valid = (k: ArgValue): k is KeyItem =>
      k === null || k instanceof SliceArg || k instanceof EllipsisArg ||
      (typeof k === "number" && Number.isInteger(k));
    if (key === undefined || !items.every(valid)) {
      throw new LayerConfigError(
        name,
        "key",
        `${label}: expected integers, slices, ... and None, got ${JSON.stringify(key ?? null)}`,
      );
    }
    if (items.filter((k) => k instanceof EllipsisArg).length > 1) {
      throw new LayerConfigError(name, "key", `${label}: more than one ... in the key`);
    }
    if (items.some((k) => k instanceof SliceArg && k.step === 0)) {
      throw new LayerConfigError(name, "key", `${label}: a slice step of 0`);
    }
    this.key = items as KeyItem[];
  }

  #plan(shape: FullShape): Plan {
    const items = [...this.key];
    if (!items.some((k) => k instanceof EllipsisArg)) items.push(new EllipsisArg());
    const consuming = items.filter((k) => k !== null && !(k instanceof EllipsisArg)).length;
    if (consuming > shape.length) {
      throw this.shapeError(`a rank of at least ${consuming} for the key`, [shape]);
    }
    const out: OutAxis[] = [];
    const picks: [number, number][] = [];
    let d = 0;
    for (const k of items) {
      if (k instanceof EllipsisArg) {
        for (const end = d + shape.length - consuming; d < end; d++) {
          out.push({ dim: d, start: 0, step: 1, size: shape[d] });
        }
      } else if (k === null) out.push({ dim: -1, start: 0, step: 0, size: 1 });
      else if (typeof k === "number") {
        const length = shape[d];
        const index = length !== null && k < 0 ? k + length : k;
        if (d === 0 || (length !== null && (index < 0 || index >= length)) || index < 0) {
          throw this.shapeError(
            d === 0 ? "a key taking the whole batch axis" : `index ${k} inside axis ${d}`,
            [shape],
          );
        }
        picks.push([d++, index]);
      } else {
        const length = shape[d];
        if (d === 0) {
          const whole = (k.start === null || k.start === 0) && k.stop === null &&
            (k.step === null || k.step === 1);
          if (!whole) throw this.shapeError("a key taking the whole batch axis", [shape]);
          out.push({ dim: 0, start: 0, step: 1, size: length });
        } else if (length === null) {
          out.push({ dim: d, start: 0, step: 1, size: null });
        } else {
          const r = resolveSlice(k, length);
          out.push({ dim: d, start: r.start, step: r.step, size: r.size });
        }
        d++;
      }
    }
    if (out[0] === undefined || out[0].dim !== 0) {
      throw this.shapeError("a key keeping the batch as the first axis", [shape]);
    }
    return { out, picks };
  }

  shapeOf(shapes: readonly FullShape[]): FullShape {
    return this.#plan(shapes[0]).out.map((a) => (a.dim < 0 ? 1 : a.size));
  }

  /**
   * ONNX: one Slice of every ranged axis (an integer index as a one-element range), then a
   * Reshape to the output shape, which drops the indexed axes and adds the `None` ones.
   */
  override emitOnnx(ctx: OnnxLayerContext): void {
    const plan = this.#plan([null, ...ctx.inputShapes[0]]);
    const axes: number[] = [], starts: number[] = [], ends: number[] = [], steps: number[] = [];
    for (const [d, i] of plan.picks) axes.push(d), starts.push(i), ends.push(i + 1), steps.push(1);
    for (const a of plan.out) {
      if (a.dim <= 0 || a.size === null) continue;
      const end = a.start + a.step * a.size;
      // A negative step ending before index 0: ONNX reads -1 as the last element.
      axes.push(a.dim), starts.push(a.start), steps.push(a.step);
      ends.push(end < 0 ? -Number.MAX_SAFE_INTEGER : end);
    }
    const dims = ctx.outputShape.map((d) => d ?? -1);
    if (dims.filter((d) => d === -1).length > 1) ctx.refuse("more than one unknown dimension");
    let x = ctx.inputs[0];
    if (axes.length) {
      const sliced = ctx.fresh("sliced");
      ctx.node("Slice", [
        x,
        ctx.int64s("starts", starts),
        ctx.int64s("ends", ends),
        ctx.int64s("axes", axes),
        ctx.int64s("steps", steps),
      ], [sliced]);
      x = sliced;
    }
    ctx.node("Reshape", [x, ctx.int64s("shape", [0, ...dims])], [ctx.output]);
  }

  /** The view of an input of `shape`: its offset, strides and shape. */
  #view(shape: number[]): { offset: number; strides: number[]; out: number[] } {
    const plan = this.#plan(shape);
    const strides = denseStrides(shape);
    let offset = 0;
    for (const [d, i] of plan.picks) offset += i * strides[d];
    const out: number[] = [];
    const viewStrides: number[] = [];
    for (const a of plan.out) {
      if (a.dim < 0) {
        out.push(1);
        viewStrides.push(0);
      } else {
        offset += a.start * strides[a.dim];
        out.push(a.size as number);
        viewStrides.push(a.step * strides[a.dim]);
      }
    }
    return { offset, strides: viewStrides, out };
  }

  forward(xs: readonly DeviceTensor[], ctx: CallContext): DeviceTensor {
    const x = xs[0];
    const v = this.#view(x.shape);
    const y = this.allocOutput(ctx, v.out);
    gather(
      ctx.heap.f32(x.ptr, count(x.shape)),
      v.offset,
      v.strides,
      v.out,
      ctx.heap.f32(y.ptr, count(v.out)),
    );
    return y;
  }

  backwardInputs(a: BackwardArgs): (DeviceTensor | null)[] {
    if (!(a.needInputGrads[0] ?? a.needInputGrad)) return [null];
    const { heap } = a.ctx;
    const x = a.xs[0];
    const v = this.#view(x.shape);
    const ptr = heap.alloc(count(x.shape) * 4);
    const dx = heap.f32(ptr, count(x.shape));
    dx.fill(0);
    scatterAdd(heap.f32(a.dy.ptr, count(v.out)), v.out, dx, v.offset, v.strides);
    return [{ ptr, shape: [...x.shape], dtype: "float32" }];
  }
}
