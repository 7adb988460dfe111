/**
 * The base classes of the Keras merge layers: {@link MergeLayer} (a layer called on a list of
 * tensors) and {@link ElementwiseMerge} (Add, Subtract, Multiply, Average, Maximum, Minimum).
 *
 * Element-wise merges follow Keras's shape rule: the non-batch dims of the inputs are aligned
 * from the right (a lower-rank input gains size-1 dims after the batch axis) and a dim of size 1
 * broadcasts against any other size; the batch sizes must be equal.
 *
 * Masks (int32, one value per row of the last axis, e.g. [batch, time] for [batch, time, feat]):
 * - Keras ≥ 3.4: the output mask is the OR of the input masks when every input has one, else none;
 *   Multiply, Maximum and Minimum also let masks choose values: an input takes part only in its
 *   valid rows (Maximum/Minimum keep the first input's values where no input is valid; Multiply
 *   gives 0 there when every input is masked).
 * - Keras 2 and Keras 3 before 3.4 (see {@link legacyMergeMasks}): the output mask is the AND of
 *   the masks present (none when no input has one) and values ignore masks.
 */
import type { BackwardArgs, LayerTraining, TrainContext } from "../layer_training.ts";
import { InputShapeError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import { getRuntime, type KernelExports } from "../wasm/kernels.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** True for Keras 2.x (and older) semantics. */
export function isKeras2(kerasVersion: string | undefined): boolean {
  return kerasVersion !== undefined && /^[012]\./.test(kerasVersion);
}

/**
 * True when merge layers use the masking rules before Keras 3.4 (keras-team/keras#19685, "Fix
 * masking in merge layers"): output mask = AND of the masks present, values ignore masks,
 * Concatenate ANDs along the last axis. An unknown version gets the current rules.
 */
export function legacyMergeMasks(kerasVersion: string | undefined): boolean {
  if (kerasVersion === undefined) return false;
  const m = /^(\d+)\.(\d+)/.exec(kerasVersion);
  if (!m) return false;
  const major = Number(m[1]), minor = Number(m[2]);
  return major < 3 || (major === 3 && minor < 4);
}

/** `[2, 3]` → `"[2, 3]"`: a run-time shape (with batch) for error messages. */
export function formatRuntimeShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Base of every merge layer: called on a list of tensors, never on one tensor. */
export abstract class MergeLayer extends Layer {
  constructor(className: string, config: LayerConfig, options: LayerBuildOptions = {}) {
    super(className, config, options);
  }

  override get multiInput(): boolean {
    return true;
  }

  /** Merge layers take a list of inputs: use {@link computeOutputShapes}. */
  computeOutputShape(inputShape: Shape): Shape {
    throw new InputShapeError(
      this.name,
      `a list of input tensors (${this.className} is a merge layer)`,
      `one tensor ${formatShape(inputShape)}`,
    );
  }

  /** Merge layers take a list of inputs: use {@link callInputs}. */
  call(x: DeviceTensor, _mask: DeviceTensor | null, _ctx: CallContext): DeviceTensor {
    throw new InputShapeError(
      this.name,
      `a list of input tensors (${this.className} is a merge layer)`,
      `one tensor of shape ${formatRuntimeShape(x.shape)}`,
    );
  }

  /** Throws unless there are between `min` and `max` inputs. */
  protected expectInputCount(count: number, min: number, max = Infinity): void {
    if (count >= min && count <= max) return;
    const expected = min === max
      ? `exactly ${min} input tensors`
      : max === Infinity
      ? `at least ${min} input tensor${min === 1 ? "" : "s"}`
      : `${min} to ${max} input tensors`;
    throw new InputShapeError(this.name, expected, `${count} tensors`);
  }

  /** Throws unless every input has the first one's batch size. */
  protected expectSameBatch(xs: readonly DeviceTensor[]): void {
    const b = xs[0]?.shape[0];
    for (const x of xs) {
      if (x.shape[0] !== b) {
        throw new InputShapeError(
          this.name,
          `inputs with the same batch size (${b})`,
          `shapes ${xs.map((t) => formatRuntimeShape(t.shape)).join(", ")}`,
        );
      }
    }
  }

  /** Number of rows a mask of `x` covers (all dims but the last; 1 for rank 1). */
  protected static rowsOf(shape: readonly number[]): number {
    return shape.length <= 1 ? shape[0] ?? 1 : sizeOf(shape.slice(0, -1));
  }

  /** Throws unless `mask` has one value per row of a tensor of shape `shape`. */
  protected checkMask(mask: DeviceTensor, shape: readonly number[], i: number): void {
    const rows = MergeLayer.rowsOf(shape);
    if (sizeOf(mask.shape) !== rows || mask.shape[0] !== shape[0]) {
      throw new InputShapeError(
        this.name,
        `input ${i}'s mask with one value per row of ${formatRuntimeShape(shape)} (${rows} values)`,
        `a mask of shape ${formatRuntimeShape(mask.shape)}`,
      );
    }
  }
}

/** The operation of an element-wise merge layer. */
export type ElementwiseOp = "add" | "subtract" | "multiply" | "average" | "maximum" | "minimum";

/** Op codes of the `mergeInto` kernel (wasm/assembly/merge.ts). */
export const MERGE_OP_CODES: Readonly<Record<ElementwiseOp, number>> = {
  add: 0,
  subtract: 1,
  multiply: 2,
  average: 0,
  maximum: 3,
  minimum: 4,
};

/**
 * Keras's element-wise shape rule for two shapes without batch: aligned from the right, a 1
 * broadcasts, `null` (unknown) stays unknown. Returns null when they are incompatible.
 */
export function broadcastShapes(a: Shape, b: Shape): Shape | null {
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  const out: Shape = long.slice(0, long.length - short.length);
  for (let i = 0; i < short.length; i++) {
    const p = long[long.length - short.length + i];
    const q = short[i];
    if (p === null || q === null) out.push(p === 1 ? q : q === 1 ? p : null);
    else if (p === 1) out.push(q);
    else if (q === 1 || p === q) out.push(p);
    else return null;
  }
  return out;
}

/**
 * The kernels' broadcast descriptor for reading a tensor of shape `shape` (with batch) at the
 * output shape `out` (with batch): [rank, out dims..., strides...] with stride 0 on broadcast dims.
 */
export function broadcastDescriptor(shape: readonly number[], out: readonly number[]): Int32Array {
  const rank = out.length;
  const padded = [shape[0], ...new Array(rank - shape.length).fill(1), ...shape.slice(1)];
  const desc = new Int32Array(1 + 2 * rank);
  desc[0] = rank;
  let stride = 1;
  for (let d = rank - 1; d >= 0; d--) {
    desc[1 + d] = out[d];
    desc[1 + rank + d] = padded[d] === 1 && out[d] !== 1 ? 0 : stride;
    stride *= padded[d];
  }
  return desc;
}

/** What an element-wise forward leaves for the backward (see {@link ElementwiseMerge.run}). */
export interface ElementwiseRun {
  y: DeviceTensor;
  /** Maximum/Minimum: per output element, the index of the input that supplied it. */
  winner?: number;
}

/** Base of Add, Subtract, Multiply, Average, Maximum and Minimum. */
export abstract class ElementwiseMerge extends MergeLayer {
  /** The merge operation. */
  abstract readonly op: ElementwiseOp;

  /** Fewest and most inputs one call takes (Subtract: exactly 2). */
  protected get inputCountRange(): [number, number] {
    return [1, Infinity];
  }

  override computeOutputShapes(inputShapes: Shape[]): Shape {
    const [min, max] = this.inputCountRange;
    this.expectInputCount(inputShapes.length, min, max);
    let out: Shape = [...inputShapes[0]];
    for (const s of inputShapes.slice(1)) {
      const next = broadcastShapes(out, s);
      if (!next) {
        throw new InputShapeError(
          this.name,
          `shapes that are equal or broadcast (size 1) against ${formatShape(out)}`,
          `${inputShapes.map(formatShape).join(", ")}`,
        );
      }
      out = next;
    }
    return out;
  }

  /** The output shape (with batch) of a call on tensors of these shapes. */
  outputShapeOf(xs: readonly DeviceTensor[]): number[] {
    const [min, max] = this.inputCountRange;
    this.expectInputCount(xs.length, min, max);
    this.expectSameBatch(xs);
    const shape = this.computeOutputShapes(xs.map((x) => x.shape.slice(1)));
    return [xs[0].shape[0], ...(shape as number[])];
  }

  /** Whether masks select values in this layer (Keras ≥ 3.4 Multiply, Maximum, Minimum). */
  get masksChooseValues(): boolean {
    return !legacyMergeMasks(this.kerasVersion) &&
      (this.op === "multiply" || this.op === "maximum" || this.op === "minimum");
  }

  /** The masks that select values in a call (all null when masks do not matter here). */
  valueMasks(
    masks: readonly (DeviceTensor | null)[],
    outShape: readonly number[],
    count: number,
  ): (DeviceTensor | null)[] {
    const out: (DeviceTensor | null)[] = new Array(count).fill(null);
    if (!this.masksChooseValues) return out;
    for (let i = 0; i < count; i++) {
      const m = masks[i] ?? null;
      if (m) this.checkMask(m, outShape, i);
      out[i] = m;
    }
    return out;
  }

  /**
   * The inputs at the output shape: each input itself, or a broadcast copy (listed in `temps`
   * for the caller to free).
   */
  expandInputs(
    xs: readonly DeviceTensor[],
    outShape: number[],
    kernels: KernelExports,
    heap: WasmHeap,
    temps: number[],
  ): DeviceTensor[] {
    return xs.map((x) => {
      if (x.shape.length === outShape.length && x.shape.every((d, i) => d === outShape[i])) {
        return x;
      }
      const desc = heap.upload(broadcastDescriptor(x.shape, outShape));
      const ptr = heap.alloc(sizeOf(outShape) * 4);
      temps.push(ptr);
      kernels.broadcastTo(x.ptr, ptr, desc);
      heap.free(desc);
      return { ptr, shape: [...outShape], dtype: "float32" };
    });
  }

  /** An int32 device buffer of `rows` values: the OR of the given masks (null: all valid). */
  static orMasks(heap: WasmHeap, masks: readonly (DeviceTensor | null)[], rows: number): number {
    const ptr = heap.alloc(rows * 4);
    const out = heap.i32(ptr, rows);
    out.fill(0);
    for (const m of masks) {
      if (!m) {
        out.fill(1);
        break;
      }
      const v = heap.i32(m.ptr, rows);
      for (let r = 0; r < rows; r++) if (v[r] !== 0) out[r] = 1;
    }
    return ptr;
  }

  /**
   * The forward on every input. `keepWinner` (Maximum/Minimum) keeps the int32 per-element
   * winner index buffer, which the caller then frees; otherwise it is freed here.
   */
  run(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
    keepWinner = false,
  ): ElementwiseRun {
    const { kernels, heap } = ctx;
    const outShape = this.outputShapeOf(xs);
    const n = sizeOf(outShape);
    const rowLen = outShape.length > 1 ? outShape[outShape.length - 1] : 1;
    const rows = n / Math.max(rowLen, 1);
    const vm = this.valueMasks(masks, outShape, xs.length);
    const masked = vm.some((m) => m !== null);
    const temps: number[] = [];
    try {
      const es = this.expandInputs(xs, outShape, kernels, heap, temps);
      const y = this.allocOutput(ctx, outShape);
      const code = MERGE_OP_CODES[this.op];
      if (this.op === "maximum" || this.op === "minimum") {
        const winner = heap.alloc(n * 4);
        if (!keepWinner) temps.push(winner);
        heap.i32(winner, n).fill(0);
        kernels.addInto(es[0].ptr, y.ptr, n, 0);
        let anyValid = 0;
        if (masked && vm[0]) {
          anyValid = heap.upload(heap.i32(vm[0].ptr, rows).slice());
          temps.push(anyValid);
        }
        for (let i = 1; i < es.length; i++) {
          kernels.mergeSelect(
            this.op === "minimum" ? 1 : 0,
            y.ptr,
            es[i].ptr,
            winner,
            i,
            n,
            vm[i]?.ptr ?? 0,
            anyValid,
            rowLen,
          );
        }
        return keepWinner ? { y, winner } : { y };
      }
      if (this.op === "multiply" && masked) {
        for (let i = 0; i < es.length; i++) {
          const m = vm[i];
          let src = es[i].ptr;
          if (m) {
            src = heap.alloc(n * 4);
            temps.push(src);
            kernels.maskRowsFill(es[i].ptr, src, m.ptr, rows, rowLen, 1);
          }
          if (i === 0) kernels.addInto(src, y.ptr, n, 0);
          else kernels.mergeInto(code, y.ptr, src, n);
        }
        if (vm.every((m) => m !== null)) {
          const any = ElementwiseMerge.orMasks(heap, vm, rows);
          temps.push(any);
          kernels.maskRowsFill(y.ptr, y.ptr, any, rows, rowLen, 0);
        }
        return { y };
      }
      kernels.addInto(es[0].ptr, y.ptr, n, 0);
      for (let i = 1; i < es.length; i++) kernels.mergeInto(code, y.ptr, es[i].ptr, n);
      if (this.op === "average") kernels.scaleFloats(y.ptr, y.ptr, n, 1 / es.length);
      return { y };
    } finally {
      for (const p of temps) heap.free(p);
    }
  }

  override callInputs(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
  ): DeviceTensor {
    return this.run(xs, masks, ctx).y;
  }

  /**
   * Keras ≥ 3.4: a new mask, the OR of the input masks, when every input has one (else null).
   * Keras 2 / Keras 3 before 3.4: the AND of the masks present (the mask itself when only one input has one).
   */
  override computeMasks(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
  ): DeviceTensor | null {
    const present = xs.map((_, i) => masks[i] ?? null);
    const { heap } = getRuntime();
    if (legacyMergeMasks(this.kerasVersion)) {
      const given = present.filter((m): m is DeviceTensor => m !== null);
      if (given.length === 0) return null;
      if (given.length === 1) return given[0];
      const rows = sizeOf(given[0].shape);
      for (const m of given) this.checkMaskShape(m, given[0]);
      const ptr = heap.alloc(rows * 4);
      const out = heap.i32(ptr, rows);
      out.fill(1);
      for (const m of given) {
        const v = heap.i32(m.ptr, rows);
        for (let r = 0; r < rows; r++) if (v[r] === 0) out[r] = 0;
      }
      return { ptr, shape: [...given[0].shape], dtype: "int32" };
    }
    if (present.length === 0 || present.some((m) => m === null)) return null;
    const first = present[0] as DeviceTensor;
    for (const m of present) this.checkMaskShape(m as DeviceTensor, first);
    const ptr = ElementwiseMerge.orMasks(heap, present, sizeOf(first.shape));
    return { ptr, shape: [...first.shape], dtype: "int32" };
  }

  private checkMaskShape(m: DeviceTensor, first: DeviceTensor): void {
    if (m.shape.length !== first.shape.length || m.shape.some((d, i) => d !== first.shape[i])) {
      throw new InputShapeError(
        this.name,
        `masks of one shape (${formatRuntimeShape(first.shape)})`,
        `a mask of shape ${formatRuntimeShape(m.shape)}`,
      );
    }
  }
}

// ---- training ------------------------------------------------------------------------------

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

/**
 * The training of the element-wise merges (Add, Subtract, Multiply, Average, Maximum, Minimum):
 * the inference forward; backward as {@link elementwiseBackward}. Stateless: what a backward
 * needs beyond the inputs (Maximum/Minimum's winners) is recomputed from `args.xs`.
 * - Add: dy to every input; Average: dy / n; Subtract: dy and −dy.
 * - Multiply: dy times the product of the other inputs (masked rows count as 1 and get no
 *   gradient, Keras 3).
 * - Maximum/Minimum: dy to the input that supplied each element (ties: the earlier input).
 * - A broadcast input's gradient is summed over its broadcast dims.
 */
export const ELEMENTWISE_MERGE_TRAINING: LayerTraining<ElementwiseMerge> = {
  backward: elementwiseBackward,
};

/** ONNX operators of the element-wise merges (Sum, Mean, Max, Min take any number of inputs). */
const ONNX_MERGE_OPS: Readonly<Record<ElementwiseOp, string>> = {
  add: "Sum",
  subtract: "Sub",
  multiply: "Mul",
  average: "Mean",
  maximum: "Max",
  minimum: "Min",
};

/**
 * The merged mask of a merge's call in ONNX, as the engine's `computeMasks`: Keras 3 keeps a
 * position when any input keeps it (no mask when an input has none); Keras 2 / TF.js files when
 * every masked input keeps it. Returns the mask's name, or null.
 */
export function mergedMaskOnnx(layer: MergeLayer, ctx: OnnxLayerContext): string | null {
  const masks = ctx.inputMasks;
  const given = masks.filter((m): m is string => m !== null);
  if (given.length === 0) return null;
  const legacy = legacyMergeMasks(layer.kerasVersion);
  // An input without a mask keeps every position: under "any" the merge then keeps them all.
  if (!legacy && given.length < masks.length) return null;
  let acc = given[0];
  for (const m of given.slice(1)) {
    const out = ctx.fresh("mask");
    ctx.node(legacy ? "And" : "Or", [acc, m], [out]);
    acc = out;
  }
  return acc;
}

/** The ONNX hook of the element-wise merges (Mul, being binary, chains over the inputs). */
export function elementwiseMergeOnnx(layer: ElementwiseMerge, ctx: OnnxLayerContext): void {
  ctx.setOutputMask(mergedMaskOnnx(layer, ctx));
  const op = ONNX_MERGE_OPS[layer.op];
  if (op !== "Mul" || ctx.inputs.length === 2) return ctx.node(op, ctx.inputs, [ctx.output]);
  let acc = ctx.inputs[0];
  ctx.inputs.slice(1).forEach((x, i) => {
    const out = i === ctx.inputs.length - 2 ? ctx.output : ctx.fresh("product");
    ctx.node("Mul", [acc, x], [out]);
    acc = out;
  });
}
