/**
 * Element-wise operation nodes: `x + y`, `x - 1.0`, `2.0 * x`, `x / y`, `ops.maximum`,
 * `ops.minimum`, `x ** 2.0` (a number exponent), `-x`, `abs`, `square`, `sqrt`, `exp`, `log`.
 * Operands are tensors or numbers on either side; two tensors broadcast as NumPy does (aligned
 * from the right, a size-1 dim stretches). Runs in TypeScript over the heap; the backward gives
 * each tensor operand its gradient summed over the dims it was broadcast along. Ties of
 * maximum/minimum go to the first operand (TensorFlow's `x >= y` / `x <= y`).
 *
 * @module
 */
import { InputShapeError } from "../errors.ts";
import type { CallContext, LayerBuildOptions } from "../layer.ts";
import type { BackwardArgs } from "../layer_training.ts";
import { type DeviceTensor, formatShape } from "../tensor.ts";
import { type FullShape, OpLayer } from "./op_layer.ts";
import {
  broadcastFull,
  broadcastStrides,
  count,
  gather,
  sameShape,
  scatterAdd,
} from "./strided.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** Element-wise functions of one tensor. */
export const UNARY_FNS = ["negative", "abs", "square", "sqrt", "exp", "log"] as const;
/** Element-wise functions of two operands. */
export const BINARY_FNS = [
  "add",
  "subtract",
  "multiply",
  "divide",
  "maximum",
  "minimum",
  "power",
] as const;

/** An element-wise function. */
export type ElementwiseFn = typeof UNARY_FNS[number] | typeof BINARY_FNS[number];

/** One operand: a tensor input of the call (its index) or a number. */
export type Operand = { tensor: number } | { value: number };

/** Each function as its own closure (monomorphic in the forward loops). */
const FNS: Record<ElementwiseFn, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  subtract: (a, b) => a - b,
  multiply: (a, b) => a * b,
  divide: (a, b) => a / b,
  maximum: (a, b) => (a >= b ? a : b),
  minimum: (a, b) => (a <= b ? a : b),
  power: (a, b) => Math.pow(a, b),
  negative: (a) => -a,
  abs: (a) => Math.abs(a),
  square: (a) => a * a,
  sqrt: (a) => Math.sqrt(a),
  exp: (a) => Math.exp(a),
  log: (a) => Math.log(a),
};

/** The ONNX operator of each function (square is written as x·x). */
const ONNX_OPS: Record<ElementwiseFn, string> = {
  add: "Add",
  subtract: "Sub",
  multiply: "Mul",
  divide: "Div",
  maximum: "Max",
  minimum: "Min",
  power: "Pow",
  negative: "Neg",
  abs: "Abs",
  square: "Mul",
  sqrt: "Sqrt",
  exp: "Exp",
  log: "Log",
};

/** ∂f/∂(operand `side`) at (a, b) with output y. */
function df(fn: ElementwiseFn, side: 0 | 1, a: number, b: number, y: number): number {
  switch (fn) {
    case "add":
      return 1;
    case "subtract":
      return side === 0 ? 1 : -1;
    case "multiply":
      return side === 0 ? b : a;
    case "divide":
      return side === 0 ? 1 / b : -a / (b * b);
    case "maximum":
      return (side === 0 ? a >= b : a < b) ? 1 : 0;
    case "minimum":
      return (side === 0 ? a <= b : a > b) ? 1 : 0;
    case "power":
      return side === 0 ? b * Math.pow(a, b - 1) : y * Math.log(a);
    case "negative":
      return -1;
    case "abs":
      return a > 0 ? 1 : a < 0 ? -1 : 0;
    case "square":
      return 2 * a;
    case "sqrt":
      return 0.5 / y;
    case "exp":
      return y;
    case "log":
      return 1 / a;
  }
}

/** An element-wise operation node. */
export class ElementwiseOp extends OpLayer {
  readonly fn: ElementwiseFn;
  readonly operands: readonly Operand[];

  constructor(
    fn: ElementwiseFn,
    label: string,
    name: string,
    operands: readonly Operand[],
    options: LayerBuildOptions = {},
  ) {
    const tensors = operands.filter((o) => "tensor" in o).length;
    super(fn, label, name, tensors, options);
    this.fn = fn;
    this.operands = operands;
  }

  /** ONNX: the function's operator on the tensor and number operands (NumPy broadcasting). */
  override emitOnnx(ctx: OnnxLayerContext): void {
    const names = this.operands.map((o) =>
      "tensor" in o
        ? ctx.inputs[o.tensor]
        : ctx.initializer("operand", { float32: Float32Array.of(o.value) }, [])
    );
    if (this.fn === "square") return ctx.node("Mul", [names[0], names[0]], [ctx.output]);
    ctx.node(ONNX_OPS[this.fn], names, [ctx.output]);
  }

  shapeOf(shapes: readonly FullShape[]): FullShape {
    let out: FullShape | null = null;
    for (const o of this.operands) {
      if (!("tensor" in o)) continue;
      const s = shapes[o.tensor];
      out = out === null ? [...s] : broadcastFull(out, s);
      if (out === null) {
        throw new InputShapeError(
          this.name,
          `shapes that broadcast (${this.label})`,
          shapes.map((t) => formatShape(t.slice(1))).join(" and "),
        );
      }
    }
    if (!out || out.length === 0) throw this.shapeError("a tensor with a batch axis", shapes);
    return out;
  }

  /** Each operand's values at the output shape (a view, a broadcast copy, or a number). */
  #expand(
    xs: readonly DeviceTensor[],
    ctx: CallContext,
    out: number[],
  ): (Float32Array | number)[] {
    return this.operands.map((o) => {
      if (!("tensor" in o)) return o.value;
      const x = xs[o.tensor];
      const view = ctx.heap.f32(x.ptr, count(x.shape));
      if (sameShape(x.shape, out)) return view;
      const copy = new Float32Array(count(out));
      gather(view, 0, broadcastStrides(x.shape, out), out, copy);
      return copy;
    });
  }

  forward(xs: readonly DeviceTensor[], ctx: CallContext): DeviceTensor {
    const shape = this.outShape(xs);
    const n = count(shape);
    const y = this.allocOutput(ctx, shape);
    const [a, b] = this.#expand(xs, ctx, shape);
    const out = ctx.heap.f32(y.ptr, n);
    const g = FNS[this.fn];
    // One loop per operand kind, so the per-element work is the function alone.
    if (typeof a !== "number" && b !== undefined && typeof b !== "number") {
      for (let i = 0; i < n; i++) out[i] = g(a[i], b[i]);
    } else if (typeof a !== "number") {
      const bv = typeof b === "number" ? b : 0;
      for (let i = 0; i < n; i++) out[i] = g(a[i], bv);
    } else if (b !== undefined && typeof b !== "number") {
      for (let i = 0; i < n; i++) out[i] = g(a, b[i]);
    }
    return y;
  }

  backwardInputs(args: BackwardArgs): (DeviceTensor | null)[] {
    const { heap } = args.ctx;
    const xs = args.xs;
    const shape = this.outShape(xs);
    const n = count(shape);
    const grads: (DeviceTensor | null)[] = xs.map(() => null);
    // Allocate first: growing the heap detaches every view.
    const ptrs = xs.map((x, i) =>
      (args.needInputGrads[i] ?? args.needInputGrad) ? heap.alloc(count(x.shape) * 4) : 0
    );
    const [a, b] = this.#expand(xs, args.ctx, shape);
    const dy = heap.f32(args.dy.ptr, n);
    const y = heap.f32(args.y.ptr, n);
    const fn = this.fn;
    const full = new Float32Array(n);
    this.operands.forEach((o, side) => {
      if (!("tensor" in o) || !ptrs[o.tensor]) return;
      const x = xs[o.tensor];
      for (let i = 0; i < n; i++) {
        const av = typeof a === "number" ? a : a[i];
        const bv = b === undefined ? 0 : typeof b === "number" ? b : b[i];
        full[i] = dy[i] * df(fn, side as 0 | 1, av, bv, y[i]);
      }
      const dx = heap.f32(ptrs[o.tensor], count(x.shape));
      if (sameShape(x.shape, shape)) dx.set(full);
      else {
        dx.fill(0);
        scatterAdd(full, shape, dx, 0, broadcastStrides(x.shape, shape));
      }
      grads[o.tensor] = { ptr: ptrs[o.tensor], shape: [...x.shape], dtype: "float32" };
    });
    return grads;
  }
}
