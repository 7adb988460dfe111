import type { LayerTraining } from "../layer_training.ts";
import { InputShapeError, LayerConfigError } from "../errors.ts";
import type { CallContext, LayerBuildOptions, LayerConfig } from "../layer.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { formatRuntimeShape, legacyMergeMasks, mergedMaskOnnx, MergeLayer } from "./merge.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** Where one input sits in a concatenated output (see {@link Concatenate.layoutOf}). */
export interface ConcatLayout {
  /** Output shape with batch. */
  outShape: number[];
  /** The concat axis, counting the batch axis. */
  axis: number;
  /** Product of the output dims before the axis (batch included). */
  outer: number;
  /** Floats of one output row: output axis size × inner size. */
  outChunk: number;
  /** Per input: floats of one of its rows, and the float offset of its slot in an output row. */
  chunks: number[];
  offsets: number[];
}

/**
 * Keras `Concatenate(axis=-1)`: the inputs joined along `axis` (counting the batch axis; negative
 * from the end; not the batch axis). Every other dim must match.
 *
 * Mask (int32, one value per row of the last axis): none when no input has one; a missing mask
 * counts as all valid. Along the last axis the output row is valid when any input row is
 * (Keras ≥ 3.4) or when every input row is (Keras 2, Keras 3 before 3.4); along another axis the
 * masks are concatenated.
 */
export class Concatenate extends MergeLayer {
  /** The axis as configured (may be negative). */
  readonly axis: number;

  constructor(config: LayerConfig = {}, options: LayerBuildOptions = {}) {
    super("Concatenate", config, options);
    this.axis = this.num("axis", -1, true);
  }

  /** The axis for inputs of `rank` dims (batch included), validated. */
  resolveAxis(rank: number): number {
    const a = this.axis < 0 ? this.axis + rank : this.axis;
    if (a < 1 || a >= rank) {
      throw new LayerConfigError(
        this.name,
        "axis",
        `expected an axis in [1, ${rank - 1}] or [-${rank - 1}, -1] for inputs of rank ${rank} ` +
          `(the batch axis 0 cannot be concatenated), got ${this.axis}`,
      );
    }
    return a;
  }

  override computeOutputShapes(inputShapes: Shape[]): Shape {
    this.expectInputCount(inputShapes.length, 1);
    const rank = inputShapes[0].length + 1;
    const axis = this.resolveAxis(rank) - 1;
    const out: Shape = [...inputShapes[0]];
    for (const s of inputShapes.slice(1)) {
      const same = s.length === out.length &&
        s.every((d, i) => i === axis || d === null || out[i] === null || d === out[i]);
      if (!same) {
        throw new InputShapeError(
          this.name,
          `shapes that match except on the concatenation axis ${this.axis}`,
          inputShapes.map(formatShape).join(", "),
        );
      }
      for (let i = 0; i < s.length; i++) if (i !== axis && out[i] === null) out[i] = s[i];
      const a = out[axis];
      const b = s[axis];
      out[axis] = a === null || b === null ? null : a + b;
    }
    return out;
  }

  /** The output shape and every input's slot for a call on tensors of these shapes. */
  layoutOf(xs: readonly DeviceTensor[]): ConcatLayout {
    this.expectInputCount(xs.length, 1);
    this.expectSameBatch(xs);
    const shape = this.computeOutputShapes(xs.map((x) => x.shape.slice(1))) as number[];
    const outShape = [xs[0].shape[0], ...shape];
    const axis = this.resolveAxis(outShape.length);
    const outer = sizeOf(outShape.slice(0, axis));
    const inner = sizeOf(outShape.slice(axis + 1));
    const chunks: number[] = [];
    const offsets: number[] = [];
    let off = 0;
    for (const x of xs) {
      const c = x.shape[axis] * inner;
      chunks.push(c);
      offsets.push(off);
      off += c;
    }
    return { outShape, axis, outer, outChunk: outShape[axis] * inner, chunks, offsets };
  }

  override callInputs(
    xs: readonly DeviceTensor[],
    _masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
  ): DeviceTensor {
    const l = this.layoutOf(xs);
    const y = this.allocOutput(ctx, l.outShape);
    xs.forEach((x, i) => {
      ctx.kernels.copyStrided(
        x.ptr,
        l.chunks[i],
        y.ptr + l.offsets[i] * 4,
        l.outChunk,
        l.outer,
        l.chunks[i],
      );
    });
    return y;
  }

  /** A new int32 mask over the output's rows, or null when no input has a mask. */
  override computeMasks(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
  ): DeviceTensor | null {
    if (!xs.some((_, i) => masks[i])) return null;
    const l = this.layoutOf(xs);
    const rank = l.outShape.length;
    if (rank < 2) {
      throw new InputShapeError(
        this.name,
        "inputs of rank 2 or more when masks are given",
        xs.map((x) => formatRuntimeShape(x.shape)).join(", "),
      );
    }
    const { heap } = getRuntime();
    const rowsOf = xs.map((x) => sizeOf(x.shape.slice(0, -1)));
    xs.forEach((x, i) => {
      const m = masks[i] ?? null;
      if (m) this.checkMask(m, x.shape, i);
    });
    const outRowShape = l.outShape.slice(0, -1);
    const outRows = sizeOf(outRowShape);
    // Allocate before taking views: an allocation may grow (and detach) the memory.
    const ptr = heap.alloc(outRows * 4);
    const out = heap.i32(ptr, outRows);
    const views = xs.map((_, i) => {
      const m = masks[i] ?? null;
      return m ? heap.i32(m.ptr, rowsOf[i]) : null;
    });
    const maskShape = outRowShape.length === 1 ? [outRowShape[0]] : outRowShape;
    if (l.axis === rank - 1) {
      const all = legacyMergeMasks(this.kerasVersion);
      out.fill(all ? 1 : 0);
      for (let r = 0; r < outRows; r++) {
        for (const v of views) {
          const valid = v ? v[r] !== 0 : true;
          if (all && !valid) out[r] = 0;
          if (!all && valid) out[r] = 1;
        }
      }
      return { ptr, shape: maskShape, dtype: "int32" };
    }
    // Concatenate the row masks along the axis (the row space drops the last dim).
    const outer = sizeOf(outRowShape.slice(0, l.axis));
    const inner = sizeOf(outRowShape.slice(l.axis + 1));
    const outChunk = outRowShape[l.axis] * inner;
    let off = 0;
    xs.forEach((x, i) => {
      const chunk = x.shape[l.axis] * inner;
      const v = views[i];
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < chunk; j++) {
          out[o * outChunk + off + j] = v ? (v[o * chunk + j] ? 1 : 0) : 1;
        }
      }
      off += chunk;
    });
    return { ptr, shape: maskShape, dtype: "int32" };
  }
}

/** Concatenate in training: each input's gradient is its slot of dy. No weights. */
const CONCATENATE_TRAINING: LayerTraining<Concatenate> = {
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
};

/** Concatenate in ONNX: Concat on the same axis (Keras's axis counts the batch, as ONNX's). */
function concatenateOnnx(layer: Concatenate, ctx: OnnxLayerContext): void {
  if (ctx.inputMasks.some((m) => m)) {
    const rank = ctx.outputShape.length + 1;
    const axis = layer.axis < 0 ? layer.axis + rank : layer.axis;
    // Along the features the row masks merge as in the element-wise merges; along another axis
    // they would be concatenated, which is not exported.
    if (axis !== rank - 1) ctx.refuse("masked inputs concatenated along an axis but the last");
    ctx.setOutputMask(mergedMaskOnnx(layer, ctx));
  }
  ctx.node("Concat", ctx.inputs, [ctx.output], { axis: { int: layer.axis } });
}

/** The `Concatenate` layer class (see `layer_class.ts`). */
export const CONCATENATE: LayerClass<Concatenate> = defineLayer({
  className: "Concatenate",
  create: (config, options) => new Concatenate(config, options),
  training: CONCATENATE_TRAINING,
  onnx: concatenateOnnx,
});
